//! What each published iris-pgwire release can do, against the real servers: 1.7.3 and
//! 1.0.1 (`tests/iris/requirements*.txt`). The table is `src/iris/capabilities.rs`; each
//! test runs where a point of it applies. Every test uses its own table.

use std::time::Duration;

use pgline::Connection;

use crate::support::conn::table;
use crate::support::iris::{config_undeclared, connect_release, connect_with, Release};

const BOTH: [Release; 2] = [Release::V1_7_3, Release::V1_0_1];

async fn create(c: &mut Connection, t: &str) {
    c.simple_query(&format!(
        "CREATE TABLE {t} (id INT PRIMARY KEY, name VARCHAR(20))"
    ))
    .await
    .unwrap_or_else(|e| panic!("CREATE TABLE {t}: {e}"));
}

async fn count(c: &mut Connection, t: &str) -> i64 {
    let r = c
        .simple_query(&format!("SELECT COUNT(*) AS n FROM {t}"))
        .await
        .unwrap_or_else(|e| panic!("count {t}: {e}"));
    r[0].rows[0]
        .get(0)
        .expect("column")
        .expect("not null")
        .parse()
        .expect("a number")
}

// ----- transactions ---------------------------------------------------------------------------

#[tokio::test]
async fn on_1_0_1_a_transaction_is_refused_before_anything_is_sent() {
    let mut c = connect_release(Release::V1_0_1).await;
    let t = table("iris_rel_refused");
    create(&mut c, &t).await;
    let e = c.begin().await.expect_err("1.0.1 cannot roll back");
    assert!(e.is_unsupported(), "{e}");
    assert!(e.to_string().contains("1.0.1"), "{e}");
    assert_eq!(
        c.transaction_status(),
        pgline::protocol::backend::TransactionStatus::Idle,
        "no BEGIN went out"
    );
}

#[tokio::test]
async fn on_1_0_1_rollback_of_an_opted_in_transaction_does_not_claim_success() {
    let mut c = connect_release(Release::V1_0_1).await;
    let t = table("iris_rel_norollback");
    create(&mut c, &t).await;
    let mut tx = c.begin_without_rollback().await.unwrap();
    assert!(!tx.rolls_back());
    tx.execute(
        &*format!("INSERT INTO {t} (id, name) VALUES ($1, $2)"),
        &[&1i32, &"kept"],
    )
    .await
    .unwrap();
    let e = tx.rollback().await.expect_err("nothing was rolled back");
    assert!(e.is_unsupported(), "{e}");
    // And that is the truth: the row is still there.
    assert_eq!(count(&mut c, &t).await, 1);
}

