//! §10 of the iris-pgwire quirks document, point by point, against a scripted fake that
//! speaks the bytes each iris-pgwire version sends (legacy, 1.0.1, 1.7.3; §11's emulation
//! plan and §12/§13's transcripts). The fake is pgline's own codec driven by a script; the
//! version switch chooses the startup, the tags and the error paths.

use std::time::{Duration, Instant};

use pgline::protocol::backend::{
    Authentication, BackendKeyData, BackendMessage, CommandComplete, DataRow, ErrorFields,
    FieldDescription, ParameterDescription, RowDescription, TransactionStatus,
};
use pgline::protocol::frontend::FrontendMessage;
use pgline::protocol::Format;
use pgline::types::oid;
use pgline::{Config, Connection};

use crate::support::fake_server::steps::*;
use crate::support::fake_server::{pipe, Received, Step};

/// The iris-pgwire versions the fake can play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum V {
    Legacy,
    V101,
    V173,
}

const ALL: [V; 3] = [V::Legacy, V::V101, V::V173];

fn cfg() -> Config {
    let mut c = Config::new();
    c.user("u")
        .dbname("USER")
        .connect_timeout(Some(Duration::from_secs(5)))
        .query_timeout(Some(Duration::from_secs(5)));
    c
}

/// §11 items 1, 4, 6: 'N' to SSLRequest, trust, the eleven ParameterStatus messages,
/// BackendKeyData, `Z I`. Every version needs the SSLRequest probe first (legacy hangs
/// without it, §13).
fn startup(_v: V) -> Vec<Step> {
    let mut s = vec![
        recv_ssl_request(),
        Step::Raw(b"N".to_vec()),
        recv_startup(),
        auth(Authentication::Ok),
    ];
    for (k, v) in [
        ("application_name", ""),
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, MDY"),
        ("integer_datetimes", "on"),
        ("IntervalStyle", "postgres"),
        ("is_superuser", "off"),
        ("server_encoding", "UTF8"),
        ("server_version", "16.0 (InterSystems IRIS)"),
        ("session_authorization", "u"),
        ("standard_conforming_strings", "on"),
        ("TimeZone", "UTC"),
    ] {
        s.push(param(k, v));
    }
    s.push(Step::Send(BackendMessage::BackendKeyData(
        BackendKeyData::new(1234, bytes::Bytes::from_static(&[9, 9, 9, 9])),
    )));
    s.push(idle());
    s
}

fn tag(t: &str) -> Step {
    send(BackendMessage::CommandComplete(CommandComplete::new(
        t.to_owned(),
    )))
}

