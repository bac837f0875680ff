//! ParameterStatus (`'S'`): the current value of a run-time parameter the server reports
//! (`server_version`, `client_encoding`, `TimeZone`, ...).

use bytes::{Bytes, BytesMut};

use super::super::read::Reader;
use super::super::text::ByteStr;
use super::super::write::put_cstr;
use super::{share, DecodeError, EncodeError};

/// A run-time parameter's name and current value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterStatus {
    name: ByteStr,
    value: ByteStr,
}

impl ParameterStatus {
    /// A status report of `name` = `value`.
    pub fn new(name: impl Into<ByteStr>, value: impl Into<ByteStr>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }

    /// The parameter name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its current value, raw (e.g. `"16.0 (InterSystems IRIS)"` for `server_version`).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Decodes an `'S'` body: String name, String value.
    pub(super) fn decode(body: Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(&body);
        let name = r.cstr("parameter name")?;
        let value = r.cstr("parameter value")?;
        r.finish("ParameterStatus")?;
        Ok(Self {
            name: ByteStr::from_utf8(share(&body, name.as_bytes()), "parameter name")?,
            value: ByteStr::from_utf8(share(&body, value.as_bytes()), "parameter value")?,
        })
    }

    /// Writes the body.
    pub(super) fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        put_cstr(buf, self.name.as_bytes(), "parameter name")?;
        put_cstr(buf, self.value.as_bytes(), "parameter value")
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{decode_frame, encode_frame};
    use super::super::BackendMessage;
    use super::*;

    #[test]
    fn parameter_status_keeps_odd_server_versions_raw() {
        let frame = wire![
            b"S",                          // type
            b"\0\0\0\x2c",                 // length 44
            b"server_version\0",           // name
            b"16.0 (InterSystems IRIS)\0", // value
        ];
        let want = BackendMessage::ParameterStatus(ParameterStatus::new(
            "server_version",
            "16.0 (InterSystems IRIS)",
        ));
        assert_eq!(decode_frame(&frame), Ok(want.clone()));
        assert_eq!(encode_frame(&want), frame);
    }

    #[test]
    fn parameter_status_without_value_is_truncated() {
        let body = wire![
            b"TimeZone\0", // name, then nothing
        ];
        assert!(matches!(
            BackendMessage::decode(b'S', Bytes::from(body)),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn parameter_status_rejects_non_utf8_and_trailing_bytes() {
        let body = wire![
            b"a\0",    // name
            b"\xff\0", // value, not UTF-8
        ];
        assert_eq!(
            BackendMessage::decode(b'S', Bytes::from(body)),
            Err(DecodeError::InvalidUtf8 {
                what: "parameter value"
            })
        );
        let body = wire![
            b"a\0", // name
            b"b\0", // value
            b"c",   // one byte too many
        ];
        assert!(matches!(
            BackendMessage::decode(b'S', Bytes::from(body)),
            Err(DecodeError::TrailingBytes { .. })
        ));
    }
}
