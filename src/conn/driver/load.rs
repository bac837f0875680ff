//! `load`: one entry point for bulk loads that picks the fastest correct method for the
//! server and the data, and says which it used.

use tokio::io::{AsyncRead, AsyncWrite};

use super::{timed, Connection};
use crate::conn::bulk::{ExecuteManyOptions, LoadError, LoadMethod, LoadReport};
use crate::conn::flow::copy;
use crate::conn::flow::extended::Close;
use crate::conn::params::Params;
use crate::error::Error;
use crate::protocol::Oid;
use crate::trace::Op;

/// How [`Connection::load`] sends rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadMode {
    /// Binary COPY where the server supports it and every column type has a binary
    /// encoding here; pipelined `execute_many` otherwise (always on iris-pgwire, whose
    /// COPY is CSV-only and row-by-row).
    #[default]
    Auto,
    /// Binary COPY (all or nothing).
    Copy,
    /// Pipelined Bind/Execute through [`execute_many`](Connection::execute_many).
    Pipeline,
}

/// Quotes an identifier, each dot-separated part on its own (`s.t` → `"s"."t"`); parts
/// already in double quotes are kept as they are.
pub fn quote_ident(name: &str) -> String {
    name.split('.')
        .map(|part| {
            if part.len() >= 2 && part.starts_with('"') && part.ends_with('"') {
                part.to_string()
            } else {
                format!("\"{}\"", part.replace('"', "\"\""))
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Loads `rows` into `table` (`columns` in order). With [`LoadMode::Auto`], binary COPY
    /// on PostgreSQL when every column type has a binary encoding, else pipelined inserts.
    /// The report's `method` says which was used.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// use pgline::conn::{ExecuteManyOptions, LoadMode};
    ///
    /// let rows = (0..100_000i64).map(|i| (i, format!("user {i}")));
    /// let report = conn
    ///     .load("users", &["id", "name"], rows, LoadMode::Auto, ExecuteManyOptions::default())
    ///     .await?;
    /// println!("{} rows committed via {}", report.rows_committed, report.method);
    /// # Ok(()) }
    /// ```
    pub async fn load<I>(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: I,
        mode: LoadMode,
        opts: ExecuteManyOptions,
    ) -> Result<LoadReport, LoadError>
    where
        I: IntoIterator,
        I::Item: Params,
    {
        // No SQL yet: the operation is named by the statement it runs (a child span).
        let span = self.op_span(Op::Load, "");
        span.collection(table);
        let r = span
            .instrument(self.load_unspanned(table, columns, rows, mode, opts))
            .await;
        match &r {
            Ok(report) => span.load(report),
            Err(e) => {
                span.load(&e.report);
                span.error(&e.error);
            }
        }
        r
    }

    async fn load_unspanned<I>(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: I,
        mode: LoadMode,
        opts: ExecuteManyOptions,
    ) -> Result<LoadReport, LoadError>
    where
        I: IntoIterator,
        I::Item: Params,
    {
        let fail = |error: Error| LoadError {
            error,
            report: LoadReport::default(),
        };
        let cols = columns
            .iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ");
        let table_q = quote_ident(table);
        let types = self.column_types(&table_q, &cols).await.map_err(fail)?;
        let use_copy = match mode {
            LoadMode::Copy => true,
            LoadMode::Pipeline => false,
            LoadMode::Auto => copy::binary_copy_fits(&self.session, &types),
        };
        if use_copy {
            self.load_copy(&table_q, &cols, &types, rows).await
        } else {
            let placeholders = (1..=columns.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!("INSERT INTO {table_q} ({cols}) VALUES ({placeholders})");
            self.execute_many_with(&sql, rows, opts).await
        }
    }

    /// The column type OIDs, from describing `SELECT cols FROM table`.
    pub(crate) async fn column_types(
        &mut self,
        table: &str,
        cols: &str,
    ) -> Result<Vec<Oid>, Error> {
        let stmt = self
            .prepare(&format!("SELECT {cols} FROM {table} WHERE false"))
            .await?;
        let types = stmt.columns().iter().map(|c| c.type_oid()).collect();
        self.close_statement(stmt.name()).await?;
        Ok(types)
    }

    /// Closes a named statement (protocol Close, never SQL DEALLOCATE). Nothing for the
    /// unnamed statement (pooler-safe mode): the next Parse replaces it. The server's
    /// answer to the Close is not checked (a statement already gone is no failure here);
    /// an error that breaks the connection still is one.
    pub(crate) async fn close_statement(&mut self, name: &str) -> Result<(), Error> {
        if name.is_empty() {
            return Ok(());
        }
        timed!(self, self.close_statement_inner(name))
    }

    async fn close_statement_inner(&mut self, name: &str) -> Result<(), Error> {
        self.begin_op().await?;
        let mut flow = Close::start(&mut self.session, name)?;
        match self.drive(&mut flow).await {
            Err(e) if e.is_db() && !e.breaks_connection() => Ok(()),
            r => r,
        }
    }

    async fn load_copy<I>(
        &mut self,
        table: &str,
        cols: &str,
        types: &[Oid],
        rows: I,
    ) -> Result<LoadReport, LoadError>
    where
        I: IntoIterator,
        I::Item: Params,
    {
        let mut report = LoadReport {
            method: LoadMethod::CopyBinary,
            ..LoadReport::default()
        };
        let sql = format!("COPY {table} ({cols}) FROM STDIN (FORMAT binary)");
        let copy = match self.copy_in(&sql).await {
            Ok(c) => c,
            Err(error) => return Err(LoadError { error, report }),
        };
        let mut w = match copy.binary(types) {
            Ok(w) => w,
            Err(error) => return Err(LoadError { error, report }),
        };
        for (i, row) in rows.into_iter().enumerate() {
            report.rows_read += 1;
            if let Err(e) = w.write_row(&row).await {
                // COPY is all or nothing: abort it and report the row.
                report.fail(i as u64, e.clone(), 1);
                // The rows before it were sent and are rolled back with the COPY.
                report.rows_skipped += i as u64;
                if e.breaks_connection() {
                    return Err(LoadError { error: e, report });
                }
                return match w.abort("row could not be encoded").await {
                    Ok(()) => Ok(report),
                    Err(error) if error.breaks_connection() => Err(LoadError { error, report }),
                    Err(_) => Ok(report),
                };
            }
        }
        match w.finish().await {
            Ok(n) => {
                report.rows_done = n;
                report.commit_range(0..n);
                Ok(report)
            }
            Err(e) if e.breaks_connection() => Err(LoadError { error: e, report }),
            Err(e) => {
                // The server refused the data: nothing was committed. COPY does not say
                // which row; the error's context line usually does.
                report.fail(0, e, 1);
                Ok(report)
            }
        }
    }
}
