//! The pipeline flow driven without a socket: statements queued, scripted server
//! messages in, one outcome per statement out.

use super::{PipelineFlow, PipelineOutput, Until};
use crate::conn::flow::{Ctx, Flow, Step};
use crate::conn::statement::{Statement, StatementCache};
use crate::conn::tests::{cc, err, idle, rfq, row, rowdesc, Script};
use crate::error::Error;
use crate::protocol::backend::{BackendMessage as B, TransactionStatus};
use crate::protocol::frontend::FrontendMessage;
use crate::types::{oid, ToSql};

/// A session, a statement cache and a pipeline flow over them.
struct Harness {
    script: Script,
    cache: StatementCache,
    flow: PipelineFlow,
}

impl Harness {
    fn postgres() -> Self {
        Self::with(Script::postgres(), false)
    }

    fn iris() -> Self {
        Self::with(Script::iris(), false)
    }

    /// PostgreSQL through a transaction-mode pooler (`statement_cache_capacity=0`).
    fn pooler_safe() -> Self {
        Self::with(Script::postgres(), true)
    }

    fn with(script: Script, pooler_safe: bool) -> Self {
        Self {
            script,
            cache: StatementCache::new(16),
            flow: PipelineFlow::new(pooler_safe),
        }
    }

    fn query(&mut self, s: &Statement, params: &[&(dyn ToSql + Sync)]) -> Result<usize, Error> {
        self.flow.query(&mut self.script.s, s, params)
    }

    fn query_sql(&mut self, sql: &str) -> Result<usize, Error> {
        self.flow.query_sql(&mut self.script.s, sql, &[])
    }

    fn sync(&mut self) {
        self.flow.sync(&mut self.script.s).expect("sync");
    }

    /// Feeds `msgs` and hands every event to the flow, as the driver does; whether the
    /// flow said it reached what it waits for.
    fn feed(&mut self, msgs: impl IntoIterator<Item = B>) -> bool {
        self.script.feed(msgs);
        let mut reached = false;
        while let Some(ev) = self.script.s.poll_event() {
            let mut cx = Ctx {
                session: &mut self.script.s,
                cache: &mut self.cache,
            };
            if let Step::Done(()) = self.flow.on_event(&mut cx, ev).expect("on_event") {
                reached = true;
            }
        }
        reached
    }

    /// The next outcome, if known.
    fn next(&mut self) -> Option<Result<PipelineOutput, Error>> {
        self.flow.take_front().map(|(out, _)| out)
    }

    /// The frames queued since the last call, in a compact spelling.
    fn sent(&mut self) -> Vec<String> {
        self.script.sent().into_iter().map(frame).collect()
    }

    /// Runs `sql` as a simple query answered by `tag` and a ReadyForQuery with `status`.
    fn settle_in(&mut self, sql: &str, tag: &'static str, status: TransactionStatus) {
        let item = self.script.s.item();
        self.script
            .s
            .start_simple_query(item, sql, false)
            .expect("query");
        self.script.sent();
        self.script.feed([cc(tag), rfq(status)]);
        self.script.events();
        assert_eq!(self.script.s.transaction_status(), status);
    }
}

fn frame(m: FrontendMessage) -> String {
    match m {
        FrontendMessage::Parse(p) => format!("Parse {:?}", p.name),
        FrontendMessage::Bind(b) => format!("Bind {:?}", b.statement),
        FrontendMessage::Describe(d) => format!("Describe {:?}", d.target),
        FrontendMessage::Execute(e) => format!("Execute {}", e.max_rows),
        FrontendMessage::Sync => "Sync".into(),
        FrontendMessage::Flush => "Flush".into(),
        other => format!("{other:?}"),
    }
}

fn insert(name: &str) -> Statement {
    Statement::new(
        name.into(),
        "INSERT INTO t (id) VALUES ($1)".into(),
        vec![oid::INT4],
        Vec::new(),
        None,
    )
}

fn ok(r: Option<Result<PipelineOutput, Error>>) -> PipelineOutput {
    r.expect("an outcome").expect("success")
}

fn failed(r: Option<Result<PipelineOutput, Error>>) -> Error {
    r.expect("an outcome").expect_err("an error")
}

// ----- queueing --------------------------------------------------------------------------

