//! Driver-level behaviour against the scripted fake server: the byte-level cases a real
//! server will not produce (reliability checklist groups A, C, D, E, F, G, H).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pgline::protocol::backend::{
    Authentication, BackendMessage, CommandComplete, DataRow, ErrorFields, FieldDescription,
    RowDescription,
};
use pgline::protocol::frontend::AuthStage;
use pgline::protocol::Format;
use pgline::{Config, Connection};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::support::fake_server::steps::*;
use crate::support::fake_server::{listen, pipe, Step};

/// A client config for the scripted servers (shared with `deadlines`).
pub(crate) fn cfg() -> Config {
    let mut c = Config::new();
    c.user("u")
        .dbname("d")
        .connect_timeout(Some(Duration::from_secs(5)));
    c
}

/// One int4 row in text format, then CommandComplete and ReadyForQuery.
pub(crate) fn one_int_result(v: &'static [u8]) -> Vec<Step> {
    vec![
        send(BackendMessage::RowDescription(
            RowDescription::new(&[FieldDescription {
                name: "x",
                table_oid: 0,
                column_id: 0,
                type_oid: 23,
                type_size: 4,
                type_modifier: -1,
                format: Format::Text,
            }])
            .unwrap(),
        )),
        send(BackendMessage::DataRow(DataRow::new(&[Some(v)]).unwrap())),
        send(BackendMessage::CommandComplete(CommandComplete::new(
            "SELECT 1",
        ))),
        idle(),
    ]
}

#[tokio::test]
async fn simple_query_works_against_the_fake_server() {
    let mut script = accept_trust("15.0");
    script.push(recv_query("select 1"));
    script.extend(one_int_result(b"1"));
    script.push(recv(b'X'));
    let (io, server) = pipe(script);
    let mut c = Connection::connect_stream(io, &cfg()).await.unwrap();
    let r = c.simple_query("select 1").await.unwrap();
    assert_eq!(r[0].rows[0].get(0).unwrap(), Some("1"));
    c.close().await.unwrap();
    server.await.unwrap().unwrap();
}

/// Reads at most one byte per poll: the slowloris server.
struct Trickle<S>(S);

