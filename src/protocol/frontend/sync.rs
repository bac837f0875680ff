//! Sync (`'S'`), Flush (`'H'`), Terminate (`'X'`): messages with an empty body. CopyDone,
//! also empty, is written in `copy.rs` but decoded with [`decode_empty`].

use bytes::{BufMut, BytesMut};

use crate::protocol::error::DecodeError;

/// Writes a frame whose body is empty: the tag and the length 4. Cannot fail.
pub(crate) fn write_empty(buf: &mut BytesMut, tag: u8) {
    buf.put_u8(tag);
    buf.put_i32(4);
}

/// Checks that a body is empty (`Int32(4)` is the only length these messages have).
pub(crate) fn decode_empty<T>(body: &[u8], what: &'static str, msg: T) -> Result<T, DecodeError> {
    if body.is_empty() {
        Ok(msg)
    } else {
        Err(DecodeError::TrailingBytes { what })
    }
}

/// Writes a Sync: ends an extended-query batch; the server answers with ReadyForQuery.
#[inline]
pub fn write_sync(buf: &mut BytesMut) {
    write_empty(buf, b'S');
}

/// Writes a Flush: asks the server to send what it has buffered.
#[inline]
pub fn write_flush(buf: &mut BytesMut) {
    write_empty(buf, b'H');
}

/// Writes a Terminate: the client is closing the connection.
pub fn write_terminate(buf: &mut BytesMut) {
    write_empty(buf, b'X');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::frontend::{AuthStage, FrontendMessage};
    use bytes::Bytes;

    #[test]
    fn empty_messages_are_tag_and_length_four() {
        let mut buf = BytesMut::new();
        write_sync(&mut buf);
        write_flush(&mut buf);
        write_terminate(&mut buf);
        let expected: &[u8] = &[
            b"S\0\0\0\x04" as &[u8], // Sync, length 4
            b"H\0\0\0\x04",          // Flush, length 4
            b"X\0\0\0\x04",          // Terminate, length 4
        ]
        .concat();
        assert_eq!(&buf[..], expected);
    }

    #[test]
    fn sync_with_a_body_is_rejected_as_trailing_bytes() {
        assert_eq!(
            FrontendMessage::decode(b'S', Bytes::from_static(b"\0"), AuthStage::default()),
            Err(DecodeError::TrailingBytes { what: "Sync" })
        );
        assert_eq!(
            FrontendMessage::decode(b'X', Bytes::from_static(b"x"), AuthStage::default()),
            Err(DecodeError::TrailingBytes { what: "Terminate" })
        );
    }

    #[test]
    fn unknown_tag_is_rejected() {
        assert_eq!(
            FrontendMessage::decode(b'Z', Bytes::new(), AuthStage::default()),
            Err(DecodeError::UnknownTag(b'Z'))
        );
    }
}
