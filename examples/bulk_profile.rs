//! Profiling aid for the bulk path: `execute_many` alone against a throwaway cluster,
//! with client CPU split into user and system time, so `perf record -p` or `strace -c -p`
//! can be pointed at this process without the other cases of `compare` in the way.
//!
//! `cargo run --release --example bulk_profile [-- ROWS RUNS]` (default 100,000 rows,
//! 5 runs). `PGLINE_PIN=1` pins the server to CPU 0 and this process to CPU 1 (as the
//! peer figures in the performance anchors were measured), with `taskset`.
//! `PGLINE_PAUSE=1` waits for Enter after connecting (to attach a profiler).
//! `PGLINE_CEILING=1` (or `alt`: alternating with `execute_many`) runs `compare`'s raw pre-encoded client instead (its encoding inside
//! the timing here), `PGLINE_UNIX=1` uses the Unix-domain socket instead of loopback TCP.

use std::time::{Duration, Instant, UNIX_EPOCH};

use pgline::cluster::{ClusterOptions, TempCluster};
use pgline::{Config, Connection};

#[path = "../src/bin/pgline/cpu.rs"]
mod cpu_clock;
#[path = "shared/insert.rs"]
mod insert;
#[path = "shared/pin.rs"]
mod pin;

use insert::{ceiling_run, row};

/// (user, system) CPU of this process from `/proc/self/stat`, in clock ticks (1/100 s).
fn user_sys() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
    (
        f.get(11).copied().unwrap_or(0),
        f.get(12).copied().unwrap_or(0),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let runs: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let cluster = TempCluster::start(ClusterOptions::default()).expect("cluster");
    pin::pin_if_asked(&cluster);
    let em_opts = insert::execute_many_options();
    let mut cfg = Config::new();
    // PGLINE_UNIX=1: the Unix-domain socket instead of loopback TCP.
    let host = if std::env::var_os("PGLINE_UNIX").is_some() {
        cluster.socket_dir().display().to_string()
    } else {
        cluster.host().to_string()
    };
    cfg.host(&host)
        .port(cluster.port())
        .user("postgres")
        .dbname("postgres");
    let mut pg = Connection::connect(&cfg).await.expect("connect");
    pg.batch_execute(
        "CREATE UNLOGGED TABLE t (id int8, name text, score float8, created timestamptz)",
    )
    .await
    .expect("create");
    if std::env::var_os("PGLINE_PAUSE").is_some() {
        eprintln!("pid {}: press Enter to start", std::process::id());
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    }
    let base = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let insert = "INSERT INTO t (id, name, score, created) VALUES ($1, $2, $3, $4)";
    // PGLINE_CEILING=1: the raw pre-encoded client of `compare` instead (encoding
    // included in the timing here).
    // PGLINE_CEILING=alt: alternate the two, execute_many first.
    let mode = std::env::var("PGLINE_CEILING").ok();
    let alternate = mode.as_deref() == Some("alt");
    let only_ceiling = mode.is_some() && !alternate;
    println!(
        "{:>10} {:>10} {:>8} {:>8}",
        "rows/s", "µs/row", "user%", "sys%"
    );
    for k in 0..runs {
        let ceiling = only_ceiling || (alternate && k % 2 == 1);
        pg.batch_execute("TRUNCATE t").await.expect("truncate");
        let (u0, s0) = user_sys();
        let c0 = cpu_clock::process_cpu();
        let t0 = Instant::now();
        if ceiling {
            ceiling_run(cluster.port(), insert, n, base).await;
        } else {
            let r = pg
                .execute_many_with(insert, (0..n).map(|i| row(i, base)), em_opts)
                .await
                .expect("execute_many");
            assert!(r.is_complete());
        }
        let wall = t0.elapsed();
        let cpu = cpu_clock::process_cpu() - c0;
        let (u1, s1) = user_sys();
        let (du, ds) = ((u1 - u0) as f64, (s1 - s0) as f64);
        let tot = (du + ds).max(1.0);
        println!(
            "{:>10.0} {:>10.3} {:>8.0} {:>8.0}  {}",
            n as f64 / wall.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / n as f64,
            du / tot * 100.0,
            ds / tot * 100.0,
            if ceiling { "ceiling" } else { "execute_many" }
        );
    }
    drop(pg);
    cluster.stop();
}