#[test]
fn a_prepared_statement_is_queued_as_bind_and_execute_and_its_window_ends_only_at_sync() {
    let mut h = Harness::postgres();
    assert_eq!(h.query(&insert("pgline_s1"), &[&1i32]).expect("queued"), 0);
    assert_eq!(h.query(&insert("pgline_s1"), &[&2i32]).expect("queued"), 1);
    assert_eq!(
        h.sent(),
        [
            "Bind \"pgline_s1\"",
            "Execute 0",
            "Bind \"pgline_s1\"",
            "Execute 0"
        ]
    );
    assert!(h.flow.take_opened().is_empty(), "no window yet");
    h.sync();
    assert_eq!(h.sent(), ["Sync"]);
    let opened = h.flow.take_opened();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].1, 2, "the window holds both statements");
}

#[test]
fn sql_text_is_parsed_bound_described_and_executed_as_the_unnamed_statement() {
    let mut h = Harness::postgres();
    h.query_sql("SELECT 1").expect("queued");
    assert_eq!(
        h.sent(),
        ["Parse \"\"", "Bind \"\"", "Describe Portal", "Execute 0"]
    );
}

#[test]
fn a_wrong_number_of_values_is_refused_before_anything_is_queued() {
    let mut h = Harness::postgres();
    let e = h.query(&insert("pgline_s1"), &[]).expect_err("refused");
    assert!(e.to_string().contains("1 parameters, 0 given"), "{e}");
    assert!(h.sent().is_empty());
    assert_eq!(h.flow.len(), 0);
}

#[test]
fn on_iris_sql_text_is_not_described_and_every_statement_gets_its_own_sync() {
    let mut h = Harness::iris();
    h.query_sql("INSERT INTO t VALUES (1)").expect("queued");
    h.query_sql("INSERT INTO t VALUES (2)").expect("queued");
    assert_eq!(
        h.sent(),
        [
            "Parse \"\"",
            "Bind \"\"",
            "Execute 0",
            "Sync",
            "Parse \"\"",
            "Bind \"\"",
            "Execute 0",
            "Sync"
        ]
    );
    h.sync();
    assert!(h.sent().is_empty(), "every statement already has its Sync");
    assert_eq!(h.flow.take_opened().len(), 2);
}

#[test]
fn in_pooler_safe_mode_the_unnamed_statement_is_parsed_again_before_each_bind() {
    let mut h = Harness::pooler_safe();
    h.query(&insert(""), &[&1i32]).expect("queued");
    assert_eq!(h.sent(), ["Parse \"\"", "Bind \"\"", "Execute 0"]);
}

#[test]
fn an_empty_sync_ends_an_empty_window_on_postgresql_but_queues_nothing_in_pooler_safe_mode() {
    let mut h = Harness::postgres();
    h.sync();
    assert_eq!(h.sent(), ["Sync"]);

    let mut h = Harness::pooler_safe();
    h.sync();
    assert!(h.sent().is_empty());
    h.query(&insert(""), &[&1i32]).expect("queued");
    h.sync();
    h.sync();
    assert_eq!(h.sent(), ["Parse \"\"", "Bind \"\"", "Execute 0", "Sync"]);
}

// ----- results ---------------------------------------------------------------------------

#[test]
fn every_statement_gets_its_own_rows_and_count_in_queue_order() {
    let mut h = Harness::postgres();
    h.query(&insert("pgline_s1"), &[&1i32]).expect("queued");
    h.query_sql("SELECT 'a' AS n UNION ALL SELECT 'b'")
        .expect("queued");
    h.sync();
    h.sent();
    h.feed([
        B::BindComplete,
        cc("INSERT 0 1"),
        B::ParseComplete,
        B::BindComplete,
        rowdesc(&["n"]),
        row(&[Some(b"a")]),
        row(&[Some(b"b")]),
        cc("SELECT 2"),
        idle(),
    ]);
    let first = ok(h.next());
    assert!(first.rows.is_empty());
    assert_eq!(first.rows_affected, Some(1));
    let second = ok(h.next());
    assert_eq!(second.rows.len(), 2);
    assert_eq!(second.rows[1].get::<&str>("n").expect("n"), "b");
    assert_eq!(second.rows_affected, Some(2));
    assert!(h.next().is_none(), "nothing more was queued");
    assert_eq!(h.flow.pending_windows(), 0);
    assert!(h.flow.take_settled().is_some());
}

