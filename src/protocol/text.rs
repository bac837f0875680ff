//! `ByteStr`: a zero-copy string backed by `Bytes`, validated as UTF-8 when built.

use std::fmt;

use bytes::Bytes;

use super::error::DecodeError;

/// An immutable UTF-8 string that shares the message buffer it was decoded from.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct ByteStr(Bytes);

impl ByteStr {
    /// Wraps `bytes` after checking that they are UTF-8.
    pub fn from_utf8(bytes: Bytes, what: &'static str) -> Result<Self, DecodeError> {
        match std::str::from_utf8(&bytes) {
            Ok(_) => Ok(Self(bytes)),
            Err(_) => Err(DecodeError::InvalidUtf8 { what }),
        }
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        // Validated in every constructor; the fallback is unreachable but keeps this total.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }
}

impl From<&'static str> for ByteStr {
    fn from(s: &'static str) -> Self {
        Self(Bytes::from_static(s.as_bytes()))
    }
}

impl From<String> for ByteStr {
    fn from(s: String) -> Self {
        Self(Bytes::from(s))
    }
}

impl std::ops::Deref for ByteStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for ByteStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ByteStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
