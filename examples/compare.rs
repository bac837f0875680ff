//! pgline against tokio-postgres, side by side in one process, against a throwaway
//! PostgreSQL cluster this example starts itself.
//!
//! `cargo run --release --example compare [-- ROWS]` (default 100,000 rows) into
//! `t(id int8, name text, score float8, created timestamptz)`, interleaved, three runs each:
//! pgline `execute_many` (one transaction), tokio-postgres pipelined `execute` futures (one
//! transaction), pgline binary COPY, tokio-postgres binary COPY, prepared `SELECT 1` x
//! 20,000 (p50 latency), a 1,000,000-row read, and whole columns bound as arrays
//! (`INSERT ... SELECT * FROM UNNEST($1::int8[], ...)`: pgline `insert_unnest` against
//! tokio-postgres `execute` with the same `Vec`s, 100,000 and 1,000,000 rows; the columns
//! are built before timing). Prints rows/s and client CPU µs/row
//! (this process, all threads), medians, and pgline/tokio-postgres ratios. The ceiling for
//! the insert path (every Bind/Execute encoded before timing, one Sync, a raw socket) runs
//! next to `execute_many` in each round, and so does asyncpg's `executemany` (the peer the
//! performance anchors name, run by `shared/asyncpg_executemany.py` in a child process)
//! when python3 has asyncpg. `PGLINE_PIN=1` pins the server to CPU 0 and the client to
//! CPU 1, as the anchors were measured; `PGLINE_IO_TICK_US` sets `execute_many`'s longest
//! polled-IO tick (0: event-driven). `PGLINE_COMPARE_ONLY=unnest` runs only the UNNEST
//! case.
//!
//! The cluster serves TLS too (a CA and a certificate for `localhost`/`127.0.0.1` made with
//! rcgen for this run), so each round also runs `execute_many` and tokio-postgres'
//! pipelined inserts over TLS, both verifying the server alike (pgline
//! `sslmode=verify-full&sslrootcert=<ca.pem>`; tokio-postgres with a rustls configuration
//! that trusts only that CA), and at the end 200 interleaved sequential connect+close
//! cycles per client, over TLS and in plaintext, give p50/p99 latencies. Every other
//! section stays in plaintext (`sslmode=disable`, `NoTls`, `PGSSLMODE=disable` for asyncpg).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::{pin_mut, StreamExt, TryStreamExt};
use pgline::cluster::{ClusterOptions, TempCluster};
use pgline::conn::{ExecuteManyOptions, SslMode};
use pgline::types::oid;
use pgline::{Config, Connection};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::types::Type;
use tokio_postgres::NoTls;

// One CPU clock for the CLI and the examples.
#[path = "shared/samples.rs"]
mod samples;
use samples::Samples;
#[path = "../src/bin/pgline/cpu.rs"]
mod cpu_clock;
#[path = "shared/insert.rs"]
mod insert;
#[path = "shared/pin.rs"]
mod pin;
#[path = "shared/tls.rs"]
mod tls;

use insert::{ceiling_run, row};

fn cpu() -> Duration {
    cpu_clock::process_cpu()
}

async fn measure<F, Fut>(units: u64, s: &mut Samples, f: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let c0 = cpu();
    let t0 = Instant::now();
    f().await;
    s.add(units, t0.elapsed(), cpu() - c0);
}

