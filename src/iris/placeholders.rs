//! Placeholder rewriting for servers that bind `$n` **positionally** (iris-pgwire turns
//! every `$n` into `?`, so `SELECT $2, $1` gets the first value first and a repeated `$1`
//! needs two values; quirks doc §11 item 29, flag `Quirks::positional_placeholders`).
//!
//! [`rewrite`] renumbers the placeholders of a statement to `$1, $2, … $k` in textual
//! order, each used once, and says which of the caller's values feeds each new one:
//!
//! ```text
//!   SELECT $2, $1, $2          values [a, b]
//!   SELECT $1, $2, $3          values [b, a, b]      order = [1, 0, 1]
//! ```
//!
//! Pure functions over the SQL text: no IO, no state, never a panic on any input.
//!
//! # What counts as a placeholder
//!
//! The scanner follows PostgreSQL's lexer (`scan.l`, with `standard_conforming_strings`
//! on): `$` plus decimal digits, outside of
//!
//! - string literals `'…'` (`''` is a quote), including `B'…'`, `X'…'`, `N'…'`, `U&'…'`;
//! - escape strings `E'…'` (`\` escapes the next character, `''` is a quote);
//! - quoted identifiers `"…"` (`""` is a quote);
//! - `--` comments to the end of the line and `/* … */` comments, which nest;
//! - dollar-quoted strings `$tag$…$tag$`, where the tag is empty or an identifier that does
//!   not start with a digit;
//! - words: `$` continues an identifier, so `a$1` is one identifier, not `a` and `$1`.
//!
//! An unterminated quote or comment runs to the end of the text; nothing after it is a
//! placeholder. `$0` and numbers above 65535 are [`PlaceholderError`]s.
//!
//! Wiring note: the query path (the main engineer's work) calls [`rewrite`] when
//! `positional_placeholders` is set; until then nothing outside the tests uses this module.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

use std::fmt;

/// The largest placeholder number: Bind counts parameters in an `Int16` that PostgreSQL
/// reads as unsigned, so no statement can have more than 65535 parameters.
const MAX_PLACEHOLDER: u32 = u16::MAX as u32;

/// Why a statement's placeholders cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum PlaceholderError {
    /// `$0`: parameters are numbered from 1. `at` is the byte offset of the `$`.
    Zero {
        /// Byte offset of the `$` in the SQL.
        at: usize,
    },
    /// A placeholder number above 65535 (possibly too long for any integer type).
    TooLarge {
        /// Byte offset of the `$` in the SQL.
        at: usize,
    },
    /// The rewritten statement would need more than 65535 placeholders (a placeholder
    /// repeated that often).
    TooMany,
}

impl fmt::Display for PlaceholderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Zero { at } => {
                write!(
                    f,
                    "placeholder $0 at byte {at}: parameters are numbered from $1"
                )
            }
            Self::TooLarge { at } => {
                write!(f, "placeholder at byte {at} is above ${MAX_PLACEHOLDER}")
            }
            Self::TooMany => write!(
                f,
                "placeholders repeat so often that a rewritten statement would need more \
                 than {MAX_PLACEHOLDER} parameters"
            ),
        }
    }
}

impl std::error::Error for PlaceholderError {}

/// A statement renumbered for positional binding: see [`rewrite`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rewrite {
    /// The SQL with placeholders `$1..$k` in textual order, each once; every other byte
    /// is copied unchanged.
    pub(crate) sql: String,
    /// `order[i]` is the 0-based index of the caller's value that feeds placeholder
    /// `$i+1` of [`sql`](Self::sql). Its length is the new parameter count.
    pub(crate) order: Vec<u16>,
}

impl Rewrite {
    /// The caller's values in the rewritten statement's order (repeated where a
    /// placeholder was repeated), or `None` if the original SQL references a value the
    /// caller did not supply. Also use it for parameter type OIDs.
    #[cfg(test)]
    pub(crate) fn reorder<T: Clone>(&self, params: &[T]) -> Option<Vec<T>> {
        self.order
            .iter()
            .map(|&i| params.get(usize::from(i)).cloned())
            .collect()
    }
}

