//! The query flows driven without a socket: scripted server messages in, the flow's
//! result and the frames it queued out.

use super::extended::{Close, Prepare, Run, Stale, StatementRef, Stream};
use super::harness::Harness;
use super::simple::{RunSimple, SimpleQuery};
use crate::conn::session::{Wait, READY_AFTER_ERROR_GRACE};
use crate::conn::statement::Statement;
use crate::conn::tests::{cc, err, idle, row, rowdesc, Script};
use crate::iris::Quirks;
use crate::protocol::backend::{
    BackendMessage, FieldDescription, ParameterDescription, RowDescription,
};
use crate::protocol::{Format, Oid};
use crate::types::{oid, ToSql};

fn typed_rowdesc(cols: &[(&str, Oid)]) -> BackendMessage {
    let fields: Vec<FieldDescription<'_>> = cols
        .iter()
        .map(|&(name, type_oid)| FieldDescription {
            name,
            table_oid: 0,
            column_id: 0,
            type_oid,
            type_size: -1,
            type_modifier: -1,
            format: Format::Text,
        })
        .collect();
    BackendMessage::RowDescription(RowDescription::new(&fields).expect("rowdesc"))
}

fn params(types: &[Oid]) -> BackendMessage {
    BackendMessage::ParameterDescription(ParameterDescription::new(types.to_vec()))
}

fn statement(name: &str, sql: &str, params: Vec<Oid>) -> Statement {
    Statement::new(name.into(), sql.into(), params, Vec::new(), None)
}

/// A statement returning one text column, as its Describe would have said.
fn returning_text(name: &str, sql: &str, params: Vec<Oid>) -> Statement {
    let BackendMessage::RowDescription(d) = typed_rowdesc(&[("n", oid::TEXT)]) else {
        unreachable!("typed_rowdesc makes a RowDescription")
    };
    let columns = crate::conn::row::Column::from_description(&d);
    Statement::new(name.into(), sql.into(), params, columns, None)
}

// ----- simple query -------------------------------------------------------------------

#[test]
fn a_simple_query_returns_every_statements_rows_and_tag_only_at_ready_for_query() {
    let mut h = Harness::postgres();
    let mut flow = SimpleQuery::start(&mut h.script.s, "SELECT 1 AS a; SELECT 2").expect("start");
    assert_eq!(h.sent(), ["Query SELECT 1 AS a; SELECT 2"]);
    let first = [rowdesc(&["a"]), row(&[Some(b"1")]), cc("SELECT 1")];
    assert!(
        h.feed(&mut flow, first).is_none(),
        "not done before ReadyForQuery"
    );
    let rest = [
        rowdesc(&["?column?"]),
        row(&[Some(b"2")]),
        cc("SELECT 1"),
        idle(),
    ];
    let results = h.feed(&mut flow, rest).expect("done").expect("ok");
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].rows[0].get("a").expect("a"), Some("1"));
    assert_eq!(results[1].rows[0].get(0).expect("0"), Some("2"));
    assert_eq!(results[1].tag.as_deref(), Some("SELECT 1"));
    assert_eq!(results[0].rows_affected, Some(1));
}

#[test]
fn a_simple_query_error_is_returned_once_the_server_is_ready_again() {
    let mut h = Harness::postgres();
    let mut flow = SimpleQuery::start(&mut h.script.s, "SELECT 1; SELEC 2").expect("start");
    let got = h.feed(
        &mut flow,
        [rowdesc(&["a"]), row(&[Some(b"1")]), cc("SELECT 1")],
    );
    assert!(got.is_none());
    assert!(
        h.feed(&mut flow, [err("42601")]).is_none(),
        "waits for ReadyForQuery"
    );
    let e = h
        .feed(&mut flow, [idle()])
        .expect("done")
        .expect_err("error");
    assert_eq!(e.code(), Some("42601"));
    assert!(h.script.s.is_ready());
}

#[test]
fn a_simple_query_keeps_rows_of_a_statement_whose_command_complete_never_came_on_iris() {
    let mut h = Harness::iris();
    let mut flow = SimpleQuery::start(&mut h.script.s, "SELECT 1").expect("start");
    let results = h
        .feed(&mut flow, [rowdesc(&["a"]), row(&[Some(b"1")]), idle()])
        .expect("done")
        .expect("ok");
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].rows.len(), 1);
    assert_eq!(results[0].tag, None);
}

