//! The bookkeeping of a pipelined bulk load, without IO: which rows went out in which
//! sync window, what the server's answers say about each, and what that means for the
//! [`LoadReport`]. The driver's loop only moves bytes: it tells the ledger each row it
//! wrote and each Sync it closed a window with, and hands it every event; the ledger
//! decides what is done, failed, skipped, committed or uncertain, and when to stop.
//!
//! Rules (PostgreSQL's extended protocol): answers come in order; a Sync ends a window,
//! and under [`Atomicity::Batches`]/[`Atomicity::EachRow`] the ReadyForQuery after it
//! commits the window unless one of its rows (or the Sync itself: a deferred constraint)
//! failed; under [`Atomicity::All`] nothing commits here (the caller's COMMIT does). An
//! error reported at a Sync does not say which row: the whole window fails and none of
//! its rows counts as done.

use std::collections::VecDeque;
use std::ops::Range;

use super::{Atomicity, ExecuteManyOptions, LoadReport};
use crate::conn::event::{Event, Item};
use crate::error::Error;

/// Marks an item as a row (the rest of the bits are its input index), so the answers of
/// rows and of Syncs (plain items) cannot be confused.
pub(crate) const ROW: Item = 1 << 62;

/// A sync window: rows sent between two Syncs.
#[derive(Debug)]
struct Window {
    sync: Item,
    rows: Vec<Range<u64>>,
    failed: bool,
    /// Rows of this window counted in `rows_done` (taken back if the window fails at its
    /// Sync).
    done: u64,
}

impl Window {
    fn contains(&self, i: u64) -> bool {
        self.rows.iter().any(|r| r.contains(&i))
    }

    /// From the first row to just past the last.
    fn span(&self) -> Range<u64> {
        let first = self.rows.first().map_or(0, |r| r.start);
        first..self.rows.last().map_or(0, |r| r.end)
    }

    fn len(&self) -> u64 {
        self.rows.iter().map(|r| r.end - r.start).sum()
    }
}

/// What the answers said about the window still being filled (rows sent, no Sync yet).
#[derive(Debug, Default)]
struct OpenWindow {
    rows: Vec<Range<u64>>,
    len: u64,
    failed: bool,
    done: u64,
}

/// The per-window accounting of one `execute_many` run (see the module docs).
#[derive(Debug)]
pub(crate) struct Ledger {
    atomicity: Atomicity,
    keep: usize,
    open: OpenWindow,
    windows: VecDeque<Window>,
    /// Every row sent, as merged ranges (committed at once by the caller's COMMIT).
    sent: Vec<Range<u64>>,
    inflight: usize,
    stop: bool,
    aborted_tx: bool,
}

impl Ledger {
    pub(crate) fn new(opts: &ExecuteManyOptions) -> Self {
        Self {
            atomicity: opts.atomicity,
            keep: opts.max_failures_kept,
            open: OpenWindow::default(),
            windows: VecDeque::new(),
            sent: Vec::new(),
            inflight: 0,
            stop: false,
            aborted_tx: false,
        }
    }

    /// Rows written whose answers have not come.
    pub(crate) fn inflight(&self) -> usize {
        self.inflight
    }

    /// Rows in the window being filled.
    pub(crate) fn open_len(&self) -> u64 {
        self.open.len
    }

    /// Whether no closed window awaits its ReadyForQuery.
    pub(crate) fn windows_settled(&self) -> bool {
        self.windows.is_empty()
    }

    /// Whether the load must send no more rows (a failure under a stopping atomicity, or
    /// the caller's [`Self::stop`]).
    pub(crate) fn stopped(&self) -> bool {
        self.stop
    }

    /// Stops sending rows (a deadline passed); what was sent still drains.
    pub(crate) fn stop(&mut self) {
        self.stop = true;
    }

    /// Every row sent so far.
    pub(crate) fn sent(&self) -> &[Range<u64>] {
        &self.sent
    }

    /// Nothing is awaited any more, whatever the answers did to the count (a row answered
    /// twice, or not at all): nothing is in flight.
    pub(crate) fn nothing_pending(&mut self) {
        self.inflight = 0;
    }

    fn stops_on_failure(&self) -> bool {
        self.atomicity != Atomicity::EachRow
    }

    fn failed(&mut self) {
        if self.stops_on_failure() {
            self.stop = true;
            self.aborted_tx = true;
        }
    }

    /// Row `idx` was written.
    pub(crate) fn row_sent(&mut self, idx: u64) {
        self.inflight += 1;
        push_range(&mut self.open.rows, idx..idx + 1);
        self.open.len += 1;
    }

