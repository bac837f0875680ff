//! Failures that tell the truth (issue 15, point 8): a failed transaction's COMMIT is a
//! server error that leaves the connection usable, text timestamps survive a role whose
//! DateStyle is not ISO, and a later switch away from ISO fails with an error that says so.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pgline::Connection;

use crate::support::conn::{assert_answers, config, connect, table};

#[tokio::test]
async fn commit_of_a_failed_transaction_is_a_server_error_and_the_connection_stays_usable() {
    let mut c = connect().await;
    let t = table("failed_commit");
    c.batch_execute(&format!("CREATE TABLE {t} (id int PRIMARY KEY)"))
        .await
        .unwrap();
    let mut tx = c.begin().await.unwrap();
    tx.execute(format!("INSERT INTO {t} VALUES (1)").as_str(), &[])
        .await
        .unwrap();
    tx.execute(format!("INSERT INTO {t} VALUES (1)").as_str(), &[])
        .await
        .expect_err("duplicate key");
    let err = tx.commit().await.expect_err("the transaction had failed");
    assert_eq!(err.code(), Some("25P02"), "{err}");
    assert!(!err.breaks_connection(), "{err}");
    assert!(!c.is_broken());
    assert_answers(&mut c, 7).await;
    let n: i64 = c
        .query_one(format!("SELECT count(*) FROM {t}").as_str(), &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(n, 0, "nothing of the failed transaction was committed");
}

#[tokio::test]
async fn a_role_whose_datestyle_is_not_iso_still_reads_text_timestamps() {
    let role = table("pgline_dmy");
    let mut admin = connect().await;
    admin
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD 'dmy-pw'; ALTER ROLE {role} SET DateStyle = 'SQL, DMY'"
        ))
        .await
        .unwrap();
    let mut cfg = config(&role, Some("dmy-pw"));
    cfg.prefer_text_format(true);
    let mut c = Connection::connect(&cfg)
        .await
        .expect("connect as the role");
    let style: String = c
        .query_one("SHOW DateStyle", &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(
        style, "ISO, MDY",
        "the startup packet outranks the role setting"
    );
    let expected = UNIX_EPOCH + Duration::from_secs(1_705_313_472);
    let sql = "SELECT '2024-01-15 10:11:12+00'::timestamptz";
    let got: SystemTime = c.query_one(sql, &[]).await.unwrap().get(0).unwrap();
    assert_eq!(got, expected);

    // Switched away from ISO later: the value is refused with an error that names
    // DateStyle, never misread, and the connection goes on.
    c.batch_execute("SET DateStyle = 'SQL, DMY'").await.unwrap();
    let row = c.query_one(sql, &[]).await.unwrap();
    let err = row.get::<SystemTime>(0).expect_err("SQL style is not ISO");
    assert!(err.to_string().contains("DateStyle"), "{err}");
    assert_answers(&mut c, 3).await;
    drop(c);
    admin
        .batch_execute(&format!("DROP ROLE {role}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn tcp_keepalives_are_on_by_default_and_off_with_keepalives_0() {
    let c = connect().await;
    assert!(
        c.tcp_keepalive(),
        "a dead peer must not go unnoticed for hours"
    );
    let mut cfg = config("postgres", None);
    cfg.set("keepalives", "0").unwrap();
    let c = Connection::connect(&cfg).await.unwrap();
    assert!(!c.tcp_keepalive());
}

#[tokio::test]
async fn a_statement_past_its_deadline_is_cancelled_and_the_connection_stays_usable() {
    use crate::support::conn::backend_pid;
    use std::time::Instant;
    let mut cfg = config("postgres", None);
    cfg.query_timeout(Some(Duration::from_millis(300)));
    let mut c = Connection::connect(&cfg).await.unwrap();
    let pid = backend_pid(&mut c).await;
    for extended in [false, true] {
        let t = Instant::now();
        let err = if extended {
            c.query("SELECT pg_sleep(30)", &[]).await.map(|_| ())
        } else {
            c.simple_query("SELECT pg_sleep(30)").await.map(|_| ())
        }
        .expect_err("deadline");
        assert!(err.is_timeout(), "{err}");
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
        assert!(!c.is_broken(), "extended={extended}: {err}");
        assert_answers(&mut c, 5).await;
        assert_eq!(backend_pid(&mut c).await, pid, "the same backend goes on");
    }
    // Per statement: lift the deadline for one long statement.
    c.set_query_timeout(None);
    c.simple_query("SELECT pg_sleep(0.5)").await.unwrap();
    c.set_query_timeout(Some(Duration::from_millis(300)));
    assert!(c
        .simple_query("SELECT pg_sleep(5)")
        .await
        .unwrap_err()
        .is_timeout());
    assert_answers(&mut c, 6).await;
}

#[test]
fn every_connection_has_a_deadline_unless_the_caller_lifts_it() {
    let c = pgline::Config::new();
    assert_eq!(
        c.get_query_timeout(),
        Some(pgline::conn::DEFAULT_QUERY_TIMEOUT)
    );
    let none: pgline::Config = "query_timeout=0".parse().unwrap();
    assert_eq!(none.get_query_timeout(), None);
}

#[tokio::test]
async fn a_row_stream_that_stalls_past_its_deadline_is_cancelled_and_the_connection_kept() {
    let mut cfg = config("postgres", None);
    cfg.query_timeout(Some(Duration::from_millis(500)));
    let mut c = Connection::connect(&cfg).await.unwrap();
    let sql = "SELECT x, CASE WHEN x = 3 THEN pg_sleep(30) END::text FROM generate_series(1, 5) x";
    let mut stream = c.query_stream(sql, &[], 1).await.unwrap();
    let first = stream.next().await.unwrap().expect("row 1");
    assert_eq!(first.get::<i32>(0).unwrap(), 1);
    let mut err = None;
    for _ in 0..5 {
        match stream.next().await {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    let err = err.expect("row 3 stalls past the deadline");
    assert!(err.is_timeout(), "{err}");
    drop(stream);
    assert!(!c.is_broken(), "{err}");
    assert_answers(&mut c, 9).await;
}
