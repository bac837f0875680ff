//! Frontend (client → server) messages: encode for the connection layer, decode for fake
//! servers, round-trip proptests and fuzz oracles. No IO in this module.
//!
//! Two ways to write a message:
//! - the owned structs ([`Parse`], [`Bind`], ...) and [`FrontendMessage::encode`], for tests
//!   and fakes;
//! - the allocation-free writers ([`write_parse`], [`BindWriter`], ...), for the hot path.
//!   The structs' `encode` is built on the writers, so both produce the same bytes.
//!
//! Every encoder writes a whole frame or nothing: a length or count that does not fit its
//! wire field, or a C string with a NUL inside, is an [`EncodeError`] and the buffer is left
//! as it was (RUSTSEC-2024-0363 / CVE-2024-27304).
//!
//! Untagged startup-phase packets live in [`startup`]; see [`StartupPacket`].

use bytes::{Bytes, BytesMut};

use super::error::{DecodeError, EncodeError};

mod bind;
mod close;
mod copy;
mod describe;
mod execute;
mod parse;
mod password;
mod query;
pub mod startup;
mod sync;

#[cfg(test)]
mod tests;

pub use bind::{Bind, BindPrefix, BindWriter, IsNull};
pub use close::{write_close, Close};
pub use copy::{write_copy_data, write_copy_done, write_copy_fail, CopyData, CopyFail};
pub use describe::{write_describe, Describe, Target};
pub use execute::{write_execute, Execute};
pub use parse::{write_parse, Parse};
pub use password::{
    write_password, write_sasl_initial_response, write_sasl_response, PasswordMessage,
    SaslInitialResponse, SaslResponse,
};
pub use query::{write_query, Query};
pub use startup::{
    write_cancel_request, write_gssenc_request, write_ssl_request, write_startup, CancelRequest,
    StartupMessage, StartupPacket,
};
pub use sync::{write_flush, write_sync, write_terminate};

/// How to read a `'p'` message, whose meaning depends on the auth exchange (the server
/// knows which it asked for).
///
/// > "PasswordMessage ... This is also used for GSSAPI, SSPI and SASL response messages.
/// > The exact message type can be deduced from the context." (Protocol, *Message Formats*)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthStage {
    /// A PasswordMessage (cleartext or MD5).
    #[default]
    Password,
    /// A SASLInitialResponse (after AuthenticationSASL).
    SaslInitial,
    /// A SASLResponse (after AuthenticationSASLContinue).
    Sasl,
}

/// A message sent by the client, after the startup phase.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrontendMessage {
    /// PasswordMessage (`'p'`, [`AuthStage::Password`]).
    PasswordMessage(PasswordMessage),
    /// SASLInitialResponse (`'p'`, [`AuthStage::SaslInitial`]).
    SaslInitialResponse(SaslInitialResponse),
    /// SASLResponse (`'p'`, [`AuthStage::Sasl`]).
    SaslResponse(SaslResponse),
    /// Query (`'Q'`).
    Query(Query),
    /// Parse (`'P'`).
    Parse(Parse),
    /// Bind (`'B'`).
    Bind(Bind),
    /// Describe (`'D'`).
    Describe(Describe),
    /// Execute (`'E'`).
    Execute(Execute),
    /// Close (`'C'`).
    Close(Close),
    /// Sync (`'S'`).
    Sync,
    /// Flush (`'H'`).
    Flush,
    /// CopyData (`'d'`).
    CopyData(CopyData),
    /// CopyDone (`'c'`).
    CopyDone,
    /// CopyFail (`'f'`).
    CopyFail(CopyFail),
    /// Terminate (`'X'`).
    Terminate,
}

