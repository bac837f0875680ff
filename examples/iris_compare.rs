//! pgline against tokio-postgres on InterSystems IRIS's PGWire server (iris-pgwire 1.7.3),
//! side by side in one process, against one server this example starts itself.
//!
//! `cargo run --release --example iris_compare [-- ROWS]` (default 100,000 rows).
//!
//! The server is the published iris-pgwire 1.7.3 with a sqlite stand-in for IRIS
//! (`tests/iris/README.md`): `tests/iris/setup.sh` builds or reuses its venv (`IRIS_VENV`
//! picks the venv directory), then `tests/iris/serve.py` runs it on a free loopback port.
//! Set `PGLINE_IRIS_PORT` to use a server that is already running instead.
//!
//! 1. Compatibility: the same everyday operations through both clients, each on its own
//!    connection and table, each judged by checking its result (not just "no error").
//!    Every operation has a deadline (5 s; 30 s for the 1,000-row ones), so a client that
//!    waits forever for an answer the server never sends is recorded as a hang.
//! 2. Throughput: ROWS rows of `(id BIGINT, name VARCHAR(40), score DOUBLE)` into a fresh
//!    table, pgline `execute_many` (default options) against tokio-postgres pipelined
//!    `execute` futures (bounded window, one transaction), interleaved, two runs each, each
//!    verified with `COUNT(*)`. CPU is this process's (all threads, from the scheduler's
//!    per-thread run times, as in `examples/compare.rs`: the same total `getrusage
//!    (RUSAGE_SELF)` reports, at nanosecond resolution). Every stored row of both clients is
//!    read back and compared with the row sent; a run with a wrong row stops the example.

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::StreamExt;
use pgline::conn::{ExecuteManyOptions, LoadMode};
use pgline::{Config, Connection};
use tokio::task::AbortHandle;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

const USER: &str = "pgline";
const DB: &str = "USER";
/// tokio-postgres's in-flight window for the throughput run.
const WINDOW: usize = 1024;

// One CPU clock for the CLI and the examples.
#[path = "../src/bin/pgline/cpu.rs"]
mod cpu_clock;

fn cpu() -> Duration {
    cpu_clock::process_cpu()
}

// ---------------------------------------------------------------------------------------
// The server

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The port of a running iris-pgwire: `PGLINE_IRIS_PORT`, or one started here. The
/// launcher stops the server when its parent thread dies (`PR_SET_PDEATHSIG` is
/// per-thread), so it is spawned from a thread that lives as long as it does.
fn start_server() -> u16 {
    if let Ok(p) = std::env::var("PGLINE_IRIS_PORT") {
        return p.parse().expect("PGLINE_IRIS_PORT is not a port");
    }
    let mut setup = Command::new("sh");
    setup.arg(repo().join("tests/iris/setup.sh"));
    if let Ok(venv) = std::env::var("IRIS_VENV") {
        setup.arg(venv);
    }
    let out = setup
        .stderr(Stdio::inherit())
        .output()
        .expect("run tests/iris/setup.sh");
    assert!(out.status.success(), "tests/iris/setup.sh failed");
    let venv = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let log = std::env::temp_dir().join(format!("pgline-iris-compare-{}.log", std::process::id()));
    eprintln!("iris-pgwire log: {}", log.display());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut child = Command::new(venv.join("bin/python"))
            .arg(repo().join("tests/iris/serve.py"))
            .arg("0")
            .arg("--log")
            .arg(log)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tests/iris/serve.py");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next().and_then(Result::ok));
        for _ in lines {}
        let _ = child.wait();
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("iris-pgwire did not start within 60 s")
        .expect("the launcher exited before READY");
    line.strip_prefix("READY ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("unexpected launcher output {line:?}"))
}

fn pg_config(port: u16) -> Config {
    let mut cfg = Config::new();
    cfg.host("127.0.0.1").port(port).user(USER).dbname(DB);
    // The server does not report its release; 1.7.3 can roll back (pgline::iris::capabilities).
    cfg.iris_pgwire_version(pgline::iris::IrisPgwireVersion::new(1, 7, 3));
    cfg
}

async fn pg_connect(port: u16) -> Result<Connection, String> {
    Connection::connect(&pg_config(port))
        .await
        .map_err(|e| short(&e.to_string()))
}

/// Connection tasks of tokio-postgres clients, aborted (socket closed) after each
/// operation, so that a client stuck waiting does not keep its server session.
static TP_TASKS: Mutex<Vec<AbortHandle>> = Mutex::new(Vec::new());

async fn tp_connect(port: u16) -> Result<Client, String> {
    // NoTls: tokio-postgres sends no SSLRequest, which 1.7.3 accepts.
    let (client, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user={USER} dbname={DB}"),
        NoTls,
    )
    .await
    .map_err(|e| tp_err(&e))?;
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    TP_TASKS.lock().unwrap().push(task.abort_handle());
    Ok(client)
}

fn abort_tp_tasks() {
    for t in TP_TASKS.lock().unwrap().drain(..) {
        t.abort();
    }
}

// ---------------------------------------------------------------------------------------
// Verdicts

enum Verdict {
    Ok(Option<String>),
    Wrong(String),
    Error(String),
    Hang,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ok(None) => write!(f, "ok"),
            Self::Ok(Some(n)) => write!(f, "ok ({n})"),
            Self::Wrong(w) => write!(f, "**wrong result**: {w}"),
            Self::Error(e) => write!(f, "error: {e}"),
            Self::Hang => write!(f, "**hang**"),
        }
    }
}

