//! Bulk-load vocabulary: [`Atomicity`], [`ExecuteManyOptions`], and the [`LoadReport`]
//! that says exactly what happened to every row.

use std::ops::Range;
use std::time::Duration;

use crate::error::Error;

/// What commits together in [`execute_many`](crate::Connection::execute_many).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Atomicity {
    /// Everything in one transaction: any failure rolls everything back. The default,
    /// because a load that half-happened is what users least expect. Cost: nothing is
    /// visible until the end, and one bad row discards the whole load (the report says
    /// which row, so it can be fixed and the load re-run).
    #[default]
    All,
    /// A Sync every `n` rows: each batch is its own transaction and commits or fails
    /// alone. After a failure no new rows are sent; batches already in flight finish.
    /// Cost: a Sync (and commit) per batch, about 3 % at 100 rows per batch.
    Batches(u32),
    /// A Sync after every row: failures are isolated per row and the load goes on.
    /// Cost: a commit per row; roughly a third of the pipelined throughput.
    EachRow,
}

/// The tick to opt into polled IO with (`io_tick: Some(DEFAULT_IO_TICK)`): the longest
/// tick a polled load uses.
pub const DEFAULT_IO_TICK: Duration = Duration::from_millis(10);

/// Tuning for [`execute_many`](crate::Connection::execute_many).
///
/// # Examples
///
/// ```
/// use pgline::conn::{Atomicity, ExecuteManyOptions};
///
/// // Only the atomicity changed:
/// let opts = ExecuteManyOptions::with_atomicity(Atomicity::Batches(500));
/// // Or any fields, the rest at their defaults:
/// let opts = ExecuteManyOptions {
///     atomicity: Atomicity::EachRow,
///     max_failures_kept: 10,
///     ..ExecuteManyOptions::default()
/// };
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecuteManyOptions {
    /// Commit granularity.
    pub atomicity: Atomicity,
    /// Stop encoding new rows while this many bytes are waiting to be written. Once
    /// either window is full, encoding resumes only when every byte is written and at
    /// most half of `window_rows` rows are unanswered, so rows go out in large writes.
    pub window_bytes: usize,
    /// Stop encoding new rows while this many rows are sent but not answered.
    pub window_rows: usize,
    /// Rows per Sync under [`Atomicity::All`] (intermediate Syncs inside the transaction
    /// bound the server's and the client's bookkeeping; they do not commit).
    pub sync_every: u32,
    /// Most failures kept in the report (the count is always exact).
    pub max_failures_kept: usize,
    /// Polled IO, off by default (`None`), for loads bigger than one row window (on connections from
    /// [`Connection::connect`], with `window_rows` of at least 4,096), with ticks of at
    /// most this long: the socket leaves tokio's reactor and is read and written without
    /// blocking, with a sleep of one tick whenever it would block, so the client wakes
    /// once per tick instead of once per server flush (every ~400 rows). On loopback,
    /// where each wakeup costs tens of microseconds of kernel time, it cut client CPU per
    /// row by roughly a third. The tick starts at 4 ms (or this, if shorter) and adapts
    /// to the server: halved (down to 1 ms) when a tick left the server at most a quarter
    /// of the row window to do, lengthened by a quarter up to this maximum otherwise, so
    /// the server is not kept waiting for rows. Like the default connect timeout, it
    /// needs tokio's time driver (`enable_time` or `enable_all` on the runtime).
    /// Connections made by [`Connection::connect_stream`] are always event-driven.
    ///
    /// Off by default because it costs the other tasks of the runtime: the load is polled
    /// less often but longer (a tick's answers and a window refill at once), and a mostly
    /// idle neighbour waits behind those polls. A `SELECT 1` paced at one per millisecond
    /// beside a 1M-row load saw its p99 go from ~0.14–0.4 ms to ~0.5–1 ms on a 2-worker
    /// runtime (`examples/io_tick_impact.rs`, BENCHMARKS.md), for ~0.03–0.07 µs of client
    /// CPU per row saved and no rows/s. Turn it on (`Some(DEFAULT_IO_TICK)`) when nothing
    /// latency-sensitive shares the runtime during the load (a batch job, a loader
    /// process) and client CPU per row matters.
    ///
    /// [`Connection::connect`]: crate::Connection::connect
    /// [`Connection::connect_stream`]: crate::Connection::connect_stream
    pub io_tick: Option<Duration>,
}

