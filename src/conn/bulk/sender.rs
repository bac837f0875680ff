//! The sending side of a pipelined bulk load, without IO: when another row may be
//! encoded, when a window is closed with a Sync, when a Flush is needed, when the
//! statement is parsed again (pooler-safe mode), and when the load is over. The answers
//! are the [`Ledger`]'s; the driver's loop only pulls rows from the caller's source,
//! moves bytes and waits.
//!
//! Flow control, with hysteresis: rows are encoded until `window_bytes` wait to be
//! written or `window_rows` are unanswered; encoding resumes only when every byte is in
//! the kernel's hands and at most half of `window_rows` are unanswered, so a
//! server-bound load writes big chunks instead of a few rows per response.

use super::ledger::{Ledger, ROW};
use super::{Atomicity, ExecuteManyOptions, LoadReport};
use crate::conn::event::{Event, Item};
use crate::conn::flow::check_param_count;
use crate::conn::params::{ParamPlan, Params, Reordered};
use crate::conn::session::Session;
use crate::conn::statement::Statement;
use crate::error::Error;
use crate::protocol::backend::TransactionStatus;
use crate::protocol::frontend::{BindPrefix, BindWriter};

/// The parameter formats and the Bind head for every row of a load of `stmt`, planned
/// from its first row (text where the server or the caller wants text; types checked
/// strictly unless the server's are lenient).
pub(crate) fn plan<P: Params>(
    session: &Session,
    stmt: &Statement,
    first: &P,
) -> Result<(ParamPlan, BindPrefix), Error> {
    if !stmt.columns().is_empty() {
        // A run's Execute expects no rows (`Expect::BindExecuteRun`): a DataRow would
        // break the connection as a protocol error.
        return Err(Error::config(
            "execute_many runs statements that return no rows; this one returns columns \
             (e.g. INSERT ... RETURNING): use query for each row, or drop RETURNING",
        ));
    }
    let lenient = session.quirks().lenient_types;
    let text_only = session.text_only();
    check_param_count(stmt, first.len())?;
    let plan = match stmt.wire_order() {
        None => ParamPlan::new(stmt.wire_params(), first, text_only, lenient)?,
        Some(order) => {
            let first = Reordered { row: first, order };
            ParamPlan::new(stmt.wire_params(), &first, text_only, lenient)?
        }
    };
    let prefix = BindPrefix::new("", stmt.name(), &plan.formats).map_err(Error::encode)?;
    Ok((plan, prefix))
}

/// Whether [`Atomicity::Batches`] must run each batch in its own `BEGIN`/`COMMIT`: on a
/// server whose Sync window is not atomic (iris-pgwire), outside a transaction block.
pub(crate) fn batches_need_transactions(session: &Session) -> bool {
    session.quirks().sync_window_not_atomic
        && session.transaction_status() == TransactionStatus::Idle
}

/// The most a refill reserves up front in the write buffer (a larger `window_bytes` still
/// applies as a limit; the buffer grows as rows are encoded).
const MAX_REFILL_RESERVE: usize = 4 << 20;

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Sender {
    ledger: Ledger,
    /// Rows per Sync.
    batch: u64,
    window_bytes: usize,
    window_rows: usize,
    /// Whether rows may be added now (hysteresis, see the module docs).
    refill: bool,
    /// Pooler-safe mode (the unnamed statement): every window may land on another
    /// server connection, so each one parses the statement again before its first Bind.
    reparse: bool,
    /// The next row sent opens a window and must be preceded by a Parse.
    parse_due: bool,
    /// A Parse is queued with no row after it yet: its window still needs a Sync (or
    /// the server never answers the Parse), even when it holds no row.
    parse_alone: bool,
    /// Only one window in flight (pooler-safe, outside a transaction block: PgBouncer
    /// hands the server connection to another client at each idle ReadyForQuery, and the
    /// answers to a window sent behind it would go to that client).
    one_window: bool,
    /// The caller's rows are all taken.
    source_done: bool,
}

