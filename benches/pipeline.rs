//! Client CPU per row of `execute_many`, isolated from the server: a fake server on its
//! own thread answers every Bind/Execute instantly over loopback TCP, and only the client
//! thread's CPU time is counted (`/proc/thread-self/schedstat`, nanoseconds).
//!
//! Run: `cargo bench --bench pipeline`. Prints rows/s and client CPU ns/row (medians of 5).

use std::time::{Duration, Instant, UNIX_EPOCH};

use bytes::BytesMut;
use pgline::conn::ExecuteManyOptions;
use pgline::protocol::backend::{
    Authentication, BackendMessage, CommandComplete, ParameterDescription, ParameterStatus,
    ReadyForQuery, TransactionStatus,
};
use pgline::protocol::framing::{split_frame, split_startup_packet};
use pgline::protocol::frontend::StartupPacket;
use pgline::{Config, Connection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Rows per run; `PGLINE_BENCH_ROWS` overrides (e.g. a few thousand under callgrind).
fn rows() -> u64 {
    std::env::var("PGLINE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn thread_cpu() -> Duration {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(
        s.split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    )
}

fn enc(m: BackendMessage, out: &mut BytesMut) {
    m.encode(out).expect("encode");
}

/// Answers one client: trust startup, then every extended-protocol message at once.
async fn serve(mut s: tokio::net::TcpStream) {
    let mut rbuf = BytesMut::with_capacity(1 << 20);
    let mut out = BytesMut::with_capacity(1 << 20);
    loop {
        match split_startup_packet(&mut rbuf) {
            Ok(Some(StartupPacket::SslRequest)) => {
                s.write_all(b"N").await.expect("write");
                continue;
            }
            Ok(Some(StartupPacket::Startup(_))) => break,
            Ok(_) => {}
            Err(e) => panic!("startup: {e}"),
        }
        if s.read_buf(&mut rbuf).await.expect("read") == 0 {
            return;
        }
    }
    enc(BackendMessage::Authentication(Authentication::Ok), &mut out);
    enc(
        BackendMessage::ParameterStatus(ParameterStatus::new("server_version", "15.0")),
        &mut out,
    );
    enc(
        BackendMessage::ReadyForQuery(ReadyForQuery::new(TransactionStatus::Idle)),
        &mut out,
    );
    s.write_all(&out).await.expect("write");
    out.clear();
    let mut tx = TransactionStatus::Idle;
    // Pre-encoded answers; messages are recognised by their tag alone, so the fake server
    // costs far less per row than the client it measures.
    let mut bind_complete = BytesMut::new();
    enc(BackendMessage::BindComplete, &mut bind_complete);
    let mut insert_done = BytesMut::new();
    enc(
        BackendMessage::CommandComplete(CommandComplete::new("INSERT 0 1")),
        &mut insert_done,
    );
    loop {
        while let Some((tag, body)) = split_frame(&mut rbuf, |_| 1 << 30).expect("frame") {
            match tag {
                b'P' => enc(BackendMessage::ParseComplete, &mut out),
                b'D' => {
                    enc(
                        BackendMessage::ParameterDescription(ParameterDescription::new(vec![
                            20, 25, 701, 1184,
                        ])),
                        &mut out,
                    );
                    enc(BackendMessage::NoData, &mut out);
                }
                b'B' => out.extend_from_slice(&bind_complete),
                b'E' => out.extend_from_slice(&insert_done),
                b'S' => enc(
                    BackendMessage::ReadyForQuery(ReadyForQuery::new(tx)),
                    &mut out,
                ),
                b'Q' => {
                    let (tag, next) = match &body[..] {
                        b"BEGIN\0" => ("BEGIN", TransactionStatus::InTransaction),
                        b"COMMIT\0" => ("COMMIT", TransactionStatus::Idle),
                        _ => ("ROLLBACK", TransactionStatus::Idle),
                    };
                    tx = next;
                    enc(
                        BackendMessage::CommandComplete(CommandComplete::new(tag)),
                        &mut out,
                    );
                    enc(
                        BackendMessage::ReadyForQuery(ReadyForQuery::new(tx)),
                        &mut out,
                    );
                }
                b'X' => return,
                _ => {}
            }
        }
        if !out.is_empty() {
            s.write_all(&out).await.expect("write");
            out.clear();
        }
        if s.read_buf(&mut rbuf).await.expect("read") == 0 {
            return;
        }
    }
}

fn main() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        rt.block_on(async move {
            listener.set_nonblocking(true).expect("nonblocking");
            let l = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                let (s, _) = l.accept().await.expect("accept");
                s.set_nodelay(true).expect("nodelay");
                tokio::spawn(serve(s));
            }
        });
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async move {
        let mut cfg = Config::new();
        cfg.host("127.0.0.1").port(port).user("bench");
        let mut conn = Connection::connect(&cfg).await.expect("connect");
        let base = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let names = ["alpha", "bravo", "charlie", "delta"];
        let n = rows();
        let mut rates = Vec::new();
        let mut cpus = Vec::new();
        for _ in 0..5 {
            let rows = (0..n).map(|i| {
                (i as i64, names[(i % 4) as usize], i as f64 * 0.5, base + Duration::from_micros(i))
            });
            let c0 = thread_cpu();
            let t0 = Instant::now();
            let report = conn
                .execute_many_with(
                    "INSERT INTO t (id, name, score, created) VALUES ($1, $2, $3, $4)",
                    rows,
                    ExecuteManyOptions::default(),
                )
                .await
                .expect("load");
            let wall = t0.elapsed();
            let cpu = thread_cpu() - c0;
            assert_eq!(report.rows_committed, n);
            rates.push(n as f64 / wall.as_secs_f64());
            cpus.push(cpu.as_nanos() as f64 / n as f64);
        }
        rates.sort_by(f64::total_cmp);
        cpus.sort_by(f64::total_cmp);
        println!(
            "execute_many vs instant fake server: {:.0} rows/s, client CPU {:.0} ns/row (medians of 5; row generation included)",
            rates[2], cpus[2]
        );
    });
}