impl Default for ExecuteManyOptions {
    fn default() -> Self {
        Self {
            atomicity: Atomicity::All,
            window_bytes: 256 * 1024,
            window_rows: 16 * 1024,
            sync_every: 4096,
            max_failures_kept: 1000,
            io_tick: None,
        }
    }
}

impl ExecuteManyOptions {
    /// Defaults with the given atomicity.
    pub fn with_atomicity(atomicity: Atomicity) -> Self {
        Self {
            atomicity,
            ..Self::default()
        }
    }
}

/// One failed row.
#[derive(Debug, Clone)]
pub struct RowFailure {
    /// 0-based index of the row in the input: the failing row when the server said which
    /// one, else the first row of [`rows`](Self::rows).
    pub index: u64,
    /// The rows this failure is attributed to: `index..index + 1` when the server's error
    /// answered that row's Execute; the whole sync window when the error came at its Sync
    /// (a deferred constraint, or iris-pgwire's deferred DML errors, which do not say
    /// which row failed). None of these rows is committed.
    pub rows: Range<u64>,
    /// Why it failed (usually a [`DbError`](crate::DbError); a conversion error when the
    /// value could not be encoded).
    pub error: Error,
}

/// How a bulk load was carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadMethod {
    /// Pipelined Bind/Execute behind one prepared statement.
    #[default]
    Pipeline,
    /// COPY FROM STDIN, binary format.
    CopyBinary,
    /// COPY FROM STDIN, text or CSV.
    CopyText,
}

impl std::fmt::Display for LoadMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pipeline => "pipeline",
            Self::CopyBinary => "copy (binary)",
            Self::CopyText => "copy (text)",
        })
    }
}

/// What happened in a bulk load. Row indices are 0-based positions in the input.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// How the rows were sent.
    pub method: LoadMethod,
    /// Rows taken from the input.
    pub rows_read: u64,
    /// Rows whose statement ran successfully (committed or not).
    pub rows_done: u64,
    /// Rows known to be committed.
    pub rows_committed: u64,
    /// Committed rows, as sorted, merged ranges.
    pub committed: Vec<Range<u64>>,
    /// Failed rows (the first `max_failures_kept`).
    pub failures: Vec<RowFailure>,
    /// Number of failed rows.
    pub failures_total: u64,
    /// Rows sent but not run because an earlier row of their sync window (or
    /// transaction) failed (`PipelineAborted`), or, in a binary COPY, rows before a row
    /// that could not be encoded, rolled back with the aborted COPY.
    pub rows_skipped: u64,
    /// Rows whose outcome is unknown because the connection failed before their answer.
    pub rows_uncertain: u64,
}

impl LoadReport {
    /// Whether every row read was committed.
    pub fn is_complete(&self) -> bool {
        self.failures_total == 0
            && self.rows_uncertain == 0
            && self.rows_committed == self.rows_read
    }

    /// The first failure, if any.
    pub fn first_failure(&self) -> Option<&RowFailure> {
        self.failures.iter().min_by_key(|f| f.index)
    }

    /// The first row (index) not known to be committed: where a resume starts.
    pub fn first_uncommitted(&self) -> u64 {
        match self.committed.first() {
            Some(r) if r.start == 0 => r.end,
            _ => 0,
        }
    }

