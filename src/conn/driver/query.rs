//! Queries: simple, prepared, one-shot unnamed, streamed.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

use super::{timed, Connection};
use crate::conn::event::{Event, Item};
use crate::conn::params::Params;
use crate::conn::row::{Column, Row, SimpleRow};
use crate::conn::statement::{deallocate_target, is_session_cleanup, Deallocated, Statement};
use crate::error::Error;
use crate::protocol::backend::{CommandComplete, TransactionStatus};
use crate::protocol::frontend::BindWriter;
use crate::protocol::{Format, Oid};
use crate::trace::{self, Op};
use crate::types::{ToSql, ValueType};

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

/// The results of one statement of a simple query.
#[derive(Debug, Clone, Default)]
pub struct SimpleQueryResult {
    /// Columns, when the statement returned rows (RowDescription).
    pub columns: Option<Arc<[Column]>>,
    /// Rows, as text.
    pub rows: Vec<SimpleRow>,
    /// Command tag (`SELECT 3`, `INSERT 0 1`, ...); `None` for an empty query or when
    /// the server omitted it.
    pub tag: Option<String>,
    /// Rows affected, when the tag carries a trustworthy count.
    pub rows_affected: Option<u64>,
    /// The query string was empty.
    pub empty: bool,
}

/// A simple query's span counts the rows of all its statements.
impl trace::Outcome for Vec<SimpleQueryResult> {
    #[inline]
    fn record_on(&self, span: &trace::Span) {
        span.returned_rows(self.iter().map(|r| r.rows.len() as u64).sum());
    }
}

/// What to run: a prepared [`Statement`] or SQL text.
#[derive(Debug, Clone, Copy)]
pub enum StatementRef<'a> {
    /// A statement prepared on this connection.
    Prepared(&'a Statement),
    /// SQL text: prepared through the statement cache (or one-shot if the cache is off).
    Sql(&'a str),
}

impl<'a> StatementRef<'a> {
    /// The SQL text.
    pub fn sql(&self) -> &'a str {
        match self {
            Self::Prepared(s) => s.sql(),
            Self::Sql(sql) => sql,
        }
    }
}

impl<'a> From<&'a Statement> for StatementRef<'a> {
    fn from(s: &'a Statement) -> Self {
        Self::Prepared(s)
    }
}

impl<'a> From<&'a str> for StatementRef<'a> {
    fn from(s: &'a str) -> Self {
        Self::Sql(s)
    }
}

impl<'a> From<&'a String> for StatementRef<'a> {
    fn from(s: &'a String) -> Self {
        Self::Sql(s)
    }
}

/// Result types pgline can decode in binary; others are requested as text.
pub(crate) fn binary_result_supported(oid: Oid) -> bool {
    use crate::types::oid;
    matches!(
        oid,
        oid::BOOL
            | oid::BYTEA
            | oid::NAME
            | oid::INT8
            | oid::INT2
            | oid::INT4
            | oid::TEXT
            | oid::OID
            | oid::FLOAT4
            | oid::FLOAT8
            | oid::BPCHAR
            | oid::VARCHAR
            | oid::DATE
            | oid::TIMESTAMP
            | oid::TIMESTAMPTZ
    )
}

/// Rows affected by a completed command, `None` where the count is unknown or the server
/// is known to report it unreliably.
pub(crate) fn rows_affected(
    quirks: &crate::iris::Quirks,
    tag: Option<&CommandComplete>,
) -> Option<u64> {
    if quirks.unreliable_row_counts {
        return None;
    }
    tag.and_then(CommandComplete::rows)
}

/// Chooses the wire format for each parameter and checks that the value fits the type.
pub(crate) fn param_formats(
    params: &[&(dyn ToSql + Sync)],
    types: &[Oid],
    text_only: bool,
    lenient: bool,
) -> Result<Vec<i16>, Error> {
    params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let oid = types.get(i).copied().unwrap_or(0);
            if !lenient && oid != 0 && oid != crate::types::oid::UNKNOWN && !p.accepts(oid) {
                return Err(Error::conversion(
                    format!(
                        "cannot send {p:?} as parameter ${} of type OID {oid}",
                        i + 1
                    ),
                    WrongParamType,
                ));
            }
            Ok(if !text_only && p.supports_binary(oid) {
                1
            } else {
                0
            })
        })
        .collect()
}