fn field(name: &'static str, type_oid: u32) -> FieldDescription<'static> {
    FieldDescription {
        name,
        table_oid: 0,
        column_id: 0,
        type_oid,
        type_size: -1,
        type_modifier: -1,
        format: Format::Text,
    }
}

fn row_desc(fields: &[FieldDescription<'_>]) -> Step {
    send(BackendMessage::RowDescription(
        RowDescription::new(fields).unwrap(),
    ))
}

fn data(values: &[Option<&[u8]>]) -> Step {
    send(BackendMessage::DataRow(DataRow::new(values).unwrap()))
}

/// A one-column, one-row simple result: T, D, `SELECT 1`, `Z I`.
fn one_row(name: &'static str, type_oid: u32, value: &'static [u8]) -> [Step; 4] {
    [
        row_desc(&[field(name, type_oid)]),
        data(&[Some(value)]),
        tag("SELECT 1"),
        idle(),
    ]
}

fn iris_error(code: &str, message: &str) -> Step {
    send(BackendMessage::ErrorResponse(ErrorFields::new(
        "ERROR", code, message,
    )))
}

fn recv_parse(check: impl Fn(&str, &[u32]) -> bool + Send + 'static) -> Step {
    Step::Recv(
        "Parse",
        Box::new(
            move |r| matches!(r, Received::Message(FrontendMessage::Parse(p)) if check(&p.query, &p.param_types)),
        ),
    )
}

fn recv_bind(
    check: impl Fn(&[i16], &[Option<bytes::Bytes>], &[i16]) -> bool + Send + 'static,
) -> Step {
    Step::Recv(
        "Bind",
        Box::new(move |r| {
            matches!(r, Received::Message(FrontendMessage::Bind(b))
                if check(&b.param_formats, &b.params, &b.result_formats))
        }),
    )
}

async fn connect(
    script: Vec<Step>,
) -> (
    Connection<tokio::io::DuplexStream>,
    tokio::task::JoinHandle<Result<(), String>>,
) {
    let (io, server) = pipe(script);
    let c = Connection::connect_stream(io, &cfg())
        .await
        .expect("connect to the fake");
    (c, server)
}

/// The release a fake version plays, as `Config::iris_pgwire_version` declares it
/// (legacy git builds predate 1.0).
fn release(v: V) -> pgline::iris::IrisPgwireVersion {
    let s = match v {
        V::Legacy => "0.9.0",
        V::V101 => "1.0.1",
        V::V173 => "1.7.3",
    };
    s.parse().expect("version")
}

/// [`connect`] with the fake's release declared.
async fn connect_declared(
    script: Vec<Step>,
    v: V,
) -> (
    Connection<tokio::io::DuplexStream>,
    tokio::task::JoinHandle<Result<(), String>>,
) {
    let (io, server) = pipe(script);
    let mut cfg = cfg();
    cfg.iris_pgwire_version(release(v));
    let c = Connection::connect_stream(io, &cfg)
        .await
        .expect("connect to the fake");
    (c, server)
}

async fn finish(
    c: Connection<tokio::io::DuplexStream>,
    server: tokio::task::JoinHandle<Result<(), String>>,
) {
    drop(c);
    server
        .await
        .expect("script task")
        .expect("the script ran to its end");
}

// ----- §10.1 startup -------------------------------------------------------------------

#[tokio::test]
async fn every_version_is_reached_through_an_ssl_probe_and_trust_and_detected_as_iris() {
    for v in ALL {
        let (c, server) = connect(startup(v)).await;
        assert!(c.quirks().positional_placeholders, "{v:?}");
        assert_eq!(c.parameter("standard_conforming_strings"), Some("on"));
        finish(c, server).await;
    }
}

// SCRAM against iris-pgwire (§11 item 5: constant 20-byte SASLFinal) is covered at the
// session level in `src/conn/tests/startup.rs`: refused by default with an error that says
// "20 bytes", accepted only with `danger_iris_skip_scram_server_signature`.

// ----- §10.2 empty queries ----------------------------------------------------------------

#[tokio::test]
async fn an_empty_query_is_never_sent_to_any_version() {
    for v in ALL {
        let mut script = startup(v);
        // The next thing the fake sees must be the real query: the empty ones were
        // answered locally (iris-pgwire would answer them with nothing at all).
        script.push(recv_query("SELECT 1"));
        script.extend(one_row("1", 23, b"1"));
        let (mut c, server) = connect(script).await;
        for sql in ["", ";", "  ;  ; "] {
            let r = c.simple_query(sql).await.unwrap();
            assert!(r[0].empty, "{v:?} {sql:?}");
        }
        let r = c.simple_query("SELECT 1").await.unwrap();
        assert_eq!(r[0].rows[0].get(0).unwrap(), Some("1"));
        finish(c, server).await;
    }
}

// ----- §10.3 lenient command tags ------------------------------------------------------------

#[tokio::test]
async fn odd_command_tags_of_each_version_complete_with_no_made_up_count() {
    let cases: &[(V, &str, &str)] = &[
        (V::Legacy, "CREATE TABLE t (a INT)", "SELECT 0"),
        (V::Legacy, "INSERT INTO t VALUES (1)", "SELECT 0"),
        (V::V101, "CREATE TABLE t (a INT)", "CREATE 0"),
        (V::V101, "INSERT INTO t VALUES (1)", "INSERT 0 0 0"),
        (V::V101, "UPDATE t SET a = 2", "UPDATE 0 0"),
        (V::V101, "DELETE FROM t", "DELETE 0 0"),
        (V::V101, "GRANT x", "UNKNOWN 0"),
        (V::V101, "DISCARD ALL", "DISCARD ALL 0"),
        (V::V101, "DEALLOCATE ALL", "DEALLOCATE 0"),
        (V::V101, "RESET ALL", "SET"),
        (V::V173, "DROP TABLE t", "DROP 0"),
        (V::V173, "TRUNCATE t", "TRUNCATE 0"),
    ];
    for &(v, sql, t) in cases {
        let mut script = startup(v);
        script.push(recv_query(sql));
        script.extend([tag(t), idle()]);
        let (mut c, server) = connect(script).await;
        let r = c
            .simple_query(sql)
            .await
            .unwrap_or_else(|e| panic!("{v:?} {sql}: {e}"));
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].tag.as_deref(), Some(t));
        assert_eq!(
            r[0].rows_affected, None,
            "{v:?} {sql} -> {t}: the count is unreliable"
        );
        finish(c, server).await;
    }
}

#[tokio::test]
async fn a_select_tag_with_two_numbers_and_show_tagged_select_1_are_results() {
    let mut script = startup(V::V101);
    script.push(recv_query("SHOW search_path"));
    script.extend(one_row("search_path", 25, b"unknown"));
    script.push(recv_query("SELECT a FROM t"));
    script.extend([
        row_desc(&[field("a", 23)]),
        data(&[Some(b"5")]),
        tag("SELECT 1 1"),
        idle(),
    ]);
    let (mut c, server) = connect(script).await;
    let r = c.simple_query("SHOW search_path").await.unwrap();
    assert_eq!(r[0].rows[0].get(0).unwrap(), Some("unknown"));
    let r = c.simple_query("SELECT a FROM t").await.unwrap();
    assert_eq!(r[0].rows.len(), 1);
    assert_eq!(r[0].rows_affected, None);
    finish(c, server).await;
}

// ----- §10.4 parameters: text, explicit OIDs, positional binding ----------------------------

