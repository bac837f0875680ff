//! Splitting the input into lines as COPY does (`CopyReadLineText`): a line ends at LF,
//! CRLF or CR, and every line must end the way the first one did; in text format a
//! backslash takes the next byte (a line break too) into the line, and `\.` ends the data;
//! in CSV a line break inside quotes belongs to the line.
//!
//! ```text
//!   first line ends in   later lines must end in   else ("... found in data")
//!   LF                   LF                        a CR is "carriage return"
//!   CRLF                 CRLF                      a lone CR or LF
//!   CR                   CR                        an LF is "newline"
//! ```

use std::io::{BufRead, ErrorKind};

use super::{invalid_byte_sequence, line_breaks, InputError, Options};

/// The line ending, fixed by the first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Eol {
    Unknown,
    Nl,
    Cr,
    CrNl,
}

/// Reads one line at a time into a buffer it reuses. Each byte is looked at once, so a
/// line of any length (a quoted CSV field of a million short lines) costs linear time.
pub(super) struct LineReader<R> {
    input: R,
    options: Options,
    eol: Eol,
    /// The physical line the next line starts on.
    next_line: u64,
    /// The end of the input, or the end-of-data marker, was reached.
    done: bool,
    /// The input returned no more bytes.
    eof: bool,
    /// The current line, without its line ending.
    buf: Vec<u8>,
}

impl<R: BufRead> LineReader<R> {
    pub(super) fn new(input: R, options: Options) -> Self {
        Self {
            input,
            options,
            eol: Eol::Unknown,
            next_line: 1,
            done: false,
            eof: false,
            buf: Vec::new(),
        }
    }

    pub(super) fn options(&self) -> Options {
        self.options
    }

    pub(super) fn into_inner(self) -> R {
        self.input
    }

    /// The line [`read_line`](Self::read_line) read, without its line ending.
    pub(super) fn line(&self) -> &[u8] {
        &self.buf
    }

    /// Reads the next line into [`line`](Self::line) and returns the physical line it
    /// starts on; `None` at the end of the data. The line is valid UTF-8 without NUL.
    pub(super) fn read_line(&mut self) -> Result<Option<u64>, InputError> {
        self.buf.clear();
        if self.done {
            return Ok(None);
        }
        let start = self.next_line;
        let csv = self.options.csv;
        // Line breaks inside the line (quoted in CSV, escaped in text format).
        let mut breaks = 0u64;
        let mut in_quote = false;
        loop {
            self.take_plain(start)?;
            let Some(c) = self.next_byte(start)? else {
                // The end of the input: a last line without a line ending, or nothing.
                self.done = true;
                if self.buf.is_empty() {
                    return Ok(None);
                }
                break;
            };
            match c {
                b'"' if csv => {
                    // COPY's CSV line splitting just toggles: `""` inside quotes leaves the
                    // state as it was.
                    in_quote = !in_quote;
                    self.buf.push(c);
                }
                b'\n' | b'\r' if csv && in_quote => {
                    self.buf.push(c);
                    if c == b'\n' || self.peek(start)? != Some(b'\n') {
                        breaks += 1;
                    }
                }
                b'\\' if !csv => match self.peek(start)? {
                    // A backslash at the very end: kept; the field decoder drops it.
                    None => self.buf.push(c),
                    Some(b'.') => {
                        self.input.consume(1);
                        return self.end_marker(start, breaks);
                    }
                    // "backslash quotes the following character even if it's a newline"
                    Some(e) => {
                        self.input.consume(1);
                        self.buf.extend_from_slice(&[c, e]);
                        if e == b'\n' || (e == b'\r' && self.peek(start)? != Some(b'\n')) {
                            breaks += 1;
                        }
                    }
                },
                b'\r' => {
                    match self.eol {
                        Eol::Unknown | Eol::CrNl => {
                            if self.peek(start)? == Some(b'\n') {
                                self.input.consume(1);
                                self.eol = Eol::CrNl;
                            } else if self.eol == Eol::CrNl {
                                return Err(self.stray(start + breaks, "carriage return", "r"));
                            } else {
                                self.eol = Eol::Cr;
                            }
                        }
                        Eol::Nl => {
                            return Err(self.stray(start + breaks, "carriage return", "r"));
                        }
                        Eol::Cr => {}
                    }
                    break;
                }
                b'\n' => {
                    if matches!(self.eol, Eol::Cr | Eol::CrNl) {
                        return Err(self.stray(start + breaks, "newline", "n"));
                    }
                    self.eol = Eol::Nl;
                    break;
                }
                _ => self.buf.push(c),
            }
        }
        self.next_line = start + breaks + 1;
        // PostgreSQL 17 and older: "In CSV mode, we only recognize \. alone on a line."
        // (It must end with a line ending; at the end of the input it is a value.)
        if csv && self.options.pre_18_end_marker && self.buf == b"\\." && !self.done {
            self.done = true;
            return Ok(None);
        }
        self.check_encoding(start)?;
        Ok(Some(start))
    }