#[tokio::test]
async fn on_1_7_3_a_declared_transaction_begins_and_really_rolls_back() {
    let mut c = connect_release(Release::V1_7_3).await;
    let t = table("iris_rel_rollback");
    create(&mut c, &t).await;
    let mut tx = c.begin().await.unwrap();
    assert!(tx.rolls_back());
    tx.execute(
        &*format!("INSERT INTO {t} (id, name) VALUES ($1, $2)"),
        &[&1i32, &"gone"],
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(count(&mut c, &t).await, 0);
}

#[tokio::test]
async fn an_undeclared_release_is_refused_a_transaction_with_a_message_that_says_how_to_declare_it()
{
    let cfg = config_undeclared(Release::V1_7_3);
    let mut c = connect_with(Release::V1_7_3, cfg).await;
    let e = c.begin().await.expect_err("release unknown");
    assert!(e.is_unsupported(), "{e}");
    assert!(e.to_string().contains("iris_pgwire_version"), "{e}");
    let tx = c.begin_without_rollback().await.unwrap();
    tx.commit().await.unwrap();
}

// ----- COPY and cancel ------------------------------------------------------------------------

#[tokio::test]
async fn copy_from_stdin_and_cancel_are_refused_and_the_connection_stays_usable() {
    for r in BOTH {
        let mut c = connect_release(r).await;
        let t = table("iris_rel_copy");
        create(&mut c, &t).await;
        let e = c
            .copy_in(&format!("COPY {t} (id, name) FROM STDIN"))
            .await
            .expect_err("COPY FROM does not store what it is given");
        assert!(e.is_unsupported(), "{r:?}: {e}");
        let token = c.cancel_token().expect("a cancel key");
        let e = token
            .cancel_query(Duration::from_secs(5))
            .await
            .expect_err("cancel does not work");
        assert!(e.is_unsupported(), "{r:?}: {e}");
        assert_eq!(count(&mut c, &t).await, 0, "{r:?}");
    }
}

// ----- DEALLOCATE / DISCARD -------------------------------------------------------------------

#[tokio::test]
async fn deallocate_and_discard_through_execute_and_query_succeed() {
    for r in BOTH {
        let mut c = connect_release(r).await;
        let t = table("iris_rel_dealloc");
        create(&mut c, &t).await;
        let sql = format!("SELECT COUNT(*) AS n FROM {t} WHERE id > $1");
        let stmt = c.prepare(&sql).await.unwrap();
        for cleanup in ["DEALLOCATE ALL", "DEALLOCATE pgline_nothing", "DISCARD ALL"] {
            c.execute(cleanup, &[])
                .await
                .unwrap_or_else(|e| panic!("{r:?} execute {cleanup}: {e}"));
            c.query(cleanup, &[])
                .await
                .unwrap_or_else(|e| panic!("{r:?} query {cleanup}: {e}"));
        }
        // Inside a transaction too, where ORMs send it after a rollback.
        let tx = c.begin_without_rollback().await.unwrap();
        let mut tx = tx;
        tx.execute("DEALLOCATE ALL", &[]).await.unwrap();
        tx.commit().await.unwrap();
        // Protocol-level statements are not touched by it on iris-pgwire.
        let row = c.query_one(&stmt, &[&0i32]).await.unwrap();
        assert_eq!(row.get::<i64>(0).unwrap(), 0, "{r:?}");
    }
}

// ----- placeholders ---------------------------------------------------------------------------

#[tokio::test]
async fn prepare_of_two_placeholders_takes_two_values() {
    for r in BOTH {
        let mut c = connect_release(r).await;
        let t = table("iris_rel_params");
        create(&mut c, &t).await;
        let ins = c
            .prepare(&format!("INSERT INTO {t} (id, name) VALUES ($1, $2)"))
            .await
            .unwrap();
        assert_eq!(ins.params().len(), 2, "{r:?}");
        c.execute(&ins, &[&5i32, &"five"]).await.unwrap();
        let sel = c
            .prepare(&format!("SELECT name FROM {t} WHERE id = $2 AND name = $1"))
            .await
            .unwrap();
        assert_eq!(sel.params().len(), 2, "{r:?}");
        let row = c.query_one(&sel, &[&"five", &5i32]).await.unwrap();
        assert_eq!(row.get::<&str>(0).unwrap(), "five", "{r:?}");
    }
}

// ----- SQLCODE --------------------------------------------------------------------------------

#[tokio::test]
async fn a_unique_violation_maps_to_23505_with_sqlcode_minus_119_visible() {
    for (r, server_code) in [(Release::V1_7_3, "23505"), (Release::V1_0_1, "42000")] {
        let mut c = connect_release(r).await;
        let t = table("iris_rel_unique");
        create(&mut c, &t).await;
        let ins = format!("INSERT INTO {t} (id, name) VALUES ($1, $2)");
        c.execute(&*ins, &[&1i32, &"a"]).await.unwrap();
        let e = c.execute(&*ins, &[&1i32, &"b"]).await.unwrap_err();
        let db = e.as_db_error().unwrap_or_else(|| panic!("{r:?}: {e}"));
        assert_eq!(db.code(), server_code, "{r:?}: the server's own code stays");
        assert_eq!(db.iris_sqlcode(), Some(-119), "{r:?}");
        assert_eq!(db.sqlstate_mapped(), "23505", "{r:?}");
    }
}

#[tokio::test]
async fn missing_tables_and_columns_and_bad_syntax_map_to_their_postgresql_codes() {
    for r in BOTH {
        let mut c = connect_release(r).await;
        let t = table("iris_rel_codes");
        create(&mut c, &t).await;
        for (sql, sqlcode, state) in [
            (
                "SELECT * FROM pgline_no_such_table".to_owned(),
                -30,
                "42P01",
            ),
            (format!("SELECT no_such_column FROM {t}"), -29, "42703"),
            ("SELEC 1".to_owned(), -1, "42601"),
            (
                format!("INSERT INTO {t} (id, name) VALUES (NULL, 'x')"),
                -108,
                "23502",
            ),
        ] {
            let e = c.simple_query(&sql).await.unwrap_err();
            let db = e
                .as_db_error()
                .unwrap_or_else(|| panic!("{r:?} {sql}: {e}"));
            assert_eq!(
                db.iris_sqlcode(),
                Some(sqlcode),
                "{r:?} {sql}: {}",
                db.message()
            );
            assert_eq!(db.sqlstate_mapped(), state, "{r:?} {sql}");
        }
    }
}

#[tokio::test]
async fn a_foreign_key_violation_the_server_leaves_unclassified_maps_to_23503() {
    let mut c = connect_release(Release::V1_7_3).await;
    let p = table("iris_rel_parent");
    let k = table("iris_rel_child");
    create(&mut c, &p).await;
    c.simple_query(&format!(
        "CREATE TABLE {k} (id INT PRIMARY KEY, p INT REFERENCES {p} (id))"
    ))
    .await
    .unwrap();
    let e = c
        .simple_query(&format!("INSERT INTO {k} (id, p) VALUES (1, 99)"))
        .await
        .unwrap_err();
    let db = e.as_db_error().expect("server error");
    // 1.7.3 does not classify -121: a simple query falls back to 08000, a
    // connection-exception class, for a constraint violation.
    assert_eq!(db.code(), "08000", "{}", db.message());
    assert_eq!(db.iris_sqlcode(), Some(-121), "{}", db.message());
    assert_eq!(db.sqlstate_mapped(), "23503");
}

// ----- column names and the simple-Query path --------------------------------------------------

#[tokio::test]
async fn on_both_releases_a_parameterless_query_names_its_columns_and_a_parameterised_one_says_why_it_cannot(
) {
    for r in BOTH {
        let mut c = connect_release(r).await;
        let t = table("iris_rel_names");
        create(&mut c, &t).await;
        c.execute(
            &*format!("INSERT INTO {t} (id, name) VALUES ($1, $2)"),
            &[&7i32, &"seven"],
        )
        .await
        .unwrap_or_else(|e| panic!("{r:?} insert: {e}"));

        // No parameters: a simple Query, whose RowDescription names the columns.
        let row = c
            .query_one(&*format!("SELECT id, name FROM {t}"), &[])
            .await
            .unwrap_or_else(|e| panic!("{r:?} select: {e}"));
        assert_eq!(row.get::<i32>("id").unwrap(), 7, "{r:?}");
        assert_eq!(row.get::<String>("name").unwrap(), "seven", "{r:?}");
        let one = c.query_one("SELECT 1", &[]).await.unwrap();
        assert_eq!(
            one.get::<i32>(0).unwrap(),
            1,
            "{r:?}: SELECT 1 reads as an integer"
        );

        // With a parameter the rows come without names (a Describe would run it twice):
        // by position works, by name says why not.
        let row = c
            .query_one(
                &*format!("SELECT id, name FROM {t} WHERE id = $1"),
                &[&7i32],
            )
            .await
            .unwrap_or_else(|e| panic!("{r:?} select with a parameter: {e}"));
        assert_eq!(row.get::<String>(1).unwrap(), "seven", "{r:?}");
        let e = row.get::<String>("name").unwrap_err().to_string();
        assert!(e.contains("position"), "{r:?}: {e}");
    }
}
