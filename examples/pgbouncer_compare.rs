//! What pooler-safe mode costs, and what PgBouncer costs: `execute_many` and COPY through
//! a real PgBouncer 1.18 (transaction pooling, one server connection) against a direct
//! connection, in one process, against a throwaway cluster this example starts itself.
//!
//! `cargo run --release --example pgbouncer_compare [-- ROWS]` (default 100,000 rows of
//! `t(id int8, v text)`), three interleaved rounds, medians of rows/s and client CPU µs/row:
//!
//! - `execute_many` (one transaction) on a direct connection in the default mode (named,
//!   cached statement) and in pooler-safe mode (`statement_cache_capacity=0`: the unnamed
//!   statement parsed again at the start of every Sync window), and through PgBouncer in
//!   pooler-safe mode;
//! - the same with `Atomicity::Batches(1000)` (a window per 1,000 rows, each committed on
//!   its own, so each may land on another server connection);
//! - text COPY FROM STDIN, direct and through PgBouncer.
//!
//! Needs Debian's `pgbouncer` package (`apt-get install -y pgbouncer`).

use std::time::{Duration, Instant};

use pgline::cluster::{ClusterOptions, TempCluster, SUPERUSER};
use pgline::conn::{Atomicity, ExecuteManyOptions};
use pgline::Connection;

#[path = "shared/samples.rs"]
mod samples;
use samples::Samples;
#[path = "../src/bin/pgline/cpu.rs"]
mod cpu_clock;
// The test harness's PgBouncer, shared as is.
#[allow(dead_code, unreachable_pub)]
#[path = "../tests/it/support/pgbouncer.rs"]
mod pgbouncer;

use pgbouncer::{PgBouncerOptions, TempPgBouncer};

/// What `pgbouncer::pgbouncer()` (unused here) expects of its parent module.
#[allow(dead_code)]
struct Server(u16);
#[allow(dead_code)]
impl Server {
    fn host(&self) -> &str {
        "127.0.0.1"
    }
    fn port(&self) -> u16 {
        self.0
    }
}
#[allow(dead_code)]
fn server() -> &'static Server {
    unreachable!("the example starts its own PgBouncer")
}

fn cpu() -> Duration {
    cpu_clock::process_cpu()
}

async fn connect(url: &str) -> Connection {
    Connection::connect_str(url)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"))
}

async fn reset(admin: &mut Connection) {
    admin.batch_execute("TRUNCATE t").await.unwrap();
}

async fn load(url: &str, n: i64, atomicity: Atomicity, s: &mut Samples) {
    let mut c = connect(url).await;
    let rows = (0..n).map(|i| (i, format!("row {i}")));
    let opts = ExecuteManyOptions::with_atomicity(atomicity);
    let c0 = cpu();
    let t0 = Instant::now();
    let r = c
        .execute_many_with("INSERT INTO t (id, v) VALUES ($1, $2)", rows, opts)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    s.add(u64::try_from(n).unwrap(), t0.elapsed(), cpu() - c0);
    assert!(r.is_complete(), "{url}: {r}");
}

async fn copy(url: &str, data: &[u8], n: i64, s: &mut Samples) {
    let mut c = connect(url).await;
    let c0 = cpu();
    let t0 = Instant::now();
    let mut w = c
        .copy_in("COPY t (id, v) FROM STDIN")
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    for chunk in data.chunks(256 * 1024) {
        w.write(chunk).await.unwrap();
    }
    let got = w.finish().await.unwrap();
    s.add(u64::try_from(n).unwrap(), t0.elapsed(), cpu() - c0);
    assert_eq!(got, u64::try_from(n).unwrap());
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: i64 = std::env::args()
        .nth(1)
        .map_or(100_000, |a| a.parse().expect("ROWS is a number"));
    let cluster = TempCluster::start(ClusterOptions::default()).expect("start a cluster");
    let bouncer =
        TempPgBouncer::start(cluster.host(), cluster.port(), &PgBouncerOptions::default())
            .expect("start pgbouncer (apt-get install -y pgbouncer)");
    let direct = format!(
        "{}?sslmode=disable",
        cluster.url(SUPERUSER, None, "postgres")
    );
    let direct_safe = format!("{direct}&statement_cache_capacity=0");
    let bounced = bouncer.url(SUPERUSER, "postgres", "statement_cache_capacity=0");
    let mut admin = connect(&direct).await;
    admin
        .batch_execute("CREATE TABLE t (id int8, v text)")
        .await
        .unwrap();
    let data: Vec<u8> = (0..n)
        .flat_map(|i| format!("{i}\trow {i}\n").into_bytes())
        .collect();

    let cases = [
        (
            "execute_many, direct, default mode",
            &direct,
            Some(Atomicity::All),
        ),
        (
            "execute_many, direct, pooler-safe",
            &direct_safe,
            Some(Atomicity::All),
        ),
        (
            "execute_many, PgBouncer, pooler-safe",
            &bounced,
            Some(Atomicity::All),
        ),
        (
            "execute_many Batches(1000), direct, default",
            &direct,
            Some(Atomicity::Batches(1000)),
        ),
        (
            "execute_many Batches(1000), direct, pooler-safe",
            &direct_safe,
            Some(Atomicity::Batches(1000)),
        ),
        (
            "execute_many Batches(1000), PgBouncer, pooler-safe",
            &bounced,
            Some(Atomicity::Batches(1000)),
        ),
        ("COPY text, direct", &direct, None),
        ("COPY text, PgBouncer", &bounced, None),
    ];
    let mut samples: Vec<Samples> = cases.iter().map(|_| Samples::default()).collect();
    for round in 0..3 {
        for ((_, url, atomicity), s) in cases.iter().zip(samples.iter_mut()) {
            reset(&mut admin).await;
            match atomicity {
                Some(a) => load(url, n, *a, s).await,
                None => copy(url, &data, n, s).await,
            }
        }
        println!("round {} done", round + 1);
    }
    println!("\n{n} rows, medians of 3 runs (rows/s, client CPU µs/row):");
    for ((name, _, _), s) in cases.iter().zip(&samples) {
        println!(
            "  {name:<52} {:>10.0} rows/s  {:>6.2} µs/row",
            s.rate(),
            s.cpu()
        );
    }
    let ratio = |a: usize, b: usize| samples[a].rate() / samples[b].rate();
    println!("\nratios of rows/s:");
    println!(
        "  pooler-safe / default, direct, one transaction: {:.2}",
        ratio(1, 0)
    );
    println!(
        "  PgBouncer / direct, pooler-safe, one transaction: {:.2}",
        ratio(2, 1)
    );
    println!(
        "  PgBouncer pooler-safe / direct default, one transaction: {:.2}",
        ratio(2, 0)
    );
    println!(
        "  pooler-safe / default, direct, Batches(1000): {:.2}",
        ratio(4, 3)
    );
    println!(
        "  PgBouncer / direct, pooler-safe, Batches(1000): {:.2}",
        ratio(5, 4)
    );
    println!("  COPY PgBouncer / direct: {:.2}", ratio(7, 6));
    drop(admin);
    bouncer.stop();
    cluster.stop();
}
