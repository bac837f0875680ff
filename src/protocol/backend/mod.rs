//! Backend (server → client) messages. STUB: replaced by the backend-messages work.
use bytes::{Bytes, BytesMut};

use super::error::{DecodeError, EncodeError};

/// A message sent by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendMessage {
    /// ParseComplete ('1').
    ParseComplete,
}

impl BackendMessage {
    /// Decodes a body.
    pub fn decode(tag: u8, body: Bytes) -> Result<Self, DecodeError> {
        match tag {
            b'1' if body.is_empty() => Ok(Self::ParseComplete),
            _ => Err(DecodeError::UnknownTag(tag)),
        }
    }

    /// Encodes.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        super::write::write_frame(buf, Some(b'1'), |_| Ok(()))
    }
}
