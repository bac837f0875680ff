//! Untagged startup-phase packets: StartupMessage, SSLRequest, GSSENCRequest and
//! CancelRequest. They have no tag byte: `Int32 length` (counting itself), then an `Int32`
//! protocol version or request code, then the body.
//!
//! [`crate::protocol::framing::split_startup_packet`] checks the length (8..=10000) and
//! hands [`StartupPacket::decode`] everything after it.

use bytes::{BufMut, Bytes, BytesMut};

use super::share;
use crate::protocol::error::{DecodeError, EncodeError};
use crate::protocol::read::Reader;
use crate::protocol::write::{put_cstr, write_frame};

/// SSLRequest code: 1234 in the high 16 bits, 5679 in the low.
pub const SSL_REQUEST_CODE: i32 = 80_877_103;
/// GSSENCRequest code: 1234 / 5680.
pub const GSSENC_REQUEST_CODE: i32 = 80_877_104;
/// CancelRequest code: 1234 / 5678.
pub const CANCEL_REQUEST_CODE: i32 = 80_877_102;

/// The "major version" 1234 that marks a request code rather than a protocol version.
const REQUEST_CODE_MAJOR: i32 = 1234;

/// A cancel key is 4 bytes in protocol 3.0 and at most 256 bytes in 3.2.
///
/// > "The secret key. Its length is determined by the length of the message ... The
/// > maximum length is 256 bytes." (*Message Formats*, CancelRequest, 3.2)
const CANCEL_KEY_LEN: std::ops::RangeInclusive<usize> = 4..=256;

/// An untagged startup-phase packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupPacket {
    /// StartupMessage: protocol version and connection parameters.
    Startup(StartupMessage),
    /// SSLRequest: asks to switch to TLS.
    SslRequest,
    /// GSSENCRequest: asks to switch to GSSAPI encryption.
    GssEncRequest,
    /// CancelRequest, sent on a new connection to cancel a running query.
    CancelRequest(CancelRequest),
}

/// StartupMessage: the first message of a normal connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupMessage {
    /// Major version in the high 16 bits, minor in the low (e.g.
    /// [`PROTOCOL_3_0`](crate::protocol::PROTOCOL_3_0)).
    pub protocol_version: i32,
    /// `(name, value)` pairs such as `("user", "alice")`. Names are non-empty.
    pub params: Vec<(String, String)>,
}

/// CancelRequest: identifies the backend to cancel by its process ID and secret key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelRequest {
    /// The backend's process ID (from BackendKeyData).
    pub process_id: i32,
    /// The secret key (from BackendKeyData): 4 to 256 bytes.
    pub secret_key: Bytes,
}

impl StartupPacket {
    /// Decodes a packet from `body`, everything after the `Int32` length.
    pub fn decode(body: Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(&body);
        let code = r.i32("startup protocol version")?;
        match code {
            SSL_REQUEST_CODE => {
                r.finish("SSLRequest")?;
                Ok(Self::SslRequest)
            }
            GSSENC_REQUEST_CODE => {
                r.finish("GSSENCRequest")?;
                Ok(Self::GssEncRequest)
            }
            CANCEL_REQUEST_CODE => {
                let process_id = r.i32("cancel process ID")?;
                let key = r.rest();
                if !CANCEL_KEY_LEN.contains(&key.len()) {
                    return Err(DecodeError::BadValue {
                        what: "cancel secret key length",
                    });
                }
                Ok(Self::CancelRequest(CancelRequest {
                    process_id,
                    secret_key: share(&body, key),
                }))
            }
            // Any other code in the 1234 "major version" is a request we do not know.
            _ if code >> 16 == REQUEST_CODE_MAJOR => Err(DecodeError::BadValue {
                what: "startup request code",
            }),
            // A protocol version: whether it is supported is the server's decision
            // (NegotiateProtocolVersion), not the codec's.
            _ => {
                let mut params = Vec::new();
                loop {
                    // > "A zero byte is required as a terminator after the last name/value
                    // > pair." A missing terminator reads as a truncated name.
                    let name = r.cstr("startup parameter name")?;
                    if name.is_empty() {
                        break;
                    }
                    let value = r.cstr("startup parameter value")?;
                    params.push((name.to_owned(), value.to_owned()));
                }
                r.finish("StartupMessage")?;
                Ok(Self::Startup(StartupMessage {
                    protocol_version: code,
                    params,
                }))
            }
        }
    }