    /// After `\.` in text format: the marker must be followed by the file's line ending,
    /// and nothing may follow it on its line; after it, the input is not read.
    fn end_marker(&mut self, start: u64, breaks: u64) -> Result<Option<u64>, InputError> {
        let at = start + breaks;
        let not_alone = || InputError::new(at, "end-of-copy marker is not alone on its line");
        let style = || {
            InputError::new(
                at,
                "end-of-copy marker does not match previous newline style",
            )
        };
        let mut c2 = self.next_byte(at)?;
        if self.eol == Eol::CrNl {
            match c2 {
                Some(b'\r') => c2 = self.next_byte(at)?,
                Some(b'\n') => return Err(style()),
                _ => return Err(not_alone()),
            }
        }
        let Some(c2 @ (b'\r' | b'\n')) = c2 else {
            return Err(not_alone());
        };
        let matches = match self.eol {
            Eol::Unknown => true,
            Eol::Nl | Eol::CrNl => c2 == b'\n',
            Eol::Cr => c2 == b'\r',
        };
        if !matches {
            return Err(style());
        }
        self.done = true;
        if self.buf.is_empty() {
            return Ok(None);
        }
        if !self.options.pre_18_end_marker {
            return Err(not_alone());
        }
        // PostgreSQL 17 and older load the data before the marker as the last line.
        self.check_encoding(start)?;
        Ok(Some(start))
    }

    /// The line must be valid UTF-8 without NUL, as the server checks all COPY input.
    fn check_encoding(&self, start: u64) -> Result<(), InputError> {
        let invalid = std::str::from_utf8(&self.buf)
            .err()
            .map(|e| e.valid_up_to());
        let nul = self.buf.iter().position(|&b| b == 0);
        let at = match (invalid, nul) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match at {
            None => Ok(()),
            Some(at) => {
                let before = self.buf.get(..at).unwrap_or_default();
                Err(InputError::new(
                    start + line_breaks(before),
                    invalid_byte_sequence(self.buf.get(at..).unwrap_or_default()),
                ))
            }
        }
    }

    /// COPY's error for a line break that is not the file's line ending, with its hint.
    fn stray(&self, line: u64, what: &str, letter: &str) -> InputError {
        let message = if self.options.csv {
            format!("unquoted {what} found in data (use a quoted CSV field to represent {what})")
        } else {
            format!("literal {what} found in data (use \"\\{letter}\" to represent {what})")
        };
        InputError::new(
            line,
            format!("{message}; every line must end as the first one does"),
        )
    }

    /// Appends the bytes up to the next one that needs a look (a line break, or the quote
    /// in CSV, or the backslash in text format), leaving that byte unread.
    fn take_plain(&mut self, line: u64) -> Result<(), InputError> {
        let special: fn(&u8) -> bool = if self.options.csv {
            |&b| b == b'\n' || b == b'\r' || b == b'"'
        } else {
            |&b| b == b'\n' || b == b'\r' || b == b'\\'
        };
        loop {
            let chunk = fill(&mut self.input, &mut self.eof, line)?;
            if chunk.is_empty() {
                return Ok(());
            }
            let stop = chunk.iter().position(special);
            let n = stop.unwrap_or(chunk.len());
            self.buf
                .extend_from_slice(chunk.get(..n).unwrap_or_default());
            self.input.consume(n);
            if stop.is_some() {
                return Ok(());
            }
        }
    }

    fn peek(&mut self, line: u64) -> Result<Option<u8>, InputError> {
        Ok(fill(&mut self.input, &mut self.eof, line)?.first().copied())
    }

    fn next_byte(&mut self, line: u64) -> Result<Option<u8>, InputError> {
        let b = self.peek(line)?;
        if b.is_some() {
            self.input.consume(1);
        }
        Ok(b)
    }
}

/// `fill_buf`, retrying when interrupted; a read error names the line being read. Once
/// the input has ended, it is not read again (a terminal would wait for a second Ctrl-D).
fn fill<'a, R: BufRead>(
    input: &'a mut R,
    eof: &mut bool,
    line: u64,
) -> Result<&'a [u8], InputError> {
    if *eof {
        return Ok(&[]);
    }
    let err = |e: std::io::Error| InputError::new(line, format!("cannot read the input: {e}"));
    let empty = loop {
        match input.fill_buf() {
            Ok(b) => break b.is_empty(),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(err(e)),
        }
    };
    if empty {
        *eof = true;
        return Ok(&[]);
    }
    // Bytes are buffered: this returns them without reading.
    input.fill_buf().map_err(err)
}