/// Writes the parameter values into a Bind.
pub(crate) fn write_params(
    w: &mut BindWriter<'_>,
    params: &[&(dyn ToSql + Sync)],
    types: &[Oid],
    formats: &[i16],
    lenient: bool,
) -> Result<(), Error> {
    for (i, p) in params.iter().enumerate() {
        let ty = ValueType {
            oid: types.get(i).copied().unwrap_or(0),
            format: if formats.get(i) == Some(&1) {
                Format::Binary
            } else {
                Format::Text
            },
            lenient,
        };
        w.value_with(|buf| {
            p.to_sql(ty, buf)
                .map_err(|e| Error::conversion(format!("cannot encode parameter ${}", i + 1), e))
        })?;
    }
    Ok(())
}

#[derive(Debug)]
struct WrongParamType;

impl std::fmt::Display for WrongParamType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("parameter type mismatch")
    }
}

impl std::error::Error for WrongParamType {}

/// Why the server refused a prepared statement at Bind (see
/// [`Connection::invalidate_stale`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stale {
    /// 26000: the server no longer has it.
    Missing,
    /// 0A000: "cached plan must not change result type".
    ResultTypeChanged,
}

/// A failed flight, and whether the failure was the statement being stale.
#[derive(Debug)]
struct RunError {
    error: Error,
    stale: Option<Stale>,
}

