//! Parallel loads: one `execute_many` or `load` split across N connections, with one
//! report in the same global row numbering as a single-connection load.
//!
//! The behaviour is documented on [`execute_many_parallel`].

use std::cell::RefCell;
use std::ops::Range;

use futures::future::join_all;

use super::query::binary_result_supported;
use super::{quote_ident, Connection, LoadMode};
use crate::conn::bulk::{Atomicity, ExecuteManyOptions, LoadError, LoadMethod, LoadReport};
use crate::conn::config::Config;
use crate::conn::params::Params;
use crate::error::Error;
use crate::pool::{Pool, PooledConnection};
use crate::protocol::Oid;

/// Where a parallel load takes its connections from.
#[derive(Debug, Clone, Copy)]
pub enum Connections<'a> {
    /// Checked out of this pool for the load and returned when it ends (the pool's
    /// return checks discard a connection that failed). `jobs` is capped at the pool's
    /// `max_size` (more workers would only wait for the others to finish); a checkout that
    /// fails (`acquire_timeout`, while other tasks hold the connections) fails the load
    /// like any connection error.
    Pool(&'a Pool),
    /// Opened from this config for the load and closed when it ends.
    Open(&'a Config),
}

/// Tuning for a parallel load.
///
/// # Examples
///
/// ```
/// use pgline::conn::{Atomicity, ParallelOptions};
///
/// // Four connections, each batch of 10,000 rows its own transaction.
/// let opts = ParallelOptions::new(4, Atomicity::Batches(10_000));
/// assert_eq!(opts.jobs, 4);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParallelOptions {
    /// Connections used at once (at least 1; 1 is exactly today's single-connection load).
    pub jobs: usize,
    /// Rows per chunk (rounded up to a whole number of batches under
    /// [`Atomicity::Batches`]). Each connection holds one chunk in memory at a time.
    pub chunk_rows: u64,
    /// The options each connection's `execute_many` runs with; its `atomicity` is the
    /// load's (see [`execute_many_parallel`] for which modes span connections).
    pub load: ExecuteManyOptions,
}

impl Default for ParallelOptions {
    fn default() -> Self {
        Self {
            jobs: 1,
            chunk_rows: 65_536,
            load: ExecuteManyOptions::default(),
        }
    }
}

impl ParallelOptions {
    /// `jobs` connections with the given atomicity, the rest at defaults.
    pub fn new(jobs: usize, atomicity: Atomicity) -> Self {
        Self {
            jobs,
            load: ExecuteManyOptions::with_atomicity(atomicity),
            ..Self::default()
        }
    }

    /// The rows per chunk, a whole number of batches.
    fn chunk_len(&self) -> u64 {
        let c = self.chunk_rows.max(1);
        match self.load.atomicity {
            Atomicity::Batches(n) => {
                let n = u64::from(n.max(1));
                c.div_ceil(n).saturating_mul(n)
            }
            _ => c,
        }
    }

    /// The refusals: what cannot be honoured across connections.
    fn check(&self, copy: bool) -> Result<(), Error> {
        if self.jobs == 0 {
            return Err(Error::config(
                "a parallel load needs at least one connection (jobs = 0)",
            ));
        }
        if self.jobs > 1 && self.load.atomicity == Atomicity::All {
            return Err(Error::config(format!(
                "Atomicity::All cannot span {} connections: one transaction cannot cover \
                 several connections without two-phase commit, and committing one \
                 transaction per connection is not all or nothing; use \
                 Atomicity::Batches(n) (each batch commits alone) or EachRow, or jobs = 1",
                self.jobs
            )));
        }
        if self.jobs > 1 && copy && self.load.atomicity == Atomicity::EachRow {
            return Err(Error::config(
                "LoadMode::Copy cannot honour Atomicity::EachRow: a COPY commits or fails \
                 as a whole; use LoadMode::Pipeline or Auto (pipelined inserts), or \
                 Atomicity::Batches(n) (one COPY per batch)",
            ));
        }
        Ok(())
    }
}

/// What happened to one chunk.
#[derive(Debug, Clone)]
pub struct ChunkReport {
    /// The rows handed to this chunk (global input indices).
    pub rows: Range<u64>,
    /// Which connection ran it (`0..jobs`, in the order the workers started).
    pub connection: usize,
    /// Rows of the chunk that were sent (or refused by the encoder).
    pub rows_read: u64,
    /// Rows of the chunk known to be committed.
    pub rows_committed: u64,
    /// Failures in the chunk (each failed row or failed batch counts once).
    pub failures: u64,
    /// Rows of the chunk whose outcome is unknown because the connection failed.
    pub rows_uncertain: u64,
    /// The connection error that ended the chunk, if one did.
    pub error: Option<Error>,
}

