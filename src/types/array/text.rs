//! The text form of arrays: `array_out`'s quoting when writing, `array_in`'s grammar when
//! reading (one pass, at most 6 levels, at most one element per input byte).

use std::borrow::Cow;

use bytes::{BufMut, BytesMut};

use super::wire::{is_pg_space, put_quoted};
use super::{Dimension, MAX_DIMENSIONS};
use crate::types::scalar::parse_int;
use crate::types::{ConversionError, IsNull, ToSql, ValueType};

// ---------------------------------------------------------------------------------------
// Writing

/// Whether array_out quotes this element text.
fn needs_quotes(s: &[u8]) -> bool {
    s.is_empty()
        || s.eq_ignore_ascii_case(b"NULL")
        || s.iter()
            .any(|&b| matches!(b, b'{' | b'}' | b',' | b'"' | b'\\') || is_pg_space(b))
}

/// Writes `elems` with shape `dims` (checked by the caller) as array_out would.
pub(super) fn write<T: ToSql>(
    elems: &[T],
    dims: &[Dimension],
    elem_ty: ValueType,
    out: &mut BytesMut,
    rust: &'static str,
) -> Result<(), ConversionError> {
    if elems.is_empty() || dims.is_empty() {
        out.extend_from_slice(b"{}");
        return Ok(());
    }
    if dims.iter().any(|d| d.lower_bound != 1) {
        for d in dims {
            let upper = i64::from(d.lower_bound) + i64::from(d.len) - 1;
            out.put_u8(b'[');
            crate::types::scalar::put_int_text(out, i64::from(d.lower_bound));
            out.put_u8(b':');
            crate::types::scalar::put_int_text(out, upper);
            out.put_u8(b']');
        }
        out.put_u8(b'=');
    }
    let mut scratch = BytesMut::new();
    let mut iter = elems.iter();
    write_level(dims, &mut iter, elem_ty, out, &mut scratch, rust)
}

fn write_level<'e, T: ToSql + 'e>(
    dims: &[Dimension],
    elems: &mut impl Iterator<Item = &'e T>,
    elem_ty: ValueType,
    out: &mut BytesMut,
    scratch: &mut BytesMut,
    rust: &'static str,
) -> Result<(), ConversionError> {
    let Some((d, inner)) = dims.split_first() else {
        return Ok(());
    };
    out.put_u8(b'{');
    for j in 0..d.len {
        if j > 0 {
            out.put_u8(b',');
        }
        if inner.is_empty() {
            let v = elems.next().ok_or(ConversionError::invalid(
                rust,
                "fewer elements than the dimensions",
            ))?;
            scratch.clear();
            match v.to_sql(elem_ty, scratch)? {
                IsNull::Yes => out.extend_from_slice(b"NULL"),
                IsNull::No => put_quoted(out, scratch, needs_quotes(scratch)),
            }
        } else {
            write_level(inner, elems, elem_ty, out, scratch, rust)?;
        }
    }
    out.put_u8(b'}');
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Reading

/// A parsed text array: its shape and its elements (row-major; `None` is NULL). Elements
/// borrow from the input unless they had escapes.
#[derive(Debug, PartialEq)]
pub(super) struct Parsed<'a> {
    pub(super) dims: Vec<Dimension>,
    pub(super) elements: Vec<Option<Cow<'a, [u8]>>>,
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    rust: &'static str,
}

