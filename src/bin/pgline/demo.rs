//! `pgline demo`: the README's main job.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pgline::cluster::{ClusterOptions, TempCluster};
use pgline::conn::{
    execute_many_parallel, load_parallel, Atomicity, Connections, ExecuteManyOptions, LoadMode,
    LoadReport, ParallelOptions,
};
use pgline::types::oid;
use pgline::{Config, Connection};

use crate::cpu::process_cpu;

/// Arguments of `pgline demo`.
#[derive(clap::Args, Debug)]
pub(crate) struct DemoArgs {
    /// Server to use; without it (and without DATABASE_URL) a throwaway local cluster is
    /// started and stopped.
    #[arg(long, env = "DATABASE_URL")]
    url: Option<String>,
    /// Rows to load with each method.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// Connections loading at once. With more than one, both methods run on that many
    /// connections, each batch of 50,000 rows its own transaction (one transaction
    /// cannot span connections).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    jobs: u16,
}

/// Rows per transaction with `--jobs` above 1.
const PARALLEL_BATCH: u32 = 50_000;

const NAMES: [&str; 8] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
];

fn row(i: u64, base: SystemTime) -> (i64, &'static str, f64, SystemTime) {
    let id = i64::try_from(i).unwrap_or(i64::MAX);
    (
        id,
        NAMES[(i % 8) as usize],
        (i % 1000) as f64 * 0.25,
        base + Duration::from_micros(i),
    )
}

struct Measured {
    method: String,
    rows: u64,
    wall: Duration,
    cpu: Duration,
}

impl Measured {
    fn print(&self) {
        let rate = self.rows as f64 / self.wall.as_secs_f64();
        let us = self.cpu.as_secs_f64() * 1e6 / self.rows as f64;
        println!(
            "{:<28} {:>10} {:>12.0} {:>10.3} {:>8.2}",
            self.method,
            self.rows,
            rate,
            us,
            self.wall.as_secs_f64()
        );
    }
}

pub(crate) async fn run(args: DemoArgs) -> Result<(), Box<dyn std::error::Error>> {
    let (cluster, config) = match &args.url {
        Some(url) => (None, Config::parse(url)?),
        None => {
            eprintln!("starting a throwaway PostgreSQL cluster ...");
            let c = TempCluster::start(ClusterOptions::default())?;
            let mut cfg = Config::new();
            cfg.host(c.host())
                .port(c.port())
                .user("postgres")
                .dbname("postgres");
            eprintln!("  listening on {}:{}", c.host(), c.port());
            (Some(c), cfg)
        }
    };
    let mut conn = Connection::connect(&config).await?;
    conn.batch_execute(
        "DROP TABLE IF EXISTS pgline_demo; \
         CREATE UNLOGGED TABLE pgline_demo (id int8, name text, score float8, created timestamptz)",
    )
    .await?;
    let base = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let n = args.rows;
    let mut results = Vec::new();
    if args.jobs > 1 {
        parallel(&config, usize::from(args.jobs), n, base, &mut results).await?;
    } else {
        single(&mut conn, n, base, &mut results).await?;
    }

    let check = conn
        .query_one("SELECT count(*) FROM pgline_demo", &[])
        .await?
        .get::<i64>(0)?;
    conn.batch_execute("DROP TABLE pgline_demo").await?;
    conn.close().await?;

    println!();
    println!(
        "{:<28} {:>10} {:>12} {:>10} {:>8}",
        "method", "rows", "rows/s", "cpu µs/row", "secs"
    );
    for r in &results {
        r.print();
    }
    println!("(table held {check} rows after COPY; client CPU measured from /proc/self/task/*/schedstat)");
    if let Some(c) = cluster {
        c.stop();
        eprintln!("stopped the throwaway cluster");
    }
    Ok(())
}

/// Both methods on `jobs` connections at once, each batch its own transaction.
async fn parallel(
    config: &Config,
    jobs: usize,
    n: u64,
    base: SystemTime,
    results: &mut Vec<Measured>,
) -> Result<(), Box<dyn std::error::Error>> {
    let opts = ParallelOptions {
        chunk_rows: u64::from(PARALLEL_BATCH),
        ..ParallelOptions::new(jobs, Atomicity::Batches(PARALLEL_BATCH))
    };
    let conns = Connections::Open(config);
    let cpu0 = process_cpu();
    let t0 = Instant::now();
    let sql = "INSERT INTO pgline_demo (id, name, score, created) VALUES ($1, $2, $3, $4)";
    let report = execute_many_parallel(conns, sql, (0..n).map(|i| row(i, base)), opts).await?;
    results.push(Measured {
        method: format!("execute_many ×{jobs}"),
        rows: report.load.rows_committed,
        wall: t0.elapsed(),
        cpu: process_cpu() - cpu0,
    });
    if !report.is_complete() {
        return Err(format!("execute_many did not load every row: {report}").into());
    }

    let mut conn = Connection::connect(config).await?;
    conn.batch_execute("TRUNCATE pgline_demo").await?;
    conn.close().await?;
    let cpu0 = process_cpu();
    let t0 = Instant::now();
    let report = load_parallel(
        conns,
        "pgline_demo",
        &["id", "name", "score", "created"],
        (0..n).map(|i| row(i, base)),
        LoadMode::Copy,
        opts,
    )
    .await?;
    results.push(Measured {
        method: format!("COPY (binary) ×{jobs}"),
        rows: report.load.rows_committed,
        wall: t0.elapsed(),
        cpu: process_cpu() - cpu0,
    });
    if !report.is_complete() {
        return Err(format!("COPY did not load every row: {report}").into());
    }
    Ok(())
}

/// Both methods on one connection, each one transaction.
async fn single(
    conn: &mut Connection,
    n: u64,
    base: SystemTime,
    results: &mut Vec<Measured>,
) -> Result<(), Box<dyn std::error::Error>> {
    // 1. execute_many: one prepared INSERT, Bind/Execute per row, one transaction.
    let cpu0 = process_cpu();
    let t0 = Instant::now();
    let report: LoadReport = conn
        .execute_many_with(
            "INSERT INTO pgline_demo (id, name, score, created) VALUES ($1, $2, $3, $4)",
            (0..n).map(|i| row(i, base)),
            // Polled IO: the demo's runtime runs nothing but the load.
            ExecuteManyOptions {
                io_tick: Some(pgline::conn::DEFAULT_IO_TICK),
                ..ExecuteManyOptions::default()
            },
        )
        .await?;
    results.push(Measured {
        method: "execute_many (pipelined)".into(),
        rows: report.rows_committed,
        wall: t0.elapsed(),
        cpu: process_cpu() - cpu0,
    });
    if !report.is_complete() {
        return Err(format!("execute_many did not load every row: {report}").into());
    }

    // 2. Binary COPY with the typed row writer.
    conn.batch_execute("TRUNCATE pgline_demo").await?;
    let cpu0 = process_cpu();
    let t0 = Instant::now();
    let copy = conn
        .copy_in("COPY pgline_demo (id, name, score, created) FROM STDIN (FORMAT binary)")
        .await?;
    let mut w = copy.binary(&[oid::INT8, oid::TEXT, oid::FLOAT8, oid::TIMESTAMPTZ])?;
    for i in 0..n {
        w.write_row(&row(i, base)).await?;
    }
    let copied = w.finish().await?;
    results.push(Measured {
        method: "COPY (binary)".into(),
        rows: copied,
        wall: t0.elapsed(),
        cpu: process_cpu() - cpu0,
    });
    Ok(())
}