    /// Whether row `i` is known to be committed.
    pub fn is_committed(&self, i: u64) -> bool {
        // Ranges are sorted and merged: binary search.
        let k = self.committed.partition_point(|r| r.end <= i);
        self.committed.get(k).is_some_and(|r| r.start <= i)
    }

    pub(crate) fn commit_range(&mut self, r: Range<u64>) {
        if r.is_empty() {
            return;
        }
        self.rows_committed += r.end - r.start;
        // Windows complete in order (and a run's indices increase), so appending and
        // merging with the last range is enough.
        match self.committed.last_mut() {
            Some(last) if last.end == r.start => last.end = r.end,
            _ => self.committed.push(r),
        }
    }

    /// Adds the committed ranges of an earlier run (a resumed load reports both).
    pub(crate) fn merge_committed(&mut self, earlier: &Self) {
        let mut all: Vec<Range<u64>> = self
            .committed
            .iter()
            .chain(earlier.committed.iter())
            .cloned()
            .collect();
        all.sort_by_key(|r| r.start);
        let mut merged: Vec<Range<u64>> = Vec::with_capacity(all.len());
        for r in all {
            match merged.last_mut() {
                Some(last) if last.end >= r.start => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }
        self.rows_committed = merged.iter().map(|r| r.end - r.start).sum();
        self.committed = merged;
        // This run read every row not committed before; the rest were committed then.
        self.rows_read += earlier.rows_committed;
    }

    pub(crate) fn fail(&mut self, index: u64, error: Error, keep: usize) {
        self.fail_rows(index..index + 1, error, keep);
    }

    /// Records one failure attributed to `rows` (a whole window when the server did not
    /// say which row failed).
    pub(crate) fn fail_rows(&mut self, rows: Range<u64>, error: Error, keep: usize) {
        self.failures_total += 1;
        if self.failures.len() < keep {
            self.failures.push(RowFailure {
                index: rows.start,
                rows,
                error,
            });
        }
    }
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} rows read, {} done, {} committed, {} failed, {} skipped via {}",
            self.rows_read,
            self.rows_done,
            self.rows_committed,
            self.failures_total,
            self.rows_skipped,
            self.method
        )?;
        if let Some(first) = self.first_failure() {
            write!(f, "; first failure at row {}: {}", first.index, first.error)?;
        }
        Ok(())
    }
}

/// A bulk load whose connection failed: the error, and the report up to that point
/// (committed ranges are exact; in-flight rows are counted as uncertain).
#[derive(Debug, Clone)]
pub struct LoadError {
    /// What ended the load: a broken connection, or a wait that passed the deadline
    /// (`error.is_timeout()`; the statement was cancelled and, unless the connection is
    /// broken, every row's outcome is in the report).
    pub error: Error,
    /// What was known when it ended.
    pub report: LoadReport,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bulk load failed: {} ({})", self.error, self.report)
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<LoadError> for Error {
    fn from(e: LoadError) -> Self {
        e.error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_ranges_merge_and_answer_membership() {
        let mut r = LoadReport::default();
        r.commit_range(0..10);
        r.commit_range(10..20);
        r.commit_range(30..40);
        assert_eq!(r.committed, vec![0..20, 30..40]);
        assert_eq!(r.rows_committed, 30);
        assert!(r.is_committed(0) && r.is_committed(19) && r.is_committed(35));
        assert!(!r.is_committed(20) && !r.is_committed(29) && !r.is_committed(40));
        assert_eq!(r.first_uncommitted(), 20);
    }

    #[test]
    fn failures_beyond_the_cap_are_counted_not_kept() {
        let mut r = LoadReport::default();
        for i in 0..5 {
            r.fail(i, Error::pipeline_aborted(), 2);
        }
        assert_eq!(r.failures.len(), 2);
        assert_eq!(r.failures_total, 5);
        assert_eq!(r.first_failure().map(|f| f.index), Some(0));
    }
}

pub(crate) mod ledger;
pub(crate) mod sender;
