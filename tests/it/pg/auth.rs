//! Each authentication method, right and wrong passwords.

use pgline::cluster::{
    MD5_USER, MD5_USER_PW, PASSWORD_USER, PASSWORD_USER_PW, SCRAM_USER, SCRAM_USER_PW,
    SCRAM_UTF8_USER, SCRAM_UTF8_USER_PW, TRUST_USER,
};
use pgline::conn::AuthPolicy;
use pgline::Connection;

use crate::support::conn::config;

async fn current_user(c: &mut Connection) -> String {
    let r = c
        .query_one("SELECT current_user::text", &[])
        .await
        .expect("query");
    r.get::<String>(0).expect("text")
}

#[tokio::test]
async fn trust_user_connects_without_a_password() {
    let mut c = Connection::connect(&config(TRUST_USER, None))
        .await
        .expect("connect");
    assert_eq!(current_user(&mut c).await, TRUST_USER);
}

#[tokio::test]
async fn cleartext_password_is_refused_by_default_policy() {
    let err = Connection::connect(&config(PASSWORD_USER, Some(PASSWORD_USER_PW)))
        .await
        .expect_err("cleartext must be refused by default");
    assert!(err.is_auth(), "{err}");
}

#[tokio::test]
async fn cleartext_password_works_when_allowed_and_wrong_one_fails() {
    let mut cfg = config(PASSWORD_USER, Some(PASSWORD_USER_PW));
    cfg.auth_policy(AuthPolicy::any());
    let mut c = Connection::connect(&cfg).await.expect("connect");
    assert_eq!(current_user(&mut c).await, PASSWORD_USER);
    let mut bad = config(PASSWORD_USER, Some("wrong"));
    bad.auth_policy(AuthPolicy::any());
    let err = Connection::connect(&bad).await.expect_err("wrong password");
    assert_eq!(err.code(), Some("28P01"), "{err}");
}

#[tokio::test]
async fn md5_user_authenticates_and_wrong_password_fails() {
    let mut c = Connection::connect(&config(MD5_USER, Some(MD5_USER_PW)))
        .await
        .expect("connect");
    assert_eq!(current_user(&mut c).await, MD5_USER);
    let err = Connection::connect(&config(MD5_USER, Some("nope")))
        .await
        .expect_err("wrong");
    assert_eq!(err.code(), Some("28P01"), "{err}");
}

#[tokio::test]
async fn md5_is_refused_when_require_auth_is_scram_only() {
    let mut cfg = config(MD5_USER, Some(MD5_USER_PW));
    cfg.set("require_auth", "scram-sha-256").unwrap();
    let err = Connection::connect(&cfg).await.expect_err("md5 refused");
    assert!(err.is_auth(), "{err}");
}

#[tokio::test]
async fn scram_user_authenticates_and_wrong_password_fails() {
    let mut c = Connection::connect(&config(SCRAM_USER, Some(SCRAM_USER_PW)))
        .await
        .expect("connect");
    assert_eq!(current_user(&mut c).await, SCRAM_USER);
    let err = Connection::connect(&config(SCRAM_USER, Some("wrong")))
        .await
        .expect_err("wrong");
    assert_eq!(err.code(), Some("28P01"), "{err}");
}

#[tokio::test]
async fn scram_works_with_a_non_ascii_password() {
    let mut c = Connection::connect(&config(SCRAM_UTF8_USER, Some(SCRAM_UTF8_USER_PW)))
        .await
        .expect("connect");
    assert_eq!(current_user(&mut c).await, SCRAM_UTF8_USER);
}

#[tokio::test]
async fn missing_password_for_scram_user_is_a_clear_error() {
    let err = Connection::connect(&config(SCRAM_USER, None))
        .await
        .expect_err("no password");
    assert!(err.is_auth());
    assert!(err.to_string().contains("none is configured"), "{err}");
}

/// The server SASLpreps a SCRAM password with NFKC when it stores the verifier; a client
/// that skips NFKC cannot log in with the same text in decomposed form.
#[tokio::test]
async fn a_scram_password_in_decomposed_unicode_logs_in_after_nfkc() {
    let role = crate::support::conn::table("pgline_nfkc");
    let decomposed = "pa\u{308}ss-\u{fb01}";
    let mut admin = crate::support::conn::connect().await;
    admin
        .batch_execute(&format!(
            "SET password_encryption = 'scram-sha-256'; CREATE ROLE {role} LOGIN PASSWORD '{decomposed}'"
        ))
        .await
        .unwrap();
    let mut c = Connection::connect(&config(&role, Some(decomposed)))
        .await
        .expect("NFKC on both sides");
    assert_eq!(current_user(&mut c).await, role);
    // The composed spelling is the same password after NFKC.
    let mut c2 = Connection::connect(&config(&role, Some("p\u{e4}ss-fi")))
        .await
        .expect("composed spelling");
    assert_eq!(current_user(&mut c2).await, role);
    drop((c, c2));
    admin
        .batch_execute(&format!("DROP ROLE {role}"))
        .await
        .unwrap();
}