impl<S: AsyncRead + Unpin> AsyncRead for Trickle<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let mut one = [0u8; 1];
        let mut small = ReadBuf::new(&mut one);
        match Pin::new(&mut self.0).poll_read(cx, &mut small) {
            Poll::Ready(Ok(())) => {
                buf.put_slice(small.filled());
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Trickle<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn bytes_trickled_one_at_a_time_decode_the_same() {
    let mut script = accept_trust("15.0");
    script.push(recv_query("select 1"));
    script.extend(one_int_result(b"42"));
    let (io, _server) = pipe(script);
    let mut c = Connection::connect_stream(Trickle(io), &cfg())
        .await
        .unwrap();
    let r = c.simple_query("select 1").await.unwrap();
    assert_eq!(r[0].rows[0].get(0).unwrap(), Some("42"));
}

#[tokio::test]
async fn ssl_request_answered_with_garbage_is_a_protocol_error() {
    let (io, _s) = pipe(vec![recv_ssl_request(), Step::Raw(b"X".to_vec())]);
    let err = Connection::connect_stream(io, &cfg()).await.unwrap_err();
    assert!(err.is_protocol(), "{err}");
}

#[tokio::test]
async fn ssl_request_answered_with_an_error_does_not_show_the_servers_text() {
    let mut bytes = b"E".to_vec();
    bytes.extend_from_slice(b"\0\0\0\x1aSFATAL\0Mevil text here\0\0");
    let (io, _s) = pipe(vec![recv_ssl_request(), Step::Raw(bytes)]);
    let err = Connection::connect_stream(io, &cfg()).await.unwrap_err();
    assert!(!err.to_string().contains("evil"), "{err}");
}

#[tokio::test]
async fn ssl_accepted_with_extra_bytes_is_refused_without_reading_them() {
    // 'S' followed by buffer-stuffed plaintext (CVE-2021-23222): the session takes the one
    // answer byte and refuses what follows it as an injection, before any TLS is tried.
    let (io, _s) = pipe(vec![
        recv_ssl_request(),
        Step::Raw(b"SZ\0\0\0\x05I".to_vec()),
        Step::Sleep(Duration::from_secs(1)),
    ]);
    let err = Connection::connect_stream(io, &cfg()).await.unwrap_err();
    assert!(err.is_protocol(), "{err}");
    assert!(err.to_string().contains("injection"), "{err}");
}

#[tokio::test]
async fn ssl_accepted_over_connect_stream_is_a_tls_error_saying_the_stream_cannot_be_upgraded() {
    let (io, _s) = pipe(vec![
        recv_ssl_request(),
        Step::Raw(b"S".to_vec()),
        Step::Sleep(Duration::from_secs(1)),
    ]);
    let err = Connection::connect_stream(io, &cfg()).await.unwrap_err();
    assert!(err.is_tls(), "{err}");
    assert!(err.to_string().contains("connect_stream"), "{err}");
}

#[tokio::test]
async fn eof_in_the_middle_of_a_result_fails_the_query_and_breaks_the_connection() {
    let mut script = accept_trust("15.0");
    script.push(recv_query("select big"));
    let mut partial = one_int_result(b"7");
    partial.truncate(2); // RowDescription, one DataRow, then:
    script.extend(partial);
    script.push(Step::Raw(b"D\0\0\0\x20\0\x01".to_vec())); // a DataRow cut short
    script.push(Step::Close);
    let (io, _s) = pipe(script);
    let mut c = Connection::connect_stream(io, &cfg()).await.unwrap();
    let err = c.simple_query("select big").await.unwrap_err();
    assert!(
        err.is_closed(),
        "no partial result is presented as complete: {err:?}"
    );
    assert!(c.is_broken());
    assert!(c.simple_query("select 1").await.unwrap_err().is_broken());
}

#[tokio::test]
async fn silent_server_trips_the_query_deadline_and_breaks_the_connection() {
    let mut script = accept_trust("15.0");
    script.push(recv_query("select 1"));
    script.push(Step::Blackhole(Duration::from_secs(10)));
    let (io, _s) = pipe(script);
    let mut config = cfg();
    config.query_timeout(Some(Duration::from_millis(300)));
    let mut c = Connection::connect_stream(io, &config).await.unwrap();
    let t = Instant::now();
    let err = c.simple_query("select 1").await.unwrap_err();
    assert!(err.is_timeout());
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(c.is_broken());
}

#[tokio::test]
async fn a_pipeline_against_a_silent_server_trips_the_deadline_and_breaks_the_connection() {
    let mut script = accept_trust("15.0");
    script.push(recv_until(b'S'));
    script.push(Step::Blackhole(Duration::from_secs(10)));
    let (io, _s) = pipe(script);
    let mut config = cfg();
    config.query_timeout(Some(Duration::from_millis(300)));
    let mut c = Connection::connect_stream(io, &config).await.unwrap();
    let t = Instant::now();
    let mut p = c.pipeline().await.unwrap();
    p.query_sql("select 1", &[]).unwrap();
    let r = p
        .next_result()
        .await
        .expect("a result for the queued statement");
    assert!(r.expect_err("no answer").is_timeout());
    assert!(t.elapsed() < Duration::from_secs(2));
    drop(p);
    assert!(c.is_broken());
}

#[tokio::test]
async fn server_that_never_answers_startup_trips_the_connect_timeout() {
    // iris-pgwire legacy without SSLRequest, or a deaf listener.
    let (port, _s) = listen(vec![
        recv_ssl_request(),
        Step::Raw(b"N".to_vec()),
        Step::Blackhole(Duration::from_secs(10)),
    ])
    .await;
    let mut config = cfg();
    config
        .host("127.0.0.1")
        .port(port)
        .connect_timeout(Some(Duration::from_millis(300)));
    let t = Instant::now();
    let err = Connection::connect(&config).await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn authentication_ok_before_sasl_final_is_refused_end_to_end() {
    let script = vec![
        recv_ssl_request(),
        Step::Raw(b"N".to_vec()),
        recv_startup(),
        auth(Authentication::Sasl(vec!["SCRAM-SHA-256".into()])),
        Step::Stage(AuthStage::SaslInitial),
        recv(b'p'),
        auth(Authentication::Ok),
        Step::Sleep(Duration::from_secs(1)),
    ];
    let (io, _s) = pipe(script);
    let mut config = cfg();
    config.password("pw");
    let err = Connection::connect_stream(io, &config).await.unwrap_err();
    assert!(err.is_auth(), "{err}");
}

#[tokio::test]
async fn two_fatal_errors_in_one_segment_fail_once_and_break_cleanly() {
    let mut script = accept_trust("15.0");
    script.push(recv_query("select 1"));
    let mut two = bytes::BytesMut::new();
    for _ in 0..2 {
        BackendMessage::ErrorResponse(ErrorFields::new("FATAL", "57P01", "terminating"))
            .encode(&mut two)
            .unwrap();
    }
    script.push(Step::Raw(two.to_vec()));
    script.push(Step::Close);
    let (io, _s) = pipe(script);
    let mut c = Connection::connect_stream(io, &cfg()).await.unwrap();
    let err = c.simple_query("select 1").await.unwrap_err();
    assert_eq!(err.code(), Some("57P01"));
    assert!(c.is_broken());
}

#[tokio::test]
async fn notices_and_parameter_status_anywhere_are_never_responses() {
    let mut script = vec![
        recv_ssl_request(),
        Step::Raw(b"N".to_vec()),
        recv_startup(),
        send(BackendMessage::NoticeResponse(ErrorFields::new(
            "NOTICE",
            "00000",
            "during auth",
        ))),
        auth(Authentication::Ok),
        param("server_version", "15.0"),
        send(BackendMessage::NoticeResponse(ErrorFields::new(
            "NOTICE",
            "00000",
            "before ready",
        ))),
        idle(),
    ];
    script.push(recv_query("select 1"));
    let mut res = one_int_result(b"5");
    res.insert(1, param("TimeZone", "UTC"));
    res.insert(
        2,
        send(BackendMessage::NoticeResponse(ErrorFields::new(
            "NOTICE",
            "00000",
            "between rows",
        ))),
    );
    script.extend(res);
    let (io, _s) = pipe(script);
    let mut c = Connection::connect_stream(io, &cfg()).await.unwrap();
    let r = c.simple_query("select 1").await.unwrap();
    assert_eq!(r[0].rows[0].get(0).unwrap(), Some("5"));
    let notices: Vec<String> = c
        .take_notices()
        .into_iter()
        .map(|n| n.message().to_string())
        .collect();
    assert_eq!(notices, ["during auth", "before ready", "between rows"]);
    assert_eq!(c.parameter("TimeZone"), Some("UTC"));
}

#[tokio::test]
async fn huge_declared_length_breaks_the_connection_without_allocating_it() {
    let mut script = accept_trust("15.0");
    script.push(recv_query("select 1"));
    script.push(Step::Raw(b"D\x7f\xff\xff\xff".to_vec()));
    script.push(Step::Sleep(Duration::from_secs(1)));
    let (io, _s) = pipe(script);
    let mut config = cfg();
    config.limits(pgline::protocol::Limits {
        max_message_len: 1 << 20,
        max_small_message_len: 30_000,
    });
    let mut c = Connection::connect_stream(io, &config).await.unwrap();
    let err = c.simple_query("select 1").await.unwrap_err();
    assert!(err.is_protocol(), "{err}");
    assert!(c.is_broken());
}

#[tokio::test]
async fn server_that_stops_mid_scram_fails_the_connect_cleanly() {
    let script = vec![
        recv_ssl_request(),
        Step::Raw(b"N".to_vec()),
        recv_startup(),
        auth(Authentication::Sasl(vec!["SCRAM-SHA-256".into()])),
        Step::Stage(AuthStage::SaslInitial),
        recv(b'p'),
        Step::Close,
    ];
    let (io, _s) = pipe(script);
    let mut config = cfg();
    config.password("pw");
    let err = Connection::connect_stream(io, &config).await.unwrap_err();
    assert!(err.is_closed(), "{err:?}");
}

#[tokio::test]
async fn message_arriving_while_idle_breaks_the_connection_before_the_next_query() {
    let mut script = accept_trust("15.0");
    script.push(recv_query("select 1"));
    script.extend(one_int_result(b"1"));
    script.push(send(BackendMessage::BindComplete)); // nothing asked for this
    script.push(Step::Sleep(Duration::from_secs(1)));
    let (io, _s) = pipe(script);
    let mut c = Connection::connect_stream(io, &cfg()).await.unwrap();
    c.simple_query("select 1").await.unwrap();
    let err = c.simple_query("select 2").await.unwrap_err();
    assert!(err.is_protocol() || err.is_broken(), "{err:?}");
    assert!(c.is_broken());
}

#[tokio::test]
async fn surplus_ready_for_query_is_a_protocol_error_on_postgres() {
    let mut script = accept_trust("15.0");
    script.push(recv_query("select 1"));
    script.extend(one_int_result(b"1"));
    script.push(idle());
    script.push(Step::Sleep(Duration::from_secs(1)));
    let (io, _s) = pipe(script);
    let mut c = Connection::connect_stream(io, &cfg()).await.unwrap();
    c.simple_query("select 1").await.unwrap();
    assert!(c.simple_query("select 1").await.is_err());
    assert!(c.is_broken());
}

#[tokio::test]
async fn ready_for_query_before_command_complete_fails_a_simple_query_and_breaks_the_connection() {
    let mut script = accept_trust("15.0");
    script.push(recv_query("select x from t"));
    let mut partial = one_int_result(b"1");
    partial.remove(2); // RowDescription, DataRow, then ReadyForQuery: no CommandComplete
    script.extend(partial);
    // What a confused server might send next: more rows and the real end.
    script.push(send(BackendMessage::DataRow(
        DataRow::new(&[Some(b"2")]).unwrap(),
    )));
    script.push(send(BackendMessage::CommandComplete(CommandComplete::new(
        "SELECT 2",
    ))));
    script.push(idle());
    script.push(Step::Sleep(Duration::from_secs(1)));
    let (io, _s) = pipe(script);
    let mut c = Connection::connect_stream(io, &cfg()).await.unwrap();
    let err = c.simple_query("select x from t").await.unwrap_err();
    assert!(
        err.is_protocol(),
        "the partial result is not returned as complete: {err:?}"
    );
    assert!(c.is_broken());
    assert!(c.simple_query("select 1").await.unwrap_err().is_broken());
}

#[tokio::test]
async fn a_dropped_statement_is_closed_in_the_same_write_as_the_next_query() {
    use pgline::protocol::backend::ParameterDescription;
    use pgline::protocol::frontend::{FrontendMessage, Target};

    use crate::support::fake_server::Received;

    let mut script = accept_trust("15.0");
    script.extend([
        recv(b'P'),
        recv(b'D'),
        recv(b'S'),
        send(BackendMessage::ParseComplete),
        send(BackendMessage::ParameterDescription(
            ParameterDescription::new(vec![]),
        )),
        send(BackendMessage::NoData),
        idle(),
    ]);
    // Close + Sync, then the Query, all read before anything is answered: the Close
    // costs no round trip of its own.
    script.push(Step::Recv(
        "Close of the dropped statement",
        Box::new(|r| {
            matches!(r, Received::Message(FrontendMessage::Close(c))
                if c.target == Target::Statement && c.name == "pgline_s1")
        }),
    ));
    script.push(recv(b'S'));
    script.push(recv_query("select 1"));
    script.extend([send(BackendMessage::CloseComplete), idle()]);
    script.extend(one_int_result(b"1"));
    script.push(recv(b'X'));
    let (io, server) = pipe(script);
    let mut c = Connection::connect_stream(io, &cfg()).await.unwrap();
    let s = c.prepare("create table t ()").await.unwrap();
    assert_eq!(s.name(), "pgline_s1");
    drop(s);
    let r = c.simple_query("select 1").await.unwrap();
    assert_eq!(r[0].rows[0].get(0).unwrap(), Some("1"));
    c.close().await.unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn fewer_results_than_requests_trip_the_deadline() {
    let mut script = accept_trust("15.0");
    script.push(recv_query("select 1"));
    let mut res = one_int_result(b"1");
    res.pop(); // no ReadyForQuery
    script.extend(res);
    script.push(Step::Sleep(Duration::from_secs(5)));
    let (io, _s) = pipe(script);
    let mut config = cfg();
    config.query_timeout(Some(Duration::from_millis(300)));
    let mut c = Connection::connect_stream(io, &config).await.unwrap();
    assert!(c.simple_query("select 1").await.unwrap_err().is_timeout());
    assert!(c.is_broken());
}

#[tokio::test]
async fn negotiate_protocol_version_during_startup_is_accepted() {
    use pgline::conn::ProtocolVersion;
    use pgline::protocol::backend::NegotiateProtocolVersion;
    let script = vec![
        recv_ssl_request(),
        Step::Raw(b"N".to_vec()),
        recv_startup(),
        send(BackendMessage::NegotiateProtocolVersion(
            NegotiateProtocolVersion::new(0, vec![]),
        )),
        auth(Authentication::Ok),
        param("server_version", "18.0"),
        idle(),
    ];
    let (io, _s) = pipe(script);
    // 3.2 asked for, 3.0 offered: a downgrade.
    let mut config = cfg();
    config.max_protocol_version(ProtocolVersion::V3_2);
    let c = Connection::connect_stream(io, &config).await.unwrap();
    assert_eq!(c.parameter("server_version"), Some("18.0"));
    assert_eq!(c.protocol_version(), ProtocolVersion::V3_0);
}

#[tokio::test]
async fn negotiate_protocol_version_that_changes_nothing_fails_the_connect() {
    use pgline::protocol::backend::NegotiateProtocolVersion;
    let script = vec![
        recv_ssl_request(),
        Step::Raw(b"N".to_vec()),
        recv_startup(),
        // 3.0 asked for, 3.0 offered, no options: libpq 18 refuses it.
        send(BackendMessage::NegotiateProtocolVersion(
            NegotiateProtocolVersion::new(0, vec![]),
        )),
    ];
    let (io, _s) = pipe(script);
    let e = Connection::connect_stream(io, &cfg()).await.unwrap_err();
    assert!(
        e.is_protocol() && e.to_string().contains("no change"),
        "{e}"
    );
}

#[tokio::test]
async fn negotiate_protocol_version_naming_options_that_were_never_sent_fails_the_connect() {
    use pgline::protocol::backend::NegotiateProtocolVersion;
    let script = vec![
        recv_ssl_request(),
        Step::Raw(b"N".to_vec()),
        recv_startup(),
        send(BackendMessage::NegotiateProtocolVersion(
            NegotiateProtocolVersion::new(0, vec!["_pq_.x".into()]),
        )),
    ];
    let (io, _s) = pipe(script);
    let e = Connection::connect_stream(io, &cfg()).await.unwrap_err();
    assert!(e.to_string().contains("_pq_.x"), "{e}");
}

#[tokio::test]
async fn client_encoding_switch_mid_session_breaks_the_connection() {
    let mut script = accept_trust("15.0");
    script.push(recv_query("set client_encoding to latin1"));
    script.push(param("client_encoding", "LATIN1"));
    script.push(send(BackendMessage::CommandComplete(CommandComplete::new(
        "SET",
    ))));
    script.push(idle());
    let (io, _s) = pipe(script);
    let mut c = Connection::connect_stream(io, &cfg()).await.unwrap();
    assert!(c
        .simple_query("set client_encoding to latin1")
        .await
        .is_err());
    assert!(c.is_broken());
}

#[tokio::test]
async fn connection_reset_mid_result_fails_the_query_and_breaks_the_connection() {
    let (port, server) = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let h = tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let mut script = accept_trust("15.0");
            script.push(recv_query("select 1"));
            let mut res = one_int_result(b"1");
            res.truncate(2);
            script.extend(res);
            // SO_LINGER 0: closing the socket after the script sends RST, not FIN.
            s.set_zero_linger().unwrap();
            crate::support::fake_server::run(s, script).await
        });
        (port, h)
    };
    let mut config = cfg();
    config.host("127.0.0.1").port(port);
    let mut c = Connection::connect(&config).await.unwrap();
    let err = c.simple_query("select 1").await.unwrap_err();
    assert!(err.is_io() || err.is_closed(), "{err:?}");
    assert!(c.is_broken());
    let _ = server.await;
}

/// A TCP fake server (so the connection can poll its socket) that prepares
/// `INSERT INTO t VALUES ($1, $2)`, answers BEGIN, then runs `rest` while the load streams.
async fn polled_load_server(rest: Vec<Step>) -> (u16, tokio::task::JoinHandle<Result<(), String>>) {
    use pgline::protocol::backend::{ParameterDescription, TransactionStatus};
    let mut script = accept_trust("15.0");
    script.extend([
        recv_until(b'S'),
        send(BackendMessage::ParseComplete),
        send(BackendMessage::ParameterDescription(
            ParameterDescription::new(vec![23, 25]),
        )),
        send(BackendMessage::NoData),
        idle(),
        recv_query("BEGIN"),
        send(BackendMessage::CommandComplete(CommandComplete::new(
            "BEGIN",
        ))),
        ready(TransactionStatus::InTransaction),
    ]);
    script.extend(rest);
    listen(script).await
}

/// Endless rows for `polled_load_server`'s statement.
fn endless_rows() -> impl Iterator<Item = (i32, String)> {
    (0..).map(|i| (i, format!("row {i}")))
}

/// A row window that fills before the byte window, so a server that never answers still
/// sees the load outgrow one window and poll.
fn polled_options() -> pgline::conn::ExecuteManyOptions {
    pgline::conn::ExecuteManyOptions {
        window_rows: 4096,
        window_bytes: 1 << 20,
        io_tick: Some(pgline::conn::DEFAULT_IO_TICK),
        ..Default::default()
    }
}

/// Runs an endless polled load against `polled_load_server(rest)` with the given query
/// timeout; returns its error, how long it took, and the connection.
async fn failed_polled_load(
    rest: Vec<Step>,
    timeout: Duration,
) -> (pgline::conn::LoadError, Duration, Connection) {
    let (port, _s) = polled_load_server(rest).await;
    let mut config = cfg();
    config
        .host("127.0.0.1")
        .port(port)
        .query_timeout(Some(timeout));
    let mut c = Connection::connect(&config).await.unwrap();
    let t = Instant::now();
    let e = c
        .execute_many_with(
            "INSERT INTO t VALUES ($1, $2)",
            endless_rows(),
            polled_options(),
        )
        .await
        .expect_err("an endless load against this server fails");
    (e, t.elapsed(), c)
}

#[tokio::test]
async fn a_silent_server_during_a_polled_load_trips_the_deadline_and_breaks_the_connection() {
    // The server reads every row and never answers one.
    let (e, took, c) = failed_polled_load(
        vec![Step::Blackhole(Duration::from_secs(10))],
        Duration::from_millis(500),
    )
    .await;
    assert!(e.error.is_timeout(), "{e}");
    assert!(
        e.report.rows_read >= polled_options().window_rows as u64,
        "the load outgrew one window, so it was polling its socket when the deadline hit"
    );
    assert!(!c.is_io_polled(), "the load ends event-driven");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(e.report.rows_committed, 0, "{}", e.report);
    assert!(c.is_broken());
}

#[tokio::test]
async fn a_huge_declared_length_mid_polled_load_breaks_the_connection_without_allocating_it() {
    // Long enough for the load to outgrow its first window and poll, then a frame header
    // claiming 2 GiB.
    let (e, took, c) = failed_polled_load(
        vec![
            Step::Blackhole(Duration::from_millis(600)),
            Step::Raw(b"2\x7f\xff\xff\xff".to_vec()),
            Step::Blackhole(Duration::from_secs(10)),
        ],
        Duration::from_secs(10),
    )
    .await;
    assert!(e.error.is_protocol(), "{e}");
    assert!(took < Duration::from_secs(5));
    assert_eq!(e.report.rows_committed, 0, "{}", e.report);
    assert!(c.is_broken());
    assert!(
        !c.is_io_polled(),
        "the failed load still restores event-driven IO"
    );
}

// ---------------------------------------------------------------------------------------
// TLS negotiation and channel binding over a real TCP socket (`Connection::connect`)
// ---------------------------------------------------------------------------------------

/// A one-connection TCP fake: runs `script`, then records every byte the client sends
/// until it closes the connection (or 5 s pass). The task returns those bytes.
async fn listen_then_record(
    script: Vec<Step>,
) -> (u16, tokio::task::JoinHandle<Result<Vec<u8>, String>>) {
    use tokio::io::AsyncReadExt;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let h = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.map_err(|e| e.to_string())?;
        crate::support::fake_server::run(&mut s, script).await?;
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
        Ok(rest)
    });
    (port, h)
}

