//! Extended-query flows: Parse/Describe (prepare), Bind/Execute (run), a row stream,
//! and Close; plus the choices between them that depend on the server's dialect.

use std::sync::Arc;

use super::{
    binary_result_supported, check_param_count, param_formats, push_parse_again, renumber,
    renumbered_values, write_params, Ctx, Flow, Step,
};
use crate::conn::event::{Event, Item};
use crate::conn::params::Params;
use crate::conn::row::{Column, Row};
use crate::conn::session::Session;
use crate::conn::statement::{deallocate_target, is_session_cleanup, Statement};
use crate::error::Error;
use crate::protocol::frontend::Target;
use crate::protocol::{Format, Oid};
use crate::types::ToSql;

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

// ----- choices that depend on the dialect ------------------------------------------------

/// Whether a statement prepared to be run is also described. Where Describe runs the
/// statement (iris-pgwire, `Quirks::describe_executes`) it is skipped, so every statement
/// runs exactly once; the parameter types are then the ones given (the values' types) and
/// rows are read by position unless Execute describes them.
pub(crate) fn describe_to_run(session: &Session) -> bool {
    !session.quirks().describe_executes
}

/// The parameter types a Parse declares for running SQL with values like `first`: where
/// the server guesses types badly from the SQL, or no Describe will report them
/// (iris-pgwire), the types of `first`'s values; elsewhere none (PostgreSQL infers them
/// itself, whatever format the client prefers).
pub(crate) fn declared_types<P: Params + ?Sized>(session: &Session, first: &P) -> Vec<Oid> {
    let quirks = session.quirks();
    if quirks.text_only || quirks.describe_executes {
        (0..first.len())
            .map(|i| first.get(i).map_or(0, |v| v.type_oid()))
            .collect()
    } else {
        Vec::new()
    }
}

/// The SQL to send as a simple Query instead of Parse/Bind/Execute, where the server
/// answers that better (`Quirks::parameterless_as_simple_query`): SQL text (not a
/// prepared statement) with no values and no `$n`, and not a COPY (which a simple Query
/// would start).
pub(crate) fn simple_path<'q>(
    session: &Session,
    stmt: StatementRef<'q>,
    params: &[&(dyn ToSql + Sync)],
) -> Option<&'q str> {
    let StatementRef::Sql(sql) = stmt else {
        return None;
    };
    (session.quirks().parameterless_as_simple_query
        && params.is_empty()
        && matches!(crate::iris::placeholders::max_index(sql), Ok(0))
        && !first_word_is(sql, "COPY"))
    .then_some(sql)
}

