//! Protocol version negotiation (3.0 / 3.2) and the length of the cancel key, message by
//! message.

use bytes::{Bytes, BytesMut};

use super::idle;
use crate::conn::config::AuthPolicy;
use crate::conn::protocol_version::{ProtocolRange, ProtocolVersion};
use crate::conn::session::{Session, SessionConfig, StartupStatus, TlsStart};
use crate::conn::tls::ChannelBindingMode;
use crate::protocol::backend::{
    Authentication as A, BackendKeyData, BackendMessage as B, ErrorFields,
    NegotiateProtocolVersion, ParameterStatus,
};
use crate::protocol::framing::split_startup_packet;
use crate::protocol::frontend::StartupPacket;
use crate::protocol::Limits;
use crate::Error;

const V30: ProtocolVersion = ProtocolVersion::V3_0;
const V32: ProtocolVersion = ProtocolVersion::V3_2;

fn try_session(min: ProtocolVersion, max: ProtocolVersion) -> Result<Session, Error> {
    Session::new(SessionConfig {
        params: vec![("user".into(), "user".into())],
        user: "user".into(),
        password: None,
        policy: AuthPolicy::default(),
        nonce: "abc".into(),
        skip_server_signature: false,
        limits: Limits::default(),
        quirks: None,
        tls: TlsStart::Off,
        channel_binding: ChannelBindingMode::Prefer,
        protocol: ProtocolRange { min, max },
    })
}

fn session(min: ProtocolVersion, max: ProtocolVersion) -> Session {
    try_session(min, max).expect("session")
}

fn feed(s: &mut Session, msgs: impl IntoIterator<Item = B>) {
    for m in msgs {
        let mut buf = BytesMut::new();
        m.encode(&mut buf).expect("encode");
        s.handle_bytes(&mut buf);
    }
}

fn npv(newest_minor: i32, options: &[&str]) -> B {
    B::NegotiateProtocolVersion(NegotiateProtocolVersion::new(
        newest_minor,
        options.iter().map(|o| (*o).to_string()).collect(),
    ))
}

fn finish_with_key(secret: &'static [u8]) -> Vec<B> {
    vec![
        B::ParameterStatus(ParameterStatus::new("server_version", "18.6")),
        B::BackendKeyData(BackendKeyData::new(7, Bytes::from_static(secret))),
        idle(),
    ]
}

fn broken(s: &Session) -> String {
    s.broken_error()
        .expect("the session should be broken")
        .to_string()
}

