//! ReadyForQuery (`'Z'`): the end of a query cycle, with the transaction status.

use bytes::{BufMut, BytesMut};

use super::super::read::Reader;
use super::DecodeError;

/// The backend's transaction status, as reported by ReadyForQuery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionStatus {
    /// `I`: not in a transaction block.
    Idle,
    /// `T`: in a transaction block.
    InTransaction,
    /// `E`: in a failed transaction block; queries are rejected until it ends.
    Failed,
}

impl TransactionStatus {
    /// The status byte on the wire.
    pub fn byte(self) -> u8 {
        match self {
            Self::Idle => b'I',
            Self::InTransaction => b'T',
            Self::Failed => b'E',
        }
    }

    /// Parses a status byte. Strict: the pool's correctness depends on this byte, so
    /// anything but `I`, `T` or `E` is [`DecodeError::BadTransactionStatus`].
    pub fn from_byte(b: u8) -> Result<Self, DecodeError> {
        match b {
            b'I' => Ok(Self::Idle),
            b'T' => Ok(Self::InTransaction),
            b'E' => Ok(Self::Failed),
            _ => Err(DecodeError::BadTransactionStatus(b)),
        }
    }
}

/// The server is ready for a new query cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadyForQuery {
    status: TransactionStatus,
}

impl ReadyForQuery {
    /// A ReadyForQuery with this status.
    pub fn new(status: TransactionStatus) -> Self {
        Self { status }
    }

    /// The transaction status.
    pub fn status(&self) -> TransactionStatus {
        self.status
    }

    /// Decodes a `'Z'` body.
    ///
    /// > "Int32(5): Length of message contents in bytes, including self. Byte1: Current
    /// > backend transaction status indicator. Possible values are 'I' if idle (not in a
    /// > transaction block); 'T' if in a transaction block; or 'E' if in a failed
    /// > transaction block." (*Message Formats*)
    pub(super) fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let status = TransactionStatus::from_byte(r.u8("transaction status")?)?;
        r.finish("ReadyForQuery")?;
        Ok(Self { status })
    }

    /// Writes the body.
    pub(super) fn encode_body(&self, buf: &mut BytesMut) {
        buf.put_u8(self.status.byte());
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::super::test_util::{decode_frame, encode_frame};
    use super::super::BackendMessage;
    use super::*;

    #[test]
    fn ready_for_query_reports_each_status() {
        for (b, status) in [
            (b'I', TransactionStatus::Idle),
            (b'T', TransactionStatus::InTransaction),
            (b'E', TransactionStatus::Failed),
        ] {
            let frame = wire![
                b"Z",          // type
                b"\0\0\0\x05", // length 5
                [b],           // status
            ];
            let want = BackendMessage::ReadyForQuery(ReadyForQuery::new(status));
            assert_eq!(decode_frame(&frame), Ok(want.clone()));
            assert_eq!(encode_frame(&want), frame);
            assert_eq!(
                TransactionStatus::from_byte(b).map(TransactionStatus::byte),
                Ok(b)
            );
        }
    }

    #[test]
    fn ready_for_query_rejects_status_x() {
        let body = wire![
            b"X", // not I, T or E
        ];
        assert_eq!(
            BackendMessage::decode(b'Z', Bytes::from(body)),
            Err(DecodeError::BadTransactionStatus(b'X'))
        );
    }

    #[test]
    fn ready_for_query_rejects_a_body_of_two_bytes() {
        let body = wire![
            b"I", // status
            b"I", // one byte too many
        ];
        assert_eq!(
            BackendMessage::decode(b'Z', Bytes::from(body)),
            Err(DecodeError::TrailingBytes {
                what: "ReadyForQuery"
            })
        );
    }

    #[test]
    fn ready_for_query_rejects_an_empty_body() {
        assert!(matches!(
            BackendMessage::decode(b'Z', Bytes::new()),
            Err(DecodeError::Truncated { .. })
        ));
    }
}
