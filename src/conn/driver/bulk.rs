//! `execute_many`: one prepared statement, Bind/Execute per row streamed into the write
//! buffer while responses are read, Syncs at batch boundaries.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};

use tokio::io::{AsyncRead, AsyncWrite};

use super::io_tick::TickControl;
use super::query::check_param_count;
use super::{timed, Connection};
use crate::conn::bulk::sender::{self, Sender};
use crate::conn::bulk::{Atomicity, ExecuteManyOptions, LoadError, LoadMethod, LoadReport};
use crate::conn::event::Event;
use crate::conn::params::{Params, Reordered};
use crate::conn::statement::Statement;
use crate::error::Error;
use crate::protocol::backend::TransactionStatus;
use crate::trace::Op;

/// The smallest row window for which `execute_many` polls its socket: half of it must
/// hold more than a tick of server work (2,048 rows is ~5 ms at 400k rows/s), so that
/// the tick has room to adapt (see `io_tick`).
const POLLED_MIN_WINDOW_ROWS: usize = 4096;

/// Where execute_many takes its rows from: an iterator (always ready) or a `Stream`.
pub(crate) trait RowSource {
    type Row: Params;
    /// The next row if one is ready now; `Ready(None)` at the end, `Pending` when a
    /// stream has nothing yet.
    fn next_now(&mut self) -> Poll<Option<(u64, Self::Row)>>;
    /// The next row without taking it; meaningful after `ready` (used to plan parameter
    /// formats from the first row).
    fn peek_now(&mut self) -> Option<&Self::Row>;
    /// Waits until `next_now` has something (or the source ended).
    async fn ready(&mut self);
}

struct IterSource<I: Iterator>(std::iter::Peekable<I>);

impl<I, P> RowSource for IterSource<I>
where
    I: Iterator<Item = (u64, P)>,
    P: Params,
{
    type Row = P;
    fn next_now(&mut self) -> Poll<Option<(u64, P)>> {
        Poll::Ready(self.0.next())
    }
    fn peek_now(&mut self) -> Option<&P> {
        self.0.peek().map(|(_, r)| r)
    }
    async fn ready(&mut self) {}
}

struct StreamSource<St: Stream> {
    st: futures::stream::Peekable<St>,
    next: u64,
}

