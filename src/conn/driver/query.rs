//! Queries: simple, prepared, one-shot unnamed, streamed.

use tokio::io::{AsyncRead, AsyncWrite};

use super::{timed, Connection};
use crate::conn::flow::extended::{self, Close, Prepare, Run, RunError, Stale, Stream};
use crate::conn::flow::simple::{RunSimple, SimpleQuery};
use crate::conn::params::Params;
use crate::conn::row::{Column, Row};
use crate::conn::statement::Statement;
use crate::error::Error;
use crate::protocol::backend::TransactionStatus;
use crate::protocol::Oid;
use crate::trace::{self, Op};
use crate::types::ToSql;

pub use crate::conn::flow::extended::StatementRef;
pub use crate::conn::flow::simple::SimpleQueryResult;
// The shared encoding helpers, for the other operations of the driver.
pub(crate) use crate::conn::flow::{binary_result_supported, check_param_count};

impl Statement {
    /// Closes the statement on the server now: Close + Sync, one round trip, within the
    /// connection's [`query_timeout`](crate::Config::query_timeout). Afterwards the
    /// server no longer knows the name (running a clone of this handle fails with
    /// SQLSTATE 26000), the connection's statement cache forgets it, and dropping the
    /// remaining clones sends nothing more.
    ///
    /// Without this call a statement is closed anyway once its last handle is dropped,
    /// with the connection's next operation (see [`Statement`]); `close` is for when the
    /// caller wants it gone now, or wants to know the outcome. A statement prepared on
    /// another connection is refused without sending anything: names are per
    /// connection, and another connection may use the same one.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// let stmt = conn.prepare("SELECT $1::int4 + 1").await?;
    /// let row = conn.query_one(&stmt, &[&41i32]).await?;
    /// assert_eq!(row.get::<i32>(0)?, 42);
    /// stmt.close(conn).await?; // gone on the server now, not at the next operation
    /// # Ok(()) }
    /// ```
    pub async fn close<S: AsyncRead + AsyncWrite + Unpin>(
        self,
        conn: &mut Connection<S>,
    ) -> Result<(), Error> {
        if !self.belongs_to(conn.cache.close_queue()) {
            return Err(Error::config(
                "Statement::close: the statement was prepared on another connection",
            ));
        }
        self.mark_closed();
        conn.cache.remove(&self);
        if self.is_unnamed() {
            // Pooler-safe mode: nothing named on the server to close.
            return Ok(());
        }
        timed!(conn, conn.close_prepared(self.name()))
    }
}

/// A simple query's span counts the rows of all its statements.
impl trace::Outcome for Vec<SimpleQueryResult> {
    #[inline]
    fn record_on(&self, span: &trace::Span) {
        span.returned_rows(self.iter().map(|r| r.rows.len() as u64).sum());
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Runs a simple query (one or more `;`-separated statements, no parameters) and
    /// returns the results of each statement, rows as text. The first error is returned
    /// after the server finishes (later statements are not run on PostgreSQL).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// let results = conn.simple_query("SELECT 1 AS one; SELECT 'two'").await?;
    /// assert_eq!(results[0].rows[0].get("one")?, Some("1"));
    /// assert_eq!(results[1].rows[0].get(0)?, Some("two"));
    /// assert_eq!(results[1].tag.as_deref(), Some("SELECT 1"));
    /// # Ok(()) }
    /// ```
    pub async fn simple_query(&mut self, sql: &str) -> Result<Vec<SimpleQueryResult>, Error> {
        let span = self.op_span(Op::SimpleQuery, sql);
        let r = timed!(self, span.instrument(self.simple_query_inner(sql)));
        span.finish(&r);
        r
    }

    async fn simple_query_inner(&mut self, sql: &str) -> Result<Vec<SimpleQueryResult>, Error> {
        self.begin_op().await?;
        let mut flow = SimpleQuery::start(&mut self.session, sql)?;
        self.drive(&mut flow).await
    }

    /// Runs statements without results, e.g. DDL; an error stops the batch.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// conn.batch_execute(
    ///     "CREATE TEMP TABLE users (id int8 PRIMARY KEY, name text);
    ///      CREATE INDEX ON users (name)",
    /// )
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn batch_execute(&mut self, sql: &str) -> Result<(), Error> {
        self.simple_query(sql).await.map(|_| ())
    }

    /// Prepares a named statement (Parse + Describe + Sync, one round trip).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// let stmt = conn.prepare("SELECT name FROM users WHERE id = $1").await?;
    /// for id in [1i64, 2, 3] {
    ///     if let Some(row) = conn.query_opt(&stmt, &[&id]).await? {
    ///         println!("{id}: {}", row.get::<&str>(0)?);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn prepare(&mut self, sql: &str) -> Result<Statement, Error> {
        timed!(self, self.prepare_inner(sql, &[]))
    }

