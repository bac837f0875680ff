//! `execute_many`: one prepared statement, Bind/Execute per row streamed into the write
//! buffer while responses are read, Syncs at batch boundaries.

use std::collections::VecDeque;
use std::ops::Range;

use tokio::io::{AsyncRead, AsyncWrite};

use super::query::StatementRef;
use super::Connection;
use crate::conn::bulk::{Atomicity, ExecuteManyOptions, LoadError, LoadMethod, LoadReport};
use crate::conn::event::{Event, Item};
use crate::conn::params::{ParamPlan, Params};
use crate::error::Error;
use crate::protocol::backend::TransactionStatus;
use crate::protocol::frontend::BindPrefix;

/// Row items live in their own number space so events map back to row indices.
const ROW: Item = 1 << 62;

/// An open sync window: its Sync item, its rows, and whether any row failed.
struct Window {
    sync: Item,
    rows: Range<u64>,
    failed: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Loads `rows` through one prepared `sql` statement with pipelined Bind/Execute
    /// pairs, using the default options ([`Atomicity::All`]).
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
        let mut report = LoadReport {
            method: LoadMethod::Pipeline,
            ..LoadReport::default()
        };
        let r = match self.config.query_timeout {
            // The deadline applies per call; a bulk load is one call.
            None => self.execute_many_inner(sql, rows, opts, &mut report).await,
            Some(t) => {
                let r =
                    tokio::time::timeout(t, self.execute_many_inner(sql, rows, opts, &mut report))
                        .await;
                match r {
                    Ok(r) => r,
                    Err(_) => {
                        let e = Error::timeout("bulk load timed out");
                        self.session.mark_broken(e.clone());
                        Err(e)
                    }
                }
            }
        };
        match r {
            Ok(()) => Ok(report),
            Err(error) => Err(LoadError { error, report }),
        }
    }

    async fn execute_many_inner<I>(
        &mut self,
        sql: &str,
        rows: I,
        opts: ExecuteManyOptions,
        report: &mut LoadReport,
    ) -> Result<(), Error>
    where
        I: IntoIterator,
        I::Item: Params,
    {
        let mut rows = rows.into_iter().peekable();
        let Some(first) = rows.peek() else {
            return Ok(());
        };
        let stmt = match self.resolve(StatementRef::Sql(sql)).await? {
            Some(s) => s,
            None => self.prepare_inner(sql, &[]).await?,
        };
        self.begin_op().await?;
        let lenient = self.session.quirks().lenient_types;
        let plan = ParamPlan::new(stmt.params(), first, self.text_only(), lenient)?;
        let prefix = BindPrefix::new("", stmt.name(), &plan.formats).map_err(Error::encode)?;
        let own_tx = opts.atomicity == Atomicity::All
            && self.session.transaction_status() == TransactionStatus::Idle;
        if own_tx {
            self.simple_query("BEGIN").await?;
        }
        let batch = u64::from(match opts.atomicity {
            Atomicity::All => opts.sync_every.max(1),
            Atomicity::Batches(n) => n.max(1),
            Atomicity::EachRow => 1,
        });
        let stop_on_failure = opts.atomicity != Atomicity::EachRow;

        let mut next: u64 = 0;
        let mut window_start: u64 = 0;
        let mut windows: VecDeque<Window> = VecDeque::new();
        let mut inflight: usize = 0;
        let mut source_done = false;
        let mut stop = false;
        let mut aborted_tx = false;

        let outcome: Result<(), Error> = async {
            loop {
                // Fill the write buffer up to the window.
                while !stop
                    && !source_done
                    && self.session.outbound_mut().len() < opts.window_bytes
                    && inflight < opts.window_rows
                {
                    let Some(row) = rows.next() else {
                        source_done = true;
                        break;
                    };
                    let idx = next;
                    next += 1;
                    report.rows_read += 1;
                    let item = ROW | idx;
                    let r = self
                        .session
                        .push_bind_prefixed(item, &prefix, &[], |w| plan.write(w, &row));
                    match r {
                        Ok(()) => {
                            self.session.push_execute(item, "", 0, None)?;
                            inflight += 1;
                        }
                        Err(e) if e.is_conversion() || e.is_encode() || e.is_config() => {
                            // The row could not be encoded: nothing of it was written.
                            report.fail(idx, e, opts.max_failures_kept);
                            if let Some(w) = windows.back_mut() {
                                if w.rows.end > idx {
                                    w.failed = true;
                                }
                            }
                            if stop_on_failure {
                                stop = true;
                                aborted_tx = true;
                            }
                        }
                        Err(e) => return Err(e),
                    }
                    if next - window_start == batch || (stop && next > window_start) {
                        let sync = self.item();
                        self.session.push_sync(sync)?;
                        windows.push_back(Window {
                            sync,
                            rows: window_start..next,
                            failed: false,
                        });
                        window_start = next;
                    }
                }
                if (source_done || stop) && next > window_start {
                    let sync = self.item();
                    self.session.push_sync(sync)?;
                    windows.push_back(Window {
                        sync,
                        rows: window_start..next,
                        failed: false,
                    });
                    window_start = next;
                }
                if (source_done || stop) && windows.is_empty() && self.session.pending() == 0 {
                    return Ok(());
                }

                self.write_some().await?;

                while let Some(ev) = self.session.poll_event() {
                    match ev {
                        Event::BindComplete(_) => {}
                        Event::Complete(i, _) | Event::EmptyQuery(i) if i & ROW != 0 => {
                            inflight = inflight.saturating_sub(1);
                            report.rows_done += 1;
                        }
                        Event::Failed(i, e) if i & ROW != 0 => {
                            let idx = i & !ROW;
                            inflight = inflight.saturating_sub(1);
                            if let Some(w) = windows.iter_mut().find(|w| w.rows.contains(&idx)) {
                                w.failed = true;
                            }
                            if aborted_tx && e.code() == Some("25P02") {
                                // "current transaction is aborted": not run.
                                report.rows_skipped += 1;
                            } else {
                                report.fail(idx, e, opts.max_failures_kept);
                            }
                            if stop_on_failure {
                                stop = true;
                                aborted_tx = true;
                            }
                        }
                        Event::Aborted(i) if i & ROW != 0 => {
                            inflight = inflight.saturating_sub(1);
                            report.rows_skipped += 1;
                        }
                        Event::Failed(i, e) => {
                            // An error reported at Sync (a deferred constraint, or
                            // iris-pgwire's deferred DML error): the whole window failed.
                            if let Some(w) = windows.iter_mut().find(|w| w.sync == i) {
                                w.failed = true;
                                report.fail(w.rows.start, e, opts.max_failures_kept);
                            }
                            if stop_on_failure {
                                stop = true;
                                aborted_tx = true;
                            }
                        }
                        Event::Ready(i, _) => {
                            if let Some(pos) = windows.iter().position(|w| w.sync == i) {
                                // Windows complete in order.
                                for w in windows.drain(..=pos) {
                                    if !w.failed && opts.atomicity != Atomicity::All {
                                        report.commit_range(w.rows.clone());
                                    }
                                }
                            }
                        }
                        Event::Notice(n) => self.on_notice(n),
                        Event::Notification(n) => self.on_notification(n),
                        _ => {}
                    }
                }
            }
        }
        .await;

        if let Err(e) = outcome {
            // The connection failed: rows still in flight have an unknown fate.
            report.rows_uncertain = windows
                .iter()
                .map(|w| w.rows.end - w.rows.start)
                .sum::<u64>();
            return Err(e);
        }
        if own_tx {
            if report.failures_total == 0 {
                self.simple_query("COMMIT").await?;
                report.commit_range(0..next);
            } else {
                self.simple_query("ROLLBACK").await?;
            }
        }
        Ok(())
    }
}
