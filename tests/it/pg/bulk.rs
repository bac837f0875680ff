//! Bulk loads against the real server: execute_many under each atomicity mode, resume,
//! COPY in every format, COPY out, CopyFail, big values.

use pgline::conn::{Atomicity, ExecuteManyOptions, LoadReport, DEFAULT_IO_TICK};
use pgline::types::oid;
use pgline::Connection;
use std::time::Duration;

use crate::support::conn::{assert_answers, backend_pid, connect, table, terminate_backend, Picky};

const N: i32 = 1000;
const BAD: i32 = 500;

/// Rows 0..N with id = i, except row BAD, whose id duplicates row 10.
fn rows(fixed: bool) -> impl Iterator<Item = (i32, String)> {
    (0..N).map(move |i| {
        let id = if i == BAD && !fixed { 10 } else { i };
        (id, format!("v{i}"))
    })
}

async fn ids(c: &mut Connection, t: &str) -> Vec<i32> {
    c.query(format!("SELECT id FROM {t} ORDER BY id").as_str(), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<i32>(0).unwrap())
        .collect()
}

async fn setup(c: &mut Connection, prefix: &str) -> (String, String) {
    let t = table(prefix);
    c.batch_execute(&format!("CREATE TABLE {t} (id int PRIMARY KEY, v text)"))
        .await
        .unwrap();
    let sql = format!("INSERT INTO {t} (id, v) VALUES ($1, $2)");
    (t, sql)
}

/// The report and the table agree row for row.
async fn assert_report_matches_table(c: &mut Connection, t: &str, report: &LoadReport) {
    let got = ids(c, t).await;
    assert_eq!(got.len() as u64, report.rows_committed, "{report}");
    for id in got {
        // Every id in the table is a committed row of the input (id == index here).
        assert!(
            report.is_committed(id as u64),
            "row {id} in the table but not reported committed"
        );
    }
}

#[tokio::test]
async fn unique_violation_under_all_rolls_everything_back_and_says_which_row() {
    let mut c = connect().await;
    let (t, sql) = setup(&mut c, "em_all").await;
    let r = c.execute_many(&sql, rows(false)).await.unwrap();
    assert_eq!(r.failures_total, 1);
    let f = r.first_failure().unwrap();
    assert_eq!(f.index, BAD as u64);
    assert_eq!(f.error.code(), Some("23505"));
    assert_eq!(r.rows_committed, 0);
    assert!(r.committed.is_empty());
    assert_eq!(
        r.rows_done, BAD as u64,
        "rows before the failure ran (then rolled back)"
    );
    assert!(!r.is_complete());
    assert_eq!(r.first_uncommitted(), 0);
    assert!(ids(&mut c, &t).await.is_empty());
    assert!(c.is_idle(), "the connection is reusable");
}

#[tokio::test]
async fn unique_violation_under_batches_fails_only_its_batch() {
    let mut c = connect().await;
    let (t, sql) = setup(&mut c, "em_batch").await;
    let opts = ExecuteManyOptions::with_atomicity(Atomicity::Batches(100));
    let r = c.execute_many_with(&sql, rows(false), opts).await.unwrap();
    assert_eq!(r.failures_total, 1);
    assert_eq!(r.first_failure().unwrap().index, BAD as u64);
    // The failing batch (500..600) is not committed; everything before it is.
    for i in 0..BAD as u64 {
        assert!(r.is_committed(i));
    }
    for i in BAD as u64..600 {
        assert!(!r.is_committed(i));
    }
    assert_eq!(
        r.rows_skipped, 99,
        "the rest of the failing batch was skipped, not run"
    );
    assert_eq!(r.first_uncommitted(), BAD as u64);
    assert_report_matches_table(&mut c, &t, &r).await;
    assert!(c.is_idle());
}