impl From<Error> for RunError {
    fn from(error: Error) -> Self {
        Self { error, stale: None }
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
        let item = self.item();
        self.session.start_simple_query(item, sql, false)?;
        let mut results = Vec::new();
        let mut cur = SimpleQueryResult::default();
        let mut first_err = None;
        loop {
            match self.next_event().await? {
                Event::RowDescription(i, d) if i == item => {
                    cur.columns = Some(Column::from_description(&d).into());
                }
                Event::Row(i, r) if i == item => {
                    let cols = cur.columns.clone().unwrap_or_else(|| Vec::new().into());
                    cur.rows.push(SimpleRow::new(cols, r));
                }
                Event::Complete(i, tag) if i == item => {
                    // Several statements in one query: the name of a `DEALLOCATE name`
                    // cannot be told apart, and `deallocate_target` says so (None).
                    self.note_complete(tag.as_ref(), || deallocate_target(sql));
                    cur.rows_affected = rows_affected(self.session.quirks(), tag.as_ref());
                    cur.tag = tag.map(|t| t.tag().to_string());
                    results.push(std::mem::take(&mut cur));
                }
                Event::EmptyQuery(i) if i == item => {
                    results.push(SimpleQueryResult {
                        empty: true,
                        ..SimpleQueryResult::default()
                    });
                }
                Event::Failed(i, e) if i == item => {
                    first_err.get_or_insert(e);
                }
                Event::Ready(i, _) if i == item => break,
                _ => {}
            }
        }
        // A statement that sent rows but no CommandComplete (lenient servers).
        if cur.columns.is_some() || !cur.rows.is_empty() {
            results.push(cur);
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(results),
        }
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
        let item = self.item();
        self.session
            .push_close(item, crate::protocol::frontend::Target::Statement, name)?;
        self.session.push_sync(item)?;
        let mut err = None;
        loop {
            match self.next_event().await? {
                Event::Failed(i, e) if i == item => {
                    err.get_or_insert(e);
                }
                Event::Ready(i, _) if i == item => break,
                _ => {}
            }
        }
        err.map_or(Ok(()), Err)
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
        let describe = !self.session.quirks().describe_executes;
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
        if !describe && self.session.quirks().positional_placeholders {
            // No ParameterDescription will say how many values the statement takes, and
            // the server does not check Bind's count: check it here.
            let used = crate::iris::placeholders::max_index(sql)
                .map_err(|e| Error::config(e.to_string()))?;
            if usize::from(used) != types.len() {
                return Err(Error::config(format!(
                    "the statement uses ${used} as its highest placeholder but {} values were given",
                    types.len()
                )));
            }
        }
        self.begin_op().await?;
        let name = self.statement_name();
        let item = self.item();
        let sync = self.item();
        let (wire_sql, order) = self.renumber(sql)?;
        let wire_types: Vec<Oid> = match &order {
            Some(order) => order
                .iter()
                .map(|&j| types.get(usize::from(j)).copied().unwrap_or(0))
                .collect(),
            None => types.to_vec(),
        };
        self.session
            .push_parse(item, &name, &wire_sql, &wire_types)?;
        if describe {
            self.session.push_describe_statement(item, &name)?;
        }
        self.session.push_sync(sync)?;
        let mut params = if describe {
            Vec::new()
        } else {
            wire_types.clone()
        };
        let mut columns = Vec::new();
        let mut err = None;
        let mut parsed = false;
        loop {
            match self.next_event().await? {
                Event::ParseComplete(i) if i == item => parsed = true,
                Event::ParameterDescription(i, d) if i == item => params = d.types().to_vec(),
                Event::RowDescription(i, d) if i == item => columns = Column::from_description(&d),
                Event::Failed(i, e) if i == item || i == sync => {
                    err.get_or_insert(e);
                }
                Event::Ready(i, _) if i == sync => break,
                _ => {}
            }
        }
        if err.is_none() && describe && self.session.quirks().positional_placeholders {
            // The statement's own `$n` count wins over a ParameterDescription that
            // contradicts it (older iris-pgwire builds describe `$1, $2` as 0 parameters,
            // quirks §14): one wire parameter per placeholder after renumbering.
            let expected = match &order {
                Some(order) => order.len(),
                None => usize::from(
                    crate::iris::placeholders::max_index(sql)
                        .map_err(|e| Error::config(e.to_string()))?,
                ),
            };
            if params.len() != expected {
                crate::iris::note_parameter_count_mismatch(params.len(), expected);
                let (declared, described) = (wire_types.as_slice(), params.as_slice());
                params = (0..expected)
                    .map(|i| {
                        declared
                            .get(i)
                            .copied()
                            .filter(|&t| t != 0)
                            .or_else(|| described.get(i).copied())
                            .unwrap_or(0)
                    })
                    .collect();
            }
        }
        let close_queue = self.cache.close_queue().clone();
        if let Some(e) = err {
            if parsed && !name.is_empty() {
                // Parsed, then failed (a Describe error): nobody gets a handle that would
                // close it, so close it with the next operation.
                close_queue.push(name);
            }
            return Err(e);
        }
        let text_only = self.text_only();
        let columns = columns
            .into_iter()
            .map(|c| {
                let f = if !text_only && binary_result_supported(c.type_oid()) {
                    Format::Binary
                } else {
                    Format::Text
                };
                c.with_format(f)
            })
            .collect();
        Ok(match order {
            Some(order) => Statement::renumbered(
                name,
                sql.to_string(),
                order,
                params,
                columns,
                Some(close_queue),
            ),
            None => Statement::new(name, sql.to_string(), params, columns, Some(close_queue)),
        })
    }