#[test]
fn the_startup_message_asks_for_max_protocol_version() {
    for (max, code) in [(V30, 0x0003_0000), (V32, 0x0003_0002)] {
        let mut s = session(V30, max);
        let mut out = s.outbound_mut().split();
        match split_startup_packet(&mut out).unwrap().unwrap() {
            StartupPacket::Startup(m) => assert_eq!(m.protocol_version, code),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_minimum_above_the_maximum_is_refused_before_anything_is_sent() {
    let e = try_session(V32, V30).unwrap_err();
    assert!(e.is_config(), "{e}");
}

#[test]
fn protocol_3_2_accepted_without_negotiation_takes_a_32_byte_key() {
    let mut s = session(V30, V32);
    feed(&mut s, [B::Authentication(A::Ok)]);
    feed(&mut s, finish_with_key(&[0xa5; 32]));
    assert_eq!(s.startup_status(), StartupStatus::Done);
    assert_eq!(s.protocol_version(), V32);
    assert_eq!(s.backend_key().unwrap().secret_key(), &[0xa5; 32][..]);
}

#[test]
fn negotiate_protocol_version_downgrades_a_3_2_request_to_3_0() {
    let mut s = session(V30, V32);
    feed(&mut s, [npv(0, &[]), B::Authentication(A::Ok)]);
    feed(&mut s, finish_with_key(&[0, 0, 0, 9]));
    assert_eq!(
        s.startup_status(),
        StartupStatus::Done,
        "{:?}",
        s.broken_error()
    );
    assert_eq!(s.protocol_version(), V30);
}

#[test]
fn the_negotiated_minor_version_is_read_from_the_low_16_bits() {
    let mut s = session(V30, V32);
    // Some implementations put the major version in the high half.
    feed(&mut s, [npv(0x0003_0000, &[]), B::Authentication(A::Ok)]);
    feed(&mut s, finish_with_key(&[0, 0, 0, 9]));
    assert_eq!(
        s.startup_status(),
        StartupStatus::Done,
        "{:?}",
        s.broken_error()
    );
    assert_eq!(s.protocol_version(), V30);
}

#[test]
fn a_downgrade_below_min_protocol_version_fails_clearly() {
    let mut s = session(V32, V32);
    feed(&mut s, [npv(0, &[])]);
    let e = s.broken_error().unwrap();
    assert!(e.is_unsupported(), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("3.0") && msg.contains("min_protocol_version is 3.2"),
        "{msg}"
    );
}

#[test]
fn unrecognised_protocol_options_are_listed_in_the_error() {
    let mut s = session(V30, V32);
    feed(&mut s, [npv(0, &["_pq_.foo", "_pq_.bar"])]);
    let msg = broken(&s);
    assert!(msg.contains("_pq_.foo, _pq_.bar"), "{msg}");
}

#[test]
fn a_negotiated_version_above_the_request_is_a_protocol_error() {
    let mut s = session(V30, V30);
    feed(&mut s, [npv(2, &[])]);
    assert!(s.broken_error().unwrap().is_protocol(), "{}", broken(&s));
}

#[test]
fn a_second_negotiate_protocol_version_is_a_protocol_error() {
    let mut s = session(V30, V32);
    feed(&mut s, [npv(0, &[]), npv(0, &[])]);
    assert!(s.broken_error().unwrap().is_protocol(), "{}", broken(&s));
}

#[test]
fn a_long_key_is_refused_under_3_0() {
    let mut s = session(V30, V30);
    feed(&mut s, [B::Authentication(A::Ok)]);
    feed(&mut s, finish_with_key(&[1; 32]));
    let e = s.broken_error().unwrap();
    assert!(e.is_protocol() && e.to_string().contains("32-byte"), "{e}");
}

#[test]
fn a_long_key_is_refused_after_a_downgrade_to_3_0() {
    let mut s = session(V30, V32);
    feed(&mut s, [npv(0, &[]), B::Authentication(A::Ok)]);
    feed(&mut s, finish_with_key(&[1; 8]));
    assert!(s.broken_error().unwrap().is_protocol(), "{}", broken(&s));
}

#[test]
fn a_key_longer_than_256_bytes_is_refused_by_the_frame_cap() {
    let mut s = session(V30, V32);
    feed(&mut s, [B::Authentication(A::Ok)]);
    // Only the header: the declared length alone must be refused.
    let mut buf = BytesMut::from(&b"K\0\0\x01\x09"[..]);
    s.handle_bytes(&mut buf);
    assert!(s.broken_error().unwrap().is_protocol(), "{}", broken(&s));
}

#[test]
fn a_peer_closing_on_a_3_2_request_gets_the_max_protocol_version_hint() {
    let mut s = session(V30, V32);
    s.handle_eof();
    let e = s.broken_error().unwrap();
    assert!(e.is_closed(), "{e}");
    assert!(e.to_string().contains("max_protocol_version=3.0"), "{e}");
}

#[test]
fn a_peer_closing_on_a_3_0_request_gets_no_protocol_hint() {
    let mut s = session(V30, V30);
    s.handle_eof();
    assert!(!broken(&s).contains("max_protocol_version"));
}

#[test]
fn a_close_after_the_peer_answered_gets_no_protocol_hint() {
    let mut s = session(V30, V32);
    feed(&mut s, [B::Authentication(A::Ok)]);
    s.handle_eof();
    assert!(!broken(&s).contains("max_protocol_version"));
}

#[test]
fn bad_packet_header_in_reply_to_3_2_names_max_protocol_version() {
    let mut s = session(V30, V32);
    feed(
        &mut s,
        [B::ErrorResponse(ErrorFields::new(
            "FATAL",
            "08P01",
            "bad packet header",
        ))],
    );
    let e = s.broken_error().unwrap();
    assert_eq!(e.code(), Some("08P01"), "the server's error stays readable");
    let msg = e.to_string();
    assert!(
        msg.contains("max_protocol_version=3.0") && msg.contains("bad packet header"),
        "{msg}"
    );
}

#[test]
fn an_unrelated_startup_error_gets_no_protocol_hint() {
    let mut s = session(V30, V32);
    feed(
        &mut s,
        [B::ErrorResponse(ErrorFields::new(
            "FATAL",
            "28000",
            "no pg_hba.conf entry",
        ))],
    );
    assert!(!broken(&s).contains("max_protocol_version"));
}

#[test]
fn a_negotiated_3_1_is_a_protocol_error_because_it_never_existed() {
    for v in [1, 0x0003_0001] {
        let mut s = session(V30, V32);
        feed(&mut s, [npv(v, &[])]);
        let e = s.broken_error().unwrap();
        assert!(
            e.is_protocol() && e.to_string().contains("3.1"),
            "{v:#x}: {e}"
        );
    }
}

#[test]
fn a_negotiate_protocol_version_that_changes_nothing_is_a_protocol_error() {
    // The version asked for, and no options: nothing to negotiate.
    for (max, v) in [(V32, 2), (V32, 0x0003_0002), (V30, 0), (V30, 0x0003_0000)] {
        let mut s = session(V30, max);
        feed(&mut s, [npv(v, &[])]);
        let e = s.broken_error().unwrap();
        assert!(
            e.is_protocol() && e.to_string().contains("no change"),
            "{max} {v:#x}: {e}"
        );
    }
}

#[test]
fn a_negotiated_major_version_other_than_3_is_a_protocol_error() {
    for v in [0x0002_0000, 0x0004_0000, 0x0004_0002, 0x0002_0002, -1] {
        let mut s = session(V30, V32);
        feed(&mut s, [npv(v, &[])]);
        let e = s.broken_error().unwrap();
        assert!(e.is_protocol(), "{v:#x}: {e}");
    }
}
