//! The explicit pipeline as a state machine: statements queued (Parse/Bind/Execute) with
//! the sync windows that group them, the server's answers read into one output per
//! statement, and the rules that depend on the server (deferred DML errors, Describe
//! that executes, lenient types) or on pooler-safe mode.
//!
//! The driver's `Pipeline` is the async shell around it: it calls the queueing methods,
//! moves bytes, and hands the events over through [`Flow::on_event`], which returns
//! [`Step::Done`] once what the shell waits for ([`Until`]) has happened.
//!
//! Semantics follow the protocol and libpq's pipeline mode: after an error, every later
//! statement up to the next Sync is aborted (on servers that skip to Sync), then the
//! next window proceeds normally.

use std::collections::VecDeque;
use std::sync::Arc;

use super::extended::push_unnamed;
use super::{
    check_param_count, param_formats, push_parse_again, renumbered_values, rows_affected,
    write_params, Ctx, Flow, Step,
};
use crate::conn::event::{Event, Item};
use crate::conn::row::{Column, Row};
use crate::conn::session::Session;
use crate::conn::statement::{deallocate_target, Statement};
use crate::error::Error;
use crate::protocol::backend::TransactionStatus;
use crate::types::ToSql;

#[cfg(test)]
mod tests;

/// The outcome of one pipelined statement.
#[derive(Debug, Clone)]
pub struct PipelineOutput {
    /// Rows returned (empty for commands).
    pub rows: Vec<Row>,
    /// Rows affected, when the server reported a trustworthy count.
    pub rows_affected: Option<u64>,
}

/// What the driver waits for; [`Flow::on_event`] says [`Step::Done`] once it holds (see
/// [`PipelineFlow::reached`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Until {
    /// Nothing: events are only taken in.
    Nothing,
    /// The oldest statement not yet handed out has its outcome.
    Front,
    /// The ReadyForQuery of the window ended by this Sync arrived.
    Window(Item),
    /// Every Sync sent was answered.
    AllSynced,
}

#[derive(Debug)]
struct Slot {
    item: Item,
    columns: Arc<[Column]>,
    rows: Vec<Row>,
    affected: Option<u64>,
    error: Option<Error>,
    done: bool,
    /// The Sync ending this statement's window, once queued.
    window: Option<Item>,
    /// The name the statement's SQL deallocates (`DEALLOCATE name`), to forget it in the
    /// statement cache when its tag arrives.
    deallocates: Option<String>,
}

/// A sync window sent and not yet answered.
#[derive(Debug, Clone, Copy)]
struct Window {
    sync: Item,
    /// A statement of the window may end a transaction block (see
    /// [`may_end_transaction`]): the session may be idle at its ReadyForQuery.
    may_end_transaction: bool,
}

/// The explicit pipeline's state: every statement queued and not yet handed out, the
/// windows awaiting their ReadyForQuery.
#[derive(Debug)]
pub(crate) struct PipelineFlow {
    /// `statement_cache_capacity=0`: statements are the unnamed one, parsed again before
    /// each Bind, and one window at a time outside a transaction block.
    pooler_safe: bool,
    slots: VecDeque<Slot>,
    /// Sync windows sent and not yet answered.
    syncs: VecDeque<Window>,
    /// Statements queued since the last Sync.
    unsynced: usize,
    /// A statement queued since the last Sync may end a transaction block.
    unsynced_may_end_transaction: bool,
    /// An error reported at a Sync whose statements were all handed out already (a
    /// deferred constraint failing at commit): `finish` returns it.
    sync_error: Option<Error>,
    /// Windows opened since the driver last asked: each Sync and its statement count.
    opened: Vec<(Item, u64)>,
    /// The newest window whose ReadyForQuery arrived since the driver last asked.
    settled: Option<Item>,
    until: Until,
}

impl PipelineFlow {
    /// An empty pipeline; `pooler_safe` is the client setting
    /// ([`Config::pooler_safe`](crate::Config)).
    pub(crate) fn new(pooler_safe: bool) -> Self {
        Self {
            pooler_safe,
            slots: VecDeque::new(),
            syncs: VecDeque::new(),
            unsynced: 0,
            unsynced_may_end_transaction: false,
            sync_error: None,
            opened: Vec::new(),
            settled: None,
            until: Until::Nothing,
        }
    }