/// Renumbers the placeholders of `sql` for a server that binds them positionally.
///
/// Returns `Ok(None)`, without allocating, when nothing needs to change: no placeholders,
/// or exactly `$1, $2, … $k` in textual order, each once. Otherwise returns the rewritten
/// SQL and the value order. A gap is closed up: `SELECT $3` becomes `SELECT $1` fed by
/// the caller's third value (`order == [2]`).
///
/// Whether the caller supplied enough values is the caller's check: compare
/// [`max_index`] with the number of values (or use [`Rewrite::reorder`]).
pub(crate) fn rewrite(sql: &str) -> Result<Option<Rewrite>, PlaceholderError> {
    // Pass 1, no allocation: are the placeholders already 1, 2, …, k?
    let mut in_order = true;
    for (i, p) in Placeholders::new(sql).enumerate() {
        in_order &= usize::from(p?.number) == i + 1;
    }
    if in_order {
        return Ok(None);
    }

    // Pass 2: copy the text between placeholders, renumber the placeholders.
    let mut out = String::with_capacity(sql.len() + 8);
    let mut order = Vec::new();
    let mut copied = 0;
    for p in Placeholders::new(sql) {
        let p = p?;
        let new_number = order.len() + 1;
        if new_number > MAX_PLACEHOLDER as usize {
            return Err(PlaceholderError::TooMany);
        }
        out.push_str(text(sql, copied, p.start));
        out.push('$');
        // `fmt::Write` for `String` cannot fail.
        let _ = fmt::Write::write_fmt(&mut out, format_args!("{new_number}"));
        order.push(p.number - 1);
        copied = p.end;
    }
    out.push_str(text(sql, copied, sql.len()));
    Ok(Some(Rewrite { sql: out, order }))
}

/// The largest placeholder number in `sql` (`$3` → 3), or 0 when it has none: the number
/// of values the caller must supply at least.
pub(crate) fn max_index(sql: &str) -> Result<u16, PlaceholderError> {
    Placeholders::new(sql).try_fold(0, |max, p| Ok(max.max(p?.number)))
}

/// `sql[start..end]`. The scanner only cuts next to ASCII bytes (`$` and digits), which are
/// always character boundaries, so this never falls back.
fn text(sql: &str, start: usize, end: usize) -> &str {
    let slice = sql.get(start..end);
    debug_assert!(slice.is_some(), "cut inside a character at {start}..{end}");
    slice.unwrap_or_default()
}

/// One placeholder: `sql[start..end]` is `$` followed by the digits of `number`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placeholder {
    /// Byte offset of the `$`.
    pub(crate) start: usize,
    /// Byte offset just past the last digit.
    pub(crate) end: usize,
    /// The placeholder number, 1..=65535.
    pub(crate) number: u16,
}

/// The placeholders of a statement in textual order. Stops after the first error.
#[derive(Debug, Clone)]
pub(crate) struct Placeholders<'a> {
    sql: &'a [u8],
    pos: usize,
}

impl<'a> Placeholders<'a> {
    /// Scans `sql` from the start.
    pub(crate) fn new(sql: &'a str) -> Self {
        Self {
            sql: sql.as_bytes(),
            pos: 0,
        }
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.sql.get(i).copied()
    }

    /// Reads `$digits` at `start` (the `$`), leaving `pos` after the digits.
    fn placeholder(&mut self, start: usize) -> Result<Placeholder, PlaceholderError> {
        let mut end = start + 1;
        let mut number: u32 = 0;
        let mut too_large = false;
        while let Some(d @ b'0'..=b'9') = self.at(end) {
            number = number * 10 + u32::from(d - b'0');
            if number > MAX_PLACEHOLDER {
                // Keep consuming digits (so `pos` lands after them) without overflowing.
                too_large = true;
                number = MAX_PLACEHOLDER + 1;
            }
            end += 1;
        }
        self.pos = end;
        match u16::try_from(number) {
            _ if too_large => Err(PlaceholderError::TooLarge { at: start }),
            Ok(0) => Err(PlaceholderError::Zero { at: start }),
            Ok(number) => Ok(Placeholder { start, end, number }),
            Err(_) => Err(PlaceholderError::TooLarge { at: start }),
        }
    }

    /// Skips a quoted run starting after its opening `quote`: a doubled quote stands for
    /// itself; with `backslash`, `\` escapes the next byte (a UTF-8 continuation byte is
    /// never a quote or backslash, so stepping one byte is safe). Unterminated: to the end.
    fn skip_quoted(&mut self, quote: u8, backslash: bool) {
        let mut i = self.pos;
        loop {
            match self.at(i) {
                None => break,
                Some(b'\\') if backslash => i += 2,
                Some(b) if b == quote => {
                    if self.at(i + 1) == Some(quote) {
                        i += 2;
                    } else {
                        i += 1;
                        break;
                    }
                }
                Some(_) => i += 1,
            }
        }
        self.pos = i.min(self.sql.len());
    }

