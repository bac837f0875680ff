//! pgline's public API against the unmodified iris-pgwire 1.7.3 (with a sqlite stand-in
//! for IRIS behind it; see `tests/iris/README.md`). Every test uses its own table.

use pgline::conn::{Atomicity, ExecuteManyOptions, LoadMethod, LoadMode};
use pgline::protocol::backend::TransactionStatus;

use pgline::Connection;

use crate::support::conn::table;
use crate::support::iris::connect;

async fn create(c: &mut Connection, t: &str, cols: &str) {
    c.simple_query(&format!("CREATE TABLE {t} ({cols})"))
        .await
        .unwrap_or_else(|e| panic!("CREATE TABLE {t}: {e}"));
}

async fn count(c: &mut Connection, t: &str) -> i64 {
    let row = c
        .query_one(&*format!("SELECT COUNT(*) FROM {t}"), &[])
        .await
        .unwrap_or_else(|e| panic!("count {t}: {e}"));
    row.get::<i64>(0).expect("count as i64")
}

async fn ids(c: &mut Connection, t: &str) -> Vec<i64> {
    c.query(&*format!("SELECT id FROM {t} ORDER BY id"), &[])
        .await
        .unwrap_or_else(|e| panic!("ids of {t}: {e}"))
        .iter()
        .map(|r| r.get::<i64>(0).expect("id"))
        .collect()
}

#[tokio::test]
async fn connecting_detects_the_iris_profile_from_server_version() {
    let c = connect().await;
    assert!(
        c.parameter("server_version")
            .is_some_and(|v| v.contains("InterSystems IRIS")),
        "server_version = {:?}",
        c.parameter("server_version")
    );
    let q = c.quirks();
    assert!(q.no_skip_after_error && q.text_only && q.positional_placeholders);
}

#[tokio::test]
async fn ddl_completes_without_a_made_up_row_count() {
    let mut c = connect().await;
    let t = table("iris_ddl");
    let r = c
        .simple_query(&format!("CREATE TABLE {t} (id INT)"))
        .await
        .unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].tag.as_deref(), Some("CREATE 0"));
    assert_eq!(r[0].rows_affected, None, "CREATE 0 is not a row count");
    let n = c.execute(&*format!("DROP TABLE {t}"), &[]).await.unwrap();
    assert_eq!(n, None);
    c.simple_query("SELECT 1").await.expect("still usable");
}

#[tokio::test]
async fn prepared_inserts_and_typed_reads_round_trip() {
    let mut c = connect().await;
    let t = table("iris_types");
    create(
        &mut c,
        &t,
        "id INT PRIMARY KEY, name VARCHAR(50), score DOUBLE, big BIGINT",
    )
    .await;
    let sql = format!("INSERT INTO {t} (id, name, score, big) VALUES ($1, $2, $3, $4)");
    for (id, name, score, big) in [
        (1i32, "alpha", 1.5f64, 9_000_000_000i64),
        (2, "beta gamma", -0.25, -1),
    ] {
        let n = c.execute(&*sql, &[&id, &name, &score, &big]).await.unwrap();
        assert_eq!(
            n, None,
            "1.7.3 reports 1 for every extended DML: not trusted"
        );
    }
    let rows = c
        .query(
            &*format!("SELECT id, name, score, big FROM {t} ORDER BY id"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get::<i32>(0).unwrap(), 1);
    assert_eq!(rows[0].get::<String>(1).unwrap(), "alpha");
    assert_eq!(rows[0].get::<f64>(2).unwrap(), 1.5);
    assert_eq!(rows[0].get::<i64>(3).unwrap(), 9_000_000_000);
    assert_eq!(rows[1].get::<String>(1).unwrap(), "beta gamma");
    assert_eq!(rows[1].get::<f64>(2).unwrap(), -0.25);
    let one = c
        .query_one(&*format!("SELECT name FROM {t} WHERE id = $1"), &[&2i32])
        .await
        .unwrap();
    assert_eq!(one.get::<&str>(0).unwrap(), "beta gamma");
}

#[tokio::test]
async fn reversed_placeholders_bind_each_value_to_its_number() {
    let mut c = connect().await;
    let row = c
        .query_one("SELECT $2 AS a, $1 AS b", &[&"first", &"second"])
        .await
        .unwrap();
    assert_eq!(row.get::<&str>(0).unwrap(), "second");
    assert_eq!(row.get::<&str>(1).unwrap(), "first");
}

#[tokio::test]
async fn a_repeated_placeholder_gets_its_value_at_every_use() {
    let mut c = connect().await;
    let t = table("iris_repeat");
    create(&mut c, &t, "id INT, a INT, b INT").await;
    c.execute(
        &*format!("INSERT INTO {t} (id, a, b) VALUES ($1, $2, $2)"),
        &[&1i32, &7i32],
    )
    .await
    .unwrap();
    let row = c
        .query_one(
            &*format!("SELECT a, b FROM {t} WHERE id = $1 AND a = $2 AND b = $2"),
            &[&1i32, &7i32],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<i32>(0).unwrap(), row.get::<i32>(1).unwrap()),
        (7, 7)
    );
}