/// Whether `sql` is session cleanup that must go as a simple Query: on servers where
/// SQL session cleanup is answered only there (iris-pgwire, `Quirks::no_sql_cleanup`), a
/// parameterless `DEALLOCATE ...` or `DISCARD ...` (through Parse/Bind/Execute it would
/// reach IRIS, which rejects it).
pub(crate) fn cleanup_as_simple_query(
    session: &Session,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> bool {
    session.quirks().no_sql_cleanup && params.is_empty() && is_session_cleanup(sql)
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

// ----- prepare ------------------------------------------------------------------------

/// Refuses a prepare whose values cannot fit, before anything is sent: without Describe
/// on a server that binds placeholders by position (iris-pgwire), no ParameterDescription
/// will say how many values the statement takes and the server does not check Bind's
/// count, so the statement's own highest `$n` must equal the types given.
pub(crate) fn check_placeholders(
    session: &Session,
    sql: &str,
    types: &[Oid],
    describe: bool,
) -> Result<(), Error> {
    if describe || !session.quirks().positional_placeholders {
        return Ok(());
    }
    let used =
        crate::iris::placeholders::max_index(sql).map_err(|e| Error::config(e.to_string()))?;
    if usize::from(used) != types.len() {
        return Err(Error::config(format!(
            "the statement uses ${used} as its highest placeholder but {} values were given",
            types.len()
        )));
    }
    Ok(())
}

/// Parse (+ Describe) + Sync of a named (or, pooler-safe, the unnamed) statement.
pub(crate) struct Prepare<'q> {
    sql: &'q str,
    name: String,
    item: Item,
    sync: Item,
    describe: bool,
    /// Caller's value index per wire placeholder, when the SQL was renumbered.
    order: Option<Vec<u16>>,
    /// The types the Parse declared, in wire order.
    wire_types: Vec<Oid>,
    params: Vec<Oid>,
    columns: Vec<Column>,
    err: Option<Error>,
    parsed: bool,
}

impl<'q> Prepare<'q> {
    /// Queues Parse, Describe (when `describe`) and Sync for `sql` as statement `name`,
    /// declaring `types` (0 = the server infers).
    pub(crate) fn start(
        session: &mut Session,
        name: String,
        sql: &'q str,
        types: &[Oid],
        describe: bool,
    ) -> Result<Self, Error> {
        check_placeholders(session, sql, types, describe)?;
        let item = session.item();
        let sync = session.item();
        let (wire_sql, order) = renumber(session, sql)?;
        let wire_types: Vec<Oid> = match &order {
            Some(order) => order
                .iter()
                .map(|&j| types.get(usize::from(j)).copied().unwrap_or(0))
                .collect(),
            None => types.to_vec(),
        };
        session.push_parse(item, &name, &wire_sql, &wire_types)?;
        if describe {
            session.push_describe_statement(item, &name)?;
        }
        session.push_sync(sync)?;
        Ok(Self {
            sql,
            name,
            item,
            sync,
            describe,
            params: if describe {
                Vec::new()
            } else {
                wire_types.clone()
            },
            order,
            wire_types,
            columns: Vec::new(),
            err: None,
            parsed: false,
        })
    }

    /// The statement, once the server is ready again.
    fn finish(&mut self, cx: &mut Ctx<'_>) -> Result<Statement, Error> {
        let mut params = std::mem::take(&mut self.params);
        if self.err.is_none() && self.describe && cx.session.quirks().positional_placeholders {
            // The statement's own `$n` count wins over a ParameterDescription that
            // contradicts it (older iris-pgwire builds describe `$1, $2` as 0 parameters,
            // quirks §14): one wire parameter per placeholder after renumbering.
            let expected = match &self.order {
                Some(order) => order.len(),
                None => usize::from(
                    crate::iris::placeholders::max_index(self.sql)
                        .map_err(|e| Error::config(e.to_string()))?,
                ),
            };
            if params.len() != expected {
                crate::iris::note_parameter_count_mismatch(params.len(), expected);
                let (declared, described) = (self.wire_types.as_slice(), params.as_slice());
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
        let close_queue = cx.cache.close_queue().clone();
        let name = std::mem::take(&mut self.name);
        if let Some(e) = self.err.take() {
            if self.parsed && !name.is_empty() {
                // Parsed, then failed (a Describe error): nobody gets a handle that would
                // close it, so close it with the next operation.
                close_queue.push(name);
            }
            return Err(e);
        }
        let text_only = cx.session.text_only();
        let columns = std::mem::take(&mut self.columns)
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
        let sql = self.sql.to_string();
        Ok(match self.order.take() {
            Some(order) => {
                Statement::renumbered(name, sql, order, params, columns, Some(close_queue))
            }
            None => Statement::new(name, sql, params, columns, Some(close_queue)),
        })
    }
}

impl Flow for Prepare<'_> {
    type Output = Statement;

    fn on_event(&mut self, cx: &mut Ctx<'_>, ev: Event) -> Result<Step<Statement>, Error> {
        let (item, sync) = (self.item, self.sync);
        match ev {
            Event::ParseComplete(i) if i == item => self.parsed = true,
            Event::ParameterDescription(i, d) if i == item => self.params = d.types().to_vec(),
            Event::RowDescription(i, d) if i == item => {
                self.columns = Column::from_description(&d);
            }
            Event::Failed(i, e) if i == item || i == sync => {
                self.err.get_or_insert(e);
            }
            Event::Ready(i, _) if i == sync => return self.finish(cx).map(Step::Done),
            _ => {}
        }
        Ok(Step::Continue)
    }
}

// ----- close ----------------------------------------------------------------------------

/// Close('S') + Sync for a named statement, waiting for ReadyForQuery.
pub(crate) struct Close {
    item: Item,
    err: Option<Error>,
}

impl Close {
    /// Queues Close and Sync for statement `name`.
    pub(crate) fn start(session: &mut Session, name: &str) -> Result<Self, Error> {
        let item = session.item();
        session.push_close(item, Target::Statement, name)?;
        session.push_sync(item)?;
        Ok(Self { item, err: None })
    }
}

impl Flow for Close {
    type Output = ();

    fn on_event(&mut self, _cx: &mut Ctx<'_>, ev: Event) -> Result<Step<()>, Error> {
        match ev {
            Event::Failed(i, e) if i == self.item => {
                self.err.get_or_insert(e);
            }
            Event::Ready(i, _) if i == self.item => {
                return self.err.take().map_or(Ok(Step::Done(())), Err);
            }
            _ => {}
        }
        Ok(Step::Continue)
    }
}

/// Queues `sql` as the unnamed statement in one flight: Parse (parameter types from the
/// values), Bind, Describe of the portal and Execute, all for `item`. Where Describe runs
/// the statement again (iris-pgwire) it is left out, so the statement runs once (rows
/// then come without names unless Execute describes them).
pub(crate) fn push_unnamed(
    session: &mut Session,
    item: Item,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<(), Error> {
    let lenient = session.quirks().lenient_types;
    let (sql, order) = renumber(session, sql)?;
    let params = &*renumbered_values(params, order.as_deref())?;
    let types: Vec<Oid> = params.iter().map(|p| p.type_oid()).collect();
    let formats = param_formats(params, &types, session.text_only(), lenient)?;
    session.push_parse(item, "", &sql, &types)?;
    session.push_bind(item, "", "", &formats, &[0], |w| {
        write_params(w, params, &types, &formats, lenient)
    })?;
    if !session.quirks().describe_executes {
        session.push_describe_portal(item, "")?;
    }
    session.push_execute(item, "", 0, None)
}

// ----- run ------------------------------------------------------------------------------

/// Why the server refused a prepared statement at Bind (see [`invalidate_stale`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stale {
    /// 26000: the server no longer has it.
    Missing,
    /// 0A000: "cached plan must not change result type".
    ResultTypeChanged,
}

/// A failed run, and whether the failure was the statement being stale.
#[derive(Debug)]
pub(crate) struct RunError {
    pub(crate) error: Error,
    pub(crate) stale: Option<Stale>,
}

impl From<Error> for RunError {
    fn from(error: Error) -> Self {
        Self { error, stale: None }
    }
}

/// Invalidates `s` after the server refused it at Bind with `e`; returns why, or `None`
/// when `e` says nothing about the statement itself.
///
/// - 26000 (`invalid_sql_statement_name`): the server no longer has it. It is forgotten
///   without a Close. Deallocations pgline sees are tracked from their command tags, so a
///   cached statement missing means something removed statements behind the cache's back
///   (`DISCARD ALL` in a function, a pooler's reset query): the other entries are as
///   doubtful and are forgotten too, their Close queued (a Close of a missing name is not
///   an error), rather than each failing once, which inside a transaction would abort
///   it. A statement the caller prepared is only marked closed; the cache is left alone.
/// - 0A000 (`feature_not_supported`, "cached plan must not change result type"): the
///   statement exists but its result type changed (`ALTER TABLE ... ADD COLUMN` under a
///   `SELECT *`); every later Bind fails the same way. A cached one is dropped from the
///   cache and closed with the next write.
pub(crate) fn invalidate_stale(cx: &mut Ctx<'_>, s: &Statement, e: &Error) -> Option<Stale> {
    let cached = cx.cache.holds(s);
    match e.code() {
        Some("26000") => {
            s.mark_closed();
            if cached {
                cx.cache.forget_named(s.name());
                cx.cache.clear();
            }
            Some(Stale::Missing)
        }
        Some("0A000") => {
            if cached {
                cx.cache.remove(s);
            }
            Some(Stale::ResultTypeChanged)
        }
        _ => None,
    }
}

/// One flight: Bind + Execute + Sync of a prepared statement, or Parse + Bind + Describe
/// + Execute + Sync of an unnamed one; the rows (when wanted) and the count.
pub(crate) struct Run<'q> {
    sql: &'q str,
    prepared: Option<Statement>,
    item: Item,
    sync: Item,
    want_rows: bool,
    lenient: bool,
    columns: Arc<[Column]>,
    rows: Vec<Row>,
    affected: Option<u64>,
    err: Option<Error>,
    /// Whether BindComplete arrived: an error before it is about the statement itself,
    /// and nothing ran.
    bound: bool,
    at_bind: bool,
}

impl<'q> Run<'q> {
    /// Queues the flight for `stmt` as `prepared`, or, when that is `None`, as an unnamed
    /// statement parsed in the same flight.
    pub(crate) fn start(
        session: &mut Session,
        stmt: StatementRef<'q>,
        prepared: Option<Statement>,
        params: &[&(dyn ToSql + Sync)],
        want_rows: bool,
    ) -> Result<Self, Error> {
        session.note_statement_sql(stmt.sql());
        let lenient = session.quirks().lenient_types;
        let text_only = session.text_only();
        let item = session.item();
        let sync = session.item();
        let mut columns: Arc<[Column]> = Vec::new().into();
        match &prepared {
            Some(s) => {
                check_param_count(s, params.len())?;
                let params = &*renumbered_values(params, s.wire_order())?;
                let formats = param_formats(params, s.wire_params(), text_only, lenient)?;
                let result_formats: Vec<i16> =
                    s.columns().iter().map(|c| c.format().code()).collect();
                let types = s.wire_params();
                push_parse_again(session, item, s)?;
                session.push_bind(item, "", s.name(), &formats, &result_formats, |w| {
                    write_params(w, params, types, &formats, lenient)
                })?;
                let ncols = u16::try_from(s.columns().len()).ok();
                session.push_execute(
                    item,
                    "",
                    0,
                    if s.columns().is_empty() { None } else { ncols },
                )?;
                columns = s.columns_arc();
            }
            None => {
                let StatementRef::Sql(sql) = stmt else {
                    return Err(Error::protocol("unresolved statement"));
                };
                push_unnamed(session, item, sql, params)?;
            }
        }
        session.push_sync(sync)?;
        Ok(Self {
            sql: stmt.sql(),
            prepared,
            item,
            sync,
            want_rows,
            lenient,
            columns,
            rows: Vec::new(),
            affected: None,
            err: None,
            bound: false,
            at_bind: false,
        })
    }
}

impl Flow for Run<'_> {
    type Output = Result<(Vec<Row>, Option<u64>), RunError>;

    fn on_event(&mut self, cx: &mut Ctx<'_>, ev: Event) -> Result<Step<Self::Output>, Error> {
        let (item, sync) = (self.item, self.sync);
        match ev {
            Event::BindComplete(i) if i == item => self.bound = true,
            Event::RowDescription(i, d) if i == item => {
                self.columns = Column::from_description(&d).into();
            }
            Event::Row(i, r) if i == item && self.want_rows => {
                self.rows
                    .push(Row::new(self.columns.clone(), r, self.lenient));
            }
            Event::Complete(i, tag) if i == item => {
                let sql = self.sql;
                cx.note_complete(tag.as_ref(), || deallocate_target(sql));
                self.affected = cx.rows_affected(tag.as_ref());
            }
            Event::Failed(i, e) if i == item || i == sync => {
                if self.err.is_none() {
                    self.at_bind = i == item && !self.bound;
                }
                self.err.get_or_insert(e);
            }
            Event::Ready(i, _) if i == sync => {
                let out = match self.err.take() {
                    Some(error) => {
                        let stale = match &self.prepared {
                            Some(s) if self.at_bind => invalidate_stale(cx, s, &error),
                            _ => None,
                        };
                        Err(RunError { error, stale })
                    }
                    None => Ok((std::mem::take(&mut self.rows), self.affected)),
                };
                return Ok(Step::Done(out));
            }
            _ => {}
        }
        Ok(Step::Continue)
    }
}