#[tokio::test]
async fn parameters_go_as_text_with_explicit_oids_and_placeholders_renumbered() {
    for v in [V::V101, V::V173] {
        let mut script = startup(v);
        // `SELECT $2 AS a, $1 AS b` goes out as `$1, $2` with the values swapped, the
        // values' types declared, and no Describe (it would run the statement: §11.31).
        script.push(recv_parse(|q, types| {
            q == "SELECT $1 AS a, $2 AS b" && types == [oid::TEXT, oid::INT4]
        }));
        script.push(recv(b'S'));
        script.extend([send(BackendMessage::ParseComplete), idle()]);
        script.push(recv_bind(|formats, values, results| {
            formats.iter().all(|&f| f == 0)
                && results.iter().all(|&f| f == 0)
                && values.first().and_then(|v| v.as_deref()) == Some(b"second".as_slice())
                && values.get(1).and_then(|v| v.as_deref()) == Some(b"7".as_slice())
        }));
        script.push(recv(b'E'));
        script.push(recv(b'S'));
        script.extend([
            send(BackendMessage::BindComplete),
            data(&[Some(b"second"), Some(b"7")]),
            tag("SELECT 1"),
            idle(),
        ]);
        let (mut c, server) = connect(script).await;
        let row = match c
            .query_one("SELECT $2 AS a, $1 AS b", &[&7i32, &"second"])
            .await
        {
            Ok(r) => r,
            Err(e) => panic!("{v:?}: {e}; fake: {:?}", server.await),
        };
        assert_eq!(row.get::<&str>(0).unwrap(), "second");
        assert_eq!(row.get::<i32>(1).unwrap(), 7);
        finish(c, server).await;
    }
}

// ----- §10.5 / §10.6 text results, lenient decoding ------------------------------------------

#[tokio::test]
async fn values_are_decoded_by_the_rust_type_asked_for_whatever_the_oid_says() {
    let mut script = startup(V::V101);
    script.push(recv(b'P'));
    script.push(recv(b'D'));
    script.push(recv(b'S'));
    script.extend([
        send(BackendMessage::ParseComplete),
        send(BackendMessage::ParameterDescription(
            ParameterDescription::new(vec![]),
        )),
        row_desc(&[
            field("n", oid::TEXT),
            field("d", oid::DATE),
            field("b", oid::TEXT),
            field("f", oid::FLOAT8),
            field("g", oid::FLOAT8),
            field("e", oid::VARCHAR),
            field("y", oid::BYTEA),
        ]),
        idle(),
    ]);
    script.push(recv(b'B'));
    script.push(recv(b'E'));
    script.push(recv(b'S'));
    script.extend([
        send(BackendMessage::BindComplete),
        data(&[
            Some(b"42"),
            Some(b"9131"),
            Some(b"t"),
            Some(b"inf"),
            Some(b"nan"),
            None,
            Some(br"b'\x00ab'"),
        ]),
        tag("SELECT 1"),
        idle(),
    ]);
    let (mut c, server) = connect(script).await;
    // An explicit prepare describes (the caller asked for the metadata).
    let stmt = c.prepare("SELECT v").await.unwrap();
    let row = c.query_one(&stmt, &[]).await.unwrap();
    assert_eq!(row.get::<i32>(0).unwrap(), 42, "a number in a text column");
    let day = row.get::<std::time::SystemTime>(1).unwrap();
    let secs = day.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    // 9131 days after 2000-01-01 (2024-12-31).
    assert_eq!(
        secs,
        946_684_800 + 9131 * 86_400,
        "DATE as days since 2000-01-01"
    );
    assert!(row.get::<bool>(2).unwrap());
    assert_eq!(row.get::<f64>(3).unwrap(), f64::INFINITY);
    assert!(row.get::<f64>(4).unwrap().is_nan());
    assert_eq!(
        row.get::<Option<String>>(5).unwrap(),
        None,
        "'' comes back as NULL"
    );
    finish(c, server).await;
}

// ----- §10.7 / §10.8 no skip after error, odd shapes ------------------------------------------

#[tokio::test]
async fn after_an_error_later_pipeline_items_are_believed_and_attributed_in_order() {
    // §12: `P "SELEC 1" B E P "SELECT 2" B D E S → 1, 2, E, 1, 2, T, D, C, Z`. pgline
    // gives each statement its own Sync on IRIS (deferred DML errors, below), and the
    // server answers every message after the error anyway.
    let mut script = startup(V::V101);
    script.push(recv_until(b'S'));
    script.extend([
        send(BackendMessage::ParseComplete),
        send(BackendMessage::BindComplete),
        iris_error("42000", "syntax error"),
        idle(),
    ]);
    script.push(recv_until(b'S'));
    script.extend([
        send(BackendMessage::ParseComplete),
        send(BackendMessage::BindComplete),
        row_desc(&[field("x", 23)]),
        data(&[Some(b"2")]),
        tag("SELECT 1"),
        idle(),
    ]);
    let (mut c, server) = connect(script).await;
    let mut p = c.pipeline().await.unwrap();
    p.query_sql("SELEC 1", &[]).unwrap();
    p.query_sql("SELECT 2", &[]).unwrap();
    p.sync().unwrap();
    let out = p.finish().await.unwrap();
    assert_eq!(out.len(), 2);
    let first = out[0].as_ref().expect_err("the first item failed");
    assert_eq!(first.code(), Some("42000"));
    let second = out[1]
        .as_ref()
        .expect("the second item ran on IRIS and is believed");
    assert_eq!(second.rows[0].get::<i32>(0).unwrap(), 2);
    assert!(!c.is_broken());
    finish(c, server).await;
}

