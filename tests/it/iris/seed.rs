//! The seed's workload (an async SQLAlchemy dialect reaching IRIS through iris-pgwire via
//! psycopg), replayed through pgline against the published iris-pgwire 1.7.3: every step
//! is checked by its result, every stored row read back. The stand-in IRIS (sqlite) has no
//! VECTOR type or `TO_VECTOR`/`VECTOR_COSINE` (`tests/iris/stub/`), so that step is not
//! part of this replay.

use std::collections::BTreeMap;

use pgline::pool::{Pool, PoolConfig};
use pgline::protocol::backend::TransactionStatus;
use pgline::Connection;

use crate::support::conn::table;
use crate::support::iris::{server, turn};

/// How SQLAlchemy engines connect: one URL.
fn url() -> String {
    format!(
        "postgresql://_SYSTEM:SYS@127.0.0.1:{}/USER?sslmode=prefer&connect_timeout=10&iris_pgwire_version=1.7.3",
        server().port()
    )
}

async fn ids(c: &mut Connection, t: &str) -> Vec<i64> {
    c.query(&*format!("SELECT id FROM {t} ORDER BY id"), &[])
        .await
        .unwrap_or_else(|e| panic!("ids of {t}: {e}"))
        .iter()
        .map(|r| r.get::<i64>("id").expect("id by name"))
        .collect()
}

#[tokio::test]
async fn the_seed_workload_runs_through_pgline_on_iris_pgwire_1_7_3() {
    let _turn = turn().await;
    let t = table("seed_items");
    let mut c = Connection::connect_str(&url())
        .await
        .expect("engine-style URL");
    assert!(c.quirks().parameterless_as_simple_query, "IRIS profile");

    // The dialect's liveness check: SELECT 1, read as an integer.
    let one = c.query_one("SELECT 1", &[]).await.unwrap();
    assert_eq!(one.get::<i32>(0).unwrap(), 1);
    assert_eq!(one.get::<i64>(0).unwrap(), 1);

    // SHOW from the dialect's initialisation, by name.
    let scs = c
        .query_one("SHOW standard_conforming_strings", &[])
        .await
        .unwrap();
    assert_eq!(
        scs.get::<&str>("standard_conforming_strings").unwrap(),
        "on"
    );

    // DDL: no result set, no made-up row count.
    let ddl = format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY, name VARCHAR(80), score DOUBLE)");
    assert!(c.query(&*ddl, &[]).await.unwrap().is_empty());

    // A committed transaction, with the DEALLOCATE psycopg's pool reset sends inside it.
    let ins = format!("INSERT INTO {t} (id, name, score) VALUES ($1, $2, $3)");
    let mut tx = c.begin().await.unwrap();
    tx.execute(&*ins, &[&1i64, &"committed", &0.5f64])
        .await
        .unwrap();
    tx.execute("DEALLOCATE ALL", &[]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(c.transaction_status(), TransactionStatus::Idle);

    // A rolled-back transaction, DEALLOCATE inside it too: the row is gone.
    let mut tx = c.begin().await.unwrap();
    tx.execute(&*ins, &[&2i64, &"rolled back", &1.5f64])
        .await
        .unwrap();
    tx.execute("DEALLOCATE ALL", &[]).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(
        ids(&mut c, &t).await,
        vec![1],
        "committed kept, rolled back gone"
    );

    // Names on rows of a parameterless query.
    let row = c
        .query_one(&*format!("SELECT id, name, score FROM {t}"), &[])
        .await
        .unwrap();
    assert_eq!(row.get::<i64>("id").unwrap(), 1);
    assert_eq!(row.get::<&str>("name").unwrap(), "committed");
    assert_eq!(row.get::<f64>("score").unwrap(), 0.5);

    // Reflection: INFORMATION_SCHEMA is answered by the server's catalog emulation (the
    // stand-in has none, so it returns no rows); the queries must not fail.
    c.query(
        "SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'SQLUser'",
        &[],
    )
    .await
    .expect("INFORMATION_SCHEMA.TABLES");
    c.query(
        &*format!(
            "SELECT COLUMN_NAME, DATA_TYPE FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = '{t}'"
        ),
        &[],
    )
    .await
    .expect("INFORMATION_SCHEMA.COLUMNS");

    // Bulk insert of 10,000 rows, every stored row checked.
    let rows = (100..10_100i64).map(|i| (i, format!("row {i}"), i as f64 / 4.0));
    let report = c.execute_many(&ins, rows).await.unwrap();
    assert!(report.is_complete(), "{report}");
    let stored: BTreeMap<i64, (String, f64)> = c
        .query(
            &*format!("SELECT id, name, score FROM {t} WHERE id >= 100"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let id: i64 = r.get("id").unwrap();
            let name: String = r.get::<&str>("name").unwrap().to_owned();
            (id, (name, r.get::<f64>("score").unwrap()))
        })
        .collect();
    assert_eq!(stored.len(), 10_000);
    for (id, (name, score)) in &stored {
        assert_eq!(name, &format!("row {id}"), "row {id}");
        assert_eq!(*score, *id as f64 / 4.0, "row {id}");
    }
    drop(c);

    // A pool shared by 50 tasks, each doing the dialect's round trip.
    let pool = Pool::new(PoolConfig::new(url().parse().unwrap()).max_size(10)).unwrap();
    let mut tasks = Vec::new();
    for task in 0..50i64 {
        let pool = pool.clone();
        let sel = format!("SELECT name FROM {t} WHERE id = $1");
        tasks.push(tokio::spawn(async move {
            let mut c = pool.get().await.map_err(|e| e.to_string())?;
            let one = c
                .query_one("SELECT 1", &[])
                .await
                .map_err(|e| e.to_string())?;
            if one.get::<i32>(0).map_err(|e| e.to_string())? != 1 {
                return Err("SELECT 1 is not 1".to_owned());
            }
            let id = 100 + task * 7;
            let r = c
                .query_one(&*sel, &[&id])
                .await
                .map_err(|e| e.to_string())?;
            let name: &str = r.get(0).map_err(|e| e.to_string())?;
            if name != format!("row {id}") {
                return Err(format!("task {task}: {name}"));
            }
            Ok::<_, String>(())
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        task.await
            .expect("task")
            .unwrap_or_else(|e| panic!("task {i}: {e}"));
    }
    pool.close().await.unwrap();
}