fn tcp_cfg(port: u16) -> Config {
    let mut c = cfg();
    c.host("127.0.0.1").port(port);
    c
}

/// The tagged frontend messages in `bytes` (what a client sends after its StartupMessage).
fn frontend_messages(bytes: &[u8]) -> Vec<pgline::protocol::frontend::FrontendMessage> {
    let mut buf = bytes::BytesMut::from(bytes);
    let mut v = Vec::new();
    while let Some(m) =
        pgline::protocol::framing::decode_frontend(&mut buf, 1 << 20, AuthStage::Password)
            .unwrap_or_else(|e| panic!("undecodable client bytes {bytes:?}: {e}"))
    {
        v.push(m);
    }
    assert!(buf.is_empty(), "a partial message at the end: {bytes:?}");
    v
}

/// AuthenticationOk, BackendKeyData and ReadyForQuery as one segment: a forged login.
fn forged_login() -> Vec<u8> {
    use pgline::protocol::backend::{BackendKeyData, ReadyForQuery, TransactionStatus};
    let mut buf = bytes::BytesMut::new();
    for m in [
        BackendMessage::Authentication(Authentication::Ok),
        BackendMessage::BackendKeyData(BackendKeyData::new(
            4242,
            bytes::Bytes::from_static(&[1, 2, 3, 4]),
        )),
        BackendMessage::ReadyForQuery(ReadyForQuery::new(TransactionStatus::Idle)),
    ] {
        m.encode(&mut buf).unwrap();
    }
    buf.to_vec()
}