#[tokio::test]
async fn execute_many_loads_100k_rows_and_a_duplicate_fails_only_its_batch() {
    let mut c = connect().await;
    let t = table("iris_many");
    create(&mut c, &t, "id BIGINT PRIMARY KEY, name VARCHAR(40)").await;
    let sql = format!("INSERT INTO {t} (id, name) VALUES ($1, $2)");
    const N: i64 = 100_000;
    const DUP: i64 = 61_234;
    // Row DUP repeats the id of row 10.
    let rows = || (0..N).map(|i| (if i == DUP { 10 } else { i }, format!("row {i}")));
    let opts = ExecuteManyOptions::with_atomicity(Atomicity::Batches(1000));
    let report = &c
        .execute_many_with(&sql, rows(), opts)
        .await
        .expect("per-row failures are in the report, not an Err");
    assert_eq!(report.failures_total, 1, "{report}");
    let failure = &report.failures[0];
    assert_eq!(failure.error.code(), Some("23505"), "{}", failure.error);
    assert!(
        failure.rows.contains(&(DUP as u64)),
        "the failure names rows {:?}, which must hold row {DUP}",
        failure.rows
    );
    let batch_start = DUP / 1000 * 1000;
    assert_eq!(failure.rows, batch_start as u64..batch_start as u64 + 1000);
    assert!(!report.is_committed(DUP as u64));
    // Every committed batch is really in the table, the failed one is not.
    let in_table = ids(&mut c, &t).await;
    assert_eq!(in_table.len() as u64, report.rows_committed, "{report}");
    assert!(in_table.iter().all(|&i| report.is_committed(i as u64)));
    assert!(
        !in_table.contains(&(batch_start + 1)),
        "failed batch rolled back"
    );

    // Fix the row and resume: exactly the missing rows are loaded.
    let fixed = || (0..N).map(|i| (i, format!("row {i}")));
    let resumed = c
        .resume_execute_many(&sql, fixed(), report, opts)
        .await
        .expect("resume");
    assert!(resumed.is_complete(), "{resumed}");
    assert_eq!(count(&mut c, &t).await, N);
}

#[tokio::test]
async fn execute_many_all_rolls_back_everything_on_a_duplicate() {
    let mut c = connect().await;
    let t = table("iris_many_all");
    create(&mut c, &t, "id BIGINT PRIMARY KEY").await;
    let sql = format!("INSERT INTO {t} (id) VALUES ($1)");
    let rows = (0..3000i64).map(|i| (if i == 2500 { 3 } else { i },));
    let report = c.execute_many(&sql, rows).await.expect("load runs");
    assert_eq!(report.rows_committed, 0, "{report}");
    assert_eq!(report.failures_total, 1, "{report}");
    assert_eq!(report.failures[0].error.code(), Some("23505"));
    assert!(report.failures[0].rows.contains(&2500));
    assert_eq!(count(&mut c, &t).await, 0, "everything rolled back");
    assert_eq!(
        c.transaction_status(),
        TransactionStatus::Idle,
        "no transaction left open"
    );
}

