//! Parallel loads against the real server: the same table whatever the number of
//! connections, failures named by global row number, the refused atomicity mode, a
//! worker whose backend is terminated mid-load, and `--jobs` through the CLI.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use pgline::conn::{
    execute_many_parallel, load_parallel, Atomicity, Connections, ExecuteManyOptions, LoadMode,
    ParallelOptions, ParallelReport,
};
use pgline::pool::{Pool, PoolConfig};
use pgline::Connection;

use crate::support::conn::{config, connect, table, Picky};

const ROWS: i64 = 20_000;

/// Row `i`: id `i` (or `dup_of` for the rows in `bad`), a value that depends on `i`.
fn rows(bad: &[i64]) -> impl Iterator<Item = (i64, String, f64)> + '_ {
    (0..ROWS).map(move |i| {
        let id = if bad.contains(&i) { 7 } else { i };
        (id, format!("row {i}"), i as f64 * 0.5)
    })
}

async fn create(c: &mut Connection, prefix: &str) -> String {
    let t = table(prefix);
    c.batch_execute(&format!(
        "CREATE TABLE {t} (id int8 PRIMARY KEY, v text NOT NULL, f float8)"
    ))
    .await
    .unwrap();
    t
}

fn insert(t: &str) -> String {
    format!("INSERT INTO {t} (id, v, f) VALUES ($1, $2, $3)")
}

/// An order-sensitive checksum of the whole table, and its row count.
async fn checksum(c: &mut Connection, t: &str) -> (i64, String) {
    let r = c
        .query_one(
            format!(
                "SELECT count(*), coalesce(md5(string_agg(id || '|' || v || '|' || f, ',' \
                 ORDER BY id)), '') FROM {t}"
            )
            .as_str(),
            &[],
        )
        .await
        .unwrap();
    (r.get(0).unwrap(), r.get(1).unwrap())
}

/// The ids in the table.
async fn ids(c: &mut Connection, t: &str) -> Vec<i64> {
    c.query(format!("SELECT id FROM {t} ORDER BY id").as_str(), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<i64>(0).unwrap())
        .collect()
}

/// The report's committed rows are exactly the table's (ids equal row numbers here).
async fn assert_report_is_the_table(c: &mut Connection, t: &str, r: &ParallelReport) {
    let got = ids(c, t).await;
    assert_eq!(got.len() as u64, r.load.rows_committed, "{r}");
    for id in got {
        assert!(
            r.load.is_committed(id as u64),
            "row {id} in the table, not in {r}"
        );
    }
    let per_chunk: u64 = r.chunks.iter().map(|c| c.rows_committed).sum();
    assert_eq!(
        per_chunk, r.load.rows_committed,
        "chunks and total disagree: {r}"
    );
}

fn opts(jobs: usize, atomicity: Atomicity) -> ParallelOptions {
    ParallelOptions {
        // Small chunks, so that every connection runs several.
        chunk_rows: 1_500,
        ..ParallelOptions::new(jobs, atomicity)
    }
}