#[test]
fn deallocate_all_in_a_simple_query_empties_the_statement_cache_without_closes() {
    let mut h = Harness::postgres();
    h.cache
        .insert(statement("pgline_s1", "SELECT $1", vec![oid::INT4]));
    assert_eq!(h.cache.len(), 1);
    let mut flow = SimpleQuery::start(&mut h.script.s, "DEALLOCATE ALL").expect("start");
    h.sent();
    h.feed(&mut flow, [cc("DEALLOCATE ALL"), idle()])
        .expect("done")
        .expect("ok");
    assert_eq!(h.cache.len(), 0);
    assert!(h.cache.take_evicted().is_empty(), "nothing left to close");
}

#[test]
fn run_simple_never_gives_a_later_statements_rows_the_earlier_column_names() {
    let mut h = Harness::iris();
    let mut flow =
        RunSimple::start(&mut h.script.s, "SELECT 1 AS a; SELECT 2", true).expect("start");
    let msgs = [
        typed_rowdesc(&[("a", oid::INT4)]),
        row(&[Some(b"1")]),
        cc("SELECT 1"),
        row(&[Some(b"2")]),
        cc("SELECT 1"),
        idle(),
    ];
    let (rows, affected) = h.feed(&mut flow, msgs).expect("done").expect("ok");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get::<i32>("a").expect("named"), 1);
    assert!(
        rows[1].get::<i32>("a").is_err(),
        "the second row has no names"
    );
    assert_eq!(affected, None, "iris-pgwire's counts are not trusted");
}

// ----- prepare ------------------------------------------------------------------------

#[test]
fn prepare_sends_parse_describe_sync_and_builds_the_statement_from_the_descriptions() {
    let mut h = Harness::postgres();
    let mut flow = Prepare::start(
        &mut h.script.s,
        "pgline_s1".into(),
        "SELECT $1::int8, $2::text",
        &[],
        true,
    )
    .expect("start");
    assert_eq!(
        h.sent(),
        [
            "Parse \"pgline_s1\" []",
            "Describe Statement \"pgline_s1\"",
            "Sync"
        ]
    );
    let msgs = [
        BackendMessage::ParseComplete,
        params(&[oid::INT8, oid::TEXT]),
        typed_rowdesc(&[("a", oid::INT8), ("b", oid::NUMERIC)]),
        idle(),
    ];
    let s = h.feed(&mut flow, msgs).expect("done").expect("ok");
    assert_eq!(s.name(), "pgline_s1");
    assert_eq!(s.params(), &[oid::INT8, oid::TEXT]);
    assert_eq!(s.columns()[0].format(), Format::Binary);
    assert_eq!(
        s.columns()[1].format(),
        Format::Text,
        "numeric is read as text"
    );
}

#[test]
fn a_statement_parsed_then_refused_at_describe_is_closed_with_the_next_operation() {
    let mut h = Harness::postgres();
    let mut flow =
        Prepare::start(&mut h.script.s, "pgline_s7".into(), "SELECT x", &[], true).expect("start");
    let msgs = [BackendMessage::ParseComplete, err("42703"), idle()];
    let e = h.feed(&mut flow, msgs).expect("done").expect_err("error");
    assert_eq!(e.code(), Some("42703"));
    assert_eq!(h.cache.close_queue().take(), ["pgline_s7"]);
}

#[test]
fn on_iris_the_statements_own_placeholder_count_wins_over_a_parameter_description_of_none() {
    let mut h = Harness::iris();
    let mut flow = Prepare::start(
        &mut h.script.s,
        "pgline_s1".into(),
        "SELECT $1, $2",
        &[oid::INT8, 0],
        true,
    )
    .expect("start");
    let msgs = [
        BackendMessage::ParseComplete,
        params(&[]),
        BackendMessage::NoData,
        idle(),
    ];
    let s = h.feed(&mut flow, msgs).expect("done").expect("ok");
    assert_eq!(s.params(), &[oid::INT8, 0]);
}

#[test]
fn on_iris_a_prepare_without_describe_refuses_a_wrong_value_count_before_sending() {
    let mut h = Harness::iris();
    let r = Prepare::start(
        &mut h.script.s,
        "pgline_s1".into(),
        "SELECT $1, $2",
        &[oid::INT8],
        false,
    );
    assert!(r.is_err_and(|e| e.to_string().contains("$2")));
    assert!(h.sent().is_empty());
}

// ----- run ----------------------------------------------------------------------------

