//! Bind (`'B'`): bind parameter values to a prepared statement, creating a portal.
//!
//! [`BindWriter`] is the hot path: it writes values one by one straight into the outbound
//! buffer and back-patches the counts and lengths, so a bulk load allocates nothing per
//! row. [`Bind`] is the owned form used by fakes and tests, encoded through the writer.

use bytes::{BufMut, Bytes, BytesMut};

use super::{owned_cstr, share};
use crate::protocol::error::{DecodeError, EncodeError};
use crate::protocol::read::{check_count, Reader};
use crate::protocol::write::{count_u16, len_i32, patch_i32, patch_u16, put_cstr, put_i16_list};

/// Bind: creates `portal` from `statement` and parameter values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// Destination portal (empty: the unnamed portal).
    pub portal: String,
    /// Source statement (empty: the unnamed statement).
    pub statement: String,
    /// Parameter format codes: none (all text), one (for all) or one per parameter.
    pub param_formats: Vec<i16>,
    /// Parameter values; `None` is NULL.
    pub params: Vec<Option<Bytes>>,
    /// Result column format codes: none (all text), one (for all) or one per column.
    pub result_formats: Vec<i16>,
}

/// Reads `Int16 n, Int16[n]` format codes, each 0 or 1.
///
/// > "The parameter format codes. Each must presently be zero (text) or one (binary)."
/// > (*Message Formats*, Bind)
fn read_formats(r: &mut Reader<'_>, what: &'static str) -> Result<Vec<i16>, DecodeError> {
    let n = usize::from(r.u16(what)?);
    check_count(what, n, 2, r.remaining())?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let code = r.i16(what)?;
        if !matches!(code, 0 | 1) {
            return Err(DecodeError::BadValue {
                what: "format code",
            });
        }
        out.push(code);
    }
    Ok(out)
}

impl Bind {
    /// Decodes a Bind body, validating every count and value length.
    pub fn decode(body: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let portal = owned_cstr(&mut r, "portal name")?;
        let statement = owned_cstr(&mut r, "statement name")?;
        let param_formats = read_formats(&mut r, "parameter format")?;
        let n = usize::from(r.u16("parameter count")?);
        // Each value takes at least its 4-byte length.
        check_count("parameter", n, 4, r.remaining())?;
        // > "This can be zero to indicate that there are no parameters or that the
        // > parameters all use the default format (text); or one, in which case the
        // > specified format code is applied to all parameters; or it can equal the actual
        // > number of parameters."
        if param_formats.len() > 1 && param_formats.len() != n {
            return Err(DecodeError::BadCount {
                what: "parameter format",
                count: i64::try_from(param_formats.len()).unwrap_or(i64::MAX),
            });
        }
        let mut params = Vec::with_capacity(n);
        for _ in 0..n {
            // -1 is NULL; any other negative length is BadValueLength.
            params.push(r.nullable_value("parameter value")?.map(|v| share(body, v)));
        }
        let result_formats = read_formats(&mut r, "result format")?;
        r.finish("Bind")?;
        Ok(Self {
            portal,
            statement,
            param_formats,
            params,
            result_formats,
        })
    }

    /// Encodes the full frame (through [`BindWriter`]). On error nothing is written.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let mut w = BindWriter::begin(buf, &self.portal, &self.statement, &self.param_formats)?;
        for p in &self.params {
            match p {
                None => w.null()?,
                Some(v) => w.value(v)?,
            }
        }
        w.finish(&self.result_formats)
    }
}

/// What a [`BindWriter::value_with`] closure wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsNull {
    /// The value is NULL: anything written is discarded and the length is -1.
    Yes,
    /// The value is the bytes written.
    No,
}

/// The most parameters a Bind can carry: the count is an unsigned 16-bit field.
const MAX_PARAMS: usize = u16::MAX as usize;

/// The row-independent start of a Bind (tag, length placeholder, portal name, statement
/// name, parameter format codes, parameter-count placeholder), checked and encoded once so
/// that [`BindWriter::begin_with`] writes it with one copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindPrefix {
    bytes: Bytes,
}

