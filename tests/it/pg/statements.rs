//! Closing prepared statements against the real server: explicitly with
//! `Statement::close`, and on drop of the last handle, batched into the next operation.

use pgline::types::oid;

use crate::support::conn::{connect, table};

/// Whether `name` is prepared in the session of `c` (`pg_prepared_statements` lists
/// protocol-level statements too).
async fn is_prepared(c: &mut pgline::Connection, name: &str) -> bool {
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_prepared_statements WHERE name = $1",
            &[&name],
        )
        .await
        .unwrap()
        .get(0)
        .unwrap();
    n == 1
}

/// libpq_pipeline's "prepared" case: prepare with a declared parameter type, describe,
/// execute through a pipeline, close; running the closed name then fails with 26000.
#[tokio::test]
async fn a_prepared_statement_described_executed_and_closed_is_gone_from_the_server() {
    let mut c = connect().await;
    let s = c
        .prepare_typed(
            "SELECT $1, '42', $1::numeric, interval '1 sec'",
            &[oid::INT4],
        )
        .await
        .unwrap();
    // Describe (done by prepare): one int4 parameter, four columns as libpq checks them.
    assert_eq!(s.params(), &[oid::INT4]);
    let types: Vec<u32> = s.columns().iter().map(|col| col.type_oid()).collect();
    assert_eq!(types, vec![oid::INT4, oid::TEXT, 1700, 1186]);
    let name = s.name().to_owned();

    let mut p = c.pipeline().await.unwrap();
    p.query(&s, &[&7i32]).unwrap();
    let out = p.finish().await.unwrap();
    let row = &out[0].as_ref().unwrap().rows[0];
    assert_eq!(row.get::<i32>(0).unwrap(), 7);
    assert_eq!(row.get::<&str>(1).unwrap(), "42");

    let kept = s.clone();
    assert!(is_prepared(&mut c, &name).await);
    s.close(&mut c).await.unwrap();
    assert!(!is_prepared(&mut c, &name).await);

    let mut p = c.pipeline().await.unwrap();
    p.query(&kept, &[&7i32]).unwrap();
    let out = p.finish().await.unwrap();
    assert_eq!(out[0].as_ref().unwrap_err().code(), Some("26000"));
    let err = c.query(&kept, &[&7i32]).await.unwrap_err();
    assert_eq!(err.code(), Some("26000"), "{err:?}");
    assert!(c.is_idle());
}

#[tokio::test]
async fn a_dropped_uncached_statement_is_closed_by_the_next_operation() {
    let mut c = connect().await;
    let s = c.prepare("SELECT 1").await.unwrap();
    let name = s.name().to_owned();
    assert!(is_prepared(&mut c, &name).await);
    drop(s);
    // The Close goes out with this query, before it: no extra round trip.
    assert!(!is_prepared(&mut c, &name).await);
    assert!(c.is_idle());
}

#[tokio::test]
async fn a_statement_stays_prepared_until_its_last_clone_is_dropped() {
    let mut c = connect().await;
    let s = c.prepare("SELECT $1::int4 + 1").await.unwrap();
    let name = s.name().to_owned();
    let clone = s.clone();
    drop(s);
    assert!(is_prepared(&mut c, &name).await);
    let r = c.query_one(&clone, &[&1i32]).await.unwrap();
    assert_eq!(r.get::<i32>(0).unwrap(), 2);
    drop(clone);
    assert!(!is_prepared(&mut c, &name).await);
}

#[tokio::test]
async fn statements_of_the_cache_stay_prepared_across_operations() {
    let mut c = connect().await;
    let t = table("stmt_cache");
    c.batch_execute(&format!("CREATE TABLE {t} (id int)"))
        .await
        .unwrap();
    let sql = format!("INSERT INTO {t} VALUES ($1)");
    for i in 0..3 {
        c.execute(sql.as_str(), &[&i]).await.unwrap();
    }
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1",
            &[&sql],
        )
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(n, 1, "prepared once, kept by the cache, never closed");
}

#[tokio::test]
async fn closing_a_cached_statement_makes_the_cache_prepare_it_again() {
    let mut c = connect().await;
    let sql = "SELECT $1::int4 * 3";
    assert_eq!(
        c.query_one(sql, &[&2i32])
            .await
            .unwrap()
            .get::<i32>(0)
            .unwrap(),
        6
    );
    let cached = c.cached_statements();
    // A handle to the same SQL from `prepare` is another statement: closing it leaves
    // the cached one alone.
    let own = c.prepare(sql).await.unwrap();
    own.close(&mut c).await.unwrap();
    assert_eq!(c.cached_statements(), cached);
    assert_eq!(
        c.query_one(sql, &[&3i32])
            .await
            .unwrap()
            .get::<i32>(0)
            .unwrap(),
        9
    );
}

#[tokio::test]
async fn closing_a_statement_through_another_connection_is_refused() {
    let mut a = connect().await;
    let mut b = connect().await;
    let s = a.prepare("SELECT 1").await.unwrap();
    let name = s.name().to_owned();
    let err = s.clone().close(&mut b).await.unwrap_err();
    assert!(err.to_string().contains("another connection"), "{err}");
    assert!(is_prepared(&mut a, &name).await);
    s.close(&mut a).await.unwrap();
    assert!(!is_prepared(&mut a, &name).await);
}