    /// Prepares with explicit parameter types (0 = let the server infer).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// use pgline::types::oid;
    ///
    /// // Without the type, `$1 + 1` would make the server guess int4.
    /// let stmt = conn.prepare_typed("SELECT $1 + 1", &[oid::INT8]).await?;
    /// assert_eq!(stmt.params(), &[oid::INT8]);
    /// let row = conn.query_one(&stmt, &[&41i64]).await?;
    /// assert_eq!(row.get::<i64>(0)?, 42);
    /// # Ok(()) }
    /// ```
    pub async fn prepare_typed(&mut self, sql: &str, types: &[Oid]) -> Result<Statement, Error> {
        timed!(self, self.prepare_inner(sql, types))
    }

    /// Close('S') + Sync for `name`, waiting for ReadyForQuery; statements queued for
    /// closing go out in the same write (see `begin_op`).
    async fn close_prepared(&mut self, name: &str) -> Result<(), Error> {
        self.begin_op().await?;
        let mut flow = Close::start(&mut self.session, name)?;
        self.drive(&mut flow).await
    }

    pub(crate) async fn prepare_inner(
        &mut self,
        sql: &str,
        types: &[Oid],
    ) -> Result<Statement, Error> {
        self.prepare_with(sql, types, true).await
    }

    /// Prepares for running, not for inspecting: where Describe runs the statement
    /// (iris-pgwire, `Quirks::describe_executes`) it is skipped, so every statement runs
    /// exactly once; the parameter types are then the ones given (the values' types) and
    /// rows are read by position unless Execute describes them.
    pub(crate) async fn prepare_to_run(
        &mut self,
        sql: &str,
        types: &[Oid],
    ) -> Result<Statement, Error> {
        let describe = extended::describe_to_run(&self.session);
        self.prepare_with(sql, types, describe).await
    }

    async fn prepare_with(
        &mut self,
        sql: &str,
        types: &[Oid],
        describe: bool,
    ) -> Result<Statement, Error> {
        let span = self.op_span(Op::Prepare, sql);
        let r = span
            .instrument(self.prepare_unspanned(sql, types, describe))
            .await;
        span.finish(&r);
        r
    }

    async fn prepare_unspanned(
        &mut self,
        sql: &str,
        types: &[Oid],
        describe: bool,
    ) -> Result<Statement, Error> {
        // A config error is refused before draining anything or taking a name.
        extended::check_placeholders(&self.session, sql, types, describe)?;
        self.begin_op().await?;
        let name = self.statement_name();
        let mut flow = Prepare::start(&mut self.session, name, sql, types, describe)?;
        self.drive(&mut flow).await
    }

    /// The statement for running `sql` with values like `first`: from the statement cache,
    /// or prepared to run (and cached when the cache is on). Where the server guesses
    /// parameter types badly from the SQL, or no Describe will report them (iris-pgwire),
    /// the Parse declares the types of `first`'s values; PostgreSQL infers them itself,
    /// whatever format the client prefers.
    pub(crate) async fn statement_to_run<P: Params + ?Sized>(
        &mut self,
        sql: &str,
        first: &P,
    ) -> Result<Statement, Error> {
        if let Some(s) = self.cache.get(sql) {
            return Ok(s);
        }
        let types = extended::declared_types(&self.session, first);
        let s = self.prepare_to_run(sql, &types).await?;
        self.cache.insert(s.clone());
        Ok(s)
    }

