//! `insert_unnest` against the real server: whole columns bound as arrays, chunked past
//! 100,000 rows, all or nothing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pgline::Connection;

use crate::support::conn::{assert_answers, connect, table};

async fn count(c: &mut Connection, t: &str) -> i64 {
    c.query_one(format!("SELECT count(*) FROM {t}").as_str(), &[])
        .await
        .unwrap()
        .get(0)
        .unwrap()
}

async fn int_table(c: &mut Connection, prefix: &str) -> String {
    let t = table(prefix);
    c.batch_execute(&format!("CREATE TABLE {t} (id int8 PRIMARY KEY)"))
        .await
        .unwrap();
    t
}

#[tokio::test]
async fn ten_thousand_rows_of_mixed_types_and_nulls_read_back_identically() {
    let mut c = connect().await;
    let t = table("un_mixed");
    c.batch_execute(&format!(
        "CREATE TABLE {t} (id int8, name text, score float8, created timestamptz)"
    ))
    .await
    .unwrap();
    let n = 10_000usize;
    let base = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let ids: Vec<i64> = (0..n as i64).collect();
    let names: Vec<Option<String>> = (0..n)
        .map(|i| (i % 7 != 0).then(|| format!("name \"{i}\" é,{{}}")))
        .collect();
    let scores: Vec<Option<f64>> = (0..n)
        .map(|i| (i % 5 != 0).then_some(i as f64 / 3.0))
        .collect();
    let created: Vec<Option<SystemTime>> = (0..n)
        .map(|i| (i % 3 != 0).then(|| base + Duration::from_micros(i as u64 * 1_001)))
        .collect();
    let inserted = c
        .insert_unnest(
            &t,
            &["id", "name", "score", "created"],
            &[&ids, &names, &scores, &created],
        )
        .await
        .unwrap();
    assert_eq!(inserted, n as u64);
    let rows = c
        .query(
            format!("SELECT id, name, score, created FROM {t} ORDER BY id").as_str(),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), n);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.get::<i64>(0).unwrap(), ids[i]);
        assert_eq!(r.get::<Option<String>>(1).unwrap(), names[i]);
        assert_eq!(r.get::<Option<f64>>(2).unwrap(), scores[i]);
        assert_eq!(r.get::<Option<SystemTime>>(3).unwrap(), created[i]);
    }
}

#[tokio::test]
async fn more_rows_than_one_chunk_are_all_inserted_in_order() {
    let mut c = connect().await;
    let t = table("un_chunks");
    c.batch_execute(&format!("CREATE TABLE {t} (id int8, v int4)"))
        .await
        .unwrap();
    let n = 250_001i64;
    let ids: Vec<i64> = (0..n).collect();
    let vs: Vec<i32> = (0..n).map(|i| (i % 1000) as i32).collect();
    let inserted = c
        .insert_unnest(&t, &["id", "v"], &[&ids, &vs])
        .await
        .unwrap();
    assert_eq!(inserted, n as u64);
    let r = c
        .query_one(
            format!("SELECT count(*), sum(id)::int8, sum(v)::int8, count(*) FILTER (WHERE id % 1000 <> v) FROM {t}").as_str(),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<i64>(0).unwrap(), n);
    assert_eq!(r.get::<i64>(1).unwrap(), n * (n - 1) / 2);
    assert_eq!(
        r.get::<i64>(2).unwrap(),
        vs.iter().map(|&v| i64::from(v)).sum::<i64>()
    );
    assert_eq!(r.get::<i64>(3).unwrap(), 0);
}

#[tokio::test]
async fn unequal_column_lengths_are_a_config_error_and_nothing_is_inserted() {
    let mut c = connect().await;
    let t = table("un_unequal");
    c.batch_execute(&format!("CREATE TABLE {t} (id int8, name text)"))
        .await
        .unwrap();
    let ids: Vec<i64> = vec![1, 2, 3];
    let names: Vec<&str> = vec!["a", "b"];
    let e = c
        .insert_unnest(&t, &["id", "name"], &[&ids, &names])
        .await
        .unwrap_err();
    assert!(e.is_config(), "{e}");
    assert_eq!(count(&mut c, &t).await, 0);
    assert_answers(&mut c, 7).await;
}

#[tokio::test]
async fn mismatched_name_and_value_counts_are_a_config_error() {
    let mut c = connect().await;
    let t = int_table(&mut c, "un_names").await;
    let ids: Vec<i64> = vec![1];
    let e = c
        .insert_unnest(&t, &["id", "id"], &[&ids])
        .await
        .unwrap_err();
    assert!(e.is_config(), "{e}");
    assert_eq!(count(&mut c, &t).await, 0);
}