type Check = Result<Verdict, String>;

fn ok() -> Check {
    Ok(Verdict::Ok(None))
}

fn ok_note(n: impl Into<String>) -> Check {
    Ok(Verdict::Ok(Some(n.into())))
}

fn wrong(w: impl Into<String>) -> Check {
    Ok(Verdict::Wrong(w.into()))
}

/// The first line of an error, without the server's IRIS details, at most 90 characters.
fn short(s: &str) -> String {
    let mut s = s.replace(['\r', '\n'], " ").replace('|', "/");
    for noise in [
        "Statement processing failed: ",
        "Execute failed: ",
        "Batch failed: ",
    ] {
        s = s.replace(noise, "");
    }
    if let Some(i) = s.find(" [Location") {
        s.truncate(i);
    }
    if s.chars().count() > 90 {
        s = s.chars().take(87).collect::<String>() + "...";
    }
    s
}

fn tp_err(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => short(&format!("{} {}", db.code().code(), db.message())),
        None => short(&e.to_string()),
    }
}

fn pg_err(e: &pgline::Error) -> String {
    short(&e.to_string())
}

async fn judge(limit: Duration, f: impl Future<Output = Check>) -> Verdict {
    let v = match tokio::time::timeout(limit, f).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => Verdict::Error(e),
        Err(_) => Verdict::Hang,
    };
    abort_tp_tasks();
    v
}

// ---------------------------------------------------------------------------------------
// Helpers, one set per client

async fn pg_count(c: &mut Connection, t: &str) -> Result<i64, String> {
    let r = c
        .simple_query(&format!("SELECT COUNT(*) AS n FROM {t}"))
        .await
        .map_err(|e| pg_err(&e))?;
    r.first()
        .and_then(|r| r.rows.first())
        .and_then(|row| row.get(0).ok().flatten())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| "COUNT(*) gave no number".to_owned())
}

async fn pg_ids(c: &mut Connection, t: &str) -> Result<Vec<i64>, String> {
    let r = c
        .simple_query(&format!("SELECT id FROM {t} ORDER BY id"))
        .await
        .map_err(|e| pg_err(&e))?;
    Ok(r.first()
        .map(|r| {
            r.rows
                .iter()
                .filter_map(|row| row.get(0).ok().flatten().and_then(|v| v.parse().ok()))
                .collect()
        })
        .unwrap_or_default())
}

async fn pg_simple(c: &mut Connection, sql: &str) -> Result<(), String> {
    c.simple_query(sql)
        .await
        .map(|_| ())
        .map_err(|e| pg_err(&e))
}

fn tp_rows(msgs: &[SimpleQueryMessage]) -> Vec<Vec<Option<String>>> {
    msgs.iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| match r.try_get(i) {
                        Ok(v) => v.map(str::to_owned),
                        Err(e) => Some(format!("<{e}>")),
                    })
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .collect()
}

async fn tp_count(c: &Client, t: &str) -> Result<i64, String> {
    let m = c
        .simple_query(&format!("SELECT COUNT(*) AS n FROM {t}"))
        .await
        .map_err(|e| tp_err(&e))?;
    tp_rows(&m)
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("COUNT(*) gave no number: {:?}", tp_rows(&m)))
}

async fn tp_ids(c: &Client, t: &str) -> Result<Vec<i64>, String> {
    let m = c
        .simple_query(&format!("SELECT id FROM {t} ORDER BY id"))
        .await
        .map_err(|e| tp_err(&e))?;
    Ok(tp_rows(&m)
        .into_iter()
        .filter_map(|r| r.first().cloned().flatten().and_then(|v| v.parse().ok()))
        .collect())
}

async fn tp_simple(c: &Client, sql: &str) -> Result<(), String> {
    c.batch_execute(sql).await.map_err(|e| tp_err(&e))
}

/// Right when `got` is exactly the rows `want` (all values non-NULL text).
fn expect_rows(got: Vec<Vec<Option<String>>>, want: &[&[&str]]) -> Check {
    let want: Vec<Vec<Option<String>>> = want
        .iter()
        .map(|r| r.iter().map(|v| Some((*v).to_owned())).collect())
        .collect();
    if got == want {
        ok()
    } else {
        wrong(format!("rows {got:?}"))
    }
}

/// Runs `sql` through pgline's simple protocol and checks its rows.
async fn pg_expect_rows(c: &mut Connection, sql: &str, want: &[&[&str]]) -> Check {
    let r = c.simple_query(sql).await.map_err(|e| pg_err(&e))?;
    let got = r
        .iter()
        .flat_map(|res| &res.rows)
        .map(|row| {
            (0..row.len())
                .map(|i| row.get(i).ok().flatten().map(str::to_owned))
                .collect()
        })
        .collect();
    expect_rows(got, want)
}

