//! RowDescription (`'T'`): the columns of the rows that follow, kept as the validated body
//! and walked lazily.

use std::iter::FusedIterator;

use bytes::{BufMut, Bytes, BytesMut};

use super::super::read::{check_count, Reader};
use super::super::write::{count_u16, put_cstr};
use super::super::{Format, Oid};
use super::{DecodeError, EncodeError};

/// The smallest field on the wire: an empty name (its NUL) plus 18 bytes of fixed fields.
const MIN_FIELD_LEN: usize = 1 + 4 + 2 + 4 + 2 + 4 + 2;

/// The description of one result column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDescription<'a> {
    /// The column name.
    pub name: &'a str,
    /// The table the column comes from, or 0.
    pub table_oid: Oid,
    /// The column's attribute number in that table, or 0.
    pub column_id: i16,
    /// The data type.
    pub type_oid: Oid,
    /// The type size (`pg_type.typlen`); negative for variable-width types.
    pub type_size: i16,
    /// The type modifier (`pg_attribute.atttypmod`); type-specific.
    pub type_modifier: i32,
    /// The format the values will be sent in.
    pub format: Format,
}

/// The columns of a result. Holds the whole validated body (count included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowDescription {
    body: Bytes,
    len: u16,
}

impl RowDescription {
    /// A description of these fields, for fake servers and tests. A name containing NUL,
    /// or more than 65535 fields, is refused.
    pub fn new(fields: &[FieldDescription<'_>]) -> Result<Self, EncodeError> {
        let len = count_u16(fields.len())?;
        let mut buf = BytesMut::new();
        buf.put_u16(len);
        for f in fields {
            put_cstr(&mut buf, f.name.as_bytes(), "column name")?;
            buf.put_u32(f.table_oid);
            buf.put_i16(f.column_id);
            buf.put_u32(f.type_oid);
            buf.put_i16(f.type_size);
            buf.put_i32(f.type_modifier);
            buf.put_i16(f.format.code());
        }
        Ok(Self {
            body: buf.freeze(),
            len,
        })
    }

    /// The number of columns.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether there are no columns.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The columns, in order.
    pub fn fields(&self) -> Fields<'_> {
        let mut reader = Reader::new(&self.body);
        let left = match reader.u16("RowDescription field count") {
            Ok(_) => self.len,
            Err(_) => 0,
        };
        Fields { reader, left }
    }

    /// Decodes and validates a `'T'` body.
    ///
    /// > "Int16: Specifies the number of fields in a row (can be zero). Then, for each
    /// > field, there is the following: String: The field name. Int32: ... the object ID
    /// > of the table; otherwise zero. Int16: ... the attribute number of the column;
    /// > otherwise zero. Int32: The object ID of the field's data type. Int16: The data
    /// > type size. Int32: The type modifier. Int16: The format code being used for the
    /// > field. Currently will be zero (text) or one (binary)." (*Message Formats*)
    pub(super) fn decode(body: Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(&body);
        let len = r.u16("RowDescription field count")?;
        check_count(
            "RowDescription field",
            usize::from(len),
            MIN_FIELD_LEN,
            r.remaining(),
        )?;
        for _ in 0..len {
            read_field(&mut r)?;
        }
        r.finish("RowDescription")?;
        Ok(Self { body, len })
    }

    /// Writes the body back byte for byte.
    pub(super) fn encode_body(&self, buf: &mut BytesMut) {
        buf.put_slice(&self.body);
    }
}

/// Reads one field; decode and the iterator share it, so they cannot disagree.
fn read_field<'a>(r: &mut Reader<'a>) -> Result<FieldDescription<'a>, DecodeError> {
    Ok(FieldDescription {
        name: r.cstr("column name")?,
        table_oid: r.u32("table OID")?,
        column_id: r.i16("column attribute number")?,
        type_oid: r.u32("type OID")?,
        type_size: r.i16("type size")?,
        type_modifier: r.i32("type modifier")?,
        format: Format::from_code(r.i16("format code")?)?,
    })
}

/// Iterator over the columns of a [`RowDescription`].
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    reader: Reader<'a>,
    left: u16,
}

impl<'a> Iterator for Fields<'a> {
    type Item = FieldDescription<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        self.left = self.left.checked_sub(1)?;
        // Validated by decode (or built by new); a failed read just ends the walk.
        match read_field(&mut self.reader) {
            Ok(f) => Some(f),
            Err(_) => {
                self.left = 0;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::from(self.left);
        (n, Some(n))
    }
}

impl ExactSizeIterator for Fields<'_> {}
impl FusedIterator for Fields<'_> {}

#[cfg(test)]
mod tests {
    use super::super::test_util::{decode_frame, encode_frame};
    use super::super::BackendMessage;
    use super::*;

    fn decode_body(body: Vec<u8>) -> Result<BackendMessage, DecodeError> {
        BackendMessage::decode(b'T', Bytes::from(body))
    }