impl<'a> Parser<'a> {
    fn err(&self, reason: &'static str) -> ConversionError {
        ConversionError::invalid(self.rust, reason)
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_pg_space) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, b: u8, reason: &'static str) -> Result<(), ConversionError> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(reason))
        }
    }

    /// An optionally signed integer (a subscript in the dimension prefix).
    fn int(&mut self) -> Result<i32, ConversionError> {
        let start = self.pos;
        if matches!(self.peek(), Some(b'-' | b'+')) {
            self.pos += 1;
        }
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.s
            .get(start..self.pos)
            .and_then(|digits| parse_int(digits, false))
            .and_then(|v| i32::try_from(v).ok())
            .ok_or(self.err("bad subscript in the dimension prefix"))
    }

    /// `[lb:ub]…=` (or `[ub]`, lower bound 1), before the braces.
    fn dimension_prefix(&mut self) -> Result<Vec<Dimension>, ConversionError> {
        let mut dims = Vec::new();
        while self.peek() == Some(b'[') {
            if dims.len() == MAX_DIMENSIONS {
                return Err(self.err("more than 6 dimensions"));
            }
            self.pos += 1;
            self.skip_space();
            let first = self.int()?;
            self.skip_space();
            let (lower, upper) = if self.peek() == Some(b':') {
                self.pos += 1;
                self.skip_space();
                let upper = self.int()?;
                self.skip_space();
                (first, upper)
            } else {
                (1, first)
            };
            self.expect(b']', "missing ] in the dimension prefix")?;
            let len = upper
                .checked_sub(lower)
                .and_then(|n| n.checked_add(1))
                .filter(|&n| n > 0)
                .ok_or(self.err("upper bound below lower bound"))?;
            dims.push(Dimension {
                len,
                lower_bound: lower,
            });
            self.skip_space();
        }
        if !dims.is_empty() {
            self.expect(b'=', "missing = after the dimension prefix")?;
            self.skip_space();
        }
        Ok(dims)
    }

    /// A double-quoted element (the opening quote is next).
    fn quoted(&mut self) -> Result<Cow<'a, [u8]>, ConversionError> {
        self.pos += 1;
        let start = self.pos;
        let mut owned: Option<Vec<u8>> = None;
        loop {
            let b = self.peek().ok_or(self.err("unterminated quoted element"))?;
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let escaped = self.peek().ok_or(self.err("unterminated quoted element"))?;
                    self.pos += 1;
                    let buf = owned.get_or_insert_with(|| {
                        self.s.get(start..self.pos - 2).unwrap_or_default().to_vec()
                    });
                    buf.push(escaped);
                }
                _ => {
                    if let Some(buf) = owned.as_mut() {
                        buf.push(b);
                    }
                }
            }
        }
        Ok(match owned {
            Some(buf) => Cow::Owned(buf),
            None => Cow::Borrowed(self.s.get(start..self.pos - 1).unwrap_or_default()),
        })
    }

    /// An unquoted element: up to `,` or `}`, backslash escapes honoured, surrounding
    /// whitespace dropped; `NULL` (any case, unescaped) is NULL.
    fn unquoted(&mut self) -> Result<Option<Cow<'a, [u8]>>, ConversionError> {
        let start = self.pos;
        let mut owned: Option<Vec<u8>> = None;
        // End of the element text without trailing unescaped whitespace (in the input
        // while nothing is escaped, in `owned` after that).
        let mut end = self.pos;
        let mut owned_end = 0;
        while let Some(b) = self.peek() {
            match b {
                b',' | b'}' => break,
                b'{' | b'"' => return Err(self.err("unexpected { or \" inside an element")),
                b'\\' => {
                    let escaped = self
                        .s
                        .get(self.pos + 1)
                        .copied()
                        .ok_or(self.err("unterminated escape"))?;
                    let buf = owned.get_or_insert_with(|| {
                        self.s.get(start..self.pos).unwrap_or_default().to_vec()
                    });
                    buf.push(escaped);
                    owned_end = buf.len();
                    self.pos += 2;
                }
                _ => {
                    self.pos += 1;
                    match owned.as_mut() {
                        Some(buf) => {
                            buf.push(b);
                            if !is_pg_space(b) {
                                owned_end = buf.len();
                            }
                        }
                        None if !is_pg_space(b) => end = self.pos,
                        None => {}
                    }
                }
            }
        }
        match owned {
            Some(mut buf) => {
                buf.truncate(owned_end);
                Ok(Some(Cow::Owned(buf)))
            }
            None => {
                let text = self.s.get(start..end).unwrap_or_default();
                if text.is_empty() {
                    Err(self.err("empty unquoted element"))
                } else if text.eq_ignore_ascii_case(b"NULL") {
                    Ok(None)
                } else {
                    Ok(Some(Cow::Borrowed(text)))
                }
            }
        }
    }
}

