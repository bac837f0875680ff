//! Startup and authentication, message by message (checklist groups C2, C3, G).

use bytes::Bytes;

use super::*;
use crate::conn::config::AuthPolicy;
use crate::conn::session::{SessionConfig, StartupStatus};
use crate::protocol::backend::{
    Authentication as A, BackendKeyData, BackendMessage as B, ParameterStatus,
};
use crate::protocol::framing::split_startup_packet;
use crate::protocol::frontend::StartupPacket;
use crate::protocol::Limits;

const NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
const SERVER_FIRST: &[u8] =
    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const SERVER_FINAL: &[u8] = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

fn session(policy: AuthPolicy, password: Option<&str>, skip_sig: bool) -> Session {
    Session::new(SessionConfig {
        params: vec![
            ("user".into(), "user".into()),
            ("database".into(), "db".into()),
        ],
        user: "user".into(),
        password: password.map(|p| p.as_bytes().to_vec()),
        policy,
        nonce: NONCE.into(),
        skip_server_signature: skip_sig,
        limits: Limits::default(),
        quirks: None,
        tls: crate::conn::session::TlsStart::Off,
        channel_binding: crate::conn::tls::ChannelBindingMode::Prefer,
    })
    .expect("session")
}

fn feed(s: &mut Session, msgs: impl IntoIterator<Item = B>) {
    for m in msgs {
        let mut buf = BytesMut::new();
        m.encode(&mut buf).expect("encode");
        s.handle_bytes(&mut buf);
    }
}

fn sent(s: &mut Session, stage: AuthStage) -> Vec<FrontendMessage> {
    let mut out = s.outbound_mut().split();
    let mut v = Vec::new();
    while let Some(m) = decode_frontend(&mut out, 1 << 20, stage).expect("frontend") {
        v.push(m);
    }
    v
}

fn finish() -> Vec<B> {
    vec![
        B::ParameterStatus(ParameterStatus::new("server_version", "15.18")),
        B::ParameterStatus(ParameterStatus::new("client_encoding", "UTF8")),
        B::BackendKeyData(BackendKeyData::new(7, Bytes::from_static(&[0, 0, 0, 9]))),
        idle(),
    ]
}