    /// Row `idx` could not be encoded: nothing of it was written, and it is reported
    /// failed. Rows before it in its window were sent.
    pub(crate) fn row_refused(&mut self, idx: u64, e: Error, report: &mut LoadReport) {
        report.fail(idx, e, self.keep);
        self.failed();
    }

    /// The window being filled was closed with a Sync whose item is `sync`.
    pub(crate) fn window_closed(&mut self, sync: Item) {
        let open = std::mem::take(&mut self.open);
        for r in &open.rows {
            push_range(&mut self.sent, r.clone());
        }
        self.windows.push_back(Window {
            sync,
            rows: open.rows,
            failed: open.failed,
            done: open.done,
        });
    }

    /// Takes one event into the report. Returns the event back when it is not the load's
    /// (notices, notifications, answers of other items), for the caller to route.
    pub(crate) fn on_event(&mut self, ev: Event, report: &mut LoadReport) -> Option<Event> {
        match ev {
            Event::BindComplete(_) => {}
            Event::CompleteRun(i, n) if i & ROW != 0 => {
                let n_rows = usize::try_from(n).unwrap_or(usize::MAX);
                self.inflight = self.inflight.saturating_sub(n_rows);
                report.rows_done += n;
                // Answers come in order, and a run never spans a Sync: these rows belong
                // to the oldest window, or to the one still being filled when every
                // closed one has finished.
                self.answered(n);
            }
            Event::Complete(i, _) | Event::EmptyQuery(i) if i & ROW != 0 => {
                self.inflight = self.inflight.saturating_sub(1);
                report.rows_done += 1;
                self.answered(1);
            }
            Event::Failed(i, e) if i & ROW != 0 => {
                let idx = i & !ROW;
                self.inflight = self.inflight.saturating_sub(1);
                self.window_of_failed(idx);
                if self.aborted_tx && e.code() == Some("25P02") {
                    // "current transaction is aborted": not run.
                    report.rows_skipped += 1;
                } else {
                    report.fail(idx, e, self.keep);
                }
                self.failed();
            }
            Event::Aborted(i) if i & ROW != 0 => {
                self.inflight = self.inflight.saturating_sub(1);
                report.rows_skipped += 1;
            }
            Event::PortalSuspended(i) if i & ROW != 0 => {
                // Execute asked for every row: a suspended portal is the server's fault,
                // and the row did not finish.
                let idx = i & !ROW;
                self.inflight = self.inflight.saturating_sub(1);
                let e = Error::protocol("server suspended a portal executed without a row limit");
                report.fail(idx, e, self.keep);
                self.window_of_failed(idx);
                self.failed();
            }
            Event::Failed(i, e) => {
                // An error reported at Sync (a deferred constraint, or iris-pgwire's
                // deferred DML error): the whole window failed, and none of its rows
                // counts as done.
                if let Some(w) = self.windows.iter_mut().find(|w| w.sync == i) {
                    w.failed = true;
                    report.rows_done = report.rows_done.saturating_sub(w.done);
                    w.done = 0;
                    report.fail_rows(w.span(), e, self.keep);
                }
                self.failed();
            }
            Event::Ready(i, _) if self.windows.iter().any(|w| w.sync == i) => {
                // Windows complete in order.
                while let Some(w) = self.windows.pop_front() {
                    let last = w.sync == i;
                    if !w.failed && self.atomicity != Atomicity::All {
                        for r in w.rows {
                            report.commit_range(r);
                        }
                    }
                    if last {
                        break;
                    }
                }
            }
            ev => return Some(ev),
        }
        None
    }

    /// `n` rows answered: they belong to the oldest closed window, or to the open one.
    fn answered(&mut self, n: u64) {
        match self.windows.front_mut() {
            Some(w) => w.done += n,
            None => self.open.done += n,
        }
    }

    fn window_of_failed(&mut self, idx: u64) {
        match self.windows.iter_mut().find(|w| w.contains(idx)) {
            Some(w) => w.failed = true,
            // A row of the window still being filled, answered early: that window fails
            // when it is closed.
            None => self.open.failed = true,
        }
    }

    /// The connection failed: rows of windows still awaiting their ReadyForQuery have an
    /// unknown fate.
    pub(crate) fn uncertain(&self) -> u64 {
        self.windows.iter().map(Window::len).sum::<u64>()
    }
}

/// Appends range `r` to a list of ranges, extending the last one when adjacent.
#[inline]
fn push_range(ranges: &mut Vec<Range<u64>>, r: Range<u64>) {
    match ranges.last_mut() {
        Some(last) if last.end == r.start => last.end = r.end,
        _ => ranges.push(r),
    }
}

#[cfg(test)]
mod tests;
