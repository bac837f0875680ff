//! The pool under contention, against deadpool-postgres in the same run: `SELECT 1` (a
//! cached prepared statement in both) from 64 concurrent tasks over 8 connections, each
//! operation being checkout + query + return. A private `TempCluster` serves both.
//!
//! Run: `cargo bench --bench pool`. Prints queries/s and p50/p99 latency for each, and the
//! pgline/deadpool ratios. Rounds alternate (pgline, deadpool, pgline, ...) so drift on a
//! shared machine hits both; the best round of each is compared.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pgline::cluster::{ClusterOptions, TempCluster};

const TASKS: usize = 64;
const CONNS: usize = 8;
const ROUND: Duration = Duration::from_secs(2);
const ROUNDS: usize = 5;

#[derive(Debug, Clone, Copy)]
struct Figures {
    qps: f64,
    p50: Duration,
    p99: Duration,
    /// Client CPU (this process, all threads) per query.
    cpu_per_q: Duration,
}

/// CPU time of this process (user + system), from /proc/self/stat (clock ticks of 10 ms).
fn process_cpu() -> Duration {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    Duration::from_millis(f.iter().sum::<u64>() * 10)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn figures(ops: usize, elapsed: Duration, cpu: Duration, mut lat: Vec<Duration>) -> Figures {
    lat.sort_unstable();
    let at = |q: f64| {
        let i = ((lat.len() as f64 * q) as usize).min(lat.len().saturating_sub(1));
        lat.get(i).copied().unwrap_or_default()
    };
    Figures {
        qps: ops as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
        cpu_per_q: cpu / u32::try_from(ops.max(1)).unwrap_or(u32::MAX),
    }
}

/// Runs `TASKS` tasks doing `op` until `ROUND` has passed; per-operation latencies.
async fn drive<F, Fut>(op: F) -> Figures
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let cpu0 = process_cpu();
    let start = Instant::now();
    let end = start + ROUND;
    let mut handles = Vec::new();
    for _ in 0..TASKS {
        let op = op.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(64 * 1024);
            while Instant::now() < end {
                let t = Instant::now();
                op().await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.expect("task"));
    }
    let elapsed = start.elapsed();
    figures(all.len(), elapsed, process_cpu().saturating_sub(cpu0), all)
}

async fn pgline_round(pool: pgline::pool::Pool) -> Figures {
    drive(move || {
        let pool = pool.clone();
        async move {
            let mut c = pool.get().await.expect("pgline get");
            let r = c.query_one("SELECT 1", &[]).await.expect("pgline query");
            assert_eq!(r.get::<i32>(0).expect("int"), 1);
        }
    })
    .await
}

async fn deadpool_round(pool: deadpool_postgres::Pool) -> Figures {
    drive(move || {
        let pool = pool.clone();
        async move {
            let c = pool.get().await.expect("deadpool get");
            let s = c.prepare_cached("SELECT 1").await.expect("prepare");
            let r = c.query_one(&s, &[]).await.expect("deadpool query");
            assert_eq!(r.get::<_, i32>(0), 1);
        }
    })
    .await
}

fn show(name: &str, f: &Figures) {
    println!(
        "{name:<9} {:>9.0} q/s   p50 {:>7.1} µs   p99 {:>7.1} µs   client CPU {:>5.1} µs/q",
        f.qps,
        f.p50.as_secs_f64() * 1e6,
        f.p99.as_secs_f64() * 1e6,
        f.cpu_per_q.as_secs_f64() * 1e6
    );
}

fn main() {
    let cluster = TempCluster::start(ClusterOptions::default()).expect("start cluster");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut cfg = pgline::Config::new();
        cfg.host(cluster.host())
            .port(cluster.port())
            .user("postgres")
            .dbname("postgres");
        let ours = pgline::pool::Pool::new(pgline::pool::PoolConfig::new(cfg).max_size(CONNS))
            .expect("pgline pool");

        let mut pg = tokio_postgres::Config::new();
        pg.host(cluster.host())
            .port(cluster.port())
            .user("postgres")
            .dbname("postgres");
        let mgr = deadpool_postgres::Manager::from_config(
            pg,
            tokio_postgres::NoTls,
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let theirs = deadpool_postgres::Pool::builder(mgr)
            .max_size(CONNS)
            .build()
            .expect("deadpool pool");

        println!(
            "SELECT 1, {TASKS} tasks over {CONNS} connections, {ROUNDS} rounds of {ROUND:?} each"
        );
        let (mut best_ours, mut best_theirs): (Option<Figures>, Option<Figures>) = (None, None);
        let (mut r_qps, mut r_p99, mut r_cpu) = (Vec::new(), Vec::new(), Vec::new());
        // Warm-up: connections opened and statements prepared before measuring.
        let _ = (pgline_round(ours.clone()).await, deadpool_round(theirs.clone()).await);
        // PGLINE_BENCH_ONLY=pgline|deadpool runs one side (for profiling one at a time).
        let only = std::env::var("PGLINE_BENCH_ONLY").unwrap_or_default();
        if !only.is_empty() {
            let f = if only == "pgline" {
                pgline_round(ours.clone()).await
            } else {
                deadpool_round(theirs.clone()).await
            };
            show(&only, &f);
            println!("queries: {:.0}", f.qps * ROUND.as_secs_f64());
            return;
        }
        for round in 0..ROUNDS {
            let a = pgline_round(ours.clone()).await;
            let b = deadpool_round(theirs.clone()).await;
            println!("round {round}:");
            show("pgline", &a);
            show("deadpool", &b);
            r_qps.push(a.qps / b.qps);
            r_p99.push(a.p99.as_secs_f64() / b.p99.as_secs_f64());
            r_cpu.push(a.cpu_per_q.as_secs_f64() / b.cpu_per_q.as_secs_f64());
            if best_ours.is_none_or(|x| a.qps > x.qps) {
                best_ours = Some(a);
            }
            if best_theirs.is_none_or(|x| b.qps > x.qps) {
                best_theirs = Some(b);
            }
        }
        if let (Some(a), Some(b)) = (best_ours, best_theirs) {
            println!("best:");
            show("pgline", &a);
            show("deadpool", &b);
            println!(
                "best-round ratio pgline/deadpool: throughput {:.2}x, p99 latency {:.2}x (lower is better)",
                a.qps / b.qps,
                a.p99.as_secs_f64() / b.p99.as_secs_f64()
            );
        }
        println!(
            "median per-round ratio pgline/deadpool: throughput {:.2}x, p99 latency {:.2}x, client CPU/query {:.2}x (lower is better)",
            median(r_qps),
            median(r_p99),
            median(r_cpu)
        );
        let s = ours.status();
        println!(
            "pgline pool: created {}, closed {}, gets {}, max wait {:?}",
            s.created,
            s.closed.total(),
            s.gets,
            s.max_wait
        );
        let _ = ours.close().await;
    });
    drop(rt);
    cluster.stop();
}