/// Parses array_in's grammar: an optional dimension prefix, then nested braces whose
/// sub-arrays must all have the same length at each level.
pub(super) fn parse<'a>(s: &'a [u8], rust: &'static str) -> Result<Parsed<'a>, ConversionError> {
    let mut p = Parser { s, pos: 0, rust };
    p.skip_space();
    let declared = p.dimension_prefix()?;
    p.expect(b'{', "array text does not start with {")?;

    let mut elements: Vec<Option<Cow<'_, [u8]>>> = Vec::new();
    // Per level (0 = outermost): items in the open sub-array, and the length every
    // sub-array at that level must have (set by the first one to close).
    let mut counts = [0usize; MAX_DIMENSIONS];
    let mut lens: [Option<usize>; MAX_DIMENSIONS] = [None; MAX_DIMENSIONS];
    let mut depth = 1usize; // levels open
    let mut max_depth = 1usize;
    // The depth at which elements sit, fixed by the first element.
    let mut ndim: Option<usize> = None;
    // After `{` or `,`: an item must come (or `}` right after `{`).
    let mut after_open = true;

    loop {
        p.skip_space();
        let b = p.peek().ok_or(p.err("unterminated array"))?;
        let level = depth - 1;
        match b {
            b'}' => {
                let n = counts.get(level).copied().unwrap_or(0);
                if after_open && n > 0 {
                    return Err(p.err("missing element after ,"));
                }
                p.pos += 1;
                let slot = lens.get_mut(level).ok_or(p.err("too deep"))?;
                match *slot {
                    Some(len) if len != n => {
                        return Err(p.err("sub-arrays of different lengths"));
                    }
                    _ => *slot = Some(n),
                }
                depth -= 1;
                if depth == 0 {
                    break;
                }
                after_open = false;
            }
            _ if !after_open => {
                p.expect(b',', "expected , or } after an element")?;
                after_open = true;
                // `,` must be followed by an item.
                p.skip_space();
                if p.peek() == Some(b'}') {
                    return Err(p.err("missing element after ,"));
                }
            }
            b'{' => {
                if depth == MAX_DIMENSIONS {
                    return Err(p.err("more than 6 dimensions"));
                }
                if ndim.is_some_and(|n| depth >= n) {
                    return Err(p.err("nested braces at the element level"));
                }
                if let Some(c) = counts.get_mut(level) {
                    *c += 1;
                }
                p.pos += 1;
                depth += 1;
                max_depth = max_depth.max(depth);
                if let Some(c) = counts.get_mut(depth - 1) {
                    *c = 0;
                }
                after_open = true;
            }
            _ => {
                match ndim {
                    None if depth < max_depth => {
                        return Err(p.err("element beside a sub-array"));
                    }
                    None => ndim = Some(depth),
                    Some(n) if n != depth => {
                        return Err(p.err("element beside a sub-array"));
                    }
                    Some(_) => {}
                }
                let e = if b == b'"' {
                    let e = p.quoted()?;
                    Some(e)
                } else {
                    p.unquoted()?
                };
                elements.push(e);
                if let Some(c) = counts.get_mut(level) {
                    *c += 1;
                }
                after_open = false;
            }
        }
    }
    p.skip_space();
    if p.pos != s.len() {
        return Err(p.err("junk after the closing }"));
    }

    let Some(ndim) = ndim else {
        // No elements at all: `{}` (or `{{}}`), the empty array.
        if !declared.is_empty() {
            return Err(p.err("dimension prefix does not match the array"));
        }
        return Ok(Parsed {
            dims: Vec::new(),
            elements,
        });
    };
    if max_depth != ndim {
        return Err(p.err("sub-arrays nested to different depths"));
    }
    let mut dims = Vec::with_capacity(ndim);
    for len in lens.iter().take(ndim) {
        let len = len
            .and_then(|n| i32::try_from(n).ok())
            .ok_or(p.err("too many elements"))?;
        dims.push(Dimension::new(len));
    }
    if !declared.is_empty() {
        if declared.len() != dims.len() || declared.iter().zip(&dims).any(|(a, b)| a.len != b.len) {
            return Err(p.err("dimension prefix does not match the array"));
        }
        dims = declared;
    }
    // Every sub-array at a level has the same length, so this holds; checked anyway.
    if super::check_dims(&dims, rust)? != elements.len() {
        return Err(p.err("element count does not match the dimensions"));
    }
    Ok(Parsed { dims, elements })
}
