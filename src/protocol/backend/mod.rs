//! Backend (server → client) messages: one file per message or tiny family, each with
//! `decode` and `encode`.
//!
//! `decode` takes the body that [`super::framing`] split off the read buffer (as `Bytes`,
//! so nothing is copied) and validates **all** of it in one pass: counts against the
//! bytes that remain, every value length, NUL terminators, UTF-8 where the protocol
//! string must be text, and trailing bytes. The structs keep the validated bytes, and
//! their accessors and iterators re-walk them; they cannot fail or panic.
//!
//! `encode` writes the full frame (tag, length, body). Re-encoding a decoded message
//! gives back the bytes it came from; the round-trip proptests in `tests.rs` hold every
//! message to that. Encoders refuse only what cannot be put on the wire faithfully (a NUL
//! inside a C string, a count or length too big for its field); values that are merely
//! invalid (a 3-byte cancel key, say) are written as given, so a fake server can send them.
//!
//! No IO in this module.

use bytes::{Bytes, BytesMut};

use super::error::{DecodeError, EncodeError};
use super::write::write_frame;

/// Concatenates byte-string literals into one `Vec<u8>`, so a test can write a wire
/// fixture one field per line with a trailing comment.
#[cfg(test)]
macro_rules! wire {
    ($($part:expr),* $(,)?) => {{
        let mut v: Vec<u8> = Vec::new();
        $( v.extend_from_slice(&$part[..]); )*
        v
    }};
}

mod authentication;
mod backend_key_data;
mod command_complete;
mod completions;
mod copy;
mod data_row;
mod error_response;
mod negotiate_protocol_version;
mod notification_response;
mod parameter_description;
mod parameter_status;
mod ready_for_query;
mod row_description;
#[cfg(test)]
mod tests;

pub use authentication::Authentication;
pub use backend_key_data::BackendKeyData;
pub use command_complete::CommandComplete;
pub use copy::{CopyData, CopyResponse};
pub use data_row::{DataRow, DataRowIter, DataRowRanges};
pub use error_response::{ErrorFieldIter, ErrorFields};
pub use negotiate_protocol_version::NegotiateProtocolVersion;
pub use notification_response::NotificationResponse;
pub use parameter_description::ParameterDescription;
pub use parameter_status::ParameterStatus;
pub use ready_for_query::{ReadyForQuery, TransactionStatus};
pub use row_description::{FieldDescription, Fields, RowDescription};

/// A message sent by the server, named as in the PostgreSQL docs (*Message Formats*).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendMessage {
    /// An authentication request or outcome (`'R'`).
    Authentication(Authentication),
    /// The cancellation key of this session (`'K'`).
    BackendKeyData(BackendKeyData),
    /// A Bind completed (`'2'`).
    BindComplete,
    /// A Close completed (`'3'`).
    CloseComplete,
    /// A command completed, with its tag (`'C'`).
    CommandComplete(CommandComplete),
    /// The server is ready to receive COPY data (`'G'`).
    CopyInResponse(CopyResponse),
    /// The server is about to send COPY data (`'H'`).
    CopyOutResponse(CopyResponse),
    /// Both directions of a COPY stream are open (replication) (`'W'`).
    CopyBothResponse(CopyResponse),
    /// A chunk of COPY data (`'d'`).
    CopyData(CopyData),
    /// The COPY stream ended (`'c'`).
    CopyDone,
    /// One row of a result (`'D'`).
    DataRow(DataRow),
    /// The query string was empty (`'I'`).
    EmptyQueryResponse,
    /// An error (`'E'`).
    ErrorResponse(ErrorFields),
    /// A notice: same fields as an error, but nothing failed (`'N'`).
    NoticeResponse(ErrorFields),
    /// A LISTEN/NOTIFY notification (`'A'`).
    NotificationResponse(NotificationResponse),
    /// The server does not support the requested minor version or options (`'v'`).
    NegotiateProtocolVersion(NegotiateProtocolVersion),
    /// The statement or portal returns no rows (`'n'`).
    NoData,
    /// Parameter types of a prepared statement (`'t'`).
    ParameterDescription(ParameterDescription),
    /// A run-time parameter's current value (`'S'`).
    ParameterStatus(ParameterStatus),
    /// A Parse completed (`'1'`).
    ParseComplete,
    /// An Execute stopped at its row limit (`'s'`).
    PortalSuspended,
    /// The server is ready for a new query cycle (`'Z'`).
    ReadyForQuery(ReadyForQuery),
    /// The columns of the rows that follow (`'T'`).
    RowDescription(RowDescription),
}