// ----- stream ---------------------------------------------------------------------------

/// `query_stream`: rows fetched `chunk` at a time (Execute with a row limit, Flush,
/// PortalSuspended, Execute again), or with one Execute and a Sync when `chunk` is 0 or
/// the server ignores row limits. Each [`Step::Done`] carries one row, or `None` at the
/// end; the flow is driven again for the next.
pub(crate) struct Stream {
    /// The statement running (invalidated if the server refuses it as stale at Bind).
    stmt: Statement,
    item: Item,
    /// The Sync ending the stream, once queued.
    sync: Option<Item>,
    chunk: i32,
    ncols: Option<u16>,
    columns: Arc<[Column]>,
    lenient: bool,
    bound: bool,
    err: Option<Error>,
}

impl Stream {
    /// Queues the Bind and the first Execute of `s` with `params`.
    pub(crate) fn start(
        session: &mut Session,
        s: Statement,
        params: &[&(dyn ToSql + Sync)],
        chunk: u32,
    ) -> Result<Self, Error> {
        let lenient = session.quirks().lenient_types;
        let text_only = session.text_only();
        let ignores_limit = session.quirks().ignores_row_limit;
        check_param_count(&s, params.len())?;
        let params = &*renumbered_values(params, s.wire_order())?;
        let formats = param_formats(params, s.wire_params(), text_only, lenient)?;
        let result_formats: Vec<i16> = s.columns().iter().map(|c| c.format().code()).collect();
        let item = session.item();
        push_parse_again(session, item, &s)?;
        session.push_bind(item, "", s.name(), &formats, &result_formats, |w| {
            write_params(w, params, s.wire_params(), &formats, lenient)
        })?;
        // 0 (or a server that ignores row limits): one Execute; memory is still bounded,
        // because the socket is read only as fast as rows are taken.
        let chunk = if ignores_limit || chunk == 0 {
            0
        } else {
            i32::try_from(chunk).unwrap_or(i32::MAX)
        };
        let ncols = u16::try_from(s.columns().len()).ok().filter(|&n| n > 0);
        session.push_execute(item, "", chunk, ncols)?;
        let sync = if chunk == 0 {
            let sync = session.item();
            session.push_sync(sync)?;
            Some(sync)
        } else {
            session.push_flush()?;
            None
        };
        Ok(Self {
            columns: s.columns_arc(),
            stmt: s,
            item,
            sync,
            chunk,
            ncols,
            lenient,
            bound: false,
            err: None,
        })
    }

