//! `pgline load`: CSV or PostgreSQL text format from a file or stdin into a table, by COPY
//! or by pipelined inserts, with a progress bar and a one-line summary.
//!
//! Both ways load the same bytes: `--mode pipeline` reads the input with
//! [`copy_format`](crate::copy_format), a port of COPY's own reader, and both are one
//! transaction: an error in the input or in any row loads nothing.
//!
//! `--jobs N` (N > 1) loads through N connections at once with
//! [`load_parallel`](pgline::conn::load_parallel): pipelined inserts, each batch of
//! `--batch-rows` rows its own transaction (one transaction cannot span connections), and
//! a failure names its line and which data rows were committed.

use std::collections::VecDeque;
use std::io::{BufReader, ErrorKind, Read};
use std::ops::Range;
use std::path::PathBuf;
use std::time::Instant;

use bytes::{BufMut, BytesMut};
use indicatif::{ProgressBar, ProgressStyle};
use pgline::conn::{
    load_parallel, quote_ident, Atomicity, Connections, ExecuteManyOptions, LoadMode,
    ParallelOptions,
};
use pgline::protocol::frontend::IsNull;
use pgline::types::{ConversionError, ToSql, ValueType};
use pgline::Connection;

use crate::connect_config;
use crate::copy_format::{self, InputError, Reader};

/// How the input is read and what errors say, for `--help`.
const LOAD_HELP: &str = "\
Both modes read the input exactly as COPY ... FROM STDIN does, and load the same values:
  csv    comma-separated; a quoted value may hold commas, quotes (\"\") and line breaks;
         an empty unquoted value is NULL, \"\" is the empty string
  tsv    PostgreSQL's text format: tab-separated; \\N is NULL; backslash escapes
         \\b \\f \\n \\r \\t \\v \\\\, \\NNN (octal), \\xHH (hex); any other \\c is c
  Lines end in LF, CRLF or CR, all alike. Values must be UTF-8 (no NUL).

One transaction: an error in the input or in any row loads nothing.

--jobs N (N > 1) loads through N connections at once, by pipelined inserts: the
rows are cut into contiguous chunks, and each batch of --batch-rows rows is its own
transaction, because one transaction cannot span several connections (that would
need two-phase commit). After a failed batch no new chunk starts; the summary names
the failing line and the data rows (1-based) that were committed.

Errors name the input line where the failing row starts (or that holds a bad byte):
1-based, counting every line of the file, the header and the lines inside a quoted
value too, as COPY's \"CONTEXT: COPY t, line N\" does.";

/// Input formats.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// Comma-separated, as COPY (FORMAT csv): an empty unquoted field is NULL, "" is ''.
    Csv,
    /// PostgreSQL's text format: tab-separated, `\N` is NULL, backslash escapes.
    Tsv,
}

/// How to send the rows.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// COPY on PostgreSQL, pipelined inserts where COPY is unavailable (iris-pgwire).
    Auto,
    /// COPY FROM STDIN, the file streamed as it is.
    Copy,
    /// Pipelined Bind/Execute of a prepared INSERT, one transaction.
    Pipeline,
}

/// Arguments of `pgline load`.
#[derive(clap::Args, Debug)]
#[command(after_help = LOAD_HELP)]
pub(crate) struct LoadArgs {
    /// Server URL (else DATABASE_URL, else the PG* variables).
    #[arg(long, env = "DATABASE_URL")]
    url: Option<String>,
    /// Target table.
    #[arg(long)]
    table: String,
    /// Columns, comma-separated, in file order (default: all, in table order).
    #[arg(long, value_delimiter = ',')]
    columns: Vec<String>,
    /// Input format.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
    /// The first line is a header and is skipped.
    #[arg(long)]
    header: bool,
    /// How to send the rows.
    #[arg(long, value_enum, default_value_t = Mode::Auto)]
    mode: Mode,
    /// Connections loading at once. With more than one: pipelined inserts, and each
    /// batch of --batch-rows rows commits alone.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    jobs: u16,
    /// With --jobs above 1: rows per transaction.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    batch_rows: u32,
    /// Input file, or `-` for standard input.
    file: PathBuf,
}

/// A text value of whatever type the server says the column has.
#[derive(Debug)]
struct AnyText(Option<String>);

impl ToSql for AnyText {
    fn type_oid(&self) -> pgline::protocol::Oid {
        0
    }
    fn accepts(&self, _oid: pgline::protocol::Oid) -> bool {
        true
    }
    fn supports_binary(&self, _oid: pgline::protocol::Oid) -> bool {
        false
    }
    fn to_sql(&self, _ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        match &self.0 {
            None => Ok(IsNull::Yes),
            Some(s) => {
                out.put_slice(s.as_bytes());
                Ok(IsNull::No)
            }
        }
    }
}

