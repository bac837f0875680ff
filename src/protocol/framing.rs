//! Splitting frames off a read buffer, with length caps checked before any allocation.
//!
//! A tagged frame is `tag: u8, len: i32, body: [u8; len - 4]`; `len` counts itself. The
//! startup-phase packets a client sends first (StartupMessage, SSLRequest, GSSENCRequest,
//! CancelRequest) have no tag and are handled by [`split_startup_packet`].
//!
//! > "The first byte of a message identifies the message type, and the next four bytes
//! > specify the length of the rest of the message (this length count includes itself, but
//! > not the message-type byte)." (Protocol, *Message Formats*)
//!
//! Rules, in order: a declared length below 4 is [`DecodeError::BadLength`]; one above the
//! cap for its type is [`DecodeError::TooLong`]; both are reported as soon as the 5-byte
//! header is in, **before** waiting for (or reserving room for) the body. Incomplete input
//! is `Ok(None)`. Nothing here reserves memory from a declared length.

use bytes::{Bytes, BytesMut};

use super::backend::BackendMessage;
use super::error::DecodeError;
use super::frontend::{AuthStage, FrontendMessage, StartupPacket};
use super::{DEFAULT_MAX_MESSAGE_LEN, DEFAULT_MAX_SMALL_MESSAGE_LEN};

/// Length caps for incoming messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Cap for message types that can legitimately be large (DataRow, RowDescription,
    /// ErrorResponse, NoticeResponse, NotificationResponse, CopyData,
    /// ParameterDescription). Default 1 GiB − 1.
    pub max_message_len: usize,
    /// Cap for every other type (ReadyForQuery, ParameterStatus, Authentication,
    /// BackendKeyData, CommandComplete, ...). Default 30,000 bytes, as libpq.
    pub max_small_message_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_len: DEFAULT_MAX_MESSAGE_LEN,
            max_small_message_len: DEFAULT_MAX_SMALL_MESSAGE_LEN,
        }
    }
}

impl Limits {
    /// The cap (on the declared length, which includes the length field) for a backend
    /// message with this tag.
    #[inline]
    pub fn backend_cap(&self, tag: u8) -> usize {
        match tag {
            // libpq's VALID_LONG_MESSAGE_TYPE, plus ParameterDescription ('t'), which is
            // 6 + 4 * 65535 bytes at most and so can exceed 30,000.
            b'D' | b'T' | b'E' | b'N' | b'A' | b'd' | b'V' | b't' => self.max_message_len,
            // BackendKeyData: a process ID and a secret key of at most 256 bytes
            // (protocol 3.2), so a longer declared length is refused before the body is
            // buffered.
            b'K' => MAX_BACKEND_KEY_DATA_LEN.min(self.max_message_len),
            _ => self.max_small_message_len.min(self.max_message_len),
        }
    }
}

/// The longest BackendKeyData (declared length): the length field, the process ID and a
/// 256-byte secret key, protocol 3.2's maximum.
pub const MAX_BACKEND_KEY_DATA_LEN: usize = 4 + 4 + 256;

/// The largest startup packet the server accepts (`MAX_STARTUP_PACKET_LENGTH`).
pub const MAX_STARTUP_PACKET_LEN: usize = 10_000;

/// Reads a tagged header from the front of `buf` without consuming anything.
/// Returns `(tag, declared_len)` once five bytes are present.
#[inline]
pub fn peek_header(buf: &[u8]) -> Option<(u8, i32)> {
    match buf {
        [tag, a, b, c, d, ..] => Some((*tag, i32::from_be_bytes([*a, *b, *c, *d]))),
        _ => None,
    }
}

/// Splits one tagged frame off `buf` if it is complete, returning its tag and body.
/// `cap` gives the largest allowed declared length for a tag.
#[inline]
pub fn split_frame(
    buf: &mut BytesMut,
    cap: impl Fn(u8) -> usize,
) -> Result<Option<(u8, Bytes)>, DecodeError> {
    let Some((tag, declared)) = peek_header(buf) else {
        return Ok(None);
    };
    // Validate as i32 before converting: a negative length must not wrap.
    if declared < 4 {
        return Err(DecodeError::BadLength {
            tag,
            len: i64::from(declared),
        });
    }
    let len = usize::try_from(declared).map_err(|_| DecodeError::BadLength {
        tag,
        len: i64::from(declared),
    })?;
    let max = cap(tag);
    if len > max {
        return Err(DecodeError::TooLong { tag, len, max });
    }
    let total = len + 1;
    if buf.len() < total {
        return Ok(None);
    }
    // `buf` holds at least `total` bytes (checked above): drop the 5-byte header and
    // split the body off with a single split, so a frame costs one reference-count bump.
    bytes::Buf::advance(buf, 5);
    let body = buf.split_to(len - 4).freeze();
    Ok(Some((tag, body)))
}