#[tokio::test]
async fn one_two_and_four_connections_load_the_same_table_as_one_connection() {
    let mut c = connect().await;
    let single = create(&mut c, "par_single").await;
    let r = c.execute_many(&insert(&single), rows(&[])).await.unwrap();
    assert!(r.is_complete(), "{r}");
    let expected = checksum(&mut c, &single).await;
    assert_eq!(expected.0, ROWS);

    let cfg = config("postgres", None);
    for jobs in [1, 2, 4] {
        for atomicity in [Atomicity::Batches(500), Atomicity::EachRow] {
            let t = create(&mut c, "par_em").await;
            let r = execute_many_parallel(
                Connections::Open(&cfg),
                &insert(&t),
                rows(&[]),
                opts(jobs, atomicity),
            )
            .await
            .unwrap();
            assert!(r.is_complete(), "{jobs} jobs, {atomicity:?}: {r}");
            assert_eq!(r.load.committed, vec![0..ROWS as u64]);
            assert_eq!(
                checksum(&mut c, &t).await,
                expected,
                "{jobs} jobs, {atomicity:?}"
            );
            if jobs > 1 {
                let used: std::collections::BTreeSet<usize> =
                    r.chunks.iter().map(|c| c.connection).collect();
                assert_eq!(used.len(), jobs, "every connection took chunks: {r}");
                // Chunks tile the input in order, each a whole number of batches.
                let mut next = 0;
                for ch in &r.chunks {
                    assert_eq!(ch.rows.start, next, "{:?}", r.chunks);
                    next = ch.rows.end;
                }
                assert_eq!(next, ROWS as u64);
            }
        }
        // load: binary COPY, one COPY per batch.
        let t = create(&mut c, "par_load").await;
        let r = load_parallel(
            Connections::Open(&cfg),
            &t,
            &["id", "v", "f"],
            rows(&[]),
            LoadMode::Auto,
            opts(jobs, Atomicity::Batches(700)),
        )
        .await
        .unwrap();
        assert!(r.is_complete(), "{jobs} jobs: {r}");
        assert_eq!(r.load.method, pgline::conn::LoadMethod::CopyBinary);
        assert_eq!(checksum(&mut c, &t).await, expected, "load, {jobs} jobs");
    }
}

#[tokio::test]
async fn failed_rows_in_different_chunks_are_named_by_their_global_row_numbers() {
    let bad = [1_234i64, 7_777, 15_001];
    let mut c = connect().await;
    let single = create(&mut c, "par_fail1").await;
    let one = c
        .execute_many_with(
            &insert(&single),
            rows(&bad),
            ExecuteManyOptions::with_atomicity(Atomicity::EachRow),
        )
        .await
        .unwrap();
    let one_failed: Vec<u64> = one.failures.iter().map(|f| f.index).collect();
    assert_eq!(one_failed, vec![1_234, 7_777, 15_001]);
    let expected = checksum(&mut c, &single).await;

    let cfg = config("postgres", None);
    for jobs in [2, 4] {
        let t = create(&mut c, "par_failn").await;
        let r = execute_many_parallel(
            Connections::Open(&cfg),
            &insert(&t),
            rows(&bad),
            opts(jobs, Atomicity::EachRow),
        )
        .await
        .unwrap();
        let failed: Vec<u64> = r.load.failures.iter().map(|f| f.index).collect();
        assert_eq!(failed, one_failed, "{jobs} jobs: {r}");
        assert!(r
            .load
            .failures
            .iter()
            .all(|f| f.error.code() == Some("23505") && f.rows.end == f.index + 1));
        assert_eq!(r.load.rows_committed, ROWS as u64 - 3);
        assert_eq!(r.load.failures_total, 3);
        // The three failures sit in three different chunks.
        let failing_chunks = r.chunks.iter().filter(|c| c.failures > 0).count();
        assert_eq!(failing_chunks, 3, "{:?}", r.chunks);
        assert_eq!(checksum(&mut c, &t).await, expected, "{jobs} jobs");
        assert_report_is_the_table(&mut c, &t, &r).await;
    }

    // Batches: the failing batches roll back whole; what committed is exactly reported,
    // and every row not committed can be accounted for.
    let t = create(&mut c, "par_failb").await;
    let r = execute_many_parallel(
        Connections::Open(&cfg),
        &insert(&t),
        rows(&bad),
        opts(3, Atomicity::Batches(500)),
    )
    .await
    .unwrap();
    assert!(r.load.failures_total >= 1, "{r}");
    let first = r.load.first_failure().unwrap();
    assert!(bad.contains(&(first.index as i64)), "{r}");
    assert_eq!(
        first.index, 1_234,
        "the first bad row is the first failure: {r}"
    );
    // Its batch (rows 1000..1500) is not committed, the rows before it are.
    assert!(!r.load.is_committed(1_000) && !r.load.is_committed(1_499));
    assert!(r.load.is_committed(0) && r.load.is_committed(999));
    assert_report_is_the_table(&mut c, &t, &r).await;
}