#[tokio::test]
async fn unique_violation_under_each_row_isolates_the_failure() {
    let mut c = connect().await;
    let (t, sql) = setup(&mut c, "em_each").await;
    let opts = ExecuteManyOptions::with_atomicity(Atomicity::EachRow);
    let r = c.execute_many_with(&sql, rows(false), opts).await.unwrap();
    assert_eq!(r.failures_total, 1);
    assert_eq!(r.first_failure().unwrap().index, BAD as u64);
    assert_eq!(r.rows_committed, (N - 1) as u64);
    assert_eq!(r.rows_read, N as u64);
    assert_eq!(r.rows_skipped, 0);
    assert!(!r.is_committed(BAD as u64));
    assert_report_matches_table(&mut c, &t, &r).await;
}

#[tokio::test]
async fn resume_after_a_failure_loads_exactly_the_missing_rows() {
    for atomicity in [Atomicity::All, Atomicity::Batches(100), Atomicity::EachRow] {
        let mut c = connect().await;
        let (t, sql) = setup(&mut c, "em_resume").await;
        let opts = ExecuteManyOptions::with_atomicity(atomicity);
        let first = c.execute_many_with(&sql, rows(false), opts).await.unwrap();
        assert!(!first.is_complete());
        // Fix the bad row and resume from the same input.
        let second = c
            .resume_execute_many(&sql, rows(true), &first, opts)
            .await
            .unwrap();
        assert_eq!(second.failures_total, 0, "{atomicity:?}: {second}");
        assert!(second.is_complete(), "{atomicity:?}: {second}");
        let got = ids(&mut c, &t).await;
        assert_eq!(
            got,
            (0..N).collect::<Vec<_>>(),
            "{atomicity:?}: every row exactly once"
        );
    }
}

#[tokio::test]
async fn a_load_without_failures_commits_everything_in_every_mode() {
    for atomicity in [Atomicity::All, Atomicity::Batches(7), Atomicity::EachRow] {
        let mut c = connect().await;
        let (t, sql) = setup(&mut c, "em_ok").await;
        let r = c
            .execute_many_with(
                &sql,
                rows(true),
                ExecuteManyOptions::with_atomicity(atomicity),
            )
            .await
            .unwrap();
        assert!(r.is_complete(), "{atomicity:?}: {r}");
        assert_eq!(r.committed, vec![0..N as u64]);
        assert_eq!(ids(&mut c, &t).await.len(), N as usize);
    }
}

#[tokio::test]
async fn a_statement_that_returns_rows_is_refused_before_sending_and_the_connection_stays_usable() {
    let mut c = connect().await;
    let (t, _) = setup(&mut c, "em_ret").await;
    let sql = format!("INSERT INTO {t} (id, v) VALUES ($1, $2) RETURNING id");
    let e = c
        .execute_many(&sql, rows(true))
        .await
        .expect_err("RETURNING is refused");
    assert!(e.error.is_config(), "{}", e.error);
    assert!(e.error.to_string().contains("RETURNING"), "{}", e.error);
    assert!(!c.is_broken());
    assert!(ids(&mut c, &t).await.is_empty(), "nothing was sent");
    assert_answers(&mut c, 1).await;
}

#[tokio::test]
async fn a_row_that_cannot_be_encoded_is_reported_and_not_sent() {
    let mut c = connect().await;
    let (t, sql) = setup(&mut c, "em_enc").await;
    let bad = (0..10).map(|i| {
        (
            i,
            if i == 3 {
                "bad\0nul".to_string()
            } else {
                format!("v{i}")
            },
        )
    });
    let opts = ExecuteManyOptions::with_atomicity(Atomicity::EachRow);
    let r = c.execute_many_with(&sql, bad, opts).await.unwrap();
    // A NUL is fine in a bound text value's bytes for the protocol, but PostgreSQL
    // rejects it in text; either way row 3 fails and the others load.
    assert_eq!(r.failures_total, 1, "{r}");
    assert_eq!(r.first_failure().unwrap().index, 3);
    assert_eq!(ids(&mut c, &t).await.len(), 9);
}