impl BindPrefix {
    /// Encodes the prefix; fails as [`BindWriter::begin`] would.
    pub fn new(portal: &str, statement: &str, param_formats: &[i16]) -> Result<Self, EncodeError> {
        let mut b = BytesMut::new();
        b.put_u8(b'B');
        b.put_i32(0);
        put_cstr(&mut b, portal.as_bytes(), "portal name")?;
        put_cstr(&mut b, statement.as_bytes(), "statement name")?;
        put_i16_list(&mut b, param_formats)?;
        b.put_u16(0);
        Ok(Self { bytes: b.freeze() })
    }
}

/// Writes one Bind message value by value, straight into the buffer; lengths and the
/// parameter count are back-patched.
///
/// Call order: [`begin`](Self::begin), then [`null`](Self::null) / [`value`](Self::value) /
/// [`value_with`](Self::value_with) once per parameter, then [`finish`](Self::finish).
///
/// All or nothing: if any step fails, the buffer is truncated back to where the Bind began
/// at once (later calls fail with [`EncodeError::BadValue`]); if the writer is dropped
/// without `finish`, `Drop` does the same. A half-written Bind never reaches the socket.
#[derive(Debug)]
pub struct BindWriter<'b> {
    buf: &'b mut BytesMut,
    /// Where the `'B'` tag is: the truncation point.
    start: usize,
    /// Where the parameter count placeholder is.
    count_pos: usize,
    /// Parameters written so far.
    count: usize,
    /// `finish` succeeded: keep the bytes.
    finished: bool,
    /// A step failed and the buffer was already truncated.
    failed: bool,
}

/// Error for any call after a failed step.
const POISONED: EncodeError = EncodeError::BadValue {
    what: "BindWriter used after a failed step",
};

impl<'b> BindWriter<'b> {
    /// Writes the tag, a length placeholder, the portal and statement names, the parameter
    /// format codes and a parameter-count placeholder.
    #[inline]
    pub fn begin(
        buf: &'b mut BytesMut,
        portal: &str,
        statement: &str,
        param_formats: &[i16],
    ) -> Result<Self, EncodeError> {
        let start = buf.len();
        buf.put_u8(b'B');
        buf.put_i32(0);
        // From here on, dropping `w` (including via `?`) truncates back to `start`.
        let mut w = Self {
            buf,
            start,
            count_pos: 0,
            count: 0,
            finished: false,
            failed: false,
        };
        put_cstr(w.buf, portal.as_bytes(), "portal name")?;
        put_cstr(w.buf, statement.as_bytes(), "statement name")?;
        put_i16_list(w.buf, param_formats)?;
        w.count_pos = w.buf.len();
        w.buf.put_u16(0);
        Ok(w)
    }

    /// Starts a Bind from a prefix validated and encoded once ([`BindPrefix`]): the bulk
    /// path, which writes the same names and formats for every row.
    #[inline]
    pub fn begin_with(buf: &'b mut BytesMut, prefix: &BindPrefix) -> Self {
        let start = buf.len();
        buf.extend_from_slice(&prefix.bytes);
        // The prefix ends with the two-byte count placeholder.
        let count_pos = buf.len() - 2;
        Self {
            buf,
            start,
            count_pos,
            count: 0,
            finished: false,
            failed: false,
        }
    }

    /// Marks the writer failed and drops everything it wrote, then returns `err`.
    #[inline]
    fn fail<E>(&mut self, err: E) -> Result<(), E> {
        self.failed = true;
        self.buf.truncate(self.start);
        Err(err)
    }

    /// Checks that another parameter is allowed.
    #[inline]
    fn next_param(&mut self) -> Result<(), EncodeError> {
        if self.failed {
            return Err(POISONED);
        }
        if self.count >= MAX_PARAMS {
            return self.fail(EncodeError::TooManyParams(self.count + 1));
        }
        Ok(())
    }

    /// Appends a NULL parameter (length -1).
    #[inline]
    pub fn null(&mut self) -> Result<(), EncodeError> {
        self.next_param()?;
        self.buf.put_i32(-1);
        self.count += 1;
        Ok(())
    }

    /// Appends a parameter value.
    #[inline]
    pub fn value(&mut self, v: &[u8]) -> Result<(), EncodeError> {
        self.next_param()?;
        let len = match len_i32(v.len()) {
            Ok(len) => len,
            Err(e) => return self.fail(e),
        };
        self.buf.put_i32(len);
        self.buf.put_slice(v);
        self.count += 1;
        Ok(())
    }

