//! Unit tests for MD5, SCRAM-SHA-256 and SASLprep: known vectors, every error branch
//! (reliability checklist G1–G9, G12), differential checks against postgres-protocol,
//! and no-panic properties on arbitrary server bytes.

use std::borrow::Cow;

use proptest::prelude::*;

use super::saslprep::saslprep;
use super::*;

// ---------------------------------------------------------------------------------------
// MD5
// ---------------------------------------------------------------------------------------

#[test]
fn md5_password_matches_independently_computed_vector() {
    // Computed with:
    // python3 -c "import hashlib; i=hashlib.md5(b'md5pw'+b'md5user').hexdigest();
    //   print('md5'+hashlib.md5(i.encode()+bytes([1,2,3,4])).hexdigest())"
    assert_eq!(
        md5_password(b"md5user", b"md5pw", [1, 2, 3, 4]),
        "md532dc36143915a32d8eb9ef38c9c44218"
    );
}

#[test]
fn md5_password_matches_rust_postgres_vector() {
    // postgres-protocol `authentication::test::md5`; the same python one-off agrees.
    assert_eq!(
        md5_password(b"md5_user", b"password", [0x2a, 0x3d, 0x8f, 0xe0]),
        "md562af4dd09bbb41884907a838a3233294"
    );
}

proptest! {
    #[test]
    fn md5_password_agrees_with_postgres_protocol(
        user in proptest::collection::vec(any::<u8>(), 0..40),
        password in proptest::collection::vec(any::<u8>(), 0..40),
        salt in any::<[u8; 4]>(),
    ) {
        prop_assert_eq!(
            md5_password(&user, &password, salt),
            postgres_protocol::authentication::md5_hash(&user, &password, salt)
        );
    }
}

// ---------------------------------------------------------------------------------------
// SCRAM: RFC 7677 §3 test vector
// ---------------------------------------------------------------------------------------

const RFC_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
const RFC_SERVER_FIRST: &[u8] =
    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const RFC_CLIENT_FINAL: &[u8] = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const RFC_SERVER_FINAL: &[u8] = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

fn rfc_client() -> ScramClient {
    ScramClient::new("user", "pencil", RFC_NONCE)
}

fn rfc_proof() -> ScramProof {
    match rfc_client().handle_server_first(RFC_SERVER_FIRST) {
        Ok(pending) => pending.compute(),
        Err(e) => panic!("RFC server-first rejected: {e}"),
    }
}

fn server_first_error(server_first: &[u8]) -> AuthError {
    match rfc_client().handle_server_first(server_first) {
        Ok(_) => panic!("accepted {:?}", String::from_utf8_lossy(server_first)),
        Err(e) => e,
    }
}

fn server_final_error(server_final: &[u8]) -> AuthError {
    match rfc_proof().verify_server_final(server_final) {
        Ok(()) => panic!("verified {:?}", String::from_utf8_lossy(server_final)),
        Err(e) => e,
    }
}

/// The RFC server-first with `r=` replaced.
fn with_nonce(nonce: &str) -> Vec<u8> {
    format!("r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096").into_bytes()
}

/// A valid server-first with the given `i=` value (RFC nonce and salt).
fn with_iterations(i: &str) -> Vec<u8> {
    format!("r={RFC_NONCE}srv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i={i}").into_bytes()
}

#[test]
fn scram_client_first_is_gs2_header_user_and_nonce() {
    assert_eq!(
        rfc_client().client_first_message(),
        b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    );
}

#[test]
fn scram_rfc7677_vector_round_trips_with_injected_nonce() {
    let pending = match rfc_client().handle_server_first(RFC_SERVER_FIRST) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(pending.iterations(), 4096);
    let proof = pending.compute();
    assert_eq!(
        String::from_utf8_lossy(proof.client_final_message()),
        String::from_utf8_lossy(RFC_CLIENT_FINAL)
    );
    assert_eq!(proof.verify_server_final(RFC_SERVER_FINAL), Ok(()));
}