#[tokio::test]
async fn a_data_row_without_row_description_and_a_field_count_mismatch_are_tolerated() {
    let mut script = startup(V::V101);
    script.push(recv_query("SELECT a"));
    // No RowDescription at all.
    script.extend([data(&[Some(b"1")]), tag("SELECT 1"), idle()]);
    script.push(recv_query("SELECT b"));
    // RowDescription of one field, DataRow of two.
    script.extend([
        row_desc(&[field("b", 25)]),
        data(&[Some(b"x"), Some(b"y")]),
        tag("SELECT 1"),
        idle(),
    ]);
    let (mut c, server) = connect(script).await;
    let r = c.simple_query("SELECT a").await.unwrap();
    assert_eq!(r[0].rows.len(), 1);
    let r = c.simple_query("SELECT b").await.unwrap();
    assert_eq!(r[0].rows.len(), 1);
    assert!(!c.is_broken());
    finish(c, server).await;
}

#[tokio::test]
async fn a_deferred_dml_error_after_insert_0_1_fails_the_row_never_reports_success() {
    // 1.7.3: `P INSERT B E S → 1, 2, C "INSERT 0 1", E 23505 "Batch failed: …", Z` (no
    // Describe: on IRIS it would run the statement again).
    let mut script = startup(V::V173);
    script.push(recv_until(b'S'));
    script.extend([
        send(BackendMessage::ParseComplete),
        send(BackendMessage::BindComplete),
        tag("INSERT 0 1"),
        iris_error("23505", "Batch failed: UNIQUE constraint failed"),
        idle(),
    ]);
    let (mut c, server) = connect(script).await;
    let e = c
        .query_unnamed("INSERT INTO t (id) VALUES ($1)", &[&1i32])
        .await
        .expect_err("the deferred error is the statement's outcome");
    assert_eq!(e.code(), Some("23505"));
    assert!(!c.is_broken());
    finish(c, server).await;
}

#[tokio::test]
async fn a_deferred_dml_error_in_a_pipeline_fails_the_insert_not_the_next_statement() {
    // 1.7.3 runs the INSERT only when something else arrives and reports its error then,
    // after "INSERT 0 1". With a Sync per statement the error comes in the INSERT's window.
    let mut script = startup(V::V173);
    script.push(recv_until(b'S'));
    script.extend([
        send(BackendMessage::ParseComplete),
        send(BackendMessage::BindComplete),
        tag("INSERT 0 1"),
        iris_error("23505", "Batch failed: UNIQUE constraint failed"),
        idle(),
    ]);
    script.push(recv_until(b'S'));
    script.extend([
        send(BackendMessage::ParseComplete),
        send(BackendMessage::BindComplete),
        row_desc(&[field("n", 23)]),
        data(&[Some(b"1")]),
        tag("SELECT 1"),
        idle(),
    ]);
    let (mut c, server) = connect(script).await;
    let mut p = c.pipeline().await.unwrap();
    p.query_sql("INSERT INTO t (id) VALUES ($1)", &[&1i32])
        .unwrap();
    p.query_sql("SELECT COUNT(*) FROM t", &[]).unwrap();
    let first = p.next_result().await.expect("a result");
    let e = first.expect_err("the INSERT failed, though its tag said INSERT 0 1");
    assert_eq!(e.code(), Some("23505"));
    let second = p
        .next_result()
        .await
        .expect("a result")
        .expect("the SELECT ran");
    assert_eq!(second.rows[0].get::<i32>(0).unwrap(), 1);
    assert!(p.next_result().await.is_none());
    drop(p);
    finish(c, server).await;
}

#[tokio::test]
async fn several_errors_before_one_ready_for_query_fail_once_and_stay_in_step() {
    // 1.0.1: `Q "SELECT 'a;b'" → E 42000, E 42000, Z`.
    let mut script = startup(V::V101);
    script.push(recv_query("SELECT 'a;b'"));
    script.extend([
        iris_error("42000", "one"),
        iris_error("42000", "two"),
        idle(),
    ]);
    script.push(recv_query("SELECT 1"));
    script.extend(one_row("1", 23, b"1"));
    let (mut c, server) = connect(script).await;
    let e = c.simple_query("SELECT 'a;b'").await.expect_err("errors");
    assert!(e.to_string().contains("one"), "{e}");
    let r = c.simple_query("SELECT 1").await.unwrap();
    assert_eq!(r[0].rows[0].get(0).unwrap(), Some("1"));
    finish(c, server).await;
}