/// Runs `sql` through tokio-postgres's simple protocol and checks its rows.
async fn tp_expect_rows(c: &Client, sql: &str, want: &[&[&str]]) -> Check {
    let m = c.simple_query(sql).await.map_err(|e| tp_err(&e))?;
    expect_rows(tp_rows(&m), want)
}

// ---------------------------------------------------------------------------------------
// The operations. Each connects itself and uses its own table `t`.

const PIPELINED: i64 = 1000;
const DUP_AT: i64 = 500;

async fn pg_op(op: usize, port: u16, t: &str) -> Check {
    let mut c = pg_connect(port).await?;
    match op {
        // connect
        0 => match c.parameter("server_version") {
            Some(v) if v.contains("IRIS") => ok_note(format!("IRIS profile: {v}")),
            other => wrong(format!("server_version {other:?}")),
        },
        // CREATE TABLE
        1 => {
            pg_simple(
                &mut c,
                &format!("CREATE TABLE {t} (id INT, name VARCHAR(50))"),
            )
            .await?;
            match pg_count(&mut c, t).await? {
                0 => ok(),
                n => wrong(format!("new table has {n} rows")),
            }
        }
        // prepared INSERT with params
        2 => {
            pg_simple(
                &mut c,
                &format!("CREATE TABLE {t} (id INT, name VARCHAR(50), score DOUBLE)"),
            )
            .await?;
            c.execute(
                &*format!("INSERT INTO {t} (id, name, score) VALUES ($1, $2, $3)"),
                &[&1i32, &"alpha", &1.5f64],
            )
            .await
            .map_err(|e| pg_err(&e))?;
            let sql = format!("SELECT id, name, score FROM {t}");
            pg_expect_rows(&mut c, &sql, &[&["1", "alpha", "1.5"]]).await
        }
        // SELECT typed read-back
        3 => {
            pg_simple(
                &mut c,
                &format!("CREATE TABLE {t} (id INT, name VARCHAR(50), score DOUBLE)"),
            )
            .await?;
            pg_simple(
                &mut c,
                &format!("INSERT INTO {t} (id, name, score) VALUES (7, 'seven', -0.25)"),
            )
            .await?;
            let row = c
                .query_one(
                    &*format!("SELECT id, name, score FROM {t} WHERE id = $1"),
                    &[&7i32],
                )
                .await
                .map_err(|e| pg_err(&e))?;
            let got = (
                row.get::<i32>(0).map_err(|e| pg_err(&e))?,
                row.get::<String>(1).map_err(|e| pg_err(&e))?,
                row.get::<f64>(2).map_err(|e| pg_err(&e))?,
            );
            if got == (7, "seven".to_owned(), -0.25) {
                ok()
            } else {
                wrong(format!("{got:?}"))
            }
        }
        // pipelined inserts, 1,000 rows
        4 => {
            pg_simple(&mut c, &format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY)")).await?;
            let report = c
                .execute_many(
                    &format!("INSERT INTO {t} (id) VALUES ($1)"),
                    (0..PIPELINED).map(|i| (i,)),
                )
                .await
                .map_err(|e| short(&e.to_string()))?;
            let n = pg_count(&mut c, t).await?;
            if report.is_complete() && n == PIPELINED {
                ok()
            } else {
                wrong(format!("report: {report}; table has {n} rows"))
            }
        }
        // pipelined inserts with a duplicate key
        5 => {
            pg_simple(&mut c, &format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY)")).await?;
            let report = c
                .execute_many(
                    &format!("INSERT INTO {t} (id) VALUES ($1)"),
                    (0..PIPELINED).map(|i| (if i == DUP_AT { 10 } else { i },)),
                )
                .await
                .map_err(|e| short(&e.to_string()))?;
            let ids = pg_ids(&mut c, t).await?;
            let reported = report
                .failures
                .iter()
                .any(|f| f.error.code() == Some("23505") && f.rows.contains(&(DUP_AT as u64)));
            let consistent = ids.len() as u64 == report.rows_committed
                && ids.iter().all(|&i| report.is_committed(i as u64));
            if reported && consistent {
                ok_note(format!(
                    "23505 reported for row {DUP_AT}; {} rows committed = table",
                    report.rows_committed
                ))
            } else {
                wrong(format!("report: {report}; table has {} rows", ids.len()))
            }
        }
        // SELECT $2 AS a, $1 AS b
        6 => {
            let row = c
                .query_one("SELECT $2 AS a, $1 AS b", &[&"first", &"second"])
                .await
                .map_err(|e| pg_err(&e))?;
            let got = (
                row.get::<String>(0).map_err(|e| pg_err(&e))?,
                row.get::<String>(1).map_err(|e| pg_err(&e))?,
            );
            if got.0 == "second" && got.1 == "first" {
                ok()
            } else {
                wrong(format!("a={:?}, b={:?}", got.0, got.1))
            }
        }
        // repeated placeholder
        7 => {
            pg_simple(&mut c, &format!("CREATE TABLE {t} (id INT, a INT, b INT)")).await?;
            c.execute(
                &*format!("INSERT INTO {t} (id, a, b) VALUES ($1, $2, $2)"),
                &[&1i32, &7i32],
            )
            .await
            .map_err(|e| pg_err(&e))?;
            let sql = format!("SELECT id, a, b FROM {t}");
            pg_expect_rows(&mut c, &sql, &[&["1", "7", "7"]]).await
        }
        // SHOW standard_conforming_strings
        8 => {
            let r = c
                .simple_query("SHOW standard_conforming_strings")
                .await
                .map_err(|e| pg_err(&e))?;
            let v = r
                .first()
                .and_then(|r| r.rows.first())
                .and_then(|row| row.get(0).ok().flatten());
            if v == Some("on") {
                ok()
            } else {
                wrong(format!("{v:?}"))
            }
        }
        // DEALLOCATE ALL / DISCARD ALL, then a prepared query
        9 | 10 => {
            let sql = if op == 9 {
                "DEALLOCATE ALL"
            } else {
                "DISCARD ALL"
            };
            let stmt = c.prepare("SELECT $1 AS v").await.map_err(|e| pg_err(&e))?;
            let before = c
                .query_one(&stmt, &[&"x"])
                .await
                .map_err(|e| pg_err(&e))?
                .get::<String>(0)
                .map_err(|e| pg_err(&e))?;
            pg_simple(&mut c, sql).await?;
            let after = c
                .query_one(&stmt, &[&"y"])
                .await
                .map_err(|e| format!("after {sql}: {}", pg_err(&e)))?
                .get::<String>(0)
                .map_err(|e| pg_err(&e))?;
            if before == "x" && after == "y" {
                ok()
            } else {
                wrong(format!("{before:?}, then {after:?}"))
            }
        }
        // transaction with an error inside, then COMMIT
        11 => {
            pg_simple(&mut c, &format!("CREATE TABLE {t} (id INT PRIMARY KEY)")).await?;
            let mut tx = c.begin().await.map_err(|e| pg_err(&e))?;
            pg_simple(&mut tx, &format!("INSERT INTO {t} (id) VALUES (1)")).await?;
            let err = tx.simple_query("SELEC 1").await.is_err();
            pg_simple(&mut tx, &format!("INSERT INTO {t} (id) VALUES (2)")).await?;
            tx.commit().await.map_err(|e| pg_err(&e))?;
            let ids = pg_ids(&mut c, t).await?;
            if err && ids == [1, 2] {
                ok_note("error reported, rows 1 and 2 kept")
            } else {
                wrong(format!("error reported: {err}; table ids {ids:?}"))
            }
        }
        // empty query
        12 => {
            let r = c.simple_query("").await.map_err(|e| pg_err(&e))?;
            let after = pg_count_one(&mut c).await?;
            if r.len() == 1 && r[0].empty && after {
                ok()
            } else {
                wrong(format!("{} results; SELECT 1 after: {after}", r.len()))
            }
        }
        // COPY FROM STDIN (load)
        13 => {
            pg_simple(
                &mut c,
                &format!("CREATE TABLE {t} (id BIGINT, name VARCHAR(40))"),
            )
            .await?;
            let report = c
                .load(
                    t,
                    &["id", "name"],
                    (0..100i64).map(|i| (i, format!("n{i}"))),
                    LoadMode::Auto,
                    ExecuteManyOptions::default(),
                )
                .await
                .map_err(|e| short(&e.to_string()))?;
            let n = pg_count(&mut c, t).await?;
            if report.is_complete() && n == 100 {
                ok_note(format!("100 rows via {}", report.method))
            } else {
                wrong(format!("report: {report}; table has {n} rows"))
            }
        }
        // COPY TO STDOUT
        14 => {
            pg_simple(&mut c, &format!("CREATE TABLE {t} (id INT)")).await?;
            pg_simple(&mut c, &format!("INSERT INTO {t} (id) VALUES (1)")).await?;
            match c.copy_out(&format!("COPY {t} TO STDOUT")).await {
                Err(e) if e.is_unsupported() => {
                    let usable = pg_count_one(&mut c).await?;
                    if usable {
                        ok_note(format!("refused as Unsupported: {}", pg_err(&e)))
                    } else {
                        wrong("connection unusable after the refusal")
                    }
                }
                Err(e) => Err(pg_err(&e)),
                Ok(out) => {
                    let data = out.read_all().await.map_err(|e| pg_err(&e))?;
                    if data == b"1\n" {
                        ok()
                    } else {
                        wrong(format!("{:?}", String::from_utf8_lossy(&data)))
                    }
                }
            }
        }
        // rows affected by an UPDATE
        15 => {
            pg_simple(
                &mut c,
                &format!("CREATE TABLE {t} (id INT, name VARCHAR(10))"),
            )
            .await?;
            pg_simple(
                &mut c,
                &format!("INSERT INTO {t} (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')"),
            )
            .await?;
            let n = c
                .execute(&*format!("UPDATE {t} SET name = 'z' WHERE id >= 1"), &[])
                .await
                .map_err(|e| pg_err(&e))?;
            match n {
                Some(3) => ok(),
                None => ok_note("None: count unknown"),
                Some(n) => wrong(format!("{n} (3 rows changed)")),
            }
        }
        _ => unreachable!(),
    }
}

