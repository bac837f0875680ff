//! What `execute_many`'s polled IO (`ExecuteManyOptions::io_tick`) costs the other tasks
//! of the runtime it runs on (issue 14).
//!
//! Polled IO takes the load's socket out of tokio's reactor and has the load task sleep a
//! tick whenever the socket would block, so the task is polled less often and does more
//! in each poll (a tick's worth of answers, and a window refill). This example measures
//! the effect on a neighbour: on one runtime, a bulk load of ROWS rows into
//! `t(id int8, name text)` over one connection while another task, on a second
//! connection, loops a prepared `SELECT 1` and records each round trip. Both run as
//! spawned tasks (so on the multi-thread runtime they run on its workers).
//!
//! For each runtime flavour (current-thread; multi-thread with 2 workers) it runs PAIRS
//! rounds, each alternating which setting goes first (on/off, off/on, ...) because the
//! machine is shared and noisy: a baseline (the `SELECT 1` loop alone for two seconds),
//! a load with `io_tick: Some(DEFAULT_IO_TICK)` ("on") and one with `io_tick: None`
//! ("off") beside the `SELECT 1` loop, then the same two loads alone. Per load it prints
//! the load's rows/s and client CPU per row (this process, all threads, the `SELECT 1`
//! loop included when it runs), the `SELECT 1` count, p50, p99, p99.9 and max during
//! the load, and how many times the load task was polled and how long its polls took
//! (p99, max: no other task runs on that thread meanwhile); then, per flavour, medians
//! and the on/off ratios of each pair.
//!
//! `cargo run --release --example io_tick_impact --all-features [-- ROWS PAIRS]`
//! (default 1,000,000 rows, 3 pairs; about three minutes here). `IO_TICK_IMPACT_PACE_US=N`
//! paces the `SELECT 1` loop (a sleep of N µs before each query) instead of running it
//! flat out; with `IO_TICK_IMPACT_EXTERNAL=1` as well, an OS thread outside the runtime
//! triggers each query every N µs instead of tokio's timer.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pgline::cluster::{ClusterOptions, TempCluster};
use pgline::conn::{ExecuteManyOptions, SslMode, DEFAULT_IO_TICK};
use pgline::{Config, Connection};

// One CPU clock for the CLI and the examples.
#[path = "../src/bin/pgline/cpu.rs"]
mod cpu_clock;

const NAMES: [&str; 4] = ["alpha", "bravo", "charlie", "delta"];
const INSERT: &str = "INSERT INTO t (id, name) VALUES ($1, $2)";
const BASELINE: Duration = Duration::from_secs(2);

/// `SELECT 1` round trips of one run: when each started, and how long it took.
struct Probe {
    conn: Connection,
    stmt: pgline::Statement,
    lat: Vec<(Instant, Duration)>,
}

/// The pause between two `SELECT 1`s: `IO_TICK_IMPACT_PACE_US` microseconds, none when
/// unset or 0 (a tight loop).
fn pace() -> Option<Duration> {
    std::env::var("IO_TICK_IMPACT_PACE_US")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&us| us > 0)
        .map(Duration::from_micros)
}

/// Whether paced queries are triggered from outside the runtime
/// (`IO_TICK_IMPACT_EXTERNAL=1`: an OS thread that wakes the probe every pace, like
/// requests arriving from elsewhere) rather than by tokio's timer, whose 1 ms wheel can
/// line the probe's wakeups up with the load's ticks.
fn external() -> bool {
    std::env::var_os("IO_TICK_IMPACT_EXTERNAL").is_some_and(|v| v != "0")
}

/// Loops `SELECT 1` until `stop` is set.
async fn probe_loop(mut p: Probe, stop: Arc<AtomicBool>) -> Probe {
    p.lat.clear();
    let pace = pace();
    // The external trigger: a thread notifying every pace (a missed notification is kept,
    // at most one).
    let trigger = match pace {
        Some(pause) if external() => {
            let notify = Arc::new(tokio::sync::Notify::new());
            let (n, stop) = (notify.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(pause);
                    n.notify_one();
                }
            });
            Some(notify)
        }
        _ => None,
    };
    while !stop.load(Ordering::Relaxed) {
        match (&trigger, pace) {
            (Some(notify), _) => notify.notified().await,
            (None, Some(pause)) => tokio::time::sleep(pause).await,
            (None, None) => {}
        }
        let t = Instant::now();
        let r = p.conn.query_one(&p.stmt, &[]).await.expect("SELECT 1");
        let d = t.elapsed();
        assert_eq!(r.get::<i32>(0).expect("int4"), 1);
        p.lat.push((t, d));
    }
    p
}