#[tokio::test]
async fn execute_many_each_row_isolates_the_exact_failing_row() {
    let mut c = connect().await;
    let t = table("iris_many_each");
    create(&mut c, &t, "id BIGINT PRIMARY KEY").await;
    let sql = format!("INSERT INTO {t} (id) VALUES ($1)");
    let rows = (0..200i64).map(|i| (if i == 150 { 7 } else { i },));
    let r = &c
        .execute_many_with(
            &sql,
            rows,
            ExecuteManyOptions::with_atomicity(Atomicity::EachRow),
        )
        .await
        .expect("load runs");
    assert_eq!(r.failures_total, 1, "{r}");
    assert_eq!(r.failures[0].index, 150);
    assert_eq!(r.failures[0].rows, 150..151);
    assert_eq!(r.rows_committed, 199, "{r}");
    assert_eq!(count(&mut c, &t).await, 199);
}

#[tokio::test]
async fn an_error_inside_a_transaction_leaves_it_open_and_commit_keeps_the_rest() {
    let mut c = connect().await;
    let t = table("iris_tx");
    create(&mut c, &t, "id INT PRIMARY KEY").await;
    let mut tx = c.begin().await.unwrap();
    tx.execute(&*format!("INSERT INTO {t} (id) VALUES ($1)"), &[&1i32])
        .await
        .unwrap();
    let e = tx.simple_query("SELEC 1").await.expect_err("syntax error");
    assert!(e.as_db_error().is_some(), "{e}");
    assert_eq!(
        tx.transaction_status(),
        TransactionStatus::InTransaction,
        "IRIS does not abort a transaction on error"
    );
    tx.execute(&*format!("INSERT INTO {t} (id) VALUES ($1)"), &[&2i32])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(ids(&mut c, &t).await, vec![1, 2]);
    assert_eq!(c.transaction_status(), TransactionStatus::Idle);
}

#[tokio::test]
async fn rollback_undoes_the_transaction() {
    let mut c = connect().await;
    let t = table("iris_rb");
    create(&mut c, &t, "id INT PRIMARY KEY").await;
    let mut tx = c.begin().await.unwrap();
    tx.execute(&*format!("INSERT INTO {t} (id) VALUES ($1)"), &[&1i32])
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(count(&mut c, &t).await, 0);
}

#[tokio::test]
async fn a_transaction_opened_with_options_is_tracked_by_the_client() {
    // iris-pgwire opens it but reports status I: the client must not believe that.
    let mut c = connect().await;
    c.simple_query("BEGIN TRANSACTION").await.unwrap();
    assert_eq!(c.transaction_status(), TransactionStatus::InTransaction);
    c.simple_query("ROLLBACK").await.unwrap();
    assert_eq!(c.transaction_status(), TransactionStatus::Idle);
}

#[tokio::test]
async fn user_deallocate_and_discard_all_succeed_and_the_connection_stays_usable() {
    let mut c = connect().await;
    // Fill the statement cache first: the user's DEALLOCATE must not break it.
    c.query_one("SELECT $1 AS v", &[&5i32]).await.unwrap();
    for sql in ["DEALLOCATE ALL", "DISCARD ALL", "DEALLOCATE pgline_s1"] {
        let r = c.simple_query(sql).await;
        match r {
            Ok(r) => assert_eq!(r[0].rows_affected, None, "{sql}: {:?}", r[0].tag),
            Err(e) => assert!(e.as_db_error().is_some(), "{sql}: {e}"),
        }
        assert!(!c.is_broken(), "{sql} broke the connection");
        let row = c.query_one("SELECT $1 AS v", &[&5i32]).await.unwrap();
        assert_eq!(row.get::<i32>(0).unwrap(), 5, "after {sql}");
    }
}

#[tokio::test]
async fn an_empty_query_is_answered_locally() {
    let mut c = connect().await;
    for sql in ["", " ", ";", " ; ;"] {
        let r = c.simple_query(sql).await.unwrap();
        assert_eq!(r.len(), 1, "{sql:?}");
        assert!(r[0].empty, "{sql:?}");
    }
    c.simple_query("SELECT 1").await.expect("still in step");
}

