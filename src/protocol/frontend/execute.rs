//! Execute (`'E'`): run a bound portal.

use bytes::{BufMut, BytesMut};

use super::owned_cstr;
use crate::protocol::error::{DecodeError, EncodeError};
use crate::protocol::read::Reader;
use crate::protocol::write::{put_cstr, write_frame};

/// Execute: runs a portal, returning at most `max_rows` rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execute {
    /// The portal name (empty: the unnamed portal).
    pub portal: String,
    /// Row limit. Any value is carried as is: "zero denotes 'no limit'" (*Message
    /// Formats*), and the server treats negative values the same way.
    pub max_rows: i32,
}

impl Execute {
    /// Decodes an Execute body: `String portal, Int32 max_rows`.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let portal = owned_cstr(&mut r, "portal name")?;
        let max_rows = r.i32("Execute row limit")?;
        r.finish("Execute")?;
        Ok(Self { portal, max_rows })
    }

    /// Encodes the full frame.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_execute(buf, &self.portal, self.max_rows)
    }
}

/// Writes an Execute frame.
#[inline]
pub fn write_execute(buf: &mut BytesMut, portal: &str, max_rows: i32) -> Result<(), EncodeError> {
    write_frame(buf, Some(b'E'), |b| {
        put_cstr(b, portal.as_bytes(), "portal name")?;
        b.put_i32(max_rows);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execute_encodes_field_by_field() {
        let mut buf = BytesMut::new();
        write_execute(&mut buf, "p1", 10).unwrap();
        let expected: &[u8] = &[
            b"E" as &[u8], // tag
            b"\0\0\0\x0b", // length 11
            b"p1\0",       // portal name
            b"\0\0\0\x0a", // max rows 10
        ]
        .concat();
        assert_eq!(&buf[..], expected);
        assert_eq!(
            Execute::decode(&buf[5..]),
            Ok(Execute {
                portal: "p1".into(),
                max_rows: 10
            })
        );
    }

    #[test]
    fn execute_accepts_a_negative_row_limit() {
        let body: &[u8] = &[
            b"\0" as &[u8],      // unnamed portal
            b"\xff\xff\xff\xff", // max rows -1 ("no limit" to the server)
        ]
        .concat();
        assert_eq!(Execute::decode(body).map(|e| e.max_rows), Ok(-1));
    }

    #[test]
    fn execute_with_short_row_limit_is_truncated() {
        assert_eq!(
            Execute::decode(b"\0\0\0"),
            Err(DecodeError::Truncated {
                what: "Execute row limit"
            })
        );
    }

    #[test]
    fn execute_with_trailing_bytes_is_rejected() {
        assert_eq!(
            Execute::decode(b"\0\0\0\0\0\0"),
            Err(DecodeError::TrailingBytes { what: "Execute" })
        );
    }
}