    /// Resolves SQL text through the statement cache.
    pub(crate) async fn resolve(
        &mut self,
        stmt: StatementRef<'_>,
        values: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Statement>, Error> {
        match stmt {
            StatementRef::Prepared(s) => Ok(Some(s.clone())),
            StatementRef::Sql(sql) if self.cache.enabled() => {
                self.statement_to_run(sql, values).await.map(Some)
            }
            StatementRef::Sql(_) => Ok(None),
        }
    }

    /// Runs a statement and collects its rows.
    ///
    /// `stmt` is SQL text (prepared through the connection's statement cache) or a
    /// [`Statement`] from [`prepare`](Self::prepare).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// let rows = conn
    ///     .query("SELECT id, name FROM users WHERE id > $1 ORDER BY id", &[&10i64])
    ///     .await?;
    /// for row in &rows {
    ///     let id: i64 = row.get(0)?;
    ///     let name: Option<&str> = row.get("name")?; // NULL is None
    ///     println!("{id}: {name:?}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn query<'a>(
        &mut self,
        stmt: impl Into<StatementRef<'a>>,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, Error> {
        let stmt = stmt.into();
        let span = self.op_span(Op::Query, stmt.sql());
        let r = timed!(self, span.instrument(self.query_inner(stmt, params)));
        span.finish(&r);
        r
    }

    async fn query_inner(
        &mut self,
        stmt: StatementRef<'_>,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, Error> {
        let (rows, _) = self.run(stmt, params, true).await?;
        Ok(rows)
    }