fn open(path: &PathBuf) -> std::io::Result<(Box<dyn Read>, Option<u64>)> {
    if path.as_os_str() == "-" {
        return Ok((Box::new(std::io::stdin()), None));
    }
    let f = std::fs::File::open(path)?;
    let len = f.metadata().ok().map(|m| m.len());
    Ok((Box::new(f), len))
}

/// The input, moving the progress bar by the bytes read.
struct Progress<R> {
    inner: R,
    pb: ProgressBar,
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pb.inc(n as u64);
        Ok(n)
    }
}

fn progress(total: Option<u64>) -> ProgressBar {
    let pb = match total {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} {msg} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style);
    pb
}

pub(crate) async fn run(args: LoadArgs) -> Result<(), Box<dyn std::error::Error>> {
    let config = connect_config(args.url.as_deref())?;
    let mut conn = Connection::connect(&config).await?;
    let columns: Vec<String> = if args.columns.is_empty() {
        let stmt = conn
            .prepare(&format!(
                "SELECT * FROM {} WHERE false",
                quote_ident(&args.table)
            ))
            .await?;
        stmt.columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect()
    } else {
        args.columns.clone()
    };
    if args.jobs > 1 {
        if args.mode == Mode::Copy {
            return Err(
                "--mode copy streams the whole file through one COPY on one connection; \
                 with --jobs above 1 use --mode pipeline or auto"
                    .into(),
            );
        }
        return parallel(conn, config, &args, &columns).await;
    }
    let mode = match args.mode {
        Mode::Auto if conn.quirks().copy_out_broken => Mode::Pipeline,
        Mode::Auto => Mode::Copy,
        m => m,
    };
    let (input, size) = open(&args.file)?;
    let pb = progress(size);
    let input = Progress {
        inner: input,
        pb: pb.clone(),
    };
    let started = Instant::now();
    let (rows, label) = match mode {
        Mode::Copy => (copy(&mut conn, &args, &columns, input).await?, "copy"),
        _ => (
            pipeline(&mut conn, &args, &columns, input, &pb).await?,
            "pipeline",
        ),
    };
    pb.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "loaded {rows} rows in {secs:.2} s ({:.0} rows/s) via {label}",
        rows as f64 / secs.max(1e-9)
    );
    conn.close().await?;
    Ok(())
}

/// How the server in use reads the input (`\.` differs from PostgreSQL 18 on).
fn reader_options(conn: &Connection, format: Format) -> copy_format::Options {
    copy_format::Options::for_server(format == Format::Csv, conn.parameter("server_version"))
}

/// COPY FROM STDIN with the file streamed as it is: the server parses it, and its error
/// names the line (`CONTEXT: COPY t, line 3, column b: "x"`). All or nothing.
async fn copy(
    conn: &mut Connection,
    args: &LoadArgs,
    columns: &[String],
    input: impl Read,
) -> Result<u64, Box<dyn std::error::Error>> {
    let cols = columns
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ");
    // HEADER for text format came with PostgreSQL 15; before that the header line is
    // skipped here (and the server's line numbers start after it).
    let major = copy_format::server_major(conn.parameter("server_version"));
    let server_header = args.format == Format::Csv || major.is_none_or(|v| v >= 15);
    let opts = match (args.format, args.header && server_header) {
        (Format::Csv, true) => "(FORMAT csv, HEADER true)",
        (Format::Csv, false) => "(FORMAT csv)",
        (Format::Tsv, true) => "(FORMAT text, HEADER true)",
        (Format::Tsv, false) => "(FORMAT text)",
    };
    let mut input = BufReader::with_capacity(256 * 1024, input);
    let mut note = "";
    if args.header && !server_header {
        let mut reader = Reader::new(input, reader_options(conn, args.format), columns);
        reader
            .skip_header()
            .map_err(|e| format!("{e}\nnothing was committed"))?;
        input = reader.into_inner();
        note = "\n(this server's COPY counts lines from the one after the header)";
    }
    let sql = format!(
        "COPY {} ({cols}) FROM STDIN {opts}",
        quote_ident(&args.table)
    );
    let failed = |e: pgline::Error| format!("COPY failed: {e}{note}\nnothing was committed");
    let mut w = conn.copy_in(&sql).await?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                // CopyFail rolls the COPY back; the read error is what the user needs.
                let _ = w.abort("pgline could not read its input").await;
                return Err(format!("cannot read the input: {e}\nnothing was committed").into());
            }
        };
        if let Err(e) = w.write(buf.get(..n).unwrap_or_default()).await {
            if e.breaks_connection() {
                return Err(failed(e).into());
            }
            // The server failed the COPY: its error, with the line, comes with the result.
            let e = match w.finish().await {
                Err(server) => server,
                Ok(_) => e,
            };
            return Err(failed(e).into());
        }
    }
    Ok(w.finish().await.map_err(failed)?)
}

