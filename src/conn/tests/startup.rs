//! Startup and authentication, message by message (checklist groups C2, C3, G).

use bytes::Bytes;

use super::*;
use crate::conn::auth::CertificateHashError;
use crate::conn::config::AuthPolicy;
use crate::conn::session::{SessionConfig, StartupStatus, TlsStart};
use crate::conn::tls::ChannelBindingMode;
use crate::protocol::backend::{
    Authentication as A, BackendKeyData, BackendMessage as B, ParameterStatus,
};
use crate::protocol::framing::split_startup_packet;
use crate::protocol::frontend::StartupPacket;
use crate::protocol::Limits;
use crate::Error;

const NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
const SERVER_FIRST: &[u8] =
    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const SERVER_FINAL: &[u8] = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

fn session(policy: AuthPolicy, password: Option<&str>, skip_sig: bool) -> Session {
    session_with(
        TlsStart::Off,
        ChannelBindingMode::Prefer,
        policy,
        password,
        skip_sig,
    )
}

fn session_with(
    tls: TlsStart,
    channel_binding: ChannelBindingMode,
    policy: AuthPolicy,
    password: Option<&str>,
    skip_sig: bool,
) -> Session {
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
        tls,
        channel_binding,
        protocol: Default::default(),
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

// ---------------------------------------------------------------------------------------
// TLS negotiation: the SSLRequest answer and what is sent after it
// ---------------------------------------------------------------------------------------

/// SSLRequest on the wire: length 8, request code 1234/5679.
const SSL_REQUEST: &[u8] = &[
    0, 0, 0, 8, // length
    0x04, 0xd2, 0x16, 0x2f, // 80877103
];

/// A stand-in `tls-server-end-point` hash (SHA-256 sized).
const CERT_HASH: [u8; 32] = [0xab; 32];

fn tls_session(tls: TlsStart, channel_binding: ChannelBindingMode) -> Session {
    session_with(
        tls,
        channel_binding,
        AuthPolicy::any(),
        Some("pencil"),
        false,
    )
}

/// A session that sent SSLRequest (TLS required or not, channel binding `prefer`) and was
/// fed `answer`.
fn after_ssl_answer(required: bool, answer: &[u8]) -> Session {
    let mut s = tls_session(TlsStart::Request { required }, ChannelBindingMode::Prefer);
    take_ssl_request(&mut s);
    feed_raw(&mut s, answer);
    s
}

/// Hands `bytes` to the session in one buffer, as one read from the socket would.
fn feed_raw(s: &mut Session, bytes: &[u8]) {
    let mut buf = BytesMut::from(bytes);
    s.handle_bytes(&mut buf);
}

/// Backend messages as the bytes of one segment.
fn wire(msgs: impl IntoIterator<Item = B>) -> Vec<u8> {
    let mut buf = BytesMut::new();
    for m in msgs {
        m.encode(&mut buf).expect("encode");
    }
    buf.to_vec()
}

/// What a forged login looks like: AuthenticationOk, BackendKeyData, ReadyForQuery.
fn forged_login() -> Vec<u8> {
    wire([
        B::Authentication(A::Ok),
        B::BackendKeyData(BackendKeyData::new(7, Bytes::from_static(&[0, 0, 0, 9]))),
        idle(),
    ])
}

/// Takes the outbound buffer and asserts it holds exactly one StartupMessage.
fn take_startup_message(s: &mut Session) {
    let mut out = s.outbound_mut().split();
    match split_startup_packet(&mut out) {
        Ok(Some(StartupPacket::Startup(m))) => assert_eq!(m.protocol_version, 0x0003_0000),
        other => panic!("expected a StartupMessage, got {other:?}"),
    }
    assert!(out.is_empty(), "only the StartupMessage: {out:?}");
}

/// Takes the outbound buffer and asserts it is exactly an SSLRequest.
fn take_ssl_request(s: &mut Session) {
    let out = s.outbound_mut().split();
    assert_eq!(&out[..], SSL_REQUEST);
}

#[test]
fn ssl_request_is_sent_alone_and_the_startup_message_waits_for_the_answer() {
    let mut s = tls_session(
        TlsStart::Request { required: false },
        ChannelBindingMode::Prefer,
    );
    let mut out = s.outbound_mut().split();
    assert_eq!(&out[..], SSL_REQUEST);
    assert_eq!(
        split_startup_packet(&mut out),
        Ok(Some(StartupPacket::SslRequest))
    );
    assert!(out.is_empty());
    assert_eq!(s.startup_status(), StartupStatus::InProgress);
    assert!(!s.has_outbound());
}

#[test]
fn an_empty_read_while_waiting_for_the_ssl_answer_changes_nothing() {
    let mut s = tls_session(
        TlsStart::Request { required: false },
        ChannelBindingMode::Prefer,
    );
    take_ssl_request(&mut s);
    feed_raw(&mut s, b"");
    assert!(!s.is_broken());
    assert!(!s.has_outbound());
    feed_raw(&mut s, b"N");
    take_startup_message(&mut s);
}

#[test]
fn ssl_answer_n_sends_the_startup_message_in_plaintext_when_tls_is_optional() {
    let mut s = after_ssl_answer(false, b"N");
    assert!(!s.is_broken(), "{:?}", s.broken_error());
    assert_eq!(s.startup_status(), StartupStatus::InProgress);
    take_startup_message(&mut s);
    assert!(!s.is_tls());
    feed(&mut s, [B::Authentication(A::Ok)]);
    feed(&mut s, finish());
    assert_eq!(s.startup_status(), StartupStatus::Done);
    assert!(!s.is_tls());
}

#[test]
fn ssl_answer_s_asks_the_driver_for_tls_and_holds_the_startup_message() {
    let s = after_ssl_answer(false, b"S");
    assert_eq!(s.startup_status(), StartupStatus::NeedTls);
    assert!(!s.has_outbound(), "nothing before the handshake");
    assert!(!s.is_tls(), "not until the handshake finished");
}

#[test]
fn the_startup_message_follows_once_tls_is_established() {
    let mut s = after_ssl_answer(true, b"S");
    s.tls_established(Ok(CERT_HASH.to_vec()));
    assert_eq!(s.startup_status(), StartupStatus::InProgress);
    take_startup_message(&mut s);
    assert!(s.is_tls());
    feed(&mut s, [B::Authentication(A::Ok)]);
    feed(&mut s, finish());
    assert_eq!(s.startup_status(), StartupStatus::Done);
    assert!(s.is_tls());
}

/// Feeds `answer` and the forged login in one buffer; returns the error.
fn injected_after(tls: TlsStart, answer: u8) -> (Session, Error) {
    let mut s = tls_session(tls, ChannelBindingMode::Prefer);
    take_ssl_request(&mut s);
    let mut bytes = vec![answer];
    bytes.extend_from_slice(&forged_login());
    feed_raw(&mut s, &bytes);
    let e = s
        .broken_error()
        .expect("injection breaks the session")
        .clone();
    (s, e)
}

fn assert_refused_as_injection(mut s: Session, e: &Error) {
    assert!(e.is_protocol(), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("injection") && msg.contains("CVE-2021-23222"),
        "{msg}"
    );
    assert!(!s.has_outbound(), "nothing is sent after an injection");
    assert!(!s.is_started(), "the forged login was not believed");
    assert!(s.backend_key().is_none());
    assert!(!s.is_tls());
    assert!(s.poll_event().is_none());
}

#[test]
fn bytes_behind_an_n_answer_are_refused_as_an_injection() {
    let (s, e) = injected_after(TlsStart::Request { required: false }, b'N');
    assert_refused_as_injection(s, &e);
}

#[test]
fn bytes_behind_an_s_answer_are_refused_as_an_injection() {
    let (s, e) = injected_after(TlsStart::Request { required: false }, b'S');
    assert_refused_as_injection(s, &e);
}

#[test]
fn bytes_behind_an_s_answer_are_refused_when_tls_is_required() {
    let (s, e) = injected_after(TlsStart::Request { required: true }, b'S');
    assert_refused_as_injection(s, &e);
}

#[test]
fn bytes_behind_an_n_answer_are_refused_as_an_injection_even_when_tls_is_required() {
    let (s, e) = injected_after(TlsStart::Request { required: true }, b'N');
    assert_refused_as_injection(s, &e);
}

proptest::proptest! {
    #[test]
    fn any_byte_behind_the_ssl_answer_breaks_the_session_and_sends_nothing(
        answer in proptest::sample::select(vec![b'N', b'S']),
        required in proptest::bool::ANY,
        tail in proptest::collection::vec(proptest::num::u8::ANY, 1..64),
    ) {
        let mut s = tls_session(TlsStart::Request { required }, ChannelBindingMode::Prefer);
        take_ssl_request(&mut s);
        let mut bytes = vec![answer];
        bytes.extend_from_slice(&tail);
        feed_raw(&mut s, &bytes);
        let e = s.broken_error().cloned();
        proptest::prop_assert!(e.as_ref().is_some_and(Error::is_protocol), "{e:?}");
        proptest::prop_assert!(!s.has_outbound());
        proptest::prop_assert_ne!(s.startup_status(), StartupStatus::NeedTls);
    }
}

#[test]
fn unencrypted_bytes_while_the_tls_handshake_is_pending_are_refused() {
    let mut s = after_ssl_answer(false, b"S");
    feed_raw(&mut s, &forged_login());
    let e = s.broken_error().expect("broken");
    assert!(e.is_protocol(), "{e}");
    assert!(!s.has_outbound());
    assert!(!s.is_started());
}

#[test]
fn ssl_answer_n_is_a_tls_error_when_tls_is_required() {
    let s = after_ssl_answer(true, b"N");
    let e = s.broken_error().expect("broken");
    assert!(e.is_tls(), "{e}");
    assert!(!s.has_outbound(), "no StartupMessage in plaintext");
}

#[test]
fn ssl_answer_e_breaks_the_session_without_sending_anything() {
    let s = after_ssl_answer(false, b"E");
    let e = s.broken_error().expect("broken");
    assert!(e.code().is_none(), "no server error is made up: {e}");
    assert!(!s.has_outbound(), "no StartupMessage after an error answer");
    assert!(!s.is_started());
}

#[test]
fn ssl_answer_e_with_an_error_message_is_refused_without_showing_its_text() {
    let mut s = tls_session(
        TlsStart::Request { required: false },
        ChannelBindingMode::Prefer,
    );
    take_ssl_request(&mut s);
    let mut bytes = b"E".to_vec();
    bytes.extend_from_slice(
        &wire([B::ErrorResponse(ErrorFields::new(
            "FATAL",
            "28000",
            "evil text here",
        ))])[1..],
    );
    feed_raw(&mut s, &bytes);
    let e = s.broken_error().expect("broken");
    assert!(!e.to_string().contains("evil"), "{e}");
    assert!(
        e.code().is_none(),
        "the unauthenticated server's error is not believed"
    );
    assert!(!s.has_outbound());
}

#[test]
fn ssl_answer_that_is_neither_s_nor_n_is_a_protocol_error() {
    let s = after_ssl_answer(false, b"X");
    let e = s.broken_error().expect("broken");
    assert!(e.is_protocol(), "{e}");
    assert!(e.to_string().contains("0x58"), "{e}");
    assert!(!s.has_outbound());
}

#[test]
fn direct_tls_writes_nothing_and_asks_for_the_handshake_at_once() {
    let mut s = tls_session(TlsStart::Direct, ChannelBindingMode::Prefer);
    assert!(!s.has_outbound(), "no SSLRequest, no StartupMessage");
    assert_eq!(s.startup_status(), StartupStatus::NeedTls);
    s.tls_established(Ok(CERT_HASH.to_vec()));
    take_startup_message(&mut s);
    assert!(s.is_tls());
}

#[test]
fn tls_established_without_a_pending_handshake_breaks_the_session() {
    let mut s = tls_session(TlsStart::Off, ChannelBindingMode::Prefer);
    take_startup_message(&mut s);
    s.tls_established(Ok(CERT_HASH.to_vec()));
    assert!(s.broken_error().expect("broken").is_protocol());
    assert!(!s.is_tls());
}

// ---------------------------------------------------------------------------------------
// channel_binding
// ---------------------------------------------------------------------------------------

/// A session in `ExpectAuth` with its StartupMessage taken: over TLS with `binding` as the
/// handshake's result, or in plaintext (`None`).
fn authenticating(
    channel_binding: ChannelBindingMode,
    binding: Option<Result<Vec<u8>, CertificateHashError>>,
) -> Session {
    let mut s = match binding {
        Some(b) => {
            let mut s = tls_session(TlsStart::Direct, channel_binding);
            s.tls_established(b);
            s
        }
        None => tls_session(TlsStart::Off, channel_binding),
    };
    take_startup_message(&mut s);
    s
}

fn sasl(mechanisms: &[&str]) -> B {
    B::Authentication(A::Sasl(mechanisms.iter().map(|m| m.to_string()).collect()))
}

/// Asserts the session refused with an auth error naming channel_binding and wrote nothing.
fn assert_refused_unbound(s: &Session, what: &str) {
    let e = s
        .broken_error()
        .unwrap_or_else(|| panic!("{what}: accepted"));
    assert!(e.is_auth(), "{what}: {e}");
    assert!(
        e.to_string().contains("channel_binding=require"),
        "{what}: {e}"
    );
    assert!(
        !s.has_outbound(),
        "{what}: a password or SASL message was written"
    );
}

#[test]
fn channel_binding_require_refuses_every_request_that_cannot_bind_before_writing() {
    let requests: [(&str, B); 5] = [
        ("AuthenticationOk", B::Authentication(A::Ok)),
        ("cleartext", B::Authentication(A::CleartextPassword)),
        (
            "md5",
            B::Authentication(A::Md5Password { salt: [1, 2, 3, 4] }),
        ),
        ("plain SCRAM", sasl(&["SCRAM-SHA-256"])),
        ("unknown SASL", sasl(&["OAUTHBEARER"])),
    ];
    for (what, msg) in requests {
        for tls in [None, Some(Ok(CERT_HASH.to_vec()))] {
            let over = if tls.is_some() {
                "over TLS"
            } else {
                "plaintext"
            };
            let mut s = authenticating(ChannelBindingMode::Require, tls);
            feed(&mut s, [msg.clone()]);
            assert_refused_unbound(&s, &format!("{what} {over}"));
        }
    }
}

#[test]
fn channel_binding_require_refuses_scram_plus_without_tls() {
    let mut s = authenticating(ChannelBindingMode::Require, None);
    feed(&mut s, [sasl(&["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"])]);
    assert_refused_unbound(&s, "PLUS without TLS");
    let msg = s.broken_error().expect("broken").to_string();
    assert!(msg.contains("not encrypted"), "{msg}");
}

#[test]
fn channel_binding_require_refuses_when_the_certificate_has_no_hash() {
    let mut s = authenticating(
        ChannelBindingMode::Require,
        Some(Err(CertificateHashError::UnsupportedAlgorithm(
            "1.3.101.112".into(),
        ))),
    );
    feed(&mut s, [sasl(&["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"])]);
    assert_refused_unbound(&s, "PLUS without a certificate hash");
    let msg = s.broken_error().expect("broken").to_string();
    assert!(msg.contains("1.3.101.112"), "{msg}");
}

/// Feeds a SASL offer, checks the SASLInitialResponse and returns the SASLResponse data
/// (client-final) after the RFC 7677 server-first.
fn scram_client_final(
    s: &mut Session,
    offered: &[&str],
    mechanism: &str,
    client_first: &[u8],
) -> Bytes {
    feed(s, [sasl(offered)]);
    assert!(!s.is_broken(), "{:?}", s.broken_error());
    match sent(s, AuthStage::SaslInitial).as_slice() {
        [FrontendMessage::SaslInitialResponse(r)] => {
            assert_eq!(r.mechanism, mechanism);
            assert_eq!(
                String::from_utf8_lossy(r.data.as_deref().unwrap_or_default()),
                String::from_utf8_lossy(client_first)
            );
        }
        other => panic!("{other:?}"),
    }
    feed(
        s,
        [B::Authentication(A::SaslContinue(Bytes::from_static(
            SERVER_FIRST,
        )))],
    );
    assert_eq!(s.startup_status(), StartupStatus::NeedScramProof);
    let proof = s.take_scram_pending().expect("pending").compute();
    s.provide_scram_proof(proof);
    match sent(s, AuthStage::Sasl).as_slice() {
        [FrontendMessage::SaslResponse(r)] => r.data.clone(),
        other => panic!("{other:?}"),
    }
}

/// The decoded `c=` attribute of a client-final message.
fn channel_binding_attr(client_final: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let c = client_final
        .split(|&b| b == b',')
        .next()
        .and_then(|a| a.strip_prefix(b"c="))
        .unwrap_or_else(|| panic!("no c= in {:?}", String::from_utf8_lossy(client_final)));
    base64::engine::general_purpose::STANDARD
        .decode(c)
        .expect("c= is base64")
}

#[test]
fn scram_plus_over_tls_binds_client_final_to_the_certificate_hash() {
    for mode in [ChannelBindingMode::Prefer, ChannelBindingMode::Require] {
        let mut s = authenticating(mode, Some(Ok(CERT_HASH.to_vec())));
        let client_final = scram_client_final(
            &mut s,
            &["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"],
            "SCRAM-SHA-256-PLUS",
            b"p=tls-server-end-point,,n=user,r=rOprNGfwEbeRWgbNEkqO",
        );
        let mut expected = b"p=tls-server-end-point,,".to_vec();
        expected.extend_from_slice(&CERT_HASH);
        assert_eq!(channel_binding_attr(&client_final), expected, "{mode:?}");
        let text = String::from_utf8_lossy(&client_final);
        assert!(
            text.contains(",r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p="),
            "{text}"
        );
    }
}

#[test]
fn scram_over_tls_without_a_plus_offer_says_y_under_prefer() {
    let mut s = authenticating(ChannelBindingMode::Prefer, Some(Ok(CERT_HASH.to_vec())));
    let client_final = scram_client_final(
        &mut s,
        &["SCRAM-SHA-256"],
        "SCRAM-SHA-256",
        b"y,,n=user,r=rOprNGfwEbeRWgbNEkqO",
    );
    assert!(client_final.starts_with(b"c=eSws,"), "{client_final:?}");
    assert_eq!(channel_binding_attr(&client_final), b"y,,");
}

#[test]
fn channel_binding_disable_says_n_over_tls_even_when_plus_is_offered() {
    let mut s = authenticating(ChannelBindingMode::Disable, Some(Ok(CERT_HASH.to_vec())));
    let client_final = scram_client_final(
        &mut s,
        &["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"],
        "SCRAM-SHA-256",
        b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
    );
    assert!(client_final.starts_with(b"c=biws,"), "{client_final:?}");
    // Without binding the exchange is the RFC 7677 vector, so it completes.
    feed(
        &mut s,
        [
            B::Authentication(A::SaslFinal(Bytes::from_static(SERVER_FINAL))),
            B::Authentication(A::Ok),
        ],
    );
    feed(&mut s, finish());
    assert_eq!(s.startup_status(), StartupStatus::Done);
    assert!(s.is_tls());
}

#[test]
fn a_certificate_without_a_hash_falls_back_to_plain_scram_under_prefer() {
    let mut s = authenticating(
        ChannelBindingMode::Prefer,
        Some(Err(CertificateHashError::Malformed("test"))),
    );
    let client_final = scram_client_final(
        &mut s,
        &["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"],
        "SCRAM-SHA-256",
        b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
    );
    assert!(client_final.starts_with(b"c=biws,"), "{client_final:?}");
}

#[test]
fn plaintext_scram_says_n_under_prefer_even_when_plus_is_offered() {
    let mut s = authenticating(ChannelBindingMode::Prefer, None);
    let client_final = scram_client_final(
        &mut s,
        &["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"],
        "SCRAM-SHA-256",
        b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
    );
    assert!(client_final.starts_with(b"c=biws,"), "{client_final:?}");
}
