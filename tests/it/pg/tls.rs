//! TLS against real PostgreSQL clusters the harness starts with certificates it makes:
//! one with `ssl = on` (server certificate for `localhost` only, client CA for the `cert`
//! role), one without TLS, and one whose certificate has expired. Every `sslmode`, the
//! certificate checks, client certificates, channel binding and cancel over TLS.

use std::path::Path;
use std::time::Duration;

use pgline::cluster::{
    TempCluster, CERT_USER, MD5_USER, MD5_USER_PW, NOSSL_DB, SCRAM_USER, SCRAM_USER_PW, SSLONLY_DB,
    TRUST_USER,
};
use pgline::pool::{Pool, PoolConfig};
use pgline::{Config, Connection};

use crate::support::tls::tls_files;
use crate::support::{expired_tls_server, plain_server, tls_server};

/// A config for `user` on `cluster`, reached as `host`, with libpq parameters `params`
/// (`key=value` pairs separated by spaces).
fn config(
    cluster: &TempCluster,
    host: &str,
    user: &str,
    password: Option<&str>,
    params: &str,
) -> Config {
    let mut s = format!(
        "host={host} port={} user={user} dbname=postgres connect_timeout=10 {params}",
        cluster.port()
    );
    if let Some(p) = password {
        s.push_str(&format!(" password={p}"));
    }
    s.parse()
        .unwrap_or_else(|e| panic!("config {s:?} does not parse: {e}"))
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// `sslrootcert=<the test CA>`.
fn ca() -> String {
    format!("sslrootcert={}", path(&tls_files().ca))
}

/// What `pg_stat_ssl` says of this connection's backend.
async fn server_sees_tls(c: &mut Connection) -> bool {
    c.query_one(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        &[],
    )
    .await
    .expect("pg_stat_ssl")
    .get::<bool>(0)
    .expect("bool")
}

async fn connect(cfg: &Config) -> Result<Connection, pgline::Error> {
    Connection::connect(cfg).await
}

/// The superuser on the TLS cluster, verify-full against the test CA.
async fn verified_superuser() -> Connection {
    let params = format!("sslmode=verify-full {}", ca());
    connect(&config(
        tls_server(),
        "localhost",
        "postgres",
        None,
        &params,
    ))
    .await
    .expect("verify-full connect")
}

async fn current_user(c: &mut Connection) -> String {
    c.query_one("SELECT current_user::text", &[])
        .await
        .expect("current_user")
        .get::<String>(0)
        .expect("text")
}

#[tokio::test]
async fn every_sslmode_against_a_tls_server_encrypts_exactly_when_libpq_would() {
    let server = tls_server();
    for (params, host, tls) in [
        ("sslmode=disable", "127.0.0.1", false),
        ("sslmode=allow", "127.0.0.1", false),
        ("sslmode=prefer", "127.0.0.1", true),
        ("", "127.0.0.1", true),
        ("sslmode=require", "127.0.0.1", true),
        (&format!("sslmode=verify-ca {}", ca()), "127.0.0.1", true),
        (&format!("sslmode=verify-full {}", ca()), "localhost", true),
    ] {
        let cfg = config(server, host, "postgres", None, params);
        let mut c = connect(&cfg)
            .await
            .unwrap_or_else(|e| panic!("{params:?}: {e}"));
        assert_eq!(c.is_tls(), tls, "{params:?}: is_tls");
        assert_eq!(
            server_sees_tls(&mut c).await,
            tls,
            "{params:?}: pg_stat_ssl"
        );
    }
}

#[tokio::test]
async fn every_sslmode_against_a_server_without_tls_connects_in_plaintext_or_refuses() {
    let server = plain_server();
    for params in ["sslmode=disable", "sslmode=allow", "sslmode=prefer", ""] {
        let mut c = connect(&config(server, "127.0.0.1", "postgres", None, params))
            .await
            .unwrap_or_else(|e| panic!("{params:?}: {e}"));
        assert!(!c.is_tls(), "{params:?}");
        assert!(!server_sees_tls(&mut c).await, "{params:?}");
    }
    for params in [
        "sslmode=require".to_string(),
        format!("sslmode=verify-ca {}", ca()),
        format!("sslmode=verify-full {}", ca()),
    ] {
        let err = connect(&config(server, "localhost", "postgres", None, &params))
            .await
            .expect_err(&params);
        assert!(err.is_tls(), "{params}: {err}");
        assert!(err.to_string().contains("does not support TLS"), "{err}");
    }
}

#[tokio::test]
async fn verify_full_with_the_test_ca_connects_over_tls_from_a_url() {
    let server = tls_server();
    let url = format!(
        "postgres://postgres@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}",
        server.port(),
        path(&tls_files().ca)
    );
    let mut c = Connection::connect(&url.parse().unwrap()).await.unwrap();
    assert!(server_sees_tls(&mut c).await);
    let version: String = c
        .query_one(
            "SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert!(version.starts_with("TLSv1."), "{version}");
}

#[tokio::test]
async fn a_certificate_from_another_ca_fails_and_says_it_is_not_trusted() {
    let params = format!(
        "sslmode=verify-full sslrootcert={}",
        path(&tls_files().wrong_ca)
    );
    let err = connect(&config(
        tls_server(),
        "localhost",
        "postgres",
        None,
        &params,
    ))
    .await
    .expect_err("wrong CA accepted");
    assert!(err.is_tls(), "{err}");
    assert!(
        err.to_string().contains("not signed by a trusted root"),
        "{err}"
    );
}

#[tokio::test]
async fn a_host_name_the_certificate_does_not_name_fails_verify_full_but_not_verify_ca() {
    let server = tls_server();
    let full = format!("sslmode=verify-full {}", ca());
    let err = connect(&config(server, "127.0.0.1", "postgres", None, &full))
        .await
        .expect_err("the certificate names only localhost");
    assert!(err.is_tls(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("does not match the host name \"127.0.0.1\""),
        "{text}"
    );
    let ca_only = format!("sslmode=verify-ca {}", ca());
    let mut c = connect(&config(server, "127.0.0.1", "postgres", None, &ca_only))
        .await
        .expect("verify-ca does not check the name");
    assert!(server_sees_tls(&mut c).await);
}

#[tokio::test]
async fn require_with_a_root_certificate_checks_the_chain_like_verify_ca() {
    let server = tls_server();
    let wrong = format!(
        "sslmode=require sslrootcert={}",
        path(&tls_files().wrong_ca)
    );
    let err = connect(&config(server, "127.0.0.1", "postgres", None, &wrong))
        .await
        .expect_err("require with a root certificate must verify");
    assert!(err.is_tls(), "{err}");
    let right = format!("sslmode=require {}", ca());
    let mut c = connect(&config(server, "127.0.0.1", "postgres", None, &right))
        .await
        .expect("right CA, and require does not check the name");
    assert!(server_sees_tls(&mut c).await);
}

#[tokio::test]
async fn an_expired_server_certificate_fails_verification_and_says_it_expired() {
    let server = expired_tls_server();
    let full = format!("sslmode=verify-full {}", ca());
    let err = connect(&config(server, "localhost", "postgres", None, &full))
        .await
        .expect_err("expired certificate accepted");
    assert!(err.is_tls(), "{err}");
    assert!(err.to_string().contains("expired"), "{err}");
    // require without a root certificate does not check it, as in libpq.
    let mut c = connect(&config(
        server,
        "127.0.0.1",
        "postgres",
        None,
        "sslmode=require",
    ))
    .await
    .expect("require alone does not verify");
    assert!(server_sees_tls(&mut c).await);
}

#[tokio::test]
async fn sslrootcert_system_means_verify_full_against_the_platform_store() {
    // The test CA is in no system store, so the certificate is not trusted (or, on a
    // machine without a store, no roots are found): either way a TLS error, never a
    // silent downgrade.
    let err = connect(&config(
        tls_server(),
        "localhost",
        "postgres",
        None,
        "sslrootcert=system",
    ))
    .await
    .expect_err("the test CA is not a system root");
    assert!(err.is_tls(), "{err}");
    let weaker = connect(&config(
        tls_server(),
        "localhost",
        "postgres",
        None,
        "sslrootcert=system sslmode=require",
    ))
    .await
    .expect_err("sslrootcert=system refuses weaker modes");
    assert!(weaker.is_config(), "{weaker}");
}

#[tokio::test]
async fn the_cert_role_logs_in_with_its_client_certificate_in_pkcs8_and_sec1() {
    let files = tls_files();
    for key in [&files.client_key, &files.client_key_sec1] {
        let params = format!(
            "sslmode=verify-full {} sslcert={} sslkey={}",
            ca(),
            path(&files.client_cert),
            path(key)
        );
        let mut c = connect(&config(tls_server(), "localhost", CERT_USER, None, &params))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", key.display()));
        assert_eq!(current_user(&mut c).await, CERT_USER);
    }
}

#[tokio::test]
async fn the_cert_role_is_refused_without_a_certificate_or_with_another_name() {
    let files = tls_files();
    // verify-full: under prefer, a refused TLS session is retried in plaintext (libpq's
    // rule), where the role meets the password line instead.
    let verified = format!("sslmode=verify-full {}", ca());
    let err = connect(&config(
        tls_server(),
        "localhost",
        CERT_USER,
        None,
        &verified,
    ))
    .await
    .expect_err("cert role without a certificate");
    assert_eq!(err.code(), Some("28000"), "{err}");
    let other = format!(
        "{verified} sslcert={} sslkey={}",
        path(&files.other_client_cert),
        path(&files.other_client_key)
    );
    let err = connect(&config(tls_server(), "localhost", CERT_USER, None, &other))
        .await
        .expect_err("a certificate for another CN");
    assert_eq!(err.code(), Some("28000"), "{err}");
}

#[tokio::test]
async fn a_client_key_readable_by_others_is_refused_before_connecting() {
    let files = tls_files();
    let loose = files.dir.join("loose-client.key");
    std::fs::copy(&files.client_key, &loose).unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let params = format!(
        "{} sslcert={} sslkey={}",
        ca(),
        path(&files.client_cert),
        path(&loose)
    );
    let err = connect(&config(tls_server(), "localhost", CERT_USER, None, &params))
        .await
        .expect_err("group/world-readable key");
    assert!(err.is_config(), "{err}");
    assert!(err.to_string().contains("group or world access"), "{err}");
}

#[tokio::test]
async fn require_fails_where_only_plaintext_is_allowed_and_prefer_falls_back_to_it() {
    let server = tls_server();
    let db = |mode: &str| {
        let mut c = config(server, "127.0.0.1", "postgres", None, mode);
        c.dbname(NOSSL_DB);
        c
    };
    let err = connect(&db("sslmode=require"))
        .await
        .expect_err("pg_hba rejects TLS for this database");
    assert_eq!(err.code(), Some("28000"), "{err}");
    for mode in ["sslmode=prefer", "sslmode=allow"] {
        let mut c = connect(&db(mode))
            .await
            .unwrap_or_else(|e| panic!("{mode}: {e}"));
        assert!(!c.is_tls(), "{mode}");
        assert!(!server_sees_tls(&mut c).await, "{mode}");
    }
}

#[tokio::test]
async fn allow_tries_plaintext_first_and_uses_tls_when_the_server_refuses_it() {
    let mut cfg = config(tls_server(), "127.0.0.1", "postgres", None, "sslmode=allow");
    cfg.dbname(SSLONLY_DB);
    let mut c = connect(&cfg).await.expect("allow retries with TLS");
    assert!(c.is_tls());
    assert!(server_sees_tls(&mut c).await);
    cfg.ssl_mode(pgline::conn::SslMode::Disable);
    let err = connect(&cfg).await.expect_err("plaintext is refused");
    assert_eq!(err.code(), Some("28000"), "{err}");
}

#[tokio::test]
async fn channel_binding_require_binds_scram_to_the_tls_channel() {
    let params = format!("sslmode=verify-full {} channel_binding=require", ca());
    let mut c = connect(&config(
        tls_server(),
        "localhost",
        SCRAM_USER,
        Some(SCRAM_USER_PW),
        &params,
    ))
    .await
    .expect("SCRAM-SHA-256-PLUS");
    assert_eq!(current_user(&mut c).await, SCRAM_USER);
    assert!(server_sees_tls(&mut c).await);
    // A wrong password still fails: the binding does not bypass the proof.
    let err = connect(&config(
        tls_server(),
        "localhost",
        SCRAM_USER,
        Some("wrong"),
        &params,
    ))
    .await
    .expect_err("wrong password");
    assert_eq!(err.code(), Some("28P01"), "{err}");
}

#[tokio::test]
async fn channel_binding_require_refuses_md5_and_trust_before_sending_a_password() {
    for (user, pw) in [(MD5_USER, Some(MD5_USER_PW)), (TRUST_USER, None)] {
        let err = connect(&config(
            tls_server(),
            "127.0.0.1",
            user,
            pw,
            "sslmode=require channel_binding=require",
        ))
        .await
        .expect_err(user);
        assert!(err.is_auth(), "{user}: {err}");
        assert!(err.to_string().contains("channel_binding=require"), "{err}");
    }
}

#[tokio::test]
async fn channel_binding_require_without_tls_fails_and_prefer_still_logs_in() {
    let err = connect(&config(
        plain_server(),
        "127.0.0.1",
        SCRAM_USER,
        Some(SCRAM_USER_PW),
        "channel_binding=require",
    ))
    .await
    .expect_err("no TLS, no binding");
    assert!(err.is_auth(), "{err}");
    assert!(err.to_string().contains("not encrypted"), "{err}");
    for server in [plain_server(), tls_server()] {
        let mut c = connect(&config(
            server,
            "127.0.0.1",
            SCRAM_USER,
            Some(SCRAM_USER_PW),
            "channel_binding=prefer",
        ))
        .await
        .expect("prefer binds where it can");
        assert_eq!(current_user(&mut c).await, SCRAM_USER);
    }
}

#[tokio::test]
async fn a_cancel_request_travels_over_tls_and_cancels_the_query() {
    let mut c = verified_superuser().await;
    let token = c.cancel_token().expect("cancel token");
    assert!(token.uses_tls());
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel_query(Duration::from_secs(10)).await
    });
    let err = c
        .simple_query("SELECT pg_sleep(30)")
        .await
        .expect_err("cancelled");
    assert_eq!(err.code(), Some("57014"), "{err}");
    canceller.await.unwrap().expect("cancel request sent");
    assert!(c.simple_query("SELECT 1").await.is_ok());
}

#[tokio::test]
async fn the_pool_connects_with_verify_full_and_every_connection_is_encrypted() {
    let params = format!("sslmode=verify-full {}", ca());
    let pool = Pool::new(
        PoolConfig::new(config(tls_server(), "localhost", "postgres", None, &params)).max_size(3),
    )
    .unwrap();
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut c = pool.get().await.expect("pooled TLS connection");
        assert!(server_sees_tls(&mut c).await);
        held.push(c);
    }
    drop(held);
    pool.close().await.unwrap();
}