/// The report of a parallel load: one [`LoadReport`] in global row numbering, and what
/// each chunk did.
#[derive(Debug, Clone, Default)]
pub struct ParallelReport {
    /// Everything, as one load: global row indices, committed ranges sorted and merged,
    /// failures sorted by row (at most `max_failures_kept`; the count is exact).
    pub load: LoadReport,
    /// Each chunk, in input order.
    pub chunks: Vec<ChunkReport>,
    /// Connections the load ran with (`jobs`, capped at a pool's `max_size`).
    pub jobs: usize,
}

impl ParallelReport {
    /// Whether every row read was committed and no connection failed.
    pub fn is_complete(&self) -> bool {
        self.load.is_complete() && self.chunks.iter().all(|c| c.error.is_none())
    }
}

impl std::fmt::Display for ParallelReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} chunks on {} connections",
            self.load,
            self.chunks.len(),
            self.jobs
        )?;
        if self.load.rows_uncertain > 0 {
            write!(f, ", {} rows uncertain", self.load.rows_uncertain)?;
        }
        f.write_str(")")
    }
}

/// A parallel load that a connection error ended (or that was refused before it
/// started, with an empty report): the first error, and the report of everything.
#[derive(Debug, Clone)]
pub struct ParallelLoadError {
    /// The first connection error, or the configuration error of a refused load.
    pub error: Error,
    /// What every chunk did, exact for committed rows.
    pub report: ParallelReport,
}

impl std::fmt::Display for ParallelLoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "parallel load failed: {} ({})", self.error, self.report)
    }
}

impl std::error::Error for ParallelLoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<ParallelLoadError> for Error {
    fn from(e: ParallelLoadError) -> Self {
        e.error
    }
}

/// Loads `rows` through the prepared `sql` on `opts.jobs` connections at once, with one
/// report in the same global row numbering as a single-connection load.
///
/// # How rows are split
///
/// The input is cut into contiguous **chunks** handed out in input order: chunk `k` holds
/// rows `k·c .. (k+1)·c` (`c` = [`ParallelOptions::chunk_rows`], rounded up to a whole
/// number of batches), and whichever connection is free takes the next chunk. Contiguous
/// chunks rather than N fixed ranges because the input is an iterator of unknown length
/// (it can be streamed from a file), and because a row's global number is then known the
/// moment it is read: every row keeps its input index on the wire, so failures and
/// committed ranges come back in exactly the numbering a single connection reports, and
/// a chunk boundary is always a batch boundary, so under [`Atomicity::Batches`]`(n)` the
/// batches are the same rows `k·n .. (k+1)·n` as on one connection.
///
/// # Atomicity across connections
///
/// - [`Atomicity::Batches`]`(n)`: honoured. Each batch is one transaction on one
///   connection and commits or fails alone. After a failure no new chunk is started (and
///   the failing connection sends no new rows, as on one connection); chunks already
///   running on the other connections finish, and the report says exactly what they
///   committed.
/// - [`Atomicity::EachRow`]: honoured. Every row commits alone, failures are isolated and
///   the load goes on.
/// - [`Atomicity::All`] with more than one connection: **refused** with a configuration
///   error ([`Error::is_config`]). One transaction cannot span several connections
///   without two-phase commit (`PREPARE TRANSACTION`, which needs
///   `max_prepared_transactions` > 0 and a recovery process for transactions left
///   prepared); committing N transactions one after the other is not all or nothing.
///   With `jobs = 1` it is today's single-connection load, unchanged.
///
/// Binary COPY (chosen by [`LoadMode`]) runs one COPY per batch, since a COPY is one
/// transaction; with [`Atomicity::EachRow`] [`LoadMode::Auto`] uses pipelined inserts
/// and [`LoadMode::Copy`] is refused (a COPY cannot isolate one row).
///
/// # Connections that fail
///
/// A connection that fails mid-load (terminated backend, network error, timeout) ends
/// its chunk: the rows its server confirmed as committed are in the report, the rows in
/// flight are counted as uncertain (in the chunk's [`ChunkReport`] too), and the rest of
/// the chunk is not sent. No new chunk is started, the other connections finish theirs,
/// and the load returns [`ParallelLoadError`] with the first connection error and the
/// whole report. Nothing is retried behind the caller's back (an uncertain row may have
/// been committed); the report's committed ranges are global, so
/// [`Connection::resume_execute_many`] with [`ParallelReport::load`] runs exactly the
/// rows not known to be committed. Pooled connections go back to the pool, whose return
/// checks discard a broken one and roll back an open transaction.
///
/// # Where the work runs
///
/// The connections are driven concurrently from the calling task (no `Send` or
/// `'static` bound on the rows): the server's backends work in parallel, the client's
/// encoding is one core's work. A chunk is buffered before it is sent, so memory is
/// about `jobs × chunk_rows` rows.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(pool: &pgline::pool::Pool) -> Result<(), pgline::Error> {
/// use pgline::conn::{execute_many_parallel, Atomicity, Connections, ParallelOptions};
///
/// let rows = (0..1_000_000i64).map(|i| (i, format!("user {i}")));
/// let opts = ParallelOptions::new(4, Atomicity::Batches(10_000));
/// let sql = "INSERT INTO users (id, name) VALUES ($1, $2)";
/// match execute_many_parallel(Connections::Pool(pool), sql, rows, opts).await {
///     Ok(r) => println!("{r}"),
///     // A connection failed: the report says exactly what was committed.
///     Err(e) => eprintln!("{e}; committed: {:?}", e.report.load.committed),
/// }
/// # Ok(()) }
/// ```
pub async fn execute_many_parallel<I>(
    conns: Connections<'_>,
    sql: &str,
    rows: I,
    opts: ParallelOptions,
) -> Result<ParallelReport, ParallelLoadError>
where
    I: IntoIterator,
    I::Item: Params,
{
    run(conns, Job::Sql(sql), rows, opts).await
}