#[test]
fn startup_message_carries_protocol_3_0_and_the_parameters() {
    let mut s = session(AuthPolicy::default(), None, false);
    let mut out = s.outbound_mut().split();
    match split_startup_packet(&mut out).unwrap().unwrap() {
        StartupPacket::Startup(m) => {
            assert_eq!(m.protocol_version, 0x0003_0000);
            assert_eq!(m.params[0], ("user".to_string(), "user".to_string()));
            assert_eq!(m.params[1], ("database".to_string(), "db".to_string()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn trust_completes_startup_and_keeps_parameters_and_key() {
    let mut s = session(AuthPolicy::default(), None, false);
    feed(&mut s, [B::Authentication(A::Ok)]);
    feed(&mut s, finish());
    assert_eq!(s.startup_status(), StartupStatus::Done);
    assert_eq!(s.parameter("server_version"), Some("15.18"));
    assert_eq!(s.backend_key().unwrap().process_id(), 7);
    assert!(s.is_ready());
}

#[test]
fn cleartext_password_is_refused_by_default() {
    let mut s = session(AuthPolicy::default(), Some("pw"), false);
    feed(&mut s, [B::Authentication(A::CleartextPassword)]);
    let e = s.broken_error().unwrap();
    assert!(e.is_auth());
    assert!(e.to_string().contains("cleartext"));
}

#[test]
fn cleartext_password_is_sent_when_allowed() {
    let mut s = session(AuthPolicy::any(), Some("pw"), false);
    let _ = s.outbound_mut().split();
    feed(&mut s, [B::Authentication(A::CleartextPassword)]);
    match sent(&mut s, AuthStage::Password).as_slice() {
        [FrontendMessage::PasswordMessage(p)] => assert_eq!(&p.password[..], b"pw"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn md5_sends_the_salted_hash() {
    let mut s = session(AuthPolicy::default(), Some("pw"), false);
    let _ = s.outbound_mut().split();
    feed(
        &mut s,
        [B::Authentication(A::Md5Password { salt: [1, 2, 3, 4] })],
    );
    match sent(&mut s, AuthStage::Password).as_slice() {
        [FrontendMessage::PasswordMessage(p)] => {
            let expected = crate::conn::auth::md5_password(b"user", b"pw", [1, 2, 3, 4]);
            assert_eq!(&p.password[..], expected.as_bytes());
            assert!(expected.starts_with("md5"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn trust_is_refused_when_policy_forbids_none() {
    let mut s = session(
        AuthPolicy {
            none: false,
            ..AuthPolicy::default()
        },
        Some("pw"),
        false,
    );
    feed(&mut s, [B::Authentication(A::Ok)]);
    assert!(s.broken_error().unwrap().is_auth());
}

fn scram_until_final(skip: bool) -> Session {
    let mut s = session(AuthPolicy::default(), Some("pencil"), skip);
    let _ = s.outbound_mut().split();
    feed(
        &mut s,
        [B::Authentication(A::Sasl(vec!["SCRAM-SHA-256".into()]))],
    );
    match sent(&mut s, AuthStage::SaslInitial).as_slice() {
        [FrontendMessage::SaslInitialResponse(r)] => {
            assert_eq!(r.mechanism, "SCRAM-SHA-256");
            assert_eq!(
                r.data.as_deref(),
                Some(&b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"[..])
            );
        }
        other => panic!("{other:?}"),
    }
    feed(
        &mut s,
        [B::Authentication(A::SaslContinue(Bytes::from_static(
            SERVER_FIRST,
        )))],
    );
    assert_eq!(s.startup_status(), StartupStatus::NeedScramProof);
    let proof = s.take_scram_pending().unwrap().compute();
    s.provide_scram_proof(proof);
    match sent(&mut s, AuthStage::Sasl).as_slice() {
        [FrontendMessage::SaslResponse(r)] => assert_eq!(
            &r.data[..],
            &b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="[..]
        ),
        other => panic!("{other:?}"),
    }
    s
}

#[test]
fn scram_exchange_matches_the_rfc_7677_vector_and_completes() {
    let mut s = scram_until_final(false);
    feed(
        &mut s,
        [
            B::Authentication(A::SaslFinal(Bytes::from_static(SERVER_FINAL))),
            B::Authentication(A::Ok),
        ],
    );
    feed(&mut s, finish());
    assert_eq!(s.startup_status(), StartupStatus::Done);
}

#[test]
fn authentication_ok_before_sasl_final_fails_the_connect() {
    let mut s = scram_until_final(false);
    feed(&mut s, [B::Authentication(A::Ok)]);
    let e = s.broken_error().unwrap();
    assert!(e.is_auth());
    assert!(e.to_string().contains("before a verified SASLFinal"));
}

#[test]
fn wrong_server_signature_fails_the_connect() {
    let mut s = scram_until_final(false);
    feed(
        &mut s,
        [B::Authentication(A::SaslFinal(Bytes::from_static(
            b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )))],
    );
    assert!(s.broken_error().unwrap().is_auth());
}

#[test]
fn iris_dummy_twenty_byte_signature_is_refused_by_default_and_says_why() {
    let mut s = scram_until_final(false);
    feed(
        &mut s,
        [B::Authentication(A::SaslFinal(Bytes::from_static(
            b"v=rmF+pqV8S7suAoZWja4dJRkFsKQ=",
        )))],
    );
    let msg = s.broken_error().unwrap().to_string();
    assert!(msg.contains("20 bytes"), "{msg}");
}

#[test]
fn iris_dummy_signature_is_accepted_only_with_the_explicit_opt_in() {
    let mut s = scram_until_final(true);
    feed(
        &mut s,
        [
            B::Authentication(A::SaslFinal(Bytes::from_static(
                b"v=rmF+pqV8S7suAoZWja4dJRkFsKQ=",
            ))),
            B::Authentication(A::Ok),
        ],
    );
    feed(&mut s, finish());
    assert_eq!(s.startup_status(), StartupStatus::Done);
}

/// Records warn-level log lines (the one global logger of the unit-test binary).
struct WarnLog(std::sync::Mutex<Vec<String>>);

impl log::Log for WarnLog {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Warn
    }
    fn log(&self, r: &log::Record<'_>) {
        if r.level() <= log::Level::Warn {
            if let Ok(mut v) = self.0.lock() {
                v.push(r.args().to_string());
            }
        }
    }
    fn flush(&self) {}
}

#[test]
fn skipping_the_scram_server_signature_is_logged_at_warn_level() {
    static LOG: WarnLog = WarnLog(std::sync::Mutex::new(Vec::new()));
    let _ = log::set_logger(&LOG);
    log::set_max_level(log::LevelFilter::Warn);
    let mut s = scram_until_final(true);
    feed(
        &mut s,
        [B::Authentication(A::SaslFinal(Bytes::from_static(
            b"v=rmF+pqV8S7suAoZWja4dJRkFsKQ=",
        )))],
    );
    let lines = LOG.0.lock().map(|v| v.clone()).unwrap_or_default();
    assert!(
        lines.iter().any(|l| l.contains("NOT verified")),
        "warn log: {lines:?}"
    );
}

#[test]
fn sasl_continue_without_sasl_is_unexpected() {
    let mut s = session(AuthPolicy::default(), Some("pw"), false);
    feed(
        &mut s,
        [B::Authentication(A::SaslContinue(Bytes::from_static(
            SERVER_FIRST,
        )))],
    );
    assert!(s.broken_error().unwrap().is_auth());
}

#[test]
fn sasl_final_before_sasl_continue_is_unexpected() {
    let mut s = session(AuthPolicy::default(), Some("pencil"), false);
    feed(
        &mut s,
        [B::Authentication(A::Sasl(vec!["SCRAM-SHA-256".into()]))],
    );
    feed(
        &mut s,
        [B::Authentication(A::SaslFinal(Bytes::from_static(
            SERVER_FINAL,
        )))],
    );
    let msg = s.broken_error().unwrap().to_string();
    assert!(msg.contains("expected AuthenticationSASLContinue"), "{msg}");
}

#[test]
fn sasl_without_scram_sha_256_is_refused() {
    let mut s = session(AuthPolicy::default(), Some("pw"), false);
    feed(
        &mut s,
        [B::Authentication(A::Sasl(
            vec!["SCRAM-SHA-256-PLUS".into()],
        ))],
    );
    assert!(s
        .broken_error()
        .unwrap()
        .to_string()
        .contains("no supported SASL mechanism"));
}

#[test]
fn fatal_error_during_startup_fails_with_the_servers_error() {
    let mut s = session(AuthPolicy::default(), Some("pw"), false);
    feed(&mut s, [fatal("28P01")]);
    assert_eq!(s.broken_error().unwrap().code(), Some("28P01"));
}

#[test]
fn unexpected_message_during_startup_names_what_was_expected() {
    let mut s = session(AuthPolicy::default(), None, false);
    feed(&mut s, [B::Authentication(A::Ok), B::BindComplete]);
    let msg = s.broken_error().unwrap().to_string();
    assert!(
        msg.contains("expected BackendKeyData or ReadyForQuery, got BindComplete"),
        "{msg}"
    );
}

#[test]
fn notices_during_startup_are_events_not_responses() {
    let mut s = session(AuthPolicy::default(), None, false);
    feed(
        &mut s,
        [
            B::NoticeResponse(ErrorFields::new("NOTICE", "00000", "hi")),
            B::Authentication(A::Ok),
        ],
    );
    feed(&mut s, finish());
    assert_eq!(s.startup_status(), StartupStatus::Done);
    assert!(matches!(s.poll_event(), Some(Event::Notice(_))));
}

#[test]
fn missing_password_is_a_clear_error() {
    let mut s = session(AuthPolicy::default(), None, false);
    feed(&mut s, [B::Authentication(A::Md5Password { salt: [0; 4] })]);
    assert!(s
        .broken_error()
        .unwrap()
        .to_string()
        .contains("none is configured"));
}