#[tokio::test]
async fn a_64_mib_value_round_trips() {
    let mut c = connect().await;
    let big = vec![0xabu8; 64 << 20];
    let r = c
        .query_one("SELECT length($1::bytea), $1::bytea", &[&big])
        .await
        .unwrap();
    assert_eq!(r.get::<i32>(0).unwrap(), 64 << 20);
    assert_eq!(r.get::<&[u8]>(1).unwrap(), &big[..]);
    assert_answers(&mut c, 1).await;
}

#[tokio::test]
async fn copy_in_works_in_text_csv_and_binary_and_copy_out_reads_it_back() {
    let mut c = connect().await;
    let t = table("copy");
    c.batch_execute(&format!(
        "CREATE TEMP TABLE {t} (id int8, name text, score float8)"
    ))
    .await
    .unwrap();

    let mut w = c.copy_in(&format!("COPY {t} FROM STDIN")).await.unwrap();
    w.write(b"1\tone\t1.5\n2\t").await.unwrap();
    w.write(b"\\N\t2.5\n").await.unwrap();
    assert_eq!(w.finish().await.unwrap(), 2);

    let mut w = c
        .copy_in(&format!("COPY {t} FROM STDIN (FORMAT csv)"))
        .await
        .unwrap();
    w.write(b"3,\"th,ree\",3.5\n").await.unwrap();
    assert_eq!(w.finish().await.unwrap(), 1);

    let w = c
        .copy_in(&format!("COPY {t} FROM STDIN (FORMAT binary)"))
        .await
        .unwrap();
    let mut b = w.binary(&[oid::INT8, oid::TEXT, oid::FLOAT8]).unwrap();
    b.write_row(&(4i64, "four", 4.5f64)).await.unwrap();
    b.write_row(&(5i64, None::<&str>, 5.5f64)).await.unwrap();
    assert_eq!(b.finish().await.unwrap(), 2);

    let out = c
        .copy_out(&format!(
            "COPY (SELECT * FROM {t} ORDER BY id) TO STDOUT (FORMAT csv)"
        ))
        .await
        .unwrap()
        .read_all()
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "1,one,1.5\n2,,2.5\n3,\"th,ree\",3.5\n4,four,4.5\n5,,5.5\n"
    );
    assert_answers(&mut c, 9).await;
}

#[tokio::test]
async fn copy_fail_mid_stream_rolls_the_copy_back_and_the_connection_stays_usable() {
    let mut c = connect().await;
    let t = table("copyfail");
    c.batch_execute(&format!("CREATE TEMP TABLE {t} (x int)"))
        .await
        .unwrap();
    let mut w = c.copy_in(&format!("COPY {t} FROM STDIN")).await.unwrap();
    w.write(b"1\n2\n").await.unwrap();
    w.abort("source failed").await.unwrap();
    let n = c
        .query_one(format!("SELECT count(*) FROM {t}").as_str(), &[])
        .await
        .unwrap();
    assert_eq!(n.get::<i64>(0).unwrap(), 0);
    // A dropped COPY is aborted before the next operation, too.
    {
        let mut w = c.copy_in(&format!("COPY {t} FROM STDIN")).await.unwrap();
        w.write(b"3\n").await.unwrap();
    }
    let n = c
        .query_one(format!("SELECT count(*) FROM {t}").as_str(), &[])
        .await
        .unwrap();
    assert_eq!(n.get::<i64>(0).unwrap(), 0);
}

#[tokio::test]
async fn bad_copy_data_is_a_typed_error_and_the_connection_stays_usable() {
    let mut c = connect().await;
    let t = table("copybad");
    c.batch_execute(&format!("CREATE TEMP TABLE {t} (x int)"))
        .await
        .unwrap();
    let mut w = c.copy_in(&format!("COPY {t} FROM STDIN")).await.unwrap();
    w.write(b"1\nnot a number\n").await.unwrap();
    let err = w.finish().await.unwrap_err();
    assert_eq!(err.code(), Some("22P02"));
    assert!(c.is_idle());
}

