//! Parse (`'P'`): prepare a statement.

use bytes::{BufMut, BytesMut};

use super::owned_cstr;
use crate::protocol::error::{DecodeError, EncodeError};
use crate::protocol::read::{check_count, Reader};
use crate::protocol::write::{count_u16, put_cstr, write_frame};
use crate::protocol::Oid;

/// Parse: prepares `query` as statement `name`, with optional parameter type OIDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parse {
    /// Statement name (empty: the unnamed statement).
    pub name: String,
    /// The SQL text, with `$1`, `$2`, ... placeholders.
    pub query: String,
    /// Parameter types; 0 (or a shorter list) leaves a type for the server to infer.
    pub param_types: Vec<Oid>,
}

impl Parse {
    /// Decodes a Parse body: `String name, String query, Int16 n, Int32[n] types`.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let name = owned_cstr(&mut r, "statement name")?;
        let query = owned_cstr(&mut r, "query string")?;
        // The server reads the count as unsigned 16-bit (pq_getmsgint(msg, 2)).
        let n = usize::from(r.u16("parameter type count")?);
        // Four bytes per OID: refuse a count the body cannot hold before allocating.
        check_count("parameter type", n, 4, r.remaining())?;
        let mut param_types = Vec::with_capacity(n);
        for _ in 0..n {
            param_types.push(r.u32("parameter type")?);
        }
        r.finish("Parse")?;
        Ok(Self {
            name,
            query,
            param_types,
        })
    }

    /// Encodes the full frame.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_parse(buf, &self.name, &self.query, &self.param_types)
    }
}

/// Writes a Parse frame. More than 65535 parameter types is
/// [`EncodeError::TooManyParams`]; nothing is written on error.
pub fn write_parse(
    buf: &mut BytesMut,
    name: &str,
    sql: &str,
    param_types: &[Oid],
) -> Result<(), EncodeError> {
    // Checked first so an oversized list fails before the strings are copied.
    let count = count_u16(param_types.len())?;
    write_frame(buf, Some(b'P'), |b| {
        put_cstr(b, name.as_bytes(), "statement name")?;
        put_cstr(b, sql.as_bytes(), "query string")?;
        b.put_u16(count);
        for &oid in param_types {
            b.put_u32(oid);
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_encodes_field_by_field() {
        let mut buf = BytesMut::new();
        write_parse(&mut buf, "s1", "SELECT $1", &[23]).unwrap();
        let expected: &[u8] = &[
            b"P" as &[u8],  // tag
            b"\0\0\0\x17",  // length 23
            b"s1\0",        // statement name
            b"SELECT $1\0", // query string
            b"\0\x01",      // 1 parameter type
            b"\0\0\0\x17",  // int4 (OID 23)
        ]
        .concat();
        assert_eq!(&buf[..], expected);
        assert_eq!(
            Parse::decode(&buf[5..]),
            Ok(Parse {
                name: "s1".into(),
                query: "SELECT $1".into(),
                param_types: vec![23]
            })
        );
    }

    #[test]
    fn parse_count_larger_than_body_is_rejected_before_allocating() {
        let body: &[u8] = &[
            b"\0" as &[u8], // unnamed statement
            b"SELECT 1\0",  // query string
            b"\xff\xff",    // 65535 parameter types claimed
            b"\0\0\0\x17",  // but only one present
        ]
        .concat();
        assert_eq!(
            Parse::decode(body),
            Err(DecodeError::BadCount {
                what: "parameter type",
                count: 65535
            })
        );
    }

    #[test]
    fn parse_with_trailing_bytes_is_rejected() {
        let body: &[u8] = &[
            b"\0" as &[u8], // unnamed statement
            b"q\0",         // query string
            b"\0\0",        // no parameter types
            b"\0",          // one byte too many
        ]
        .concat();
        assert_eq!(
            Parse::decode(body),
            Err(DecodeError::TrailingBytes { what: "Parse" })
        );
    }

    #[test]
    fn parse_with_65536_parameter_types_is_refused_and_buffer_unchanged() {
        let mut buf = BytesMut::from(&b"prev"[..]);
        let types = vec![0; 65536];
        assert_eq!(
            write_parse(&mut buf, "", "q", &types),
            Err(EncodeError::TooManyParams(65536))
        );
        assert_eq!(&buf[..], b"prev");
        // 65535 still fits the unsigned 16-bit count.
        write_parse(&mut buf, "", "q", &types[1..]).unwrap();
        // "prev", tag and length, then "\0" and "q\0": the count follows.
        assert_eq!(buf.get(4 + 5 + 3..4 + 5 + 5), Some(&b"\xff\xff"[..]));
    }

    #[test]
    fn parse_query_with_interior_nul_is_refused() {
        let mut buf = BytesMut::new();
        assert_eq!(
            write_parse(&mut buf, "", "SELECT 1\0", &[]),
            Err(EncodeError::InteriorNul {
                what: "query string"
            })
        );
        assert!(buf.is_empty());
    }
}