    /// The columns of the result.
    pub(crate) fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Queues the Sync that ends the stream, once.
    fn end(&mut self, session: &mut Session) -> Result<(), Error> {
        if self.sync.is_none() {
            let s = session.item();
            session.push_sync(s)?;
            self.sync = Some(s);
        }
        Ok(())
    }
}

impl Flow for Stream {
    type Output = Option<Row>;

    fn on_event(&mut self, cx: &mut Ctx<'_>, ev: Event) -> Result<Step<Option<Row>>, Error> {
        let item = self.item;
        match ev {
            Event::Row(i, r) if i == item => {
                return Ok(Step::Done(Some(Row::new(
                    self.columns.clone(),
                    r,
                    self.lenient,
                ))));
            }
            Event::PortalSuspended(i) if i == item => {
                cx.session.push_execute(item, "", self.chunk, self.ncols)?;
                cx.session.push_flush()?;
            }
            Event::Complete(i, _) | Event::EmptyQuery(i) if i == item => self.end(cx.session)?,
            Event::BindComplete(i) if i == item => self.bound = true,
            Event::Failed(i, e) if i == item || Some(i) == self.sync => {
                if i == item && !self.bound && self.err.is_none() {
                    // Refused at Bind: stale statements are invalidated (no retry: the
                    // stream was already handed out).
                    invalidate_stale(cx, &self.stmt, &e);
                }
                self.err.get_or_insert(e);
                self.end(cx.session)?;
            }
            Event::Ready(i, _) if Some(i) == self.sync => {
                return match self.err.take() {
                    Some(e) => Err(e),
                    None => Ok(Step::Done(None)),
                };
            }
            _ => {}
        }
        Ok(Step::Continue)
    }
}
