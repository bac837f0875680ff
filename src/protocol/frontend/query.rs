//! Query (`'Q'`): a simple-protocol query string.

use bytes::BytesMut;

use super::owned_cstr;
use crate::protocol::error::{DecodeError, EncodeError};
use crate::protocol::read::Reader;
use crate::protocol::write::{put_cstr, write_frame};

/// Query: one or more SQL statements, run with the simple protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The query string (no NUL inside: it is a C string on the wire).
    pub sql: String,
}

impl Query {
    /// Decodes a Query body: `String query`.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let sql = owned_cstr(&mut r, "query string")?;
        r.finish("Query")?;
        Ok(Self { sql })
    }

    /// Encodes the full frame.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_query(buf, &self.sql)
    }
}

/// Writes a Query frame; an interior NUL is refused and nothing is written.
pub fn write_query(buf: &mut BytesMut, sql: &str) -> Result<(), EncodeError> {
    write_frame(buf, Some(b'Q'), |b| {
        put_cstr(b, sql.as_bytes(), "query string")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_encodes_field_by_field() {
        let mut buf = BytesMut::new();
        write_query(&mut buf, "SELECT 1").unwrap();
        let expected: &[u8] = &[
            b"Q" as &[u8], // tag
            b"\0\0\0\x0d", // length 13
            b"SELECT 1\0", // query string
        ]
        .concat();
        assert_eq!(&buf[..], expected);
        assert_eq!(
            Query::decode(&buf[5..]),
            Ok(Query {
                sql: "SELECT 1".into()
            })
        );
    }

    #[test]
    fn query_with_interior_nul_is_refused_and_nothing_is_written() {
        let mut buf = BytesMut::from(&b"old"[..]);
        assert_eq!(
            write_query(&mut buf, "SELECT 1\0; DROP TABLE t"),
            Err(EncodeError::InteriorNul {
                what: "query string"
            })
        );
        assert_eq!(&buf[..], b"old");
    }

    #[test]
    fn query_without_terminator_is_truncated() {
        assert_eq!(
            Query::decode(b"SELECT 1"),
            Err(DecodeError::Truncated {
                what: "query string"
            })
        );
    }

    #[test]
    fn query_with_trailing_bytes_is_rejected() {
        assert_eq!(
            Query::decode(b"SELECT 1\0x"),
            Err(DecodeError::TrailingBytes { what: "Query" })
        );
    }
}