    /// Runs a statement that must return exactly one row.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// let row = conn.query_one("SELECT count(*) FROM users", &[]).await?;
    /// let n: i64 = row.get(0)?;
    /// # Ok(()) }
    /// ```
    pub async fn query_one<'a>(
        &mut self,
        stmt: impl Into<StatementRef<'a>>,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, Error> {
        let mut rows = self.query(stmt, params).await?;
        match rows.len() {
            1 => rows
                .pop()
                .ok_or_else(|| Error::row_count("query returned no rows")),
            0 => Err(Error::row_count("query returned no rows")),
            _ => Err(Error::row_count("query returned more than one row")),
        }
    }

    /// Runs a statement that returns at most one row.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// match conn.query_opt("SELECT name FROM users WHERE id = $1", &[&7i64]).await? {
    ///     Some(row) => println!("found {}", row.get::<&str>(0)?),
    ///     None => println!("no user 7"),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn query_opt<'a>(
        &mut self,
        stmt: impl Into<StatementRef<'a>>,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, Error> {
        let mut rows = self.query(stmt, params).await?;
        match rows.len() {
            0 | 1 => Ok(rows.pop()),
            _ => Err(Error::row_count("query returned more than one row")),
        }
    }

    /// Runs a statement and returns the rows it affected (`None` when the server did not
    /// report a trustworthy count).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// let n = conn
    ///     .execute("UPDATE users SET name = $1 WHERE id = $2", &[&"ada", &1i64])
    ///     .await?;
    /// assert_eq!(n, Some(1));
    /// # Ok(()) }
    /// ```
    pub async fn execute<'a>(
        &mut self,
        stmt: impl Into<StatementRef<'a>>,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<u64>, Error> {
        let stmt = stmt.into();
        let span = self.op_span(Op::Execute, stmt.sql());
        let r = timed!(
            self,
            span.instrument(async { self.run(stmt, params, false).await.map(|(_, n)| n) })
        );
        span.finish(&r);
        r
    }

    /// One flight: Bind + Execute + Sync (prepared), or Parse + Bind + Describe + Execute
    /// + Sync (unnamed), then collect.
    ///
    /// A statement from the cache that the server refuses at Bind as stale (see
    /// [`Stale`]) is invalidated and, when no transaction block was open before the call,
    /// prepared again and run once more, as pgx and pgjdbc do: nothing ran the first time
    /// (the error came at Bind) and the implicit transaction ended with the error, so the
    /// retry is the only execution. Inside a transaction block the error is returned (the
    /// block is aborted anyway); the entry is invalidated, so the call after ROLLBACK
    /// prepares again.
    async fn run(
        &mut self,
        stmt: StatementRef<'_>,
        params: &[&(dyn ToSql + Sync)],
        want_rows: bool,
    ) -> Result<(Vec<Row>, Option<u64>), Error> {
        if let Some(r) = self.cleanup_as_simple_query(stmt.sql(), params).await {
            return r;
        }
        if let Some(sql) = extended::simple_path(&self.session, stmt, params) {
            return self.run_simple(sql, want_rows).await;
        }
        let outside_tx = self.session.transaction_status() == TransactionStatus::Idle;
        let prepared = self.resolve(stmt, params).await?;
        let cached = matches!(stmt, StatementRef::Sql(_)) && prepared.is_some();
        match self.run_resolved(stmt, prepared, params, want_rows).await {
            Err(f) if f.stale.is_some() && cached && outside_tx => {
                let prepared = self.resolve(stmt, params).await?;
                self.run_resolved(stmt, prepared, params, want_rows)
                    .await
                    .map_err(|f| f.error)
            }
            r => r.map_err(|f| f.error),
        }
    }

    /// Runs parameterless SQL as a simple Query and reads its rows like an extended one:
    /// the RowDescription names the columns and its type OIDs decode the text values (on
    /// iris-pgwire this is the one exchange that names the columns without running the
    /// statement twice, and the one without 1.7.3's 1 ms sleep after each result; see
    /// `tests/iris/evidence.md`). Rows of every statement in the text are returned; the
    /// first error is returned once the server is ready again.
    async fn run_simple(
        &mut self,
        sql: &str,
        want_rows: bool,
    ) -> Result<(Vec<Row>, Option<u64>), Error> {
        self.begin_op().await?;
        let mut flow = RunSimple::start(&mut self.session, sql, want_rows)?;
        self.drive(&mut flow).await
    }

    /// On servers where SQL session cleanup is answered only in a simple Query
    /// (iris-pgwire, `Quirks::no_sql_cleanup`): a parameterless `DEALLOCATE ...` or
    /// `DISCARD ...` the caller runs through `query`/`execute` goes out as a simple Query
    /// (through Parse/Bind/Execute it would reach IRIS, which rejects it). `None`
    /// elsewhere: run it as usual.
    async fn cleanup_as_simple_query(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Option<Result<(Vec<Row>, Option<u64>), Error>> {
        if !extended::cleanup_as_simple_query(&self.session, sql, params) {
            return None;
        }
        Some(self.simple_query_inner(sql).await.map(|results| {
            let affected = results.last().and_then(|r| r.rows_affected);
            (Vec::new(), affected)
        }))
    }

    /// Invalidates `s` after the server refused it at Bind with `e` (see
    /// [`extended::invalidate_stale`]).
    pub(crate) fn invalidate_stale(&mut self, s: &Statement, e: &Error) -> Option<Stale> {
        extended::invalidate_stale(&mut self.ctx(), s, e)
    }

    /// Runs `stmt` as the prepared statement `prepared`, or, when that is `None`, as an
    /// unnamed statement parsed in the same flight.
    async fn run_resolved(
        &mut self,
        stmt: StatementRef<'_>,
        prepared: Option<Statement>,
        params: &[&(dyn ToSql + Sync)],
        want_rows: bool,
    ) -> Result<(Vec<Row>, Option<u64>), RunError> {
        self.begin_op().await?;
        let mut flow = Run::start(&mut self.session, stmt, prepared, params, want_rows)?;
        self.drive(&mut flow).await?
    }

    /// One-shot query with an unnamed statement: Parse + Bind + Describe + Execute + Sync
    /// in one flight. Parameter types come from the values; results arrive as text.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// // One round trip, nothing left in the statement cache.
    /// let rows = conn.query_unnamed("SELECT $1::text || '!'", &[&"hi"]).await?;
    /// assert_eq!(rows[0].get::<&str>(0)?, "hi!");
    /// # Ok(()) }
    /// ```
    pub async fn query_unnamed(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, Error> {
        let span = self.op_span(Op::Query, sql);
        let r = timed!(self, span.instrument(self.run_unnamed(sql, params)));
        span.finish(&r);
        r
    }

    async fn run_unnamed(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, Error> {
        if let Some(r) = self.cleanup_as_simple_query(sql, params).await {
            return r.map(|(rows, _)| rows);
        }
        if let Some(sql) = extended::simple_path(&self.session, StatementRef::Sql(sql), params) {
            return self.run_simple(sql, true).await.map(|(rows, _)| rows);
        }
        // Never through the cache: parsed unnamed in the same flight.
        let r = self
            .run_resolved(StatementRef::Sql(sql), None, params, true)
            .await;
        r.map(|(rows, _)| rows).map_err(|f| f.error)
    }

    /// Streams the rows of a statement with bounded memory: rows are fetched `chunk` at a
    /// time (Execute with a row limit, PortalSuspended, Execute again), or, with `chunk`
    /// 0 and on servers that ignore row limits, with one Execute whose rows are read from
    /// the socket only as fast as they are taken (TCP back-pressure holds the server).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// let mut rows = conn
    ///     .query_stream("SELECT id FROM generate_series(1, 1000000) AS id", &[], 1000)
    ///     .await?;
    /// let mut sum = 0i64;
    /// while let Some(row) = rows.next().await? {
    ///     sum += i64::from(row.get::<i32>(0)?);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn query_stream<'a>(
        &mut self,
        stmt: impl Into<StatementRef<'a>>,
        params: &[&(dyn ToSql + Sync)],
        chunk: u32,
    ) -> Result<RowStream<'_, S>, Error> {
        let stmt = stmt.into();
        let span = self.op_span(Op::QueryStream, stmt.sql());
        let r = self.query_stream_start(stmt, params, chunk, &span).await;
        span.error_of(&r);
        Ok(RowStream {
            conn: self,
            flow: r?,
            done: false,
            span,
            rows: trace::Count::new(),
        })
    }

    /// Resolves the statement and queues the Bind and first Execute of a [`RowStream`].
    async fn query_stream_start(
        &mut self,
        stmt: StatementRef<'_>,
        params: &[&(dyn ToSql + Sync)],
        chunk: u32,
        span: &trace::Span,
    ) -> Result<Stream, Error> {
        let prepared = timed!(self, span.instrument(self.resolve(stmt, params)))?;
        let Some(s) = prepared else {
            return Err(Error::unsupported(
                "query_stream needs a prepared statement (enable the statement cache or call prepare)",
            ));
        };
        timed!(self, self.begin_op())?;
        Stream::start(&mut self.session, s, params, chunk)
    }
}

