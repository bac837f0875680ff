//! Binary COPY out, sans-IO: [`BinaryCopyParser`] turns the CopyData chunks of
//! `COPY ... TO STDOUT (FORMAT binary)` into rows ([`BinaryRow`]), checking the header,
//! every tuple's field count and field lengths, and the trailer.
//!
//! No IO and no awaits in this module: the driver ([`BinaryCopyReader`], whose methods
//! live in `driver/copy.rs`) feeds chunks in and takes rows out.
//!
//! Memory stays bounded: the parser holds at most one partial row plus one chunk. A row
//! that fits in its chunk is a zero-copy slice of it (PostgreSQL sends one CopyData per
//! row; the header rides in the first one), and no length from the wire is used to
//! allocate: bytes are only ever copied once they have arrived.
//!
//! ```text
//!  Header ──(signature, flags, extension)──► Tuples ──(field count -1)──► Trailer
//!                                              │  ▲                          │
//!                                              └──┘ one row per tuple        │ end of data
//!                                                                            ▼
//!                                                                          Done
//! ```
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
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::error::Error;
use crate::protocol::{Format, Oid};
use crate::types::{decode_value, FromSql, ValueType};

/// "The file header consists of 15 bytes of fixed fields, followed by a variable-length
/// header extension area. […] Signature: 11-byte sequence `PGCOPY\n\377\r\n\0`"
/// (PostgreSQL docs, COPY, Binary Format).
const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// `MaxTupleAttributeNumber`: no tuple has more fields.
pub const MAX_FIELDS: usize = 1600;
/// Default cap on one field's length (1 GiB, PostgreSQL's own limit for a value).
pub const DEFAULT_MAX_FIELD_LEN: usize = 1 << 30;
/// Cap on the header extension area (PostgreSQL writes none).
const MAX_HEADER_EXTENSION: usize = 64 * 1024;

/// What is wrong with the binary COPY data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CopyBinaryError {
    BadSignature,
    /// "Bit 16: If 1, OIDs are included in the data" (servers before 12 only).
    OidsUnsupported,
    /// "Bits 0-15: Reserved for future format-critical flags. A reader should abort if it
    /// finds an unexpected bit set in this range."
    UnknownCriticalFlags(u32),
    HeaderExtensionTooLong(i64),
    BadFieldCount {
        count: i16,
        expected: Option<usize>,
    },
    BadFieldLength(i32),
    FieldTooLong {
        len: i32,
        max: usize,
    },
    DataAfterTrailer,
    MissingTrailer,
}

impl fmt::Display for CopyBinaryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadSignature => f.write_str("binary COPY data does not start with PGCOPY signature (is the COPY FORMAT binary?)"),
            Self::OidsUnsupported => f.write_str("binary COPY data includes OIDs (WITH OIDS), which is not supported"),
            Self::UnknownCriticalFlags(x) => write!(f, "binary COPY header has unknown format-critical flags {x:#x}"),
            Self::HeaderExtensionTooLong(n) => write!(f, "binary COPY header extension of {n} bytes (negative or over {MAX_HEADER_EXTENSION})"),
            Self::BadFieldCount { count, expected: Some(e) } => write!(f, "binary COPY tuple has {count} fields, {e} expected"),
            Self::BadFieldCount { count, expected: None } => write!(f, "binary COPY tuple has {count} fields (0..={MAX_FIELDS} allowed)"),
            Self::BadFieldLength(n) => write!(f, "binary COPY field length {n} is negative"),
            Self::FieldTooLong { len, max } => write!(f, "binary COPY field of {len} bytes is over the cap of {max}"),
            Self::DataAfterTrailer => f.write_str("binary COPY data continues after the trailer"),
            Self::MissingTrailer => f.write_str("binary COPY data ended without the trailer"),
        }
    }
}

impl std::error::Error for CopyBinaryError {}

