//! The explicit pipeline: queue any mix of statements and sync points, flush when asked,
//! read results in order. Semantics follow the protocol and libpq's pipeline mode: after
//! an error, every later item up to the next Sync reports
//! [`is_pipeline_aborted`](crate::Error::is_pipeline_aborted) (on servers that skip to
//! Sync), then the next sync window proceeds normally.

use tokio::io::{AsyncRead, AsyncWrite};

use super::{timed, Connection};
use crate::conn::flow::pipeline::{PipelineFlow, Until};
use crate::conn::statement::Statement;
use crate::error::Error;
use crate::trace::{self, Op};
use crate::types::ToSql;

pub use crate::conn::flow::pipeline::PipelineOutput;

/// A pipeline on a connection. Statements are encoded as they are queued; nothing is
/// sent until [`flush`](Self::flush), [`sync`](Self::sync) followed by reading, or
/// [`finish`](Self::finish).
// The protocol work (what is queued, which window a result belongs to, the server's
// quirks) is the sans-IO `conn::flow::pipeline::PipelineFlow`; this is its async shell,
// which moves bytes.
pub struct Pipeline<'c, S> {
    conn: &'c mut Connection<S>,
    flow: PipelineFlow,
    /// The pipeline's span, open until it is finished or dropped (see `crate::trace`).
    span: trace::Span,
    /// Statements queued, recorded on the span at each Sync.
    queued: trace::Count,
}

impl<S> std::fmt::Debug for Pipeline<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("queued", &self.flow.len())
            .field("syncs", &self.flow.pending_windows())
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
        let flow = PipelineFlow::new(self.config.pooler_safe());
        Ok(Pipeline {
            conn: self,
            flow,
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
        let n = self.flow.query(&mut self.conn.session, stmt, params)?;
        self.trace_opened();
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
        let n = self.flow.query_sql(&mut self.conn.session, sql, params)?;
        self.trace_opened();
        Ok(n)
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
        self.flow.sync(&mut self.conn.session)?;
        self.trace_opened();
        Ok(())
    }

    /// Records the windows the flow opened on the pipeline's span.
    fn trace_opened(&mut self) {
        for (item, n) in self.flow.take_opened() {
            self.queued.add(n);
            self.span.batch_size(self.queued.get());
            self.conn.trace.window_opened(Some(&self.span), item, || n);
        }
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
        self.flow.flush(&mut self.conn.session)?;
        while self.conn.session.has_outbound() {
            self.io_step().await?;
            self.absorb()?;
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

    /// Hands what has arrived to the flow (no IO).
    fn absorb(&mut self) -> Result<(), Error> {
        self.conn.drive_ready(&mut self.flow)?;
        if let Some(sync) = self.flow.take_settled() {
            self.conn.trace.window_done(sync);
        }
        Ok(())
    }

    /// Moves bytes until `until` holds (see [`Until`]); each round of IO is bounded as
    /// [`io_step`](Self::io_step) says.
    async fn wait(&mut self, until: Until) -> Result<(), Error> {
        self.flow.wait_for(until);
        let r = loop {
            if let Err(e) = self.absorb() {
                break Err(e);
            }
            if self.flow.reached() {
                break Ok(());
            }
            if let Some(e) = self.conn.session.broken_error() {
                break Err(e.clone());
            }
            if let Err(e) = self.io_step().await {
                break Err(e);
            }
        };
        // Outside a wait, events are only taken in (all of them at each absorb).
        self.flow.wait_for(Until::Nothing);
        r
    }

    /// The next result if it has already arrived (no IO, no Sync added).
    pub fn next_result_if_ready(&mut self) -> Option<Result<PipelineOutput, Error>> {
        if let Err(e) = self.absorb() {
            return Some(Err(e));
        }
        self.flow.take_front().map(|(out, _)| out)
    }

    /// One round of IO (write what is queued, read what arrived).
    pub async fn poll_io(&mut self) -> Result<(), Error> {
        self.io_step().await?;
        self.absorb()
    }

    /// The next result in queue order, `None` when every queued statement has been
    /// returned. Statements not yet synced are synced first.
    pub async fn next_result(&mut self) -> Option<Result<PipelineOutput, Error>> {
        if self.flow.len() == 0 {
            return None;
        }
        let synced = self.flow.sync_for_read(&mut self.conn.session);
        self.trace_opened();
        if let Err(e) = synced {
            return Some(Err(e));
        }
        if let Err(e) = self.wait(Until::Front).await {
            self.flow.drop_front();
            return Some(Err(e));
        }
        let (out, settle) = self.flow.take_front()?;
        // Pooler-safe mode: the window's ReadyForQuery is read too, so that a statement
        // queued next may start a new window.
        if let Some(w) = settle {
            if let Err(e) = self.wait(Until::Window(w)).await {
                return Some(Err(e));
            }
        }
        Some(out)
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
        let mut out = Vec::with_capacity(self.flow.len());
        while let Some(r) = self.next_result().await {
            out.push(r);
        }
        let synced = self.flow.sync_to_finish(&mut self.conn.session);
        self.trace_opened();
        synced?;
        self.wait(Until::AllSynced).await?;
        match self.flow.take_sync_error() {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}