/// Latency figures of the round trips that started and finished within `[from, to]`.
#[derive(Clone, Copy, Default)]
struct Lat {
    count: usize,
    per_s: f64,
    p50: f64,
    p99: f64,
    p999: f64,
    max: f64,
}

fn lat_stats(lat: &[(Instant, Duration)], from: Instant, to: Instant) -> Lat {
    let mut us: Vec<f64> = lat
        .iter()
        .filter(|(t, d)| *t >= from && *t + *d <= to)
        .map(|(_, d)| d.as_secs_f64() * 1e6)
        .collect();
    if us.is_empty() {
        return Lat::default();
    }
    us.sort_by(f64::total_cmp);
    // Nearest rank.
    let pct = |p: f64| {
        let rank = ((p * us.len() as f64).ceil() as usize).clamp(1, us.len());
        us[rank - 1]
    };
    Lat {
        count: us.len(),
        per_s: us.len() as f64 / (to - from).as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
        p999: pct(0.999),
        max: us[us.len() - 1],
    }
}

/// One load with the probe running beside it.
#[derive(Clone, Copy)]
struct LoadRun {
    rows_per_s: f64,
    cpu_us_per_row: f64,
    lat: Lat,
    polls: Polls,
}

/// How long the load task's polls took: each is a stretch in which no other task can run
/// on that thread.
#[derive(Clone, Copy, Default)]
struct Polls {
    count: usize,
    p99_us: f64,
    max_us: f64,
}

fn poll_stats(mut us: Vec<f64>) -> Polls {
    if us.is_empty() {
        return Polls::default();
    }
    us.sort_by(f64::total_cmp);
    let rank = ((0.99 * us.len() as f64).ceil() as usize).clamp(1, us.len());
    Polls {
        count: us.len(),
        p99_us: us[rank - 1],
        max_us: us[us.len() - 1],
    }
}

async fn load_with_probe(
    load: &mut Option<Connection>,
    probe: &mut Option<Probe>,
    n: u64,
    io_tick: bool,
    with_probe: bool,
) -> LoadRun {
    let mut conn = load.take().expect("load connection");
    conn.batch_execute("TRUNCATE t").await.expect("truncate");
    let stop = Arc::new(AtomicBool::new(false));
    let prober = with_probe.then(|| {
        tokio::spawn(probe_loop(
            probe.take().expect("probe connection"),
            stop.clone(),
        ))
    });
    // Let the probe get going (and the TRUNCATE settle) before the load starts.
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Explicit both ways, whatever the default is.
    let opts = ExecuteManyOptions {
        io_tick: io_tick.then_some(DEFAULT_IO_TICK),
        ..ExecuteManyOptions::default()
    };
    let loader = tokio::spawn(async move {
        let c0 = cpu_clock::process_cpu();
        let t0 = Instant::now();
        let mut polls = Vec::new();
        let r = {
            let mut load = std::pin::pin!(conn.execute_many_with(
                INSERT,
                (0..n).map(|i| (i as i64, NAMES[(i % 4) as usize])),
                opts,
            ));
            std::future::poll_fn(|cx| {
                let t = Instant::now();
                let p = load.as_mut().poll(cx);
                polls.push(t.elapsed().as_secs_f64() * 1e6);
                p
            })
            .await
            .expect("execute_many")
        };
        let t1 = Instant::now();
        let cpu = cpu_clock::process_cpu() - c0;
        assert!(r.is_complete());
        assert_eq!(r.rows_done, n);
        (conn, t0, t1, cpu, poll_stats(polls))
    });
    let (conn, t0, t1, cpu, polls) = loader.await.expect("load task");
    stop.store(true, Ordering::Relaxed);
    let mut lat = Lat::default();
    if let Some(prober) = prober {
        let p = prober.await.expect("probe task");
        lat = lat_stats(&p.lat, t0, t1);
        *probe = Some(p);
    }
    *load = Some(conn);
    LoadRun {
        rows_per_s: n as f64 / (t1 - t0).as_secs_f64(),
        cpu_us_per_row: cpu.as_secs_f64() * 1e6 / n as f64,
        lat,
        polls,
    }
}