    /// On servers that bind placeholders by position (`Quirks::positional_placeholders`):
    /// the SQL renumbered to `$1..$k` in textual order, each once, and the caller's value
    /// index for each. Unchanged (and `None`) elsewhere or when already in order.
    pub(crate) fn renumber<'q>(
        &self,
        sql: &'q str,
    ) -> Result<(std::borrow::Cow<'q, str>, Option<Vec<u16>>), Error> {
        use std::borrow::Cow;
        if !self.session.quirks().positional_placeholders {
            return Ok((Cow::Borrowed(sql), None));
        }
        match crate::iris::placeholders::rewrite(sql) {
            Ok(None) => Ok((Cow::Borrowed(sql), None)),
            Ok(Some(r)) => Ok((Cow::Owned(r.sql), Some(r.order))),
            Err(e) => Err(Error::config(e.to_string())),
        }
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
        let quirks = self.session.quirks();
        let types: Vec<Oid> = if quirks.text_only || quirks.describe_executes {
            (0..first.len())
                .map(|i| first.get(i).map_or(0, |v| v.type_oid()))
                .collect()
        } else {
            Vec::new()
        };
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
        if let Some(sql) = self.simple_path(stmt, params) {
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

    /// The SQL to send as a simple Query instead of Parse/Bind/Execute, where the server
    /// answers that better (`Quirks::parameterless_as_simple_query`): SQL text (not a
    /// prepared statement) with no values and no `$n`, and not a COPY (which a simple
    /// Query would start).
    fn simple_path<'q>(
        &self,
        stmt: StatementRef<'q>,
        params: &[&(dyn ToSql + Sync)],
    ) -> Option<&'q str> {
        let StatementRef::Sql(sql) = stmt else {
            return None;
        };
        let quirks = self.session.quirks();
        (quirks.parameterless_as_simple_query
            && params.is_empty()
            && matches!(crate::iris::placeholders::max_index(sql), Ok(0))
            && !first_word_is(sql, "COPY"))
        .then_some(sql)
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
        let lenient = self.session.quirks().lenient_types;
        let item = self.item();
        self.session.start_simple_query(item, sql, false)?;
        let mut columns: Arc<[Column]> = Vec::new().into();
        let mut rows = Vec::new();
        let mut affected = None;
        let mut err = None;
        loop {
            match self.next_event().await? {
                Event::RowDescription(i, d) if i == item => {
                    columns = Column::from_description(&d).into();
                }
                Event::Row(i, r) if i == item && want_rows => {
                    rows.push(Row::new(columns.clone(), r, lenient));
                }
                Event::Complete(i, tag) if i == item => {
                    self.note_complete(tag.as_ref(), || deallocate_target(sql));
                    affected = rows_affected(self.session.quirks(), tag.as_ref());
                    // A later statement's rows never take this one's column names.
                    columns = Vec::new().into();
                }
                Event::Failed(i, e) if i == item => {
                    err.get_or_insert(e);
                }
                Event::Ready(i, _) if i == item => break,
                _ => {}
            }
        }
        match err {
            Some(e) => Err(e),
            None => Ok((rows, affected)),
        }
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
        if !self.session.quirks().no_sql_cleanup || !params.is_empty() || !is_session_cleanup(sql) {
            return None;
        }
        Some(self.simple_query_inner(sql).await.map(|results| {
            let affected = results.last().and_then(|r| r.rows_affected);
            (Vec::new(), affected)
        }))
    }

    /// After a command completed: forgets the cached statements it deallocated on the
    /// server (`DEALLOCATE ALL`, `DISCARD ALL`, `DEALLOCATE name`), without queueing a
    /// Close for them. `target` is the name the command's SQL deallocates, read only for
    /// a bare `DEALLOCATE` tag (see [`Deallocated`]).
    pub(crate) fn note_complete(
        &mut self,
        tag: Option<&CommandComplete>,
        target: impl FnOnce() -> Option<String>,
    ) {
        if let Some(d) = tag.and_then(|t| Deallocated::from_tag(t.tag(), target)) {
            self.cache.forget(&d);
        }
    }

    /// Invalidates `s` after the server refused it at Bind with `e`; returns why, or
    /// `None` when `e` says nothing about the statement itself.
    ///
    /// - 26000 (`invalid_sql_statement_name`): the server no longer has it. It is
    ///   forgotten without a Close. Deallocations pgline sees are tracked from their
    ///   command tags, so a cached statement missing means something removed statements
    ///   behind the cache's back (`DISCARD ALL` in a function, a pooler's reset query):
    ///   the other entries are as doubtful and are forgotten too, their Close queued (a
    ///   Close of a missing name is not an error), rather than each failing once, which
    ///   inside a transaction would abort it. A statement the caller prepared is only
    ///   marked closed; the cache is left alone.
    /// - 0A000 (`feature_not_supported`, "cached plan must not change result type"): the
    ///   statement exists but its result type changed (`ALTER TABLE ... ADD COLUMN`
    ///   under a `SELECT *`); every later Bind fails the same way. A cached one is
    ///   dropped from the cache and closed with the next write.
    pub(crate) fn invalidate_stale(&mut self, s: &Statement, e: &Error) -> Option<Stale> {
        let cached = self.cache.holds(s);
        match e.code() {
            Some("26000") => {
                s.mark_closed();
                if cached {
                    self.cache.forget_named(s.name());
                    self.cache.clear();
                }
                Some(Stale::Missing)
            }
            Some("0A000") => {
                if cached {
                    self.cache.remove(s);
                }
                Some(Stale::ResultTypeChanged)
            }
            _ => None,
        }
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
        self.session.note_statement_sql(stmt.sql());
        let lenient = self.session.quirks().lenient_types;
        let text_only = self.text_only();
        let item = self.item();
        let sync = self.item();
        let mut columns: Arc<[Column]> = Vec::new().into();
        match &prepared {
            Some(s) => {
                check_param_count(s, params.len())?;
                let params = &*renumbered_values(params, s.wire_order())?;
                let formats = param_formats(params, s.wire_params(), text_only, lenient)?;
                let result_formats: Vec<i16> =
                    s.columns().iter().map(|c| c.format().code()).collect();
                let types = s.wire_params().to_vec();
                self.push_parse_again(item, s)?;
                self.session
                    .push_bind(item, "", s.name(), &formats, &result_formats, |w| {
                        write_params(w, params, &types, &formats, lenient)
                    })?;
                let ncols = u16::try_from(s.columns().len()).ok();
                self.session.push_execute(
                    item,
                    "",
                    0,
                    if s.columns().is_empty() { None } else { ncols },
                )?;
                columns = s.columns_arc();
            }
            None => {
                let StatementRef::Sql(sql) = stmt else {
                    return Err(Error::protocol("unresolved statement").into());
                };
                let (sql, order) = self.renumber(sql)?;
                let params = &*renumbered_values(params, order.as_deref())?;
                let types: Vec<Oid> = params.iter().map(|p| p.type_oid()).collect();
                let formats = param_formats(params, &types, text_only, lenient)?;
                self.session.push_parse(item, "", &sql, &types)?;
                self.session.push_bind(item, "", "", &formats, &[0], |w| {
                    write_params(w, params, &types, &formats, lenient)
                })?;
                // iris-pgwire runs the statement again to answer Describe: skip it there, so the
                // statement runs once (rows then come without names unless Execute describes them).
                if !self.session.quirks().describe_executes {
                    self.session.push_describe_portal(item, "")?;
                }
                self.session.push_execute(item, "", 0, None)?;
            }
        }
        self.session.push_sync(sync)?;
        let mut rows = Vec::new();
        let mut affected = None;
        let mut err = None;
        // Whether the error came at Bind (before BindComplete): only then is it about the
        // prepared statement itself, and nothing ran.
        let mut bound = false;
        let mut at_bind = false;
        loop {
            match self.next_event().await? {
                Event::BindComplete(i) if i == item => bound = true,
                Event::RowDescription(i, d) if i == item => {
                    let cols = Column::from_description(&d);
                    columns = cols.into();
                }
                Event::Row(i, r) if i == item && want_rows => {
                    rows.push(Row::new(columns.clone(), r, lenient));
                }
                Event::Complete(i, tag) if i == item => {
                    self.note_complete(tag.as_ref(), || deallocate_target(stmt.sql()));
                    affected = rows_affected(self.session.quirks(), tag.as_ref());
                }
                Event::Failed(i, e) if i == item || i == sync => {
                    if err.is_none() {
                        at_bind = i == item && !bound;
                    }
                    err.get_or_insert(e);
                }
                Event::Ready(i, _) if i == sync => break,
                _ => {}
            }
        }
        match err {
            Some(error) => {
                let stale = match &prepared {
                    Some(s) if at_bind => self.invalidate_stale(s, &error),
                    _ => None,
                };
                Err(RunError { error, stale })
            }
            None => Ok((rows, affected)),
        }
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
        if let Some(sql) = self.simple_path(StatementRef::Sql(sql), params) {
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
        let (s, item, sync, chunk, ncols, lenient) = r?;
        Ok(RowStream {
            conn: self,
            columns: s.columns_arc(),
            stmt: s,
            bound: false,
            item,
            sync,
            chunk,
            ncols,
            lenient,
            done: false,
            err: None,
            span,
            rows: trace::Count::new(),
        })
    }

    /// Binds and sends the Execute of a [`RowStream`]: the statement, its items, the row
    /// limit, the column count and whether types are lenient.
    async fn query_stream_start(
        &mut self,
        stmt: StatementRef<'_>,
        params: &[&(dyn ToSql + Sync)],
        chunk: u32,
        span: &trace::Span,
    ) -> Result<StreamStart, Error> {
        let prepared = timed!(self, span.instrument(self.resolve(stmt, params)))?;
        let Some(s) = prepared else {
            return Err(Error::unsupported(
                "query_stream needs a prepared statement (enable the statement cache or call prepare)",
            ));
        };
        timed!(self, self.begin_op())?;
        let lenient = self.session.quirks().lenient_types;
        let text_only = self.text_only();
        let ignores_limit = self.session.quirks().ignores_row_limit;
        check_param_count(&s, params.len())?;
        let params = &*renumbered_values(params, s.wire_order())?;
        let formats = param_formats(params, s.wire_params(), text_only, lenient)?;
        let result_formats: Vec<i16> = s.columns().iter().map(|c| c.format().code()).collect();
        let item = self.item();
        let types = s.wire_params().to_vec();
        self.push_parse_again(item, &s)?;
        self.session
            .push_bind(item, "", s.name(), &formats, &result_formats, |w| {
                write_params(w, params, &types, &formats, lenient)
            })?;
        // 0 (or a server that ignores row limits): one Execute; memory is still bounded,
        // because the socket is read only as fast as rows are taken.
        let chunk = if ignores_limit || chunk == 0 {
            0
        } else {
            i32::try_from(chunk).unwrap_or(i32::MAX)
        };
        let ncols = u16::try_from(s.columns().len()).ok().filter(|&n| n > 0);
        self.session.push_execute(item, "", chunk, ncols)?;
        let sync = if chunk == 0 {
            let sync = self.item();
            self.session.push_sync(sync)?;
            Some(sync)
        } else {
            self.session.push_flush()?;
            None
        };
        Ok((s, item, sync, chunk, ncols, lenient))
    }
}

