//! Through a real PgBouncer 1.18 in transaction pooling mode, with a pool of one server
//! connection (see `support::pgbouncer`): what works in pgline's pooler-safe mode
//! (`statement_cache_capacity=0`), and the hint the default mode's errors carry.
//!
//! Every client of the shared PgBouncer here is in pooler-safe mode, so its one server
//! connection never holds a named statement; the tests of the default mode start a
//! PgBouncer of their own.

use std::process::Command;

use pgline::conn::{Atomicity, ExecuteManyOptions};
use pgline::Connection;

use crate::support::conn::{connect, table};
use crate::support::pgbouncer::{pgbouncer, PgBouncerOptions, TempPgBouncer, TRUST_USER};

/// A connection through `b`, with `extra` URL parameters.
async fn through(b: &TempPgBouncer, extra: &str) -> Connection {
    let url = b.url(TRUST_USER, "postgres", extra);
    Connection::connect_str(&url)
        .await
        .unwrap_or_else(|e| panic!("connect through pgbouncer ({url}): {e}"))
}

/// A connection in pooler-safe mode through the shared PgBouncer.
async fn pooler_safe() -> Connection {
    through(pgbouncer(), "statement_cache_capacity=0").await
}

/// A PgBouncer of the test's own (transaction mode, one server connection), for the
/// tests that leave named statements on its server connection.
fn own_bouncer() -> TempPgBouncer {
    let s = crate::support::server();
    TempPgBouncer::start(s.host(), s.port(), &PgBouncerOptions::default())
        .unwrap_or_else(|e| panic!("could not start PgBouncer: {e}"))
}

/// Creates `t (id int8 PRIMARY KEY, v text)` through `c`.
async fn create_table(c: &mut Connection, prefix: &str) -> String {
    let t = table(prefix);
    c.batch_execute(&format!("CREATE TABLE {t} (id int8 PRIMARY KEY, v text)"))
        .await
        .unwrap();
    t
}

/// `count(*)` and `sum(id)` of `t`, read on a direct connection.
async fn count_and_sum(t: &str) -> (i64, i64) {
    let r = connect()
        .await
        .query_one(
            format!("SELECT count(*), coalesce(sum(id), 0)::int8 FROM {t}").as_str(),
            &[],
        )
        .await
        .unwrap();
    (r.get(0).unwrap(), r.get(1).unwrap())
}

fn pgline_load(url: &str, t: &str, mode: &str, file: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pgline"))
        .args(["load", "--url", url, "--table", t, "--mode", mode, file])
        .env_remove("DATABASE_URL")
        .output()
        .expect("run pgline")
}