impl From<CopyBinaryError> for Error {
    fn from(e: CopyBinaryError) -> Self {
        Self::protocol(e.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Tuples,
    /// The trailer was read: only the end of data may follow.
    Trailer,
    Failed(CopyBinaryError),
}

/// The outcome of scanning the front of the buffered bytes.
enum Scan {
    /// More bytes are needed.
    Incomplete,
    /// The header, this many bytes long.
    Header(usize),
    /// One tuple of this many bytes and fields.
    Tuple(usize, usize),
    /// The two-byte trailer.
    Trailer,
}

/// Sans-IO parser for binary COPY out data.
///
/// Drive it this way: [`handle_chunk`](Self::handle_chunk) with each CopyData payload,
/// then [`poll_row`](Self::poll_row) until it returns `Ok(None)` (it needs more data),
/// and [`handle_end`](Self::handle_end) when the server says the data ended. Any error
/// is final: every later call returns it again.
///
/// ```
/// use bytes::Bytes;
/// use pgline::conn::copy_binary::BinaryCopyParser;
///
/// let mut p = BinaryCopyParser::new(Some(1));
/// p.handle_chunk(Bytes::from_static(b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0")).unwrap();
/// p.handle_chunk(Bytes::from_static(b"\0\x01\0\0\0\x02hi\xff\xff")).unwrap();
/// let row = p.poll_row().unwrap().unwrap();
/// assert_eq!(row.fields().collect::<Vec<_>>(), [Some(&b"hi"[..])]);
/// assert!(p.poll_row().unwrap().is_none());
/// p.handle_end().unwrap();
/// ```
#[derive(Debug)]
pub struct BinaryCopyParser {
    state: State,
    /// The unread part of the current chunk (rows are zero-copy slices of it).
    pending: Bytes,
    /// A row (or header) that spans chunks, plus what followed it: at most one partial
    /// row and one chunk.
    carry: BytesMut,
    expected: Option<usize>,
    max_field_len: usize,
}

/// One row of binary COPY data: the validated tuple bytes (field count, then each
/// field's length and value). Accessors re-walk them and cannot fail on the framing.
///
/// ```
/// use bytes::Bytes;
/// use pgline::conn::copy_binary::BinaryCopyParser;
///
/// let mut p = BinaryCopyParser::new(None);
/// p.handle_chunk(Bytes::from_static(b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0\0\x02\xff\xff\xff\xff\0\0\0\x01x")).unwrap();
/// let row = p.poll_row().unwrap().unwrap();
/// assert_eq!(row.len(), 2);
/// assert_eq!(row.field(0), Some(None)); // NULL
/// assert_eq!(row.field(1), Some(Some(&b"x"[..])));
/// assert_eq!(row.field(2), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBinaryRow {
    data: Bytes,
    len: usize,
}

impl RawBinaryRow {
    /// The number of fields.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the row has no fields.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The field values in order; `None` is NULL.
    pub fn fields(&self) -> impl Iterator<Item = Option<&[u8]>> + '_ {
        let mut rest = self.data.get(2..).unwrap_or(&[]);
        (0..self.len).map(move |_| {
            let (len, tail) = split_i32(rest).unwrap_or((-1, &[]));
            if len < 0 {
                rest = tail;
                return None;
            }
            let n = len as usize;
            let v = tail.get(..n).unwrap_or(&[]);
            rest = tail.get(n..).unwrap_or(&[]);
            Some(v)
        })
    }

    /// Field `i`; `None` if there is no such field, `Some(None)` for NULL.
    pub fn field(&self, i: usize) -> Option<Option<&[u8]>> {
        self.fields().nth(i)
    }
}

fn split_i16(b: &[u8]) -> Option<(i16, &[u8])> {
    let (h, t) = b.split_first_chunk::<2>()?;
    Some((i16::from_be_bytes(*h), t))
}

fn split_i32(b: &[u8]) -> Option<(i32, &[u8])> {
    let (h, t) = b.split_first_chunk::<4>()?;
    Some((i32::from_be_bytes(*h), t))
}

impl BinaryCopyParser {
    /// A parser for tuples of `fields` fields (`None`: any count up to [`MAX_FIELDS`]),
    /// with field lengths capped at [`DEFAULT_MAX_FIELD_LEN`].
    pub fn new(fields: Option<usize>) -> Self {
        Self {
            state: State::Header,
            pending: Bytes::new(),
            carry: BytesMut::new(),
            expected: fields,
            max_field_len: DEFAULT_MAX_FIELD_LEN,
        }
    }