/// What [`Connection::query_stream_start`] hands to the [`RowStream`].
type StreamStart = (Statement, Item, Option<Item>, i32, Option<u16>, bool);

/// Rows of [`Connection::query_stream`], fetched on demand. Dropping it early is safe: the
/// next operation on the connection drains what is left.
pub struct RowStream<'c, S> {
    conn: &'c mut Connection<S>,
    /// The statement running (invalidated if the server refuses it as stale at Bind).
    stmt: Statement,
    /// Whether BindComplete arrived.
    bound: bool,
    item: Item,
    sync: Option<Item>,
    columns: Arc<[Column]>,
    chunk: i32,
    ncols: Option<u16>,
    lenient: bool,
    done: bool,
    err: Option<Error>,
    /// The stream's span, open until the stream is dropped (see `crate::trace`).
    span: trace::Span,
    /// Rows handed out, recorded on the span at the end.
    rows: trace::Count,
}

impl<S> std::fmt::Debug for RowStream<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowStream")
            .field("item", &self.item)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> RowStream<'_, S> {
    /// The columns of the result.
    pub fn columns(&self) -> &[Column] {
        &self.columns
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
        let t = conn.config.query_timeout;
        let fut = Self::advance(
            conn,
            (&self.stmt, &mut self.bound),
            self.item,
            &mut self.sync,
            self.chunk,
            self.ncols,
            &self.columns,
            self.lenient,
            &mut self.err,
        );
        let r = match t {
            None => fut.await,
            Some(t) => match tokio::time::timeout(t, fut).await {
                Ok(r) => r,
                // Cancel and drain, as every operation does: the connection is kept.
                Err(_) => Err(self.conn.recover_from_timeout(t).await),
            },
        };
        let r = match r {
            Ok(Some(row)) => {
                self.rows.add(1);
                return Ok(Some(row));
            }
            Ok(None) => match self.err.take() {
                Some(e) => Err(e),
                None => Ok(None),
            },
            Err(e) => Err(e),
        };
        self.done = true;
        self.span.returned_rows(self.rows.get());
        self.span.error_of(&r);
        r
    }

    #[allow(clippy::too_many_arguments)]
    async fn advance(
        conn: &mut Connection<S>,
        (stmt, bound): (&Statement, &mut bool),
        item: Item,
        sync: &mut Option<Item>,
        chunk: i32,
        ncols: Option<u16>,
        columns: &Arc<[Column]>,
        lenient: bool,
        err: &mut Option<Error>,
    ) -> Result<Option<Row>, Error> {
        loop {
            match conn.next_event().await? {
                Event::Row(i, r) if i == item => {
                    return Ok(Some(Row::new(columns.clone(), r, lenient)));
                }
                Event::PortalSuspended(i) if i == item => {
                    conn.session.push_execute(item, "", chunk, ncols)?;
                    conn.session.push_flush()?;
                }
                Event::Complete(i, _) | Event::EmptyQuery(i) if i == item && sync.is_none() => {
                    let s = conn.item();
                    conn.session.push_sync(s)?;
                    *sync = Some(s);
                }
                Event::BindComplete(i) if i == item => *bound = true,
                Event::Failed(i, e) if i == item || Some(i) == *sync => {
                    if i == item && !*bound && err.is_none() {
                        // Refused at Bind: stale statements are invalidated (no retry:
                        // the stream was already handed out).
                        conn.invalidate_stale(stmt, &e);
                    }
                    err.get_or_insert(e);
                    if sync.is_none() {
                        let s = conn.item();
                        conn.session.push_sync(s)?;
                        *sync = Some(s);
                    }
                }
                Event::Ready(i, _) if Some(i) == *sync => return Ok(None),
                _ => {}
            }
        }
    }
}