#[tokio::test]
async fn all_or_nothing_across_connections_is_refused_with_a_config_error() {
    let mut c = connect().await;
    let t = create(&mut c, "par_all").await;
    let cfg = config("postgres", None);
    let e = execute_many_parallel(
        Connections::Open(&cfg),
        &insert(&t),
        rows(&[]),
        ParallelOptions::new(2, Atomicity::All),
    )
    .await
    .unwrap_err();
    assert!(e.error.is_config(), "{e}");
    let msg = e.error.to_string();
    assert!(
        msg.contains("Atomicity::All") && msg.contains("two-phase commit"),
        "{msg}"
    );
    assert_eq!(e.report.load.rows_read, 0);
    assert_eq!(checksum(&mut c, &t).await.0, 0, "nothing was sent");

    // COPY cannot isolate rows.
    let e = load_parallel(
        Connections::Open(&cfg),
        &t,
        &["id", "v", "f"],
        rows(&[]),
        LoadMode::Copy,
        ParallelOptions::new(2, Atomicity::EachRow),
    )
    .await
    .unwrap_err();
    assert!(e.error.is_config(), "{e}");

    // One connection is today's load, All included.
    let r = execute_many_parallel(
        Connections::Open(&cfg),
        &insert(&t),
        rows(&[]),
        ParallelOptions::new(1, Atomicity::All),
    )
    .await
    .unwrap();
    assert!(r.is_complete(), "{r}");
    assert_eq!(checksum(&mut c, &t).await.0, ROWS);
}