/// Connects with `mode` to a fake that answers the SSLRequest with `answer` and a forged
/// login in ONE write; returns the connect error and what the fake received afterwards.
async fn connect_with_injection(
    mode: pgline::conn::SslMode,
    answer: u8,
) -> (pgline::Error, Vec<u8>) {
    let mut bytes = vec![answer];
    bytes.extend_from_slice(&forged_login());
    let (port, server) = listen_then_record(vec![recv_ssl_request(), Step::Raw(bytes)]).await;
    let mut config = tcp_cfg(port);
    config.ssl_mode(mode);
    let err = match Connection::connect(&config).await {
        Ok(c) => panic!("logged in on injected bytes: {c:?}"),
        Err(e) => e,
    };
    let received = server.await.unwrap().unwrap();
    (err, received)
}

fn assert_injection_refused(err: &pgline::Error, received: &[u8]) {
    assert!(err.is_protocol(), "{err}");
    assert!(err.to_string().contains("CVE-2021-23222"), "{err}");
    // No StartupMessage, no TLS ClientHello: the client stopped at the answer.
    assert!(
        received.is_empty(),
        "the client went on and sent {received:?}"
    );
}

#[tokio::test]
async fn a_login_injected_behind_an_n_answer_is_refused_under_sslmode_prefer() {
    let (err, received) = connect_with_injection(pgline::conn::SslMode::Prefer, b'N').await;
    assert_injection_refused(&err, &received);
}