#[tokio::test]
async fn a_missing_ready_for_query_on_the_legacy_error_path_returns_the_error_at_once_and_goes_on()
{
    // legacy: `Q "SHOW …"` → E 42000 and **no** Z. The error reaches the caller after the
    // short grace (not at the deadline, which is far away here), and the connection is
    // treated as synchronised: the next query works.
    let mut script = startup(V::Legacy);
    script.push(recv_query("SHOW x"));
    script.push(iris_error("42000", "no"));
    script.push(recv_query("SELECT 1"));
    script.extend(one_row("1", 23, b"1"));
    let (io, server) = pipe(script);
    let mut config = cfg();
    config.query_timeout(Some(Duration::from_secs(30)));
    let mut c = Connection::connect_stream(io, &config).await.unwrap();
    let t = Instant::now();
    let e = c
        .simple_query("SHOW x")
        .await
        .expect_err("IRIS rejects SHOW");
    assert_eq!(e.code(), Some("42000"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(!c.is_broken());
    let r = c.simple_query("SELECT 1").await.unwrap();
    assert_eq!(r[0].rows[0].get(0).unwrap(), Some("1"));
    finish(c, server).await;
}

#[tokio::test]
async fn a_surplus_ready_for_query_after_copy_is_discarded_on_iris() {
    // §11 item 44: COPY inside a multi-statement Query sends its own Z as well.
    let mut script = startup(V::V101);
    script.push(recv_query("SELECT 1"));
    script.extend([
        row_desc(&[field("1", 23)]),
        data(&[Some(b"1")]),
        tag("SELECT 1"),
        idle(),
        idle(),
    ]);
    script.push(recv_query("SELECT 2"));
    script.extend(one_row("2", 23, b"2"));
    let (mut c, server) = connect(script).await;
    c.simple_query("SELECT 1").await.unwrap();
    let r = c.simple_query("SELECT 2").await.unwrap();
    assert_eq!(
        r[0].rows[0].get(0).unwrap(),
        Some("2"),
        "no shift onto the next request"
    );
    finish(c, server).await;
}

#[tokio::test]
async fn a_backend_f_message_is_dropped_on_iris() {
    // §11 item 41: stray copy messages are answered with a backend 'f'.
    let mut script = startup(V::V173);
    script.push(recv_query("SELECT 1"));
    let mut f = vec![b'f'];
    let body = b"CopyData processing failed\0";
    f.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
    f.extend_from_slice(body);
    script.push(Step::Raw(f));
    script.extend(one_row("1", 23, b"1"));
    let (mut c, server) = connect(script).await;
    let r = c.simple_query("SELECT 1").await.unwrap();
    assert_eq!(r[0].rows[0].get(0).unwrap(), Some("1"));
    assert!(!c.is_broken());
    finish(c, server).await;
}

#[tokio::test]
async fn a_row_stream_uses_one_execute_because_row_limits_are_ignored() {
    let mut script = startup(V::V173);
    script.push(recv(b'P'));
    script.push(recv(b'S'));
    script.extend([send(BackendMessage::ParseComplete), idle()]);
    script.push(recv(b'B'));
    script.push(Step::Recv(
        "Execute with no row limit",
        Box::new(
            |r| matches!(r, Received::Message(FrontendMessage::Execute(e)) if e.max_rows == 0),
        ),
    ));
    script.push(recv(b'S'));
    script.push(send(BackendMessage::BindComplete));
    for _ in 0..5 {
        script.push(data(&[Some(b"1")]));
    }
    script.extend([tag("SELECT 5"), idle()]);
    let (mut c, server) = connect(script).await;
    let mut s = c.query_stream("SELECT x", &[], 2).await.unwrap();
    let mut n = 0;
    while let Some(r) = s.next().await.unwrap() {
        assert_eq!(r.get::<i32>(0).unwrap(), 1);
        n += 1;
    }
    assert_eq!(n, 5);
    drop(s);
    finish(c, server).await;
}

// ----- §10.9 COPY --------------------------------------------------------------------------

#[tokio::test]
async fn copy_out_is_refused_locally_without_sending_anything() {
    let mut script = startup(V::V101);
    script.push(recv_query("SELECT 1"));
    script.extend(one_row("1", 23, b"1"));
    let (mut c, server) = connect(script).await;
    let e = c
        .copy_out("COPY t TO STDOUT")
        .await
        .expect_err("COPY TO is broken on iris-pgwire");
    assert!(e.is_unsupported(), "{e}");
    c.simple_query("SELECT 1").await.unwrap();
    finish(c, server).await;
}

// ----- §10.10 transactions ------------------------------------------------------------------

#[tokio::test]
async fn transactions_send_the_bare_verbs_and_track_state_on_the_client() {
    for v in ALL {
        let mut script = startup(v);
        script.push(recv_query("BEGIN"));
        script.extend([tag("BEGIN"), ready(TransactionStatus::InTransaction)]);
        script.push(recv_query("SELEC 1"));
        // Never 'E': the transaction is still alive on IRIS.
        script.extend([
            iris_error("42000", "syntax"),
            ready(TransactionStatus::InTransaction),
        ]);
        script.push(recv_query("COMMIT"));
        script.extend([tag("COMMIT"), idle()]);
        script.push(recv_query("BEGIN TRANSACTION"));
        // 1.0.1: forwarded as-is, tag UNKNOWN 0, and the status byte stays I.
        script.extend([tag("UNKNOWN 0"), idle()]);
        script.push(recv_query("ROLLBACK"));
        script.extend([tag("ROLLBACK"), idle()]);
        let (mut c, server) = connect_declared(script, v).await;
        // legacy and 1.0.1 cannot roll back: the transaction needs the opt-in there.
        let mut tx = if v == V::V173 {
            c.begin().await.unwrap()
        } else {
            c.begin_without_rollback().await.unwrap()
        };
        tx.simple_query("SELEC 1").await.expect_err("syntax");
        assert_eq!(
            tx.transaction_status(),
            TransactionStatus::InTransaction,
            "{v:?}"
        );
        tx.commit().await.unwrap();
        assert_eq!(c.transaction_status(), TransactionStatus::Idle);
        c.simple_query("BEGIN TRANSACTION").await.unwrap();
        assert_eq!(
            c.transaction_status(),
            TransactionStatus::InTransaction,
            "{v:?}: the client knows better than the status byte"
        );
        c.simple_query("ROLLBACK").await.unwrap();
        assert_eq!(c.transaction_status(), TransactionStatus::Idle);
        finish(c, server).await;
    }
}

// ----- §4 DEALLOCATE: the statement cache closes with Close('S') --------------------------------

#[tokio::test]
async fn statement_cache_eviction_closes_with_a_close_message_never_sql_deallocate() {
    let prepare = || {
        vec![
            recv(b'P'),
            recv(b'S'),
            send(BackendMessage::ParseComplete),
            idle(),
        ]
    };
    let execute = || {
        vec![
            recv(b'B'),
            recv(b'E'),
            recv(b'S'),
            send(BackendMessage::BindComplete),
            data(&[Some(b"1")]),
            tag("SELECT 1"),
            idle(),
        ]
    };
    let mut script = startup(V::V101);
    script.extend(prepare());
    script.extend(execute());
    script.extend(prepare());
    // The first statement was evicted: a protocol Close('S'), not a Query "DEALLOCATE".
    script.push(Step::Recv(
        "Close of the evicted statement",
        Box::new(
            |r| matches!(r, Received::Message(FrontendMessage::Close(c)) if c.name == "pgline_s1"),
        ),
    ));
    script.push(recv_until(b'S'));
    script.extend([send(BackendMessage::CloseComplete), idle()]);
    script.extend(execute());
    script.push(recv_query("SELECT 3"));
    script.extend(one_row("x", 23, b"3"));
    let (io, server) = pipe(script);
    let mut config = cfg();
    config.statement_cache_capacity(1);
    let mut c = Connection::connect_stream(io, &config).await.unwrap();
    // With a parameter: parameterless SQL goes as a simple Query on IRIS, uncached.
    for sql in ["SELECT $1 AS a", "SELECT $1 AS b"] {
        if let Err(e) = c.query_one(sql, &[&1i32]).await {
            panic!("{sql}: {e}; fake: {:?}", server.await);
        }
    }
    if let Err(e) = c.simple_query("SELECT 3").await {
        panic!("SELECT 3: {e}; fake: {:?}", server.await);
    }
    finish(c, server).await;
}

#[tokio::test]
async fn one_shot_queries_skip_describe_and_read_rows_with_or_without_a_description() {
    // iris-pgwire answers Describe by running the statement (§11 items 31-32): a one-shot
    // query sends Parse, Bind, Execute, Sync only, so it runs once.
    let no_describe = |r: &Received| !matches!(r, Received::Message(FrontendMessage::Describe(_)));
    let mut full = startup(V::V101);
    // Flight 1: Execute sends its own RowDescription (1.0.1 RETURNING).
    full.extend([recv(b'P'), recv(b'B')]);
    full.push(Step::Recv(
        "Execute, not Describe",
        Box::new(move |r| {
            no_describe(r) && matches!(r, Received::Message(FrontendMessage::Execute(_)))
        }),
    ));
    full.push(recv(b'S'));
    full.extend([
        send(BackendMessage::ParseComplete),
        send(BackendMessage::BindComplete),
        row_desc(&[field("id", 23)]),
        data(&[Some(b"41")]),
        tag("INSERT 0 0 0"),
        idle(),
    ]);
    // Flight 2: DataRows with no RowDescription at all.
    full.extend([recv(b'P'), recv(b'B')]);
    full.push(Step::Recv(
        "Execute, not Describe",
        Box::new(move |r| {
            no_describe(r) && matches!(r, Received::Message(FrontendMessage::Execute(_)))
        }),
    ));
    full.push(recv(b'S'));
    full.extend([
        send(BackendMessage::ParseComplete),
        send(BackendMessage::BindComplete),
        data(&[Some(b"7"), Some(b"seven")]),
        tag("SELECT 1"),
        idle(),
    ]);
    let (mut c, server) = connect(full).await;
    let rows = c
        .query_unnamed("INSERT INTO t (v) VALUES ($1) RETURNING id", &[&1i32])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].get::<i32>("id").unwrap(),
        41,
        "named by Execute's description"
    );
    let rows = c
        .query_unnamed("SELECT n, s FROM t WHERE n = $1", &[&7i32])
        .await
        .unwrap();
    assert_eq!(
        rows[0].get::<i32>(0).unwrap(),
        7,
        "found by position, decoded as asked"
    );
    assert_eq!(rows[0].get::<&str>(1).unwrap(), "seven");
    assert!(
        rows[0].get::<&str>("s").is_err(),
        "no names without a description"
    );
    finish(c, server).await;
}

