//! The explicit pipeline: queue any mix of statements and sync points, flush when asked,
//! read results in order. Semantics follow the protocol and libpq's pipeline mode: after
//! an error, every later item up to the next Sync reports
//! [`is_pipeline_aborted`](crate::Error::is_pipeline_aborted) (on servers that skip to
//! Sync), then the next sync window proceeds normally.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

use super::query::{
    check_param_count, param_formats, renumbered_values, rows_affected, write_params,
};
use super::{timed, Connection};
use crate::conn::event::{Event, Item};
use crate::conn::row::{Column, Row};
use crate::conn::statement::{deallocate_target, Statement};
use crate::error::Error;
use crate::protocol::backend::TransactionStatus;
use crate::protocol::Oid;
use crate::trace::{self, Op};
use crate::types::ToSql;

/// The outcome of one pipelined statement.
#[derive(Debug, Clone)]
pub struct PipelineOutput {
    /// Rows returned (empty for commands).
    pub rows: Vec<Row>,
    /// Rows affected, when the server reported a trustworthy count.
    pub rows_affected: Option<u64>,
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

/// A pipeline on a connection. Statements are encoded as they are queued; nothing is
/// sent until [`flush`](Self::flush), [`sync`](Self::sync) followed by reading, or
/// [`finish`](Self::finish).
pub struct Pipeline<'c, S> {
    conn: &'c mut Connection<S>,
    slots: VecDeque<Slot>,
    /// Sync items sent and not yet answered.
    syncs: VecDeque<Item>,
    /// Statements queued since the last Sync.
    unsynced: usize,
    /// An error reported at a Sync whose statements were all handed out already (a
    /// deferred constraint failing at commit): [`finish`](Self::finish) returns it.
    sync_error: Option<Error>,
    /// The pipeline's span, open until it is finished or dropped (see `crate::trace`).
    span: trace::Span,
    /// Statements queued, recorded on the span at each Sync.
    queued: trace::Count,
}