/// One asyncpg `executemany` load by `shared/asyncpg_executemany.py`; false (and nothing
/// recorded) when python3 or asyncpg is missing or the run fails.
fn asyncpg_run(host: &str, port: u16, n: u64, s: &mut Samples) -> bool {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/shared/asyncpg_executemany.py"
    );
    // Plaintext like the other peers: asyncpg's default sslmode is `prefer`, and the
    // cluster serves TLS.
    let out = std::process::Command::new("python3")
        .args([script, host, &port.to_string(), &n.to_string()])
        .env("PGSSLMODE", "disable")
        .output();
    let Ok(out) = out else { return false };
    if !out.status.success() {
        if out.status.code() != Some(3) {
            eprintln!(
                "asyncpg run failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        return false;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut f = text
        .split_whitespace()
        .filter_map(|v| v.parse::<f64>().ok());
    match (f.next(), f.next()) {
        (Some(wall), Some(cpu)) => {
            s.add(
                n,
                Duration::from_secs_f64(wall),
                Duration::from_secs_f64(cpu),
            );
            true
        }
        _ => false,
    }
}

fn p50(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// `execute_many` of the workload's `n` rows in one transaction (pgline's bulk insert).
async fn pgline_execute_many(
    pg: &mut Connection,
    insert: &str,
    n: u64,
    base: SystemTime,
    opts: ExecuteManyOptions,
) {
    let r = pg
        .execute_many_with(insert, (0..n).map(|i| row(i, base)), opts)
        .await
        .expect("execute_many");
    assert!(r.is_complete());
}

/// tokio-postgres' fastest insert path for the same rows: prepared `execute` futures, all in
/// flight at once and polled together, in one transaction.
async fn tp_pipelined(tp: &tokio_postgres::Client, insert: &str, n: u64, base: SystemTime) {
    tp.batch_execute("BEGIN").await.unwrap();
    let stmt = tp.prepare(insert).await.unwrap();
    // Pipelined: all futures in flight at once, polled together.
    let futs = futures::stream::iter((0..n).map(|i| {
        let stmt = &stmt;
        async move {
            let (a, b, c, d) = row(i, base);
            tp.execute(stmt, &[&a, &b, &c, &d]).await.unwrap();
        }
    }))
    .buffer_unordered(4096);
    futs.collect::<Vec<()>>().await;
    tp.batch_execute("COMMIT").await.unwrap();
}

/// The workload's rows as columns, for the UNNEST case (built before timing).
struct Columns {
    ids: Vec<i64>,
    names: Vec<String>,
    scores: Vec<f64>,
    created: Vec<SystemTime>,
}

impl Columns {
    fn new(n: u64, base: SystemTime) -> Self {
        let mut c = Self {
            ids: Vec::with_capacity(n as usize),
            names: Vec::with_capacity(n as usize),
            scores: Vec::with_capacity(n as usize),
            created: Vec::with_capacity(n as usize),
        };
        for i in 0..n {
            let (a, b, s, d) = row(i, base);
            c.ids.push(a);
            c.names.push(b.to_owned());
            c.scores.push(s);
            c.created.push(d);
        }
        c
    }
}

const UNNEST_INSERT: &str = "INSERT INTO t (id, name, score, created) \
     SELECT * FROM UNNEST($1::int8[], $2::text[], $3::float8[], $4::timestamptz[])";

/// Checks that `t` holds exactly rows `0..n` of the workload: count and sums.
async fn check_rows(pg: &mut Connection, n: u64, base: SystemTime) {
    let r = pg
        .query_one(
            "SELECT count(*), sum(id)::int8, sum(length(name))::int8, sum(score), \
             min(created), max(created) FROM t",
            &[],
        )
        .await
        .expect("check rows");
    let (mut ids, mut lens, mut scores) = (0i64, 0i64, 0f64);
    for i in 0..n {
        let (a, b, s, _) = row(i, base);
        ids += a;
        lens += b.len() as i64;
        scores += s;
    }
    assert_eq!(r.get::<i64>(0).unwrap(), n as i64, "row count");
    assert_eq!(r.get::<i64>(1).unwrap(), ids, "sum(id)");
    assert_eq!(r.get::<i64>(2).unwrap(), lens, "sum(length(name))");
    assert_eq!(r.get::<f64>(3).unwrap(), scores, "sum(score)");
    assert_eq!(
        r.get::<SystemTime>(4).unwrap(),
        row(0, base).3,
        "min(created)"
    );
    assert_eq!(
        r.get::<SystemTime>(5).unwrap(),
        row(n - 1, base).3,
        "max(created)"
    );
}

/// pgline `insert_unnest` against tokio-postgres `execute` of the same UNNEST statement
/// with the same `Vec`s, interleaved, three rounds per size; each load checked.
async fn unnest_case(
    pg: &mut Connection,
    tp: &tokio_postgres::Client,
    base: SystemTime,
) -> Vec<(u64, Samples, Samples)> {
    let mut out = Vec::new();
    for n in [100_000u64, 1_000_000] {
        let cols = Columns::new(n, base);
        let (mut ps, mut ts) = (Samples::default(), Samples::default());
        for _ in 0..3 {
            pg.batch_execute("TRUNCATE t").await.unwrap();
            measure(n, &mut ps, || async {
                let done = pg
                    .insert_unnest(
                        "t",
                        &["id", "name", "score", "created"],
                        &[&cols.ids, &cols.names, &cols.scores, &cols.created],
                    )
                    .await
                    .expect("insert_unnest");
                assert_eq!(done, n);
            })
            .await;
            check_rows(pg, n, base).await;

            pg.batch_execute("TRUNCATE t").await.unwrap();
            measure(n, &mut ts, || async {
                let done = tp
                    .execute(
                        UNNEST_INSERT,
                        &[&cols.ids, &cols.names, &cols.scores, &cols.created],
                    )
                    .await
                    .expect("tokio-postgres UNNEST");
                assert_eq!(done, n);
            })
            .await;
            check_rows(pg, n, base).await;
        }
        out.push((n, ps, ts));
    }
    out
}

fn print_unnest(results: &[(u64, Samples, Samples)]) {
    for (n, ps, ts) in results {
        println!(
            "{:<40} {:>12.0} {:>12.3}",
            format!("pgline insert_unnest, {n} rows"),
            ps.rate(),
            ps.cpu()
        );
        println!(
            "{:<40} {:>12.0} {:>12.3}",
            format!("tokio-postgres UNNEST execute, {n} rows"),
            ts.rate(),
            ts.cpu()
        );
        println!(
            "{:<40} {:>40.2}x rows/s, {:.2}x CPU",
            "  ratio",
            ps.rate() / ts.rate(),
            ps.cpu() / ts.cpu()
        );
    }
}

/// The TLS protocol and cipher the server reports for the asking connection's backend.
const SSL_INFO: &str =
    "SELECT version || ' ' || cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl";

/// Wall time per connect+close, and the client CPU they used in all.
#[derive(Default)]
struct Connects {
    wall: Vec<Duration>,
    cpu: Duration,
}

impl Connects {
    async fn time(&mut self, f: impl std::future::Future<Output = ()>) {
        let c0 = cpu();
        let t0 = Instant::now();
        f.await;
        self.wall.push(t0.elapsed());
        self.cpu += cpu() - c0;
    }

    /// (p50, p99) wall time.
    fn quantiles(&self) -> (Duration, Duration) {
        let mut v = self.wall.clone();
        v.sort();
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        (at(0.5), at(0.99))
    }

    fn cpu_per(&self) -> Duration {
        self.cpu / self.wall.len() as u32
    }
}

/// pgline: connect (TLS as `cfg` says), then Terminate and close.
async fn pgline_connect_close(cfg: &Config) {
    let c = Connection::connect(cfg).await.expect("pgline connect");
    c.close().await.expect("pgline close");
}

/// tokio-postgres: connect, then drop the client, which makes the connection future send
/// Terminate and finish; it is driven here rather than spawned.
async fn tp_connect_close<T>(cfg: &tokio_postgres::Config, tls: T)
where
    T: MakeTlsConnect<tokio_postgres::Socket>,
{
    let (client, conn) = cfg.connect(tls).await.expect("tokio-postgres connect");
    drop(client);
    conn.await.expect("tokio-postgres close");
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let tls_files = tls::TlsMaterial::generate();
    let cluster = TempCluster::start(ClusterOptions {
        tls: Some(tls_files.server()),
        ..ClusterOptions::default()
    })
    .expect("cluster");
    let pinned = pin::pin_if_asked(&cluster);
    let mut cfg = Config::new();
    // The plaintext sections stay plaintext: pgline's default sslmode is `prefer`.
    cfg.host(cluster.host())
        .port(cluster.port())
        .user("postgres")
        .dbname("postgres")
        .ssl_mode(SslMode::Disable);
    let mut pg = Connection::connect(&cfg).await.expect("pgline connect");
    assert!(!pg.is_tls());
    let tp_str = format!(
        "host={} port={} user=postgres dbname=postgres",
        cluster.host(),
        cluster.port()
    );
    let (tp, tp_conn) = tokio_postgres::connect(&tp_str, NoTls)
        .await
        .expect("tokio-postgres connect");
    tokio::spawn(tp_conn);

    // The same server over TLS, verified alike on both sides: the CA of this run as the
    // only root, and the host name (127.0.0.1, an IP SAN of the certificate).
    let tls_url = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        cluster.url("postgres", None, "postgres"),
        tls::url_path(&tls_files.ca_path())
    );
    let tls_cfg: Config = tls_url.parse().expect("TLS URL");
    let mut pg_tls = Connection::connect(&tls_cfg)
        .await
        .expect("pgline TLS connect");
    assert!(pg_tls.is_tls());
    let tp_tls_cfg: tokio_postgres::Config = format!("{tp_str} sslmode=require")
        .parse()
        .expect("tokio-postgres TLS config");
    let tp_tls_connector = tls_files.tokio_postgres_connector();
    let (tp_tls, tp_tls_conn) = tp_tls_cfg
        .connect(tp_tls_connector.clone())
        .await
        .expect("tokio-postgres TLS connect");
    tokio::spawn(tp_tls_conn);
    let ssl_info = pg_tls.prepare(SSL_INFO).await.unwrap();
    let pg_ssl: String = pg_tls
        .query_one(&ssl_info, &[])
        .await
        .expect("pgline's backend is on TLS")
        .get::<&str>(0)
        .unwrap()
        .to_owned();
    let tp_ssl: String = tp_tls
        .query_one(SSL_INFO, &[])
        .await
        .expect("tokio-postgres' backend is on TLS")
        .get(0);
    pg.batch_execute(
        "CREATE UNLOGGED TABLE t (id int8, name text, score float8, created timestamptz)",
    )
    .await
    .expect("create");
    let base = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    // PGLINE_SYNC_EVERY overrides the rows per intermediate Sync (for experiments).
    let mut em_opts = insert::execute_many_options();
    if let Some(v) = std::env::var("PGLINE_SYNC_EVERY")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        em_opts.sync_every = v;
    }
    // PGLINE_WINDOW_KIB overrides the write window (for experiments).
    if let Some(v) = std::env::var("PGLINE_WINDOW_KIB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        em_opts.window_bytes = v * 1024;
        em_opts.window_rows = v * 64;
    }
    let insert = "INSERT INTO t (id, name, score, created) VALUES ($1, $2, $3, $4)";

    if std::env::var("PGLINE_COMPARE_ONLY").as_deref() == Ok("unnest") {
        let results = unnest_case(&mut pg, &tp, base).await;
        println!(
            "\nUNNEST only; medians of 3 interleaved runs; CPU = the client process, all threads{}\n",
            if pinned { "; server on CPU 0, client on CPU 1" } else { "" }
        );
        println!(
            "{:<40} {:>12} {:>12} {:>14}",
            "case", "rows/s", "µs CPU/row", "pgline / tp"
        );
        print_unnest(&results);
        drop((pg, pg_tls));
        cluster.stop();
        return;
    }

    let (mut em, mut tpp, mut pcopy, mut tcopy) = (
        Samples::default(),
        Samples::default(),
        Samples::default(),
        Samples::default(),
    );
    // The ceiling: every Bind/Execute pre-encoded before timing, one Sync, written while
    // the responses are read (what the server allows with no client work per row). Run
    // next to execute_many in each round, since the server's pace drifts on this machine.
    let mut ceiling = Samples::default();
    let (mut apg, mut asyncpg_ok) = (Samples::default(), true);
    let (mut em_tls, mut tpp_tls) = (Samples::default(), Samples::default());
    for _ in 0..3 {
        pg.batch_execute("TRUNCATE t").await.unwrap();
        let (wall, cpu_used) = ceiling_run(cluster.port(), insert, n, base).await;
        ceiling.add(n, wall, cpu_used);

        pg.batch_execute("TRUNCATE t").await.unwrap();
        measure(n, &mut em, || {
            pgline_execute_many(&mut pg, insert, n, base, em_opts)
        })
        .await;

        pg.batch_execute("TRUNCATE t").await.unwrap();
        measure(n, &mut tpp, || tp_pipelined(&tp, insert, n, base)).await;

        // The same two over TLS.
        pg.batch_execute("TRUNCATE t").await.unwrap();
        measure(n, &mut em_tls, || {
            pgline_execute_many(&mut pg_tls, insert, n, base, em_opts)
        })
        .await;

        pg.batch_execute("TRUNCATE t").await.unwrap();
        measure(n, &mut tpp_tls, || tp_pipelined(&tp_tls, insert, n, base)).await;

        // asyncpg's executemany in a child process (on the same CPU when pinned).
        if asyncpg_ok {
            asyncpg_ok = asyncpg_run(cluster.host(), cluster.port(), n, &mut apg);
        }

        pg.batch_execute("TRUNCATE t").await.unwrap();
        measure(n, &mut pcopy, || async {
            let w = pg
                .copy_in("COPY t (id, name, score, created) FROM STDIN (FORMAT binary)")
                .await
                .unwrap();
            let mut w = w
                .binary(&[oid::INT8, oid::TEXT, oid::FLOAT8, oid::TIMESTAMPTZ])
                .unwrap();
            for i in 0..n {
                w.write_row(&row(i, base)).await.unwrap();
            }
            assert_eq!(w.finish().await.unwrap(), n);
        })
        .await;

        pg.batch_execute("TRUNCATE t").await.unwrap();
        measure(n, &mut tcopy, || async {
            let sink = tp
                .copy_in("COPY t (id, name, score, created) FROM STDIN (FORMAT binary)")
                .await
                .unwrap();
            let w = BinaryCopyInWriter::new(
                sink,
                &[Type::INT8, Type::TEXT, Type::FLOAT8, Type::TIMESTAMPTZ],
            );
            pin_mut!(w);
            for i in 0..n {
                let (a, b, c, d) = row(i, base);
                w.as_mut().write(&[&a, &b, &c, &d]).await.unwrap();
            }
            assert_eq!(w.finish().await.unwrap(), n);
        })
        .await;
    }

    // Whole columns bound as arrays, 100,000 and 1,000,000 rows.
    let unnest = unnest_case(&mut pg, &tp, base).await;

    // Prepared SELECT 1, sequential round trips.
    let q = 20_000u64;
    let (mut ps, mut ts) = (Samples::default(), Samples::default());
    let (mut p_lat, mut t_lat) = (Vec::new(), Vec::new());
    let pstmt = pg.prepare("SELECT 1").await.unwrap();
    let tstmt = tp.prepare("SELECT 1").await.unwrap();
    for _ in 0..3 {
        measure(q / 3, &mut ps, || async {
            for _ in 0..q / 3 {
                let t = Instant::now();
                let r = pg.query_one(&pstmt, &[]).await.unwrap();
                assert_eq!(r.get::<i32>(0).unwrap(), 1);
                p_lat.push(t.elapsed());
            }
        })
        .await;
        measure(q / 3, &mut ts, || async {
            for _ in 0..q / 3 {
                let t = Instant::now();
                let r = tp.query_one(&tstmt, &[]).await.unwrap();
                assert_eq!(r.get::<_, i32>(0), 1);
                t_lat.push(t.elapsed());
            }
        })
        .await;
    }

    // Read 1,000,000 rows of (int8, text, float8).
    let big = "SELECT g::int8, 'row ' || g, g * 0.5::float8 FROM generate_series(1, 1000000) g";
    let (mut pr, mut tr) = (Samples::default(), Samples::default());
    let pbig = pg.prepare(big).await.unwrap();
    let tbig = tp.prepare(big).await.unwrap();
    for _ in 0..3 {
        measure(1_000_000, &mut pr, || async {
            let mut s = pg.query_stream(&pbig, &[], 0).await.unwrap();
            let mut sum = 0i64;
            while let Some(r) = s.next().await.unwrap() {
                sum += r.get::<i64>(0).unwrap();
                let _ = r.get::<&str>(1).unwrap();
                let _ = r.get::<f64>(2).unwrap();
            }
            assert_eq!(sum, 500_000_500_000);
        })
        .await;
        measure(1_000_000, &mut tr, || async {
            let s = tp
                .query_raw(&tbig, std::iter::empty::<i64>())
                .await
                .unwrap();
            pin_mut!(s);
            let mut sum = 0i64;
            while let Some(r) = s.try_next().await.unwrap() {
                sum += r.get::<_, i64>(0);
                let _: &str = r.get(1);
                let _: f64 = r.get(2);
            }
            assert_eq!(sum, 500_000_500_000);
        })
        .await;
    }

    // Connect+close latency, sequential, the four kinds interleaved. tokio-postgres reuses
    // one rustls ClientConfig (and so its memory of the server's key-exchange group, and
    // any session ticket); pgline builds its rustls configuration per connect from the
    // Config, reading sslrootcert as libpq does.
    let connects = 200;
    let tp_cfg: tokio_postgres::Config = tp_str.parse().expect("tokio-postgres config");
    let (mut pc_tls, mut tc_tls) = (Connects::default(), Connects::default());
    let (mut pc, mut tc) = (Connects::default(), Connects::default());
    for _ in 0..connects {
        Connects::time(&mut pc_tls, pgline_connect_close(&tls_cfg)).await;
        Connects::time(
            &mut tc_tls,
            tp_connect_close(&tp_tls_cfg, tp_tls_connector.clone()),
        )
        .await;
        Connects::time(&mut pc, pgline_connect_close(&cfg)).await;
        Connects::time(&mut tc, tp_connect_close(&tp_cfg, NoTls)).await;
    }

    println!(
        "\n{n} rows per load; medians of 3 interleaved runs; CPU = the client process, all threads{}\n",
        if pinned { "; server on CPU 0, client on CPU 1" } else { "" }
    );
    println!(
        "{:<40} {:>12} {:>12} {:>14}",
        "case", "rows/s", "µs CPU/row", "pgline / tp"
    );
    let line =
        |name: &str, s: &Samples| println!("{:<40} {:>12.0} {:>12.3}", name, s.rate(), s.cpu());
    // pgline's case against a peer's, same rounds.
    let ratio = |ours: &Samples, theirs: &Samples| {
        println!(
            "{:<40} {:>40.2}x rows/s, {:.2}x CPU",
            "  ratio",
            ours.rate() / theirs.rate(),
            ours.cpu() / theirs.cpu()
        )
    };
    line("ceiling: pre-encoded Bind/Execute, 1 Sync", &ceiling);
    line("pgline execute_many (1 tx)", &em);
    println!(
        "{:<40} {:>40.0}% of the ceiling",
        "",
        em.rate() / ceiling.rate() * 100.0
    );
    line("tokio-postgres pipelined execute (1 tx)", &tpp);
    ratio(&em, &tpp);
    if apg.is_empty() {
        println!("asyncpg executemany: not run (needs python3 with asyncpg: pip install asyncpg)");
    } else {
        line("asyncpg executemany (1 tx)", &apg);
        ratio(&em, &apg);
    }
    line("pgline binary COPY", &pcopy);
    line("tokio-postgres binary COPY", &tcopy);
    ratio(&pcopy, &tcopy);
    print_unnest(&unnest);
    line("pgline read 1M rows", &pr);
    line("tokio-postgres read 1M rows", &tr);
    ratio(&pr, &tr);
    let (pp, tt) = (p50(p_lat), p50(t_lat));
    println!(
        "prepared SELECT 1 p50: pgline {:.1} µs, tokio-postgres {:.1} µs ({:.2}x); CPU/query {:.1} vs {:.1} µs",
        pp.as_secs_f64() * 1e6,
        tt.as_secs_f64() * 1e6,
        pp.as_secs_f64() / tt.as_secs_f64(),
        ps.cpu(),
        ts.cpu()
    );
    println!(
        "\nTLS: pgline {pg_ssl}, tokio-postgres {tp_ssl}; both verify-full against this run's CA"
    );
    line("pgline execute_many over TLS (1 tx)", &em_tls);
    println!(
        "{:<40} {:>40.0}% of its plaintext rate",
        "",
        em_tls.rate() / em.rate() * 100.0
    );
    line("tokio-postgres pipelined over TLS", &tpp_tls);
    println!(
        "{:<40} {:>40.0}% of its plaintext rate",
        "",
        tpp_tls.rate() / tpp.rate() * 100.0
    );
    ratio(&em_tls, &tpp_tls);
    println!(
        "\n{:<40} {:>12} {:>12} {:>14}",
        format!("connect+close, {connects} each, interleaved"),
        "p50 µs",
        "p99 µs",
        "µs CPU/conn"
    );
    let conn_line = |name: &str, c: &Connects| {
        let (p50, p99) = c.quantiles();
        println!(
            "{:<40} {:>12.0} {:>12.0} {:>14.0}",
            name,
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            c.cpu_per().as_secs_f64() * 1e6
        );
    };
    let conn_ratio = |ours: &Connects, theirs: &Connects| {
        println!(
            "{:<40} {:>40.2}x p50, {:.2}x CPU",
            "  ratio",
            ours.quantiles().0.as_secs_f64() / theirs.quantiles().0.as_secs_f64(),
            ours.cpu_per().as_secs_f64() / theirs.cpu_per().as_secs_f64()
        )
    };
    conn_line("pgline TLS (verify-full)", &pc_tls);
    conn_line("tokio-postgres TLS (verify-full)", &tc_tls);
    conn_ratio(&pc_tls, &tc_tls);
    conn_line("pgline plaintext", &pc);
    conn_line("tokio-postgres plaintext", &tc);
    conn_ratio(&pc, &tc);
    drop((pg, pg_tls));
    cluster.stop();
}
