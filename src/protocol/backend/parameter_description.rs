//! ParameterDescription (`'t'`): the parameter types of a prepared statement.

use bytes::{BufMut, BytesMut};

use super::super::read::{check_count, Reader};
use super::super::write::count_u16;
use super::super::Oid;
use super::{DecodeError, EncodeError};

/// The type OIDs of a statement's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterDescription {
    types: Vec<Oid>,
}

impl ParameterDescription {
    /// A description with these parameter types.
    pub fn new(types: Vec<Oid>) -> Self {
        Self { types }
    }

    /// The parameter type OIDs, in order.
    pub fn types(&self) -> &[Oid] {
        &self.types
    }

    /// Decodes a `'t'` body.
    ///
    /// > "Int16: The number of parameters used by the statement (can be zero). Then, for
    /// > each parameter, there is the following: Int32: Specifies the object ID of the
    /// > parameter data type." (*Message Formats*)
    pub(super) fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let count = usize::from(r.u16("parameter count")?);
        check_count("parameter type", count, 4, r.remaining())?;
        let mut types = Vec::with_capacity(count);
        for _ in 0..count {
            types.push(r.u32("parameter type")?);
        }
        r.finish("ParameterDescription")?;
        Ok(Self { types })
    }

    /// Writes the body.
    pub(super) fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        buf.put_u16(count_u16(self.types.len())?);
        for &oid in &self.types {
            buf.put_u32(oid);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::super::test_util::{decode_frame, encode_frame};
    use super::super::BackendMessage;
    use super::*;

    #[test]
    fn parameter_description_lists_type_oids() {
        let frame = wire![
            b"t",          // type
            b"\0\0\0\x0e", // length 14
            b"\0\x02",     // two parameters
            b"\0\0\0\x17", // int4 (23)
            b"\0\0\0\x19", // text (25)
        ];
        let want = BackendMessage::ParameterDescription(ParameterDescription::new(vec![23, 25]));
        assert_eq!(decode_frame(&frame), Ok(want.clone()));
        assert_eq!(encode_frame(&want), frame);
    }

    #[test]
    fn parameter_description_count_larger_than_the_body_is_refused() {
        let body = wire![
            b"\xff\xff",   // 65535 parameters claimed
            b"\0\0\0\x17", // one OID
        ];
        assert_eq!(
            BackendMessage::decode(b't', Bytes::from(body)),
            Err(DecodeError::BadCount {
                what: "parameter type",
                count: 65535
            })
        );
    }

    #[test]
    fn parameter_description_rejects_a_trailing_byte() {
        let body = wire![
            b"\0\x01",     // one parameter
            b"\0\0\0\x17", // int4
            b"\0",         // one byte too many
        ];
        assert!(matches!(
            BackendMessage::decode(b't', Bytes::from(body)),
            Err(DecodeError::TrailingBytes { .. })
        ));
    }
}