    /// Caps the length of one field (values longer are an error before they are read).
    pub fn with_max_field_len(mut self, max: usize) -> Self {
        self.max_field_len = max;
        self
    }

    fn fail(&mut self, e: CopyBinaryError) -> CopyBinaryError {
        self.state = State::Failed(e);
        self.pending = Bytes::new();
        self.carry = BytesMut::new();
        e
    }

    fn check(&self) -> Result<(), CopyBinaryError> {
        match self.state {
            State::Failed(e) => Err(e),
            _ => Ok(()),
        }
    }

    /// Takes one CopyData payload. Call [`poll_row`](Self::poll_row) until it returns
    /// `Ok(None)` before handing in the next one.
    pub fn handle_chunk(&mut self, chunk: Bytes) -> Result<(), Error> {
        self.check()?;
        if chunk.is_empty() {
            return Ok(());
        }
        if self.state == State::Trailer {
            return Err(self.fail(CopyBinaryError::DataAfterTrailer).into());
        }
        if self.carry.is_empty() && self.pending.is_empty() {
            self.pending = chunk;
        } else {
            // Rare: a row spans chunks. Copy only bytes that are here.
            self.carry.extend_from_slice(&self.pending);
            self.pending = Bytes::new();
            self.carry.extend_from_slice(&chunk);
        }
        Ok(())
    }

    /// The next complete row, or `Ok(None)` if more data is needed (or the trailer was
    /// read).
    pub fn poll_row(&mut self) -> Result<Option<RawBinaryRow>, Error> {
        loop {
            self.check()?;
            let from_carry = !self.carry.is_empty();
            let buf: &[u8] = if from_carry {
                &self.carry
            } else {
                &self.pending
            };
            if buf.is_empty() {
                return Ok(None);
            }
            let scan = match self.scan(buf) {
                Ok(s) => s,
                Err(e) => return Err(self.fail(e).into()),
            };
            match scan {
                Scan::Incomplete => {
                    if !from_carry {
                        self.carry.extend_from_slice(&self.pending);
                        self.pending = Bytes::new();
                    }
                    return Ok(None);
                }
                Scan::Header(n) => {
                    self.take(from_carry, n);
                    self.state = State::Tuples;
                }
                Scan::Trailer => {
                    self.take(from_carry, 2);
                    self.state = State::Trailer;
                    if !self.carry.is_empty() || !self.pending.is_empty() {
                        return Err(self.fail(CopyBinaryError::DataAfterTrailer).into());
                    }
                    return Ok(None);
                }
                Scan::Tuple(n, len) => {
                    let data = self.take(from_carry, n);
                    return Ok(Some(RawBinaryRow { data, len }));
                }
            }
        }
    }

    /// Removes `n` scanned (so present) bytes from the front of the active buffer.
    fn take(&mut self, from_carry: bool, n: usize) -> Bytes {
        if from_carry {
            self.carry.split_to(n.min(self.carry.len())).freeze()
        } else {
            self.pending.split_to(n.min(self.pending.len()))
        }
    }

    /// The server ended the data (CopyDone): the trailer must have been read, and
    /// nothing may be left over.
    pub fn handle_end(&mut self) -> Result<(), Error> {
        self.check()?;
        if self.state != State::Trailer {
            return Err(self.fail(CopyBinaryError::MissingTrailer).into());
        }
        Ok(())
    }

    /// Whether the trailer was read.
    pub fn is_finished(&self) -> bool {
        self.state == State::Trailer
    }

    fn scan(&self, buf: &[u8]) -> Result<Scan, CopyBinaryError> {
        match self.state {
            State::Header => scan_header(buf),
            State::Tuples => self.scan_tuple(buf),
            State::Trailer => Err(CopyBinaryError::DataAfterTrailer),
            State::Failed(e) => Err(e),
        }
    }