/// The input line of each of the last rows sent, to name a failed row by its line. Rows
/// are answered in order and at most `window_rows` are unanswered, so a failure is always
/// among the last `window_rows` rows read (after one, no more rows are read).
struct RowLines {
    /// The row index of `lines[0]`.
    first: u64,
    lines: VecDeque<u64>,
    cap: usize,
}

impl RowLines {
    fn new(cap: usize) -> Self {
        Self {
            first: 0,
            lines: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    fn push(&mut self, line: u64) {
        if self.lines.len() == self.cap {
            self.lines.pop_front();
            self.first += 1;
        }
        self.lines.push_back(line);
    }

    fn get(&self, row: u64) -> Option<u64> {
        let k = usize::try_from(row.checked_sub(self.first)?).ok()?;
        self.lines.get(k).copied()
    }

    /// "line 7", or for a failure the server reported for a whole sync window (a deferred
    /// constraint) "a row between line 7 and line 90"; a 1-based data row if the line is
    /// no longer known.
    fn describe(&self, rows: &Range<u64>) -> String {
        let last = rows.end.saturating_sub(1).max(rows.start);
        match (self.get(rows.start), self.get(last)) {
            (Some(a), Some(b)) if a == b => format!("line {a}"),
            (Some(a), Some(b)) => {
                format!("a row between line {a} and line {b} (the server did not say which)")
            }
            _ => format!("data row {}", rows.start + 1),
        }
    }
}

/// The input's records as rows of parameters, noting each row's input line in `lines`
/// and the progress every 10,000 rows; an input error ends the rows and is left in `bad`.
fn records<'a, R: std::io::BufRead>(
    reader: &'a mut Reader<R>,
    lines: &'a mut RowLines,
    bad: &'a mut Option<InputError>,
    pb: &'a ProgressBar,
) -> impl Iterator<Item = Vec<AnyText>> + 'a {
    let mut n = 0u64;
    std::iter::from_fn(move || match reader.next_record() {
        Ok(Some(record)) => {
            lines.push(record.line);
            n += 1;
            if n % 10_000 == 0 {
                pb.set_message(format!("{n} rows"));
            }
            Some(record.fields.into_iter().map(AnyText).collect())
        }
        Ok(None) => None,
        Err(e) => {
            *bad = Some(e);
            None
        }
    })
}

/// Pipelined inserts in one explicit transaction: committed only when the whole input was
/// read without error and every row succeeded.
async fn pipeline(
    conn: &mut Connection,
    args: &LoadArgs,
    columns: &[String],
    input: impl Read,
    pb: &ProgressBar,
) -> Result<u64, Box<dyn std::error::Error>> {
    let input = BufReader::with_capacity(256 * 1024, input);
    let mut reader = Reader::new(input, reader_options(conn, args.format), columns);
    if args.header {
        reader
            .skip_header()
            .map_err(|e| format!("{e}\nnothing was committed"))?;
    }
    // Polled IO: the CLI's runtime runs nothing but the load.
    let opts = ExecuteManyOptions {
        io_tick: Some(pgline::conn::DEFAULT_IO_TICK),
        ..ExecuteManyOptions::default()
    };
    let mut lines = RowLines::new(opts.window_rows.saturating_mul(2));
    let mut bad: Option<InputError> = None;
    // An input error ends the rows; the transaction is rolled back below.
    let rows = records(&mut reader, &mut lines, &mut bad, pb);
    let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
    // Our own transaction, so that an input error after some rows were sent (they may
    // already be inserted) can still undo them: `load` commits only a transaction it
    // began itself.
    if conn.iris_capabilities().is_some_and(|c| !c.rollback) {
        return Err(
            "this iris-pgwire release cannot roll back (or was not declared with \
                    iris_pgwire_version), so a failed load could not be undone: nothing was sent"
                .into(),
        );
    }
    conn.batch_execute("BEGIN").await?;
    let report = conn
        .load(&args.table, &cols, rows, LoadMode::Pipeline, opts)
        .await
        .map_err(|e| format!("{}\nnothing was committed", e.error))?;
    let failure = if let Some(e) = bad {
        Some(e.to_string())
    } else {
        report.first_failure().map(|f| {
            let at = lines.describe(&f.rows);
            format!("{at} failed: {}", f.error)
        })
    };
    if let Some(failure) = failure {
        // Without COMMIT nothing is committed; a failed ROLLBACK changes nothing.
        let _ = conn.batch_execute("ROLLBACK").await;
        return Err(format!(
            "{failure}\nnothing was committed ({} read, {} failed, {} not run)",
            count_rows(report.rows_read),
            report.failures_total,
            report.rows_skipped
        )
        .into());
    }
    // A deferred constraint fails here, and rolls everything back.
    conn.batch_execute("COMMIT")
        .await
        .map_err(|e| format!("COMMIT failed: {e}\nnothing was committed"))?;
    Ok(report.rows_done)
}