impl BackendMessage {
    /// Decodes the body of a message with type byte `tag`. The whole body is validated
    /// here; an unknown tag is [`DecodeError::UnknownTag`].
    #[inline]
    pub fn decode(tag: u8, body: Bytes) -> Result<Self, DecodeError> {
        use completions::decode_empty;
        Ok(match tag {
            b'R' => Self::Authentication(Authentication::decode(body)?),
            b'K' => Self::BackendKeyData(BackendKeyData::decode(body)?),
            b'2' => decode_empty(&body, "BindComplete", Self::BindComplete)?,
            b'3' => decode_empty(&body, "CloseComplete", Self::CloseComplete)?,
            b'C' => Self::CommandComplete(CommandComplete::decode(body)?),
            b'G' => Self::CopyInResponse(CopyResponse::decode(&body, "CopyInResponse")?),
            b'H' => Self::CopyOutResponse(CopyResponse::decode(&body, "CopyOutResponse")?),
            b'W' => Self::CopyBothResponse(CopyResponse::decode(&body, "CopyBothResponse")?),
            b'd' => Self::CopyData(CopyData::decode(body)),
            b'c' => decode_empty(&body, "CopyDone", Self::CopyDone)?,
            b'D' => Self::DataRow(DataRow::decode(body)?),
            b'I' => decode_empty(&body, "EmptyQueryResponse", Self::EmptyQueryResponse)?,
            b'E' => Self::ErrorResponse(ErrorFields::decode(body, "ErrorResponse")?),
            b'N' => Self::NoticeResponse(ErrorFields::decode(body, "NoticeResponse")?),
            b'A' => Self::NotificationResponse(NotificationResponse::decode(body)?),
            b'v' => Self::NegotiateProtocolVersion(NegotiateProtocolVersion::decode(&body)?),
            b'n' => decode_empty(&body, "NoData", Self::NoData)?,
            b't' => Self::ParameterDescription(ParameterDescription::decode(&body)?),
            b'S' => Self::ParameterStatus(ParameterStatus::decode(body)?),
            b'1' => decode_empty(&body, "ParseComplete", Self::ParseComplete)?,
            b's' => decode_empty(&body, "PortalSuspended", Self::PortalSuspended)?,
            b'Z' => Self::ReadyForQuery(ReadyForQuery::decode(&body)?),
            b'T' => Self::RowDescription(RowDescription::decode(body)?),
            _ => return Err(DecodeError::UnknownTag(tag)),
        })
    }