#[test]
fn a_prepared_run_binds_executes_and_returns_rows_and_the_count() {
    let mut h = Harness::postgres();
    let s = returning_text("pgline_s1", "SELECT $1::int4::text", vec![oid::INT4]);
    let values: [&(dyn ToSql + Sync); 1] = [&7i32];
    let mut flow = Run::start(
        &mut h.script.s,
        StatementRef::Prepared(&s),
        Some(s.clone()),
        &values,
        true,
    )
    .expect("start");
    assert_eq!(h.sent(), ["Bind \"pgline_s1\"", "Execute 0", "Sync"]);
    let msgs = [
        BackendMessage::BindComplete,
        row(&[Some(b"7")]),
        cc("SELECT 1"),
        idle(),
    ];
    let (rows, n) = h
        .feed(&mut flow, msgs)
        .expect("done")
        .expect("ok")
        .expect("run");
    assert_eq!(rows.len(), 1);
    assert_eq!(n, Some(1));
}

#[test]
fn a_cached_statement_refused_at_bind_as_missing_is_stale_and_forgotten() {
    let mut h = Harness::postgres();
    let s = statement("pgline_s1", "SELECT 1", vec![]);
    h.cache.insert(s.clone());
    let mut flow = Run::start(
        &mut h.script.s,
        StatementRef::Sql("SELECT 1"),
        Some(s),
        &[],
        true,
    )
    .expect("start");
    let out = h.feed(&mut flow, [err("26000"), idle()]).expect("done");
    let failure = out.expect("flow ok").expect_err("run failed");
    assert_eq!(failure.stale, Some(Stale::Missing));
    assert_eq!(failure.error.code(), Some("26000"));
    assert_eq!(h.cache.len(), 0);
}

#[test]
fn an_error_after_bind_complete_says_nothing_about_the_statement() {
    let mut h = Harness::postgres();
    let s = statement("pgline_s1", "SELECT 1/0", vec![]);
    h.cache.insert(s.clone());
    let mut flow = Run::start(
        &mut h.script.s,
        StatementRef::Sql("SELECT 1/0"),
        Some(s),
        &[],
        true,
    )
    .expect("start");
    let msgs = [BackendMessage::BindComplete, err("22012"), idle()];
    let failure = h
        .feed(&mut flow, msgs)
        .expect("done")
        .expect("flow ok")
        .expect_err("run failed");
    assert_eq!(failure.stale, None);
    assert_eq!(h.cache.len(), 1, "the statement is fine");
}

#[test]
fn an_unnamed_run_describes_the_portal_on_postgres_but_not_where_describe_executes() {
    let values: [&(dyn ToSql + Sync); 1] = [&1i64];
    let mut pg = Harness::postgres();
    Run::start(
        &mut pg.script.s,
        StatementRef::Sql("SELECT $1"),
        None,
        &values,
        true,
    )
    .expect("start");
    assert_eq!(
        pg.sent(),
        [
            format!("Parse \"\" [{}]", oid::INT8),
            "Bind \"\"".into(),
            "Describe Portal \"\"".into(),
            "Execute 0".into(),
            "Sync".into()
        ]
    );
    let mut iris = Harness::iris();
    Run::start(
        &mut iris.script.s,
        StatementRef::Sql("SELECT $1"),
        None,
        &values,
        true,
    )
    .expect("start");
    assert!(!iris.sent().iter().any(|f| f.starts_with("Describe")));
}

#[test]
fn a_run_with_the_wrong_number_of_values_is_refused_before_anything_is_queued() {
    let mut h = Harness::postgres();
    let s = statement("pgline_s1", "SELECT $1::int4", vec![oid::INT4]);
    let r = Run::start(
        &mut h.script.s,
        StatementRef::Prepared(&s),
        Some(s.clone()),
        &[],
        true,
    );
    assert!(r.is_err());
    assert!(h.sent().is_empty());
}

// ----- stream -------------------------------------------------------------------------

#[test]
fn a_chunked_stream_asks_for_the_next_chunk_at_portal_suspended_and_syncs_at_the_end() {
    let mut h = Harness::postgres();
    let s = returning_text("pgline_s1", "SELECT n", vec![]);
    let mut flow = Stream::start(&mut h.script.s, s, &[], 2).expect("start");
    assert_eq!(h.sent(), ["Bind \"pgline_s1\"", "Execute 2", "Flush"]);
    let first = h
        .feed(
            &mut flow,
            [
                BackendMessage::BindComplete,
                row(&[Some(b"1")]),
                row(&[Some(b"2")]),
            ],
        )
        .expect("a row")
        .expect("ok");
    assert!(first.is_some());
    let second = h.feed(&mut flow, []).expect("a row").expect("ok");
    assert!(second.is_some());
    assert!(h
        .feed(&mut flow, [BackendMessage::PortalSuspended])
        .is_none());
    assert_eq!(h.sent(), ["Execute 2", "Flush"]);
    let third = h
        .feed(&mut flow, [row(&[Some(b"3")]), cc("SELECT 1")])
        .expect("a row")
        .expect("ok");
    assert!(third.is_some());
    assert!(
        h.feed(&mut flow, []).is_none(),
        "the Sync is queued, not answered"
    );
    assert_eq!(h.sent(), ["Sync"]);
    let end = h.feed(&mut flow, [idle()]).expect("end").expect("ok");
    assert!(end.is_none());
}