#[tokio::test]
async fn a_login_injected_behind_an_s_answer_is_refused_under_sslmode_prefer() {
    let (err, received) = connect_with_injection(pgline::conn::SslMode::Prefer, b'S').await;
    assert_injection_refused(&err, &received);
}

#[tokio::test]
async fn a_login_injected_behind_an_s_answer_is_refused_under_sslmode_require() {
    let (err, received) = connect_with_injection(pgline::conn::SslMode::Require, b'S').await;
    assert_injection_refused(&err, &received);
}

#[tokio::test]
async fn sslmode_require_against_a_server_without_tls_is_a_tls_error_before_startup() {
    let (port, server) =
        listen_then_record(vec![recv_ssl_request(), Step::Raw(b"N".to_vec())]).await;
    let mut config = tcp_cfg(port);
    config.ssl_mode(pgline::conn::SslMode::Require);
    let err = Connection::connect(&config).await.unwrap_err();
    assert!(err.is_tls(), "{err}");
    let received = server.await.unwrap().unwrap();
    assert!(
        received.is_empty(),
        "no StartupMessage in plaintext: {received:?}"
    );
}

#[tokio::test]
async fn sslmode_prefer_against_a_server_without_tls_logs_in_over_plaintext() {
    let mut script = accept_trust("16.0");
    script.push(recv_query("select 1"));
    script.extend(one_int_result(b"1"));
    let (port, server) = listen(script).await;
    let mut c = Connection::connect(&tcp_cfg(port)).await.unwrap();
    assert!(!c.is_tls());
    assert_eq!(c.parameter("server_version"), Some("16.0"));
    let r = c.simple_query("select 1").await.unwrap();
    assert_eq!(r[0].rows[0].get(0).unwrap(), Some("1"));
    server.await.unwrap().unwrap();
}