/// Rows of [`Connection::query_stream`], fetched on demand. Dropping it early is safe: the
/// next operation on the connection drains what is left.
pub struct RowStream<'c, S> {
    conn: &'c mut Connection<S>,
    /// The stream's state machine.
    flow: Stream,
    done: bool,
    /// The stream's span, open until the stream is dropped (see `crate::trace`).
    span: trace::Span,
    /// Rows handed out, recorded on the span at the end.
    rows: trace::Count,
}

impl<S> std::fmt::Debug for RowStream<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowStream")
            .field("columns", &self.flow.columns().len())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> RowStream<'_, S> {
    /// The columns of the result.
    pub fn columns(&self) -> &[Column] {
        self.flow.columns()
    }

    /// Bytes allocated for the connection's read buffer (its capacity, not just the bytes
    /// it holds now): what streaming costs in memory, for memory checks.
    pub fn buffered_bytes(&self) -> usize {
        self.conn.rbuf.capacity()
    }

    /// The next row, `None` at the end. After an error the stream is finished.
    pub async fn next(&mut self) -> Result<Option<Row>, Error> {
        if self.done {
            return Ok(None);
        }
        let conn = &mut *self.conn;
        let r = timed!(conn, conn.drive(&mut self.flow));
        if let Ok(Some(row)) = r {
            self.rows.add(1);
            return Ok(Some(row));
        }
        self.done = true;
        self.span.returned_rows(self.rows.get());
        self.span.error_of(&r);
        r
    }
}
