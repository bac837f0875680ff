//! Bounds-checked reading and length-prefixed writing of container bodies (arrays, ranges,
//! multiranges, records, hstore), shared by those modules.
//!
//! Every read fails with [`ConversionError::Invalid`] naming the Rust type instead of
//! panicking, and every count read from the wire is checked against the bytes left
//! ([`Body::check_count`]) before anything is allocated from it.

use bytes::{BufMut, BytesMut};

use crate::types::{ConversionError, IsNull};

/// A cursor over one value's bytes.
#[derive(Debug, Clone, Copy)]
pub(in crate::types) struct Body<'a> {
    buf: &'a [u8],
    rust: &'static str,
}

impl<'a> Body<'a> {
    /// A cursor over `buf`; errors name `rust`.
    pub(in crate::types) fn new(buf: &'a [u8], rust: &'static str) -> Self {
        Self { buf, rust }
    }

    /// An `Invalid` error for this body's Rust type.
    pub(in crate::types) fn invalid(&self, reason: &'static str) -> ConversionError {
        ConversionError::invalid(self.rust, reason)
    }

    /// Exactly `n` bytes.
    pub(in crate::types) fn take(
        &mut self,
        n: usize,
        what: &'static str,
    ) -> Result<&'a [u8], ConversionError> {
        let (head, tail) = self.buf.split_at_checked(n).ok_or(self.invalid(what))?;
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], ConversionError> {
        let bytes = self.take(N, what)?;
        <[u8; N]>::try_from(bytes).map_err(|_| self.invalid(what))
    }

    /// One byte.
    pub(in crate::types) fn u8(&mut self, what: &'static str) -> Result<u8, ConversionError> {
        self.array::<1>(what).map(|[b]| b)
    }

    /// A big-endian `i32`.
    pub(in crate::types) fn i32(&mut self, what: &'static str) -> Result<i32, ConversionError> {
        self.array(what).map(i32::from_be_bytes)
    }

    /// A big-endian `u32` (an OID).
    pub(in crate::types) fn u32(&mut self, what: &'static str) -> Result<u32, ConversionError> {
        self.array(what).map(u32::from_be_bytes)
    }

    /// A count that must be non-negative and fit the bytes left when every item takes at
    /// least `min_size` bytes. Call before allocating anything sized by it.
    pub(in crate::types) fn count(
        &mut self,
        min_size: usize,
        what: &'static str,
    ) -> Result<usize, ConversionError> {
        let n = self.i32(what)?;
        let n = usize::try_from(n).map_err(|_| self.invalid("negative count"))?;
        self.check_count(n, min_size)?;
        Ok(n)
    }

    /// Fails unless `count` items of at least `min_size` bytes each fit in what is left.
    pub(in crate::types) fn check_count(
        &self,
        count: usize,
        min_size: usize,
    ) -> Result<(), ConversionError> {
        match count.checked_mul(min_size) {
            Some(need) if need <= self.buf.len() => Ok(()),
            _ => Err(self.invalid("count larger than the value")),
        }
    }

    /// A value with its `i32` length in front; -1 is NULL (`None`), other negatives and
    /// lengths past the end are errors.
    pub(in crate::types) fn nullable(&mut self) -> Result<Option<&'a [u8]>, ConversionError> {
        match self.i32("truncated length")? {
            -1 => Ok(None),
            n => {
                let n = usize::try_from(n).map_err(|_| self.invalid("negative length"))?;
                self.take(n, "length past the end of the value").map(Some)
            }
        }
    }

    /// Fails if any bytes are left.
    pub(in crate::types) fn finish(&self) -> Result<(), ConversionError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(self.invalid("trailing bytes"))
        }
    }
}

/// Writes what `write` writes with its `i32` length in front, or -1 if it says NULL.
/// On error, `out` is left as it was.
pub(in crate::types) fn put_nullable(
    out: &mut BytesMut,
    rust: &'static str,
    write: impl FnOnce(&mut BytesMut) -> Result<IsNull, ConversionError>,
) -> Result<IsNull, ConversionError> {
    let at = out.len();
    out.put_i32(0);
    let result = write(out);
    let len = out.len().saturating_sub(at + 4);
    match result {
        Ok(IsNull::Yes) => {
            out.truncate(at);
            out.put_i32(-1);
        }
        Ok(IsNull::No) => match i32::try_from(len) {
            Ok(len) => patch_i32(out, at, len),
            Err(_) => {
                out.truncate(at);
                return Err(ConversionError::invalid(rust, "element longer than 2 GiB"));
            }
        },
        Err(e) => {
            out.truncate(at);
            return Err(e);
        }
    }
    result
}

/// Overwrites the four bytes at `at` with `v` (a length or count written as a placeholder).
pub(in crate::types) fn patch_i32(out: &mut BytesMut, at: usize, v: i32) {
    if let Some(slot) = out.get_mut(at..at + 4) {
        slot.copy_from_slice(&v.to_be_bytes());
    }
}

/// A count of items as the `i32` the wire wants.
pub(in crate::types) fn count_i32(n: usize, rust: &'static str) -> Result<i32, ConversionError> {
    i32::try_from(n).map_err(|_| ConversionError::invalid(rust, "more than i32::MAX items"))
}

/// Appends `s` as a double-quoted string when `needs_quotes` says so, escaping `"` and `\`
/// with a backslash (array_out, record_out and hstore_out all read this back).
pub(in crate::types) fn put_quoted(out: &mut BytesMut, s: &[u8], needs_quotes: bool) {
    if !needs_quotes {
        out.extend_from_slice(s);
        return;
    }
    out.put_u8(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.put_u8(b'\\');
        }
        out.put_u8(b);
    }
    out.put_u8(b'"');
}

/// PostgreSQL's `array_isspace` / `scanner_isspace`: the whitespace its parsers skip.
pub(in crate::types) fn is_pg_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// The strict-mode check of a container (array, range, multirange): its type must be one
/// `accepts` allows or, in the text format, any type of the right kind (`text_kind`),
/// because text elements carry no type of their own: each element is then checked by the
/// element type's own `from_sql` (so `Vec<String>` reads `int4[]` as text, and `Vec<i32>`
/// still refuses `int8[]`).
pub(in crate::types) fn check_container(
    ty: crate::types::ValueType,
    rust: &'static str,
    accepts: bool,
    text_kind: bool,
) -> Result<(), ConversionError> {
    let text = ty.format == crate::types::Format::Text && text_kind;
    if ty.lenient || accepts || text {
        Ok(())
    } else {
        Err(ConversionError::WrongType { rust, oid: ty.oid })
    }
}