    /// Encodes the full packet (length included). On error nothing is written.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            Self::Startup(m) => m.encode(buf),
            Self::SslRequest => {
                write_ssl_request(buf);
                Ok(())
            }
            Self::GssEncRequest => {
                write_gssenc_request(buf);
                Ok(())
            }
            Self::CancelRequest(c) => write_cancel_request(buf, c.process_id, &c.secret_key),
        }
    }
}

impl StartupMessage {
    /// Encodes the full packet.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_startup_iter(
            buf,
            self.protocol_version,
            self.params.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        )
    }
}

/// Writes a StartupMessage. An empty parameter name (it would read as the terminator) or a
/// version in the request-code range (major 1234) is [`EncodeError::BadValue`].
pub fn write_startup(
    buf: &mut BytesMut,
    protocol_version: i32,
    params: &[(&str, &str)],
) -> Result<(), EncodeError> {
    write_startup_iter(buf, protocol_version, params.iter().copied())
}

fn write_startup_iter<'a>(
    buf: &mut BytesMut,
    protocol_version: i32,
    params: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<(), EncodeError> {
    if protocol_version >> 16 == REQUEST_CODE_MAJOR {
        return Err(EncodeError::BadValue {
            what: "protocol version (reads as a request code)",
        });
    }
    write_frame(buf, None, |b| {
        b.put_i32(protocol_version);
        for (name, value) in params {
            if name.is_empty() {
                return Err(EncodeError::BadValue {
                    what: "empty startup parameter name",
                });
            }
            put_cstr(b, name.as_bytes(), "startup parameter name")?;
            put_cstr(b, value.as_bytes(), "startup parameter value")?;
        }
        b.put_u8(0);
        Ok(())
    })
}

/// Writes an SSLRequest (8 bytes).
pub fn write_ssl_request(buf: &mut BytesMut) {
    buf.put_i32(8);
    buf.put_i32(SSL_REQUEST_CODE);
}

/// Writes a GSSENCRequest (8 bytes).
pub fn write_gssenc_request(buf: &mut BytesMut) {
    buf.put_i32(8);
    buf.put_i32(GSSENC_REQUEST_CODE);
}