    /// Skips a `/* … */` comment whose `/*` ends at `pos`. Comments nest.
    fn skip_block_comment(&mut self) {
        let mut depth = 1usize;
        let mut i = self.pos;
        while depth > 0 {
            match (self.at(i), self.at(i + 1)) {
                (None, _) => break,
                (Some(b'/'), Some(b'*')) => {
                    depth += 1;
                    i += 2;
                }
                (Some(b'*'), Some(b'/')) => {
                    depth -= 1;
                    i += 2;
                }
                _ => i += 1,
            }
        }
        self.pos = i.min(self.sql.len());
    }

    /// If a dollar-quote delimiter `$tag$` starts at `start`, its length.
    ///
    /// `scan.l`: `dolqdelim \$({dolq_start}{dolq_cont}*)?\$`, where `dolq_start` is
    /// `[A-Za-z\200-\377_]` and `dolq_cont` adds digits.
    fn dollar_tag_len(&self, start: usize) -> Option<usize> {
        let mut i = start + 1;
        if self.at(i).is_some_and(is_ident_start) {
            i += 1;
            while self.at(i).is_some_and(is_dolq_cont) {
                i += 1;
            }
        }
        (self.at(i) == Some(b'$')).then_some(i + 1 - start)
    }

    /// Skips a dollar-quoted body and its closing delimiter, identical to the opening
    /// `sql[start..start + len]`. PostgreSQL's lexer restarts at every `$` inside the body
    /// and closes at the first full delimiter, which is the leftmost occurrence.
    fn skip_dollar_quoted(&mut self, start: usize, len: usize) {
        let body = start + len;
        let tag = self.sql.get(start..body).unwrap_or_default();
        let rest = self.sql.get(body..).unwrap_or_default();
        self.pos = match rest.windows(len).position(|w| w == tag) {
            Some(offset) => body + offset + len,
            None => self.sql.len(),
        };
    }
}

impl Iterator for Placeholders<'_> {
    type Item = Result<Placeholder, PlaceholderError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let start = self.pos;
            let b = self.at(start)?;
            self.pos = start + 1;
            match b {
                b'\'' => self.skip_quoted(b'\'', false),
                b'"' => self.skip_quoted(b'"', false),
                b'-' if self.at(start + 1) == Some(b'-') => {
                    // `--` to the end of the line (`\n` or `\r`, as scan.l's `newline`).
                    let rest = self.sql.get(start..).unwrap_or_default();
                    self.pos = match rest.iter().position(|&c| c == b'\n' || c == b'\r') {
                        Some(n) => start + n + 1,
                        None => self.sql.len(),
                    };
                }
                b'/' if self.at(start + 1) == Some(b'*') => {
                    self.pos = start + 2;
                    self.skip_block_comment();
                }
                b'$' if self.at(start + 1).is_some_and(|c| c.is_ascii_digit()) => {
                    let p = self.placeholder(start);
                    if p.is_err() {
                        // Fused: nothing after an error.
                        self.pos = self.sql.len();
                    }
                    return Some(p);
                }
                b'$' => {
                    if let Some(len) = self.dollar_tag_len(start) {
                        self.skip_dollar_quoted(start, len);
                    }
                }
                b if is_ident_start(b) || b.is_ascii_digit() => {
                    // A word: an identifier, keyword or number. `$` continues it, so
                    // `a$1` is an identifier; `1$1` is not valid SQL either way.
                    let mut i = start + 1;
                    while self.at(i).is_some_and(|c| is_dolq_cont(c) || c == b'$') {
                        i += 1;
                    }
                    self.pos = i;
                    // `E'…'` (one-letter word E right before the quote) is an escape string.
                    if i == start + 1 && matches!(b, b'e' | b'E') && self.at(i) == Some(b'\'') {
                        self.pos = i + 1;
                        self.skip_quoted(b'\'', true);
                    }
                }
                _ => {}
            }
        }
    }
}

/// `scan.l` `ident_start`: `[A-Za-z\200-\377_]` (every byte of a non-ASCII character).
fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

/// `scan.l` `dolq_cont`: `ident_start` plus digits (identifiers also take `$`).
fn is_dolq_cont(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit()
}

#[cfg(test)]
mod tests;
