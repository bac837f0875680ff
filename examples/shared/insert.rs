//! The insert workload shared by the `compare` and `bulk_profile` examples: the rows of
//! `t(id int8, name text, score float8, created timestamptz)`, and the raw client that
//! measures the server's ceiling for pipelined inserts.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const NAMES: [&str; 4] = ["alpha", "bravo", "charlie", "delta"];

/// `execute_many` options with polled IO (the examples' runtimes run nothing but the
/// load), and `PGLINE_IO_TICK_US` applied: the longest polled-IO tick in microseconds, 0
/// for event-driven IO (for experiments).
pub(crate) fn execute_many_options() -> pgline::conn::ExecuteManyOptions {
    let mut opts = pgline::conn::ExecuteManyOptions {
        io_tick: Some(pgline::conn::DEFAULT_IO_TICK),
        ..pgline::conn::ExecuteManyOptions::default()
    };
    if let Some(v) = std::env::var("PGLINE_IO_TICK_US")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        opts.io_tick = (v > 0).then(|| Duration::from_micros(v));
    }
    opts
}

pub(crate) fn row(i: u64, base: SystemTime) -> (i64, &'static str, f64, SystemTime) {
    (
        i as i64,
        NAMES[(i % 4) as usize],
        (i % 1000) as f64 * 0.25,
        base + Duration::from_micros(i),
    )
}

/// Raw protocol over a plain socket: trust startup, Parse, then N pre-encoded
/// Bind/Execute pairs and one Sync, written by one task while another reads.
pub(crate) async fn ceiling_run(
    port: u16,
    insert: &str,
    n: u64,
    base: SystemTime,
) -> (Duration, Duration) {
    use bytes::BytesMut;
    use pgline::protocol::backend::BackendMessage;
    use pgline::protocol::framing::decode_backend;
    use pgline::protocol::frontend::{
        write_execute, write_parse, write_startup, write_sync, BindWriter,
    };
    use pgline::protocol::{Limits, PROTOCOL_3_0};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn until_ready(s: &mut tokio::net::tcp::OwnedReadHalf, buf: &mut BytesMut) -> u64 {
        let mut done = 0;
        loop {
            while let Some(m) = decode_backend(buf, &Limits::default()).expect("decode") {
                match m {
                    BackendMessage::CommandComplete(_) => done += 1,
                    BackendMessage::ErrorResponse(e) => panic!("{:?}", e.message()),
                    BackendMessage::ReadyForQuery(_) => return done,
                    _ => {}
                }
            }
            assert!(s.read_buf(buf).await.expect("read") > 0, "closed");
        }
    }

    let sock = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    sock.set_nodelay(true).expect("nodelay");
    let (mut rd, mut wr) = sock.into_split();
    let mut out = BytesMut::new();
    write_startup(
        &mut out,
        PROTOCOL_3_0,
        &[("user", "postgres"), ("database", "postgres")],
    )
    .unwrap();
    wr.write_all(&out).await.unwrap();
    let mut rbuf = BytesMut::with_capacity(1 << 16);
    until_ready(&mut rd, &mut rbuf).await;
    out.clear();
    write_parse(&mut out, "c", insert, &[20, 25, 701, 1184]).unwrap();
    write_sync(&mut out);
    wr.write_all(&out).await.unwrap();
    until_ready(&mut rd, &mut rbuf).await;
    out.clear();
    for i in 0..n {
        let (a, b, c, d) = row(i, base);
        let ts = d.duration_since(UNIX_EPOCH).unwrap().as_micros() as i64 - 946_684_800_000_000;
        let mut w = BindWriter::begin(&mut out, "", "c", &[1]).unwrap();
        w.value(&a.to_be_bytes()).unwrap();
        w.value(b.as_bytes()).unwrap();
        w.value(&c.to_be_bytes()).unwrap();
        w.value(&ts.to_be_bytes()).unwrap();
        w.finish(&[]).unwrap();
        write_execute(&mut out, "", 0).unwrap();
    }
    write_sync(&mut out);
    let bytes = out.freeze();
    let c0 = crate::cpu_clock::process_cpu();
    let t0 = Instant::now();
    let writer = tokio::spawn(async move {
        wr.write_all(&bytes).await.unwrap();
        wr
    });
    let done = until_ready(&mut rd, &mut rbuf).await;
    let wall = t0.elapsed();
    let used = crate::cpu_clock::process_cpu() - c0;
    assert_eq!(done, n);
    drop(writer.await.unwrap());
    (wall, used)
}