#[test]
fn a_stream_refused_at_bind_syncs_and_returns_the_error_at_ready_for_query() {
    let mut h = Harness::postgres();
    let s = statement("pgline_s1", "SELECT n", vec![]);
    let mut flow = Stream::start(&mut h.script.s, s, &[], 10).expect("start");
    h.sent();
    assert!(h.feed(&mut flow, [err("26000")]).is_none());
    assert_eq!(h.sent(), ["Sync"]);
    let e = h
        .feed(&mut flow, [idle()])
        .expect("end")
        .expect_err("error");
    assert_eq!(e.code(), Some("26000"));
}

#[test]
fn on_a_server_that_ignores_row_limits_a_stream_is_one_execute_and_a_sync() {
    let mut quirks = Quirks::postgres();
    quirks.ignores_row_limit = true;
    let mut h = Harness::with(Script {
        s: crate::conn::session::Session::new_ready(quirks),
    });
    let s = statement("pgline_s1", "SELECT n", vec![]);
    Stream::start(&mut h.script.s, s, &[], 100).expect("start");
    assert_eq!(h.sent(), ["Bind \"pgline_s1\"", "Execute 0", "Sync"]);
}

// ----- close --------------------------------------------------------------------------

#[test]
fn close_sends_close_and_sync_and_reports_the_servers_error() {
    let mut h = Harness::postgres();
    let mut flow = Close::start(&mut h.script.s, "pgline_s3").expect("start");
    assert_eq!(h.sent(), ["Close \"pgline_s3\"", "Sync"]);
    let e = h
        .feed(&mut flow, [err("XX000"), idle()])
        .expect("done")
        .expect_err("error");
    assert_eq!(e.code(), Some("XX000"));
    let mut ok = Close::start(&mut h.script.s, "pgline_s4").expect("start");
    h.feed(&mut ok, [BackendMessage::CloseComplete, idle()])
        .expect("done")
        .expect("ok");
}

// ----- the error grace ------------------------------------------------------------------

#[test]
fn after_an_error_the_session_asks_for_a_grace_and_on_postgres_reports_the_error_when_it_runs_out()
{
    let mut h = Harness::postgres();
    let mut flow = SimpleQuery::start(&mut h.script.s, "SELEC").expect("start");
    h.sent();
    assert_eq!(h.script.s.wait(), Wait::Io);
    assert!(h.feed(&mut flow, [err("42601")]).is_none());
    assert_eq!(h.script.s.wait(), Wait::Grace(READY_AFTER_ERROR_GRACE));
    // A drain never completes early; an operation does, with the server's error.
    assert!(h.script.s.grace_expired(false).is_none());
    let e = h.script.s.grace_expired(true).expect("the error");
    assert_eq!(e.code(), Some("42601"));
    assert!(!h.script.s.is_ready(), "the ReadyForQuery is still owed");
}

#[test]
fn on_a_server_that_may_never_send_ready_for_query_after_an_error_the_grace_settles_the_exchange() {
    let mut h = Harness::iris();
    assert!(h.script.s.quirks().ready_may_not_follow_error);
    let mut flow = SimpleQuery::start(&mut h.script.s, "SELEC").expect("start");
    h.sent();
    assert!(h.feed(&mut flow, [err("42601")]).is_none());
    assert!(matches!(h.script.s.wait(), Wait::Grace(_)));
    assert!(h.script.s.grace_expired(true).is_none());
    let e = h.feed(&mut flow, []).expect("done").expect_err("error");
    assert_eq!(e.code(), Some("42601"));
    assert!(h.script.s.is_ready());
}

// ----- what the session decides for the driver -------------------------------------------

#[test]
fn a_cancel_token_refuses_on_iris_by_release_and_never_on_postgres() {
    let pg = Harness::postgres();
    assert_eq!(pg.script.s.cancel_refusal(), None);
    let mut iris = Harness::iris();
    let undeclared = iris.script.s.cancel_refusal().expect("refused");
    assert!(undeclared.contains("not declared"), "{undeclared}");
    iris.script
        .s
        .set_client_options(false, Some("1.7.3".parse().expect("version")));
    let current = iris.script.s.cancel_refusal().expect("refused");
    assert!(
        current.contains("1.7.3") && current.contains("runs to its end"),
        "{current}"
    );
}