// ----- capabilities per release (src/iris/capabilities.rs) ----------------------------------

#[tokio::test]
async fn begin_is_refused_without_sending_anything_where_rollback_does_nothing() {
    for (v, declared) in [(V::Legacy, true), (V::V101, true), (V::V173, false)] {
        let mut script = startup(v);
        // The next thing the fake sees is this query: no BEGIN went out.
        script.push(recv_query("SELECT 1"));
        script.extend(one_row("1", 23, b"1"));
        let (mut c, server) = if declared {
            connect_declared(script, v).await
        } else {
            connect(script).await
        };
        let e = c
            .begin()
            .await
            .expect_err("no transaction without rollback");
        assert!(e.is_unsupported(), "{v:?}: {e}");
        let msg = e.to_string();
        assert!(msg.contains("cannot roll back"), "{v:?}: {msg}");
        if declared {
            assert!(msg.contains(&release(v).to_string()), "{v:?}: {msg}");
        } else {
            assert!(
                msg.contains("iris_pgwire_version"),
                "says how to declare: {msg}"
            );
        }
        c.simple_query("SELECT 1").await.unwrap();
        finish(c, server).await;
    }
}

#[tokio::test]
async fn rollback_of_an_opted_in_transaction_sends_rollback_but_reports_it_did_nothing() {
    let mut script = startup(V::V101);
    script.push(recv_query("BEGIN"));
    script.extend([tag("BEGIN"), ready(TransactionStatus::InTransaction)]);
    script.push(recv_query("ROLLBACK"));
    script.extend([tag("ROLLBACK"), idle()]);
    let (mut c, server) = connect_declared(script, V::V101).await;
    let tx = c.begin_without_rollback().await.unwrap();
    assert!(!tx.rolls_back());
    let e = tx
        .rollback()
        .await
        .expect_err("the server rolled nothing back");
    assert!(e.is_unsupported(), "{e}");
    assert!(e.to_string().contains("stay committed"), "{e}");
    assert_eq!(c.transaction_status(), TransactionStatus::Idle);
    finish(c, server).await;
}

