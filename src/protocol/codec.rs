//! tokio-util `Decoder`/`Encoder` adapters: thin wrappers over [`super::framing`].
//!
//! [`ClientCodec`] decodes backend messages and encodes frontend ones (what a client
//! uses); [`ServerCodec`] is the mirror image, for fake servers in tests. Untagged startup
//! packets are not handled here: see [`super::framing::split_startup_packet`].

use std::{fmt, io};

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use super::backend::BackendMessage;
use super::error::{DecodeError, EncodeError};
use super::framing::{decode_backend, decode_frontend, Limits};
use super::frontend::{AuthStage, FrontendMessage};

/// The error type of the codec adapters: tokio-util needs `From<io::Error>`.
#[derive(Debug)]
#[non_exhaustive]
pub enum CodecError {
    /// The bytes did not decode.
    Decode(DecodeError),
    /// A message did not encode; nothing was written.
    Encode(EncodeError),
    /// The transport failed.
    Io(io::Error),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decode(e) => write!(f, "decode: {e}"),
            Self::Encode(e) => write!(f, "encode: {e}"),
            Self::Io(e) => write!(f, "io: {e}"),
        }
    }
}

impl std::error::Error for CodecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Decode(e) => Some(e),
            Self::Encode(e) => Some(e),
            Self::Io(e) => Some(e),
        }
    }
}

impl From<io::Error> for CodecError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<DecodeError> for CodecError {
    fn from(e: DecodeError) -> Self {
        Self::Decode(e)
    }
}

impl From<EncodeError> for CodecError {
    fn from(e: EncodeError) -> Self {
        Self::Encode(e)
    }
}

/// Client side: decodes [`BackendMessage`]s, encodes [`FrontendMessage`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientCodec {
    limits: Limits,
}

impl ClientCodec {
    /// A codec with the given caps.
    pub fn new(limits: Limits) -> Self {
        Self { limits }
    }
}

impl Decoder for ClientCodec {
    type Item = BackendMessage;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BackendMessage>, CodecError> {
        Ok(decode_backend(src, &self.limits)?)
    }
}

impl Encoder<&FrontendMessage> for ClientCodec {
    type Error = CodecError;

    fn encode(&mut self, item: &FrontendMessage, dst: &mut BytesMut) -> Result<(), CodecError> {
        Ok(item.encode(dst)?)
    }
}

/// Server side (fake servers in tests): decodes tagged [`FrontendMessage`]s, encodes
/// [`BackendMessage`]s.
#[derive(Debug, Clone, Copy)]
pub struct ServerCodec {
    max_len: usize,
    /// How the next `'p'` message is read; the fake server sets it as auth proceeds.
    pub stage: AuthStage,
}

impl ServerCodec {
    /// A codec that refuses frontend messages longer than `max_len`.
    pub fn new(max_len: usize) -> Self {
        Self {
            max_len,
            stage: AuthStage::default(),
        }
    }
}

impl Default for ServerCodec {
    fn default() -> Self {
        Self::new(super::DEFAULT_MAX_MESSAGE_LEN)
    }
}

impl Decoder for ServerCodec {
    type Item = FrontendMessage;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<FrontendMessage>, CodecError> {
        Ok(decode_frontend(src, self.max_len, self.stage)?)
    }
}

impl Encoder<&BackendMessage> for ServerCodec {
    type Error = CodecError;

    fn encode(&mut self, item: &BackendMessage, dst: &mut BytesMut) -> Result<(), CodecError> {
        Ok(item.encode(dst)?)
    }
}