#[tokio::test]
async fn execute_many_takes_rows_from_a_slow_async_stream() {
    use futures::StreamExt;
    let mut c = connect().await;
    let (t, sql) = setup(&mut c, "em_stream").await;
    // A producer that pauses every 100 rows: the load keeps the socket moving meanwhile.
    let rows = futures::stream::iter(0..N)
        .then(|i| async move {
            if i % 100 == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (i, format!("v{i}"))
        })
        .boxed();
    let r = c
        .execute_many_stream(
            &sql,
            rows,
            ExecuteManyOptions::with_atomicity(Atomicity::Batches(64)),
        )
        .await
        .unwrap();
    assert!(r.is_complete(), "{r}");
    assert_eq!(ids(&mut c, &t).await, (0..N).collect::<Vec<_>>());
    assert!(c.is_idle());
}

#[tokio::test]
async fn a_window_smaller_than_a_batch_still_drains_and_loads_everything() {
    // The rows in flight all belong to one unsynced batch: the server would keep their
    // answers in its output buffer until a Sync, so the client must Flush when it stops
    // at the window, or it waits forever.
    let mut c = connect().await;
    let (t, sql) = setup(&mut c, "bulk_small_window").await;
    let opts = ExecuteManyOptions {
        window_rows: 8,
        window_bytes: 4096,
        ..ExecuteManyOptions::with_atomicity(Atomicity::Batches(100_000))
    };
    let load = c.execute_many_with(&sql, rows(true), opts);
    let report = tokio::time::timeout(Duration::from_secs(30), load)
        .await
        .expect("the load must not stall at its window")
        .unwrap();
    assert!(report.is_complete(), "{report}");
    assert_eq!(ids(&mut c, &t).await.len(), N as usize);
}

#[tokio::test]
async fn execute_many_without_a_statement_cache_leaves_no_statement_on_the_server() {
    let mut cfg = crate::support::conn::config("postgres", None);
    cfg.statement_cache_capacity(0);
    let mut c = Connection::connect(&cfg).await.unwrap();
    let (t, sql) = setup(&mut c, "bulk_nocache").await;
    for _ in 0..3 {
        c.batch_execute(&format!("TRUNCATE {t}")).await.unwrap();
        let report = c.execute_many(&sql, rows(true)).await.unwrap();
        assert!(report.is_complete(), "{report}");
    }
    let r = c
        .simple_query("SELECT count(*) FROM pg_prepared_statements")
        .await
        .unwrap();
    assert_eq!(
        r[0].rows[0].get(0).unwrap(),
        Some("0"),
        "closed after each load"
    );
}

#[tokio::test]
async fn a_failure_answered_before_its_batch_is_closed_still_fails_the_whole_batch() {
    // window_rows 4 inside batches of 100: the Flush at the window lets the server answer
    // rows of a batch whose Sync has not been sent yet. The duplicate at row BAD fails
    // there; the batch must not be reported committed when its Ready arrives.
    let mut c = connect().await;
    let (t, sql) = setup(&mut c, "em_early_fail").await;
    let opts = ExecuteManyOptions {
        window_rows: 4,
        ..ExecuteManyOptions::with_atomicity(Atomicity::Batches(100))
    };
    let r = c.execute_many_with(&sql, rows(false), opts).await.unwrap();
    assert_eq!(r.failures_total, 1, "{r}");
    assert_eq!(r.first_failure().unwrap().index, BAD as u64);
    for i in 0..BAD as u64 {
        assert!(r.is_committed(i), "row {i}: {r}");
    }
    for i in BAD as u64..600 {
        assert!(!r.is_committed(i), "row {i} of the failed batch: {r}");
    }
    assert_eq!(r.rows_committed, BAD as u64);
    assert_report_matches_table(&mut c, &t, &r).await;
    assert!(c.is_idle());
}