/// Under `sslmode=prefer` (the fake answers `N`) and `channel_binding=require`, the fake
/// sends `request` after the StartupMessage; returns the connect error and what the fake
/// received after that request.
async fn channel_binding_require_against(request: Authentication) -> (pgline::Error, Vec<u8>) {
    let (port, server) = listen_then_record(vec![
        recv_ssl_request(),
        Step::Raw(b"N".to_vec()),
        recv_startup(),
        auth(request),
    ])
    .await;
    let mut config = tcp_cfg(port);
    config
        .password("pw")
        // Every method allowed, so that channel_binding alone is what refuses.
        .auth_policy(pgline::conn::AuthPolicy::any())
        .channel_binding(pgline::conn::ChannelBindingMode::Require);
    let err = match Connection::connect(&config).await {
        Ok(c) => panic!("connected without channel binding: {c:?}"),
        Err(e) => e,
    };
    let received = server.await.unwrap().unwrap();
    (err, received)
}

fn assert_no_password_sent(err: &pgline::Error, received: &[u8]) {
    use pgline::protocol::frontend::FrontendMessage;
    assert!(err.is_auth(), "{err}");
    assert!(err.to_string().contains("channel_binding=require"), "{err}");
    let sent = frontend_messages(received);
    assert!(
        !sent
            .iter()
            .any(|m| matches!(m, FrontendMessage::PasswordMessage(_)) || m.tag() == b'p'),
        "a password went out: {sent:?}"
    );
}

#[tokio::test]
async fn channel_binding_require_never_sends_a_cleartext_password() {
    let (err, received) = channel_binding_require_against(Authentication::CleartextPassword).await;
    assert_no_password_sent(&err, &received);
}

#[tokio::test]
async fn channel_binding_require_never_sends_an_md5_password() {
    let (err, received) =
        channel_binding_require_against(Authentication::Md5Password { salt: [1, 2, 3, 4] }).await;
    assert_no_password_sent(&err, &received);
}

#[tokio::test]
async fn channel_binding_require_never_sends_scram_over_plaintext() {
    let (err, received) = channel_binding_require_against(Authentication::Sasl(vec![
        "SCRAM-SHA-256-PLUS".into(),
        "SCRAM-SHA-256".into(),
    ]))
    .await;
    assert_no_password_sent(&err, &received);
}

#[tokio::test]
async fn channel_binding_require_refuses_a_server_that_skips_authentication() {
    let (err, received) = channel_binding_require_against(Authentication::Ok).await;
    assert_no_password_sent(&err, &received);
}
