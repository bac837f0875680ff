//! Reading CSV and PostgreSQL's text format exactly as `COPY ... FROM STDIN` reads them,
//! so that `pgline load --mode pipeline` loads the very values `--mode copy` loads.
//!
//! This is a port of PostgreSQL's `CopyReadLineText` ([`line`]) and
//! `CopyReadAttributesText` / `CopyReadAttributesCSV` ([`fields`]) from
//! `src/backend/commands/copyfromparse.c`, with COPY's default options: tab delimiter,
//! NULL `\N` and backslash escapes (text); comma delimiter, NULL an unquoted empty field,
//! quote and escape `"` (csv). It works on bytes; a value must be valid UTF-8 without NUL
//! (the client encoding), or the input is rejected with the line that holds the bad byte.
//!
//! Why not the `csv` crate: it cannot say whether a field was quoted, and COPY reads `""`
//! as an empty string but an empty unquoted field as NULL; it also skips blank lines,
//! accepts an unterminated quote at the end of the input and reads `a"b` as data, where
//! COPY loads a NULL row, fails, and starts a quoted part. A port has none of these gaps.
//!
//! No IO besides reading the input; no panics on any input (`tests.rs` feeds it garbage).
//!
//! # Line numbers
//!
//! Every error names a line: the 1-based physical line of the input, the header
//! included, counting LF, CRLF and a lone CR as one line break each, also inside a quoted
//! CSV value. A bad byte is reported on the line that holds it, anything else on the line
//! its row starts on. That is what an editor shows, and what COPY's own
//! `CONTEXT: COPY t, line N` says but in corner cases: COPY does not count a line break
//! escaped with a backslash (text format) or one inside quotes on the first line (CSV),
//! names the line a multi-line row ends on, and may name the line before a bad byte that
//! follows a lone CR (it looks ahead for an LF).

mod fields;
mod line;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io::BufRead;

use line::LineReader;

/// Which of COPY's two text-based formats, and how the server in use reads `\.`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Options {
    /// CSV (`FORMAT csv`) rather than PostgreSQL's text format (`FORMAT text`).
    pub(crate) csv: bool,
    /// How the server reads the end-of-data marker `\.`. PostgreSQL 17 and older end CSV
    /// data at a line that is just `\.`, and in text format keep data before a `\.` on its
    /// line as the last row; PostgreSQL 18 reads `\.` in CSV as a value and rejects text
    /// data before it ("end-of-copy marker is not alone on its line").
    pub(crate) pre_18_end_marker: bool,
}

impl Options {
    /// The options for a server whose `server_version` parameter is `version` (e.g.
    /// `15.4 (Debian 15.4-1)`, `16.0 (InterSystems IRIS)`); unknown means a current one.
    pub(crate) fn for_server(csv: bool, version: Option<&str>) -> Self {
        Self {
            csv,
            pre_18_end_marker: server_major(version).is_some_and(|v| v < 18),
        }
    }
}

/// The major version in a `server_version` parameter: its leading digits.
pub(crate) fn server_major(version: Option<&str>) -> Option<u32> {
    let v = version?.trim_start();
    let end = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    v.get(..end)?.parse().ok()
}

/// Input COPY would refuse, or input that could not be read: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InputError {
    /// The 1-based physical line (see the module docs).
    pub(crate) line: u64,
    /// What is wrong, in COPY's words where COPY has some.
    pub(crate) message: String,
}