#[tokio::test]
async fn a_deferred_failure_at_sync_takes_back_rows_answered_before_the_batch_closed() {
    // A deferred unique constraint fails at the batch's commit (its Sync), after every
    // row of the batch said INSERT 0 1 — some before the Sync was even sent.
    let mut c = connect().await;
    let t = table("em_deferred");
    c.batch_execute(&format!(
        "CREATE TABLE {t} (id int, v text, UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)"
    ))
    .await
    .unwrap();
    let sql = format!("INSERT INTO {t} (id, v) VALUES ($1, $2)");
    let opts = ExecuteManyOptions {
        window_rows: 4,
        ..ExecuteManyOptions::with_atomicity(Atomicity::Batches(100))
    };
    let r = c.execute_many_with(&sql, rows(false), opts).await.unwrap();
    assert_eq!(r.failures_total, 1, "{r}");
    let f = r.first_failure().unwrap();
    assert_eq!(f.error.code(), Some("23505"));
    assert_eq!(
        f.rows,
        BAD as u64..600,
        "the whole batch failed at its commit"
    );
    assert_eq!(r.rows_committed, BAD as u64);
    assert_eq!(
        r.rows_done, BAD as u64,
        "rows of the failed batch are not done, even those answered before its Sync: {r}"
    );
    let got = ids(&mut c, &t).await;
    assert_eq!(got.len(), BAD as usize);
    assert!(c.is_idle());
}

#[tokio::test]
async fn a_byte_window_of_usize_max_limits_by_rows_only_and_reserves_nothing_huge() {
    let mut c = connect().await;
    let (t, sql) = setup(&mut c, "em_huge_window").await;
    let opts = ExecuteManyOptions {
        window_bytes: usize::MAX,
        window_rows: 4,
        ..ExecuteManyOptions::with_atomicity(Atomicity::Batches(100))
    };
    let r = c.execute_many_with(&sql, rows(true), opts).await.unwrap();
    assert!(r.is_complete(), "{r}");
    assert_eq!(ids(&mut c, &t).await.len(), N as usize);
}

#[tokio::test]
async fn windows_of_zero_still_load_one_row_at_a_time() {
    let mut c = connect().await;
    let (t, sql) = setup(&mut c, "em_zero_window").await;
    let opts = ExecuteManyOptions {
        window_bytes: 0,
        window_rows: 0,
        ..ExecuteManyOptions::default()
    };
    let load = c.execute_many_with(&sql, rows(true), opts);
    let r = tokio::time::timeout(Duration::from_secs(30), load)
        .await
        .expect("a zero window must not stall the load")
        .unwrap();
    assert!(r.is_complete(), "{r}");
    assert_eq!(ids(&mut c, &t).await.len(), N as usize);
}

/// Rows 0..n for the `setup` table, with values of varying length.
fn counted_rows(n: i32) -> impl Iterator<Item = (i32, String)> {
    (0..n).map(|i| (i, format!("value {i}")))
}

/// Loads 50,000 rows with the given tick; checks the table holds exactly them and that
/// the socket is event-driven again afterwards.
async fn load_with_tick(c: &mut Connection, tick: Option<Duration>) {
    const ROWS: i32 = 50_000;
    let (t, sql) = setup(c, "em_polled").await;
    let opts = ExecuteManyOptions {
        io_tick: tick,
        ..ExecuteManyOptions::default()
    };
    let r = c
        .execute_many_with(&sql, counted_rows(ROWS), opts)
        .await
        .unwrap();
    assert!(r.is_complete(), "{r}");
    assert_eq!(r.rows_committed, ROWS as u64, "tick {tick:?}");
    assert!(
        !c.is_io_polled(),
        "the socket is event-driven again after the load"
    );
    assert_eq!(ids(c, &t).await, (0..ROWS).collect::<Vec<_>>());
    let lens = c
        .query_one(
            format!("SELECT sum(length(v))::int8 FROM {t}").as_str(),
            &[],
        )
        .await
        .unwrap()
        .get::<i64>(0)
        .unwrap();
    let want: i64 = counted_rows(ROWS).map(|(_, v)| v.len() as i64).sum();
    assert_eq!(lens, want, "tick {tick:?}");
}

