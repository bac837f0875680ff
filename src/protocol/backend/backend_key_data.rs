//! BackendKeyData (`'K'`): the process ID and secret key a CancelRequest must quote.

use bytes::{BufMut, Bytes, BytesMut};

use super::super::read::Reader;
use super::{share, DecodeError};

/// The shortest secret key: protocol 3.0 always sends 4 bytes.
const MIN_SECRET_LEN: usize = 4;
/// The longest secret key protocol 3.2 allows.
const MAX_SECRET_LEN: usize = 256;

/// The cancellation key of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendKeyData {
    process_id: i32,
    secret_key: Bytes,
}

impl BackendKeyData {
    /// A key for `process_id` with `secret_key`. The length is not checked here: a fake
    /// server may send a bad one on purpose (decode accepts 4 to 256 bytes).
    pub fn new(process_id: i32, secret_key: Bytes) -> Self {
        Self {
            process_id,
            secret_key,
        }
    }

    /// The process ID of this backend.
    pub fn process_id(&self) -> i32 {
        self.process_id
    }

    /// The secret key: 4 bytes under protocol 3.0, up to 256 under 3.2.
    pub fn secret_key(&self) -> &[u8] {
        &self.secret_key
    }

    /// Decodes a `'K'` body.
    ///
    /// > "Byten: The secret key of this backend. This field extends to the end of the
    /// > message, indicated by the length field. The maximum key length is 256 bytes. The
    /// > PostgreSQL server only sends keys up to 32 bytes, but the larger maximum size
    /// > allows for future server versions, as well as connection poolers and other
    /// > middleware, to use longer keys." (*Message Formats*, BackendKeyData, protocol 3.2;
    /// > 3.0 defines it as an Int32.)
    pub(super) fn decode(body: Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(&body);
        let process_id = r.i32("BackendKeyData process ID")?;
        let secret = r.rest();
        if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&secret.len()) {
            return Err(DecodeError::BadLength {
                tag: b'K',
                // The declared length, as it was on the wire (body + 4).
                len: i64::try_from(body.len())
                    .unwrap_or(i64::MAX)
                    .saturating_add(4),
            });
        }
        Ok(Self::new(process_id, share(&body, secret)))
    }

    /// Writes the body.
    pub(super) fn encode_body(&self, buf: &mut BytesMut) {
        buf.put_i32(self.process_id);
        buf.put_slice(&self.secret_key);
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{decode_frame, encode_frame};
    use super::super::BackendMessage;
    use super::*;

    #[test]
    fn backend_key_data_of_protocol_3_0_has_a_four_byte_secret() {
        let frame = wire![
            b"K",                // type
            b"\0\0\0\x0c",       // length
            b"\0\0\x30\x39",     // process ID 12345
            b"\xde\xad\xbe\xef", // secret key
        ];
        let want = BackendMessage::BackendKeyData(BackendKeyData::new(
            12345,
            Bytes::from_static(b"\xde\xad\xbe\xef"),
        ));
        assert_eq!(decode_frame(&frame), Ok(want.clone()));
        assert_eq!(encode_frame(&want), frame);
    }

    #[test]
    fn backend_key_data_accepts_a_32_byte_key_of_protocol_3_2() {
        let frame = wire![
            b"K",          // type
            b"\0\0\0\x28", // length 40
            b"\0\0\0\x07", // process ID 7
            [0xa5u8; 32],  // secret key, 32 bytes
        ];
        let Ok(BackendMessage::BackendKeyData(key)) = decode_frame(&frame) else {
            panic!("not decoded");
        };
        assert_eq!(key.process_id(), 7);
        assert_eq!(key.secret_key(), &[0xa5u8; 32][..]);
        assert_eq!(encode_frame(&BackendMessage::BackendKeyData(key)), frame);
    }

    #[test]
    fn backend_key_data_accepts_256_bytes_and_rejects_3_and_257() {
        for (secret_len, ok) in [(3usize, false), (4, true), (256, true), (257, false)] {
            let body = wire![
                b"\0\0\0\x07",         // process ID
                vec![1u8; secret_len], // secret key
            ];
            let got = BackendMessage::decode(b'K', Bytes::from(body));
            if ok {
                assert!(got.is_ok(), "{secret_len}");
            } else {
                assert_eq!(
                    got,
                    Err(DecodeError::BadLength {
                        tag: b'K',
                        len: 8 + secret_len as i64
                    })
                );
            }
        }
    }

    #[test]
    fn backend_key_data_without_a_full_process_id_is_truncated() {
        let body = wire![
            b"\0\0", // half a process ID
        ];
        assert!(matches!(
            BackendMessage::decode(b'K', Bytes::from(body)),
            Err(DecodeError::Truncated { .. })
        ));
    }
}
