//! Every wait of a COPY is bounded by the operation deadline (`query_timeout`): a server
//! that stalls after CopyDone, mid-COPY-OUT, or answers a failed COPY with iris-pgwire's
//! backend CopyFail and no ReadyForQuery cannot hang the caller (issue 15, point 2). An
//! ErrorResponse that no ReadyForQuery follows reaches the caller at once on iris-pgwire,
//! and as itself (not as a timeout) anywhere; on PostgreSQL an error completes its
//! operation without waiting for a late ReadyForQuery, which the next operation reads
//! first (point 1).

use std::time::{Duration, Instant};

use bytes::Bytes;
use pgline::protocol::backend::{BackendMessage, CopyData, CopyResponse};
use pgline::protocol::Format;
use pgline::{Config, Connection};

use crate::support::fake_server::steps::*;
use crate::support::fake_server::{pipe, Step};

fn cfg() -> Config {
    let mut c = crate::fake::cfg();
    c.query_timeout(Some(Duration::from_millis(300)));
    c
}

fn copy_in_response() -> Step {
    send(BackendMessage::CopyInResponse(CopyResponse::new(
        Format::Text,
        vec![Format::Text],
    )))
}

#[tokio::test]
async fn copy_in_finish_against_a_server_that_never_answers_trips_the_deadline() {
    let mut script = accept_trust("15.0");
    script.push(recv_query("COPY t FROM STDIN"));
    script.push(copy_in_response());
    script.push(Step::Blackhole(Duration::from_secs(10)));
    let (io, _s) = pipe(script);
    let mut c = Connection::connect_stream(io, &cfg()).await.unwrap();
    let mut copy = c.copy_in("COPY t FROM STDIN").await.unwrap();
    copy.write(b"1\n2\n").await.unwrap();
    let t = Instant::now();
    let err = copy.finish().await.expect_err("no answer");
    assert!(err.is_timeout(), "{err}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

#[tokio::test]
async fn copy_in_on_iris_pgwire_is_refused_instead_of_hanging_on_a_backend_copy_fail() {
    // iris-pgwire (legacy) answers a failed COPY with a backend CopyFail ('f') and never
    // sends ReadyForQuery; no release stores COPY data correctly (iris::capabilities), so
    // copy_in refuses before sending anything and nothing can hang.
    let script = accept_trust("16.0 (InterSystems IRIS)");
    let (io, _s) = pipe(script);
    let mut c = Connection::connect_stream(io, &cfg()).await.unwrap();
    let t = Instant::now();
    let err = c
        .copy_in("COPY t FROM STDIN")
        .await
        .expect_err("COPY FROM is refused on iris-pgwire");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(err.is_unsupported(), "{err}");
}

#[tokio::test]
async fn copy_out_that_stalls_mid_stream_trips_the_deadline_for_the_next_chunk() {
    let mut script = accept_trust("15.0");
    script.push(recv_query("COPY t TO STDOUT"));
    script.push(send(BackendMessage::CopyOutResponse(CopyResponse::new(
        Format::Text,
        vec![Format::Text],
    ))));
    script.push(send(BackendMessage::CopyData(CopyData::new(
        Bytes::from_static(b"1\n"),
    ))));
    script.push(Step::Blackhole(Duration::from_secs(10)));
    let (io, _s) = pipe(script);
    let mut c = Connection::connect_stream(io, &cfg()).await.unwrap();
    let mut out = c.copy_out("COPY t TO STDOUT").await.unwrap();
    assert_eq!(out.next().await.unwrap().as_deref(), Some(&b"1\n"[..]));
    let t = Instant::now();
    let err = out.next().await.expect_err("stalled");
    assert!(err.is_timeout(), "{err}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

const IRIS: &str = "16.0 (InterSystems IRIS)";

#[tokio::test]
async fn an_iris_error_without_ready_for_query_reaches_the_caller_at_once_and_the_connection_goes_on(
) {
    let mut script = accept_trust(IRIS);
    script.push(recv_query("SHOW standard_conforming_strings"));
    script.push(error("ERROR", "42000", "IDENTIFIER (SHOW) found"));
    // No ReadyForQuery: the legacy build's answer to every statement IRIS rejects.
    script.push(recv_query("SELECT 1"));
    script.extend(crate::fake::one_int_result(b"1"));
    script.push(Step::Blackhole(Duration::from_secs(10)));
    let (io, _s) = pipe(script);
    let mut config = cfg();
    config.query_timeout(Some(Duration::from_secs(30)));
    let mut c = Connection::connect_stream(io, &config).await.unwrap();
    let t = Instant::now();
    let err = c
        .simple_query("SHOW standard_conforming_strings")
        .await
        .expect_err("IRIS rejects SHOW");
    assert_eq!(err.code(), Some("42000"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(!c.is_broken());
    let r = c
        .simple_query("SELECT 1")
        .await
        .expect("the connection goes on");
    assert_eq!(r[0].rows[0].get(0).unwrap(), Some("1"));
}

/// A PostgreSQL 15 server that answers `SELECT broken` with 42703 and then runs `rest`.
fn failing_select_then(rest: impl IntoIterator<Item = Step>) -> Vec<Step> {
    let mut script = accept_trust("15.0");
    script.push(recv_query("SELECT broken"));
    script.push(error("ERROR", "42703", "column \"broken\" does not exist"));
    script.extend(rest);
    script
}

/// Runs `SELECT broken` on `c`: the server's 42703, and how long it took to come.
async fn select_broken(c: &mut Connection<tokio::io::DuplexStream>) -> Duration {
    let t = Instant::now();
    let err = c.simple_query("SELECT broken").await.expect_err("failed");
    assert_eq!(
        err.code(),
        Some("42703"),
        "the server's error, not a timeout: {err}"
    );
    t.elapsed()
}

#[tokio::test]
async fn a_deadline_that_passes_after_the_servers_error_returns_that_error() {
    let (io, _s) = pipe(failing_select_then([Step::Blackhole(Duration::from_secs(
        10,
    ))]));
    let mut c = Connection::connect_stream(io, &cfg()).await.unwrap();
    let took = select_broken(&mut c).await;
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn a_postgres_error_reaches_the_caller_before_its_late_ready_for_query_and_the_next_operation_resyncs(
) {
    let mut script = failing_select_then([
        // A server that stalls between the error and its ReadyForQuery.
        Step::Sleep(Duration::from_secs(2)),
        ready(pgline::protocol::backend::TransactionStatus::Idle),
        recv_query("SELECT 1"),
    ]);
    script.extend(crate::fake::one_int_result(b"1"));
    script.push(Step::Blackhole(Duration::from_secs(10)));
    let (io, _s) = pipe(script);
    let mut config = cfg();
    config.query_timeout(Some(Duration::from_secs(30)));
    let mut c = Connection::connect_stream(io, &config).await.unwrap();
    let took = select_broken(&mut c).await;
    assert!(
        took < Duration::from_millis(1500),
        "the error must not wait for the ReadyForQuery: {took:?}"
    );
    assert!(!c.is_idle(), "the resync is still pending");
    assert!(!c.is_broken());
    let r = c
        .simple_query("SELECT 1")
        .await
        .expect("the next operation reads the late ReadyForQuery first");
    assert_eq!(r[0].rows[0].get(0).unwrap(), Some("1"));
    assert!(c.is_idle());
}

#[tokio::test]
async fn a_postgres_error_whose_ready_for_query_never_comes_fails_the_next_operation_at_its_deadline(
) {
    let (io, _s) = pipe(failing_select_then([Step::Blackhole(Duration::from_secs(
        10,
    ))]));
    let mut config = cfg();
    config.query_timeout(Some(Duration::from_secs(1)));
    let mut c = Connection::connect_stream(io, &config).await.unwrap();
    let took = select_broken(&mut c).await;
    assert!(took < Duration::from_millis(900), "{took:?}");
    let t = Instant::now();
    let err = c
        .simple_query("SELECT 1")
        .await
        .expect_err("the resync never completes");
    assert!(err.is_timeout(), "{err}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(
        c.is_broken(),
        "a connection that never settled is not reused"
    );
}