impl InputError {
    fn new(line: u64, message: impl Into<String>) -> Self {
        Self {
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for InputError {}

/// One row of input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// The physical line the row starts on.
    pub(crate) line: u64,
    /// One value per column, `None` for NULL.
    pub(crate) fields: Vec<Option<String>>,
}

/// Rows from CSV or text-format input, for a fixed list of columns.
///
/// Call [`skip_header`](Self::skip_header) first if the input has a header line, then
/// [`next_record`](Self::next_record) until it returns `Ok(None)` (the end of the input, or
/// the `\.` marker) or an error. After an error the reader is not meant to be used again.
pub(crate) struct Reader<R> {
    lines: LineReader<R>,
    columns: Vec<String>,
    raw: Vec<Option<Vec<u8>>>,
}

impl<R: BufRead> Reader<R> {
    /// A reader of rows for `columns` (used for the count and in messages).
    pub(crate) fn new(input: R, options: Options, columns: &[String]) -> Self {
        Self {
            lines: LineReader::new(input, options),
            columns: columns.to_vec(),
            raw: Vec::with_capacity(columns.len()),
        }
    }

    /// Reads and drops one line, as COPY's `HEADER true` does (its encoding is checked).
    pub(crate) fn skip_header(&mut self) -> Result<(), InputError> {
        self.lines.read_line().map(drop)
    }

    /// The input, positioned just after what was read (to stream the rest as it is).
    pub(crate) fn into_inner(self) -> R {
        self.lines.into_inner()
    }

    /// The next row; `None` at the end of the data.
    pub(crate) fn next_record(&mut self) -> Result<Option<Record>, InputError> {
        let Some(line) = self.lines.read_line()? else {
            return Ok(None);
        };
        if self.lines.options().csv {
            fields::split_csv(self.lines.line(), &mut self.raw)
                .map_err(|m| InputError::new(line, m))?;
        } else {
            fields::split_text(self.lines.line(), &mut self.raw);
        }
        // COPY's checks and messages, in its order: too many fields first.
        if self.raw.len() > self.columns.len() {
            return Err(InputError::new(
                line,
                "extra data after last expected column",
            ));
        }
        if let Some(missing) = self.columns.get(self.raw.len()) {
            return Err(InputError::new(
                line,
                format!("missing data for column \"{missing}\""),
            ));
        }
        let mut fields = Vec::with_capacity(self.raw.len());
        for (value, column) in self.raw.drain(..).zip(&self.columns) {
            let Some(bytes) = value else {
                fields.push(None);
                continue;
            };
            // The line was valid UTF-8 without NUL; only text-format escapes (`\xff`,
            // `\0`, `\303`) can make a value that is not.
            let bad = |at: usize, bytes: &[u8]| {
                InputError::new(
                    line,
                    format!(
                        "column {column}: {} (made by backslash escapes)",
                        invalid_byte_sequence(bytes.get(at..).unwrap_or_default())
                    ),
                )
            };
            if let Some(at) = bytes.iter().position(|&b| b == 0) {
                return Err(bad(at, &bytes));
            }
            match String::from_utf8(bytes) {
                Ok(s) => fields.push(Some(s)),
                Err(e) => {
                    let at = e.utf8_error().valid_up_to();
                    return Err(bad(at, e.as_bytes()));
                }
            }
        }
        Ok(Some(Record { line, fields }))
    }
}

/// COPY's message for bytes that are not UTF-8 (or a NUL), naming the character's bytes:
/// `invalid byte sequence for encoding "UTF8": 0xc3 0x28`.
fn invalid_byte_sequence(bytes: &[u8]) -> String {
    // As PostgreSQL's report_invalid_encoding: as many bytes as the lead byte announces.
    let len = match bytes.first() {
        Some(0xc0..=0xdf) => 2,
        Some(0xe0..=0xef) => 3,
        Some(0xf0..=0xf7) => 4,
        _ => 1,
    };
    let shown: Vec<String> = bytes
        .iter()
        .take(len)
        .map(|b| format!("0x{b:02x}"))
        .collect();
    format!(
        "invalid byte sequence for encoding \"UTF8\": {}",
        shown.join(" ")
    )
}

/// The physical line breaks in `bytes`: LF, CRLF and a lone CR count one each.
fn line_breaks(bytes: &[u8]) -> u64 {
    let mut n = 0u64;
    let mut iter = bytes.iter().peekable();
    while let Some(&b) = iter.next() {
        if b == b'\n' || (b == b'\r' && iter.peek() != Some(&&b'\n')) {
            n += 1;
        }
    }
    n
}