#[tokio::test]
async fn a_declared_1_7_release_begins_and_rolls_back_normally() {
    let mut script = startup(V::V173);
    script.push(recv_query("BEGIN"));
    script.extend([tag("BEGIN"), ready(TransactionStatus::InTransaction)]);
    script.push(recv_query("ROLLBACK"));
    script.extend([tag("ROLLBACK"), idle()]);
    let (mut c, server) = connect_declared(script, V::V173).await;
    let tx = c.begin().await.unwrap();
    assert!(tx.rolls_back());
    tx.rollback().await.unwrap();
    finish(c, server).await;
}

#[tokio::test]
async fn copy_in_is_refused_on_every_release_without_touching_the_server() {
    for v in ALL {
        let mut script = startup(v);
        script.push(recv_query("SELECT 1"));
        script.extend(one_row("1", 23, b"1"));
        let (mut c, server) = connect_declared(script, v).await;
        let e = c
            .copy_in("COPY t (a) FROM STDIN")
            .await
            .expect_err("COPY FROM is refused");
        assert!(e.is_unsupported(), "{v:?}: {e}");
        // Cancel tokens exist for TCP connections only: refused cancels are checked
        // against the real servers (`releases.rs`); here, the table behind them.
        let caps = c.iris_capabilities().expect("IRIS profile");
        assert_eq!(caps.rollback, v == V::V173, "{v:?}");
        assert_ne!(caps.cancel, pgline::iris::CancelEffect::Cancels, "{v:?}");
        c.simple_query("SELECT 1").await.unwrap();
        finish(c, server).await;
    }
}

#[tokio::test]
async fn deallocate_and_discard_through_execute_go_out_as_a_simple_query() {
    for v in ALL {
        let mut script = startup(v);
        for (sql, t) in [
            ("DEALLOCATE ALL", "DEALLOCATE 0"),
            ("DEALLOCATE pgline_s1", "DEALLOCATE 0"),
            ("DISCARD ALL", "DISCARD ALL 0"),
        ] {
            // A Parse would reach IRIS, which rejects DEALLOCATE: only a Query is answered.
            script.push(recv_query(sql));
            script.extend([tag(t), idle()]);
        }
        let (mut c, server) = connect_declared(script, v).await;
        assert_eq!(c.execute("DEALLOCATE ALL", &[]).await.unwrap(), None);
        assert!(c
            .query("DEALLOCATE pgline_s1", &[])
            .await
            .unwrap()
            .is_empty());
        assert_eq!(c.execute("DISCARD ALL", &[]).await.unwrap(), None);
        finish(c, server).await;
    }
}

#[tokio::test]
async fn prepare_takes_the_placeholder_count_over_a_parameter_description_of_zero() {
    let mut script = startup(V::Legacy);
    script.push(recv_parse(|q, _| q == "SELECT $1 AS a, $2 AS b"));
    script.push(recv(b'D'));
    script.push(recv(b'S'));
    script.extend([
        send(BackendMessage::ParseComplete),
        // legacy: `$1, $2` described as no parameters at all (quirks §14).
        send(BackendMessage::ParameterDescription(
            ParameterDescription::new(vec![]),
        )),
        row_desc(&[field("a", oid::TEXT), field("b", oid::TEXT)]),
        idle(),
    ]);
    script.push(recv_bind(|_, values, _| {
        values.len() == 2
            && values.first().and_then(|v| v.as_deref()) == Some(b"x".as_slice())
            && values.get(1).and_then(|v| v.as_deref()) == Some(b"7".as_slice())
    }));
    script.push(recv(b'E'));
    script.push(recv(b'S'));
    script.extend([
        send(BackendMessage::BindComplete),
        data(&[Some(b"x"), Some(b"7")]),
        tag("SELECT 1"),
        idle(),
    ]);
    let (mut c, server) = connect_declared(script, V::Legacy).await;
    let stmt = c.prepare("SELECT $1 AS a, $2 AS b").await.unwrap();
    assert_eq!(stmt.params().len(), 2, "the statement's own count wins");
    let row = c.query_one(&stmt, &[&"x", &7i32]).await.unwrap();
    assert_eq!(row.get::<&str>(0).unwrap(), "x");
    assert_eq!(row.get::<i32>(1).unwrap(), 7);
    finish(c, server).await;
}