    fn scan_tuple(&self, buf: &[u8]) -> Result<Scan, CopyBinaryError> {
        let Some((count, mut rest)) = split_i16(buf) else {
            return Ok(Scan::Incomplete);
        };
        // "The file trailer consists of a 16-bit integer word containing -1."
        if count == -1 {
            return Ok(Scan::Trailer);
        }
        // "Tuple: each tuple begins with a 16-bit integer count of the number of fields
        // in the tuple. (Presently, all tuples in a table will have the same count.)"
        let fields = usize::try_from(count)
            .ok()
            .filter(|&n| match self.expected {
                Some(e) => n == e,
                None => n <= MAX_FIELDS,
            });
        let Some(fields) = fields else {
            return Err(CopyBinaryError::BadFieldCount {
                count,
                expected: self.expected,
            });
        };
        for _ in 0..fields {
            // "a 32-bit length word followed by that many bytes of field data. […] As a
            // special case, -1 indicates a NULL field value."
            let Some((len, tail)) = split_i32(rest) else {
                return Ok(Scan::Incomplete);
            };
            if len == -1 {
                rest = tail;
                continue;
            }
            let n = usize::try_from(len).map_err(|_| CopyBinaryError::BadFieldLength(len))?;
            if n > self.max_field_len {
                return Err(CopyBinaryError::FieldTooLong {
                    len,
                    max: self.max_field_len,
                });
            }
            let Some(tail) = tail.get(n..) else {
                return Ok(Scan::Incomplete);
            };
            rest = tail;
        }
        Ok(Scan::Tuple(buf.len() - rest.len(), fields))
    }
}

fn scan_header(buf: &[u8]) -> Result<Scan, CopyBinaryError> {
    // Reject a wrong signature as soon as its first bytes disagree.
    let have = buf.len().min(SIGNATURE.len());
    if buf.get(..have) != SIGNATURE.get(..have) {
        return Err(CopyBinaryError::BadSignature);
    }
    let Some(rest) = buf.get(SIGNATURE.len()..) else {
        return Ok(Scan::Incomplete);
    };
    let Some((flags, rest)) = split_i32(rest) else {
        return Ok(Scan::Incomplete);
    };
    let flags = flags as u32;
    if flags & (1 << 16) != 0 {
        return Err(CopyBinaryError::OidsUnsupported);
    }
    if flags & 0xffff != 0 {
        return Err(CopyBinaryError::UnknownCriticalFlags(flags & 0xffff));
    }
    // Bits 17-31 are "reserved for future format issues"; a reader "should simply
    // ignore any unexpected bits set in this range".
    let Some((ext, rest)) = split_i32(rest) else {
        return Ok(Scan::Incomplete);
    };
    // "Header extension area length: 32-bit integer, length in bytes of remainder of
    // header, not including self. […] a reader should silently skip over any header
    // extension data it does not know what to do with."
    let ext = usize::try_from(ext)
        .ok()
        .filter(|&n| n <= MAX_HEADER_EXTENSION)
        .ok_or(CopyBinaryError::HeaderExtensionTooLong(i64::from(ext)))?;
    if rest.len() < ext {
        return Ok(Scan::Incomplete);
    }
    Ok(Scan::Header(SIGNATURE.len() + 8 + ext))
}

/// A typed row of binary COPY data: each value decodes with its column's type OID in the
/// binary format (strictly, or leniently if the session's profile says so).
///
/// ```no_run
/// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
/// use pgline::types::oid;
///
/// let out = conn.copy_out("COPY users (id, name) TO STDOUT (FORMAT binary)").await?;
/// let mut rows = out.binary(&[oid::INT8, oid::TEXT])?;
/// while let Some(row) = rows.next().await? {
///     let id: i64 = row.get(0)?;
///     let name: Option<&str> = row.get(1)?;
///     println!("{id} {name:?}");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct BinaryRow {
    raw: RawBinaryRow,
    types: Arc<[Oid]>,
    lenient: bool,
}

