//! The seed's workload through pgline on iris-pgwire (the project the seed describes: an
//! async SQLAlchemy dialect reaching IRIS through iris-pgwire via psycopg), measured.
//!
//! `PGLINE_IRIS_PORT=<port> cargo run --release --example iris_seed_workload [-- N]`
//!
//! Against a running iris-pgwire (`tests/iris/serve.py`; `tests/iris/seed_compare.py`
//! starts one and runs this next to psycopg 3). Steps, each checked by its result:
//! engine-style URL connect, `SELECT 1` read as an integer, `SHOW
//! standard_conforming_strings`, DDL, a committed and a rolled-back transaction each with
//! `DEALLOCATE ALL` inside, INFORMATION_SCHEMA.TABLES/COLUMNS, N `SELECT 1` (latency p50 and
//! p99), an N-row `execute_many` (rows/s, client CPU per row) with every stored row read
//! back, and a pool shared by 50 tasks. The stand-in IRIS has no VECTOR type, so vector
//! search is not part of the run. An error is counted as "swallowed" (the run goes on);
//! the last line is one `RESULT {json}` for the comparison script.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use pgline::pool::{Pool, PoolConfig};
use pgline::Connection;

// One CPU clock for the CLI and the examples.
#[path = "../src/bin/pgline/cpu.rs"]
mod cpu_clock;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1e6)
}

/// Runs `r`; an error is printed and counted, and the run goes on.
fn swallow<T>(errors: &mut u32, what: &str, r: Result<T, pgline::Error>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            *errors += 1;
            eprintln!("{what}: {e}");
            None
        }
    }
}

fn row(i: i64) -> (i64, String, f64) {
    (i, format!("name {i:07}"), (i % 1000) as f64 * 0.25)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: i64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let port: u16 = std::env::var("PGLINE_IRIS_PORT")
        .expect("PGLINE_IRIS_PORT: the port of a running iris-pgwire")
        .parse()
        .expect("PGLINE_IRIS_PORT is not a port");
    let url = format!(
        "postgresql://_SYSTEM:SYS@127.0.0.1:{port}/USER?sslmode=prefer&iris_pgwire_version=1.7.3"
    );
    let t = format!("seed_pgline_{}", std::process::id());
    let mut errors = 0u32;
    let mut c = Connection::connect_str(&url).await.expect("connect");

    let one = swallow(&mut errors, "SELECT 1", c.query_one("SELECT 1", &[]).await);
    assert_eq!(
        one.map(|r| r.get::<i32>(0).expect("SELECT 1 as i32")),
        Some(1)
    );
    let scs = swallow(
        &mut errors,
        "SHOW",
        c.query_one("SHOW standard_conforming_strings", &[]).await,
    );
    if let Some(r) = scs {
        assert_eq!(
            r.get::<&str>("standard_conforming_strings").ok(),
            Some("on")
        );
    }
    let ddl = format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY, name VARCHAR(40), score DOUBLE)");
    swallow(&mut errors, "CREATE TABLE", c.execute(&*ddl, &[]).await);
    let ins = format!("INSERT INTO {t} (id, name, score) VALUES ($1, $2, $3)");
    for (id, commit) in [(-1i64, true), (-2, false)] {
        let Some(mut tx) = swallow(&mut errors, "BEGIN", c.begin().await) else {
            continue;
        };
        let (a, b, s) = row(id);
        swallow(
            &mut errors,
            "INSERT",
            tx.execute(&*ins, &[&a, &b, &s]).await,
        );
        swallow(
            &mut errors,
            "DEALLOCATE",
            tx.execute("DEALLOCATE ALL", &[]).await,
        );
        let end = if commit {
            tx.commit().await
        } else {
            tx.rollback().await
        };
        swallow(&mut errors, "COMMIT/ROLLBACK", end);
    }
    for sql in [
        "SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'SQLUser'".to_owned(),
        format!("SELECT COLUMN_NAME, DATA_TYPE FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = '{t}'"),
    ] {
        swallow(&mut errors, "INFORMATION_SCHEMA", c.query(&*sql, &[]).await);
    }

    // Latency of SELECT 1.
    let mut lat = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let t0 = Instant::now();
        let r = c.query_one("SELECT 1", &[]).await;
        lat.push(t0.elapsed());
        if let Some(r) = swallow(&mut errors, "SELECT 1", r) {
            assert_eq!(r.get::<i32>(0).expect("i32"), 1);
        }
    }
    lat.sort();

    // Bulk insert, every row checked.
    let (c0, t0) = (cpu_clock::process_cpu(), Instant::now());
    let report = c.execute_many(&ins, (1..=n).map(row)).await;
    let (wall, used) = (t0.elapsed(), cpu_clock::process_cpu() - c0);
    match report {
        Ok(r) => assert!(r.is_complete(), "{r}"),
        Err(e) => {
            errors += 1;
            eprintln!("execute_many: {e}");
        }
    }
    let stored: BTreeMap<i64, (String, f64)> = c
        .query(
            &*format!("SELECT id, name, score FROM {t} WHERE id > $1"),
            &[&-100i64],
        )
        .await
        .expect("read back")
        .iter()
        .map(|r| {
            let id = r.get::<i64>(0).expect("id");
            (
                id,
                (
                    r.get::<&str>(1).expect("name").to_owned(),
                    r.get::<f64>(2).expect("score"),
                ),
            )
        })
        .collect();
    let mut want: BTreeMap<i64, (String, f64)> =
        (1..=n).map(row).map(|(a, b, s)| (a, (b, s))).collect();
    let (a, b, s) = row(-1);
    want.insert(a, (b, s));
    assert_eq!(stored, want, "stored rows differ from the rows sent");
    drop(c);

    // A pool shared by 50 tasks.
    let pool = Pool::new(PoolConfig::new(url.parse().expect("url")).max_size(10)).expect("pool");
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut c = pool.get().await?;
                c.query_one("SELECT 1", &[]).await?.get::<i32>(0)
            })
        })
        .collect();
    for task in tasks {
        let r = task.await.expect("task");
        if let Some(v) = swallow(&mut errors, "pool task", r) {
            assert_eq!(v, 1);
        }
    }
    pool.close().await.expect("pool close");

    let rate = n as f64 / wall.as_secs_f64();
    let cpu_us = used.as_secs_f64() * 1e6 / n as f64;
    println!(
        "RESULT {{\"client\": \"pgline\", \"select1_p50_us\": {:.1}, \"select1_p99_us\": {:.1}, \
         \"bulk_rows_s\": {rate:.0}, \"bulk_cpu_us_row\": {cpu_us:.2}, \"errors_swallowed\": {errors}, \
         \"rows_checked\": {}}}",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        stored.len()
    );
}