#[tokio::test]
async fn a_unique_violation_fails_the_whole_statement_and_commits_nothing() {
    let mut c = connect().await;
    let t = int_table(&mut c, "un_unique").await;
    let mut ids: Vec<i64> = (0..1000).collect();
    ids[500] = 10;
    let e = c.insert_unnest(&t, &["id"], &[&ids]).await.unwrap_err();
    assert_eq!(e.code(), Some("23505"), "{e}");
    assert_eq!(count(&mut c, &t).await, 0);
    assert_answers(&mut c, 1).await;
}

#[tokio::test]
async fn a_unique_violation_in_a_later_chunk_rolls_back_the_earlier_chunks() {
    let mut c = connect().await;
    let t = int_table(&mut c, "un_unique_late").await;
    let mut ids: Vec<i64> = (0..150_000).collect();
    ids[140_000] = 3;
    let e = c.insert_unnest(&t, &["id"], &[&ids]).await.unwrap_err();
    assert_eq!(e.code(), Some("23505"), "{e}");
    assert_eq!(count(&mut c, &t).await, 0);
    assert_answers(&mut c, 2).await;
}

#[tokio::test]
async fn inside_a_callers_transaction_it_does_not_commit() {
    let mut c = connect().await;
    let t = int_table(&mut c, "un_tx").await;
    let ids: Vec<i64> = (0..150_000).collect();
    {
        let mut tx = c.begin().await.unwrap();
        let n = tx.insert_unnest(&t, &["id"], &[&ids]).await.unwrap();
        assert_eq!(n, 150_000);
        assert_eq!(count(&mut tx, &t).await, 150_000);
        tx.rollback().await.unwrap();
    }
    assert_eq!(count(&mut c, &t).await, 0);
}

#[tokio::test]
async fn empty_columns_insert_nothing() {
    let mut c = connect().await;
    let t = int_table(&mut c, "un_empty").await;
    let ids: Vec<i64> = Vec::new();
    assert_eq!(c.insert_unnest(&t, &["id"], &[&ids]).await.unwrap(), 0);
    assert_eq!(count(&mut c, &t).await, 0);
}

#[tokio::test]
async fn quoted_identifiers_work_and_a_value_the_column_rejects_is_a_conversion_error() {
    let mut c = connect().await;
    let t = table("un_Quoted");
    c.batch_execute(&format!("CREATE TABLE \"{t}\" (\"Mixed Case\" int4)"))
        .await
        .unwrap();
    let quoted = format!("\"{t}\"");
    let ok: Vec<i32> = vec![1, 2];
    assert_eq!(
        c.insert_unnest(&quoted, &["Mixed Case"], &[&ok])
            .await
            .unwrap(),
        2
    );
    // i64 does not fit int4 losslessly: refused before anything is sent.
    let wide: Vec<i64> = vec![3];
    let e = c
        .insert_unnest(&quoted, &["Mixed Case"], &[&wide])
        .await
        .unwrap_err();
    assert!(e.is_conversion(), "{e}");
    assert_eq!(count(&mut c, &quoted).await, 2);
}

#[tokio::test]
async fn an_array_column_of_another_kind_takes_the_encoded_path_across_chunks() {
    // `Array<T>` has no up-front length: every column is then encoded once and cut
    // into chunks (the path for user array types), with the same result.
    let mut c = connect().await;
    let t = table("un_encoded");
    c.batch_execute(&format!("CREATE TABLE {t} (id int8, name text)"))
        .await
        .unwrap();
    let n = 150_001i64;
    let ids = pgline::types::Array::from_vec((0..n).collect::<Vec<i64>>());
    let names: Vec<Option<String>> = (0..n)
        .map(|i| (i % 7 != 0).then(|| format!("n{i}")))
        .collect();
    let inserted = c
        .insert_unnest(&t, &["id", "name"], &[&ids, &names])
        .await
        .unwrap();
    assert_eq!(inserted, n as u64);
    let r = c
        .query_one(
            format!(
                "SELECT count(*), sum(id)::int8, count(name), \
                 count(*) FILTER (WHERE name IS DISTINCT FROM CASE WHEN id % 7 <> 0 THEN 'n' || id END) FROM {t}"
            )
            .as_str(),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<i64>(0).unwrap(), n);
    assert_eq!(r.get::<i64>(1).unwrap(), n * (n - 1) / 2);
    assert_eq!(r.get::<i64>(2).unwrap(), n - (n + 6) / 7);
    assert_eq!(r.get::<i64>(3).unwrap(), 0, "every row as sent");
}
