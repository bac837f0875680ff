//! [`RowIter`]: the rows of `query_stream`, as an iterator.

use super::Exec;
use crate::conn::{Column, Row, RowStream, Socket};
use crate::error::Error;

/// Rows of `query_stream` (e.g.
/// [`Connection::query_stream`](super::Connection::query_stream)), fetched as the
/// iterator advances. An error ends the iteration after it is returned. Dropping it early
/// is safe: the connection's next operation discards the rest (see [`RowStream`]).
///
/// ```no_run
/// # fn main() -> Result<(), pgline::Error> {
/// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
/// let rows = conn.query_stream("SELECT id, name FROM big ORDER BY id", &[], 5_000)?;
/// for row in rows {
///     let row = row?;
///     let id: i64 = row.get(0)?;
/// }
/// # Ok(()) }
/// ```
pub struct RowIter<'a> {
    exec: Exec<'a>,
    stream: RowStream<'a, Socket>,
    done: bool,
}

impl std::fmt::Debug for RowIter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowIter")
            .field("stream", &self.stream)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<'a> RowIter<'a> {
    pub(crate) fn new(exec: Exec<'a>, stream: RowStream<'a, Socket>) -> Self {
        Self {
            exec,
            stream,
            done: false,
        }
    }

    /// The columns of the result.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
    /// let rows = conn.query_stream("SELECT 1 AS one", &[], 100)?;
    /// assert_eq!(rows.columns()[0].name(), "one");
    /// # Ok(()) }
    /// ```
    pub fn columns(&self) -> &[Column] {
        self.stream.columns()
    }
}

impl Iterator for RowIter<'_> {
    type Item = Result<Row, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.exec.run(self.stream.next()).transpose();
        // The end, or an error (the stream is finished after one; a refusal to block
        // would repeat forever).
        self.done = !matches!(r, Some(Ok(_)));
        r
    }
}
