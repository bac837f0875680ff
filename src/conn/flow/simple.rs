//! Simple-query flows: one Query message, any number of results, one ReadyForQuery.

use std::sync::Arc;

use super::{Ctx, Flow, Step};
use crate::conn::event::{Event, Item};
use crate::conn::row::{Column, Row, SimpleRow};
use crate::conn::session::Session;
use crate::conn::statement::deallocate_target;
use crate::error::Error;

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

/// `simple_query`: the results of every statement, rows as text; the first error is
/// returned once the server is ready again (later statements are not run on PostgreSQL).
pub(crate) struct SimpleQuery<'q> {
    sql: &'q str,
    item: Item,
    results: Vec<SimpleQueryResult>,
    cur: SimpleQueryResult,
    first_err: Option<Error>,
}

impl<'q> SimpleQuery<'q> {
    /// Queues the Query.
    pub(crate) fn start(session: &mut Session, sql: &'q str) -> Result<Self, Error> {
        let item = session.item();
        session.start_simple_query(item, sql, false)?;
        Ok(Self {
            sql,
            item,
            results: Vec::new(),
            cur: SimpleQueryResult::default(),
            first_err: None,
        })
    }
}

impl Flow for SimpleQuery<'_> {
    type Output = Vec<SimpleQueryResult>;

    fn on_event(&mut self, cx: &mut Ctx<'_>, ev: Event) -> Result<Step<Self::Output>, Error> {
        let item = self.item;
        match ev {
            Event::RowDescription(i, d) if i == item => {
                self.cur.columns = Some(Column::from_description(&d).into());
            }
            Event::Row(i, r) if i == item => {
                let cols = self
                    .cur
                    .columns
                    .clone()
                    .unwrap_or_else(|| Vec::new().into());
                self.cur.rows.push(SimpleRow::new(cols, r));
            }
            Event::Complete(i, tag) if i == item => {
                // Several statements in one query: the name of a `DEALLOCATE name`
                // cannot be told apart, and `deallocate_target` says so (None).
                let sql = self.sql;
                cx.note_complete(tag.as_ref(), || deallocate_target(sql));
                self.cur.rows_affected = cx.rows_affected(tag.as_ref());
                self.cur.tag = tag.map(|t| t.tag().to_string());
                self.results.push(std::mem::take(&mut self.cur));
            }
            Event::EmptyQuery(i) if i == item => {
                self.results.push(SimpleQueryResult {
                    empty: true,
                    ..SimpleQueryResult::default()
                });
            }
            Event::Failed(i, e) if i == item => {
                self.first_err.get_or_insert(e);
            }
            Event::Ready(i, _) if i == item => {
                if let Some(e) = self.first_err.take() {
                    return Err(e);
                }
                // A statement that sent rows but no CommandComplete (lenient servers).
                let cur = std::mem::take(&mut self.cur);
                if cur.columns.is_some() || !cur.rows.is_empty() {
                    self.results.push(cur);
                }
                return Ok(Step::Done(std::mem::take(&mut self.results)));
            }
            _ => {}
        }
        Ok(Step::Continue)
    }
}

/// Parameterless SQL sent as a simple Query and read like an extended one: the
/// RowDescription names the columns and its type OIDs decode the text values (on
/// iris-pgwire the one exchange that names the columns without running the statement
/// twice; see `tests/iris/evidence.md`). Rows of every statement in the text are
/// returned with the last count; the first error once the server is ready again.
pub(crate) struct RunSimple<'q> {
    sql: &'q str,
    item: Item,
    want_rows: bool,
    lenient: bool,
    columns: Arc<[Column]>,
    rows: Vec<Row>,
    affected: Option<u64>,
    err: Option<Error>,
}

impl<'q> RunSimple<'q> {
    /// Queues the Query.
    pub(crate) fn start(
        session: &mut Session,
        sql: &'q str,
        want_rows: bool,
    ) -> Result<Self, Error> {
        let item = session.item();
        session.start_simple_query(item, sql, false)?;
        Ok(Self {
            sql,
            item,
            want_rows,
            lenient: session.quirks().lenient_types,
            columns: Vec::new().into(),
            rows: Vec::new(),
            affected: None,
            err: None,
        })
    }
}

impl Flow for RunSimple<'_> {
    type Output = (Vec<Row>, Option<u64>);

    fn on_event(&mut self, cx: &mut Ctx<'_>, ev: Event) -> Result<Step<Self::Output>, Error> {
        let item = self.item;
        match ev {
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
                // A later statement's rows never take this one's column names.
                self.columns = Vec::new().into();
            }
            Event::Failed(i, e) if i == item => {
                self.err.get_or_insert(e);
            }
            Event::Ready(i, _) if i == item => {
                return match self.err.take() {
                    Some(e) => Err(e),
                    None => Ok(Step::Done((std::mem::take(&mut self.rows), self.affected))),
                };
            }
            _ => {}
        }
        Ok(Step::Continue)
    }
}