impl<S> std::fmt::Debug for Pipeline<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("queued", &self.slots.len())
            .field("syncs", &self.syncs.len())
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Starts a pipeline (after draining anything an abandoned operation left behind).
    ///
    /// # Examples
    ///
    /// Three statements, one round trip; results come back in queue order.
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// let insert = conn.prepare("INSERT INTO users (id, name) VALUES ($1, $2)").await?;
    /// let mut p = conn.pipeline().await?;
    /// p.query(&insert, &[&1i64, &"ada"])?;
    /// p.query(&insert, &[&2i64, &"grace"])?;
    /// p.query_sql("SELECT count(*) FROM users", &[])?;
    /// for result in p.finish().await? {
    ///     let out = result?; // a failed statement; later ones in its window are aborted
    ///     println!("{} rows, {:?} affected", out.rows.len(), out.rows_affected);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn pipeline(&mut self) -> Result<Pipeline<'_, S>, Error> {
        // Statements of any kind: the operation is named by the span, not by SQL.
        let span = self.op_span(Op::Pipeline, "");
        let r = span.instrument(self.begin_op()).await;
        span.error_of(&r);
        r?;
        Ok(Pipeline {
            conn: self,
            slots: VecDeque::new(),
            syncs: VecDeque::new(),
            unsynced: 0,
            sync_error: None,
            span,
            queued: trace::Count::new(),
        })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Pipeline<'_, S> {
    /// Queues a prepared statement (Bind + Execute; in pooler-safe mode, Parse + Bind +
    /// Execute of the unnamed statement). Returns its position.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// let stmt = conn.prepare("SELECT $1::int4 * 2").await?;
    /// let mut p = conn.pipeline().await?;
    /// for i in 0..3i32 {
    ///     p.query(&stmt, &[&i])?;
    /// }
    /// while let Some(r) = p.next_result().await {
    ///     println!("{}", r?.rows[0].get::<i32>(0)?);
    /// }
    /// p.finish().await?;
    /// # Ok(()) }
    /// ```
    pub fn query(
        &mut self,
        stmt: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<usize, Error> {
        self.check_one_window()?;
        check_param_count(stmt, params.len())?;
        let lenient = self.conn.session.quirks().lenient_types;
        self.conn.session.note_statement_sql(stmt.sql());
        let params = &*renumbered_values(params, stmt.wire_order())?;
        let formats = param_formats(params, stmt.wire_params(), self.conn.text_only(), lenient)?;
        let result_formats: Vec<i16> = stmt.columns().iter().map(|c| c.format().code()).collect();
        let item = self.conn.item();
        let types = stmt.wire_params().to_vec();
        // Pooler-safe mode: the unnamed statement is parsed again before each Bind.
        self.conn.push_parse_again(item, stmt)?;
        self.conn
            .session
            .push_bind(item, "", stmt.name(), &formats, &result_formats, |w| {
                write_params(w, params, &types, &formats, lenient)
            })?;
        let ncols = u16::try_from(stmt.columns().len()).ok().filter(|&n| n > 0);
        self.conn.session.push_execute(item, "", 0, ncols)?;
        let n = self.push_slot(item, stmt.columns_arc(), deallocate_target(stmt.sql()));
        self.sync_if_deferred()?;
        Ok(n)
    }

    /// Queues SQL text as an unnamed statement (Parse + Bind + Describe + Execute):
    /// parameter types come from the values, results arrive as text.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// let mut p = conn.pipeline().await?;
    /// p.query_sql("UPDATE users SET name = $1 WHERE id = $2", &[&"ada", &1i64])?;
    /// p.query_sql("SELECT name FROM users WHERE id = $1", &[&1i64])?;
    /// let results = p.finish().await?;
    /// # Ok(()) }
    /// ```
    pub fn query_sql(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<usize, Error> {
        self.check_one_window()?;
        self.conn.session.note_statement_sql(sql);
        let deallocates = deallocate_target(sql);
        let (sql, order) = self.conn.renumber(sql)?;
        let params = &*renumbered_values(params, order.as_deref())?;
        let lenient = self.conn.session.quirks().lenient_types;
        let types: Vec<Oid> = params.iter().map(|p| p.type_oid()).collect();
        let formats = param_formats(params, &types, self.conn.text_only(), lenient)?;
        let item = self.conn.item();
        self.conn.session.push_parse(item, "", &sql, &types)?;
        self.conn
            .session
            .push_bind(item, "", "", &formats, &[0], |w| {
                write_params(w, params, &types, &formats, lenient)
            })?;
        // iris-pgwire runs the statement again to answer Describe: skip it there, so the
        // statement runs once (rows then come without names unless Execute describes them).
        if !self.conn.session.quirks().describe_executes {
            self.conn.session.push_describe_portal(item, "")?;
        }
        self.conn.session.push_execute(item, "", 0, None)?;
        let n = self.push_slot(item, Vec::new().into(), deallocates);
        self.sync_if_deferred()?;
        Ok(n)
    }

    fn push_slot(
        &mut self,
        item: Item,
        columns: Arc<[Column]>,
        deallocates: Option<String>,
    ) -> usize {
        self.slots.push_back(Slot {
            item,
            columns,
            rows: Vec::new(),
            affected: None,
            error: None,
            done: false,
            window: None,
            deallocates,
        });
        self.unsynced += 1;
        self.slots.len() - 1
    }

    /// Where DML errors are deferred to the next Sync or to a later message of another
    /// statement (iris-pgwire 1.7.3 answers `INSERT 0 1` first and the real error later),
    /// every statement gets its own Sync, so its error arrives before anything of the
    /// next one and is attributed to it. Sync windows are not transactions on such
    /// servers, so this changes nothing else.
    fn sync_if_deferred(&mut self) -> Result<(), Error> {
        if self.conn.session.quirks().deferred_dml_errors {
            self.end_window()?;
        }
        Ok(())
    }

    /// Ends the current sync window. An error in one window never affects the next.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// let mut p = conn.pipeline().await?;
    /// p.query_sql("INSERT INTO users (id) VALUES (1)", &[])?;
    /// p.query_sql("INSERT INTO users (id) VALUES (1)", &[])?; // duplicate key
    /// p.query_sql("SELECT 'skipped'", &[])?; // same window: aborted
    /// p.sync()?;
    /// p.query_sql("SELECT 'runs'", &[])?; // next window: unaffected
    /// let results = p.finish().await?;
    /// assert!(results[2].as_ref().is_err_and(|e| e.is_pipeline_aborted()));
    /// assert!(results[3].is_ok());
    /// # Ok(()) }
    /// ```
    pub fn sync(&mut self) -> Result<(), Error> {
        self.end_window()
    }

    /// In pooler-safe mode outside a transaction block: refuses a statement while an
    /// ended window still awaits its ReadyForQuery. PgBouncer (1.18) in transaction mode
    /// hands the server connection to another client at each ReadyForQuery that says
    /// idle, so the answers to a window sent behind another would go to that client.
    fn check_one_window(&self) -> Result<(), Error> {
        if self.conn.config.pooler_safe()
            && !self.syncs.is_empty()
            && self.conn.session.transaction_status() == TransactionStatus::Idle
        {
            return Err(Error::unsupported(
                "pipeline: in pooler-safe mode (statement_cache_capacity=0) outside a \
                 transaction block, a new Sync window starts only after the previous one \
                 was read (next_result); a transaction-mode pooler would hand its answers \
                 to another client. Read the results first, or run the pipeline inside a \
                 transaction",
            ));
        }
        Ok(())
    }

    /// Ends the current window (see [`sync`](Self::sync)).
    fn end_window(&mut self) -> Result<(), Error> {
        if self.unsynced == 0 && self.conn.session.quirks().deferred_dml_errors {
            // Every statement already has its own Sync there.
            return Ok(());
        }
        self.push_sync()
    }

    fn push_sync(&mut self) -> Result<(), Error> {
        let item = self.conn.item();
        self.conn.session.push_sync(item)?;
        let n = self.unsynced as u64;
        self.queued.add(n);
        self.span.batch_size(self.queued.get());
        self.conn.trace.window_opened(Some(&self.span), item, || n);
        // The statements not yet in a window are the newest ones.
        for s in self
            .slots
            .iter_mut()
            .rev()
            .take_while(|s| s.window.is_none())
        {
            s.window = Some(item);
        }
        self.syncs.push_back(item);
        self.unsynced = 0;
        Ok(())
    }

    /// Sends everything queued with a Flush (no Sync): the server starts answering
    /// without ending the window.
    ///
    /// # Examples
    ///
    /// Send now, do other work, then collect whatever has arrived without blocking.
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// let mut p = conn.pipeline().await?;
    /// p.query_sql("SELECT pg_sleep(0.1)", &[])?;
    /// p.flush().await?;
    /// // ... other work ...
    /// let first = loop {
    ///     if let Some(r) = p.next_result_if_ready() {
    ///         break r?;
    ///     }
    ///     p.poll_io().await?;
    /// };
    /// p.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn flush(&mut self) -> Result<(), Error> {
        self.conn.session.push_flush()?;
        while self.conn.session.has_outbound() {
            self.io_step().await?;
            self.absorb();
        }
        Ok(())
    }

    /// One round of IO, bounded by the connection's operation deadline
    /// ([`Config::query_timeout`](crate::Config::query_timeout)): a server that goes
    /// silent, or never sends the ReadyForQuery a result waits for, breaks the connection
    /// instead of hanging the pipeline.
    async fn io_step(&mut self) -> Result<(), Error> {
        let conn = &mut *self.conn;
        timed!(conn, conn.write_some())
    }

    /// Moves events into the slots.
    fn absorb(&mut self) {
        let lenient = self.conn.session.quirks().lenient_types;
        // A statement's outcome is final only at its Sync when errors may be deferred.
        let final_at_sync = self.conn.session.quirks().deferred_dml_errors;
        while let Some(ev) = self.conn.session.poll_event() {
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
                    let affected = rows_affected(&self.conn.session, tag.as_ref());
                    let mut deallocates = None;
                    if let Some(s) = self.slot(i) {
                        s.affected = affected;
                        s.done = !final_at_sync;
                        deallocates = s.deallocates.take();
                    }
                    self.conn.note_complete(tag.as_ref(), || deallocates);
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
                    } else if let Some(s) =
                        self.slots.iter_mut().rev().find(|s| s.window == Some(i))
                    {
                        // An error reported at Sync (e.g. a deferred constraint at
                        // commit) fails the window's last statement: nothing of the
                        // window is reported as a plain success.
                        s.error.get_or_insert(e);
                    } else if self.syncs.contains(&i) {
                        // The window's statements were already handed out (read before
                        // their Sync): the failed commit is reported by `finish`.
                        self.sync_error.get_or_insert(e);
                    }
                }
                Event::Aborted(i) => {
                    if let Some(s) = self.slot(i) {
                        s.error.get_or_insert_with(Error::pipeline_aborted);
                        s.done = true;
                    }
                }
                Event::Ready(i, _) if self.syncs.front() == Some(&i) => {
                    self.conn.trace.window_done(i);
                    self.syncs.pop_front();
                    // A window's statements are contiguous, after any of earlier windows
                    // the caller has not read yet.
                    for s in self
                        .slots
                        .iter_mut()
                        .skip_while(|s| s.window != Some(i))
                        .take_while(|s| s.window == Some(i))
                    {
                        s.done = true;
                    }
                }
                Event::Notice(n) => self.conn.on_notice(n),
                Event::Notification(n) => self.conn.on_notification(n),
                _ => {}
            }
        }
    }

    fn slot(&mut self, item: Item) -> Option<&mut Slot> {
        // Items increase along the queue.
        let at = self.slots.binary_search_by_key(&item, |s| s.item).ok()?;
        self.slots.get_mut(at)
    }

    /// The next result if it has already arrived (no IO, no Sync added).
    pub fn next_result_if_ready(&mut self) -> Option<Result<PipelineOutput, Error>> {
        self.absorb();
        if !self.slots.front().is_some_and(|s| s.done) {
            return None;
        }
        let s = self.slots.pop_front()?;
        Some(match s.error {
            Some(e) => Err(e),
            None => Ok(PipelineOutput {
                rows: s.rows,
                rows_affected: s.affected,
            }),
        })
    }

    /// One round of IO (write what is queued, read what arrived).
    pub async fn poll_io(&mut self) -> Result<(), Error> {
        self.io_step().await?;
        self.absorb();
        Ok(())
    }

    /// The next result in queue order, `None` when every queued statement has been
    /// returned. Statements not yet synced are synced first.
    pub async fn next_result(&mut self) -> Option<Result<PipelineOutput, Error>> {
        if self.slots.is_empty() {
            return None;
        }
        if self.unsynced > 0 {
            if let Err(e) = self.end_window() {
                return Some(Err(e));
            }
        }
        loop {
            self.absorb();
            if self.slots.front().is_some_and(|s| s.done) {
                let s = self.slots.pop_front()?;
                if let Err(e) = self.settle_window(s.window).await {
                    return Some(Err(e));
                }
                return Some(match s.error {
                    Some(e) => Err(e),
                    None => Ok(PipelineOutput {
                        rows: s.rows,
                        rows_affected: s.affected,
                    }),
                });
            }
            if let Some(e) = self.conn.session.broken_error() {
                let e = e.clone();
                self.slots.pop_front();
                return Some(Err(e));
            }
            if let Err(e) = self.io_step().await {
                self.slots.pop_front();
                return Some(Err(e));
            }
        }
    }

    /// In pooler-safe mode, after the last result of `window`: reads its ReadyForQuery
    /// too, so that a statement queued next may start a new window (see
    /// `check_one_window`).
    async fn settle_window(&mut self, window: Option<Item>) -> Result<(), Error> {
        let Some(w) = window else {
            return Ok(());
        };
        if !self.conn.config.pooler_safe() || self.slots.iter().any(|x| x.window == Some(w)) {
            return Ok(());
        }
        while self.syncs.contains(&w) {
            if let Some(e) = self.conn.session.broken_error() {
                return Err(e.clone());
            }
            self.io_step().await?;
            self.absorb();
        }
        Ok(())
    }

    /// Syncs, then reads every remaining result in order, and waits for every
    /// ReadyForQuery so the connection is idle afterwards.
    ///
    /// The pipeline always ends with a Sync, unless the last message sent was one: also
    /// when every result was already read after a [`flush`](Self::flush). Until that
    /// Sync the server keeps the statements' implicit transaction open, so work whose
    /// success the caller has seen would not be committed (and a later ROLLBACK would
    /// undo it). `Err` means the connection failed, or that this final Sync reported an
    /// error for statements already handed out as successes (e.g. a deferred
    /// constraint checked at commit): their work was rolled back.
    pub async fn finish(mut self) -> Result<Vec<Result<PipelineOutput, Error>>, Error> {
        let r = self.finish_all().await;
        self.span.error_of(&r);
        r
    }

    async fn finish_all(&mut self) -> Result<Vec<Result<PipelineOutput, Error>>, Error> {
        let mut out = Vec::with_capacity(self.slots.len());
        while let Some(r) = self.next_result().await {
            out.push(r);
        }
        if self.conn.session.in_open_window() {
            self.push_sync()?;
        }
        while !self.syncs.is_empty() {
            if let Some(e) = self.conn.session.broken_error() {
                return Err(e.clone());
            }
            self.io_step().await?;
            self.absorb();
        }
        match self.sync_error.take() {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}
