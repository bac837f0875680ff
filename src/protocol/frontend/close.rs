//! Close (`'C'`): releases a prepared statement or portal.

use bytes::BytesMut;

use super::describe::write_targeted;
use super::{owned_cstr, Target};
use crate::protocol::error::{DecodeError, EncodeError};
use crate::protocol::read::Reader;

/// Close: releases a prepared statement or portal. Closing one that does not exist is not
/// an error on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    /// Statement or portal.
    pub target: Target,
    /// Its name (empty: the unnamed one).
    pub name: String,
}

impl Close {
    /// Decodes a Close body: `Byte1 target, String name`.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let target = Target::read(&mut r)?;
        let name = owned_cstr(&mut r, "Close name")?;
        r.finish("Close")?;
        Ok(Self { target, name })
    }

    /// Encodes the full frame.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_close(buf, self.target, &self.name)
    }
}

/// Writes a Close frame.
pub fn write_close(buf: &mut BytesMut, target: Target, name: &str) -> Result<(), EncodeError> {
    write_targeted(buf, b'C', target, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_encodes_field_by_field() {
        let mut buf = BytesMut::new();
        write_close(&mut buf, Target::Portal, "").unwrap();
        let expected: &[u8] = &[
            b"C" as &[u8], // tag
            b"\0\0\0\x06", // length 6
            b"P",          // target: portal
            b"\0",         // unnamed
        ]
        .concat();
        assert_eq!(&buf[..], expected);
        assert_eq!(
            Close::decode(&buf[5..]),
            Ok(Close {
                target: Target::Portal,
                name: String::new()
            })
        );
    }

    #[test]
    fn close_target_other_than_s_or_p_is_a_bad_value() {
        assert_eq!(
            Close::decode(b"s\0"),
            Err(DecodeError::BadValue { what: "target" })
        );
    }

    #[test]
    fn close_without_name_is_truncated() {
        assert_eq!(
            Close::decode(b"S"),
            Err(DecodeError::Truncated { what: "Close name" })
        );
    }
}
