//! NegotiateProtocolVersion (`'v'`): the server does not support the requested minor
//! version, or some `_pq_.` options of the StartupMessage.

use bytes::{BufMut, BytesMut};

use super::super::read::{check_count, Reader};
use super::super::write::put_cstr;
use super::{DecodeError, EncodeError};

/// The newest minor protocol version the server supports, and the options it did not
/// recognize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateProtocolVersion {
    newest_minor: i32,
    unrecognized: Vec<String>,
}

impl NegotiateProtocolVersion {
    /// A message offering `newest_minor` and listing `unrecognized` options.
    pub fn new(newest_minor: i32, unrecognized: Vec<String>) -> Self {
        Self {
            newest_minor,
            unrecognized,
        }
    }

    /// The newest minor protocol version the server supports for the requested major.
    pub fn newest_minor(&self) -> i32 {
        self.newest_minor
    }

    /// The protocol options the server did not recognize.
    pub fn unrecognized(&self) -> &[String] {
        &self.unrecognized
    }

    /// Decodes a `'v'` body.
    ///
    /// > "Int32: Newest minor protocol version supported by the server for the major
    /// > protocol version requested by the client. Int32: Number of protocol options not
    /// > recognized by the server. Then, for protocol option not recognized by the
    /// > server, there is the following: String: The option name." (*Message Formats*)
    pub(super) fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let newest_minor = r.i32("newest minor version")?;
        let count = r.i32("unrecognized option count")?;
        let bad = DecodeError::BadCount {
            what: "unrecognized option",
            count: i64::from(count),
        };
        let count = usize::try_from(count).map_err(|_| bad)?;
        // Each name is at least its NUL: refuse an impossible count before sizing the Vec.
        check_count("unrecognized option", count, 1, r.remaining())?;
        let mut unrecognized = Vec::with_capacity(count);
        for _ in 0..count {
            unrecognized.push(r.cstr("unrecognized option")?.to_owned());
        }
        r.finish("NegotiateProtocolVersion")?;
        Ok(Self::new(newest_minor, unrecognized))
    }

    /// Writes the body.
    pub(super) fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let n = self.unrecognized.len();
        buf.put_i32(self.newest_minor);
        buf.put_i32(i32::try_from(n).map_err(|_| EncodeError::TooManyParams(n))?);
        for name in &self.unrecognized {
            put_cstr(buf, name.as_bytes(), "unrecognized option")?;
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
    fn negotiate_protocol_version_lists_unrecognized_options() {
        let frame = wire![
            b"v",          // type
            b"\0\0\0\x1b", // length 27
            b"\0\0\0\0",   // newest minor: 0
            b"\0\0\0\x02", // two options
            b"_pq_.a\0",   // option
            b"_pq_.bc\0",  // option
        ];
        let want = BackendMessage::NegotiateProtocolVersion(NegotiateProtocolVersion::new(
            0,
            vec!["_pq_.a".to_owned(), "_pq_.bc".to_owned()],
        ));
        assert_eq!(decode_frame(&frame), Ok(want.clone()));
        assert_eq!(encode_frame(&want), frame);
    }

    #[test]
    fn negotiate_protocol_version_count_is_checked_against_the_body() {
        for count in [-1i32, 3, i32::MAX] {
            let body = wire![
                b"\0\0\0\x02",       // newest minor: 2
                count.to_be_bytes(), // option count
                b"x\0",              // one option
            ];
            assert_eq!(
                BackendMessage::decode(b'v', Bytes::from(body)),
                Err(DecodeError::BadCount {
                    what: "unrecognized option",
                    count: i64::from(count)
                })
            );
        }
    }

    #[test]
    fn negotiate_protocol_version_rejects_a_trailing_byte() {
        let body = wire![
            b"\0\0\0\x02", // newest minor: 2
            b"\0\0\0\0",   // no options
            b"x",          // one byte too many
        ];
        assert!(matches!(
            BackendMessage::decode(b'v', Bytes::from(body)),
            Err(DecodeError::TrailingBytes { .. })
        ));
    }
}
