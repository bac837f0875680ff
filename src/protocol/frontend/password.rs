//! The three `'p'` messages: PasswordMessage, SASLInitialResponse, SASLResponse. They share
//! a tag; which one a body is depends on what the server asked for ([`super::AuthStage`]).

use bytes::{BufMut, Bytes, BytesMut};

use super::{owned_cstr, share};
use crate::protocol::error::{DecodeError, EncodeError};
use crate::protocol::read::Reader;
use crate::protocol::write::{len_i32, put_cstr, put_nullable, write_frame};

/// PasswordMessage: a cleartext or MD5-hashed password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordMessage {
    /// The password bytes, without the NUL terminator (no NUL inside).
    pub password: Bytes,
}

impl PasswordMessage {
    /// Decodes a PasswordMessage body: `String password`.
    pub fn decode(body: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let password = share(body, r.cstr_bytes("password")?);
        r.finish("PasswordMessage")?;
        Ok(Self { password })
    }

    /// Encodes the full frame.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_password(buf, &self.password)
    }
}

/// Writes a PasswordMessage frame; a password containing NUL is refused.
pub fn write_password(buf: &mut BytesMut, password: &[u8]) -> Result<(), EncodeError> {
    write_frame(buf, Some(b'p'), |b| put_cstr(b, password, "password"))
}

/// SASLInitialResponse: the chosen mechanism and the client-first message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslInitialResponse {
    /// The mechanism, e.g. `SCRAM-SHA-256`.
    pub mechanism: String,
    /// The initial response; `None` is written as length -1.
    pub data: Option<Bytes>,
}

impl SaslInitialResponse {
    /// Decodes a SASLInitialResponse body: `String mechanism, Int32 len, Byte{len} data`.
    ///
    /// > "Length of SASL mechanism specific "Initial Client Response" that follows, or -1
    /// > if there is no Initial Response." (*Message Formats*)
    pub fn decode(body: &Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let mechanism = owned_cstr(&mut r, "SASL mechanism")?;
        let data = r
            .nullable_value("SASL initial response")?
            .map(|d| share(body, d));
        r.finish("SASLInitialResponse")?;
        Ok(Self { mechanism, data })
    }

    /// Encodes the full frame.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_sasl_initial(buf, &self.mechanism, self.data.as_deref())
    }
}

/// Writes a SASLInitialResponse frame with an initial response.
pub fn write_sasl_initial_response(
    buf: &mut BytesMut,
    mechanism: &str,
    data: &[u8],
) -> Result<(), EncodeError> {
    write_sasl_initial(buf, mechanism, Some(data))
}

fn write_sasl_initial(
    buf: &mut BytesMut,
    mechanism: &str,
    data: Option<&[u8]>,
) -> Result<(), EncodeError> {
    write_frame(buf, Some(b'p'), |b| {
        put_cstr(b, mechanism.as_bytes(), "SASL mechanism")?;
        put_nullable(b, data)
    })
}

/// SASLResponse: a later SASL message (for SCRAM, the client-final message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslResponse {
    /// The mechanism data: the whole body.
    pub data: Bytes,
}

impl SaslResponse {
    /// Decodes a SASLResponse body (any bytes, shared with `body`).
    pub fn decode(body: &Bytes) -> Self {
        Self { data: body.clone() }
    }

    /// Encodes the full frame.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_sasl_response(buf, &self.data)
    }
}

/// Writes a SASLResponse frame.
pub fn write_sasl_response(buf: &mut BytesMut, data: &[u8]) -> Result<(), EncodeError> {
    len_i32(data.len().saturating_add(4))?;
    write_frame(buf, Some(b'p'), |b| {
        b.put_slice(data);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_message_encodes_field_by_field() {
        let mut buf = BytesMut::new();
        write_password(&mut buf, b"md5abc").unwrap();
        let expected: &[u8] = &[
            b"p" as &[u8], // tag
            b"\0\0\0\x0b", // length 11
            b"md5abc\0",   // password
        ]
        .concat();
        assert_eq!(&buf[..], expected);
        let body = Bytes::copy_from_slice(&buf[5..]);
        assert_eq!(
            PasswordMessage::decode(&body).map(|p| p.password),
            Ok(Bytes::from_static(b"md5abc"))
        );
    }

    #[test]
    fn password_with_interior_nul_is_refused() {
        let mut buf = BytesMut::new();
        assert_eq!(
            write_password(&mut buf, b"se\0cret"),
            Err(EncodeError::InteriorNul { what: "password" })
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn password_with_trailing_bytes_is_rejected() {
        assert_eq!(
            PasswordMessage::decode(&Bytes::from_static(b"pw\0x")),
            Err(DecodeError::TrailingBytes {
                what: "PasswordMessage"
            })
        );
    }

    #[test]
    fn sasl_initial_response_encodes_field_by_field() {
        let mut buf = BytesMut::new();
        write_sasl_initial_response(&mut buf, "SCRAM-SHA-256", b"n,,n=,r=x").unwrap();
        let expected: &[u8] = &[
            b"p" as &[u8],      // tag
            b"\0\0\0\x1f",      // length 31
            b"SCRAM-SHA-256\0", // mechanism
            b"\0\0\0\x09",      // data length 9
            b"n,,n=,r=x",       // client-first message
        ]
        .concat();
        assert_eq!(&buf[..], expected);
    }

    #[test]
    fn sasl_initial_response_without_data_uses_minus_one() {
        let body: &[u8] = &[
            b"M\0" as &[u8],     // mechanism
            b"\xff\xff\xff\xff", // data length -1: no initial response
        ]
        .concat();
        let m = SaslInitialResponse::decode(&Bytes::copy_from_slice(body)).unwrap();
        assert_eq!(m.data, None);
        let mut buf = BytesMut::new();
        m.encode(&mut buf).unwrap();
        assert_eq!(&buf[5..], body);
    }

    #[test]
    fn sasl_initial_response_with_length_minus_two_is_rejected() {
        let body: &[u8] = &[
            b"M\0" as &[u8],     // mechanism
            b"\xff\xff\xff\xfe", // data length -2
        ]
        .concat();
        assert_eq!(
            SaslInitialResponse::decode(&Bytes::copy_from_slice(body)),
            Err(DecodeError::BadValueLength(-2))
        );
    }

    #[test]
    fn sasl_initial_response_data_longer_than_body_is_truncated() {
        let body: &[u8] = &[
            b"M\0" as &[u8], // mechanism
            b"\0\0\0\x05",   // data length 5
            b"abc",          // only 3 bytes
        ]
        .concat();
        assert_eq!(
            SaslInitialResponse::decode(&Bytes::copy_from_slice(body)),
            Err(DecodeError::Truncated {
                what: "SASL initial response"
            })
        );
    }

    #[test]
    fn sasl_response_is_the_raw_body() {
        let mut buf = BytesMut::new();
        write_sasl_response(&mut buf, b"c=biws,r=x,p=y").unwrap();
        let expected: &[u8] = &[
            b"p" as &[u8],     // tag
            b"\0\0\0\x12",     // length 18
            b"c=biws,r=x,p=y", // client-final message, no terminator
        ]
        .concat();
        assert_eq!(&buf[..], expected);
    }
}