async fn pg_count_one(c: &mut Connection) -> Result<bool, String> {
    let r = c.simple_query("SELECT 1").await.map_err(|e| pg_err(&e))?;
    Ok(r.first()
        .and_then(|r| r.rows.first())
        .and_then(|row| row.get(0).ok().flatten())
        == Some("1"))
}

async fn tp_select_one(c: &Client) -> Result<bool, String> {
    let m = c.simple_query("SELECT 1").await.map_err(|e| tp_err(&e))?;
    Ok(tp_rows(&m)
        .first()
        .and_then(|r| r.first().cloned().flatten())
        == Some("1".to_owned()))
}

async fn tp_op(op: usize, port: u16, t: &str) -> Check {
    let c = tp_connect(port).await?;
    match op {
        0 => match tp_select_one(&c).await? {
            true => ok(),
            false => wrong("SELECT 1 after connect"),
        },
        1 => {
            tp_simple(&c, &format!("CREATE TABLE {t} (id INT, name VARCHAR(50))")).await?;
            match tp_count(&c, t).await? {
                0 => ok(),
                n => wrong(format!("new table has {n} rows")),
            }
        }
        2 => {
            tp_simple(
                &c,
                &format!("CREATE TABLE {t} (id INT, name VARCHAR(50), score DOUBLE)"),
            )
            .await?;
            c.execute(
                &*format!("INSERT INTO {t} (id, name, score) VALUES ($1, $2, $3)"),
                &[&1i32, &"alpha", &1.5f64],
            )
            .await
            .map_err(|e| tp_err(&e))?;
            let sql = format!("SELECT id, name, score FROM {t}");
            tp_expect_rows(&c, &sql, &[&["1", "alpha", "1.5"]]).await
        }
        3 => {
            tp_simple(
                &c,
                &format!("CREATE TABLE {t} (id INT, name VARCHAR(50), score DOUBLE)"),
            )
            .await?;
            tp_simple(
                &c,
                &format!("INSERT INTO {t} (id, name, score) VALUES (7, 'seven', -0.25)"),
            )
            .await?;
            let row = c
                .query_one(
                    &*format!("SELECT id, name, score FROM {t} WHERE id = $1"),
                    &[&7i32],
                )
                .await
                .map_err(|e| tp_err(&e))?;
            let got = (
                row.try_get::<_, i32>(0).map_err(|e| tp_err(&e))?,
                row.try_get::<_, String>(1).map_err(|e| tp_err(&e))?,
                row.try_get::<_, f64>(2).map_err(|e| tp_err(&e))?,
            );
            if got == (7, "seven".to_owned(), -0.25) {
                ok()
            } else {
                wrong(format!("{got:?}"))
            }
        }
        4 | 5 => {
            tp_simple(&c, &format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY)")).await?;
            let stmt = c
                .prepare(&format!("INSERT INTO {t} (id) VALUES ($1)"))
                .await
                .map_err(|e| tp_err(&e))?;
            let ids_in: Vec<i64> = (0..PIPELINED)
                .map(|i| if op == 5 && i == DUP_AT { 10 } else { i })
                .collect();
            let results = futures::future::join_all(ids_in.iter().map(|id| {
                let (c, stmt) = (&c, &stmt);
                async move { c.execute(stmt, &[id]).await }
            }))
            .await;
            let failed: Vec<(usize, String)> = results
                .iter()
                .enumerate()
                .filter_map(|(i, r)| r.as_ref().err().map(|e| (i, tp_err(e))))
                .collect();
            let succeeded: Vec<i64> = results
                .iter()
                .zip(&ids_in)
                .filter(|(r, _)| r.is_ok())
                .map(|(_, &id)| id)
                .collect();
            let mut table = tp_ids(&c, t).await?;
            table.sort_unstable();
            let mut claimed = succeeded.clone();
            claimed.sort_unstable();
            if op == 4 {
                if failed.is_empty() && table.len() as i64 == PIPELINED {
                    ok()
                } else if let Some((i, e)) = failed.first() {
                    if table.is_empty() && failed.len() as i64 == PIPELINED {
                        Err(e.clone())
                    } else {
                        wrong(format!(
                            "{} failed (first row {i}: {e}); table has {} rows",
                            failed.len(),
                            table.len()
                        ))
                    }
                } else {
                    wrong(format!("all Ok; table has {} rows", table.len()))
                }
            } else {
                let reported = failed
                    .iter()
                    .any(|(i, e)| *i as i64 == DUP_AT && e.starts_with("23505"));
                if failed.len() as i64 == PIPELINED && table.is_empty() {
                    Err(format!("every row failed: {}", failed[0].1))
                } else if reported && table == claimed {
                    ok_note(format!(
                        "row {DUP_AT} failed; {} Ok = table",
                        succeeded.len()
                    ))
                } else {
                    let where_ = match failed.first() {
                        Some((i, e)) => format!("first failure row {i}: {e}"),
                        None => "no failure reported".to_owned(),
                    };
                    wrong(format!(
                        "{} of {PIPELINED} failed ({where_}); {} Ok, table has {} rows",
                        failed.len(),
                        succeeded.len(),
                        table.len()
                    ))
                }
            }
        }
        6 => {
            let row = c
                .query_one("SELECT $2 AS a, $1 AS b", &[&"first", &"second"])
                .await
                .map_err(|e| tp_err(&e))?;
            let got = (
                row.try_get::<_, String>(0).map_err(|e| tp_err(&e))?,
                row.try_get::<_, String>(1).map_err(|e| tp_err(&e))?,
            );
            if got.0 == "second" && got.1 == "first" {
                ok()
            } else {
                wrong(format!("a={:?}, b={:?}", got.0, got.1))
            }
        }
        7 => {
            tp_simple(&c, &format!("CREATE TABLE {t} (id INT, a INT, b INT)")).await?;
            c.execute(
                &*format!("INSERT INTO {t} (id, a, b) VALUES ($1, $2, $2)"),
                &[&1i32, &7i32],
            )
            .await
            .map_err(|e| tp_err(&e))?;
            let sql = format!("SELECT id, a, b FROM {t}");
            tp_expect_rows(&c, &sql, &[&["1", "7", "7"]]).await
        }
        8 => {
            let m = c
                .simple_query("SHOW standard_conforming_strings")
                .await
                .map_err(|e| tp_err(&e))?;
            let v = tp_rows(&m)
                .first()
                .and_then(|r| r.first().cloned().flatten());
            if v.as_deref() == Some("on") {
                ok()
            } else {
                wrong(format!("{v:?}"))
            }
        }
        9 | 10 => {
            let sql = if op == 9 {
                "DEALLOCATE ALL"
            } else {
                "DISCARD ALL"
            };
            let stmt = c.prepare("SELECT $1 AS v").await.map_err(|e| tp_err(&e))?;
            let before: String = c
                .query_one(&stmt, &[&"x"])
                .await
                .map_err(|e| tp_err(&e))?
                .try_get(0)
                .map_err(|e| tp_err(&e))?;
            tp_simple(&c, sql).await?;
            let after: String = c
                .query_one(&stmt, &[&"y"])
                .await
                .map_err(|e| format!("after {sql}: {}", tp_err(&e)))?
                .try_get(0)
                .map_err(|e| tp_err(&e))?;
            if before == "x" && after == "y" {
                ok()
            } else {
                wrong(format!("{before:?}, then {after:?}"))
            }
        }
        11 => {
            tp_simple(&c, &format!("CREATE TABLE {t} (id INT PRIMARY KEY)")).await?;
            let mut c = c;
            let tx = c.transaction().await.map_err(|e| tp_err(&e))?;
            tx.batch_execute(&format!("INSERT INTO {t} (id) VALUES (1)"))
                .await
                .map_err(|e| tp_err(&e))?;
            let err = tx.batch_execute("SELEC 1").await.is_err();
            tx.batch_execute(&format!("INSERT INTO {t} (id) VALUES (2)"))
                .await
                .map_err(|e| tp_err(&e))?;
            tx.commit().await.map_err(|e| tp_err(&e))?;
            let ids = tp_ids(&c, t).await?;
            if err && ids == [1, 2] {
                ok_note("error reported, rows 1 and 2 kept")
            } else {
                wrong(format!("error reported: {err}; table ids {ids:?}"))
            }
        }
        12 => {
            let m = c.simple_query("").await.map_err(|e| tp_err(&e))?;
            let after = tp_select_one(&c).await?;
            if after {
                ok_note(format!("{} messages", m.len()))
            } else {
                wrong("SELECT 1 after it")
            }
        }
        13 => {
            tp_simple(
                &c,
                &format!("CREATE TABLE {t} (id BIGINT, name VARCHAR(40))"),
            )
            .await?;
            let sink = c
                .copy_in::<_, bytes::Bytes>(&format!(
                    "COPY {t} (id, name) FROM STDIN WITH (FORMAT csv)"
                ))
                .await
                .map_err(|e| tp_err(&e))?;
            let data: String = (0..100).map(|i| format!("{i},n{i}\n")).collect();
            futures::pin_mut!(sink);
            futures::SinkExt::send(&mut sink, bytes::Bytes::from(data))
                .await
                .map_err(|e| tp_err(&e))?;
            let n = sink.finish().await.map_err(|e| tp_err(&e))?;
            let in_table = tp_count(&c, t).await?;
            if n == 100 && in_table == 100 {
                ok()
            } else {
                wrong(format!("reported {n}; table has {in_table} rows"))
            }
        }
        14 => {
            tp_simple(&c, &format!("CREATE TABLE {t} (id INT)")).await?;
            tp_simple(&c, &format!("INSERT INTO {t} (id) VALUES (1)")).await?;
            let stream = c
                .copy_out(&format!("COPY {t} TO STDOUT"))
                .await
                .map_err(|e| tp_err(&e))?;
            futures::pin_mut!(stream);
            let mut data = Vec::new();
            while let Some(chunk) = stream.next().await {
                data.extend_from_slice(&chunk.map_err(|e| tp_err(&e))?);
            }
            if data == b"1\n" {
                ok()
            } else {
                wrong(format!("{:?}", String::from_utf8_lossy(&data)))
            }
        }
        15 => {
            tp_simple(&c, &format!("CREATE TABLE {t} (id INT, name VARCHAR(10))")).await?;
            tp_simple(
                &c,
                &format!("INSERT INTO {t} (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')"),
            )
            .await?;
            let n = c
                .execute(&*format!("UPDATE {t} SET name = 'z' WHERE id >= 1"), &[])
                .await
                .map_err(|e| tp_err(&e))?;
            if n == 3 {
                ok()
            } else {
                wrong(format!("{n} (3 rows changed)"))
            }
        }
        _ => unreachable!(),
    }
}