/// The backend of the worker that inserts row `SLOW` sleeps in a trigger until the test
/// terminates it.
#[tokio::test]
async fn a_worker_terminated_mid_load_is_reported_exactly_and_the_pool_discards_it() {
    const SLOW: i64 = 9_100;
    let mut c = connect().await;
    let t = create(&mut c, "par_kill").await;
    c.batch_execute(&format!(
        "CREATE FUNCTION {t}_slow() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN IF NEW.id = {SLOW} THEN PERFORM pg_sleep(60); END IF; RETURN NEW; END $$; \
         CREATE TRIGGER {t}_slow BEFORE INSERT ON {t} FOR EACH ROW EXECUTE FUNCTION {t}_slow()"
    ))
    .await
    .unwrap();
    let pool = Pool::new(PoolConfig::new(config("postgres", None)).max_size(2)).unwrap();

    let killer = async {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut watcher = connect().await;
        loop {
            assert!(Instant::now() < deadline, "the slow row never started");
            let pids = watcher
                .query(
                    "SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep' \
                     AND query LIKE $1",
                    &[&format!("INSERT INTO {t} %")],
                )
                .await
                .unwrap();
            if let Some(row) = pids.first() {
                let pid: i32 = row.get(0).unwrap();
                watcher
                    .query("SELECT pg_terminate_backend($1)", &[&pid])
                    .await
                    .unwrap();
                return pid;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let sql = insert(&t);
    let load = execute_many_parallel(
        Connections::Pool(&pool),
        &sql,
        rows(&[]),
        opts(2, Atomicity::Batches(100)),
    );
    let (r, killed) = tokio::join!(load, killer);
    let e = r.unwrap_err();
    assert!(
        e.error.code() == Some("57P01") || e.error.breaks_connection(),
        "{e}"
    );
    let r = e.report;

    // The chunk that held the slow row ended with the error; its rows before the slow
    // row's batch are committed, the batch in flight is uncertain, nothing else is.
    let hit: Vec<_> = r.chunks.iter().filter(|c| c.error.is_some()).collect();
    assert_eq!(hit.len(), 1, "{:?}", r.chunks);
    let hit = hit[0];
    assert!(hit.rows.contains(&(SLOW as u64)), "{hit:?}");
    assert!(
        hit.rows_uncertain >= 100,
        "the slow row's batch is uncertain: {hit:?}"
    );
    assert_eq!(r.load.rows_uncertain, hit.rows_uncertain);
    assert!(
        r.load.is_committed(9_099) && !r.load.is_committed(SLOW as u64),
        "{r}"
    );
    assert_eq!(r.load.failures_total, 0, "{r}");
    // Every row read is committed or uncertain: nothing silently lost.
    assert_eq!(
        r.load.rows_committed + r.load.rows_uncertain,
        r.load.rows_read,
        "{r}"
    );
    assert_report_is_the_table(&mut c, &t, &r).await;

    // The pool discarded the terminated connection: two live ones, neither the killed.
    let mut a = pool.get().await.unwrap();
    let mut b = pool.get().await.unwrap();
    for p in [&mut a, &mut b] {
        let pid: i32 = p
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        assert_ne!(pid, killed);
    }
    drop((a, b));

    // Resuming on one connection runs exactly the rows not committed.
    c.batch_execute(&format!("DROP TRIGGER {t}_slow ON {t}"))
        .await
        .unwrap();
    let resumed = c
        .resume_execute_many(
            &insert(&t),
            rows(&[]),
            &r.load,
            ExecuteManyOptions::with_atomicity(Atomicity::Batches(100)),
        )
        .await
        .unwrap();
    assert!(resumed.is_complete(), "{resumed}");
    assert_eq!(resumed.rows_committed, ROWS as u64);
    assert_eq!(checksum(&mut c, &t).await.0, ROWS);
    pool.close().await.unwrap();
}

fn pgline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgline"))
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .expect("run pgline")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn url() -> String {
    crate::support::server().url("postgres", None, "postgres")
}

/// A CSV file of `n` rows `id,row id,id/2` (row `bad` repeating id 7), removed on drop.
struct Csv(std::path::PathBuf);

impl Csv {
    fn new(n: i64, bad: Option<i64>) -> Self {
        use std::fmt::Write as _;
        let p = std::env::temp_dir().join(format!("{}.csv", table("pgline_par")));
        let mut s = String::new();
        for i in 0..n {
            let id = if Some(i) == bad { 7 } else { i };
            let _ = writeln!(s, "{id},row {i},{}", i as f64 * 0.5);
        }
        std::fs::write(&p, s).unwrap();
        Self(p)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Csv {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test]
async fn load_with_jobs_loads_the_same_table_as_one_connection_and_names_failed_lines() {
    let mut c = connect().await;
    let csv = Csv::new(ROWS, None);
    let url = url();
    let mut sums = Vec::new();
    for jobs in ["1", "3"] {
        let t = create(&mut c, "par_cli").await;
        let out = pgline(&[
            "load",
            "--url",
            &url,
            "--table",
            &t,
            "--jobs",
            jobs,
            "--batch-rows",
            "800",
            csv.path(),
        ]);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
        assert!(stdout.contains(&format!("loaded {ROWS} rows")), "{stdout}");
        if jobs == "3" {
            assert!(stdout.contains("on 3 connections"), "{stdout}");
        }
        sums.push(checksum(&mut c, &t).await);
    }
    assert_eq!(sums[0], sums[1]);
    assert_eq!(sums[0].0, ROWS);

    // A duplicate key on input line 12,346 (row 12,345): its batch of 800 (rows
    // 12,000..12,800) fails, the summary names the line and what was committed.
    let bad = Csv::new(ROWS, Some(12_345));
    let t = create(&mut c, "par_clibad").await;
    let out = pgline(&[
        "load",
        "--url",
        &url,
        "--table",
        &t,
        "--jobs",
        "2",
        "--batch-rows",
        "800",
        bad.path(),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("line 12346") && stderr.contains("23505"),
        "{stderr}"
    );
    assert!(stderr.contains("committed"), "{stderr}");
    let table_ids = ids(&mut c, &t).await;
    assert!(!table_ids.contains(&12_000) && !table_ids.contains(&12_799));
    assert!(table_ids.contains(&11_999));
    assert!(
        stderr.contains(&format!("{} rows committed", table_ids.len())),
        "{stderr}"
    );

    // --mode copy streams the file through one COPY: refused with --jobs 2.
    let out = pgline(&[
        "load",
        "--url",
        &url,
        "--table",
        &t,
        "--jobs",
        "2",
        "--mode",
        "copy",
        csv.path(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--jobs"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn demo_with_jobs_reports_the_parallel_methods() {
    let out = pgline(&["demo", "--url", &url(), "--rows", "20000", "--jobs", "2"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("execute_many ×2"), "{stdout}");
    assert!(stdout.contains("COPY (binary) ×2"), "{stdout}");
    assert!(stdout.contains("table held 20000 rows"), "{stdout}");
}

#[tokio::test]
async fn a_pool_smaller_than_jobs_loads_everything_on_its_max_size_connections() {
    let mut c = connect().await;
    let t = create(&mut c, "par_pool").await;
    let pool = Pool::new(PoolConfig::new(config("postgres", None)).max_size(2)).unwrap();
    let r = execute_many_parallel(
        Connections::Pool(&pool),
        &insert(&t),
        rows(&[]),
        opts(4, Atomicity::Batches(500)),
    )
    .await
    .unwrap();
    assert!(r.is_complete(), "{r}");
    assert_eq!(r.jobs, 2, "{r}");
    assert!(
        r.chunks.iter().all(|ch| ch.connection < 2),
        "{:?}",
        r.chunks
    );
    assert_eq!(checksum(&mut c, &t).await.0, ROWS);
    // Both connections went back to the pool, idle and usable.
    assert_eq!(pool.status().in_use, 0);
    pool.close().await.unwrap();
}

#[tokio::test]
async fn rows_of_a_copy_batch_aborted_by_a_refused_row_are_counted_as_skipped() {
    let mut c = connect().await;
    let t = create(&mut c, "par_skip").await;
    const REFUSED: i64 = 1_234;
    let picky = (0..ROWS).map(|i| {
        (
            Picky {
                v: i,
                refuse: i == REFUSED,
            },
            format!("row {i}"),
            i as f64 * 0.5,
        )
    });
    let cfg = config("postgres", None);
    let r = load_parallel(
        Connections::Open(&cfg),
        &t,
        &["id", "v", "f"],
        picky,
        LoadMode::Copy,
        opts(2, Atomicity::Batches(500)),
    )
    .await
    .unwrap();
    let first = r.load.first_failure().unwrap();
    assert_eq!(first.index, REFUSED as u64, "{r}");
    assert!(first.error.is_conversion(), "{r}");
    assert_eq!(r.load.failures_total, 1, "{r}");
    // Rows 1000..1234 of the refused row's batch were sent, then rolled back.
    assert_eq!(r.load.rows_skipped, 234, "{r}");
    // Every row read is committed, failed or skipped, exactly once.
    assert_eq!(
        r.load.rows_read,
        r.load.rows_committed + r.load.failures_total + r.load.rows_skipped,
        "{r}"
    );
    assert_report_is_the_table(&mut c, &t, &r).await;
}

#[tokio::test]
async fn atomicity_all_on_a_pool_of_one_is_a_one_connection_load_not_a_refusal() {
    let mut c = connect().await;
    let t = create(&mut c, "par_all1").await;
    let pool = Pool::new(PoolConfig::new(config("postgres", None)).max_size(1)).unwrap();
    // Four jobs asked, one connection available: All spans one connection only.
    let r = execute_many_parallel(
        Connections::Pool(&pool),
        &insert(&t),
        rows(&[]),
        opts(4, Atomicity::All),
    )
    .await
    .unwrap();
    assert!(r.is_complete(), "{r}");
    assert_eq!(r.jobs, 1, "{r}");
    assert_eq!(checksum(&mut c, &t).await.0, ROWS);
    pool.close().await.unwrap();
}
