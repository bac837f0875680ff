//! Binary COPY out, typed, measured: `cargo run --release --example copy_out_compare [rows]`.
//!
//! Loads `rows` (default 1,000,000) rows of (int8, text, float8, timestamptz) once into a
//! throwaway cluster, then in alternating rounds reads them all back three ways, decoding
//! every field of every row:
//!
//! - pgline `copy_out(..).binary(types)` (the typed binary COPY reader);
//! - tokio-postgres `binary_copy::BinaryCopyOutStream` (the same COPY statement);
//! - pgline `query_stream` over `SELECT` of the same rows (its ordinary row read).
//!
//! Prints medians of rows/s and client CPU µs per row (the whole client process, every
//! thread), and the ratios against tokio-postgres. Plaintext, one connection each.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::{pin_mut, StreamExt};
use pgline::cluster::{ClusterOptions, TempCluster};
use pgline::conn::SslMode;
use pgline::types::oid;
use pgline::{Config, Connection};
use tokio_postgres::binary_copy::BinaryCopyOutStream;
use tokio_postgres::types::Type;
use tokio_postgres::NoTls;

// One CPU clock for the CLI and the examples.
#[path = "shared/samples.rs"]
mod samples;
use samples::Samples;
#[path = "../src/bin/pgline/cpu.rs"]
mod cpu_clock;

const ROUNDS: usize = 3;
const COPY: &str = "COPY bench (id, t, f, ts) TO STDOUT (FORMAT binary)";
const SELECT: &str = "SELECT id, t, f, ts FROM bench";

/// What every reader folds the decoded fields into, so that no decode is optimised away
/// and all three can be checked against each other.
#[derive(Debug, Default, PartialEq)]
struct Check {
    rows: u64,
    ids: i64,
    text_bytes: usize,
    floats: f64,
    micros: u128,
}

impl Check {
    fn add(&mut self, id: i64, t: &str, f: f64, ts: SystemTime) {
        self.rows += 1;
        self.ids += id;
        self.text_bytes += t.len();
        self.floats += f;
        self.micros += ts
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros())
            .unwrap_or(0);
    }
}

async fn pgline_copy(c: &mut Connection) -> Check {
    let out = c.copy_out(COPY).await.expect("copy out");
    let mut r = out
        .binary(&[oid::INT8, oid::TEXT, oid::FLOAT8, oid::TIMESTAMPTZ])
        .expect("binary");
    let mut k = Check::default();
    while let Some(row) = r.next().await.expect("row") {
        k.add(
            row.get(0).expect("id"),
            row.get(1).expect("t"),
            row.get(2).expect("f"),
            row.get(3).expect("ts"),
        );
    }
    k
}

async fn tp_copy(tp: &tokio_postgres::Client) -> Check {
    let stream = tp.copy_out(COPY).await.expect("tp copy out");
    let rows = BinaryCopyOutStream::new(
        stream,
        &[Type::INT8, Type::TEXT, Type::FLOAT8, Type::TIMESTAMPTZ],
    );
    pin_mut!(rows);
    let mut k = Check::default();
    while let Some(row) = rows.next().await {
        let row = row.expect("tp row");
        k.add(row.get(0), row.get(1), row.get(2), row.get(3));
    }
    k
}

async fn pgline_query(c: &mut Connection) -> Check {
    let mut st = c.query_stream(SELECT, &[], 0).await.expect("stream");
    let mut k = Check::default();
    while let Some(row) = st.next().await.expect("row") {
        k.add(
            row.get(0).expect("id"),
            row.get(1).expect("t"),
            row.get(2).expect("f"),
            row.get(3).expect("ts"),
        );
    }
    k
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let cluster = TempCluster::start(ClusterOptions::default()).expect("cluster");
    let mut cfg = Config::new();
    cfg.host(cluster.host())
        .port(cluster.port())
        .user("postgres")
        .dbname("postgres")
        .ssl_mode(SslMode::Disable);
    let mut pg = Connection::connect(&cfg).await.expect("pgline connect");
    let (tp, tp_conn) = tokio_postgres::connect(
        &format!(
            "host={} port={} user=postgres dbname=postgres",
            cluster.host(),
            cluster.port()
        ),
        NoTls,
    )
    .await
    .expect("tokio-postgres connect");
    tokio::spawn(tp_conn);

    // Load once, with pgline's binary COPY writer.
    pg.batch_execute("CREATE TABLE bench (id int8, t text, f float8, ts timestamptz)")
        .await
        .expect("create");
    let t0 = Instant::now();
    let copy = pg
        .copy_in("COPY bench FROM STDIN (FORMAT binary)")
        .await
        .expect("copy in");
    let mut w = copy
        .binary(&[oid::INT8, oid::TEXT, oid::FLOAT8, oid::TIMESTAMPTZ])
        .expect("binary writer");
    let base = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    for i in 0..n as i64 {
        let ts = base + Duration::from_micros(i as u64 * 1_003);
        w.write_row(&(i, format!("row {i} of the benchmark"), i as f64 * 0.5, ts))
            .await
            .expect("write");
    }
    assert_eq!(w.finish().await.expect("finish"), n);
    pg.batch_execute("VACUUM ANALYZE bench")
        .await
        .expect("vacuum");
    println!("loaded {n} rows in {:?}", t0.elapsed());

    let names = [
        "pgline binary COPY reader",
        "tokio-postgres BinaryCopyOutStream",
        "pgline query_stream (SELECT)",
    ];
    let mut samples: [Samples; 3] = Default::default();
    let mut reference: Option<Check> = None;
    for round in 0..ROUNDS {
        // Alternate the order each round so that neither side always runs warm.
        let order: [usize; 3] = if round % 2 == 0 { [0, 1, 2] } else { [2, 1, 0] };
        for which in order {
            let c0 = cpu_clock::process_cpu();
            let w0 = Instant::now();
            let k = match which {
                0 => pgline_copy(&mut pg).await,
                1 => tp_copy(&tp).await,
                _ => pgline_query(&mut pg).await,
            };
            let (wall, cpu) = (w0.elapsed(), cpu_clock::process_cpu() - c0);
            assert_eq!(k.rows, n, "{}", names[which]);
            match &reference {
                Some(r) => assert_eq!(&k, r, "{} read other values", names[which]),
                None => reference = Some(k),
            }
            samples[which].add(n, wall, cpu);
            println!(
                "round {round}: {:<36} {:>10.0} rows/s {:>6.3} µs CPU/row",
                names[which],
                n as f64 / wall.as_secs_f64(),
                cpu.as_secs_f64() * 1e6 / n as f64
            );
        }
    }

    println!(
        "\n{n} rows of (int8, text, float8, timestamptz), every field decoded; medians of {ROUNDS} \
         alternating rounds; CPU = the client process, all threads\n"
    );
    println!(
        "{:<36} {:>12} {:>12} {:>14} {:>12}",
        "reader", "rows/s", "µs CPU/row", "rows/s vs tp", "CPU vs tp"
    );
    let tp_s = &samples[1];
    for (name, s) in names.iter().zip(&samples) {
        println!(
            "{:<36} {:>12.0} {:>12.3} {:>13.2}x {:>11.2}x",
            name,
            s.rate(),
            s.cpu(),
            s.rate() / tp_s.rate(),
            s.cpu() / tp_s.cpu()
        );
    }
    cluster.stop();
}