const OPS: [&str; 16] = [
    "connect",
    "CREATE TABLE",
    "prepared INSERT with params",
    "SELECT typed read-back (int, text, double)",
    "pipelined inserts, 1,000 rows, count",
    "pipelined inserts with a duplicate key",
    "`SELECT $2 AS a, $1 AS b` ('first','second')",
    "repeated placeholder `VALUES ($1,$2,$2)`",
    "`SHOW standard_conforming_strings`",
    "`DEALLOCATE ALL`, then a prepared query",
    "`DISCARD ALL`, then a prepared query",
    "transaction with an error, then COMMIT",
    "empty query `\"\"`",
    "COPY FROM STDIN (pgline `load`, tp `copy_in`)",
    "COPY TO STDOUT",
    "rows affected by an UPDATE of 3 rows",
];

// ---------------------------------------------------------------------------------------
// Throughput

#[derive(Default)]
struct Samples {
    rate: Vec<f64>,
    cpu_us: Vec<f64>,
}

impl Samples {
    fn add(&mut self, rows: u64, wall: Duration, cpu: Duration) -> (f64, f64) {
        let r = rows as f64 / wall.as_secs_f64();
        let c = cpu.as_secs_f64() * 1e6 / rows as f64;
        self.rate.push(r);
        self.cpu_us.push(c);
        (r, c)
    }
    fn mean(v: &[f64]) -> f64 {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// One row of the throughput run. The name is 12 characters or more on purpose: iris-pgwire
/// decodes a binary parameter of 1, 2, 4 or 8 bytes as an integer whatever its type
/// (tokio-postgres sends every parameter in binary; quirks §3.3), and from 12 bytes on it
/// falls back to the text. With 8-byte ids and doubles typed INT8/FLOAT8 at Parse, every
/// value of this row reaches IRIS as sent, which the read-back below checks.
fn bulk_row(i: u64) -> (i64, String, f64) {
    (i as i64, format!("name {i:07}"), (i % 1000) as f64 * 0.25)
}

/// Reads the whole table back through pgline and compares every row with `bulk_row`:
/// the number of rows that are missing, extra or different.
async fn pg_wrong_rows(c: &mut Connection, t: &str, n: u64) -> Result<u64, String> {
    let rows = c
        .query(
            &*format!("SELECT id, name, score FROM {t} ORDER BY id"),
            &[],
        )
        .await
        .map_err(|e| pg_err(&e))?;
    let mut wrong = n.abs_diff(rows.len() as u64);
    for (i, r) in rows.iter().enumerate() {
        let got = (
            r.get::<i64>("id").map_err(|e| pg_err(&e))?,
            r.get::<String>("name").map_err(|e| pg_err(&e))?,
            r.get::<f64>("score").map_err(|e| pg_err(&e))?,
        );
        if got != bulk_row(i as u64) {
            if wrong == 0 {
                println!(
                    "\nfirst wrong row in {t}: {got:?}, sent {:?}\n",
                    bulk_row(i as u64)
                );
            }
            wrong += 1;
        }
    }
    Ok(wrong)
}

async fn throughput(port: u16, n: u64, tag: &str) {
    let mut pg = pg_connect(port).await.expect("pgline connect");
    let tp = tp_connect(port).await.expect("tokio-postgres connect");
    let cols = "id BIGINT, name VARCHAR(40), score DOUBLE";
    let (mut ps, mut ts) = (Samples::default(), Samples::default());
    println!("| run | client | rows/s | CPU µs/row | rows in table | rows wrong |");
    println!("|---|---|---:|---:|---:|---:|");
    for run in 1..=2 {
        let t = format!("{tag}_pg_{run}");
        pg_simple(&mut pg, &format!("CREATE TABLE {t} ({cols})"))
            .await
            .expect("create");
        let sql = format!("INSERT INTO {t} (id, name, score) VALUES ($1, $2, $3)");
        let (c0, t0) = (cpu(), Instant::now());
        let report = pg
            .execute_many(&sql, (0..n).map(bulk_row))
            .await
            .expect("execute_many");
        let (wall, used) = (t0.elapsed(), cpu() - c0);
        assert!(report.is_complete(), "{report}");
        let count = pg_count(&mut pg, &t).await.expect("count");
        assert_eq!(count as u64, n, "pgline run {run}: {report}");
        let wrong = pg_wrong_rows(&mut pg, &t, n).await.expect("read back");
        assert_eq!(
            wrong, 0,
            "pgline run {run}: stored rows differ from the rows sent"
        );
        let (r, c) = ps.add(n, wall, used);
        println!("| {run} | pgline execute_many | {r:.0} | {c:.2} | {count} | {wrong} |");

        let t = format!("{tag}_tp_{run}");
        tp_simple(&tp, &format!("CREATE TABLE {t} ({cols})"))
            .await
            .expect("create");
        let sql = format!("INSERT INTO {t} (id, name, score) VALUES ($1, $2, $3)");
        let (c0, t0) = (cpu(), Instant::now());
        tp.batch_execute("BEGIN").await.expect("BEGIN");
        // Typed at Parse: iris-pgwire then echoes these OIDs in its ParameterDescription
        // (without them it says `unknown` and tokio-postgres refuses i64/f64), and decodes
        // the 8-byte binary int8/float8 values by their OID.
        use tokio_postgres::types::Type;
        let stmt = tp
            .prepare_typed(&sql, &[Type::INT8, Type::VARCHAR, Type::FLOAT8])
            .await
            .expect("prepare");
        let mut results = futures::stream::iter((0..n).map(|i| {
            let (stmt, tp) = (&stmt, &tp);
            async move {
                let (a, b, c) = bulk_row(i);
                tp.execute(stmt, &[&a, &b, &c]).await
            }
        }))
        .buffered(WINDOW);
        let mut failed = 0u64;
        let mut first_err = None;
        while let Some(r) = results.next().await {
            if let Err(e) = r {
                failed += 1;
                first_err.get_or_insert_with(|| tp_err(&e));
            }
        }
        drop(results);
        tp.batch_execute("COMMIT").await.expect("COMMIT");
        let (wall, used) = (t0.elapsed(), cpu() - c0);
        // Counted through pgline: tokio-postgres's own simple-query COUNT(*) on this
        // connection cannot be decoded (see the note printed below when it fails).
        let count = pg_count(&mut pg, &t).await.expect("count");
        if let Err(e) = tp_count(&tp, &t).await {
            println!("\n(tokio-postgres's own COUNT(*) after run {run}: {e})\n");
        }
        let wrong = pg_wrong_rows(&mut pg, &t, n).await.expect("read back");
        let (r, c) = ts.add(n, wall, used);
        println!("| {run} | tokio-postgres pipelined execute (typed INT8/VARCHAR/FLOAT8, window {WINDOW}, 1 tx) | {r:.0} | {c:.2} | {count} | {wrong} |");
        assert_eq!(
            wrong, 0,
            "tokio-postgres run {run}: stored rows differ from the rows sent; its figures do not count"
        );
        if failed > 0 || count as u64 != n {
            println!(
                "\ntokio-postgres run {run}: {failed} statements failed (first: {}), {count} of {n} rows in the table\n",
                first_err.unwrap_or_default()
            );
        }
    }
    let (pr, pc, tr, tc) = (
        Samples::mean(&ps.rate),
        Samples::mean(&ps.cpu_us),
        Samples::mean(&ts.rate),
        Samples::mean(&ts.cpu_us),
    );
    println!();
    println!("means of 2 runs: pgline {pr:.0} rows/s, {pc:.2} µs CPU/row; tokio-postgres {tr:.0} rows/s, {tc:.2} µs CPU/row");
    println!(
        "pgline / tokio-postgres: {:.2}x rows/s, {:.2}x CPU per row",
        pr / tr,
        pc / tc
    );
    abort_tp_tasks();
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let port = start_server();
    // Table names unique to this run, in case PGLINE_IRIS_PORT reuses a server.
    let tag = format!("cmp{}", std::process::id());
    println!("iris-pgwire on 127.0.0.1:{port}; pgline vs tokio-postgres 0.7 (NoTls)\n");
    println!("## Compatibility\n");
    println!("| operation | pgline | tokio-postgres |");
    println!("|---|---|---|");
    let (mut p_ok, mut t_ok) = (0, 0);
    for (i, name) in OPS.iter().enumerate() {
        let limit = Duration::from_secs(if i == 4 || i == 5 { 30 } else { 5 });
        let p = judge(limit, pg_op(i, port, &format!("{tag}_{i}_p"))).await;
        let t = judge(limit, tp_op(i, port, &format!("{tag}_{i}_t"))).await;
        p_ok += usize::from(matches!(p, Verdict::Ok(_)));
        t_ok += usize::from(matches!(t, Verdict::Ok(_)));
        println!("| {name} | {p} | {t} |");
    }
    println!(
        "| **correct** | **{p_ok}/{}** | **{t_ok}/{}** |",
        OPS.len(),
        OPS.len()
    );
    println!(
        "\n## Throughput: {n} rows of (id BIGINT, name VARCHAR(40), score DOUBLE) into a \
         fresh table, interleaved\n"
    );
    throughput(port, n, &tag).await;
}