impl FrontendMessage {
    /// Decodes the body of a tagged frame. The whole body is validated; trailing bytes are
    /// an error. `stage` says how to read a `'p'` message.
    pub fn decode(tag: u8, body: Bytes, stage: AuthStage) -> Result<Self, DecodeError> {
        Ok(match tag {
            b'p' => match stage {
                AuthStage::Password => Self::PasswordMessage(PasswordMessage::decode(&body)?),
                AuthStage::SaslInitial => {
                    Self::SaslInitialResponse(SaslInitialResponse::decode(&body)?)
                }
                AuthStage::Sasl => Self::SaslResponse(SaslResponse::decode(&body)),
            },
            b'Q' => Self::Query(Query::decode(&body)?),
            b'P' => Self::Parse(Parse::decode(&body)?),
            b'B' => Self::Bind(Bind::decode(&body)?),
            b'D' => Self::Describe(Describe::decode(&body)?),
            b'E' => Self::Execute(Execute::decode(&body)?),
            b'C' => Self::Close(Close::decode(&body)?),
            b'S' => sync::decode_empty(&body, "Sync", Self::Sync)?,
            b'H' => sync::decode_empty(&body, "Flush", Self::Flush)?,
            b'X' => sync::decode_empty(&body, "Terminate", Self::Terminate)?,
            b'c' => sync::decode_empty(&body, "CopyDone", Self::CopyDone)?,
            b'd' => Self::CopyData(CopyData::decode(&body)),
            b'f' => Self::CopyFail(CopyFail::decode(&body)?),
            _ => return Err(DecodeError::UnknownTag(tag)),
        })
    }

    /// Encodes the full frame (tag, length, body). On error nothing is written.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            Self::PasswordMessage(m) => m.encode(buf),
            Self::SaslInitialResponse(m) => m.encode(buf),
            Self::SaslResponse(m) => m.encode(buf),
            Self::Query(m) => m.encode(buf),
            Self::Parse(m) => m.encode(buf),
            Self::Bind(m) => m.encode(buf),
            Self::Describe(m) => m.encode(buf),
            Self::Execute(m) => m.encode(buf),
            Self::Close(m) => m.encode(buf),
            Self::Sync => {
                write_sync(buf);
                Ok(())
            }
            Self::Flush => {
                write_flush(buf);
                Ok(())
            }
            Self::CopyData(m) => m.encode(buf),
            Self::CopyDone => {
                write_copy_done(buf);
                Ok(())
            }
            Self::CopyFail(m) => m.encode(buf),
            Self::Terminate => {
                write_terminate(buf);
                Ok(())
            }
        }
    }

    /// The tag byte of this message.
    pub fn tag(&self) -> u8 {
        match self {
            Self::PasswordMessage(_) | Self::SaslInitialResponse(_) | Self::SaslResponse(_) => b'p',
            Self::Query(_) => b'Q',
            Self::Parse(_) => b'P',
            Self::Bind(_) => b'B',
            Self::Describe(_) => b'D',
            Self::Execute(_) => b'E',
            Self::Close(_) => b'C',
            Self::Sync => b'S',
            Self::Flush => b'H',
            Self::CopyData(_) => b'd',
            Self::CopyDone => b'c',
            Self::CopyFail(_) => b'f',
            Self::Terminate => b'X',
        }
    }

    /// The message name as in the PostgreSQL docs (for errors and logs).
    pub fn name(&self) -> &'static str {
        match self {
            Self::PasswordMessage(_) => "PasswordMessage",
            Self::SaslInitialResponse(_) => "SASLInitialResponse",
            Self::SaslResponse(_) => "SASLResponse",
            Self::Query(_) => "Query",
            Self::Parse(_) => "Parse",
            Self::Bind(_) => "Bind",
            Self::Describe(_) => "Describe",
            Self::Execute(_) => "Execute",
            Self::Close(_) => "Close",
            Self::Sync => "Sync",
            Self::Flush => "Flush",
            Self::CopyData(_) => "CopyData",
            Self::CopyDone => "CopyDone",
            Self::CopyFail(_) => "CopyFail",
            Self::Terminate => "Terminate",
        }
    }
}

/// A zero-copy `Bytes` view of `part`, which must be a sub-slice of `body` (every slice a
/// `Reader` over `body` hands out is).
pub(crate) fn share(body: &Bytes, part: &[u8]) -> Bytes {
    if part.is_empty() {
        Bytes::new()
    } else {
        body.slice_ref(part)
    }
}

/// A C string read as UTF-8 and copied into an owned `String`.
pub(crate) fn owned_cstr(
    r: &mut super::read::Reader<'_>,
    what: &'static str,
) -> Result<String, DecodeError> {
    r.cstr(what).map(str::to_owned)
}