impl Sender {
    /// A load of `stmt` with `opts`; `in_transaction`: a transaction block is open
    /// around it (the caller's, or the load's own under [`Atomicity::All`]).
    pub(crate) fn new(opts: &ExecuteManyOptions, stmt: &Statement, in_transaction: bool) -> Self {
        let reparse = stmt.is_unnamed();
        Self {
            ledger: Ledger::new(opts),
            batch: u64::from(match opts.atomicity {
                Atomicity::All => opts.sync_every.max(1),
                Atomicity::Batches(n) => n.max(1),
                Atomicity::EachRow => 1,
            }),
            // Windows of zero would never send a row.
            window_bytes: opts.window_bytes.max(1),
            window_rows: opts.window_rows.max(1),
            refill: true,
            reparse,
            parse_due: reparse,
            parse_alone: false,
            one_window: reparse && !in_transaction,
            source_done: false,
        }
    }

    /// The accounting of what was sent and answered.
    pub(crate) fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Stops sending rows (a deadline passed); what was sent still drains.
    pub(crate) fn stop(&mut self) {
        self.ledger.stop();
    }

    /// The caller's source has no more rows.
    pub(crate) fn source_done(&mut self) {
        self.source_done = true;
    }

    /// Rows sent but not answered.
    pub(crate) fn inflight(&self) -> usize {
        self.ledger.inflight()
    }

    /// The row window (rows in flight before encoding pauses).
    pub(crate) fn window_rows(&self) -> usize {
        self.window_rows
    }

    /// Before filling: settles the in-flight count when nothing is pending, and starts a
    /// refill once the window has drained to half.
    pub(crate) fn begin_round(&mut self, session: &mut Session) {
        if session.pending() == 0 {
            self.ledger.nothing_pending();
        }
        let low = !session.has_outbound() && self.ledger.inflight() <= self.window_rows / 2;
        if low && !self.refill {
            self.refill = true;
            // Start the refill at the front of the buffer: BytesMut reclaims the space of
            // written bytes lazily, by moving what was appended since, so without this
            // every window would be copied once more mid-fill. With nothing unsent, this
            // moves nothing.
            session
                .outbound_mut()
                .reserve(self.window_bytes.min(MAX_REFILL_RESERVE));
        }
    }

    /// Whether another row may be encoded now.
    #[inline]
    pub(crate) fn wants_row(&self, session: &mut Session) -> bool {
        self.refill
            && !self.ledger.stopped()
            && !self.source_done
            && (!self.one_window || self.ledger.windows_settled())
            && session.outbound_mut().len() < self.window_bytes
            && self.ledger.inflight() < self.window_rows
    }