#[test]
fn scram_user_name_escapes_comma_and_equals() {
    let c = ScramClient::new("a,b=c", "pw", "nonce");
    assert_eq!(c.client_first_message(), b"n,,n=a=2Cb=3Dc,r=nonce");
}

#[test]
fn scram_empty_user_name_is_sent_as_empty_n() {
    let c = ScramClient::new("", "pw", "nonce");
    assert_eq!(c.client_first_message(), b"n,,n=,r=nonce");
}

#[test]
fn scram_user_name_is_saslprepped() {
    // U+00A0 (no-break space) maps to ' ', U+00AD (soft hyphen) is removed.
    let c = ScramClient::new("b\u{a0}o\u{ad}b", "pw", "nonce");
    assert_eq!(c.client_first_message(), b"n,,n=b ob,r=nonce");
}

#[test]
fn scram_debug_output_does_not_contain_the_password() {
    let c = ScramClient::new("user", "hunter2-secret", "nonce");
    assert!(!format!("{c:?}").contains("hunter2"));
}

// ---------------------------------------------------------------------------------------
// SCRAM: server-first errors
// ---------------------------------------------------------------------------------------

#[test]
fn scram_rejects_server_nonce_not_extending_client_nonce() {
    let e = server_first_error(&with_nonce("XOprNGfwEbeRWgbNEkqOserverpart"));
    assert_eq!(e, AuthError::ScramNonceMismatch);
}

#[test]
fn scram_rejects_server_nonce_shorter_than_client_nonce() {
    let e = server_first_error(&with_nonce("rOprNG"));
    assert_eq!(e, AuthError::ScramNonceMismatch);
}

#[test]
fn scram_rejects_server_nonce_equal_to_client_nonce() {
    let e = server_first_error(&with_nonce(RFC_NONCE));
    assert_eq!(e, AuthError::ScramNonceMismatch);
}

#[test]
fn scram_rejects_server_nonce_with_non_printable_bytes() {
    for bad in ["srv part", "srv\tx", "srv\u{7f}", "srv\u{e9}"] {
        let e = server_first_error(&with_nonce(&format!("{RFC_NONCE}{bad}")));
        assert_eq!(e, AuthError::ScramNonceMismatch, "{bad:?}");
    }
}

#[test]
fn scram_rejects_server_nonce_containing_a_comma() {
    // Positional parsing splits on ',' first, so the nonce ends at the comma and the
    // fragment after it is not `s=`: malformed rather than accepted with a short nonce.
    let e = server_first_error(&with_nonce(&format!("{RFC_NONCE}ab,cd")));
    assert_eq!(e, AuthError::ScramMalformed("server-first"));
}

#[test]
fn scram_rejects_server_first_with_missing_attributes() {
    for msg in [
        &b""[..],
        b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        b"r=rOprNGfwEbeRWgbNEkqOsrv,i=4096",
        b"r=rOprNGfwEbeRWgbNEkqOsrv,s=W22ZaJ0SNY7soEsUEjb6gQ==",
        b"r=rOprNGfwEbeRWgbNEkqOsrv",
    ] {
        assert_eq!(
            server_first_error(msg),
            AuthError::ScramMalformed("server-first"),
            "{:?}",
            String::from_utf8_lossy(msg)
        );
    }
}

#[test]
fn scram_rejects_server_first_attributes_out_of_order() {
    for msg in [
        &b"s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOsrv,i=4096"[..],
        b"r=rOprNGfwEbeRWgbNEkqOsrv,i=4096,s=W22ZaJ0SNY7soEsUEjb6gQ==",
        b"i=4096,r=rOprNGfwEbeRWgbNEkqOsrv,s=W22ZaJ0SNY7soEsUEjb6gQ==",
    ] {
        assert_eq!(
            server_first_error(msg),
            AuthError::ScramMalformed("server-first")
        );
    }
}