    /// Appends the full frame (tag, length, body) to `buf`. On error nothing is written.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_frame(buf, Some(self.tag()), |b| match self {
            Self::Authentication(m) => m.encode_body(b),
            Self::BackendKeyData(m) => {
                m.encode_body(b);
                Ok(())
            }
            Self::CommandComplete(m) => m.encode_body(b),
            Self::CopyInResponse(m) | Self::CopyOutResponse(m) | Self::CopyBothResponse(m) => {
                m.encode_body(b)
            }
            Self::CopyData(m) => {
                m.encode_body(b);
                Ok(())
            }
            Self::DataRow(m) => {
                m.encode_body(b);
                Ok(())
            }
            Self::ErrorResponse(m) | Self::NoticeResponse(m) => {
                m.encode_body(b);
                Ok(())
            }
            Self::NotificationResponse(m) => m.encode_body(b),
            Self::NegotiateProtocolVersion(m) => m.encode_body(b),
            Self::ParameterDescription(m) => m.encode_body(b),
            Self::ParameterStatus(m) => m.encode_body(b),
            Self::ReadyForQuery(m) => {
                m.encode_body(b);
                Ok(())
            }
            Self::RowDescription(m) => {
                m.encode_body(b);
                Ok(())
            }
            Self::BindComplete
            | Self::CloseComplete
            | Self::CopyDone
            | Self::EmptyQueryResponse
            | Self::NoData
            | Self::ParseComplete
            | Self::PortalSuspended => Ok(()),
        })
    }

    /// The message type byte.
    pub fn tag(&self) -> u8 {
        match self {
            Self::Authentication(_) => b'R',
            Self::BackendKeyData(_) => b'K',
            Self::BindComplete => b'2',
            Self::CloseComplete => b'3',
            Self::CommandComplete(_) => b'C',
            Self::CopyInResponse(_) => b'G',
            Self::CopyOutResponse(_) => b'H',
            Self::CopyBothResponse(_) => b'W',
            Self::CopyData(_) => b'd',
            Self::CopyDone => b'c',
            Self::DataRow(_) => b'D',
            Self::EmptyQueryResponse => b'I',
            Self::ErrorResponse(_) => b'E',
            Self::NoticeResponse(_) => b'N',
            Self::NotificationResponse(_) => b'A',
            Self::NegotiateProtocolVersion(_) => b'v',
            Self::NoData => b'n',
            Self::ParameterDescription(_) => b't',
            Self::ParameterStatus(_) => b'S',
            Self::ParseComplete => b'1',
            Self::PortalSuspended => b's',
            Self::ReadyForQuery(_) => b'Z',
            Self::RowDescription(_) => b'T',
        }
    }

    /// The message name as in the PostgreSQL docs, for "expected X, got Y" errors.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Authentication(_) => "Authentication",
            Self::BackendKeyData(_) => "BackendKeyData",
            Self::BindComplete => "BindComplete",
            Self::CloseComplete => "CloseComplete",
            Self::CommandComplete(_) => "CommandComplete",
            Self::CopyInResponse(_) => "CopyInResponse",
            Self::CopyOutResponse(_) => "CopyOutResponse",
            Self::CopyBothResponse(_) => "CopyBothResponse",
            Self::CopyData(_) => "CopyData",
            Self::CopyDone => "CopyDone",
            Self::DataRow(_) => "DataRow",
            Self::EmptyQueryResponse => "EmptyQueryResponse",
            Self::ErrorResponse(_) => "ErrorResponse",
            Self::NoticeResponse(_) => "NoticeResponse",
            Self::NotificationResponse(_) => "NotificationResponse",
            Self::NegotiateProtocolVersion(_) => "NegotiateProtocolVersion",
            Self::NoData => "NoData",
            Self::ParameterDescription(_) => "ParameterDescription",
            Self::ParameterStatus(_) => "ParameterStatus",
            Self::ParseComplete => "ParseComplete",
            Self::PortalSuspended => "PortalSuspended",
            Self::ReadyForQuery(_) => "ReadyForQuery",
            Self::RowDescription(_) => "RowDescription",
        }
    }
}

/// The part of `body` that `part` borrows, as `Bytes` sharing the same buffer (no copy).
///
/// `part` always comes from a `Reader` over `body`, so the zero-copy branch is the one
/// taken; the fallback copies instead of panicking, keeping this total (`Bytes::slice_ref`
/// would panic on a foreign slice).
fn share(body: &Bytes, part: &[u8]) -> Bytes {
    let start = (part.as_ptr() as usize).wrapping_sub(body.as_ptr() as usize);
    match start.checked_add(part.len()) {
        Some(end) if start <= body.len() && end <= body.len() => body.slice(start..end),
        _ => Bytes::copy_from_slice(part),
    }
}

/// Helpers for the byte-level tests beside each message.
#[cfg(test)]
mod test_util {
    use bytes::{Bytes, BytesMut};

    use super::{BackendMessage, DecodeError};

    /// Decodes a whole frame (tag, length, body) after checking its length field.
    pub(super) fn decode_frame(wire: &[u8]) -> Result<BackendMessage, DecodeError> {
        let len = i32::from_be_bytes(wire[1..5].try_into().unwrap());
        assert_eq!(len as usize, wire.len() - 1, "fixture length field");
        BackendMessage::decode(wire[0], Bytes::copy_from_slice(&wire[5..]))
    }

    /// Encodes one message into a fresh buffer.
    pub(super) fn encode_frame(msg: &BackendMessage) -> Vec<u8> {
        let mut buf = BytesMut::new();
        msg.encode(&mut buf).unwrap();
        buf.to_vec()
    }
}