    #[test]
    fn row_description_yields_every_field() {
        let frame = wire![
            b"T",                // type
            b"\0\0\0\x36",       // length 54
            b"\0\x02",           // two fields
            b"id\0",             // name
            b"\0\0\x40\x00",     // table OID 16384
            b"\0\x01",           // attribute number 1
            b"\0\0\0\x17",       // type OID 23 (int4)
            b"\0\x04",           // type size 4
            b"\xff\xff\xff\xff", // type modifier -1
            b"\0\x01",           // format: binary
            b"?column?\0",       // name
            b"\0\0\0\0",         // no table
            b"\0\0",             // no attribute
            b"\0\0\0\x19",       // type OID 25 (text)
            b"\xff\xff",         // type size -1
            b"\xff\xff\xff\xff", // type modifier -1
            b"\0\0",             // format: text
        ];
        let fields = [
            FieldDescription {
                name: "id",
                table_oid: 16384,
                column_id: 1,
                type_oid: 23,
                type_size: 4,
                type_modifier: -1,
                format: Format::Binary,
            },
            FieldDescription {
                name: "?column?",
                table_oid: 0,
                column_id: 0,
                type_oid: 25,
                type_size: -1,
                type_modifier: -1,
                format: Format::Text,
            },
        ];
        let Ok(BackendMessage::RowDescription(rd)) = decode_frame(&frame) else {
            panic!("not a RowDescription");
        };
        assert_eq!(rd.len(), 2);
        assert_eq!(rd.fields().len(), 2);
        assert_eq!(rd.fields().collect::<Vec<_>>(), fields);
        assert_eq!(rd, RowDescription::new(&fields).unwrap());
        assert_eq!(encode_frame(&BackendMessage::RowDescription(rd)), frame);
    }

    #[test]
    fn row_description_with_no_fields_is_empty() {
        let body = wire![
            b"\0\0", // zero fields
        ];
        let Ok(BackendMessage::RowDescription(rd)) = decode_body(body) else {
            panic!("not a RowDescription");
        };
        assert!(rd.is_empty());
        assert_eq!(rd.fields().next(), None);
    }

    #[test]
    fn row_description_count_larger_than_the_body_allows_is_refused() {
        let body = wire![
            b"\0\x02",           // two fields claimed, room for one
            b"\0",               // empty name
            b"\0\0\0\0",         // table OID
            b"\0\0",             // attribute number
            b"\0\0\0\x17",       // type OID
            b"\0\x04",           // type size
            b"\xff\xff\xff\xff", // type modifier
            b"\0\0",             // format
        ];
        assert_eq!(
            decode_body(body),
            Err(DecodeError::BadCount {
                what: "RowDescription field",
                count: 2
            })
        );
    }

    #[test]
    fn row_description_name_without_nul_is_truncated() {
        let body = wire![
            b"\0\x01",                              // one field
            b"id_without_a_terminator_at_all_here", // name, no NUL anywhere
        ];
        assert!(matches!(
            decode_body(body),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn row_description_rejects_non_utf8_names() {
        let body = wire![
            b"\0\x01",           // one field
            b"\xff\0",           // name, not UTF-8
            b"\0\0\0\0",         // table OID
            b"\0\0",             // attribute number
            b"\0\0\0\x17",       // type OID
            b"\0\x04",           // type size
            b"\xff\xff\xff\xff", // type modifier
            b"\0\0",             // format
        ];
        assert_eq!(
            decode_body(body),
            Err(DecodeError::InvalidUtf8 {
                what: "column name"
            })
        );
    }

    #[test]
    fn row_description_rejects_bad_format_code() {
        let body = wire![
            b"\0\x01",           // one field
            b"a\0",              // name
            b"\0\0\0\0",         // table OID
            b"\0\0",             // attribute number
            b"\0\0\0\x17",       // type OID
            b"\0\x04",           // type size
            b"\xff\xff\xff\xff", // type modifier
            b"\0\x02",           // format 2: neither text nor binary
        ];
        assert_eq!(
            decode_body(body),
            Err(DecodeError::BadValue {
                what: "format code"
            })
        );
    }

    #[test]
    fn row_description_rejects_a_trailing_byte() {
        let body = wire![
            b"\0\x01",           // one field
            b"a\0",              // name
            b"\0\0\0\0",         // table OID
            b"\0\0",             // attribute number
            b"\0\0\0\x17",       // type OID
            b"\0\x04",           // type size
            b"\xff\xff\xff\xff", // type modifier
            b"\0\0",             // format
            b"!",                // one byte too many
        ];
        assert_eq!(
            decode_body(body),
            Err(DecodeError::TrailingBytes {
                what: "RowDescription"
            })
        );
    }

    #[test]
    fn row_description_new_refuses_nul_in_a_name() {
        let f = FieldDescription {
            name: "a\0b",
            table_oid: 0,
            column_id: 0,
            type_oid: 25,
            type_size: -1,
            type_modifier: -1,
            format: Format::Text,
        };
        assert!(RowDescription::new(&[f]).is_err());
    }
}
