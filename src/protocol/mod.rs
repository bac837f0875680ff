//! The PostgreSQL frontend/backend protocol (3.0, plus the 3.2 additions) as bytes in,
//! messages out. **No IO, no async, no clock** in this module or below it.
//!
//! - [`BackendMessage`] and [`FrontendMessage`]: every message of both directions, each
//!   with `decode` and `encode`, so tests, fuzz oracles and fake servers share one codec.
//! - [`framing`]: splitting one frame off a read buffer, with per-type length caps checked
//!   *before* anything is reserved ([`Limits`]).
//!
//! Decoders validate the whole body up front (counts against remaining bytes, every value
//! length, NUL terminators, trailing bytes), so accessors and iterators over a decoded
//! message cannot fail or panic.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod backend;
mod error;
pub mod framing;
pub mod frontend;
pub(crate) mod read;
mod text;
pub(crate) mod write;

pub use backend::BackendMessage;
pub use error::{DecodeError, EncodeError};
pub use framing::Limits;
pub use frontend::FrontendMessage;
pub use text::ByteStr;

/// The largest message the server itself will accept or send (`PQ_LARGE_MESSAGE_LIMIT`,
/// 1 GiB − 1). The default cap for large backend messages.
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 0x3fff_ffff;

/// The cap libpq applies to backend messages that are never large (ReadyForQuery,
/// ParameterStatus, Authentication, ...).
pub const DEFAULT_MAX_SMALL_MESSAGE_LEN: usize = 30_000;

/// Protocol version 3.0, as sent in the StartupMessage.
pub const PROTOCOL_3_0: i32 = 0x0003_0000;

/// Protocol version 3.2 (PostgreSQL 18: variable-length cancel keys).
pub const PROTOCOL_3_2: i32 = 0x0003_0002;

/// An object ID, as used for types and tables.
pub type Oid = u32;

/// Wire format of a value: 0 is text, 1 is binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Format code 0.
    Text,
    /// Format code 1.
    Binary,
}

impl Format {
    /// The format code on the wire.
    pub fn code(self) -> i16 {
        match self {
            Self::Text => 0,
            Self::Binary => 1,
        }
    }

    /// Parses a format code; anything but 0 and 1 is invalid.
    pub fn from_code(code: i16) -> Result<Self, DecodeError> {
        match code {
            0 => Ok(Self::Text),
            1 => Ok(Self::Binary),
            _ => Err(DecodeError::BadValue {
                what: "format code",
            }),
        }
    }
}
