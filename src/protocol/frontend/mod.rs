//! Frontend (client → server) messages. STUB: replaced by the frontend-messages work.
use bytes::{Bytes, BytesMut};

use super::error::{DecodeError, EncodeError};

/// How to read a `'p'` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthStage {
    /// PasswordMessage.
    #[default]
    Password,
}

/// A message sent by the client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrontendMessage {
    /// Sync ('S').
    Sync,
}

impl FrontendMessage {
    /// Decodes a body.
    pub fn decode(tag: u8, body: Bytes, _stage: AuthStage) -> Result<Self, DecodeError> {
        match tag {
            b'S' if body.is_empty() => Ok(Self::Sync),
            _ => Err(DecodeError::UnknownTag(tag)),
        }
    }

    /// Encodes.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        super::write::write_frame(buf, Some(b'S'), |_| Ok(()))
    }
}

/// An untagged startup-phase packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupPacket {
    /// SSLRequest.
    SslRequest,
}

impl StartupPacket {
    /// Decodes the body after the length.
    pub fn decode(body: Bytes) -> Result<Self, DecodeError> {
        match body.get(..4) {
            Some(&[4, 0xd2, 0x16, 0x2f]) => Ok(Self::SslRequest),
            _ => Err(DecodeError::BadValue { what: "startup code" }),
        }
    }
}
