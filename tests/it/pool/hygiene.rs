//! A returned connection is never handed out dirty; a clean one keeps its session state
//! and statement cache; the reset is IRIS-safe.

use std::time::Duration;

use pgline::conn::ProfileChoice;
use pgline::pool::{Pool, PooledConnection, SessionReset};
use pgline::protocol::backend::TransactionStatus;

use super::{pid, pool_config};

async fn show(c: &mut PooledConnection, what: &str) -> String {
    let r = c.simple_query(&format!("SHOW {what}")).await.unwrap();
    r[0].rows[0].get(0).unwrap().unwrap().to_owned()
}

async fn temp_table_exists(c: &mut PooledConnection, name: &str) -> bool {
    let r = c
        .simple_query(&format!("SELECT to_regclass('pg_temp.{name}') IS NOT NULL"))
        .await
        .unwrap();
    r[0].rows[0].get(0).unwrap() == Some("t")
}

#[tokio::test]
async fn a_connection_returned_inside_a_transaction_comes_back_rolled_back_and_clean() {
    let (cfg, _) = pool_config();
    let pool = Pool::new(cfg.max_size(1)).unwrap();
    let mut c = pool.get().await.unwrap();
    let first = pid(&mut c).await;
    c.batch_execute("BEGIN; CREATE TEMP TABLE pool_dirty (x int); SET work_mem = '1234kB'")
        .await
        .unwrap();
    assert_eq!(c.transaction_status(), TransactionStatus::InTransaction);
    drop(c);

    let mut c = pool.get().await.unwrap();
    assert_eq!(c.transaction_status(), TransactionStatus::Idle);
    assert!(c.is_idle());
    assert_eq!(
        pid(&mut c).await,
        first,
        "rolled back and reused, not replaced"
    );
    assert!(!temp_table_exists(&mut c, "pool_dirty").await);
    assert_ne!(show(&mut c, "work_mem").await, "1234kB");
    assert_eq!(pool.status().closed.total(), 0);
}

#[tokio::test]
async fn a_connection_returned_inside_a_failed_transaction_comes_back_idle() {
    let (cfg, _) = pool_config();
    let pool = Pool::new(cfg.max_size(1)).unwrap();
    let mut c = pool.get().await.unwrap();
    c.batch_execute("BEGIN").await.unwrap();
    assert!(c.batch_execute("SELECT 1/0").await.is_err());
    assert_eq!(c.transaction_status(), TransactionStatus::Failed);
    drop(c);
    let mut c = pool.get().await.unwrap();
    assert_eq!(c.transaction_status(), TransactionStatus::Idle);
    let r = c.query_one("SELECT 41 + 1", &[]).await.unwrap();
    assert_eq!(r.get::<i32>(0).unwrap(), 42);
}

#[tokio::test]
async fn a_connection_returned_with_a_row_stream_dropped_midway_is_drained_before_reuse() {
    let (cfg, _) = pool_config();
    let pool = Pool::new(cfg.max_size(1)).unwrap();
    let mut c = pool.get().await.unwrap();
    let first = pid(&mut c).await;
    {
        let mut s = c
            .query_stream(
                "SELECT g, repeat('x', 200) FROM generate_series(1, 200000) g",
                &[],
                0,
            )
            .await
            .unwrap();
        for _ in 0..3 {
            assert!(s.next().await.unwrap().is_some());
        }
    }
    assert!(!c.is_idle());
    drop(c);

    let mut c = pool.get().await.unwrap();
    assert!(c.is_idle());
    assert_eq!(c.transaction_status(), TransactionStatus::Idle);
    let r = c.query_one("SELECT $1::int4", &[&7i32]).await.unwrap();
    assert_eq!(r.get::<i32>(0).unwrap(), 7, "no leftover row of the stream");
    assert_eq!(pid(&mut c).await, first);
}