#[tokio::test]
async fn polled_event_driven_and_zero_tick_io_load_the_same_rows_and_end_event_driven() {
    let mut c = connect().await;
    // Event-driven (the default), ticks adapting up to 10 ms, a low maximum, and no
    // sleeping at all.
    for tick in [
        None,
        Some(DEFAULT_IO_TICK),
        Some(Duration::from_millis(2)),
        Some(Duration::ZERO),
    ] {
        load_with_tick(&mut c, tick).await;
    }
    assert_answers(&mut c, 7).await;
}

#[tokio::test]
async fn polled_io_over_a_unix_socket_loads_every_row() {
    let dir = crate::support::cluster().socket_dir().display().to_string();
    let mut cfg = crate::support::conn::config("postgres", None);
    cfg.host(dir);
    let mut c = Connection::connect(&cfg).await.unwrap();
    load_with_tick(&mut c, Some(Duration::from_millis(2))).await;
    assert_answers(&mut c, 8).await;
}

#[tokio::test]
async fn a_polled_load_dropped_mid_stream_leaves_a_usable_event_driven_connection() {
    let mut c = connect().await;
    let (t, sql) = setup(&mut c, "em_polled_drop").await;
    {
        // An endless source: the load only ends when its future is dropped.
        let opts = ExecuteManyOptions {
            io_tick: Some(DEFAULT_IO_TICK),
            ..ExecuteManyOptions::default()
        };
        let load = c.execute_many_with(&sql, counted_rows(i32::MAX), opts);
        let r = tokio::time::timeout(Duration::from_millis(500), load).await;
        assert!(r.is_err(), "an endless load ended: {r:?}");
    }
    // Dropped inside the streaming loop, after more than a window of rows: polled.
    assert!(
        c.is_io_polled(),
        "a load of more than a window polls its socket"
    );
    // The next operation drains the abandoned load and goes back to event-driven IO.
    assert_answers(&mut c, 9).await;
    assert!(!c.is_io_polled());
    c.batch_execute("ROLLBACK").await.unwrap();
    assert!(
        ids(&mut c, &t).await.is_empty(),
        "the abandoned load's transaction was rolled back"
    );
}

#[tokio::test]
async fn a_backend_terminated_mid_load_ends_a_polled_load_with_an_error_not_a_hang() {
    let mut c = connect().await;
    let (_, sql) = setup(&mut c, "em_polled_kill").await;
    let pid = backend_pid(&mut c).await;
    let killer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        terminate_backend(pid).await;
    });
    let load = c.execute_many(&sql, counted_rows(i32::MAX));
    let r = tokio::time::timeout(Duration::from_secs(30), load)
        .await
        .expect("a dead server ends the load");
    killer.await.unwrap();
    let e = r.expect_err("the backend was terminated mid-load");
    assert_eq!(e.report.rows_committed, 0, "{}", e.report);
    assert!(c.is_broken());
}

/// Row `slow` sleeps 30 s on the server; every other row inserts at once.
async fn stalled_load(
    atomicity: Atomicity,
    slow: i32,
) -> (Connection, String, pgline::conn::LoadError, i32) {
    let mut cfg = crate::support::conn::config("postgres", None);
    cfg.query_timeout(Some(Duration::from_secs(1)));
    let mut c = Connection::connect(&cfg).await.unwrap();
    let t = table("em_stall");
    c.batch_execute(&format!("CREATE TABLE {t} (id int PRIMARY KEY)"))
        .await
        .unwrap();
    let pid = backend_pid(&mut c).await;
    let sql = format!("INSERT INTO {t} (id) SELECT $1 FROM pg_sleep($2)");
    let rows = (0..N).map(move |i| (i, if i == slow { 30.0f64 } else { 0.0 }));
    let opts = ExecuteManyOptions::with_atomicity(atomicity);
    let err = c
        .execute_many_with(&sql, rows, opts)
        .await
        .expect_err("row `slow` stalls past the deadline");
    (c, t, err, pid)
}