#[test]
fn scram_rejects_mandatory_extension_anywhere_in_server_first() {
    for msg in [
        &b"m=ext,r=rOprNGfwEbeRWgbNEkqOsrv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"[..],
        b"r=rOprNGfwEbeRWgbNEkqOsrv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,m=ext",
    ] {
        assert_eq!(
            server_first_error(msg),
            AuthError::ScramMalformed("mandatory extension (m=)")
        );
    }
}

#[test]
fn scram_accepts_optional_extensions_after_iteration_count() {
    let msg = b"r=rOprNGfwEbeRWgbNEkqOsrv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,x=future,y=ok";
    assert!(rfc_client().handle_server_first(msg).is_ok());
}

#[test]
fn scram_rejects_malformed_trailing_attributes_in_server_first() {
    for tail in [",", ",junk", ",=x", ",x=", ",1=x", ",x=a=b"] {
        let mut msg = with_iterations("4096");
        msg.extend_from_slice(tail.as_bytes());
        assert_eq!(
            server_first_error(&msg),
            AuthError::ScramMalformed("server-first"),
            "{tail:?}"
        );
    }
}

#[test]
fn scram_parses_nonce_containing_salt_and_iteration_lookalikes() {
    // asyncpg #1026: a regex for "s=..." matched inside the nonce (checklist G6).
    let msg = format!("r={RFC_NONCE}s=AAAA=i=1,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
    let pending = rfc_client().handle_server_first(msg.as_bytes());
    assert_eq!(pending.map(|p| p.iterations()).ok(), Some(4096));
}

#[test]
fn scram_rejects_salt_that_is_not_base64() {
    for salt in [
        "W22ZaJ0SNY7soEsUEjb6gQ=",
        "not base64!",
        "W22ZaJ0SNY7soEsUEjb6gQ===",
    ] {
        let msg = format!("r={RFC_NONCE}srv,s={salt},i=4096");
        assert_eq!(
            server_first_error(msg.as_bytes()),
            AuthError::ScramMalformed("salt"),
            "{salt:?}"
        );
    }
}

#[test]
fn scram_rejects_empty_salt() {
    let msg = format!("r={RFC_NONCE}srv,s=,i=4096");
    assert_eq!(
        server_first_error(msg.as_bytes()),
        AuthError::ScramMalformed("salt")
    );
}

#[test]
fn scram_rejects_zero_iterations() {
    assert_eq!(
        server_first_error(&with_iterations("0")),
        AuthError::ScramIterations(0)
    );
}

#[test]
fn scram_rejects_iterations_above_the_cap() {
    assert_eq!(
        server_first_error(&with_iterations("10000001")),
        AuthError::ScramIterations(10_000_001)
    );
    assert_eq!(
        server_first_error(&with_iterations("99999999999999999999999999")),
        AuthError::ScramIterations(u64::MAX)
    );
}

#[test]
fn scram_accepts_iterations_equal_to_the_cap_without_computing() {
    // Parsing is cheap; only compute() would spend the 10M rounds.
    let pending = rfc_client().handle_server_first(&with_iterations("10000000"));
    assert_eq!(pending.map(|p| p.iterations()).ok(), Some(MAX_ITERATIONS));
}

#[test]
fn scram_with_max_iterations_lowers_the_cap() {
    let e = rfc_client()
        .with_max_iterations(100)
        .handle_server_first(&with_iterations("101"))
        .err();
    assert_eq!(e, Some(AuthError::ScramIterations(101)));
}

#[test]
fn scram_rejects_iteration_count_that_is_not_plain_digits() {
    for i in [
        "4096garbage",
        "-1",
        "+5",
        "",
        " 4096",
        "4096 ",
        "0x10",
        "04096",
        "00",
    ] {
        assert_eq!(
            server_first_error(&with_iterations(i)),
            AuthError::ScramMalformed("iteration count"),
            "{i:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// SCRAM: server-final errors
// ---------------------------------------------------------------------------------------

#[test]
fn scram_server_error_keeps_the_servers_reason() {
    assert_eq!(
        server_final_error(b"e=invalid-proof"),
        AuthError::ScramServerError("invalid-proof".to_owned())
    );
    assert_eq!(
        server_final_error(b"e=other-error,x=ext"),
        AuthError::ScramServerError("other-error".to_owned())
    );
}

#[test]
fn scram_rejects_wrong_server_signature() {
    // A well-formed 32-byte signature that is not the expected one.
    let e = server_final_error(b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    assert_eq!(e, AuthError::ScramServerSignatureMismatch);
}

#[test]
fn scram_rejects_iris_pgwire_20_byte_dummy_signature_by_length() {
    let e = server_final_error(b"v=rmF+pqV8S7suAoZWja4dJRkFsKQ=");
    assert_eq!(e, AuthError::ScramServerSignatureLength(20));
    assert_eq!(
        e.to_string(),
        "server signature is 20 bytes, SCRAM-SHA-256 requires 32 \
         (iris-pgwire sends a constant dummy signature)"
    );
}

#[test]
fn scram_rejects_server_signature_that_is_not_base64() {
    for v in [
        &b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4"[..],
        b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=junk",
        b"v=!!!",
    ] {
        assert_eq!(
            server_final_error(v),
            AuthError::ScramMalformed("server signature")
        );
    }
}

#[test]
fn scram_empty_server_signature_is_zero_bytes_long() {
    assert_eq!(
        server_final_error(b"v="),
        AuthError::ScramServerSignatureLength(0)
    );
}

#[test]
fn scram_rejects_server_final_with_trailing_junk() {
    for tail in [",", ",junk", ",=x", ",m=ext", ",x=a=b"] {
        let mut msg = RFC_SERVER_FINAL.to_vec();
        msg.extend_from_slice(tail.as_bytes());
        let e = server_final_error(&msg);
        assert!(matches!(e, AuthError::ScramMalformed(_)), "{tail:?}: {e:?}");
    }
}

#[test]
fn scram_accepts_server_final_with_optional_extension() {
    let mut msg = RFC_SERVER_FINAL.to_vec();
    msg.extend_from_slice(b",x=ext");
    assert_eq!(rfc_proof().verify_server_final(&msg), Ok(()));
}

#[test]
fn scram_rejects_server_final_without_v_or_e() {
    for msg in [&b""[..], b"r=abc", b"V=6rri", b"v"] {
        assert_eq!(
            server_final_error(msg),
            AuthError::ScramMalformed("server-final")
        );
    }
}

// ---------------------------------------------------------------------------------------
// Channel binding (RFC 5802 §6, §7; tls-server-end-point, RFC 5929 §4)
// ---------------------------------------------------------------------------------------

/// A stand-in `tls-server-end-point` hash (SHA-256 sized).
const CERT_HASH: [u8; 32] = [0x5a; 32];

fn bound_client(binding: ChannelBinding) -> ScramClient {
    ScramClient::with_channel_binding("user", "pencil", RFC_NONCE, binding)
}

fn client_final(client: ScramClient) -> Vec<u8> {
    match client.handle_server_first(RFC_SERVER_FIRST) {
        Ok(pending) => pending.compute().client_final_message().to_vec(),
        Err(e) => panic!("RFC server-first rejected: {e}"),
    }
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn scram_mechanism_is_plus_only_when_binding_to_the_tls_channel() {
    assert_eq!(rfc_client().mechanism(), SCRAM_SHA_256);
    assert_eq!(
        bound_client(ChannelBinding::None).mechanism(),
        SCRAM_SHA_256
    );
    assert_eq!(
        bound_client(ChannelBinding::NotOffered).mechanism(),
        SCRAM_SHA_256
    );
    assert_eq!(
        bound_client(ChannelBinding::TlsServerEndPoint(CERT_HASH.to_vec())).mechanism(),
        SCRAM_SHA_256_PLUS
    );
}

#[test]
fn scram_without_binding_is_the_same_as_new() {
    assert_eq!(
        bound_client(ChannelBinding::None).client_first_message(),
        rfc_client().client_first_message()
    );
    assert_eq!(
        String::from_utf8_lossy(&client_final(bound_client(ChannelBinding::None))),
        String::from_utf8_lossy(RFC_CLIENT_FINAL)
    );
}

#[test]
fn scram_plus_client_first_starts_with_the_tls_server_end_point_header() {
    assert_eq!(
        bound_client(ChannelBinding::TlsServerEndPoint(CERT_HASH.to_vec())).client_first_message(),
        b"p=tls-server-end-point,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    );
}

#[test]
fn scram_client_first_says_y_when_the_server_offered_no_plus() {
    assert_eq!(
        bound_client(ChannelBinding::NotOffered).client_first_message(),
        b"y,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    );
}

#[test]
fn scram_plus_client_final_binds_the_gs2_header_and_the_certificate_hash() {
    let got = client_final(bound_client(ChannelBinding::TlsServerEndPoint(
        CERT_HASH.to_vec(),
    )));
    let mut cbind_input = b"p=tls-server-end-point,,".to_vec();
    cbind_input.extend_from_slice(&CERT_HASH);
    let prefix = format!(
        "c={},r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=",
        b64(&cbind_input)
    );
    let got = String::from_utf8_lossy(&got);
    assert!(
        got.starts_with(&prefix),
        "{got} does not start with {prefix}"
    );
    // The binding is part of AuthMessage, so the proof is not the unbound one.
    assert_ne!(got, String::from_utf8_lossy(RFC_CLIENT_FINAL));
}

#[test]
fn scram_client_final_says_c_esws_when_the_server_offered_no_plus() {
    let got = client_final(bound_client(ChannelBinding::NotOffered));
    assert!(
        got.starts_with(b"c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p="),
        "{}",
        String::from_utf8_lossy(&got)
    );
    assert_ne!(&got[..], RFC_CLIENT_FINAL);
}

#[test]
fn scram_plus_proof_depends_on_the_certificate_hash() {
    let a = client_final(bound_client(ChannelBinding::TlsServerEndPoint(vec![1; 32])));
    let b = client_final(bound_client(ChannelBinding::TlsServerEndPoint(vec![2; 32])));
    let proof = |m: &[u8]| m.rsplit(|&c| c == b',').next().map(<[u8]>::to_vec);
    assert_ne!(proof(&a), proof(&b));
}

#[test]
fn channel_binding_debug_output_shows_the_hash_length_only() {
    let shown = format!(
        "{:?}",
        ChannelBinding::TlsServerEndPoint(CERT_HASH.to_vec())
    );
    assert_eq!(shown, "TlsServerEndPoint(32 bytes)");
}

proptest! {
    /// Differential check against postgres-protocol's client for `y` and `p=` bindings
    /// (empty user, as it sends): client-first and client-final must be byte-identical.
    #[test]
    fn scram_binding_agrees_with_postgres_protocol_for_empty_user(
        password in "[ -~]{0,24}",
        server_part in "[!-+--~]{1,16}",
        salt in proptest::collection::vec(any::<u8>(), 1..24),
        iterations in 1u32..8,
        hash in proptest::option::of(proptest::collection::vec(any::<u8>(), 20..64)),
    ) {
        use postgres_protocol::authentication::sasl::{
            ChannelBinding as TheirBinding, ScramSha256,
        };

        let (their_binding, our_binding, header): (_, _, &[u8]) = match &hash {
            Some(h) => (
                TheirBinding::tls_server_end_point(h.clone()),
                ChannelBinding::TlsServerEndPoint(h.clone()),
                b"p=tls-server-end-point,,n=,r=",
            ),
            None => (TheirBinding::unrequested(), ChannelBinding::NotOffered, b"y,,n=,r="),
        };
        let mut theirs = ScramSha256::new(password.as_bytes(), their_binding);
        let their_first = theirs.message().to_vec();
        let nonce = their_first.strip_prefix(header).unwrap_or_default().to_vec();
        prop_assert!(!nonce.is_empty());

        let ours = ScramClient::with_channel_binding("", &password, &nonce, our_binding);
        prop_assert_eq!(ours.client_first_message(), &their_first[..]);

        let server_first = format!(
            "r={}{server_part},s={},i={iterations}",
            String::from_utf8_lossy(&nonce),
            b64(&salt)
        );
        prop_assert!(theirs.update(server_first.as_bytes()).is_ok());
        let proof = ours.handle_server_first(server_first.as_bytes()).map(ScramPending::compute);
        prop_assert!(proof.is_ok());
        if let Ok(proof) = proof {
            prop_assert_eq!(proof.client_final_message(), theirs.message());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Mechanism selection and Display
// ---------------------------------------------------------------------------------------

#[test]
fn auth_error_display_keeps_server_reason() {
    let e = AuthError::ScramServerError("invalid-proof".to_owned());
    assert!(e.to_string().contains("invalid-proof"));
}

// ---------------------------------------------------------------------------------------
// SASLprep
// ---------------------------------------------------------------------------------------

#[test]
fn saslprep_leaves_ascii_unchanged_even_with_controls() {
    // pg_saslprep's ASCII fast path.
    assert_eq!(saslprep(b"pencil"), Cow::Borrowed(&b"pencil"[..]));
    assert_eq!(saslprep(b"a\x07b"), Cow::Borrowed(&b"a\x07b"[..]));
}

#[test]
fn saslprep_maps_non_ascii_space_to_space() {
    assert_eq!(&*saslprep("a\u{a0}b\u{3000}c".as_bytes()), b"a b c");
    // U+200B is in both C.1.2 and B.1; PostgreSQL checks C.1.2 first.
    assert_eq!(
        &*saslprep("a\u{200b}b\u{e9}".as_bytes()),
        "a b\u{e9}".as_bytes()
    );
}

#[test]
fn saslprep_removes_soft_hyphen() {
    assert_eq!(
        &*saslprep("pass\u{ad}word\u{e9}".as_bytes()),
        "password\u{e9}".as_bytes()
    );
    assert_eq!(&*saslprep("x\u{feff}y\u{fe0f}".as_bytes()), b"xy");
}

#[test]
fn saslprep_falls_back_to_raw_bytes_on_control_character() {
    let raw = "p\u{e9}\u{7}w".as_bytes();
    assert_eq!(saslprep(raw), Cow::Borrowed(raw));
    let raw = "p\u{e9}\u{85}w".as_bytes(); // C.2.2 NEL
    assert_eq!(saslprep(raw), Cow::Borrowed(raw));
}

#[test]
fn saslprep_falls_back_to_raw_bytes_on_prohibited_code_points() {
    for s in [
        "\u{e000}x",
        "x\u{fdd0}",
        "x\u{1fffe}",
        "\u{e0001}x",
        "\u{202e}x",
        "\u{2ff0}",
    ] {
        assert_eq!(saslprep(s.as_bytes()), Cow::Borrowed(s.as_bytes()), "{s:?}");
    }
}

#[test]
fn saslprep_falls_back_to_raw_bytes_when_mapped_to_empty() {
    let raw = "\u{ad}\u{200c}".as_bytes();
    assert_eq!(saslprep(raw), Cow::Borrowed(raw));
}

#[test]
fn saslprep_passes_invalid_utf8_through() {
    assert_eq!(saslprep(b"\xff\xfe"), Cow::Borrowed(&b"\xff\xfe"[..]));
}

#[test]
fn saslprep_keeps_precomposed_non_ascii_password() {
    assert_eq!(&*saslprep("pässwörd".as_bytes()), "pässwörd".as_bytes());
}

#[test]
fn scram_password_is_saslprepped_before_hashing() {
    // A soft hyphen and a variation selector (B.1) are mapped to nothing, so this password
    // must give exactly the RFC proof for "pencil".
    let proof = ScramClient::new("user", "pen\u{ad}cil\u{fe00}", RFC_NONCE)
        .handle_server_first(RFC_SERVER_FIRST)
        .map(ScramPending::compute);
    let proof = match proof {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(proof.client_final_message(), RFC_CLIENT_FINAL);
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

const LOW_CAP: u32 = 16;

fn low_cap_proof() -> ScramProof {
    let first = format!("r={RFC_NONCE}srv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=2");
    match rfc_client()
        .with_max_iterations(LOW_CAP)
        .handle_server_first(first.as_bytes())
    {
        Ok(p) => p.compute(),
        Err(e) => panic!("{e}"),
    }
}

proptest! {
    #[test]
    fn scram_arbitrary_server_first_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let client = rfc_client().with_max_iterations(LOW_CAP);
        if let Ok(pending) = client.handle_server_first(&bytes) {
            prop_assert!(pending.iterations() >= 1 && pending.iterations() <= LOW_CAP);
            let _ = pending.compute();
        }
    }

    #[test]
    fn scram_structured_server_first_never_panics(
        suffix in "[!-~]{0,12}",
        salt in "[A-Za-z0-9+/=]{0,12}",
        iterations in "[0-9a-z+-]{0,4}",
        tail in "(,[a-z=]{0,4}){0,2}",
    ) {
        let msg = format!("r={RFC_NONCE}{suffix},s={salt},i={iterations}{tail}");
        let client = rfc_client().with_max_iterations(LOW_CAP);
        if let Ok(pending) = client.handle_server_first(msg.as_bytes()) {
            let _ = pending.compute();
        }
    }

    #[test]
    fn scram_arbitrary_server_final_never_panics_or_verifies(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        prop_assert!(low_cap_proof().verify_server_final(&bytes).is_err());
    }

    #[test]
    fn scram_arbitrary_v_attribute_never_verifies(body in "[A-Za-z0-9+/]{0,50}={0,2}") {
        let msg = format!("v={body}");
        prop_assert!(low_cap_proof().verify_server_final(msg.as_bytes()).is_err());
    }

    /// Differential check against postgres-protocol's client, which sends `n=` (empty user):
    /// with an empty user name both must produce the same client-final message.
    #[test]
    fn scram_agrees_with_postgres_protocol_for_empty_user(
        password in "[ -~]{0,24}",
        server_part in "[!-+--~]{1,16}",
        salt in proptest::collection::vec(any::<u8>(), 1..24),
        iterations in 1u32..8,
    ) {
        use base64::Engine as _;
        use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};

        let mut theirs = ScramSha256::new(password.as_bytes(), ChannelBinding::unsupported());
        let their_first = theirs.message().to_vec();
        let nonce = their_first.strip_prefix(b"n,,n=,r=").unwrap_or_default().to_vec();
        prop_assert!(!nonce.is_empty());

        let ours = ScramClient::new("", &password, &nonce);
        prop_assert_eq!(ours.client_first_message(), &their_first[..]);

        let b64 = base64::engine::general_purpose::STANDARD.encode(&salt);
        let server_first = format!(
            "r={}{server_part},s={b64},i={iterations}",
            String::from_utf8_lossy(&nonce)
        );
        prop_assert!(theirs.update(server_first.as_bytes()).is_ok());
        let proof = ours.handle_server_first(server_first.as_bytes()).map(ScramPending::compute);
        prop_assert!(proof.is_ok());
        if let Ok(proof) = proof {
            prop_assert_eq!(proof.client_final_message(), theirs.message());
        }
    }
}