#[test]
fn on_postgresql_an_outcome_is_handed_out_at_its_command_complete_before_the_sync() {
    let mut h = Harness::postgres();
    h.query(&insert("pgline_s1"), &[&1i32]).expect("queued");
    h.query(&insert("pgline_s1"), &[&2i32]).expect("queued");
    h.flow.wait_for(Until::Front);
    assert!(!h.feed([B::BindComplete]), "not done at BindComplete");
    assert!(h.next().is_none());
    assert!(h.feed([cc("INSERT 0 1")]), "the flow says done at the tag");
    assert_eq!(ok(h.next()).rows_affected, Some(1));
    assert!(h.next().is_none());
}

#[test]
fn an_error_fails_its_statement_aborts_the_rest_of_its_window_and_spares_the_next_window() {
    let mut h = Harness::postgres();
    for i in 1..=3 {
        h.query(&insert("pgline_s1"), &[&i]).expect("queued");
    }
    h.sync();
    h.query(&insert("pgline_s1"), &[&4i32]).expect("queued");
    h.sync();
    h.feed([
        B::BindComplete,
        cc("INSERT 0 1"),
        B::BindComplete,
        err("23505"),
        idle(),
        B::BindComplete,
        cc("INSERT 0 1"),
        idle(),
    ]);
    assert_eq!(ok(h.next()).rows_affected, Some(1));
    assert_eq!(failed(h.next()).code(), Some("23505"));
    assert!(failed(h.next()).is_pipeline_aborted());
    assert_eq!(ok(h.next()).rows_affected, Some(1), "the next window ran");
    assert_eq!(h.flow.pending_windows(), 0);
}

#[test]
fn an_error_at_sync_fails_the_last_statement_of_its_window() {
    let mut h = Harness::postgres();
    h.query(&insert("pgline_s1"), &[&1i32]).expect("queued");
    h.query(&insert("pgline_s1"), &[&2i32]).expect("queued");
    h.sync();
    // A deferred constraint checked when the implicit transaction commits.
    h.feed([
        B::BindComplete,
        cc("INSERT 0 1"),
        B::BindComplete,
        cc("INSERT 0 1"),
    ]);
    assert_eq!(ok(h.next()).rows_affected, Some(1));
    h.feed([err("23503"), idle()]);
    assert_eq!(failed(h.next()).code(), Some("23503"));
    assert!(h.flow.take_sync_error().is_none());
}

#[test]
fn an_error_at_sync_after_every_statement_was_handed_out_is_kept_for_finish() {
    let mut h = Harness::postgres();
    h.query(&insert("pgline_s1"), &[&1i32]).expect("queued");
    h.sync();
    h.feed([B::BindComplete, cc("INSERT 0 1")]);
    assert_eq!(ok(h.next()).rows_affected, Some(1));
    h.flow.wait_for(Until::AllSynced);
    assert!(h.feed([err("23503"), idle()]), "every Sync was answered");
    assert_eq!(
        h.flow.take_sync_error().expect("kept").code(),
        Some("23503")
    );
}

#[test]
fn on_iris_a_deferred_dml_error_is_attributed_to_its_own_statement_at_its_sync() {
    let mut h = Harness::iris();
    h.query_sql("INSERT INTO t VALUES (1)").expect("queued");
    h.query_sql("INSERT INTO t VALUES (2)").expect("queued");
    h.sent();
    h.feed([B::ParseComplete, B::BindComplete, cc("INSERT 0 1")]);
    assert!(
        h.next().is_none(),
        "on IRIS the tag is not final: the error may follow"
    );
    h.feed([err("23000"), idle()]);
    assert_eq!(failed(h.next()).code(), Some("23000"));
    h.feed([B::ParseComplete, B::BindComplete, cc("INSERT 0 1"), idle()]);
    let second = ok(h.next());
    assert_eq!(
        second.rows_affected, None,
        "IRIS row counts are not trusted"
    );
}