/// [`Connection::load`] on `opts.jobs` connections at once: binary COPY (one COPY per
/// batch) or pipelined inserts, as `mode` and the server allow (see
/// [`execute_many_parallel`] for how rows are split and which atomicity modes span
/// connections).
///
/// # Examples
///
/// ```no_run
/// # async fn demo(config: &pgline::Config) -> Result<(), pgline::Error> {
/// use pgline::conn::{load_parallel, Atomicity, Connections, LoadMode, ParallelOptions};
///
/// let rows = (0..1_000_000i64).map(|i| (i, format!("user {i}")));
/// let opts = ParallelOptions::new(2, Atomicity::Batches(50_000));
/// let cols = ["id", "name"];
/// let r = load_parallel(Connections::Open(config), "users", &cols, rows, LoadMode::Auto, opts)
///     .await?;
/// println!("{} rows committed via {}", r.load.rows_committed, r.load.method);
/// # Ok(()) }
/// ```
pub async fn load_parallel<I>(
    conns: Connections<'_>,
    table: &str,
    columns: &[&str],
    rows: I,
    mode: LoadMode,
    opts: ParallelOptions,
) -> Result<ParallelReport, ParallelLoadError>
where
    I: IntoIterator,
    I::Item: Params,
{
    run(
        conns,
        Job::Table {
            table,
            columns,
            mode,
        },
        rows,
        opts,
    )
    .await
}

/// What each connection runs.
#[derive(Clone, Copy)]
enum Job<'a> {
    Sql(&'a str),
    Table {
        table: &'a str,
        columns: &'a [&'a str],
        mode: LoadMode,
    },
}

/// A connection held for the load.
enum Held {
    Pooled(PooledConnection),
    Own(Connection),
}

impl Held {
    async fn open(conns: Connections<'_>) -> Result<Self, Error> {
        match conns {
            Connections::Pool(p) => p.get().await.map(Self::Pooled),
            Connections::Open(c) => Connection::connect(c).await.map(Self::Own),
        }
    }

    fn conn(&mut self) -> &mut Connection {
        match self {
            Self::Pooled(p) => p,
            Self::Own(c) => c,
        }
    }

    /// Returns the connection to the pool, or closes our own (best effort: its work is
    /// done and reported).
    async fn release(self) {
        match self {
            Self::Pooled(p) => drop(p),
            Self::Own(c) => {
                if !c.is_broken() {
                    let _ = c.close().await;
                }
            }
        }
    }
}

/// Rows of one chunk, each with its global index.
type Chunk<T> = Vec<(u64, T)>;

