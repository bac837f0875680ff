//! The messages with an empty body: ParseComplete, BindComplete, CloseComplete, NoData,
//! EmptyQueryResponse, PortalSuspended and CopyDone. They are plain unit variants of
//! [`super::BackendMessage`]; this file holds their one shared check.

use super::DecodeError;

/// Returns `message` if `body` is empty, else [`DecodeError::TrailingBytes`] naming it.
///
/// > "Int32(4) Length of message contents in bytes, including self." (*Message Formats*,
/// > e.g. ParseComplete): the length is always 4, so any body byte is one too many.
pub(super) fn decode_empty<M>(
    body: &[u8],
    name: &'static str,
    message: M,
) -> Result<M, DecodeError> {
    if body.is_empty() {
        Ok(message)
    } else {
        Err(DecodeError::TrailingBytes { what: name })
    }
}

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};

    use super::super::BackendMessage;
    use super::*;

    const EMPTY: [(u8, &str); 7] = [
        (b'1', "ParseComplete"),
        (b'2', "BindComplete"),
        (b'3', "CloseComplete"),
        (b'n', "NoData"),
        (b'I', "EmptyQueryResponse"),
        (b's', "PortalSuspended"),
        (b'c', "CopyDone"),
    ];

    #[test]
    fn empty_body_messages_decode_and_encode_as_tag_plus_length_four() {
        for (tag, name) in EMPTY {
            let msg = BackendMessage::decode(tag, Bytes::new()).unwrap();
            assert_eq!(msg.name(), name);
            assert_eq!(msg.tag(), tag);
            let mut buf = BytesMut::new();
            msg.encode(&mut buf).unwrap();
            let mut want = vec![tag]; // type byte
            want.extend_from_slice(b"\0\0\0\x04"); // length: only itself
            assert_eq!(&buf[..], &want[..]);
        }
    }

    #[test]
    fn empty_body_messages_reject_any_body_byte() {
        for (tag, name) in EMPTY {
            assert_eq!(
                BackendMessage::decode(tag, Bytes::from_static(b"\0")),
                Err(DecodeError::TrailingBytes { what: name })
            );
        }
    }

    #[test]
    fn unknown_tag_is_reported_with_its_byte() {
        assert_eq!(
            BackendMessage::decode(b'x', Bytes::new()),
            Err(DecodeError::UnknownTag(b'x'))
        );
    }
}