impl BinaryRow {
    pub(crate) fn new(raw: RawBinaryRow, types: Arc<[Oid]>, lenient: bool) -> Self {
        Self {
            raw,
            types,
            lenient,
        }
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether the row has no values.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Value `i` undecoded; `None` for NULL.
    pub fn get_raw(&self, i: usize) -> Result<Option<&[u8]>, Error> {
        self.raw
            .field(i)
            .ok_or_else(|| Error::config(format!("no column {i} in this COPY row")))
    }

    /// Decodes value `i` as `T`. A NULL into a non-`Option`, a type that `T` does not
    /// accept, or bad bytes is an error, never a panic.
    pub fn get<'a, T: FromSql<'a>>(&'a self, i: usize) -> Result<T, Error> {
        let raw = self.get_raw(i)?;
        let oid = self.types.get(i).copied().unwrap_or(0);
        let ty = ValueType {
            oid,
            format: Format::Binary,
            lenient: self.lenient,
        };
        decode_value(ty, raw).map_err(|e| {
            Error::conversion(
                format!(
                    "cannot read COPY column {i} ({})",
                    std::any::type_name::<T>()
                ),
                e,
            )
        })
    }

    /// The undecoded row.
    pub fn raw(&self) -> &RawBinaryRow {
        &self.raw
    }
}

/// Typed rows of a `COPY ... TO STDOUT (FORMAT binary)`, made by
/// [`CopyOut::binary`](crate::conn::CopyOut::binary): `next` yields [`BinaryRow`]s,
/// `rows` is the server's row count once the data ended. (The struct lives here, next
/// to its parser; its async methods are in the driver, the only place that awaits.)
///
/// ```no_run
/// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
/// use pgline::types::oid;
///
/// let out = conn.copy_out("COPY (SELECT 1::int4) TO STDOUT (FORMAT binary)").await?;
/// let mut rows = out.binary(&[oid::INT4])?;
/// let mut n = 0;
/// while let Some(row) = rows.next().await? {
///     n += row.get::<i32>(0)?;
/// }
/// assert_eq!(rows.rows(), Some(1));
/// # Ok(()) }
/// ```
#[cfg(feature = "runtime")]
pub struct BinaryCopyReader<'c, S> {
    pub(crate) out: crate::conn::CopyOut<'c, S>,
    pub(crate) parser: BinaryCopyParser,
    pub(crate) types: Arc<[Oid]>,
    pub(crate) lenient: bool,
}