#[tokio::test]
async fn execute_many_over_tls_loads_every_row_and_polled_io_works_beneath_tls() {
    let mut c = verified_superuser().await;
    let table = crate::support::conn::table("tls_load");
    c.simple_query(&format!("CREATE TEMP TABLE {table} (id int8, name text)"))
        .await
        .unwrap();
    let n = 50_000i64;
    let rows = (0..n).map(|i| (i, format!("row-{i}")));
    let opts = pgline::conn::ExecuteManyOptions {
        io_tick: Some(pgline::conn::DEFAULT_IO_TICK),
        ..Default::default()
    };
    let report = c
        .execute_many_with(&format!("INSERT INTO {table} VALUES ($1, $2)"), rows, opts)
        .await
        .expect("load over TLS");
    assert!(report.is_complete(), "{report}");
    assert_eq!(report.rows_committed, n as u64);
    let sum: i64 = c
        .query_one(format!("SELECT sum(id)::int8 FROM {table}").as_str(), &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(sum, n * (n - 1) / 2);
    assert!(!c.is_io_polled(), "back to event-driven IO after the load");
    assert!(server_sees_tls(&mut c).await);
}

#[tokio::test]
async fn sslkeylogfile_receives_the_session_secrets() {
    let log = tls_files()
        .dir
        .join(format!("keylog-{}", std::process::id()));
    let params = format!("sslmode=require sslkeylogfile={}", path(&log));
    let c = connect(&config(
        tls_server(),
        "127.0.0.1",
        "postgres",
        None,
        &params,
    ))
    .await
    .unwrap();
    drop(c);
    let text = std::fs::read_to_string(&log).expect("key log written");
    assert!(
        text.lines()
            .any(|l| l.starts_with("CLIENT_TRAFFIC_SECRET_0 ") || l.starts_with("CLIENT_RANDOM ")),
        "{text}"
    );
    let _ = std::fs::remove_file(&log);
}

#[tokio::test]
async fn ssl_max_protocol_version_limits_the_session_to_tls_1_2() {
    let mut c = connect(&config(
        tls_server(),
        "127.0.0.1",
        "postgres",
        None,
        "sslmode=require ssl_max_protocol_version=TLSv1.2",
    ))
    .await
    .unwrap();
    let version: String = c
        .query_one(
            "SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(version, "TLSv1.2");
}

#[tokio::test]
async fn direct_tls_against_a_server_older_than_17_fails_with_a_hint() {
    // PostgreSQL 15 does not accept a TLS ClientHello in place of a startup packet.
    let err = connect(&config(
        tls_server(),
        "localhost",
        "postgres",
        None,
        &format!("sslmode=verify-full {} sslnegotiation=direct", ca()),
    ))
    .await
    .expect_err("PostgreSQL 15 has no direct TLS");
    assert!(err.is_tls(), "{err}");
    assert!(err.to_string().contains("PostgreSQL 17"), "{err}");
}
