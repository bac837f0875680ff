//! Parallel loads: rows/s with 1, 2 and 4 connections against the same throwaway cluster
//! in the same run, for pipelined inserts (`execute_many_parallel`) and binary COPY
//! (`load_parallel`), with client CPU per row and the server's CPU per row.
//!
//! `cargo run --release --example parallel_load [-- ROWS RUNS BATCH]` (default 1,000,000
//! rows, 3 runs, 10,000 rows per transaction, the default chunks of about 65,536 rows;
//! the configurations alternate within each run and the medians are printed).
//! Each load commits batch by batch (`Atomicity::Batches`: one transaction cannot span
//! connections) into an UNLOGGED table truncated before each load.
//!
//! Client CPU: this process's threads, from `/proc/self/task/*/schedstat` (ns), and as a
//! cross-check getrusage's figure (`/proc/self/stat` utime + stime, 10 ms ticks). Server
//! CPU: the postmaster's own and its reaped children's time (`cutime + cstime`; each
//! load's backends exit when its connections close) plus that of live children.
//!
//! What bounds the gain: every row costs the server more CPU than the client, and the
//! backends share the machine's cores with the client. With C cores, N backends can at
//! best use C minus what the client takes, so rows/s can grow with N only until the
//! backends saturate the cores; past that more connections only add contention.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pgline::cluster::{ClusterOptions, TempCluster};
use pgline::conn::{
    execute_many_parallel, load_parallel, Atomicity, Connections, LoadMode, ParallelOptions,
};
use pgline::{Config, Connection};

#[path = "../src/bin/pgline/cpu.rs"]
mod cpu_clock;
#[path = "shared/samples.rs"]
mod samples;

use cpu_clock::process_cpu;
use samples::Samples;

const JOBS: [usize; 3] = [1, 2, 4];
const NAMES: [&str; 4] = ["alpha", "bravo", "charlie", "delta"];

fn row(i: u64, base: SystemTime) -> (i64, &'static str, f64, SystemTime) {
    (
        i64::try_from(i).unwrap_or(i64::MAX),
        NAMES[(i % 4) as usize],
        (i % 1000) as f64 * 0.25,
        base + Duration::from_micros(i),
    )
}

/// Fields 14..17 (utime, stime, cutime, cstime) of a `/proc/<pid>/stat`, in ticks.
fn stat_ticks(pid: &str) -> Option<([u64; 4], u32)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(3) ppid(4) ... utime(14): index 11 here.
    let n = |k: usize| f.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let ppid = f.get(1).and_then(|v| v.parse().ok())?;
    Some(([n(11), n(12), n(13), n(14)], ppid))
}

/// getrusage(RUSAGE_SELF) user + system, from `/proc/self/stat`.
fn rusage_self() -> Duration {
    let t = stat_ticks("self").map_or(0, |(t, _)| t[0] + t[1]);
    Duration::from_millis(t * 10)
}

/// CPU of the server: the postmaster, its reaped children, and its live children.
fn server_cpu(postmaster: u32) -> Duration {
    let mut ticks = stat_ticks(&postmaster.to_string()).map_or(0, |(t, _)| t.iter().sum());
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let name = e.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            if let Some((t, ppid)) = stat_ticks(pid) {
                if ppid == postmaster {
                    ticks += t[0] + t[1];
                }
            }
        }
    }
    Duration::from_millis(ticks * 10)
}

#[derive(Default)]
struct Case {
    samples: Samples,
    rusage_us: Vec<f64>,
    server_us: Vec<f64>,
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let batch: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);

    let cluster = TempCluster::start(ClusterOptions::default())?;
    let postmaster: u32 = std::fs::read_to_string(cluster.data_dir().join("postmaster.pid"))?
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or("no postmaster pid")?;
    let mut cfg = Config::new();
    cfg.host(cluster.host())
        .port(cluster.port())
        .user("postgres")
        .dbname("postgres");
    let mut admin = Connection::connect(&cfg).await?;
    admin
        .batch_execute(
            "CREATE UNLOGGED TABLE par (id int8, name text, score float8, created timestamptz)",
        )
        .await?;
    let base = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let modes = [
        ("execute_many", LoadMode::Pipeline),
        ("COPY (binary)", LoadMode::Copy),
    ];
    let mut cases: Vec<Case> = (0..JOBS.len() * modes.len())
        .map(|_| Case::default())
        .collect();
    for _ in 0..runs {
        for (m, (_, mode)) in modes.iter().enumerate() {
            for (j, &jobs) in JOBS.iter().enumerate() {
                admin.batch_execute("TRUNCATE par; CHECKPOINT").await?;
                // Default chunks: 65,536 rows rounded up to whole batches.
                let opts = ParallelOptions::new(jobs, Atomicity::Batches(batch));
                let rows = (0..n).map(|i| row(i, base));
                let conns = Connections::Open(&cfg);
                let (s0, r0, c0) = (server_cpu(postmaster), rusage_self(), process_cpu());
                let t0 = Instant::now();
                let report = match mode {
                    LoadMode::Pipeline => {
                        let sql =
                            "INSERT INTO par (id, name, score, created) VALUES ($1, $2, $3, $4)";
                        execute_many_parallel(conns, sql, rows, opts).await?
                    }
                    _ => {
                        let cols = ["id", "name", "score", "created"];
                        load_parallel(conns, "par", &cols, rows, *mode, opts).await?
                    }
                };
                let wall = t0.elapsed();
                let (cpu, ru) = (process_cpu() - c0, rusage_self() - r0);
                // Let the backends exit and be reaped, so their CPU is the postmaster's.
                tokio::time::sleep(Duration::from_millis(300)).await;
                let server = server_cpu(postmaster).saturating_sub(s0);
                if !report.is_complete() || report.load.rows_committed != n {
                    return Err(format!("incomplete load: {report}").into());
                }
                let case = &mut cases[m * JOBS.len() + j];
                case.samples.add(n, wall, cpu);
                case.rusage_us.push(ru.as_secs_f64() * 1e6 / n as f64);
                case.server_us.push(server.as_secs_f64() * 1e6 / n as f64);
            }
        }
    }
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    println!("{n} rows, {runs} runs (medians), {cores} CPUs, batches of {batch} rows");
    println!(
        "{:<16} {:>4} {:>11} {:>7} {:>13} {:>13} {:>13}",
        "method", "jobs", "rows/s", "× 1 job", "client µs/row", "rusage µs/row", "server µs/row"
    );
    for (m, (name, _)) in modes.iter().enumerate() {
        let one = cases[m * JOBS.len()].samples.rate();
        for (j, jobs) in JOBS.iter().enumerate() {
            let c = &cases[m * JOBS.len() + j];
            println!(
                "{:<16} {:>4} {:>11.0} {:>7.2} {:>13.3} {:>13.3} {:>13.3}",
                name,
                jobs,
                c.samples.rate(),
                c.samples.rate() / one,
                c.samples.cpu(),
                median(&c.rusage_us),
                median(&c.server_us),
            );
        }
    }
    admin.batch_execute("DROP TABLE par").await?;
    admin.close().await?;
    cluster.stop();
    Ok(())
}