#[test]
fn deallocate_in_a_pipeline_forgets_the_statement_in_the_cache() {
    let mut h = Harness::postgres();
    h.cache.insert(insert("pgline_s7"));
    assert_eq!(h.cache.len(), 1);
    h.query_sql("DEALLOCATE pgline_s7").expect("queued");
    h.sync();
    h.feed([
        B::ParseComplete,
        B::BindComplete,
        B::NoData,
        cc("DEALLOCATE"),
        idle(),
    ]);
    ok(h.next());
    assert_eq!(h.cache.len(), 0);
    assert!(h.cache.take_evicted().is_empty(), "no Close for it");
}

// ----- pooler-safe windows ---------------------------------------------------------------

#[test]
fn in_pooler_safe_mode_outside_a_transaction_a_second_window_is_refused_until_the_first_is_read() {
    let mut h = Harness::pooler_safe();
    h.query(&insert(""), &[&1i32]).expect("queued");
    h.sync();
    let e = h.query(&insert(""), &[&2i32]).expect_err("refused");
    assert!(e.to_string().contains("pooler-safe"), "{e}");
    h.sent();
    h.feed([B::ParseComplete, B::BindComplete, cc("INSERT 0 1")]);
    let (out, settle) = h.flow.take_front().expect("outcome");
    out.expect("success");
    let w = settle.expect("the window is read to its ReadyForQuery before the next");
    h.flow.wait_for(Until::Window(w));
    assert!(h.feed([idle()]));
    h.query(&insert(""), &[&2i32])
        .expect("the next window may start");
}

#[test]
fn in_pooler_safe_mode_windows_pipeline_inside_a_transaction_block() {
    let mut h = Harness::pooler_safe();
    h.settle_in("BEGIN", "BEGIN", TransactionStatus::InTransaction);
    h.query(&insert(""), &[&1i32]).expect("queued");
    h.sync();
    h.query(&insert(""), &[&2i32])
        .expect("the server connection stays this client's");
    h.sync();
    assert_eq!(h.flow.pending_windows(), 2);
}

#[test]
fn in_pooler_safe_mode_a_window_behind_one_holding_commit_is_refused_even_inside_a_transaction() {
    let mut h = Harness::pooler_safe();
    h.settle_in("BEGIN", "BEGIN", TransactionStatus::InTransaction);
    h.query(&insert(""), &[&1i32]).expect("queued");
    h.query_sql("COMMIT").expect("queued");
    h.sync();
    // The last ReadyForQuery said "in transaction", but this window ends idle: a
    // transaction-mode pooler may hand the server connection to another client there.
    let e = h.query(&insert(""), &[&2i32]).expect_err("refused");
    assert!(e.to_string().contains("pooler-safe"), "{e}");
    let e = h.query_sql("SELECT 1").expect_err("refused");
    assert!(e.to_string().contains("pooler-safe"), "{e}");
}

#[test]
fn in_pooler_safe_mode_rollback_and_prepare_transaction_also_end_the_block() {
    for sql in [
        "ROLLBACK",
        "end",
        "  /* done */ COMMIT AND NO CHAIN",
        "PREPARE TRANSACTION 'x'",
    ] {
        let mut h = Harness::pooler_safe();
        h.settle_in("BEGIN", "BEGIN", TransactionStatus::InTransaction);
        h.query_sql(sql).expect("queued");
        h.sync();
        assert!(h.query_sql("SELECT 1").is_err(), "{sql}");
    }
    for sql in ["ROLLBACK TO SAVEPOINT a", "SAVEPOINT a", "COMMIT AND CHAIN"] {
        let mut h = Harness::pooler_safe();
        h.settle_in("BEGIN", "BEGIN", TransactionStatus::InTransaction);
        h.query_sql(sql).expect("queued");
        h.sync();
        assert!(h.query_sql("SELECT 1").is_ok(), "{sql}");
    }
}

#[test]
fn outside_pooler_safe_mode_windows_pipeline_freely() {
    let mut h = Harness::postgres();
    h.query_sql("COMMIT").expect("queued");
    h.sync();
    h.query(&insert("pgline_s1"), &[&1i32])
        .expect("nothing to refuse");
    let (_, settle) = {
        h.sync();
        h.sent();
        h.feed([B::ParseComplete, B::BindComplete, B::NoData, cc("COMMIT")]);
        h.flow.take_front().expect("outcome")
    };
    assert_eq!(settle, None, "no window is read ahead");
}