#[tokio::test]
async fn a_query_future_dropped_midway_leaves_no_trace_for_the_next_holder() {
    let (cfg, _) = pool_config();
    let pool = Pool::new(cfg.max_size(1)).unwrap();
    let mut c = pool.get().await.unwrap();
    c.batch_execute("BEGIN").await.unwrap();
    let r = tokio::time::timeout(
        Duration::from_millis(50),
        c.query("SELECT pg_sleep(0.1), g FROM generate_series(1, 3) g", &[]),
    )
    .await;
    assert!(r.is_err(), "the future was dropped mid-query");
    drop(c);

    let mut c = pool.get().await.unwrap();
    assert_eq!(c.transaction_status(), TransactionStatus::Idle);
    let rows = c.query("SELECT 5", &[]).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<i32>(0).unwrap(), 5);
}

#[tokio::test]
async fn a_clean_return_keeps_session_settings_and_the_statement_cache() {
    let (cfg, _) = pool_config();
    let pool = Pool::new(cfg.max_size(1)).unwrap();
    let mut c = pool.get().await.unwrap();
    c.batch_execute("SET work_mem = '2345kB'").await.unwrap();
    c.query_one("SELECT $1::int8", &[&1i64]).await.unwrap();
    assert_eq!(c.cached_statements(), 1);
    drop(c);
    let mut c = pool.get().await.unwrap();
    assert_eq!(c.cached_statements(), 1);
    assert_eq!(show(&mut c, "work_mem").await, "2345kB");
}

#[tokio::test]
async fn session_reset_clean_resets_settings_and_temp_tables_but_keeps_prepared_statements() {
    let (cfg, _) = pool_config();
    let pool = Pool::new(cfg.max_size(1).session_reset(SessionReset::Clean)).unwrap();
    let mut c = pool.get().await.unwrap();
    c.batch_execute("SET work_mem = '3456kB'; CREATE TEMP TABLE pool_clean (x int)")
        .await
        .unwrap();
    c.query_one("SELECT $1::int8", &[&1i64]).await.unwrap();
    drop(c);
    let mut c = pool.get().await.unwrap();
    assert_ne!(show(&mut c, "work_mem").await, "3456kB");
    assert!(!temp_table_exists(&mut c, "pool_clean").await);
    assert_eq!(c.cached_statements(), 1);
    // The cached statement is still valid on the server.
    let r = c.query_one("SELECT $1::int8", &[&9i64]).await.unwrap();
    assert_eq!(r.get::<i64>(0).unwrap(), 9);
}

/// With the IRIS profile (`no_sql_cleanup`), `SessionReset::Clean` must not send
/// RESET ALL / DISCARD: a plain `SET` outside a transaction therefore survives the return,
/// while a transaction is still rolled back (ROLLBACK is the only statement sent).
#[tokio::test]
async fn on_iris_the_reset_sends_only_rollback_never_reset_or_discard() {
    let (mut cfg, _) = pool_config();
    let mut conn = cfg.connection_config().clone();
    conn.profile(ProfileChoice::Iris);
    cfg = pgline::pool::PoolConfig::new(conn);
    let pool = Pool::new(cfg.max_size(1).session_reset(SessionReset::Clean)).unwrap();
    let mut c = pool.get().await.unwrap();
    assert!(c.quirks().no_sql_cleanup);
    c.batch_execute("SET work_mem = '4567kB'").await.unwrap();
    drop(c);
    let mut c = pool.get().await.unwrap();
    assert_eq!(
        show(&mut c, "work_mem").await,
        "4567kB",
        "RESET ALL was sent"
    );
    c.batch_execute("BEGIN").await.unwrap();
    c.batch_execute("CREATE TEMP TABLE pool_iris (x int)")
        .await
        .unwrap();
    drop(c);
    let mut c = pool.get().await.unwrap();
    assert_eq!(c.transaction_status(), TransactionStatus::Idle);
    assert!(!temp_table_exists(&mut c, "pool_iris").await);
    assert_eq!(pool.status().closed.total(), 0);
}