/// The probe alone for `BASELINE`; also returns the client CPU per round trip.
async fn baseline(probe: &mut Option<Probe>) -> (Lat, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let c0 = cpu_clock::process_cpu();
    let t0 = Instant::now();
    let prober = tokio::spawn(probe_loop(
        probe.take().expect("probe connection"),
        stop.clone(),
    ));
    tokio::time::sleep(BASELINE).await;
    let t1 = Instant::now();
    stop.store(true, Ordering::Relaxed);
    let p = prober.await.expect("probe task");
    let cpu = cpu_clock::process_cpu() - c0;
    let lat = lat_stats(&p.lat, t0, t1);
    let cpu_per = cpu.as_secs_f64() * 1e6 / p.lat.len().max(1) as f64;
    *probe = Some(p);
    (lat, cpu_per)
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn print_lat_line(label: &str, rate: Option<(f64, f64)>, l: &Lat, polls: Option<&Polls>) {
    let (rps, cpu) = match rate {
        Some((r, c)) => (format!("{r:.0}"), format!("{c:.3}")),
        None => ("-".into(), "-".into()),
    };
    let polls = match polls {
        Some(p) => format!("{:>7} {:>8.0} {:>8.0}", p.count, p.p99_us, p.max_us),
        None => String::new(),
    };
    println!(
        "  {label:<16} {rps:>9} {cpu:>8} {:>7} {:>7.0} {:>8.1} {:>8.1} {:>8.1} {:>9.1} {polls}",
        l.count, l.per_s, l.p50, l.p99, l.p999, l.max
    );
}

fn run_flavour(name: &str, rt: &tokio::runtime::Runtime, cfg: &Config, n: u64, pairs: u32) {
    println!("\n== {name} ==");
    println!(
        "  {:<16} {:>9} {:>8} {:>7} {:>7} {:>8} {:>8} {:>8} {:>9} {:>7} {:>8} {:>8}",
        "run",
        "rows/s",
        "µs/row",
        "SELECT1",
        "per s",
        "p50 µs",
        "p99 µs",
        "p99.9",
        "max µs",
        "polls",
        "poll p99",
        "poll max"
    );
    rt.block_on(async {
        let mut load = Some(Connection::connect(cfg).await.expect("connect"));
        let mut conn = Connection::connect(cfg).await.expect("connect");
        let stmt = conn.prepare("SELECT 1").await.expect("prepare");
        let mut probe = Some(Probe {
            conn,
            stmt,
            lat: Vec::new(),
        });
        // Warm up the server, the table and both code paths (not reported).
        for on in [true, false] {
            load_with_probe(&mut load, &mut probe, n / 10, on, true).await;
        }
        let mut base: Vec<Lat> = Vec::new();
        let mut base_cpu: Vec<f64> = Vec::new();
        // [io_tick on, off] with the probe beside, then alone.
        let mut with: [Vec<LoadRun>; 2] = [Vec::new(), Vec::new()];
        let mut alone: [Vec<LoadRun>; 2] = [Vec::new(), Vec::new()];
        for k in 0..pairs {
            let (b, c) = baseline(&mut probe).await;
            print_lat_line(&format!("baseline {k}"), None, &b, None);
            base.push(b);
            base_cpu.push(c);
            let order = if k % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            };
            for with_probe in [true, false] {
                for on in order {
                    let r = load_with_probe(&mut load, &mut probe, n, on, with_probe).await;
                    let label = format!(
                        "{} {}{k}",
                        if on { "on " } else { "off" },
                        if with_probe { "+SELECT1 " } else { "alone " }
                    );
                    print_lat_line(
                        &label,
                        Some((r.rows_per_s, r.cpu_us_per_row)),
                        &r.lat,
                        Some(&r.polls),
                    );
                    let runs = if with_probe { &mut with } else { &mut alone };
                    runs[usize::from(!on)].push(r);
                }
            }
        }

        // Medians per setting.
        println!("  medians:");
        let med_lat = |v: &[Lat]| Lat {
            count: median(v.iter().map(|l| l.count as f64).collect()) as usize,
            per_s: median(v.iter().map(|l| l.per_s).collect()),
            p50: median(v.iter().map(|l| l.p50).collect()),
            p99: median(v.iter().map(|l| l.p99).collect()),
            p999: median(v.iter().map(|l| l.p999).collect()),
            max: median(v.iter().map(|l| l.max).collect()),
        };
        let rate = |runs: &[LoadRun]| {
            (
                median(runs.iter().map(|r| r.rows_per_s).collect()),
                median(runs.iter().map(|r| r.cpu_us_per_row).collect()),
            )
        };
        let med_polls = |runs: &[LoadRun]| Polls {
            count: median(runs.iter().map(|r| r.polls.count as f64).collect()) as usize,
            p99_us: median(runs.iter().map(|r| r.polls.p99_us).collect()),
            max_us: median(runs.iter().map(|r| r.polls.max_us).collect()),
        };
        print_lat_line("baseline", None, &med_lat(&base), None);
        for (i, label) in [(0, "on +SELECT1"), (1, "off +SELECT1")] {
            let lats: Vec<Lat> = with[i].iter().map(|r| r.lat).collect();
            print_lat_line(
                label,
                Some(rate(&with[i])),
                &med_lat(&lats),
                Some(&med_polls(&with[i])),
            );
        }
        for (i, label) in [(0, "on alone"), (1, "off alone")] {
            print_lat_line(
                label,
                Some(rate(&alone[i])),
                &Lat::default(),
                Some(&med_polls(&alone[i])),
            );
        }
        println!(
            "  probe CPU per SELECT 1 (baseline): {:.1} µs",
            median(base_cpu)
        );
        println!("  on/off per pair: with SELECT 1 (rows/s, CPU/row, SELECT 1 count, p50, p99, p99.9, max); alone (rows/s, CPU/row)");
        for k in 0..with[0].len() {
            let (a, b) = (&with[0][k], &with[1][k]);
            let (c, d) = (&alone[0][k], &alone[1][k]);
            println!(
                "    pair {k}: {:.2}x {:.2}x {:.2}x {:.2}x {:.2}x {:.2}x {:.2}x; alone {:.2}x {:.2}x",
                a.rows_per_s / b.rows_per_s,
                a.cpu_us_per_row / b.cpu_us_per_row,
                a.lat.count as f64 / b.lat.count as f64,
                a.lat.p50 / b.lat.p50,
                a.lat.p99 / b.lat.p99,
                a.lat.p999 / b.lat.p999,
                a.lat.max / b.lat.max,
                c.rows_per_s / d.rows_per_s,
                c.cpu_us_per_row / d.cpu_us_per_row,
            );
        }
    });
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let pairs: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let cluster = TempCluster::start(ClusterOptions::default()).expect("cluster");
    let mut cfg = Config::new();
    cfg.host(cluster.host())
        .port(cluster.port())
        .user("postgres")
        .dbname("postgres")
        .ssl_mode(SslMode::Disable);
    let setup = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    setup.block_on(async {
        let mut pg = Connection::connect(&cfg).await.expect("connect");
        pg.batch_execute("CREATE UNLOGGED TABLE t (id int8, name text)")
            .await
            .expect("create");
    });
    drop(setup);
    println!(
        "{n} rows per load, {pairs} on/off pairs per runtime flavour; loopback TCP; SELECT 1 {}",
        match pace() {
            Some(p) if external() => format!("every {p:?} (paced by an OS thread)"),
            Some(p) => format!("every {p:?} (paced by tokio's timer)"),
            None => "in a tight loop".into(),
        }
    );
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    run_flavour("current_thread", &current, &cfg, n, pairs);
    drop(current);
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    run_flavour("multi_thread, 2 workers", &multi, &cfg, n, pairs);
    drop(multi);
    cluster.stop();
}
