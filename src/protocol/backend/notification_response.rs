//! NotificationResponse (`'A'`): a NOTIFY delivered to this session's LISTEN.

use bytes::{BufMut, Bytes, BytesMut};

use super::super::read::Reader;
use super::super::text::ByteStr;
use super::super::write::put_cstr;
use super::{share, DecodeError, EncodeError};

/// A notification: who sent it, on which channel, with what payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationResponse {
    process_id: i32,
    channel: ByteStr,
    payload: ByteStr,
}

impl NotificationResponse {
    /// A notification from `process_id` on `channel`.
    pub fn new(process_id: i32, channel: impl Into<ByteStr>, payload: impl Into<ByteStr>) -> Self {
        Self {
            process_id,
            channel: channel.into(),
            payload: payload.into(),
        }
    }

    /// The process ID of the notifying backend.
    pub fn process_id(&self) -> i32 {
        self.process_id
    }

    /// The channel name.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// The payload (empty if none was given).
    pub fn payload(&self) -> &str {
        &self.payload
    }

    /// Decodes an `'A'` body: Int32 process ID, String channel, String payload.
    pub(super) fn decode(body: Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(&body);
        let process_id = r.i32("notifying process ID")?;
        let channel = r.cstr("notification channel")?;
        let payload = r.cstr("notification payload")?;
        r.finish("NotificationResponse")?;
        Ok(Self {
            process_id,
            channel: ByteStr::from_utf8(share(&body, channel.as_bytes()), "notification channel")?,
            payload: ByteStr::from_utf8(share(&body, payload.as_bytes()), "notification payload")?,
        })
    }

    /// Writes the body.
    pub(super) fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        buf.put_i32(self.process_id);
        put_cstr(buf, self.channel.as_bytes(), "notification channel")?;
        put_cstr(buf, self.payload.as_bytes(), "notification payload")
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{decode_frame, encode_frame};
    use super::super::BackendMessage;
    use super::*;

    #[test]
    fn notification_response_carries_pid_channel_and_payload() {
        let frame = wire![
            b"A",            // type
            b"\0\0\0\x10",   // length 16
            b"\0\0\x04\xd2", // process ID 1234
            b"jobs\0",       // channel
            b"42\0",         // payload
        ];
        let Ok(BackendMessage::NotificationResponse(n)) = decode_frame(&frame) else {
            panic!("not a NotificationResponse");
        };
        assert_eq!(
            (n.process_id(), n.channel(), n.payload()),
            (1234, "jobs", "42")
        );
        assert_eq!(n, NotificationResponse::new(1234, "jobs", "42"));
        assert_eq!(
            encode_frame(&BackendMessage::NotificationResponse(n)),
            frame
        );
    }

    #[test]
    fn notification_without_payload_terminator_is_truncated() {
        let body = wire![
            b"\0\0\0\x01", // process ID
            b"jobs\0",     // channel
            b"42",         // payload, cut off
        ];
        assert!(matches!(
            BackendMessage::decode(b'A', Bytes::from(body)),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn notification_rejects_a_trailing_byte() {
        let body = wire![
            b"\0\0\0\x01", // process ID
            b"jobs\0",     // channel
            b"\0",         // empty payload
            b"x",          // one byte too many
        ];
        assert!(matches!(
            BackendMessage::decode(b'A', Bytes::from(body)),
            Err(DecodeError::TrailingBytes { .. })
        ));
    }

    #[test]
    fn encoding_a_channel_with_nul_is_refused() {
        let msg = BackendMessage::NotificationResponse(NotificationResponse::new(1, "a\0b", ""));
        let mut buf = BytesMut::new();
        assert!(msg.encode(&mut buf).is_err());
        assert!(buf.is_empty());
    }
}