fn csv_file(rows: std::ops::Range<i64>) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let p = std::env::temp_dir().join(format!(
        "pgline-bouncer-{}-{}.csv",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let text: String = rows.map(|i| format!("{i},row {i}\n")).collect();
    std::fs::write(&p, text).unwrap();
    p
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test]
async fn two_clients_share_the_one_server_connection_of_the_pool() {
    let mut a = pooler_safe().await;
    let mut b = pooler_safe().await;
    let pid = |rows: Vec<pgline::Row>| -> i32 { rows[0].get(0).unwrap() };
    let pa = pid(a.query("SELECT pg_backend_pid()", &[]).await.unwrap());
    let pb = pid(b.query("SELECT pg_backend_pid()", &[]).await.unwrap());
    // Both clients are connected at once, yet run on the same backend: transaction pooling.
    assert_eq!(pa, pb, "log:\n{}", pgbouncer().log());
}

#[tokio::test]
async fn two_consecutive_cli_loads_through_pgbouncer_both_succeed_in_pooler_safe_mode() {
    let url = pgbouncer().url(TRUST_USER, "postgres", "statement_cache_capacity=0");
    let mut c = pooler_safe().await;
    let t = create_table(&mut c, "bnc_cli").await;
    for (k, mode) in ["pipeline", "pipeline", "copy", "auto"].iter().enumerate() {
        let start = i64::try_from(k).unwrap() * 1000;
        let f = csv_file(start..start + 1000);
        let out = pgline_load(&url, &t, mode, f.to_str().unwrap());
        let _ = std::fs::remove_file(&f);
        assert!(
            out.status.success(),
            "load {k} ({mode}): {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert!(text(&out.stdout).starts_with("loaded 1000 rows in "));
    }
    assert_eq!(count_and_sum(&t).await, (4000, (0..4000).sum()));
}

#[tokio::test]
async fn the_second_cli_load_in_the_default_mode_fails_with_the_pooler_hint() {
    // The finding of issue 17: every connection names its statements from pgline_s1 up,
    // and PgBouncer hands the next client the server connection that still has them.
    let b = own_bouncer();
    let url = b.url(TRUST_USER, "postgres", "");
    let mut c = through(&b, "statement_cache_capacity=0").await;
    let t = create_table(&mut c, "bnc_cli_default").await;
    let f = csv_file(0..100);
    let first = pgline_load(&url, &t, "pipeline", f.to_str().unwrap());
    assert!(first.status.success(), "{}", text(&first.stderr));
    let second = pgline_load(&url, &t, "pipeline", f.to_str().unwrap());
    let _ = std::fs::remove_file(&f);
    let stderr = text(&second.stderr);
    assert!(!second.status.success(), "{}", text(&second.stdout));
    assert!(stderr.contains("42P05"), "{stderr}");
    assert!(
        stderr.contains("transaction-pooling PgBouncer")
            && stderr.contains("statement_cache_capacity=0"),
        "the error carries the hint: {stderr}"
    );
    assert_eq!(count_and_sum(&t).await.0, 100, "only the first load landed");
}

#[tokio::test]
async fn a_colliding_statement_in_the_default_mode_names_the_pooler_and_the_fix() {
    let b = own_bouncer();
    let mut a = through(&b, "").await;
    let mut c = through(&b, "").await;
    // `a` names its statement pgline_s1 on the one server connection; `c` names its own
    // the same, and lands on the same server connection.
    let _kept = a.prepare("SELECT 1").await.unwrap();
    let e = c.prepare("SELECT 2").await.unwrap_err();
    assert_eq!(e.code(), Some("42P05"), "{e}");
    let shown = e.to_string();
    assert!(shown.contains("pgline_s1"), "{shown}");
    assert!(
        shown.contains("HINT: this looks like a transaction-pooling PgBouncer")
            && shown.contains("statement_cache_capacity=0"),
        "{shown}"
    );
    // The same client in pooler-safe mode prepares fine on that server connection.
    let mut safe = through(&b, "statement_cache_capacity=0").await;
    let s = safe.prepare("SELECT 2").await.unwrap();
    assert_eq!(
        safe.query_one(&s, &[])
            .await
            .unwrap()
            .get::<i32>(0)
            .unwrap(),
        2
    );
}

#[tokio::test]
async fn a_vanished_statement_error_carries_the_pooler_hint() {
    // A named statement removed behind the client's back (here by DEALLOCATE, behind a
    // pooler by a change of server connection) fails with 26000 and the hint.
    let mut c = connect().await;
    let s = c.prepare("SELECT $1::int4 + 1").await.unwrap();
    c.batch_execute("DEALLOCATE ALL").await.unwrap();
    let e = c.query_one(&s, &[&1i32]).await.unwrap_err();
    assert_eq!(e.code(), Some("26000"), "{e}");
    let shown = e.to_string();
    assert!(
        shown.contains("does not exist")
            && shown.contains("HINT: this looks like a transaction-pooling PgBouncer")
            && shown.contains("statement_cache_capacity=0"),
        "{shown}"
    );
}

#[tokio::test]
async fn prepared_style_queries_work_in_pooler_safe_mode_and_leave_no_named_statement() {
    let mut c = pooler_safe().await;
    let mut other = pooler_safe().await;
    let s = c
        .prepare("SELECT $1::int8 * 2 AS twice, $2::text || '!' AS shout")
        .await
        .unwrap();
    assert_eq!(
        s.params(),
        &[pgline::types::oid::INT8, pgline::types::oid::TEXT]
    );
    assert_eq!(s.columns()[0].name(), "twice");
    for i in 0..20i64 {
        // Another client runs its own unnamed statement on the same server connection
        // between this client's runs of the prepared one.
        let r = other
            .query_one("SELECT $1::int4 - 1", &[&i32::try_from(i).unwrap()])
            .await
            .unwrap();
        assert_eq!(r.get::<i32>(0).unwrap(), i32::try_from(i).unwrap() - 1);
        let row = c.query_one(&s, &[&i, &"hey"]).await.unwrap();
        assert_eq!(row.get::<i64>("twice").unwrap(), 2 * i);
        assert_eq!(row.get::<&str>("shout").unwrap(), "hey!");
    }
    let rows = c
        .query("SELECT g FROM generate_series(1, $1::int4) AS g", &[&5i32])
        .await
        .unwrap();
    assert_eq!(rows.len(), 5);
    assert_eq!(
        c.query_opt("SELECT 1 WHERE $1::bool", &[&false])
            .await
            .unwrap()
            .map(|_| ()),
        None
    );
    let n = c
        .execute("SELECT g FROM generate_series(1, 3) AS g", &[])
        .await
        .unwrap();
    assert_eq!(n, Some(3));
    let mut stream = c.query_stream(&s, &[&21i64, &"x"], 0).await.unwrap();
    let row = stream.next().await.unwrap().unwrap();
    assert_eq!(row.get::<i64>(0).unwrap(), 42);
    assert!(stream.next().await.unwrap().is_none());
    drop(stream);
    s.close(&mut c).await.unwrap();
    assert_eq!(c.cached_statements(), 0);
    let named: i64 = c
        .query_one("SELECT count(*) FROM pg_prepared_statements", &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(named, 0, "nothing named on the shared server connection");
}

#[tokio::test]
async fn execute_many_of_100000_rows_lands_every_row_through_pgbouncer() {
    const N: i64 = 100_000;
    for atomicity in [Atomicity::All, Atomicity::Batches(1000)] {
        let mut c = pooler_safe().await;
        let t = create_table(&mut c, "bnc_em").await;
        let sql = format!("INSERT INTO {t} (id, v) VALUES ($1, $2)");
        let rows = (0..N).map(|i| (i, format!("row {i}")));
        let r = c
            .execute_many_with(&sql, rows, ExecuteManyOptions::with_atomicity(atomicity))
            .await
            .unwrap_or_else(|e| panic!("{atomicity:?}: {e}"));
        assert!(r.is_complete(), "{atomicity:?}: {r}");
        assert_eq!(count_and_sum(&t).await, (N, (0..N).sum()), "{atomicity:?}");
        // And again on the same connection: nothing named is left to collide.
        let more = (N..N + 10).map(|i| (i, format!("row {i}")));
        let r = c.execute_many(&sql, more).await.unwrap();
        assert!(r.is_complete(), "{atomicity:?}: {r}");
        assert_eq!(count_and_sum(&t).await.0, N + 10, "{atomicity:?}");
    }
}

#[tokio::test]
async fn consecutive_execute_many_loads_on_fresh_connections_both_succeed() {
    let mut c = pooler_safe().await;
    let t = create_table(&mut c, "bnc_em2").await;
    let sql = format!("INSERT INTO {t} (id, v) VALUES ($1, $2)");
    for k in 0..3i64 {
        // A new client each time, as `pgline load` runs: the server connection is the same.
        let mut fresh = pooler_safe().await;
        let rows = (k * 1000..(k + 1) * 1000).map(|i| (i, format!("row {i}")));
        let r = fresh.execute_many(&sql, rows).await.unwrap();
        assert!(r.is_complete(), "load {k}: {r}");
    }
    assert_eq!(count_and_sum(&t).await, (3000, (0..3000).sum()));
}

#[tokio::test]
async fn batched_loads_of_several_clients_interleave_on_one_server_connection() {
    // Each client's windows run on the one server connection between the other clients'
    // windows, each with a different statement: a window that did not parse its own
    // statement again would run another client's INSERT (or none).
    const N: i64 = 20_000;
    let mut setup = pooler_safe().await;
    let mut tables = Vec::new();
    for _ in 0..3 {
        tables.push(create_table(&mut setup, "bnc_il").await);
    }
    let tasks: Vec<_> = tables
        .iter()
        .enumerate()
        .map(|(k, t)| {
            let sql = format!("INSERT INTO {t} (id, v) VALUES ($1, $2 || ' {k}')");
            tokio::spawn(async move {
                let mut c = pooler_safe().await;
                let opts = ExecuteManyOptions {
                    window_rows: 256,
                    ..ExecuteManyOptions::with_atomicity(Atomicity::Batches(100))
                };
                let rows = (0..N).map(|i| (i, format!("row {i}")));
                c.execute_many_with(&sql, rows, opts).await
            })
        })
        .collect();
    for (k, task) in tasks.into_iter().enumerate() {
        let r = task
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("client {k}: {e}"));
        assert!(r.is_complete(), "client {k}: {r}");
    }
    for (k, t) in tables.iter().enumerate() {
        assert_eq!(count_and_sum(t).await, (N, (0..N).sum()), "client {k}");
        let wrong: i64 = connect()
            .await
            .query_one(
                format!("SELECT count(*) FROM {t} WHERE v <> 'row ' || id || ' {k}'").as_str(),
                &[],
            )
            .await
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(wrong, 0, "client {k}: every row by its own statement");
    }
}

#[tokio::test]
async fn several_clients_interleave_prepared_queries_on_a_pool_of_one() {
    let tasks: Vec<_> = (0..4i64)
        .map(|k| {
            tokio::spawn(async move {
                let mut c = pooler_safe().await;
                // A different statement per client, prepared once, run many times.
                let s = c
                    .prepare(&format!("SELECT $1::int8 * {}, $2::text", k + 2))
                    .await
                    .unwrap();
                for i in 0..200i64 {
                    let label = format!("{k}/{i}");
                    let row = c.query_one(&s, &[&i, &label]).await.unwrap();
                    assert_eq!(row.get::<i64>(0).unwrap(), i * (k + 2));
                    assert_eq!(row.get::<&str>(1).unwrap(), label);
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn copy_in_and_out_work_through_pgbouncer() {
    const N: i64 = 50_000;
    let mut c = pooler_safe().await;
    let t = create_table(&mut c, "bnc_copy").await;
    let mut copy = c
        .copy_in(&format!("COPY {t} (id, v) FROM STDIN (FORMAT csv)"))
        .await
        .unwrap();
    let data: String = (0..N).map(|i| format!("{i},row {i}\n")).collect();
    for chunk in data.as_bytes().chunks(64 * 1024) {
        copy.write(chunk).await.unwrap();
    }
    assert_eq!(copy.finish().await.unwrap(), u64::try_from(N).unwrap());
    assert_eq!(count_and_sum(&t).await, (N, (0..N).sum()));
    let out = c
        .copy_out(&format!(
            "COPY (SELECT id, v FROM {t} ORDER BY id) TO STDOUT (FORMAT csv)"
        ))
        .await
        .unwrap()
        .read_all()
        .await
        .unwrap();
    assert_eq!(text(&out), data);
}

#[tokio::test]
async fn the_pipeline_api_and_insert_unnest_work_through_pgbouncer() {
    let mut c = pooler_safe().await;
    let t = create_table(&mut c, "bnc_pl").await;
    let ins = c
        .prepare(&format!("INSERT INTO {t} (id, v) VALUES ($1, $2)"))
        .await
        .unwrap();
    let sel = c
        .prepare(&format!("SELECT v FROM {t} WHERE id = $1"))
        .await
        .unwrap();
    // Outside a transaction block: one Sync window at a time. A window is read to its
    // end before the next starts (the pooler may then give it another server connection).
    let mut p = c.pipeline().await.unwrap();
    p.query(&ins, &[&1i64, &"one"]).unwrap();
    p.query(&sel, &[&1i64]).unwrap();
    p.sync().unwrap();
    let refused = p.query(&ins, &[&2i64, &"two"]).unwrap_err();
    assert!(refused.to_string().contains("pooler-safe"), "{refused}");
    assert_eq!(
        p.next_result().await.unwrap().unwrap().rows_affected,
        Some(1)
    );
    let one = p.next_result().await.unwrap().unwrap();
    assert_eq!(one.rows[0].get::<&str>(0).unwrap(), "one");
    // The first window was read to its end: the next one may start.
    p.query(&ins, &[&2i64, &"two"]).unwrap();
    p.query_sql(&format!("SELECT count(*) FROM {t}"), &[])
        .unwrap();
    p.query(&sel, &[&2i64]).unwrap();
    let out: Vec<_> = p
        .finish()
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(out[0].rows_affected, Some(1));
    assert_eq!(out[1].rows[0].get::<String>(0).unwrap(), "2");
    assert_eq!(out[2].rows[0].get::<&str>(0).unwrap(), "two");

    // Inside a transaction the server connection stays this client's: windows pipeline.
    c.batch_execute("BEGIN").await.unwrap();
    let mut p = c.pipeline().await.unwrap();
    p.query(&ins, &[&3i64, &"three"]).unwrap();
    p.sync().unwrap();
    p.query(&ins, &[&4i64, &"four"]).unwrap();
    p.sync().unwrap();
    p.query(&sel, &[&4i64]).unwrap();
    // A window that ends the transaction ends idle, where the pooler may switch: the
    // next window waits until it was read, although the last status said "in a block".
    p.query_sql("COMMIT", &[]).unwrap();
    p.sync().unwrap();
    let refused = p.query(&sel, &[&3i64]).unwrap_err();
    assert!(refused.to_string().contains("pooler-safe"), "{refused}");
    let out: Vec<_> = p
        .finish()
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(out.len(), 4);
    assert_eq!(out[2].rows[0].get::<&str>(0).unwrap(), "four");

    let ids: Vec<i64> = (10..5010).collect();
    let vs: Vec<String> = ids.iter().map(|i| format!("u{i}")).collect();
    let n = c
        .insert_unnest(&t, &["id", "v"], &[&ids, &vs])
        .await
        .unwrap();
    assert_eq!(n, 5000);
    assert_eq!(
        count_and_sum(&t).await,
        (5004, 1 + 2 + 3 + 4 + (10..5010).sum::<i64>())
    );
}