/// A prepared statement's parameter count against the number of values given.
pub(crate) fn check_param_count(s: &Statement, given: usize) -> Result<(), Error> {
    if s.params().len() != given {
        return Err(Error::config(format!(
            "statement has {} parameters, {given} given",
            s.params().len()
        )));
    }
    Ok(())
}

/// The caller's values in the order of a renumbered statement's placeholders (see
/// [`Connection::renumber`]); borrowed unchanged when nothing was renumbered.
pub(crate) fn renumbered_values<'p, 'v>(
    params: &'p [&'v (dyn ToSql + Sync)],
    order: Option<&[u16]>,
) -> Result<std::borrow::Cow<'p, [&'v (dyn ToSql + Sync)]>, Error> {
    let Some(order) = order else {
        return Ok(std::borrow::Cow::Borrowed(params));
    };
    order
        .iter()
        .map(|&j| {
            params.get(usize::from(j)).copied().ok_or_else(|| {
                Error::config(format!(
                    "the statement uses ${} but {} values were given",
                    j + 1,
                    params.len()
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(std::borrow::Cow::Owned)
}

/// Whether the first word of `sql` (after whitespace and `(`) is `word`, in any case.
fn first_word_is(sql: &str, word: &str) -> bool {
    let rest = sql.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
    rest.get(..word.len())
        .is_some_and(|w| w.eq_ignore_ascii_case(word))
        && !rest
            .get(word.len()..)
            .and_then(|r| r.chars().next())
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
}