#[tokio::test]
async fn an_iris_sqlcode_in_the_message_is_exposed_and_mapped_to_the_postgresql_sqlstate() {
    for (v, code, prefix) in [
        (V::Legacy, "42000", ""),
        (V::V101, "42000", ""),
        (V::V173, "XX000", "Batch failed: "),
    ] {
        let mut script = startup(v);
        script.push(recv_query("INSERT INTO t (id) VALUES (1)"));
        let msg = format!(
            "{prefix}[SQLCODE: <-119>:<UNIQUE or PRIMARY KEY Constraint failed uniqueness \
             check upon INSERT>]\r\n[Location: <Prepare>]"
        );
        script.extend([iris_error(code, &msg), idle()]);
        script.push(recv_query("INSERT INTO c (p) VALUES (9)"));
        script.extend([
            iris_error(
                "42000",
                "[SQLCODE: <-121>:<FOREIGN KEY constraint failed referential check upon \
                 INSERT of row in referencing table>]",
            ),
            idle(),
        ]);
        let (mut c, server) = connect_declared(script, v).await;
        let e = c
            .simple_query("INSERT INTO t (id) VALUES (1)")
            .await
            .unwrap_err();
        let db = e.as_db_error().expect("server error");
        assert_eq!(db.code(), code, "{v:?}: the server's code stays visible");
        assert_eq!(db.iris_sqlcode(), Some(-119), "{v:?}");
        assert_eq!(db.sqlstate_mapped(), "23505", "{v:?}");
        let e = c
            .simple_query("INSERT INTO c (p) VALUES (9)")
            .await
            .unwrap_err();
        let db = e.as_db_error().expect("server error");
        assert_eq!(
            (db.iris_sqlcode(), db.sqlstate_mapped()),
            (Some(-121), "23503")
        );
        finish(c, server).await;
    }
}

// ----- Column names without a second execution (tests/iris/evidence.md) -------------------

#[tokio::test]
async fn a_parameterless_query_goes_as_a_simple_query_and_names_its_columns_on_every_version() {
    // Execute never sends a RowDescription for a SELECT; Describe runs the statement
    // again. A simple Query is answered with T, D, C, Z and runs once.
    for v in ALL {
        let mut script = startup(v);
        script.push(recv_query("SELECT 1"));
        script.extend(one_row("hostvar_1", oid::INT4, b"1"));
        script.push(recv_query("SELECT id, name FROM t"));
        script.extend([
            row_desc(&[field("id", oid::INT4), field("name", oid::VARCHAR)]),
            data(&[Some(b"7"), Some(b"seven")]),
            tag("SELECT 1"),
            idle(),
        ]);
        script.push(recv_query("DELETE FROM t"));
        script.extend([tag("DELETE 1"), idle()]);
        let (mut c, server) = connect(script).await;
        let one = c.query_one("SELECT 1", &[]).await.unwrap();
        assert_eq!(
            one.get::<i32>(0).unwrap(),
            1,
            "{v:?}: SELECT 1 is an integer"
        );
        assert_eq!(one.columns()[0].type_oid(), oid::INT4);
        let rows = c.query("SELECT id, name FROM t", &[]).await.unwrap();
        assert_eq!(rows[0].get::<i64>("id").unwrap(), 7, "{v:?}");
        assert_eq!(rows[0].get::<&str>("name").unwrap(), "seven", "{v:?}");
        assert_eq!(c.execute("DELETE FROM t", &[]).await.unwrap(), None);
        finish(c, server).await;
    }
}

#[tokio::test]
async fn a_name_asked_of_a_row_that_came_without_names_says_why() {
    let mut script = startup(V::V173);
    script.extend([recv(b'P'), recv(b'B'), recv(b'E'), recv(b'S')]);
    script.extend([
        send(BackendMessage::ParseComplete),
        send(BackendMessage::BindComplete),
        data(&[Some(b"7"), Some(b"seven")]),
        tag("SELECT 1"),
        idle(),
    ]);
    let (mut c, server) = connect(script).await;
    let rows = c
        .query_unnamed("SELECT id, name FROM t WHERE id = $1", &[&7i32])
        .await
        .unwrap();
    let row = &rows[0];
    assert_eq!(row.get::<&str>(1).unwrap(), "seven", "by position it works");
    let e = row.get::<&str>("name").unwrap_err();
    let text = format!("{e:#}");
    assert!(
        text.contains("without column names") && text.contains("by position"),
        "{text}"
    );
    finish(c, server).await;
}
