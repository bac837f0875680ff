//! The statement cache stays truthful when the server's statements change under it:
//! `DEALLOCATE` / `DISCARD ALL` tags clear the matching entries as they arrive, and a
//! cached statement refused as stale (26000, 0A000) is invalidated and, outside a
//! transaction block, prepared again and retried once.

use pgline::protocol::backend::TransactionStatus;
use pgline::Connection;

use crate::support::conn::{connect, table};

const CACHED: &str = "SELECT $1::int4 + 1";

/// Runs `CACHED`, which the cache prepares on first use.
async fn run_cached(c: &mut Connection) -> Result<i32, pgline::Error> {
    c.query_one(CACHED, &[&41i32]).await?.get(0)
}

/// The server-side name of the cached statement for `sql`, if it is prepared.
async fn prepared_name(c: &mut Connection, sql: &str) -> Option<String> {
    // Unnamed: looking does not add to the cache.
    c.query_unnamed(
        "SELECT name FROM pg_prepared_statements WHERE statement = $1",
        &[&sql],
    )
    .await
    .unwrap()
    .first()
    .map(|r| r.get::<&str>(0).unwrap().to_owned())
}

/// A function that deallocates a statement out of pgline's sight: the client sees the
/// tag of the SELECT calling it, not DEALLOCATE's.
async fn create_hidden_deallocate(c: &mut Connection) {
    c.batch_execute(
        "CREATE FUNCTION pg_temp.hidden_deallocate(n text) RETURNS int LANGUAGE plpgsql AS \
         $$ BEGIN EXECUTE format('DEALLOCATE %I', n); RETURN 1; END $$",
    )
    .await
    .unwrap();
}

async fn hidden_deallocate(c: &mut Connection, name: &str) {
    c.simple_query(&format!("SELECT pg_temp.hidden_deallocate('{name}')"))
        .await
        .unwrap();
}

#[tokio::test]
async fn deallocate_all_clears_the_cache_so_the_next_cached_query_succeeds() {
    let mut c = connect().await;
    assert_eq!(run_cached(&mut c).await.unwrap(), 42);
    assert!(c.cached_statements() > 0);
    c.batch_execute("DEALLOCATE ALL").await.unwrap();
    assert_eq!(c.cached_statements(), 0, "the tag cleared the cache");
    assert_eq!(run_cached(&mut c).await.unwrap(), 42);
}

#[tokio::test]
async fn deallocate_all_inside_a_transaction_leaves_the_next_cached_query_working() {
    let mut c = connect().await;
    assert_eq!(run_cached(&mut c).await.unwrap(), 42);
    c.batch_execute("BEGIN").await.unwrap();
    c.batch_execute("DEALLOCATE ALL").await.unwrap();
    // Nothing fails, so the transaction is not aborted.
    assert_eq!(run_cached(&mut c).await.unwrap(), 42);
    assert_eq!(c.transaction_status(), TransactionStatus::InTransaction);
    c.batch_execute("COMMIT").await.unwrap();
}

#[tokio::test]
async fn deallocate_all_through_the_extended_protocol_clears_the_cache_too() {
    let mut c = connect().await;
    assert_eq!(run_cached(&mut c).await.unwrap(), 42);
    // Cached itself, then deallocated by itself.
    c.execute("DEALLOCATE ALL", &[]).await.unwrap();
    assert_eq!(c.cached_statements(), 0);
    c.batch_execute("BEGIN").await.unwrap();
    assert_eq!(run_cached(&mut c).await.unwrap(), 42);
    c.batch_execute("COMMIT").await.unwrap();
}

#[tokio::test]
async fn discard_all_clears_the_cache_so_the_next_cached_query_succeeds() {
    let mut c = connect().await;
    assert_eq!(run_cached(&mut c).await.unwrap(), 42);
    c.batch_execute("DISCARD ALL").await.unwrap();
    assert_eq!(c.cached_statements(), 0);
    // DISCARD ALL cannot run in a transaction block; the next one still works.
    c.batch_execute("BEGIN").await.unwrap();
    assert_eq!(run_cached(&mut c).await.unwrap(), 42);
    c.batch_execute("COMMIT").await.unwrap();
}

#[tokio::test]
async fn deallocating_one_cached_name_forgets_only_that_statement() {
    let mut c = connect().await;
    assert_eq!(run_cached(&mut c).await.unwrap(), 42);
    c.query_one("SELECT 'other'::text", &[]).await.unwrap();
    let name = prepared_name(&mut c, CACHED)
        .await
        .expect("cached and prepared");
    let before = c.cached_statements();
    c.batch_execute(&format!("DEALLOCATE PREPARE {}", name.to_uppercase()))
        .await
        .unwrap();
    assert_eq!(c.cached_statements(), before - 1);
    c.batch_execute("BEGIN").await.unwrap();
    assert_eq!(run_cached(&mut c).await.unwrap(), 42);
    c.query_one("SELECT 'other'::text", &[]).await.unwrap();
    c.batch_execute("COMMIT").await.unwrap();
    assert!(prepared_name(&mut c, "SELECT 'other'::text")
        .await
        .is_some());
}

#[tokio::test]
async fn deallocate_in_a_pipeline_forgets_the_cached_statement() {
    let mut c = connect().await;
    assert_eq!(run_cached(&mut c).await.unwrap(), 42);
    let name = prepared_name(&mut c, CACHED).await.unwrap();
    let before = c.cached_statements();
    let mut p = c.pipeline().await.unwrap();
    p.query_sql(&format!("DEALLOCATE {name}"), &[]).unwrap();
    let out = p.finish().await.unwrap();
    assert!(out[0].is_ok());
    assert_eq!(c.cached_statements(), before - 1);
    c.batch_execute("BEGIN").await.unwrap();
    assert_eq!(run_cached(&mut c).await.unwrap(), 42);
    c.batch_execute("COMMIT").await.unwrap();
}