#[tokio::test]
async fn show_returns_one_text_row() {
    let mut c = connect().await;
    let r = c
        .simple_query("SHOW standard_conforming_strings")
        .await
        .unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].rows.len(), 1);
    assert_eq!(r[0].rows[0].get(0).unwrap(), Some("on"));
}

#[tokio::test]
async fn load_uses_pipelined_inserts_on_iris_and_loads_every_row() {
    let mut c = connect().await;
    let t = table("iris_load");
    create(&mut c, &t, "id BIGINT, name VARCHAR(40), score DOUBLE").await;
    let rows = (0..5000i64).map(|i| (i, format!("n{i}"), i as f64 / 2.0));
    let report = c
        .load(
            &t,
            &["id", "name", "score"],
            rows,
            LoadMode::Auto,
            ExecuteManyOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(report.method, LoadMethod::Pipeline);
    assert!(report.is_complete(), "{report}");
    assert_eq!(count(&mut c, &t).await, 5000);
    let r = c
        .query_one(
            &*format!("SELECT name, score FROM {t} WHERE id = $1"),
            &[&4999i64],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<&str>(0).unwrap(), "n4999");
    assert_eq!(r.get::<f64>(1).unwrap(), 2499.5);
}

#[tokio::test]
async fn copy_out_is_refused_as_unsupported_on_iris() {
    let mut c = connect().await;
    let e = c
        .copy_out("COPY (SELECT 1) TO STDOUT")
        .await
        .expect_err("COPY TO is broken on iris-pgwire");
    assert!(e.is_unsupported(), "{e}");
    c.simple_query("SELECT 1").await.expect("still usable");
}

#[tokio::test]
async fn a_row_stream_reads_every_row_with_one_execute() {
    let mut c = connect().await;
    let t = table("iris_stream");
    create(&mut c, &t, "id BIGINT").await;
    c.execute_many(
        &format!("INSERT INTO {t} (id) VALUES ($1)"),
        (0..2500i64).map(|i| (i,)),
    )
    .await
    .unwrap();
    let mut s = c
        .query_stream(&*format!("SELECT id FROM {t} ORDER BY id"), &[], 100)
        .await
        .unwrap();
    let mut n = 0i64;
    while let Some(row) = s.next().await.unwrap() {
        assert_eq!(row.get::<i64>(0).unwrap(), n);
        n += 1;
    }
    assert_eq!(n, 2500);
}

#[tokio::test]
async fn a_server_error_is_a_db_error_and_the_next_query_works() {
    let mut c = connect().await;
    let e = c
        .query("SELECT * FROM no_such_table_anywhere", &[])
        .await
        .expect_err("no such table");
    assert!(e.as_db_error().is_some(), "{e}");
    assert!(!c.is_broken());
    let r = c.query_one("SELECT $1 AS v", &[&"ok"]).await.unwrap();
    assert_eq!(r.get::<&str>(0).unwrap(), "ok");
}

#[tokio::test]
async fn a_pool_hands_out_a_connection_returned_inside_a_transaction_rolled_back() {
    let _turn = crate::support::iris::turn().await;
    let t = table("iris_pool");
    let pool = pgline::pool::Pool::new(
        pgline::pool::PoolConfig::new(crate::support::iris::config())
            .max_size(1)
            .session_reset(pgline::pool::SessionReset::Clean),
    )
    .unwrap();
    let mut c = pool.get().await.unwrap();
    create(&mut c, &t, "id INT").await;
    c.simple_query("BEGIN").await.unwrap();
    c.execute(&*format!("INSERT INTO {t} (id) VALUES ($1)"), &[&1i32])
        .await
        .unwrap();
    drop(c);
    let mut c = pool.get().await.unwrap();
    assert_eq!(c.transaction_status(), TransactionStatus::Idle);
    assert_eq!(
        count(&mut c, &t).await,
        0,
        "the abandoned insert was rolled back"
    );
    // The IRIS-safe reset sent only ROLLBACK: the statement cache still works.
    let r = c.query_one("SELECT $1 AS v", &[&3i32]).await.unwrap();
    assert_eq!(r.get::<i32>(0).unwrap(), 3);
    drop(c);
    pool.close().await.unwrap();
}

#[tokio::test]
async fn a_parameterless_query_names_its_columns_and_select_1_is_an_integer() {
    let mut c = connect().await;
    let t = table("iris_names");
    create(
        &mut c,
        &t,
        "id INT PRIMARY KEY, name VARCHAR(50), score DOUBLE",
    )
    .await;
    c.execute(
        &*format!("INSERT INTO {t} (id, name, score) VALUES ($1, $2, $3)"),
        &[&1i32, &"one", &2.5f64],
    )
    .await
    .unwrap();
    let one = c.query_one("SELECT 1", &[]).await.unwrap();
    assert_eq!(one.get::<i32>(0).unwrap(), 1);
    assert_eq!(one.columns()[0].type_oid(), pgline::types::oid::INT4);
    let row = c
        .query_one(&*format!("SELECT id, name, score FROM {t}"), &[])
        .await
        .unwrap();
    assert_eq!(row.get::<i32>("id").unwrap(), 1);
    assert_eq!(row.get::<&str>("name").unwrap(), "one");
    assert_eq!(row.get::<f64>("score").unwrap(), 2.5);
    // With a parameter the rows come without names (Describe would run it twice): the
    // error says so, and reading by position works.
    let row = c
        .query_one(
            &*format!("SELECT id, name FROM {t} WHERE id = $1"),
            &[&1i32],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<&str>(1).unwrap(), "one");
    let e = row.get::<&str>("name").unwrap_err();
    assert!(format!("{e}").contains("without column names"), "{e}");
    // An explicit prepare describes once, and its rows carry names.
    let s = c
        .prepare(&format!("SELECT id, name FROM {t} WHERE id = $1"))
        .await
        .unwrap();
    let row = c.query_one(&s, &[&1i32]).await.unwrap();
    assert_eq!(row.get::<&str>("name").unwrap(), "one");
}

/// How many statements naming `table` the stand-in IRIS ran that start with `verb`.
fn executions(table: &str, verb: &str) -> usize {
    let server = crate::support::iris::server();
    let path = server.trace().unwrap_or_else(|| {
        panic!("no execution trace: set PGLINE_TEST_IRIS_TRACE with PGLINE_TEST_IRIS_PORT")
    });
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("trace {}: {e}", path.display()));
    let needle = table.to_ascii_uppercase();
    text.lines()
        .filter_map(|l| l.strip_prefix("execute "))
        .filter(|sql| sql.to_ascii_uppercase().contains(&needle))
        .filter(|sql| {
            sql.get(..verb.len())
                .is_some_and(|v| v.eq_ignore_ascii_case(verb))
        })
        .count()
}

#[tokio::test]
async fn every_query_path_runs_a_select_once_on_the_server() {
    let mut c = connect().await;
    let t = table("iris_once");
    create(&mut c, &t, "id INT PRIMARY KEY, name VARCHAR(50)").await;
    assert_eq!(executions(&t, "SELECT"), 0);
    // No parameters: a simple Query, named rows.
    let rows = c
        .query(&*format!("SELECT id, name FROM {t}"), &[])
        .await
        .unwrap();
    assert!(rows.is_empty());
    assert_eq!(executions(&t, "SELECT"), 1, "parameterless query ran once");
    // With a parameter: Parse/Bind/Execute without Describe.
    c.query(
        &*format!("SELECT id, name FROM {t} WHERE id = $1"),
        &[&1i32],
    )
    .await
    .unwrap();
    assert_eq!(executions(&t, "SELECT"), 2, "parameterised query ran once");
    c.query_unnamed(&format!("SELECT name FROM {t} WHERE id = $1"), &[&1i32])
        .await
        .unwrap();
    assert_eq!(executions(&t, "SELECT"), 3, "one-shot query ran once");
}
