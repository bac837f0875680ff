//! `pgline load`: CSV/TSV from a file or stdin into a table, by COPY or pipelined
//! inserts, with a progress bar and a one-line summary.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::time::Instant;

use bytes::{BufMut, BytesMut};
use indicatif::{ProgressBar, ProgressStyle};
use pgline::conn::{quote_ident, ExecuteManyOptions, LoadMode};
use pgline::protocol::frontend::IsNull;
use pgline::types::{ConversionError, ToSql, ValueType};
use pgline::Connection;

use crate::connect_config;

/// Input formats.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// Comma-separated, RFC 4180 quoting; an empty unquoted field is NULL.
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

/// Splits one CSV record; `None` when the input ends inside a quoted field.
fn parse_csv(line: &str) -> Option<Vec<Option<String>>> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => {
                quoted = true;
                was_quoted = true;
            }
            (false, ',') => {
                out.push((was_quoted || !field.is_empty()).then(|| std::mem::take(&mut field)));
                was_quoted = false;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return None;
    }
    out.push((was_quoted || !field.is_empty()).then_some(field));
    Some(out)
}

/// Splits one line of PostgreSQL text format.
fn parse_tsv(line: &str) -> Vec<Option<String>> {
    line.split('\t')
        .map(|f| {
            if f == "\\N" {
                return None;
            }
            let mut s = String::with_capacity(f.len());
            let mut chars = f.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    match chars.next() {
                        Some('t') => s.push('\t'),
                        Some('n') => s.push('\n'),
                        Some('r') => s.push('\r'),
                        Some(o) => s.push(o),
                        None => {}
                    }
                } else {
                    s.push(c);
                }
            }
            Some(s)
        })
        .collect()
}

fn open(path: &PathBuf) -> std::io::Result<(Box<dyn Read>, Option<u64>)> {
    if path.as_os_str() == "-" {
        return Ok((Box::new(std::io::stdin()), None));
    }
    let f = std::fs::File::open(path)?;
    let len = f.metadata().ok().map(|m| m.len());
    Ok((Box::new(f), len))
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
    let mode = match args.mode {
        Mode::Auto if conn.quirks().copy_out_broken => Mode::Pipeline,
        Mode::Auto => Mode::Copy,
        m => m,
    };
    let (input, size) = open(&args.file)?;
    let pb = progress(size);
    let started = Instant::now();
    let (rows, label) = match mode {
        Mode::Copy => (copy(&mut conn, &args, &columns, input, &pb).await?, "copy"),
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

async fn copy(
    conn: &mut Connection,
    args: &LoadArgs,
    columns: &[String],
    mut input: Box<dyn Read>,
    pb: &ProgressBar,
) -> Result<u64, Box<dyn std::error::Error>> {
    let cols = columns
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ");
    let opts = match (args.format, args.header) {
        (Format::Csv, true) => "(FORMAT csv, HEADER true)",
        (Format::Csv, false) => "(FORMAT csv)",
        (Format::Tsv, _) => "(FORMAT text)",
    };
    let sql = format!(
        "COPY {} ({cols}) FROM STDIN {opts}",
        quote_ident(&args.table)
    );
    let mut w = conn.copy_in(&sql).await?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut skip_header = args.header && args.format == Format::Tsv;
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let mut chunk = buf.get(..n).unwrap_or(&[]);
        if skip_header {
            match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    chunk = chunk.get(i + 1..).unwrap_or(&[]);
                    skip_header = false;
                }
                None => chunk = &[],
            }
        }
        w.write(chunk).await?;
        pb.inc(n as u64);
    }
    Ok(w.finish().await?)
}

async fn pipeline(
    conn: &mut Connection,
    args: &LoadArgs,
    columns: &[String],
    input: Box<dyn Read>,
    pb: &ProgressBar,
) -> Result<u64, Box<dyn std::error::Error>> {
    let mut lines = BufReader::new(input).lines();
    if args.header {
        lines.next().transpose()?;
    }
    let format = args.format;
    let mut bad: Option<String> = None;
    let mut n = 0u64;
    let rows = std::iter::from_fn(|| {
        let mut line = match lines.next()? {
            Ok(l) => l,
            Err(e) => {
                bad = Some(e.to_string());
                return None;
            }
        };
        n += 1;
        pb.inc(line.len() as u64 + 1);
        if n % 10_000 == 0 {
            pb.set_message(format!("{n} rows"));
        }
        let fields = match format {
            Format::Tsv => parse_tsv(&line),
            Format::Csv => loop {
                if let Some(f) = parse_csv(&line) {
                    break f;
                }
                // A quoted field spans lines.
                match lines.next() {
                    Some(Ok(next)) => {
                        line.push('\n');
                        line.push_str(&next);
                    }
                    _ => {
                        bad = Some(format!("unterminated quoted field at row {n}"));
                        return None;
                    }
                }
            },
        };
        Some(fields.into_iter().map(AnyText).collect::<Vec<_>>())
    });
    let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
    let report = conn
        .load(
            &args.table,
            &cols,
            rows,
            LoadMode::Pipeline,
            ExecuteManyOptions::default(),
        )
        .await
        .map_err(|e| format!("{e}"))?;
    if let Some(e) = bad {
        return Err(format!("cannot read input: {e}").into());
    }
    if let Some(f) = report.first_failure() {
        let code = f.error.code().unwrap_or("-");
        return Err(format!(
            "row {} failed (SQLSTATE {code}): {}; nothing was committed ({report})",
            f.index + 1,
            f.error
        )
        .into());
    }
    Ok(report.rows_committed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_parses_quotes_escaped_quotes_and_nulls() {
        assert_eq!(
            parse_csv(r#"1,"a,b","say ""hi""",,"""#),
            Some(vec![
                Some("1".into()),
                Some("a,b".into()),
                Some("say \"hi\"".into()),
                None,
                Some(String::new())
            ])
        );
        assert_eq!(parse_csv("\"open"), None);
    }

    #[test]
    fn tsv_parses_nulls_and_escapes() {
        assert_eq!(
            parse_tsv("1\t\\N\ta\\tb"),
            vec![Some("1".into()), None, Some("a\tb".into())]
        );
    }
}