#[tokio::test]
async fn a_bulk_load_stalled_past_its_deadline_is_cancelled_rolled_back_and_the_connection_kept() {
    let (mut c, t, err, pid) = stalled_load(Atomicity::All, BAD).await;
    assert!(err.error.is_timeout(), "{err}");
    assert!(!c.is_broken(), "{err}");
    assert_eq!(err.report.rows_committed, 0, "{err}");
    assert_eq!(err.report.rows_uncertain, 0, "every window answered: {err}");
    assert!(
        ids(&mut c, &t).await.is_empty(),
        "one transaction, rolled back"
    );
    assert_eq!(backend_pid(&mut c).await, pid, "the same backend goes on");
    assert_answers(&mut c, 7).await;
}

#[tokio::test]
async fn a_bulk_load_in_batches_stalled_past_its_deadline_reports_exactly_the_batches_it_committed()
{
    let (mut c, t, err, _) = stalled_load(Atomicity::Batches(100), BAD).await;
    assert!(err.error.is_timeout(), "{err}");
    assert!(!c.is_broken(), "{err}");
    assert_eq!(err.report.rows_uncertain, 0, "{err}");
    assert_eq!(
        err.report.first_uncommitted(),
        BAD as u64,
        "the batches before the stalled one committed: {err}"
    );
    assert_report_matches_table(&mut c, &t, &err.report).await;
    assert_answers(&mut c, 8).await;
}

