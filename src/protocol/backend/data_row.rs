//! DataRow (`'D'`): one row of values, kept as the validated body and walked lazily.

use std::iter::FusedIterator;
use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};

use super::super::read::{check_count, Reader};
use super::super::write::{count_u16, put_nullable};
use super::{DecodeError, EncodeError};

/// One row of a result. Holds the whole validated body (column count included); values
/// are read by [`DataRow::iter`] or [`DataRow::ranges`] without a per-row allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataRow {
    body: Bytes,
    len: u16,
}

impl DataRow {
    /// A row with these values (`None` is NULL), for fake servers and tests.
    pub fn new(values: &[Option<&[u8]>]) -> Result<Self, EncodeError> {
        let len = count_u16(values.len())?;
        let mut buf = BytesMut::new();
        buf.put_u16(len);
        for v in values {
            put_nullable(&mut buf, *v)?;
        }
        Ok(Self {
            body: buf.freeze(),
            len,
        })
    }

    /// The number of columns.
    #[inline]
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether the row has no columns.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The values in column order; `None` is SQL NULL.
    #[inline]
    pub fn iter(&self) -> DataRowIter<'_> {
        DataRowIter {
            body: &self.body,
            ranges: self.ranges(),
        }
    }

    /// Where each value lies in [`DataRow::body`] (`None` is NULL), so a caller can take
    /// `body().slice(range)` without copying.
    #[inline]
    pub fn ranges(&self) -> DataRowRanges<'_> {
        let mut reader = Reader::new(&self.body);
        // The count was read and checked by decode (or written by new); skip it.
        let left = match reader.u16("DataRow column count") {
            Ok(_) => self.len,
            Err(_) => 0,
        };
        DataRowRanges {
            reader,
            total: self.body.len(),
            left,
        }
    }

    /// The whole body, column count included; the target of [`DataRow::ranges`].
    #[inline]
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Decodes and validates a `'D'` body.
    ///
    /// > "Int16: The number of column values that follow (possibly zero). Next, the
    /// > following pair of fields appear for each column: Int32: The length of the column
    /// > value, in bytes (this count does not include itself). Can be zero. As a special
    /// > case, -1 indicates a NULL column value. No value bytes follow in the NULL case."
    /// > (*Message Formats*, DataRow)
    #[inline]
    pub(super) fn decode(body: Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(&body);
        let len = r.u16("DataRow column count")?;
        // Each column needs at least its 4-byte length: refuse an impossible count
        // before walking (CVE-2026-32286 class).
        check_count("DataRow column", usize::from(len), 4, r.remaining())?;
        for _ in 0..len {
            // -1 is NULL; any other negative length is BadValueLength; a length past the
            // end is Truncated.
            r.nullable_value("DataRow column value")?;
        }
        r.finish("DataRow")?;
        Ok(Self { body, len })
    }

    /// Writes the body back byte for byte.
    pub(super) fn encode_body(&self, buf: &mut BytesMut) {
        buf.put_slice(&self.body);
    }
}

impl<'a> IntoIterator for &'a DataRow {
    type Item = Option<&'a [u8]>;
    type IntoIter = DataRowIter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over the byte ranges of a row's values in [`DataRow::body`].
#[derive(Debug, Clone)]
pub struct DataRowRanges<'a> {
    reader: Reader<'a>,
    total: usize,
    left: u16,
}

impl Iterator for DataRowRanges<'_> {
    type Item = Option<Range<usize>>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.left = self.left.checked_sub(1)?;
        // The body was validated, so these reads succeed; should one fail anyway, the
        // iteration just ends (never a panic).
        let Ok(len) = self.reader.i32("DataRow column length") else {
            self.left = 0;
            return None;
        };
        let Ok(len) = usize::try_from(len) else {
            return Some(None); // -1: NULL (other negatives were refused by decode)
        };
        let start = self.total - self.reader.remaining();
        if self.reader.take(len, "DataRow column value").is_err() {
            self.left = 0;
            return None;
        }
        Some(Some(start..start + len))
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::from(self.left);
        (n, Some(n))
    }
}

impl ExactSizeIterator for DataRowRanges<'_> {}
impl FusedIterator for DataRowRanges<'_> {}

/// Iterator over a row's values; `None` is SQL NULL.
#[derive(Debug, Clone)]
pub struct DataRowIter<'a> {
    body: &'a [u8],
    ranges: DataRowRanges<'a>,
}