    /// Encodes row `idx` with `write` (Bind + Execute, after a Parse when one is due). A
    /// row that cannot be encoded writes nothing and is reported failed. Returns the Sync
    /// item and row count of the window when the row filled it and it was closed.
    #[inline]
    pub(crate) fn push_row(
        &mut self,
        session: &mut Session,
        stmt: &Statement,
        prefix: &BindPrefix,
        idx: u64,
        write: impl Fn(&mut BindWriter<'_>) -> Result<(), Error>,
        report: &mut LoadReport,
    ) -> Result<Option<(Item, u64)>, Error> {
        let item = ROW | idx;
        let r = if self.parse_due {
            // The Parse goes out only in front of a row that encodes, and carries that
            // row's item: a failed Parse is reported as this row's failure (the window's
            // rows after it are skipped), never charged to a refused row, which is
            // already reported. So the window's first row is encoded once on its own,
            // to see.
            let mut probe = bytes::BytesMut::new();
            let mut w = BindWriter::begin_with(&mut probe, prefix);
            match write(&mut w).and_then(|()| w.finish_execute_all().map_err(Error::encode)) {
                Ok(()) => {
                    crate::conn::flow::push_parse_again(session, item, stmt)?;
                    self.parse_due = false;
                    self.parse_alone = true;
                    session.push_bind_execute_run(item, prefix, write)
                }
                Err(e) => Err(e),
            }
        } else {
            session.push_bind_execute_run(item, prefix, write)
        };
        match r {
            Ok(()) => {
                self.parse_alone = false;
                self.ledger.row_sent(idx);
            }
            Err(e) if e.is_conversion() || e.is_encode() || e.is_config() => {
                // The row could not be encoded: nothing of it was written.
                self.ledger.row_refused(idx, e, report);
            }
            Err(e) => return Err(e),
        }
        if self.ledger.open_len() == self.batch {
            return self.close_window(session).map(Some);
        }
        Ok(None)
    }

    /// After filling: pauses the refill once a window is full (with a Flush when the
    /// synced rows alone cannot drain it), and closes the last window once the load is
    /// ending. Returns the Sync item and row count of a window it closed.
    pub(crate) fn end_round(
        &mut self,
        session: &mut Session,
    ) -> Result<Option<(Item, u64)>, Error> {
        if self.refill
            && (session.outbound_mut().len() >= self.window_bytes
                || self.ledger.inflight() >= self.window_rows)
        {
            self.refill = false;
            // Refilling waits for the rows in flight to fall to half the window. Answers
            // of rows before the last Sync are sure to come (the server flushes at each
            // ReadyForQuery); those of rows after it may sit in the server's output
            // buffer. When the synced rows alone cannot bring the count down, a Flush
            // makes the server send the rest, or the window would never drain. Otherwise
            // none is sent: each Flush costs the server a partial write and the client a
            // wakeup.
            let half = u64::try_from(self.window_rows / 2).unwrap_or(u64::MAX);
            if self.ledger.open_len() > half && self.ledger.inflight() > self.window_rows / 2 {
                session.push_flush()?;
            }
        }
        if self.ending() && (self.ledger.open_len() > 0 || self.parse_alone) {
            return self.close_window(session).map(Some);
        }
        Ok(None)
    }

    /// No more rows will be sent: the source ended or the load stopped.
    pub(crate) fn ending(&self) -> bool {
        self.source_done || self.ledger.stopped()
    }

    /// The load is over: nothing more to send, every window answered.
    pub(crate) fn finished(&self, session: &Session) -> bool {
        self.ending() && self.ledger.windows_settled() && session.pending() == 0
    }

    /// Takes one answer; notices and notifications come back for the caller to route.
    #[inline]
    pub(crate) fn on_event(&mut self, ev: Event, report: &mut LoadReport) -> Option<Event> {
        self.ledger.on_event(ev, report)
    }

    /// Ends the window being filled with a Sync; returns the Sync's item and the
    /// window's row count. Its rows may already have answers (a Flush lets the server
    /// send them before the Sync): the ledger carries what they said.
    fn close_window(&mut self, session: &mut Session) -> Result<(Item, u64), Error> {
        let sync = session.item();
        session.push_sync(sync)?;
        let rows = self.ledger.open_len();
        self.ledger.window_closed(sync);
        self.parse_due = self.reparse;
        self.parse_alone = false;
        Ok((sync, rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::tests::{cc, idle, Script};
    use crate::protocol::backend::BackendMessage;
    use crate::protocol::frontend::FrontendMessage;

    fn opts(atomicity: Atomicity, window_rows: usize) -> ExecuteManyOptions {
        ExecuteManyOptions {
            atomicity,
            window_rows,
            ..ExecuteManyOptions::default()
        }
    }

    fn stmt(name: &str) -> Statement {
        Statement::new(
            name.into(),
            "INSERT INTO t VALUES (1)".into(),
            vec![],
            vec![],
            None,
        )
    }

    /// The frames queued since the last call: P(arse), B(ind), E(xecute), S(ync), H (flush).
    fn frames(script: &mut Script) -> String {
        script
            .sent()
            .into_iter()
            .map(|m| match m {
                FrontendMessage::Parse(_) => 'P',
                FrontendMessage::Bind(_) => 'B',
                FrontendMessage::Execute(_) => 'E',
                FrontendMessage::Sync => 'S',
                FrontendMessage::Flush => 'H',
                _ => '?',
            })
            .collect()
    }

    /// Sends rows `from..to` while the sender wants them; returns how many it took.
    fn fill(
        sender: &mut Sender,
        script: &mut Script,
        s: &Statement,
        rows: std::ops::Range<u64>,
        report: &mut LoadReport,
    ) -> u64 {
        let prefix = BindPrefix::new("", s.name(), &[]).expect("prefix");
        sender.begin_round(&mut script.s);
        let mut taken = 0;
        for idx in rows {
            if !sender.wants_row(&mut script.s) {
                break;
            }
            sender
                .push_row(&mut script.s, s, &prefix, idx, |_| Ok(()), report)
                .expect("row");
            taken += 1;
        }
        taken
    }

    /// The answers to `n` rows.
    fn answer_rows(n: usize) -> Vec<BackendMessage> {
        (0..n)
            .flat_map(|_| [BackendMessage::BindComplete, cc("INSERT 0 1")])
            .collect()
    }

    #[test]
    fn batches_close_a_window_with_a_sync_every_n_rows_and_the_last_one_at_the_end() {
        let mut script = Script::postgres();
        let s = stmt("pgline_s1");
        let mut report = LoadReport::default();
        let mut sender = Sender::new(&opts(Atomicity::Batches(3), 100), &s, false);
        assert_eq!(fill(&mut sender, &mut script, &s, 0..7, &mut report), 7);
        sender.source_done();
        assert!(sender.end_round(&mut script.s).expect("end").is_some());
        assert_eq!(frames(&mut script), "BEBEBESBEBEBESBES");
        assert!(
            !sender.finished(&script.s),
            "three windows still owe answers"
        );
    }

    #[test]
    fn encoding_pauses_at_the_row_window_and_resumes_only_at_half_of_it() {
        let mut script = Script::postgres();
        let s = stmt("pgline_s1");
        let mut report = LoadReport::default();
        let mut sender = Sender::new(&opts(Atomicity::Batches(2), 4), &s, false);
        assert_eq!(fill(&mut sender, &mut script, &s, 0..10, &mut report), 4);
        sender.end_round(&mut script.s).expect("end");
        frames(&mut script);
        // One row answered: three in flight, above half the window.
        let one = answer_rows(1);
        script.feed(one);
        while let Some(ev) = script.s.poll_event() {
            sender.on_event(ev, &mut report);
        }
        assert_eq!(fill(&mut sender, &mut script, &s, 4..10, &mut report), 0);
        // The rest of the first window and its ReadyForQuery: two in flight, half.
        let mut rest = answer_rows(1);
        rest.push(idle());
        script.feed(rest);
        while let Some(ev) = script.s.poll_event() {
            sender.on_event(ev, &mut report);
        }
        assert_eq!(sender.inflight(), 2);
        assert_eq!(fill(&mut sender, &mut script, &s, 4..10, &mut report), 2);
    }

    #[test]
    fn pooler_safe_windows_each_parse_again_and_only_one_is_in_flight_outside_a_transaction() {
        let mut script = Script::postgres();
        let s = stmt("");
        let mut report = LoadReport::default();
        let mut sender = Sender::new(&opts(Atomicity::Batches(2), 100), &s, false);
        assert_eq!(fill(&mut sender, &mut script, &s, 0..10, &mut report), 2);
        assert_eq!(frames(&mut script), "PBEBES");
        assert_eq!(
            fill(&mut sender, &mut script, &s, 2..10, &mut report),
            0,
            "the next window waits for the first one's ReadyForQuery"
        );
        let mut answers = vec![BackendMessage::ParseComplete];
        answers.extend(answer_rows(2));
        answers.push(idle());
        script.feed(answers);
        while let Some(ev) = script.s.poll_event() {
            sender.on_event(ev, &mut report);
        }
        assert_eq!(fill(&mut sender, &mut script, &s, 2..10, &mut report), 2);
        assert_eq!(frames(&mut script), "PBEBES");

        // Inside a transaction block, windows are pipelined as usual.
        let mut script = Script::postgres();
        let mut sender = Sender::new(&opts(Atomicity::Batches(2), 100), &s, true);
        assert_eq!(fill(&mut sender, &mut script, &s, 0..6, &mut report), 6);
        assert_eq!(frames(&mut script), "PBEBESPBEBESPBEBES");
    }

    #[test]
    fn a_row_that_cannot_be_encoded_writes_nothing_and_stops_a_batched_load() {
        let mut script = Script::postgres();
        let s = stmt("pgline_s1");
        let prefix = BindPrefix::new("", s.name(), &[]).expect("prefix");
        let mut report = LoadReport::default();
        let mut sender = Sender::new(&opts(Atomicity::Batches(10), 100), &s, false);
        sender.begin_round(&mut script.s);
        sender
            .push_row(&mut script.s, &s, &prefix, 0, |_| Ok(()), &mut report)
            .expect("row 0");
        sender
            .push_row(
                &mut script.s,
                &s,
                &prefix,
                1,
                |_| Err(Error::config("no")),
                &mut report,
            )
            .expect("row 1 is refused, not an error");
        assert_eq!(report.failures_total, 1);
        assert!(sender.ending(), "a batched load stops at its first failure");
        assert!(!sender.wants_row(&mut script.s));
        sender.end_round(&mut script.s).expect("end");
        assert_eq!(
            frames(&mut script),
            "BES",
            "only row 0 went out, then the Sync"
        );
    }
}
