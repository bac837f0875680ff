//! Describe (`'D'`) and the [`Target`] byte it shares with Close.

use bytes::{BufMut, BytesMut};

use super::owned_cstr;
use crate::protocol::error::{DecodeError, EncodeError};
use crate::protocol::read::Reader;
use crate::protocol::write::{put_cstr, write_frame};

/// What a Describe or Close names: a prepared statement or a portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `'S'`: a prepared statement.
    Statement,
    /// `'P'`: a portal.
    Portal,
}

impl Target {
    /// The byte on the wire.
    pub fn code(self) -> u8 {
        match self {
            Self::Statement => b'S',
            Self::Portal => b'P',
        }
    }

    /// Reads the target byte.
    ///
    /// > "'S' to describe a prepared statement; or 'P' to describe a portal." (*Message
    /// > Formats*, Describe; Close says the same.) Any other byte is an error.
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u8("target")? {
            b'S' => Ok(Self::Statement),
            b'P' => Ok(Self::Portal),
            _ => Err(DecodeError::BadValue { what: "target" }),
        }
    }
}

/// Describe: asks for the parameter and row description of a statement or portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Describe {
    /// Statement or portal.
    pub target: Target,
    /// Its name (empty: the unnamed one).
    pub name: String,
}

impl Describe {
    /// Decodes a Describe body: `Byte1 target, String name`.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let target = Target::read(&mut r)?;
        let name = owned_cstr(&mut r, "Describe name")?;
        r.finish("Describe")?;
        Ok(Self { target, name })
    }

    /// Encodes the full frame.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_describe(buf, self.target, &self.name)
    }
}

/// Writes a Describe frame.
pub fn write_describe(buf: &mut BytesMut, target: Target, name: &str) -> Result<(), EncodeError> {
    write_targeted(buf, b'D', target, name)
}

/// Describe and Close have the same body: a target byte and a name.
pub(crate) fn write_targeted(
    buf: &mut BytesMut,
    tag: u8,
    target: Target,
    name: &str,
) -> Result<(), EncodeError> {
    write_frame(buf, Some(tag), |b| {
        b.put_u8(target.code());
        put_cstr(b, name.as_bytes(), "statement or portal name")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_encodes_field_by_field() {
        let mut buf = BytesMut::new();
        write_describe(&mut buf, Target::Statement, "s1").unwrap();
        let expected: &[u8] = &[
            b"D" as &[u8], // tag
            b"\0\0\0\x08", // length 8
            b"S",          // target: statement
            b"s1\0",       // name
        ]
        .concat();
        assert_eq!(&buf[..], expected);
        assert_eq!(
            Describe::decode(&buf[5..]),
            Ok(Describe {
                target: Target::Statement,
                name: "s1".into()
            })
        );
    }

    #[test]
    fn describe_portal_uses_p() {
        let body: &[u8] = &[
            b"P" as &[u8], // target: portal
            b"\0",         // unnamed
        ]
        .concat();
        assert_eq!(Describe::decode(body).map(|d| d.target), Ok(Target::Portal));
    }

    #[test]
    fn describe_target_x_is_a_bad_value() {
        let body: &[u8] = &[
            b"X" as &[u8], // target: not S or P
            b"s1\0",       // name
        ]
        .concat();
        assert_eq!(
            Describe::decode(body),
            Err(DecodeError::BadValue { what: "target" })
        );
    }

    #[test]
    fn describe_with_trailing_bytes_is_rejected() {
        assert_eq!(
            Describe::decode(b"S\0\0"),
            Err(DecodeError::TrailingBytes { what: "Describe" })
        );
    }

    #[test]
    fn describe_name_with_interior_nul_is_refused() {
        let mut buf = BytesMut::new();
        assert!(matches!(
            write_describe(&mut buf, Target::Portal, "a\0b"),
            Err(EncodeError::InteriorNul { .. })
        ));
        assert!(buf.is_empty());
    }
}