/// Splits and decodes one backend message.
#[inline]
pub fn decode_backend(
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<BackendMessage>, DecodeError> {
    match split_frame(buf, |t| limits.backend_cap(t))? {
        Some((tag, body)) => BackendMessage::decode(tag, body).map(Some),
        None => Ok(None),
    }
}

/// Splits and decodes one tagged frontend message (used by fake servers and tests).
/// `stage` says how to read a `'p'` message, whose meaning depends on the auth exchange.
pub fn decode_frontend(
    buf: &mut BytesMut,
    max_len: usize,
    stage: AuthStage,
) -> Result<Option<FrontendMessage>, DecodeError> {
    match split_frame(buf, |_| max_len)? {
        Some((tag, body)) => FrontendMessage::decode(tag, body, stage).map(Some),
        None => Ok(None),
    }
}

/// Splits one untagged startup-phase packet (StartupMessage, SSLRequest, GSSENCRequest,
/// CancelRequest) off `buf` and decodes it.
pub fn split_startup_packet(buf: &mut BytesMut) -> Result<Option<StartupPacket>, DecodeError> {
    let Some(&[a, b, c, d]) = buf.get(..4) else {
        return Ok(None);
    };
    let declared = i32::from_be_bytes([a, b, c, d]);
    // Length, then a 4-byte code: 8 is the smallest packet there is.
    if declared < 8 {
        return Err(DecodeError::BadLength {
            tag: 0,
            len: i64::from(declared),
        });
    }
    let len = usize::try_from(declared).map_err(|_| DecodeError::BadLength {
        tag: 0,
        len: i64::from(declared),
    })?;
    if len > MAX_STARTUP_PACKET_LEN {
        return Err(DecodeError::TooLong {
            tag: 0,
            len,
            max: MAX_STARTUP_PACKET_LEN,
        });
    }
    if buf.len() < len {
        return Ok(None);
    }
    let mut frame = buf.split_to(len);
    let body = frame.split_off(4).freeze();
    StartupPacket::decode(body).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps() -> Limits {
        Limits::default()
    }

    #[test]
    fn incomplete_header_needs_more() {
        let mut buf = BytesMut::from(&b"Z\0\0\0"[..]);
        assert_eq!(split_frame(&mut buf, |t| caps().backend_cap(t)), Ok(None));
        assert_eq!(buf.len(), 4, "nothing consumed");
    }

    #[test]
    fn decode_rejects_length_below_four() {
        for len in [0i32, 1, 2, 3, -1, i32::MIN] {
            let mut buf = BytesMut::new();
            buf.extend_from_slice(b"Z");
            buf.extend_from_slice(&len.to_be_bytes());
            assert_eq!(
                split_frame(&mut buf, |t| caps().backend_cap(t)),
                Err(DecodeError::BadLength {
                    tag: b'Z',
                    len: i64::from(len)
                })
            );
        }
    }

    #[test]
    fn huge_declared_length_is_refused_from_the_header_alone() {
        // 'D' with 0x7fffffff: five bytes are enough to refuse it, nothing is reserved.
        let mut buf = BytesMut::from(&b"D\x7f\xff\xff\xff"[..]);
        let cap_before = buf.capacity();
        assert_eq!(
            split_frame(&mut buf, |t| caps().backend_cap(t)),
            Err(DecodeError::TooLong {
                tag: b'D',
                len: 0x7fff_ffff,
                max: DEFAULT_MAX_MESSAGE_LEN
            })
        );
        assert_eq!(buf.capacity(), cap_before);
    }

    #[test]
    fn small_message_types_get_the_small_cap() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(b"Z");
        buf.extend_from_slice(&30_001i32.to_be_bytes());
        assert_eq!(
            split_frame(&mut buf, |t| caps().backend_cap(t)),
            Err(DecodeError::TooLong {
                tag: b'Z',
                len: 30_001,
                max: 30_000
            })
        );
        // The same length is fine for a DataRow (it just needs more bytes).
        let mut buf = BytesMut::new();
        buf.extend_from_slice(b"D");
        buf.extend_from_slice(&30_001i32.to_be_bytes());
        assert_eq!(split_frame(&mut buf, |t| caps().backend_cap(t)), Ok(None));
    }

    #[test]
    fn splits_exactly_one_frame_and_leaves_the_rest() {
        let mut buf = BytesMut::from(&b"1\0\0\0\x04Z\0\0\0\x05I"[..]);
        let (tag, body) = split_frame(&mut buf, |t| caps().backend_cap(t))
            .unwrap()
            .unwrap();
        assert_eq!((tag, &body[..]), (b'1', &b""[..]));
        assert_eq!(&buf[..], b"Z\0\0\0\x05I");
    }

    #[test]
    fn startup_packet_length_below_eight_is_refused() {
        let mut buf = BytesMut::from(&[0u8, 0, 0, 4, 0, 0, 0, 0][..]);
        assert_eq!(
            split_startup_packet(&mut buf),
            Err(DecodeError::BadLength { tag: 0, len: 4 })
        );
    }

    #[test]
    fn startup_packet_above_ten_thousand_bytes_is_refused() {
        let mut buf = BytesMut::from(&[0u8, 1, 0, 0][..]);
        assert!(matches!(
            split_startup_packet(&mut buf),
            Err(DecodeError::TooLong { tag: 0, .. })
        ));
    }
}