#[cfg(feature = "runtime")]
impl<S> fmt::Debug for BinaryCopyReader<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BinaryCopyReader")
            .field("types", &self.types)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\
        \0\0\0\0\
        \0\0\0\0";

    /// Header, two tuples of (int4, text), trailer.
    fn sample() -> Vec<u8> {
        let mut v = HEADER.to_vec();
        v.extend_from_slice(b"\0\x02"); // 2 fields
        v.extend_from_slice(b"\0\0\0\x04\0\0\0\x07"); // int4 7
        v.extend_from_slice(b"\0\0\0\x02hi"); // text "hi"
        v.extend_from_slice(b"\0\x02"); // 2 fields
        v.extend_from_slice(b"\xff\xff\xff\xff"); // NULL
        v.extend_from_slice(b"\0\0\0\0"); // text ""
        v.extend_from_slice(b"\xff\xff"); // trailer
        v
    }

    type Fields = Vec<Vec<Option<Vec<u8>>>>;

    /// Feeds `data` in pieces; the rows, then the end's result.
    fn run(p: &mut BinaryCopyParser, pieces: &[&[u8]]) -> (Fields, Result<(), Error>) {
        let mut rows = Vec::new();
        for piece in pieces {
            if let Err(e) = p.handle_chunk(Bytes::copy_from_slice(piece)) {
                return (rows, Err(e));
            }
            loop {
                match p.poll_row() {
                    Ok(Some(r)) => rows.push(r.fields().map(|f| f.map(<[u8]>::to_vec)).collect()),
                    Ok(None) => break,
                    Err(e) => return (rows, Err(e)),
                }
            }
        }
        let end = p.handle_end();
        (rows, end)
    }

    fn expected_sample() -> Fields {
        vec![
            vec![Some(vec![0, 0, 0, 7]), Some(b"hi".to_vec())],
            vec![None, Some(vec![])],
        ]
    }

    fn err_text(r: Result<(), Error>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn parser_reads_rows_fed_in_one_chunk() {
        let data = sample();
        let (rows, end) = run(&mut BinaryCopyParser::new(Some(2)), &[&data]);
        assert_eq!(rows, expected_sample());
        end.unwrap();
    }

    #[test]
    fn parser_reads_rows_fed_byte_by_byte() {
        let data = sample();
        let pieces: Vec<&[u8]> = data.chunks(1).collect();
        let (rows, end) = run(&mut BinaryCopyParser::new(Some(2)), &pieces);
        assert_eq!(rows, expected_sample());
        end.unwrap();
    }

    #[test]
    fn rows_that_fit_in_their_chunk_are_zero_copy_slices() {
        let data = Bytes::from(sample());
        let mut p = BinaryCopyParser::new(None);
        p.handle_chunk(data.clone()).unwrap();
        let row = p.poll_row().unwrap().unwrap();
        let v = row.field(1).unwrap().unwrap();
        let base = data.as_ptr() as usize;
        assert!((base..base + data.len()).contains(&(v.as_ptr() as usize)));
    }

    #[test]
    fn parser_rejects_a_wrong_signature_at_its_first_byte() {
        let (_, end) = run(&mut BinaryCopyParser::new(None), &[b"X"]);
        assert!(err_text(end).contains("signature"));
    }

    #[test]
    fn parser_refuses_oids_clearly() {
        let mut h = HEADER.to_vec();
        h[12] = 1; // flags bit 16
        let (_, end) = run(&mut BinaryCopyParser::new(None), &[&h]);
        assert!(err_text(end).contains("OIDs"));
    }

    #[test]
    fn parser_rejects_unknown_critical_flags_and_ignores_the_others() {
        let mut h = HEADER.to_vec();
        h[14] = 1; // bit 0: critical
        let (_, end) = run(&mut BinaryCopyParser::new(None), &[&h]);
        assert!(err_text(end).contains("format-critical"));
        let mut h = sample();
        h[11] = 0x80; // bit 31: not critical
        let (rows, end) = run(&mut BinaryCopyParser::new(None), &[&h]);
        assert_eq!(rows, expected_sample());
        end.unwrap();
    }

    #[test]
    fn parser_skips_a_header_extension_and_caps_its_length() {
        let mut v = HEADER[..15].to_vec();
        v.extend_from_slice(b"\0\0\0\x03abc\xff\xff");
        let (rows, end) = run(&mut BinaryCopyParser::new(None), &[&v]);
        assert!(rows.is_empty());
        end.unwrap();
        for ext in [b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff"] {
            let mut v = HEADER[..15].to_vec();
            v.extend_from_slice(ext);
            let (_, end) = run(&mut BinaryCopyParser::new(None), &[&v]);
            assert!(err_text(end).contains("header extension"));
        }
    }

    #[test]
    fn parser_rejects_a_field_count_other_than_the_types_given() {
        let data = sample();
        let (rows, end) = run(&mut BinaryCopyParser::new(Some(3)), &[&data]);
        assert!(rows.is_empty());
        assert!(err_text(end).contains("2 fields, 3 expected"));
    }

    #[test]
    fn parser_caps_the_field_count_without_types_and_rejects_negative_counts() {
        for count in [b"\x06\x41", b"\xff\xfe"] {
            let mut v = HEADER.to_vec();
            v.extend_from_slice(count);
            let (_, end) = run(&mut BinaryCopyParser::new(None), &[&v]);
            assert!(err_text(end).contains("fields"));
        }
    }

    #[test]
    fn parser_rejects_negative_field_lengths_other_than_null() {
        let mut v = HEADER.to_vec();
        v.extend_from_slice(b"\0\x01\xff\xff\xff\xfe");
        let (_, end) = run(&mut BinaryCopyParser::new(None), &[&v]);
        assert!(err_text(end).contains("negative"));
    }

    #[test]
    fn parser_rejects_a_field_over_the_cap_before_its_bytes_arrive() {
        let mut v = HEADER.to_vec();
        v.extend_from_slice(b"\0\x01\x7f\xff\xff\xff");
        let mut p = BinaryCopyParser::new(None);
        let (_, end) = run(&mut p, &[&v]);
        assert!(err_text(end).contains("over the cap"));
        let mut v = HEADER.to_vec();
        v.extend_from_slice(b"\0\x01\0\0\0\x05hello");
        let (_, end) = run(
            &mut BinaryCopyParser::new(None).with_max_field_len(4),
            &[&v],
        );
        assert!(err_text(end).contains("over the cap of 4"));
    }

    #[test]
    fn parser_rejects_bytes_after_the_trailer_in_the_same_or_a_later_chunk() {
        let mut v = sample();
        v.push(0);
        let (_, end) = run(&mut BinaryCopyParser::new(None), &[&v]);
        assert!(err_text(end).contains("after the trailer"));
        let v = sample();
        let (_, end) = run(&mut BinaryCopyParser::new(None), &[&v, b"\0"]);
        assert!(err_text(end).contains("after the trailer"));
    }

    #[test]
    fn parser_rejects_the_end_of_data_without_a_trailer() {
        let v = sample();
        for cut in [0, 5, HEADER.len(), v.len() - 2, v.len() - 1] {
            let (_, end) = run(&mut BinaryCopyParser::new(None), &[&v[..cut]]);
            assert!(err_text(end).contains("without the trailer"), "cut {cut}");
        }
    }

    #[test]
    fn parser_errors_are_sticky() {
        let mut p = BinaryCopyParser::new(None);
        p.handle_chunk(Bytes::from_static(b"Z")).unwrap();
        assert!(p.poll_row().is_err());
        assert!(p.poll_row().is_err());
        assert!(p.handle_chunk(Bytes::from(sample())).is_err());
        assert!(p.handle_end().is_err());
    }

    fn arb_rows() -> impl Strategy<Value = Fields> {
        prop::collection::vec(
            prop::collection::vec(
                prop::option::of(prop::collection::vec(any::<u8>(), 0..20)),
                3,
            ),
            0..20,
        )
    }

    fn encode(rows: &Fields) -> Vec<u8> {
        let mut v = HEADER.to_vec();
        for r in rows {
            v.extend_from_slice(&(r.len() as i16).to_be_bytes());
            for f in r {
                match f {
                    None => v.extend_from_slice(&(-1i32).to_be_bytes()),
                    Some(b) => {
                        v.extend_from_slice(&(b.len() as i32).to_be_bytes());
                        v.extend_from_slice(b);
                    }
                }
            }
        }
        v.extend_from_slice(b"\xff\xff");
        v
    }

    fn split_at_cuts(data: &[u8], mut cuts: Vec<usize>) -> Vec<&[u8]> {
        cuts.iter_mut().for_each(|c| *c %= data.len() + 1);
        cuts.sort_unstable();
        let mut out = Vec::new();
        let mut prev = 0;
        for c in cuts.into_iter().chain([data.len()]) {
            out.push(&data[prev..c]);
            prev = c;
        }
        out
    }

    proptest! {
        #[test]
        fn any_chunking_yields_the_same_rows(rows in arb_rows(), cuts in prop::collection::vec(any::<usize>(), 0..30)) {
            let data = encode(&rows);
            let pieces = split_at_cuts(&data, cuts);
            let (got, end) = run(&mut BinaryCopyParser::new(Some(3)), &pieces);
            prop_assert!(end.is_ok());
            prop_assert_eq!(got, rows);
        }

        #[test]
        fn arbitrary_bytes_never_panic(tail in prop::collection::vec(any::<u8>(), 0..200), with_header in any::<bool>(), cuts in prop::collection::vec(any::<usize>(), 0..10), fields in prop::option::of(0usize..4)) {
            let mut data = if with_header { HEADER.to_vec() } else { Vec::new() };
            data.extend_from_slice(&tail);
            let pieces = split_at_cuts(&data, cuts);
            let mut p = BinaryCopyParser::new(fields).with_max_field_len(64);
            let (rows, _) = run(&mut p, &pieces);
            for r in rows {
                if let Some(n) = fields {
                    prop_assert_eq!(r.len(), n);
                }
            }
        }
    }
}