impl<St> RowSource for StreamSource<St>
where
    St: Stream + Unpin,
    St::Item: Params,
{
    type Row = St::Item;
    fn next_now(&mut self) -> Poll<Option<(u64, St::Item)>> {
        // Polled without a real waker: when this is Pending the loop awaits `ready`,
        // which registers one.
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        match Pin::new(&mut self.st).poll_next(&mut cx) {
            Poll::Ready(Some(r)) => {
                let i = self.next;
                self.next += 1;
                Poll::Ready(Some((i, r)))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
    fn peek_now(&mut self) -> Option<&St::Item> {
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        match Pin::new(&mut self.st).poll_peek(&mut cx) {
            Poll::Ready(r) => r,
            Poll::Pending => None,
        }
    }
    async fn ready(&mut self) {
        let _ = Pin::new(&mut self.st).peek().await;
    }
}

/// At most `left` rows of another source (one batch).
struct Take<'a, R> {
    inner: &'a mut R,
    left: u64,
}

impl<R: RowSource> RowSource for Take<'_, R> {
    type Row = R::Row;
    fn next_now(&mut self) -> Poll<Option<(u64, R::Row)>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let r = self.inner.next_now();
        if let Poll::Ready(Some(_)) = r {
            self.left -= 1;
        }
        r
    }
    fn peek_now(&mut self) -> Option<&R::Row> {
        if self.left == 0 {
            None
        } else {
            self.inner.peek_now()
        }
    }
    async fn ready(&mut self) {
        if self.left > 0 {
            self.inner.ready().await;
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Loads `rows` through one prepared `sql` statement with pipelined Bind/Execute
    /// pairs, using the default options ([`Atomicity::All`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// let rows = (1..=10_000i64).map(|i| (i, format!("user {i}")));
    /// let report = conn
    ///     .execute_many("INSERT INTO users (id, name) VALUES ($1, $2)", rows)
    ///     .await?;
    /// // All or nothing: one bad row and nothing is committed (the report says which).
    /// if !report.is_complete() {
    ///     eprintln!("{report}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn execute_many<I>(&mut self, sql: &str, rows: I) -> Result<LoadReport, LoadError>
    where
        I: IntoIterator,
        I::Item: Params,
    {
        self.execute_many_with(sql, rows, ExecuteManyOptions::default())
            .await
    }

    /// [`execute_many`](Self::execute_many) with explicit options.
    ///
    /// Memory stays flat whatever the number of rows: at most `window_bytes` of encoded
    /// rows wait to be written and at most `window_rows` rows are unanswered; the socket
    /// is read while it is written, so neither side can block the other.
    ///
    /// Per-row failures are in the report; `Err` means the connection itself failed
    /// (the error carries the report up to that point).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// use pgline::conn::{Atomicity, ExecuteManyOptions};
    ///
    /// let rows = vec![(1i64, "ada"), (1, "duplicate id"), (2, "grace")];
    /// // Each row commits alone, so the duplicate fails by itself.
    /// let opts = ExecuteManyOptions::with_atomicity(Atomicity::EachRow);
    /// let sql = "INSERT INTO users (id, name) VALUES ($1, $2)";
    /// match conn.execute_many_with(sql, rows, opts).await {
    ///     Ok(report) => {
    ///         assert_eq!(report.rows_committed, 2);
    ///         for f in &report.failures {
    ///             println!("row {} failed: {}", f.index, f.error);
    ///         }
    ///     }
    ///     // The connection failed; the report still says exactly what was committed.
    ///     Err(e) => eprintln!("{}; committed: {:?}", e.error, e.report.committed),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn execute_many_with<I>(
        &mut self,
        sql: &str,
        rows: I,
        opts: ExecuteManyOptions,
    ) -> Result<LoadReport, LoadError>
    where
        I: IntoIterator,
        I::Item: Params,
    {
        let report = LoadReport {
            method: LoadMethod::Pipeline,
            ..LoadReport::default()
        };
        let rows = rows.into_iter().enumerate().map(|(i, r)| (i as u64, r));
        self.execute_many_indexed(sql, rows, opts, report).await
    }

    /// [`execute_many_with`](Self::execute_many_with) fed by an async `Stream` of rows.
    /// The socket keeps being written and read while the stream has nothing ready.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// use futures::{channel::mpsc, SinkExt};
    /// use pgline::conn::ExecuteManyOptions;
    ///
    /// let (mut tx, rx) = mpsc::channel::<(i64, String)>(1024);
    /// tokio::spawn(async move {
    ///     // Rows as they are produced (a file, a socket, another query...).
    ///     for i in 0..10_000i64 {
    ///         if tx.send((i, format!("user {i}"))).await.is_err() {
    ///             break;
    ///         }
    ///     }
    /// }); // the stream ends when `tx` is dropped
    /// let sql = "INSERT INTO users (id, name) VALUES ($1, $2)";
    /// let report = conn
    ///     .execute_many_stream(sql, rx, ExecuteManyOptions::default())
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn execute_many_stream<St>(
        &mut self,
        sql: &str,
        rows: St,
        opts: ExecuteManyOptions,
    ) -> Result<LoadReport, LoadError>
    where
        St: Stream + Unpin,
        St::Item: Params,
    {
        let report = LoadReport {
            method: LoadMethod::Pipeline,
            ..LoadReport::default()
        };
        let mut src = StreamSource {
            st: rows.peekable(),
            next: 0,
        };
        self.execute_many_source(sql, &mut src, opts, report).await
    }

    /// Resumes a load that `previous` describes: runs exactly the rows of `rows` (the same
    /// input, from its start) that `previous` does not show as committed, and returns the
    /// combined report (committed ranges of both runs; failures of this run).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// use pgline::conn::{Atomicity, ExecuteManyOptions};
    /// use pgline::Connection;
    ///
    /// let sql = "INSERT INTO users (id, name) VALUES ($1, $2)";
    /// let rows = || (0..100_000i64).map(|i| (i, format!("user {i}")));
    /// let opts = ExecuteManyOptions::with_atomicity(Atomicity::Batches(1000));
    /// if let Err(e) = conn.execute_many_with(sql, rows(), opts).await {
    ///     // The connection broke mid-load: on a new one, run only what is not committed.
    ///     let mut fresh = Connection::connect(conn.config()).await?;
    ///     let report = fresh.resume_execute_many(sql, rows(), &e.report, opts).await?;
    ///     assert!(report.is_complete());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn resume_execute_many<I>(
        &mut self,
        sql: &str,
        rows: I,
        previous: &LoadReport,
        opts: ExecuteManyOptions,
    ) -> Result<LoadReport, LoadError>
    where
        I: IntoIterator,
        I::Item: Params,
    {
        let rows = rows
            .into_iter()
            .enumerate()
            .map(|(i, r)| (i as u64, r))
            .filter(|(i, _)| !previous.is_committed(*i));
        let report = LoadReport {
            method: LoadMethod::Pipeline,
            ..LoadReport::default()
        };
        let mut r = self.execute_many_indexed(sql, rows, opts, report).await?;
        r.merge_committed(previous);
        Ok(r)
    }

    pub(crate) async fn execute_many_indexed<I, P>(
        &mut self,
        sql: &str,
        rows: I,
        opts: ExecuteManyOptions,
        report: LoadReport,
    ) -> Result<LoadReport, LoadError>
    where
        I: Iterator<Item = (u64, P)>,
        P: Params,
    {
        let mut src = IterSource(rows.peekable());
        self.execute_many_source(sql, &mut src, opts, report).await
    }

    async fn execute_many_source<R: RowSource>(
        &mut self,
        sql: &str,
        rows: &mut R,
        opts: ExecuteManyOptions,
        mut report: LoadReport,
    ) -> Result<LoadReport, LoadError> {
        // The deadline applies to each wait (see `write_within`), not to the whole load:
        // a load of any size runs as long as the server keeps taking rows.
        let span = self.op_span(Op::ExecuteMany, sql);
        let r = span
            .instrument(self.execute_many_outer(sql, rows, opts, &mut report))
            .await;
        span.load(&report);
        span.error_of(&r);
        match r {
            Ok(()) => Ok(report),
            Err(error) => Err(LoadError { error, report }),
        }
    }

    /// Where a sync window is not a transaction (iris-pgwire: every statement autocommits
    /// and an error does not stop the rest of the window), `Batches(n)` runs each batch in
    /// its own explicit `BEGIN` … `COMMIT`/`ROLLBACK`, one batch in flight at a time: a
    /// failed batch leaves nothing behind, as it would on PostgreSQL. Cost: two extra
    /// round trips per batch.
    async fn execute_many_outer<R: RowSource>(
        &mut self,
        sql: &str,
        rows: &mut R,
        opts: ExecuteManyOptions,
        report: &mut LoadReport,
    ) -> Result<(), Error> {
        // An atomicity that needs a ROLLBACK on a server whose ROLLBACK undoes nothing
        // (iris-pgwire before 1.2.29, or an undeclared release) would report as not
        // committed rows that are: refused before anything is sent.
        if opts.atomicity != Atomicity::EachRow
            && self.transaction_status() == TransactionStatus::Idle
        {
            if let Some(release) = self.cannot_roll_back() {
                return Err(Error::unsupported(format!(
                    "execute_many with {:?} needs a rollback, which {release} cannot do (every \
                     statement commits at once): use Atomicity::EachRow, or declare a release \
                     that can roll back with iris_pgwire_version",
                    opts.atomicity
                )));
            }
        }
        let n = match opts.atomicity {
            Atomicity::Batches(n) if sender::batches_need_transactions(&self.session) => n,
            _ => return self.execute_many_inner(sql, rows, opts, report).await,
        };
        let per_batch = ExecuteManyOptions {
            atomicity: Atomicity::All,
            sync_every: n.max(1),
            ..opts
        };
        loop {
            rows.ready().await;
            if rows.peek_now().is_none() {
                return Ok(());
            }
            let mut batch = Take {
                inner: &mut *rows,
                left: u64::from(n.max(1)),
            };
            self.execute_many_inner(sql, &mut batch, per_batch, report)
                .await?;
            if report.failures_total > 0 {
                // As on PostgreSQL: after a failed batch no new rows are sent.
                return Ok(());
            }
        }
    }

    async fn execute_many_inner<R: RowSource>(
        &mut self,
        sql: &str,
        rows: &mut R,
        opts: ExecuteManyOptions,
        report: &mut LoadReport,
    ) -> Result<(), Error> {
        rows.ready().await;
        let Some(first) = rows.peek_now() else {
            return Ok(());
        };
        let stmt = timed!(self, self.statement_to_run(sql, first))?;
        let kept = report.failures.len();
        let r = self.execute_many_prepared(&stmt, rows, opts, report).await;
        // A cached statement the server refuses as stale (26000, 0A000): invalidate it so
        // the next call prepares again. No transparent retry here: rows are outcomes, and
        // the report already says which failed (only the kept failures are seen).
        let stale = report
            .failures
            .get(kept..)
            .and_then(|new| new.iter().find(|f| is_stale_code(f.error.code())))
            .map(|f| f.error.clone())
            .or_else(|| {
                r.as_ref()
                    .err()
                    .filter(|e| is_stale_code(e.code()))
                    .cloned()
            });
        if let Some(e) = stale {
            self.invalidate_stale(&stmt, &e);
        }
        if r.is_ok() && !self.cache.enabled() {
            // Not cached: nothing else will close it on the server.
            self.close_statement(stmt.name()).await?;
        }
        r
    }

    async fn execute_many_prepared<R: RowSource>(
        &mut self,
        stmt: &Statement,
        rows: &mut R,
        opts: ExecuteManyOptions,
        report: &mut LoadReport,
    ) -> Result<(), Error> {
        self.begin_op().await?;
        rows.ready().await;
        let Some(first) = rows.peek_now() else {
            return Ok(());
        };
        let order = stmt.wire_order();
        let (plan, prefix) = sender::plan(&self.session, stmt, first)?;
        let own_tx = opts.atomicity == Atomicity::All
            && self.session.transaction_status() == TransactionStatus::Idle;
        if own_tx {
            self.simple_query("BEGIN").await?;
        }
        // When to encode, Sync, Flush and stop (and what the answers say): no IO in there.
        let in_tx = self.session.transaction_status() != TransactionStatus::Idle;
        let mut sender = Sender::new(&opts, stmt, in_tx);
        let window_rows = sender.window_rows();
        let mut waiting = false;

        // Polled IO (see `socket`) once the load has outgrown one window, and only when
        // half a window holds more than a tick of server work: a small load, or one with
        // a small window, would only wait for ticks. BEGIN above and COMMIT below are
        // round trips and stay event-driven.
        let mut polled_after = match opts.io_tick {
            Some(_) if window_rows >= POLLED_MIN_WINDOW_ROWS => window_rows as u64,
            _ => u64::MAX,
        };
        // The tick, once polling: adapted to how much the server has left to do.
        let mut ticks: Option<TickControl> = None;
        // How long one wait for the server may take, and the timeout error once one did:
        // the load then stops sending, cancels what runs, and drains its windows (still
        // counting their outcomes) within a short grace.
        let mut wait = self.config.query_timeout;
        let mut timed_out: Option<Error> = None;
        let outcome: Result<(), Error> = async {
            loop {
                sender.begin_round(&mut self.session);
                while sender.wants_row(&mut self.session) {
                    let next = match rows.next_now() {
                        Poll::Ready(next) => next,
                        Poll::Pending => {
                            waiting = true;
                            break;
                        }
                    };
                    let Some((idx, row)) = next else {
                        sender.source_done();
                        break;
                    };
                    report.rows_read += 1;
                    let closed = sender.push_row(
                        &mut self.session,
                        stmt,
                        &prefix,
                        idx,
                        |w| match order {
                            None => plan.write(w, &row),
                            Some(order) => {
                                // Reordering hides the row's own length from the plan.
                                check_param_count(stmt, row.len())?;
                                plan.write(w, &Reordered { row: &row, order })
                            }
                        },
                        report,
                    )?;
                    if let Some((sync, n)) = closed {
                        self.trace.window_opened(None, sync, || n);
                    }
                }
                if let Some((sync, n)) = sender.end_round(&mut self.session)? {
                    self.trace.window_opened(None, sync, || n);
                }
                if sender.finished(&self.session) {
                    return Ok(());
                }

                if waiting && !sender.ending() {
                    waiting = false;
                    if sender.inflight() == 0 && !self.session.has_outbound() {
                        rows.ready().await;
                    } else {
                        // Keep the socket moving while the stream produces rows.
                        tokio::select! {
                            r = self.write_within(wait) => if !r? {
                                wait = self.stalled(&mut timed_out, wait).await?;
                                sender.stop();
                            },
                            () = rows.ready() => {}
                        }
                    }
                } else {
                    if report.rows_read >= polled_after {
                        polled_after = u64::MAX;
                        if let Some(max) = opts.io_tick {
                            let control = TickControl::new(max, Instant::now());
                            self.set_io_tick(Some(control.tick()));
                            ticks = Some(control);
                        }
                    }
                    if !self.write_within(wait).await? {
                        wait = self.stalled(&mut timed_out, wait).await?;
                        sender.stop();
                    }
                }

                while let Some(ev) = self.session.poll_event() {
                    if let Event::Ready(i, _) = &ev {
                        self.trace.window_done(*i);
                    }
                    match sender.on_event(ev, report) {
                        Some(Event::Notice(n)) => self.on_notice(n),
                        Some(Event::Notification(n)) => self.on_notification(n),
                        _ => {}
                    }
                }
                if let Some(control) = ticks.as_mut() {
                    // The rows still unanswered are the server's backlog.
                    if let Some(tick) =
                        control.observe(Instant::now(), sender.inflight(), window_rows)
                    {
                        self.set_io_tick(Some(tick));
                    }
                }
            }
        }
        .await;
        self.set_io_tick(None);

        if let Err(e) = outcome {
            // The connection failed: rows still in flight have an unknown fate.
            report.rows_uncertain = sender.ledger().uncertain();
            return Err(e);
        }
        if let Some(e) = timed_out {
            // Every window has answered: the report is exact, and the connection usable.
            if own_tx {
                self.simple_query("ROLLBACK").await?;
            }
            return Err(e);
        }
        if own_tx {
            if report.failures_total == 0 {
                self.simple_query("COMMIT").await?;
                for r in sender.ledger().sent() {
                    report.commit_range(r.clone());
                }
            } else {
                self.simple_query("ROLLBACK").await?;
            }
        }
        Ok(())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// One round of IO for a bulk load, bounded by `wait`: false when it passed with
    /// nothing read or written.
    async fn write_within(&mut self, wait: Option<Duration>) -> Result<bool, Error> {
        match wait {
            None => self.write_some().await.map(|()| true),
            Some(t) => match tokio::time::timeout(t, self.write_some()).await {
                Ok(r) => r.map(|()| true),
                Err(_) => Ok(false),
            },
        }
    }

    /// A bulk load's wait passed its deadline. The first time, cancel what the server
    /// is running and return the grace (the deadline clamped to 1–5 s) within which each
    /// further wait of the drain must progress; the load stops sending and its windows
    /// drain as usual, so the report stays exact. When the drain itself stalls, or the
    /// server cannot be cancelled reliably, the connection is broken.
    async fn stalled(
        &mut self,
        timed_out: &mut Option<Error>,
        wait: Option<Duration>,
    ) -> Result<Option<Duration>, Error> {
        let deadline = wait.unwrap_or(Duration::ZERO);
        let token = match &self.cancel {
            Some(t) if timed_out.is_none() && self.session.cancel_keeps_connection() => t.clone(),
            _ => {
                let e = Error::timeout(if timed_out.is_some() {
                    "bulk load timed out, and the server did not settle after a cancel: the connection is closed"
                } else {
                    "bulk load timed out (the connection is closed)"
                });
                self.session.mark_broken(e.clone());
                return Err(e);
            }
        };
        *timed_out = Some(Error::new(crate::error::Kind::Timeout, format!(
            "bulk load timed out: the server made no progress for {deadline:?}; the statement was cancelled and the connection is still usable"
        )));
        let grace = deadline.clamp(Duration::from_secs(1), Duration::from_secs(5));
        // Best effort: the statement may have finished meanwhile.
        let _ = token.cancel_query(grace).await;
        Ok(Some(grace))
    }
}

/// The SQLSTATEs with which the server refuses a stale prepared statement (see
/// `Connection::invalidate_stale`).
fn is_stale_code(code: Option<&str>) -> bool {
    matches!(code, Some("26000" | "0A000"))
}