/// Hands out the chunks, in input order.
struct Dispatch<I> {
    rows: I,
    next: u64,
    chunk: u64,
    stopped: bool,
}

impl<I: Iterator> Dispatch<I> {
    /// The next chunk: its first index and its rows, each with its global index.
    fn take(&mut self) -> Option<(u64, Chunk<I::Item>)> {
        if self.stopped {
            return None;
        }
        let start = self.next;
        let cap = usize::try_from(self.chunk.min(1 << 16)).unwrap_or(1 << 16);
        let mut v = Vec::with_capacity(cap);
        for row in self
            .rows
            .by_ref()
            .take(usize::try_from(self.chunk).unwrap_or(usize::MAX))
        {
            v.push((self.next, row));
            self.next += 1;
        }
        if v.is_empty() {
            self.stopped = true;
            None
        } else {
            Some((start, v))
        }
    }
}

/// What one worker did.
#[derive(Default)]
struct WorkerOutcome {
    reports: Vec<LoadReport>,
    chunks: Vec<ChunkReport>,
    /// A connection error (connect, or one that ended a chunk).
    error: Option<Error>,
}

async fn run<I>(
    conns: Connections<'_>,
    job: Job<'_>,
    rows: I,
    opts: ParallelOptions,
) -> Result<ParallelReport, ParallelLoadError>
where
    I: IntoIterator,
    I::Item: Params,
{
    let mut opts = opts;
    if let Connections::Pool(p) = conns {
        // More workers than the pool holds would wait for the others to finish. Capped
        // before the checks: what they refuse depends on the connections really used
        // (Atomicity::All on a pool of one is a one-connection load).
        opts.jobs = opts.jobs.min(p.status().max_size.max(1));
    }
    let copy_asked = matches!(
        job,
        Job::Table {
            mode: LoadMode::Copy,
            ..
        }
    );
    opts.check(copy_asked).map_err(|error| ParallelLoadError {
        error,
        report: ParallelReport {
            jobs: opts.jobs,
            ..ParallelReport::default()
        },
    })?;
    if opts.jobs == 1 {
        return single(conns, job, rows, opts).await;
    }
    let dispatch = RefCell::new(Dispatch {
        rows: rows.into_iter(),
        next: 0,
        chunk: opts.chunk_len(),
        stopped: false,
    });
    let workers = (0..opts.jobs).map(|w| worker(w, conns, job, &dispatch, opts));
    let outcomes = join_all(workers).await;
    let mut first_error = None;
    let mut reports = Vec::new();
    let mut chunks = Vec::new();
    for o in outcomes {
        if first_error.is_none() {
            first_error = o.error;
        }
        reports.extend(o.reports);
        chunks.extend(o.chunks);
    }
    chunks.sort_by_key(|c| c.rows.start);
    let report = ParallelReport {
        load: merge(reports, opts.load.max_failures_kept),
        chunks,
        jobs: opts.jobs,
    };
    match first_error {
        None => Ok(report),
        Some(error) => Err(ParallelLoadError { error, report }),
    }
}

/// `jobs = 1`: exactly the single-connection load, wrapped as one chunk.
async fn single<I>(
    conns: Connections<'_>,
    job: Job<'_>,
    rows: I,
    opts: ParallelOptions,
) -> Result<ParallelReport, ParallelLoadError>
where
    I: IntoIterator,
    I::Item: Params,
{
    let mut held = match Held::open(conns).await {
        Ok(h) => h,
        Err(error) => {
            return Err(ParallelLoadError {
                error,
                report: ParallelReport {
                    jobs: 1,
                    ..ParallelReport::default()
                },
            })
        }
    };
    let conn = held.conn();
    let r = match job {
        Job::Sql(sql) => conn.execute_many_with(sql, rows, opts.load).await,
        Job::Table {
            table,
            columns,
            mode,
        } => conn.load(table, columns, rows, mode, opts.load).await,
    };
    held.release().await;
    let (load, error) = match r {
        Ok(load) => (load, None),
        Err(LoadError { error, report }) => (report, Some(error)),
    };
    let chunk = chunk_report(0, 0..load.rows_read, &load, error.clone());
    let report = ParallelReport {
        load,
        chunks: vec![chunk],
        jobs: 1,
    };
    match error {
        None => Ok(report),
        Some(error) => Err(ParallelLoadError { error, report }),
    }
}

