//! Codec throughput, pgline against rust-postgres' `postgres-protocol` on the same input in
//! the same run: decoding a DataRow stream (every value visited) and encoding Bind+Execute
//! pairs for one row each (the bulk-load hot path).
//!
//! Run: `cargo bench --bench codec`. Prints rows/s and ns/row for each, medians of 7 runs,
//! and the ratio pgline/postgres-protocol.

use std::hint::black_box;
use std::time::Instant;

use bytes::{BufMut, BytesMut};
use fallible_iterator::FallibleIterator;
use pgline::protocol::backend::{BackendMessage, DataRow};
use pgline::protocol::framing::decode_backend;
use pgline::protocol::frontend::{write_execute, BindWriter};
use pgline::protocol::Limits;
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend as pp;
use postgres_protocol::IsNull as PpIsNull;

const ROWS: usize = 1_000_000;
const RUNS: usize = 7;

fn stream() -> BytesMut {
    let mut buf = BytesMut::new();
    for i in 0..ROWS as i64 {
        let id = i.to_be_bytes();
        let name = format!("name-{i}");
        let score = (i as f64 * 0.5).to_be_bytes();
        let created = (i * 1_000_000).to_be_bytes();
        let row = DataRow::new(&[
            Some(&id),
            Some(name.as_bytes()),
            Some(&score),
            Some(&created),
        ])
        .expect("row");
        BackendMessage::DataRow(row)
            .encode(&mut buf)
            .expect("encode");
    }
    buf
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Median seconds of `f` over `RUNS` runs; `setup` (untimed) prepares each run's input.
fn time<T>(mut setup: impl FnMut() -> T, mut f: impl FnMut(T) -> usize) -> f64 {
    let mut samples = Vec::new();
    for _ in 0..RUNS {
        let input = setup();
        let t = Instant::now();
        let n = f(input);
        let dt = t.elapsed().as_secs_f64();
        assert_eq!(n, ROWS);
        samples.push(dt);
    }
    median(samples)
}

fn decode_pgline(mut buf: BytesMut) -> usize {
    let limits = Limits::default();
    let mut rows = 0;
    let mut bytes = 0usize;
    while let Some(msg) = decode_backend(&mut buf, &limits).expect("decode") {
        if let BackendMessage::DataRow(r) = msg {
            for v in r.iter() {
                bytes += v.map_or(0, <[u8]>::len);
            }
            rows += 1;
        }
    }
    black_box(bytes);
    rows
}

fn decode_pp(mut buf: BytesMut) -> usize {
    let mut rows = 0;
    let mut bytes = 0usize;
    while let Some(msg) = Message::parse(&mut buf).expect("parse") {
        if let Message::DataRow(body) = msg {
            let mut ranges = body.ranges();
            while let Some(r) = ranges.next().expect("range") {
                if let Some(r) = r {
                    bytes += body.buffer()[r].len();
                }
            }
            rows += 1;
        }
    }
    black_box(bytes);
    rows
}

fn encode_pgline(buf: &mut BytesMut) -> usize {
    buf.clear();
    for i in 0..ROWS as i64 {
        let mut w = BindWriter::begin(buf, "", "s1", &[1]).expect("bind");
        w.value(&i.to_be_bytes()).expect("v");
        w.value(b"name-constant").expect("v");
        w.value(&(i as f64).to_be_bytes()).expect("v");
        w.value(&(i * 1000).to_be_bytes()).expect("v");
        w.finish(&[1]).expect("finish");
        write_execute(buf, "", 0).expect("exec");
    }
    black_box(buf.len());
    ROWS
}

fn encode_pp(buf: &mut BytesMut) -> usize {
    buf.clear();
    for i in 0..ROWS as i64 {
        let vals: [&[u8]; 4] = [
            &i.to_be_bytes(),
            b"name-constant",
            &(i as f64).to_be_bytes(),
            &(i * 1000).to_be_bytes(),
        ];
        pp::bind(
            "",
            "s1",
            Some(1),
            vals.iter(),
            |v, out| {
                out.put_slice(v);
                Ok::<_, Box<dyn std::error::Error + Sync + Send>>(PpIsNull::No)
            },
            Some(1),
            buf,
        )
        .map_err(|_| "bind")
        .expect("bind");
        pp::execute("", 0, buf).expect("exec");
    }
    black_box(buf.len());
    ROWS
}

fn report(what: &str, ours: f64, theirs: f64) {
    let rate = |s: f64| ROWS as f64 / s;
    println!(
        "{what:<28} pgline {:>12.0} rows/s {:>7.1} ns/row | postgres-protocol {:>12.0} rows/s {:>7.1} ns/row | pgline/pp speed {:.2}x",
        rate(ours),
        ours * 1e9 / ROWS as f64,
        rate(theirs),
        theirs * 1e9 / ROWS as f64,
        theirs / ours
    );
}

fn main() {
    let input = stream();
    // Interleave the two implementations so machine noise hits both alike.
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..3 {
        ours.push(time(|| input.clone(), decode_pgline));
        theirs.push(time(|| input.clone(), decode_pp));
    }
    report("decode DataRow x4 cols", median(ours), median(theirs));

    let mut buf = BytesMut::with_capacity(ROWS * 80);
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..3 {
        ours.push(time(|| (), |()| encode_pgline(&mut buf)));
        theirs.push(time(|| (), |()| encode_pp(&mut buf)));
    }
    report("encode Bind+Execute x4 cols", median(ours), median(theirs));
}