    /// Appends a parameter value already preceded by its 4-byte length (the bulk path's
    /// fixed-width values, see `ToSql::to_sql_fixed`); the caller vouches for the length.
    #[inline]
    pub(crate) fn framed_value(&mut self, framed: &[u8]) -> Result<(), EncodeError> {
        self.next_param()?;
        self.buf.extend_from_slice(framed);
        self.count += 1;
        Ok(())
    }

    /// Writes a 4-byte length placeholder, lets `f` append the value, then patches the
    /// length (or -1 when `f` returns [`IsNull::Yes`], truncating anything `f` wrote). A
    /// value longer than `i32::MAX` is [`EncodeError::TooLong`].
    #[inline]
    pub fn value_with<E: From<EncodeError>>(
        &mut self,
        f: impl FnOnce(&mut BytesMut) -> Result<IsNull, E>,
    ) -> Result<(), E> {
        self.next_param()?;
        let len_pos = self.buf.len();
        self.buf.put_i32(0);
        match f(self.buf) {
            Ok(IsNull::Yes) => {
                self.buf.truncate(len_pos);
                self.buf.put_i32(-1);
            }
            Ok(IsNull::No) => match value_len(len_pos, self.buf.len()) {
                Ok(len) => patch_i32(self.buf, len_pos, len),
                Err(e) => return self.fail(E::from(e)),
            },
            Err(e) => return self.fail(e),
        }
        self.count += 1;
        Ok(())
    }

    /// Writes the result format codes, patches the parameter count (> 65535 is
    /// [`EncodeError::TooManyParams`]) and the frame length.
    #[inline]
    pub fn finish(mut self, result_formats: &[i16]) -> Result<(), EncodeError> {
        self.patch_count()?;
        put_i16_list(self.buf, result_formats)?;
        self.patch_len(self.buf.len())?;
        self.finished = true;
        Ok(())
    }

    /// [`finish`](Self::finish) with no result format codes (all text, or no result
    /// columns), followed by an Execute of the unnamed portal for all rows, appended in
    /// the same copy: the bulk path, one Bind/Execute pair per row.
    #[inline]
    pub fn finish_execute_all(mut self) -> Result<(), EncodeError> {
        /// No result format codes (ending the Bind), then Execute: `E`, length 9,
        /// portal "", max rows 0.
        const TAIL: [u8; 12] = [0, 0, b'E', 0, 0, 0, 9, 0, 0, 0, 0, 0];
        /// The bytes of `TAIL` that belong to the Bind.
        const BIND_PART: usize = 2;
        self.patch_count()?;
        self.patch_len(self.buf.len() + BIND_PART)?;
        self.buf.extend_from_slice(&TAIL);
        self.finished = true;
        Ok(())
    }

    /// Refuses a poisoned writer, then patches the parameter count.
    #[inline]
    fn patch_count(&mut self) -> Result<(), EncodeError> {
        if self.failed {
            return Err(POISONED);
        }
        let count = count_u16(self.count)?;
        patch_u16(self.buf, self.count_pos, count);
        Ok(())
    }

    /// Patches the frame length for a Bind ending at `end`: it counts itself but not the
    /// tag.
    #[inline]
    fn patch_len(&mut self, end: usize) -> Result<(), EncodeError> {
        let len = len_i32(end - self.start - 1)?;
        patch_i32(self.buf, self.start + 1, len);
        Ok(())
    }
}

impl Drop for BindWriter<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.buf.truncate(self.start);
        }
    }
}

/// The length of a value written between `len_pos + 4` and `end`, as its i32 field.
/// `end` below `len_pos + 4` means the closure truncated the buffer under its own
/// placeholder, which is refused rather than trusted.
#[inline]
fn value_len(len_pos: usize, end: usize) -> Result<i32, EncodeError> {
    match end.checked_sub(len_pos + 4) {
        Some(n) => len_i32(n),
        None => Err(EncodeError::BadValue {
            what: "value_with closure truncated the buffer",
        }),
    }
}

#[cfg(test)]
mod tests;