/// Writes a CancelRequest. The key must be 4 to 256 bytes ([`EncodeError::BadValue`]
/// otherwise); nothing is written on error.
pub fn write_cancel_request(
    buf: &mut BytesMut,
    process_id: i32,
    secret_key: &[u8],
) -> Result<(), EncodeError> {
    if !CANCEL_KEY_LEN.contains(&secret_key.len()) {
        return Err(EncodeError::BadValue {
            what: "cancel secret key length",
        });
    }
    write_frame(buf, None, |b| {
        b.put_i32(CANCEL_REQUEST_CODE);
        b.put_i32(process_id);
        b.put_slice(secret_key);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::framing::split_startup_packet;
    use crate::protocol::PROTOCOL_3_0;

    fn decode_all(bytes: &[u8]) -> Result<Option<StartupPacket>, DecodeError> {
        split_startup_packet(&mut BytesMut::from(bytes))
    }

    #[test]
    fn startup_message_encodes_field_by_field() {
        let mut buf = BytesMut::new();
        write_startup(&mut buf, PROTOCOL_3_0, &[("user", "al")]).unwrap();
        let expected: &[u8] = &[
            b"\0\0\0\x11" as &[u8], // length 17
            b"\0\x03\0\0",          // protocol 3.0
            b"user\0",              // parameter name
            b"al\0",                // parameter value
            b"\0",                  // terminator
        ]
        .concat();
        assert_eq!(&buf[..], expected);
        assert_eq!(
            decode_all(expected),
            Ok(Some(StartupPacket::Startup(StartupMessage {
                protocol_version: PROTOCOL_3_0,
                params: vec![("user".into(), "al".into())]
            })))
        );
    }

    #[test]
    fn startup_message_without_final_nul_is_truncated() {
        let body: &[u8] = &[
            b"\0\x03\0\0" as &[u8], // protocol 3.0
            b"user\0",              // parameter name
            b"al\0",                // parameter value; no terminator follows
        ]
        .concat();
        assert_eq!(
            StartupPacket::decode(Bytes::copy_from_slice(body)),
            Err(DecodeError::Truncated {
                what: "startup parameter name"
            })
        );
    }

    #[test]
    fn startup_message_with_bytes_after_the_terminator_is_rejected() {
        let body: &[u8] = &[
            b"\0\x03\0\0" as &[u8], // protocol 3.0
            b"\0",                  // terminator
            b"x",                   // trailing
        ]
        .concat();
        assert_eq!(
            StartupPacket::decode(Bytes::copy_from_slice(body)),
            Err(DecodeError::TrailingBytes {
                what: "StartupMessage"
            })
        );
    }

    #[test]
    fn startup_message_refuses_an_empty_parameter_name() {
        let mut buf = BytesMut::from(&b"x"[..]);
        assert!(matches!(
            write_startup(&mut buf, PROTOCOL_3_0, &[("", "v")]),
            Err(EncodeError::BadValue { .. })
        ));
        assert_eq!(&buf[..], b"x");
    }

    #[test]
    fn startup_message_refuses_interior_nul() {
        let mut buf = BytesMut::new();
        assert!(matches!(
            write_startup(&mut buf, PROTOCOL_3_0, &[("user", "a\0b")]),
            Err(EncodeError::InteriorNul { .. })
        ));
        assert!(buf.is_empty());
    }

    #[test]
    fn ssl_and_gssenc_requests_are_eight_bytes() {
        let mut buf = BytesMut::new();
        write_ssl_request(&mut buf);
        write_gssenc_request(&mut buf);
        let expected: &[u8] = &[
            b"\0\0\0\x08" as &[u8], // length 8
            b"\x04\xd2\x16\x2f",    // 80877103: SSLRequest
            b"\0\0\0\x08",          // length 8
            b"\x04\xd2\x16\x30",    // 80877104: GSSENCRequest
        ]
        .concat();
        assert_eq!(&buf[..], expected);
        let mut stream = BytesMut::from(expected);
        assert_eq!(
            split_startup_packet(&mut stream),
            Ok(Some(StartupPacket::SslRequest))
        );
        assert_eq!(
            split_startup_packet(&mut stream),
            Ok(Some(StartupPacket::GssEncRequest))
        );
    }

    #[test]
    fn ssl_request_with_trailing_bytes_is_rejected() {
        assert_eq!(
            StartupPacket::decode(Bytes::from_static(b"\x04\xd2\x16\x2f\0")),
            Err(DecodeError::TrailingBytes { what: "SSLRequest" })
        );
    }

    #[test]
    fn unknown_request_code_is_a_bad_value() {
        assert_eq!(
            StartupPacket::decode(Bytes::from_static(b"\x04\xd2\x16\x31")),
            Err(DecodeError::BadValue {
                what: "startup request code"
            })
        );
    }

    #[test]
    fn cancel_request_encodes_field_by_field() {
        let mut buf = BytesMut::new();
        write_cancel_request(&mut buf, 42, b"\x01\x02\x03\x04").unwrap();
        let expected: &[u8] = &[
            b"\0\0\0\x10" as &[u8], // length 16
            b"\x04\xd2\x16\x2e",    // 80877102: CancelRequest
            b"\0\0\0\x2a",          // process ID 42
            b"\x01\x02\x03\x04",    // secret key (3.0: 4 bytes)
        ]
        .concat();
        assert_eq!(&buf[..], expected);
        assert_eq!(
            decode_all(expected),
            Ok(Some(StartupPacket::CancelRequest(CancelRequest {
                process_id: 42,
                secret_key: Bytes::from_static(b"\x01\x02\x03\x04")
            })))
        );
    }

    fn cancel_body(key_len: usize) -> Bytes {
        let mut body = Vec::new();
        body.extend_from_slice(b"\x04\xd2\x16\x2e"); // CancelRequest code
        body.extend_from_slice(b"\0\0\0\x2a"); // process ID 42
        body.resize(body.len() + key_len, 7); // secret key
        Bytes::from(body)
    }

    #[test]
    fn cancel_request_accepts_keys_of_four_to_256_bytes() {
        for len in [4, 32, 256] {
            assert!(StartupPacket::decode(cancel_body(len)).is_ok(), "{len}");
        }
    }

    #[test]
    fn cancel_request_with_3_or_257_byte_key_is_rejected() {
        for len in [3, 257] {
            assert_eq!(
                StartupPacket::decode(cancel_body(len)),
                Err(DecodeError::BadValue {
                    what: "cancel secret key length"
                })
            );
            let mut buf = BytesMut::new();
            assert!(write_cancel_request(&mut buf, 1, &vec![0; len]).is_err());
            assert!(buf.is_empty());
        }
    }
}
