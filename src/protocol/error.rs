//! Errors of the codec: what went wrong decoding a backend/frontend message or encoding one.
//!
//! Both types are small, `Copy` and allocation-free: the context is `&'static str`, so a
//! hostile peer cannot make an error allocate. The connection layer wraps them in
//! [`crate::Error`].

use std::fmt;

/// A message from the peer could not be decoded. The connection that produced it is out of
/// sync and must not be used again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The body ended before a field (`what`) was complete.
    Truncated {
        /// The field or message being read.
        what: &'static str,
    },
    /// The declared length is larger than the cap for this message type.
    TooLong {
        /// The message tag (0 for untagged startup packets).
        tag: u8,
        /// The declared length, including the length field itself.
        len: usize,
        /// The cap that applied.
        max: usize,
    },
    /// The declared length is impossible (below 4, or wrong for a fixed-size message).
    BadLength {
        /// The message tag (0 for untagged startup packets).
        tag: u8,
        /// The declared length as sent.
        len: i64,
    },
    /// The tag byte does not name a message of this direction.
    UnknownTag(u8),
    /// An Authentication request code that the protocol does not define.
    UnknownAuth(i32),
    /// A protocol string (`what`) is not UTF-8.
    InvalidUtf8 {
        /// The field being read.
        what: &'static str,
    },
    /// Bytes were left after the last field of `what`.
    TrailingBytes {
        /// The message whose body was too long.
        what: &'static str,
    },
    /// A count (`what`) is negative or cannot fit in the bytes that remain.
    BadCount {
        /// The counted thing.
        what: &'static str,
        /// The count as sent.
        count: i64,
    },
    /// A value length is negative but not -1 (NULL).
    BadValueLength(i32),
    /// A ReadyForQuery status byte other than `I`, `T` or `E`.
    BadTransactionStatus(u8),
    /// A field holds a value the protocol does not allow (a format code other than 0/1,
    /// an unknown Describe/Close target, a C string without its NUL, ...).
    BadValue {
        /// The field being read.
        what: &'static str,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Truncated { what } => write!(f, "truncated {what}"),
            Self::TooLong { tag, len, max } => write!(
                f,
                "message {} declares {len} bytes, above the cap of {max}",
                tag_name(tag)
            ),
            Self::BadLength { tag, len } => {
                write!(
                    f,
                    "message {} declares impossible length {len}",
                    tag_name(tag)
                )
            }
            Self::UnknownTag(tag) => write!(f, "unknown message type {}", tag_name(tag)),
            Self::UnknownAuth(code) => write!(f, "unknown authentication request code {code}"),
            Self::InvalidUtf8 { what } => write!(f, "{what} is not valid UTF-8"),
            Self::TrailingBytes { what } => write!(f, "trailing bytes after {what}"),
            Self::BadCount { what, count } => write!(f, "invalid {what} count {count}"),
            Self::BadValueLength(len) => write!(f, "invalid value length {len}"),
            Self::BadTransactionStatus(b) => {
                write!(f, "invalid transaction status {}", tag_name(b))
            }
            Self::BadValue { what } => write!(f, "invalid {what}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Renders a tag as `'X'` when printable, else as hex.
pub(crate) fn tag_name(tag: u8) -> TagName {
    TagName(tag)
}

/// Display helper for a message tag byte.
pub(crate) struct TagName(u8);

impl fmt::Display for TagName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_ascii_graphic() {
            write!(f, "'{}'", self.0 as char)
        } else {
            write!(f, "0x{:02x}", self.0)
        }
    }
}

/// A message could not be encoded because a value does not fit its wire field. Nothing was
/// written to the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// A C-string field (`what`) contains a NUL byte, which would end it early on the wire.
    InteriorNul {
        /// The field being written.
        what: &'static str,
    },
    /// More parameters (or format codes, or columns) than the 16-bit count field can hold.
    TooManyParams(usize),
    /// A message or value is longer than its 32-bit length field allows.
    TooLong(usize),
    /// A field holds a value the wire format cannot carry (an empty startup parameter
    /// name, which would read as the terminator; a cancel key outside 4..=256 bytes; a
    /// `BindWriter` used after a failed step).
    BadValue {
        /// The field being written.
        what: &'static str,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::InteriorNul { what } => write!(f, "{what} contains a NUL byte"),
            Self::TooManyParams(n) => write!(f, "{n} items do not fit a 16-bit count"),
            Self::TooLong(n) => write!(f, "{n} bytes do not fit a 32-bit length"),
            Self::BadValue { what } => write!(f, "invalid {what}"),
        }
    }
}

impl std::error::Error for EncodeError {}