impl<'a> Iterator for DataRowIter<'a> {
    type Item = Option<&'a [u8]>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self.ranges.next()? {
            None => Some(None),
            // Ranges come from walking this same body, so `get` always succeeds.
            Some(range) => self.body.get(range).map(Some),
        }
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.ranges.size_hint()
    }
}

impl ExactSizeIterator for DataRowIter<'_> {}
impl FusedIterator for DataRowIter<'_> {}

#[cfg(test)]
mod tests {
    use super::super::test_util::{decode_frame, encode_frame};
    use super::super::BackendMessage;
    use super::*;

    fn decode_body(body: Vec<u8>) -> Result<BackendMessage, DecodeError> {
        BackendMessage::decode(b'D', Bytes::from(body))
    }

    #[test]
    fn data_row_yields_values_nulls_and_empty_values_in_order() {
        let frame = wire![
            b"D",                // type
            b"\0\0\0\x15",       // length 21
            b"\0\x03",           // three columns
            b"\0\0\0\x03",       // column 1: 3 bytes
            b"abc",              // value
            b"\xff\xff\xff\xff", // column 2: NULL
            b"\0\0\0\0",         // column 3: empty, not NULL
        ];
        let Ok(BackendMessage::DataRow(row)) = decode_frame(&frame) else {
            panic!("not a DataRow");
        };
        assert_eq!(row.len(), 3);
        assert!(!row.is_empty());
        let values: Vec<_> = row.iter().collect();
        assert_eq!(values, vec![Some(&b"abc"[..]), None, Some(&b""[..])]);
        assert_eq!(row.iter().len(), 3);
        let ranges: Vec<_> = row.ranges().collect();
        assert_eq!(ranges, vec![Some(6..9), None, Some(17..17)]);
        assert_eq!(&row.body().slice(6..9)[..], b"abc");
        assert_eq!(encode_frame(&BackendMessage::DataRow(row)), frame);
    }

    #[test]
    fn data_row_new_matches_the_decoded_row() {
        let row = DataRow::new(&[Some(b"abc"), None, Some(b"")]).unwrap();
        let body = wire![
            b"\0\x03",           // three columns
            b"\0\0\0\x03",       // column 1: 3 bytes
            b"abc",              // value
            b"\xff\xff\xff\xff", // column 2: NULL
            b"\0\0\0\0",         // column 3: empty
        ];
        assert_eq!(decode_body(body), Ok(BackendMessage::DataRow(row)));
    }

    #[test]
    fn data_row_with_no_columns_is_empty() {
        let body = wire![
            b"\0\0", // zero columns
        ];
        let Ok(BackendMessage::DataRow(row)) = decode_body(body) else {
            panic!("not a DataRow");
        };
        assert!(row.is_empty());
        assert_eq!(row.iter().next(), None);
    }

    #[test]
    fn data_row_rejects_negative_length_other_than_minus_one() {
        for len in [-2i32, i32::MIN] {
            let body = wire![
                b"\0\x01",         // one column
                len.to_be_bytes(), // column length
            ];
            assert_eq!(decode_body(body), Err(DecodeError::BadValueLength(len)));
        }
    }

    #[test]
    fn data_row_column_count_larger_than_the_body_allows_is_refused() {
        let body = wire![
            b"\xff\xff",   // 65535 columns claimed
            b"\0\0\0\x01", // column 1: 1 byte
            b"x",          // value; nothing more
        ];
        assert_eq!(
            decode_body(body),
            Err(DecodeError::BadCount {
                what: "DataRow column",
                count: 65535
            })
        );
    }

    #[test]
    fn data_row_value_length_past_the_end_is_truncated() {
        let body = wire![
            b"\0\x01",     // one column
            b"\0\0\0\x10", // 16 bytes claimed
            b"abc",        // only 3 present
        ];
        assert_eq!(
            decode_body(body),
            Err(DecodeError::Truncated {
                what: "DataRow column value"
            })
        );
    }

    #[test]
    fn data_row_rejects_a_trailing_byte() {
        let body = wire![
            b"\0\x01",     // one column
            b"\0\0\0\x01", // 1 byte
            b"a",          // value
            b"!",          // one byte too many
        ];
        assert_eq!(
            decode_body(body),
            Err(DecodeError::TrailingBytes { what: "DataRow" })
        );
    }

    #[test]
    fn data_row_without_a_column_count_is_truncated() {
        let body = wire![
            b"\0", // half a count
        ];
        assert!(matches!(
            decode_body(body),
            Err(DecodeError::Truncated { .. })
        ));
    }
}