#[tokio::test]
async fn a_bulk_load_longer_than_the_deadline_is_not_cut_off_while_the_server_keeps_up() {
    let deadline = Duration::from_millis(200);
    let mut cfg = crate::support::conn::config("postgres", None);
    cfg.query_timeout(Some(deadline));
    let mut c = Connection::connect(&cfg).await.unwrap();
    let t = table("em_long");
    c.batch_execute(&format!("CREATE TABLE {t} (id int PRIMARY KEY)"))
        .await
        .unwrap();
    let n = 300_000;
    let sql = format!("INSERT INTO {t} (id) VALUES ($1)");
    let started = std::time::Instant::now();
    let r = c
        .execute_many(&sql, (0..n).map(|i| (i,)))
        .await
        .expect("the deadline bounds each wait for the server, not the load");
    assert!(
        started.elapsed() > deadline,
        "the load must outlast the deadline for this test to mean anything"
    );
    assert!(r.is_complete(), "{r}");
    let count: i64 = c
        .query_one(format!("SELECT count(*) FROM {t}").as_str(), &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(count, i64::from(n));
}

/// Rows `0..n` with id = index, refused where `refused(i)`.
fn picky_rows(n: i32, refused: impl Fn(i32) -> bool) -> impl Iterator<Item = (Picky<i32>, String)> {
    (0..n).map(move |i| {
        (
            Picky {
                v: i,
                refuse: refused(i),
            },
            format!("v{i}"),
        )
    })
}

/// A connection in pooler-safe mode (the unnamed statement, parsed again in each window)
/// straight to the test cluster, with a deadline far above what the loads below need.
async fn pooler_safe_direct() -> Connection {
    let mut cfg = crate::support::conn::config("postgres", None);
    cfg.statement_cache_capacity(0)
        .query_timeout(Some(Duration::from_secs(60)));
    Connection::connect(&cfg).await.unwrap()
}

#[tokio::test]
async fn a_pooler_safe_load_whose_last_rows_cannot_be_encoded_returns_at_once_with_each_row_reported(
) {
    let mut c = pooler_safe_direct().await;
    let (t, sql) = setup(&mut c, "em_ps_tail").await;
    // Each row its own window: the last two windows' rows are refused.
    let opts = ExecuteManyOptions::with_atomicity(Atomicity::EachRow);
    let load = c.execute_many_with(&sql, picky_rows(6, |i| i >= 4), opts);
    let r = tokio::time::timeout(Duration::from_secs(10), load)
        .await
        .expect("a Parse queued for a refused row must still be followed by a Sync")
        .unwrap();
    assert_eq!(r.failures_total, 2, "{r}");
    let failed: Vec<u64> = r.failures.iter().map(|f| f.index).collect();
    assert_eq!(failed, [4, 5], "{r}");
    assert!(r.failures.iter().all(|f| f.error.is_conversion()), "{r}");
    assert_eq!(
        (r.rows_done, r.rows_committed, r.rows_skipped),
        (4, 4, 0),
        "{r}"
    );
    assert_report_matches_table(&mut c, &t, &r).await;
    assert!(c.is_idle(), "the connection is reusable");

    // Under All, a refused row that would open the next window stops the load there.
    c.batch_execute(&format!("TRUNCATE {t}")).await.unwrap();
    let opts = ExecuteManyOptions {
        sync_every: 3,
        ..ExecuteManyOptions::with_atomicity(Atomicity::All)
    };
    let load = c.execute_many_with(&sql, picky_rows(6, |i| i == 3), opts);
    let r = tokio::time::timeout(Duration::from_secs(10), load)
        .await
        .expect("a Parse queued for a refused row must still be followed by a Sync")
        .unwrap();
    assert_eq!(r.failures_total, 1, "{r}");
    assert_eq!(r.first_failure().unwrap().index, 3, "{r}");
    assert_eq!((r.rows_done, r.rows_committed), (3, 0), "{r}");
    assert!(ids(&mut c, &t).await.is_empty());
    assert!(c.is_idle(), "the connection is reusable");
}

#[tokio::test]
async fn a_pooler_safe_parse_that_fails_after_a_refused_row_is_charged_to_the_row_sent_behind_it() {
    let mut c = pooler_safe_direct().await;
    let (t, sql) = setup(&mut c, "em_ps_parse").await;
    let (tx, rx) = futures::channel::mpsc::unbounded();
    let refuse = |i: i32| {
        (
            Picky {
                v: i,
                refuse: i == 1,
            },
            format!("v{i}"),
        )
    };
    tx.unbounded_send(refuse(0)).unwrap();
    let dropper = {
        let t = t.clone();
        tokio::spawn(async move {
            // Once row 0 is in, drop the table: the next window's Parse fails.
            let mut other = connect().await;
            loop {
                let n: i64 = other
                    .query_one(format!("SELECT count(*) FROM {t}").as_str(), &[])
                    .await
                    .unwrap()
                    .get(0)
                    .unwrap();
                if n == 1 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other
                .batch_execute(&format!("DROP TABLE {t}"))
                .await
                .unwrap();
            tx.unbounded_send(refuse(1)).unwrap();
            tx.unbounded_send(refuse(2)).unwrap();
        })
    };
    let opts = ExecuteManyOptions::with_atomicity(Atomicity::EachRow);
    let load = c.execute_many_stream(&sql, rx, opts);
    let r = tokio::time::timeout(Duration::from_secs(20), load)
        .await
        .expect("the load ends")
        .unwrap();
    dropper.await.unwrap();
    // Row 1 is refused by its encoder; row 2 carries the failed Parse (42P01). Each row
    // is reported exactly once.
    let failed: Vec<(u64, Option<&str>)> = r
        .failures
        .iter()
        .map(|f| (f.index, f.error.code()))
        .collect();
    assert_eq!(failed, [(1, None), (2, Some("42P01"))], "{r}");
    assert_eq!(r.failures_total, 2, "{r}");
    assert_eq!((r.rows_committed, r.rows_skipped), (1, 0), "{r}");
    assert!(c.is_idle(), "the connection is reusable");
}