    /// Statements queued and not yet handed out.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Sync windows sent and not yet answered.
    pub(crate) fn pending_windows(&self) -> usize {
        self.syncs.len()
    }

    /// Queues a prepared statement: Bind + Execute (in pooler-safe mode, Parse + Bind +
    /// Execute of the unnamed statement). Returns its position.
    pub(crate) fn query(
        &mut self,
        session: &mut Session,
        stmt: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<usize, Error> {
        self.check_one_window(session)?;
        check_param_count(stmt, params.len())?;
        let lenient = session.quirks().lenient_types;
        session.note_statement_sql(stmt.sql());
        let params = &*renumbered_values(params, stmt.wire_order())?;
        let formats = param_formats(params, stmt.wire_params(), session.text_only(), lenient)?;
        let result_formats: Vec<i16> = stmt.columns().iter().map(|c| c.format().code()).collect();
        let item = session.item();
        let types = stmt.wire_params();
        // Pooler-safe mode: the unnamed statement is parsed again before each Bind.
        push_parse_again(session, item, stmt)?;
        session.push_bind(item, "", stmt.name(), &formats, &result_formats, |w| {
            write_params(w, params, types, &formats, lenient)
        })?;
        let ncols = u16::try_from(stmt.columns().len()).ok().filter(|&n| n > 0);
        session.push_execute(item, "", 0, ncols)?;
        let n = self.push_slot(item, stmt.columns_arc(), stmt.sql());
        self.sync_if_deferred(session)?;
        Ok(n)
    }

    /// Queues SQL text as the unnamed statement (Parse + Bind + Describe + Execute):
    /// parameter types come from the values, results arrive as text. Returns its
    /// position.
    pub(crate) fn query_sql(
        &mut self,
        session: &mut Session,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<usize, Error> {
        self.check_one_window(session)?;
        session.note_statement_sql(sql);
        let item = session.item();
        push_unnamed(session, item, sql, params)?;
        let n = self.push_slot(item, Vec::new().into(), sql);
        self.sync_if_deferred(session)?;
        Ok(n)
    }

    fn push_slot(&mut self, item: Item, columns: Arc<[Column]>, sql: &str) -> usize {
        self.slots.push_back(Slot {
            item,
            columns,
            rows: Vec::new(),
            affected: None,
            error: None,
            done: false,
            window: None,
            deallocates: deallocate_target(sql),
        });
        self.unsynced += 1;
        // Read only in pooler-safe mode: no SQL scan for every statement elsewhere.
        self.unsynced_may_end_transaction |= self.pooler_safe && may_end_transaction(sql);
        self.slots.len() - 1
    }

    /// In pooler-safe mode: refuses a statement that would start a window while an
    /// ended one still awaits its ReadyForQuery, unless the session is inside a
    /// transaction block that no pending window may end. PgBouncer (1.18) in transaction
    /// mode hands the server connection to another client at each ReadyForQuery that
    /// says idle, so the answers to a window sent behind such a one would go to that
    /// client. The last ReadyForQuery's status alone is not enough: `BEGIN`, then a
    /// window holding `COMMIT`, ends idle although the status still says in transaction.
    fn check_one_window(&self, session: &Session) -> Result<(), Error> {
        if !self.pooler_safe || self.syncs.is_empty() {
            return Ok(());
        }
        let in_block = session.transaction_status() != TransactionStatus::Idle;
        if in_block && !self.syncs.iter().any(|w| w.may_end_transaction) {
            return Ok(());
        }
        Err(Error::unsupported(
            "pipeline: in pooler-safe mode (statement_cache_capacity=0) outside a \
             transaction block, a new Sync window starts only after the previous one \
             was read (next_result); a transaction-mode pooler would hand its answers \
             to another client. Read the results first, or run the pipeline inside a \
             transaction (a window that may end it, such as one holding COMMIT, must be \
             read before the next starts)",
        ))
    }

    /// Where DML errors are deferred to the next Sync or to a later message of another
    /// statement (iris-pgwire 1.7.3 answers `INSERT 0 1` first and the real error later),
    /// every statement gets its own Sync, so its error arrives before anything of the
    /// next one and is attributed to it. Sync windows are not transactions on such
    /// servers, so this changes nothing else.
    fn sync_if_deferred(&mut self, session: &mut Session) -> Result<(), Error> {
        if session.quirks().deferred_dml_errors {
            self.sync(session)?;
        }
        Ok(())
    }

    /// Ends the current sync window (the caller's `sync`). Nothing when no statement was
    /// queued since the last Sync where every statement has its own Sync already
    /// (deferred DML errors) or in pooler-safe mode, where an empty window behind a
    /// pending one would be a second window in flight.
    pub(crate) fn sync(&mut self, session: &mut Session) -> Result<(), Error> {
        if self.unsynced == 0 && (self.pooler_safe || session.quirks().deferred_dml_errors) {
            return Ok(());
        }
        self.push_sync(session)
    }

    /// Before reading: ends the window of the statements not yet synced, if any.
    pub(crate) fn sync_for_read(&mut self, session: &mut Session) -> Result<(), Error> {
        if self.unsynced > 0 {
            self.sync(session)?;
        }
        Ok(())
    }

    /// At the end: a Sync unless the last message sent was one (after a Flush with
    /// everything read, the server still holds the statements' implicit transaction).
    pub(crate) fn sync_to_finish(&mut self, session: &mut Session) -> Result<(), Error> {
        if session.in_open_window() {
            self.push_sync(session)?;
        }
        Ok(())
    }

    fn push_sync(&mut self, session: &mut Session) -> Result<(), Error> {
        let item = session.item();
        session.push_sync(item)?;
        self.opened.push((item, self.unsynced as u64));
        // The statements not yet in a window are the newest ones.
        for s in self
            .slots
            .iter_mut()
            .rev()
            .take_while(|s| s.window.is_none())
        {
            s.window = Some(item);
        }
        self.syncs.push_back(Window {
            sync: item,
            may_end_transaction: self.unsynced_may_end_transaction,
        });
        self.unsynced = 0;
        self.unsynced_may_end_transaction = false;
        Ok(())
    }

    /// Queues a Flush: the server starts answering without the window ending.
    pub(crate) fn flush(&mut self, session: &mut Session) -> Result<(), Error> {
        session.push_flush()
    }

    /// The windows opened since the last call: each Sync and its statement count (for
    /// tracing).
    pub(crate) fn take_opened(&mut self) -> Vec<(Item, u64)> {
        std::mem::take(&mut self.opened)
    }

    /// The newest window answered since the last call (for tracing).
    pub(crate) fn take_settled(&mut self) -> Option<Item> {
        self.settled.take()
    }

    /// Sets what [`Flow::on_event`] reports as done.
    pub(crate) fn wait_for(&mut self, until: Until) {
        self.until = until;
    }

    /// Whether what the driver waits for ([`Self::wait_for`]) has happened.
    pub(crate) fn reached(&self) -> bool {
        match self.until {
            Until::Nothing => false,
            Until::Front => self.front_done(),
            Until::Window(w) => !self.syncs.iter().any(|x| x.sync == w),
            Until::AllSynced => self.syncs.is_empty(),
        }
    }

    fn front_done(&self) -> bool {
        self.slots.front().is_some_and(|s| s.done)
    }

    /// The oldest statement's outcome, if it is known, with the window to read to its
    /// ReadyForQuery before another starts: in pooler-safe mode, the window of the last
    /// statement handed out (see [`Self::check_one_window`]).
    pub(crate) fn take_front(&mut self) -> Option<(Result<PipelineOutput, Error>, Option<Item>)> {
        if !self.front_done() {
            return None;
        }
        let s = self.slots.pop_front()?;
        let settle = s.window.filter(|&w| {
            self.pooler_safe
                && !self.slots.iter().any(|x| x.window == Some(w))
                && self.syncs.iter().any(|x| x.sync == w)
        });
        let out = match s.error {
            Some(e) => Err(e),
            None => Ok(PipelineOutput {
                rows: s.rows,
                rows_affected: s.affected,
            }),
        };
        Some((out, settle))
    }

    /// Drops the oldest statement: its outcome was lost with the connection.
    pub(crate) fn drop_front(&mut self) {
        self.slots.pop_front();
    }

    /// The error of a Sync whose statements were already handed out (see `finish`).
    pub(crate) fn take_sync_error(&mut self) -> Option<Error> {
        self.sync_error.take()
    }

    fn slot(&mut self, item: Item) -> Option<&mut Slot> {
        // Items increase along the queue.
        let at = self.slots.binary_search_by_key(&item, |s| s.item).ok()?;
        self.slots.get_mut(at)
    }

    fn absorb(&mut self, cx: &mut Ctx<'_>, ev: Event) {
        let lenient = cx.session.quirks().lenient_types;
        // A statement's outcome is final only at its Sync when errors may be deferred.
        let final_at_sync = cx.session.quirks().deferred_dml_errors;
        match ev {
            Event::RowDescription(i, d) => {
                if let Some(s) = self.slot(i) {
                    s.columns = Column::from_description(&d).into();
                }
            }
            Event::Row(i, r) => {
                if let Some(s) = self.slot(i) {
                    let row = Row::new(s.columns.clone(), r, lenient);
                    s.rows.push(row);
                }
            }
            Event::Complete(i, tag) => {
                let affected = rows_affected(cx.session, tag.as_ref());
                let mut deallocates = None;
                if let Some(s) = self.slot(i) {
                    s.affected = affected;
                    s.done = !final_at_sync;
                    deallocates = s.deallocates.take();
                }
                cx.note_complete(tag.as_ref(), || deallocates);
            }
            Event::EmptyQuery(i) | Event::PortalSuspended(i) => {
                if let Some(s) = self.slot(i) {
                    s.done = !final_at_sync;
                }
            }
            Event::Failed(i, e) => {
                if let Some(s) = self.slot(i) {
                    s.error.get_or_insert(e);
                    s.done = true;
                } else if let Some(s) = self.slots.iter_mut().rev().find(|s| s.window == Some(i)) {
                    // An error reported at Sync (e.g. a deferred constraint at commit)
                    // fails the window's last statement: nothing of the window is
                    // reported as a plain success.
                    s.error.get_or_insert(e);
                } else if self.syncs.iter().any(|w| w.sync == i) {
                    // The window's statements were already handed out (read before their
                    // Sync): the failed commit is reported by `finish`.
                    self.sync_error.get_or_insert(e);
                }
            }
            Event::Aborted(i) => {
                if let Some(s) = self.slot(i) {
                    s.error.get_or_insert_with(Error::pipeline_aborted);
                    s.done = true;
                }
            }
            Event::Ready(i, _) if self.syncs.front().is_some_and(|w| w.sync == i) => {
                self.syncs.pop_front();
                self.settled = Some(i);
                // A window's statements are contiguous, after any of earlier windows the
                // caller has not read yet.
                for s in self
                    .slots
                    .iter_mut()
                    .skip_while(|s| s.window != Some(i))
                    .take_while(|s| s.window == Some(i))
                {
                    s.done = true;
                }
            }
            _ => {}
        }
    }
}

impl Flow for PipelineFlow {
    type Output = ();

    fn on_event(&mut self, cx: &mut Ctx<'_>, ev: Event) -> Result<Step<()>, Error> {
        self.absorb(cx, ev);
        Ok(if self.reached() {
            Step::Done(())
        } else {
            Step::Continue
        })
    }
}

/// Whether `sql` may end a transaction block, so that the session may be idle after it:
/// `COMMIT`, `END`, `ROLLBACK` (not `ROLLBACK TO`), `ABORT` (read as
/// [`transaction_effect`](crate::iris::transaction_effect) reads them), or anything
/// mentioning both `PREPARE` and `TRANSACTION`. Errs towards yes: a false yes only makes
/// pooler-safe mode read a window before starting the next.
fn may_end_transaction(sql: &str) -> bool {
    if crate::iris::transaction_effect(sql) == Some(TransactionStatus::Idle) {
        return true;
    }
    let lower = sql.to_ascii_lowercase();
    lower.contains("prepare") && lower.contains("transaction")
}