fn chunk_report(
    connection: usize,
    rows: Range<u64>,
    r: &LoadReport,
    error: Option<Error>,
) -> ChunkReport {
    ChunkReport {
        rows,
        connection,
        rows_read: r.rows_read,
        rows_committed: r.rows_committed,
        failures: r.failures_total,
        rows_uncertain: r.rows_uncertain,
        error,
    }
}

/// How a worker sends its chunks, decided on its connection.
enum Plan {
    Pipeline(String),
    Copy { sql: String, types: Vec<Oid> },
}

async fn plan(conn: &mut Connection, job: Job<'_>, atomicity: Atomicity) -> Result<Plan, Error> {
    let (table, columns, mode) = match job {
        Job::Sql(sql) => return Ok(Plan::Pipeline(sql.to_string())),
        Job::Table {
            table,
            columns,
            mode,
        } => (table, columns, mode),
    };
    let cols = columns
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ");
    let table = quote_ident(table);
    let use_copy = match mode {
        LoadMode::Copy => true,
        LoadMode::Pipeline => false,
        // One COPY per batch keeps Batches' meaning; EachRow needs per-row inserts.
        LoadMode::Auto => {
            matches!(atomicity, Atomicity::Batches(_))
                && crate::conn::flow::copy::copy_works(&conn.session)
        }
    };
    if use_copy {
        let types = conn.column_types(&table, &cols).await?;
        if mode == LoadMode::Copy || types.iter().all(|&t| binary_result_supported(t)) {
            let sql = format!("COPY {table} ({cols}) FROM STDIN (FORMAT binary)");
            return Ok(Plan::Copy { sql, types });
        }
    }
    let placeholders = (1..=columns.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(Plan::Pipeline(format!(
        "INSERT INTO {table} ({cols}) VALUES ({placeholders})"
    )))
}

async fn worker<I>(
    w: usize,
    conns: Connections<'_>,
    job: Job<'_>,
    dispatch: &RefCell<Dispatch<I>>,
    opts: ParallelOptions,
) -> WorkerOutcome
where
    I: Iterator,
    I::Item: Params,
{
    let mut out = WorkerOutcome::default();
    let stop = |e: Error, out: &mut WorkerOutcome| {
        dispatch.borrow_mut().stopped = true;
        out.error = Some(e);
    };
    let mut held = match Held::open(conns).await {
        Ok(h) => h,
        Err(e) => {
            stop(e, &mut out);
            return out;
        }
    };
    let plan = match plan(held.conn(), job, opts.load.atomicity).await {
        Ok(p) => p,
        Err(e) => {
            stop(e, &mut out);
            held.release().await;
            return out;
        }
    };
    loop {
        let next = dispatch.borrow_mut().take();
        let Some((start, chunk)) = next else { break };
        let range = start..start + chunk.len() as u64;
        let conn = held.conn();
        let r = match &plan {
            Plan::Pipeline(sql) => {
                let report = LoadReport {
                    method: LoadMethod::Pipeline,
                    ..LoadReport::default()
                };
                conn.execute_many_indexed(sql, chunk.into_iter(), opts.load, report)
                    .await
            }
            Plan::Copy { sql, types } => copy_chunk(conn, sql, types, chunk, opts.load).await,
        };
        let (report, error) = match r {
            Ok(report) => (report, None),
            Err(LoadError { error, report }) => (report, Some(error)),
        };
        out.chunks
            .push(chunk_report(w, range, &report, error.clone()));
        let failed = report.failures_total > 0;
        out.reports.push(report);
        if let Some(e) = error {
            stop(e, &mut out);
            break;
        }
        if failed && matches!(opts.load.atomicity, Atomicity::Batches(_)) {
            // As on one connection: after a failed batch no new rows are started.
            dispatch.borrow_mut().stopped = true;
        }
    }
    held.release().await;
    out
}

/// One chunk by binary COPY, one COPY (one transaction) per batch. A batch the server
/// refuses is reported as a whole (COPY does not say which row; its error's context
/// line usually does) and, as under `Batches` on one connection, ends the chunk.
async fn copy_chunk<P: Params>(
    conn: &mut Connection,
    sql: &str,
    types: &[Oid],
    chunk: Vec<(u64, P)>,
    opts: ExecuteManyOptions,
) -> Result<LoadReport, LoadError> {
    let mut report = LoadReport {
        method: LoadMethod::CopyBinary,
        ..LoadReport::default()
    };
    let keep = opts.max_failures_kept;
    let batch = match opts.atomicity {
        Atomicity::Batches(n) => usize::try_from(n.max(1)).unwrap_or(usize::MAX),
        _ => usize::MAX,
    };
    let mut rows = chunk.into_iter().peekable();
    while let Some(&(start, _)) = rows.peek() {
        let fail = |error: Error, report: LoadReport| LoadError { error, report };
        let copy = match conn.copy_in(sql).await {
            Ok(c) => c,
            Err(e) => return Err(fail(e, report)),
        };
        let mut w = match copy.binary(types) {
            Ok(w) => w,
            Err(e) => return Err(fail(e, report)),
        };
        let mut end = start;
        for (idx, row) in rows.by_ref().take(batch) {
            report.rows_read += 1;
            end = idx + 1;
            if let Err(e) = w.write_row(&row).await {
                if e.breaks_connection() {
                    // The COPY never ended: none of its rows is committed.
                    report.fail_rows(start..end, e.clone(), keep);
                    return Err(fail(e, report));
                }
                if e.is_conversion() || e.is_encode() {
                    report.fail(idx, e, keep);
                    // The rows before it in this batch were sent, and the abort rolls
                    // them back: not run, like the rows of a failed sync window.
                    report.rows_skipped += idx - start;
                } else {
                    report.fail_rows(start..end, e, keep);
                }
                return match w.abort("pgline: a row of this batch failed").await {
                    Err(e) if e.breaks_connection() => Err(fail(e, report)),
                    _ => Ok(report),
                };
            }
        }
        match w.finish().await {
            Ok(n) => {
                report.rows_done += n;
                report.commit_range(start..end);
            }
            Err(e) if e.breaks_connection() => {
                // Sent in full; whether the server committed it is unknown.
                report.rows_uncertain += end - start;
                return Err(fail(e, report));
            }
            Err(e) => {
                report.fail_rows(start..end, e, keep);
                return Ok(report);
            }
        }
    }
    Ok(report)
}

/// One report from the chunks' reports (global indices already).
fn merge(reports: Vec<LoadReport>, keep: usize) -> LoadReport {
    let mut all = LoadReport {
        method: reports.first().map(|r| r.method).unwrap_or_default(),
        ..LoadReport::default()
    };
    let mut committed = Vec::new();
    for r in reports {
        all.rows_read += r.rows_read;
        all.rows_done += r.rows_done;
        all.failures_total += r.failures_total;
        all.rows_skipped += r.rows_skipped;
        all.rows_uncertain += r.rows_uncertain;
        all.failures.extend(r.failures);
        committed.extend(r.committed);
    }
    all.failures.sort_by_key(|f| f.index);
    all.failures.truncate(keep);
    committed.sort_by_key(|r| r.start);
    for r in committed {
        all.commit_range(r);
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_whole_batches() {
        let mut o = ParallelOptions::new(2, Atomicity::Batches(300));
        o.chunk_rows = 1000;
        assert_eq!(o.chunk_len(), 1200);
        o.load.atomicity = Atomicity::EachRow;
        assert_eq!(o.chunk_len(), 1000);
    }

    #[test]
    fn all_or_nothing_across_connections_is_refused_and_says_why() {
        let e = ParallelOptions::new(3, Atomicity::All)
            .check(false)
            .unwrap_err();
        assert!(e.is_config());
        assert!(e.to_string().contains("two-phase commit"), "{e}");
        assert!(ParallelOptions::new(1, Atomicity::All).check(false).is_ok());
        assert!(ParallelOptions::new(0, Atomicity::EachRow)
            .check(false)
            .is_err());
        assert!(ParallelOptions::new(2, Atomicity::EachRow)
            .check(true)
            .is_err());
    }

    #[test]
    fn merged_reports_are_in_global_order() {
        let mut a = LoadReport {
            rows_read: 10,
            ..LoadReport::default()
        };
        a.commit_range(10..20);
        a.fail(25, Error::pipeline_aborted(), 10);
        let mut b = LoadReport {
            rows_read: 10,
            ..LoadReport::default()
        };
        b.commit_range(0..10);
        b.fail(3, Error::pipeline_aborted(), 10);
        let m = merge(vec![a, b], 10);
        assert_eq!(m.committed, vec![0..20]);
        assert_eq!(m.rows_committed, 20);
        assert_eq!(m.rows_read, 20);
        let idx: Vec<u64> = m.failures.iter().map(|f| f.index).collect();
        assert_eq!(idx, vec![3, 25]);
    }
}
