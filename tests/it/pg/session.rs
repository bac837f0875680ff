//! Transactions, async messages, termination, cancel, dropped futures.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pgline::protocol::backend::TransactionStatus;

use crate::support::conn::{assert_answers, backend_pid, connect, table, terminate_backend};

#[tokio::test]
async fn transactions_commit_roll_back_and_roll_back_on_drop() {
    let mut c = connect().await;
    let t = table("tx");
    c.batch_execute(&format!("CREATE TABLE {t} (x int)"))
        .await
        .unwrap();
    let ins = format!("INSERT INTO {t} VALUES ($1)");

    let mut tx = c.begin().await.unwrap();
    tx.execute(ins.as_str(), &[&1i32]).await.unwrap();
    assert_eq!(tx.transaction_status(), TransactionStatus::InTransaction);
    tx.commit().await.unwrap();

    let mut tx = c.begin().await.unwrap();
    tx.execute(ins.as_str(), &[&2i32]).await.unwrap();
    tx.rollback().await.unwrap();

    {
        let mut tx = c.begin().await.unwrap();
        tx.execute(ins.as_str(), &[&3i32]).await.unwrap();
        // dropped without commit
    }
    let rows = c
        .query(format!("SELECT x FROM {t} ORDER BY x").as_str(), &[])
        .await
        .unwrap();
    let xs: Vec<i32> = rows.iter().map(|r| r.get(0).unwrap()).collect();
    assert_eq!(xs, vec![1]);
    assert_eq!(c.transaction_status(), TransactionStatus::Idle);
    c.batch_execute(&format!("DROP TABLE {t}")).await.unwrap();
}

#[tokio::test]
async fn commit_of_a_failed_transaction_is_reported_as_an_error() {
    let mut c = connect().await;
    let mut tx = c.begin().await.unwrap();
    assert!(tx.simple_query("SELECT 1/0").await.is_err());
    assert_eq!(tx.transaction_status(), TransactionStatus::Failed);
    assert!(tx.commit().await.is_err());
    assert_eq!(c.transaction_status(), TransactionStatus::Idle);
}

#[tokio::test]
async fn listen_notify_delivers_notifications_end_to_end() {
    let mut listener = connect().await;
    let mut sender = connect().await;
    listener.batch_execute("LISTEN pgline_chan").await.unwrap();
    sender
        .batch_execute("NOTIFY pgline_chan, 'hello'")
        .await
        .unwrap();
    let n = tokio::time::timeout(Duration::from_secs(5), listener.wait_for_notification())
        .await
        .expect("notification within 5 s")
        .unwrap();
    assert_eq!(n.channel, "pgline_chan");
    assert_eq!(n.payload, "hello");
    // Notifications that arrive during a query are buffered, not mistaken for results.
    sender
        .batch_execute("NOTIFY pgline_chan, 'during'")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = listener.query_one("SELECT 41 + 1", &[]).await.unwrap();
    assert_eq!(r.get::<i32>(0).unwrap(), 42);
    let got = listener.take_notifications();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload, "during");
}

#[tokio::test]
async fn raise_notice_reaches_the_notice_handler() {
    let mut c = connect().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    c.set_notice_handler(move |n| s2.lock().unwrap().push(n.message().to_string()));
    c.batch_execute("DO $$ BEGIN RAISE NOTICE 'hello %', 42; END $$")
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap().as_slice(), ["hello 42"]);
}

#[tokio::test]
async fn terminated_backend_gives_typed_fatal_and_a_broken_connection() {
    let mut victim = connect().await;
    let pid = backend_pid(&mut victim).await;
    terminate_backend(pid).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let err = victim.query("SELECT 1", &[]).await.unwrap_err();
    assert!(err.code() == Some("57P01") || err.is_closed(), "{err:?}");
    assert!(victim.is_broken());
    let again = victim.query("SELECT 1", &[]).await.unwrap_err();
    assert!(
        again.is_broken(),
        "a broken connection refuses work: {again:?}"
    );
}

#[tokio::test]
async fn cancel_of_pg_sleep_returns_57014_within_a_second_and_the_connection_stays_usable() {
    let mut c = connect().await;
    let token = c.cancel_token().expect("cancel token");
    let start = Instant::now();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        token.cancel_query(Duration::from_secs(5)).await
    });
    let err = c.simple_query("SELECT pg_sleep(10)").await.unwrap_err();
    canceller.await.unwrap().unwrap();
    assert_eq!(err.code(), Some("57014"), "{err:?}");
    assert!(
        start.elapsed() < Duration::from_millis(1200),
        "took {:?}",
        start.elapsed()
    );
    assert!(!c.is_broken());
    assert_answers(&mut c, 7).await;
}

#[tokio::test]
async fn a_future_dropped_mid_result_is_followed_by_a_clean_next_query() {
    let mut c = connect().await;
    // Drop a big query at several poll points: after 1 ms, 5 ms, 20 ms.
    for ms in [1u64, 5, 20] {
        let fut = c.query(
            "SELECT g, repeat('y', 100) FROM generate_series(1, 200000) g",
            &[],
        );
        let _ = tokio::time::timeout(Duration::from_millis(ms), fut).await;
        let r = c.query_one("SELECT 'clean'::text", &[]).await.unwrap();
        assert_eq!(r.get::<&str>(0).unwrap(), "clean");
        assert!(c.is_idle());
    }
    // And a dropped stream.
    {
        let mut s = c
            .query_stream("SELECT g FROM generate_series(1, 100000) g", &[], 100)
            .await
            .unwrap();
        assert!(s.next().await.unwrap().is_some());
    }
    let r = c
        .query_one("SELECT 'after stream'::text", &[])
        .await
        .unwrap();
    assert_eq!(r.get::<&str>(0).unwrap(), "after stream");
}

#[tokio::test]
async fn server_parameters_are_kept_in_a_map() {
    let mut c = connect().await;
    assert!(c.parameter("server_version").unwrap().starts_with("15"));
    c.batch_execute("SET application_name = 'pgline-test'")
        .await
        .unwrap();
    assert_eq!(c.parameter("application_name"), Some("pgline-test"));
}

#[tokio::test]
async fn query_timeout_reports_a_timeout_and_cancels_without_breaking_the_connection() {
    let mut cfg = crate::support::conn::config("postgres", None);
    cfg.query_timeout(Some(Duration::from_millis(200)));
    let mut c = pgline::Connection::connect(&cfg).await.unwrap();
    let err = c.simple_query("SELECT pg_sleep(5)").await.unwrap_err();
    assert!(err.is_timeout());
    assert!(!c.is_broken(), "cancelled and drained, not thrown away");
    assert!(c.simple_query("SELECT 1").await.is_ok());
}