#[tokio::test]
async fn a_statement_deallocated_behind_the_cache_is_retried_once_outside_a_transaction() {
    let mut c = connect().await;
    create_hidden_deallocate(&mut c).await;
    assert_eq!(run_cached(&mut c).await.unwrap(), 42);
    let name = prepared_name(&mut c, CACHED).await.unwrap();
    hidden_deallocate(&mut c, &name).await;
    // 26000 at Bind, forgotten, prepared again, run again: the caller sees a result.
    assert_eq!(run_cached(&mut c).await.unwrap(), 42);
    let again = prepared_name(&mut c, CACHED).await.unwrap();
    assert_ne!(again, name);
}

#[tokio::test]
async fn a_statement_deallocated_behind_the_cache_fails_inside_a_transaction_then_works() {
    let mut c = connect().await;
    create_hidden_deallocate(&mut c).await;
    assert_eq!(run_cached(&mut c).await.unwrap(), 42);
    let name = prepared_name(&mut c, CACHED).await.unwrap();
    c.batch_execute("BEGIN").await.unwrap();
    hidden_deallocate(&mut c, &name).await;
    let err = run_cached(&mut c).await.unwrap_err();
    assert_eq!(err.code(), Some("26000"), "{err:?}");
    assert_eq!(c.transaction_status(), TransactionStatus::Failed);
    c.batch_execute("ROLLBACK").await.unwrap();
    // The entry was invalidated: prepared again, no second failure.
    assert_eq!(run_cached(&mut c).await.unwrap(), 42);
}

#[tokio::test]
async fn a_cached_select_star_returns_the_new_column_after_add_column() {
    let mut c = connect().await;
    let t = table("cache_alter");
    c.batch_execute(&format!(
        "CREATE TABLE {t} (a int); INSERT INTO {t} VALUES (1)"
    ))
    .await
    .unwrap();
    let sql = format!("SELECT * FROM {t}");
    let rows = c.query(sql.as_str(), &[]).await.unwrap();
    assert_eq!(rows[0].columns().len(), 1);
    c.batch_execute(&format!("ALTER TABLE {t} ADD COLUMN b text DEFAULT 'new'"))
        .await
        .unwrap();
    // 0A000 "cached plan must not change result type" at Bind, retried once.
    let rows = c.query(sql.as_str(), &[]).await.unwrap();
    assert_eq!(rows[0].columns().len(), 2);
    assert_eq!(rows[0].get::<&str>(1).unwrap(), "new");
    // And it stays fixed.
    let rows = c.query(sql.as_str(), &[]).await.unwrap();
    assert_eq!(rows[0].get::<&str>("b").unwrap(), "new");
}

#[tokio::test]
async fn a_cached_select_star_after_add_column_in_a_transaction_fails_once_then_works() {
    let mut c = connect().await;
    let t = table("cache_alter_tx");
    c.batch_execute(&format!(
        "CREATE TABLE {t} (a int); INSERT INTO {t} VALUES (1)"
    ))
    .await
    .unwrap();
    let sql = format!("SELECT * FROM {t}");
    c.query(sql.as_str(), &[]).await.unwrap();
    c.batch_execute(&format!(
        "BEGIN; ALTER TABLE {t} ADD COLUMN b int DEFAULT 7"
    ))
    .await
    .unwrap();
    let err = c.query(sql.as_str(), &[]).await.unwrap_err();
    assert_eq!(err.code(), Some("0A000"), "{err:?}");
    c.batch_execute("ROLLBACK").await.unwrap();
    // The ALTER was rolled back too, but the entry was invalidated either way: the next
    // call prepares again and succeeds with the table as it is now.
    let rows = c.query(sql.as_str(), &[]).await.unwrap();
    assert_eq!(rows[0].columns().len(), 1);
    c.batch_execute(&format!("ALTER TABLE {t} ADD COLUMN b int DEFAULT 7"))
        .await
        .unwrap();
    c.batch_execute("BEGIN").await.unwrap();
    let err = c.query(sql.as_str(), &[]).await.unwrap_err();
    assert_eq!(err.code(), Some("0A000"), "{err:?}");
    c.batch_execute("ROLLBACK").await.unwrap();
    let rows = c.query(sql.as_str(), &[]).await.unwrap();
    assert_eq!(rows[0].get::<i32>(1).unwrap(), 7);
}

#[tokio::test]
async fn execute_many_invalidates_a_cached_statement_refused_as_stale() {
    let mut c = connect().await;
    create_hidden_deallocate(&mut c).await;
    let t = table("cache_many");
    c.batch_execute(&format!("CREATE TABLE {t} (id int)"))
        .await
        .unwrap();
    let sql = format!("INSERT INTO {t} VALUES ($1)");
    c.execute(sql.as_str(), &[&0i32]).await.unwrap();
    let name = prepared_name(&mut c, &sql).await.unwrap();
    hidden_deallocate(&mut c, &name).await;
    let rows: Vec<Vec<i32>> = (1..4).map(|i| vec![i]).collect();
    let first = c.execute_many(sql.as_str(), rows.clone()).await;
    // Per-row failures (or an error) the first time, but the entry is invalidated...
    let failed = match &first {
        Ok(r) => r
            .failures
            .first()
            .and_then(|f| f.error.code().map(str::to_owned)),
        Err(e) => e.error.code().map(str::to_owned),
    };
    assert_eq!(failed.as_deref(), Some("26000"), "{first:?}");
    // ...so the next call prepares again and every row goes in.
    let r = c.execute_many(sql.as_str(), rows).await.unwrap();
    assert!(r.is_complete(), "{r:?}");
}