/// `--jobs N`: the rows cut into chunks loaded by N connections at once, each batch of
/// `--batch-rows` rows its own transaction.
async fn parallel(
    conn: Connection,
    config: pgline::Config,
    args: &LoadArgs,
    columns: &[String],
) -> Result<(), Box<dyn std::error::Error>> {
    let (input, size) = open(&args.file)?;
    let pb = progress(size);
    let input = Progress {
        inner: input,
        pb: pb.clone(),
    };
    let input = BufReader::with_capacity(256 * 1024, input);
    let mut reader = Reader::new(input, reader_options(&conn, args.format), columns);
    // The workers open their own connections.
    conn.close().await?;
    if args.header {
        reader
            .skip_header()
            .map_err(|e| format!("{e}\nnothing was committed"))?;
    }
    let jobs = usize::from(args.jobs);
    let opts = ParallelOptions {
        jobs,
        chunk_rows: u64::from(args.batch_rows).saturating_mul(8),
        load: ExecuteManyOptions::with_atomicity(Atomicity::Batches(args.batch_rows)),
    };
    // A failure is in one of the chunks running when the load stopped: at most one per
    // connection, plus the one being read.
    let keep = usize::try_from(opts.chunk_rows)
        .unwrap_or(usize::MAX)
        .saturating_mul(jobs + 1);
    let mut lines = RowLines::new(keep);
    let mut bad: Option<InputError> = None;
    // An input error ends the rows: no new chunk starts.
    let rows = records(&mut reader, &mut lines, &mut bad, &pb);
    let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
    let started = Instant::now();
    let r = load_parallel(
        Connections::Open(&config),
        &args.table,
        &cols,
        rows,
        LoadMode::Pipeline,
        opts,
    )
    .await;
    pb.finish_and_clear();
    let (report, error) = match r {
        Ok(report) => (report, None),
        Err(e) => (e.report, Some(e.error)),
    };
    let load = &report.load;
    let failure = if let Some(e) = bad {
        Some(e.to_string())
    } else if let Some(f) = load.first_failure() {
        Some(format!("{} failed: {}", lines.describe(&f.rows), f.error))
    } else {
        error.map(|e| format!("a connection failed: {e}"))
    };
    if let Some(failure) = failure {
        return Err(format!(
            "{failure}\n{} committed{} ({} read, {} failed, {} not run, {} uncertain)",
            count_rows(load.rows_committed),
            committed_rows(&load.committed),
            count_rows(load.rows_read),
            load.failures_total,
            load.rows_skipped,
            load.rows_uncertain,
        )
        .into());
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "loaded {} rows in {secs:.2} s ({:.0} rows/s) via pipeline on {jobs} connections \
         (transactions of {} rows)",
        load.rows_committed,
        load.rows_committed as f64 / secs.max(1e-9),
        args.batch_rows
    );
    Ok(())
}

/// ": data rows 1-800, 1601-2400" (1-based, as many as fit in a line).
fn committed_rows(ranges: &[Range<u64>]) -> String {
    const SHOWN: usize = 8;
    if ranges.is_empty() {
        return String::new();
    }
    let mut s = ranges
        .iter()
        .take(SHOWN)
        .map(|r| format!("{}-{}", r.start + 1, r.end))
        .collect::<Vec<_>>()
        .join(", ");
    if ranges.len() > SHOWN {
        s.push_str(&format!(" and {} more ranges", ranges.len() - SHOWN));
    }
    format!(": data rows {s}")
}

/// "1 row", "2 rows".
fn count_rows(n: u64) -> String {
    format!("{n} row{}", if n == 1 { "" } else { "s" })
}
