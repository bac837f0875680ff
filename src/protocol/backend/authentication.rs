//! Authentication (`'R'`): every authentication request the server can make, and its
//! final AuthenticationOk. The request code (Int32) picks the variant.

use bytes::{BufMut, Bytes, BytesMut};

use super::super::read::Reader;
use super::super::write::put_cstr;
use super::{share, DecodeError, EncodeError};

/// An authentication request from the server (or AuthenticationOk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// Authentication succeeded (code 0).
    Ok,
    /// Kerberos V5 is required (code 2; no longer supported by PostgreSQL).
    KerberosV5,
    /// A clear-text password is required (code 3).
    CleartextPassword,
    /// An MD5-hashed password is required (code 5), salted with `salt`.
    Md5Password {
        /// The 4-byte salt.
        salt: [u8; 4],
    },
    /// An SCM credentials message is required (code 6; no longer supported).
    ScmCredential,
    /// GSSAPI authentication is required (code 7).
    Gss,
    /// GSSAPI or SSPI continuation data (code 8).
    GssContinue(Bytes),
    /// SSPI authentication is required (code 9).
    Sspi,
    /// SASL authentication is required (code 10); the mechanisms the server offers, in
    /// its order of preference.
    Sasl(Vec<String>),
    /// A SASL challenge (code 11).
    SaslContinue(Bytes),
    /// SASL outcome data, sent before AuthenticationOk (code 12).
    SaslFinal(Bytes),
}

impl Authentication {
    /// The request code on the wire.
    fn code(&self) -> i32 {
        match self {
            Self::Ok => 0,
            Self::KerberosV5 => 2,
            Self::CleartextPassword => 3,
            Self::Md5Password { .. } => 5,
            Self::ScmCredential => 6,
            Self::Gss => 7,
            Self::GssContinue(_) => 8,
            Self::Sspi => 9,
            Self::Sasl(_) => 10,
            Self::SaslContinue(_) => 11,
            Self::SaslFinal(_) => 12,
        }
    }

    /// Decodes an `'R'` body. Codes the protocol does not define are
    /// [`DecodeError::UnknownAuth`].
    pub(super) fn decode(body: Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(&body);
        let code = r.i32("authentication code")?;
        // The fixed-size requests carry nothing after the code; the rest carry their data
        // to the end of the message.
        let (msg, name) = match code {
            0 => (Self::Ok, "AuthenticationOk"),
            2 => (Self::KerberosV5, "AuthenticationKerberosV5"),
            3 => (Self::CleartextPassword, "AuthenticationCleartextPassword"),
            5 => {
                // "Byte4: The salt to use when encrypting the password." Exactly four:
                // three is Truncated, five is TrailingBytes below.
                let salt = r.array::<4>("MD5 salt")?;
                (Self::Md5Password { salt }, "AuthenticationMD5Password")
            }
            6 => (Self::ScmCredential, "AuthenticationSCMCredential"),
            7 => (Self::Gss, "AuthenticationGSS"),
            8 => {
                let data = share(&body, r.take(r.remaining(), "GSS data")?);
                (Self::GssContinue(data), "AuthenticationGSSContinue")
            }
            9 => (Self::Sspi, "AuthenticationSSPI"),
            10 => (Self::Sasl(decode_mechanisms(&mut r)?), "AuthenticationSASL"),
            11 => {
                let data = share(&body, r.take(r.remaining(), "SASL data")?);
                (Self::SaslContinue(data), "AuthenticationSASLContinue")
            }
            12 => {
                let data = share(&body, r.take(r.remaining(), "SASL data")?);
                (Self::SaslFinal(data), "AuthenticationSASLFinal")
            }
            other => return Err(DecodeError::UnknownAuth(other)),
        };
        r.finish(name)?;
        Ok(msg)
    }

    /// Writes the body. An empty mechanism name (or an empty list) is written as given,
    /// although it ends the list early on the wire: a fake server may want to send that.
    pub(super) fn encode_body(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        buf.put_i32(self.code());
        match self {
            Self::Md5Password { salt } => buf.put_slice(salt),
            Self::GssContinue(data) | Self::SaslContinue(data) | Self::SaslFinal(data) => {
                buf.put_slice(data);
            }
            Self::Sasl(mechanisms) => {
                for m in mechanisms {
                    put_cstr(buf, m.as_bytes(), "SASL mechanism")?;
                }
                buf.put_u8(0);
            }
            Self::Ok
            | Self::KerberosV5
            | Self::CleartextPassword
            | Self::ScmCredential
            | Self::Gss
            | Self::Sspi => {}
        }
        Ok(())
    }
}

/// Reads the AuthenticationSASL mechanism list.
///
/// > "String: Name of a SASL authentication mechanism. ... The message body is a list of
/// > SASL authentication mechanisms, in the server's order of preference. A zero byte is
/// > required as terminator after the last authentication mechanism name." (*Message
/// > Formats*, AuthenticationSASL)
///
/// A list that ends without that zero byte is `Truncated`; a list with no mechanism at all
/// is refused, since the client could not answer it.
fn decode_mechanisms(r: &mut Reader<'_>) -> Result<Vec<String>, DecodeError> {
    // No count on the wire: the Vec grows with names actually read, each at least two
    // bytes of a body already capped by framing.
    let mut mechanisms = Vec::new();
    loop {
        let name = r.cstr("SASL mechanism")?;
        if name.is_empty() {
            break;
        }
        mechanisms.push(name.to_owned());
    }
    if mechanisms.is_empty() {
        return Err(DecodeError::BadValue {
            what: "SASL mechanism list (empty)",
        });
    }
    Ok(mechanisms)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{decode_frame, encode_frame};
    use super::super::BackendMessage;
    use super::*;

    fn auth(m: Authentication) -> BackendMessage {
        BackendMessage::Authentication(m)
    }

    fn decode_body(body: Vec<u8>) -> Result<BackendMessage, DecodeError> {
        BackendMessage::decode(b'R', Bytes::from(body))
    }

    #[test]
    fn authentication_ok_is_code_zero() {
        let frame = wire![
            b"R",          // type
            b"\0\0\0\x08", // length
            b"\0\0\0\0",   // code 0: Ok
        ];
        assert_eq!(decode_frame(&frame), Ok(auth(Authentication::Ok)));
        assert_eq!(encode_frame(&auth(Authentication::Ok)), frame);
    }

    #[test]
    fn fixed_size_requests_decode_from_their_codes() {
        for (code, want) in [
            (2u8, Authentication::KerberosV5),
            (3, Authentication::CleartextPassword),
            (6, Authentication::ScmCredential),
            (7, Authentication::Gss),
            (9, Authentication::Sspi),
        ] {
            let frame = wire![
                b"R",            // type
                b"\0\0\0\x08",   // length
                [0, 0, 0, code], // code
            ];
            assert_eq!(decode_frame(&frame), Ok(auth(want.clone())));
            assert_eq!(encode_frame(&auth(want)), frame);
        }
    }

    #[test]
    fn fixed_size_requests_reject_trailing_bytes() {
        let body = wire![
            b"\0\0\0\x03", // code 3: cleartext password
            b"\0",         // one byte too many
        ];
        assert_eq!(
            decode_body(body),
            Err(DecodeError::TrailingBytes {
                what: "AuthenticationCleartextPassword"
            })
        );
    }

    #[test]
    fn md5_request_carries_a_four_byte_salt() {
        let frame = wire![
            b"R",                // type
            b"\0\0\0\x0c",       // length
            b"\0\0\0\x05",       // code 5: MD5
            b"\x01\x02\x03\x04", // salt
        ];
        let want = auth(Authentication::Md5Password { salt: [1, 2, 3, 4] });
        assert_eq!(decode_frame(&frame), Ok(want.clone()));
        assert_eq!(encode_frame(&want), frame);
    }

    #[test]
    fn md5_salt_of_three_bytes_is_truncated() {
        let body = wire![
            b"\0\0\0\x05",   // code 5: MD5
            b"\x01\x02\x03", // salt, one byte short
        ];
        assert_eq!(
            decode_body(body),
            Err(DecodeError::Truncated { what: "MD5 salt" })
        );
    }

    #[test]
    fn md5_salt_of_five_bytes_is_rejected() {
        let body = wire![
            b"\0\0\0\x05",           // code 5: MD5
            b"\x01\x02\x03\x04\x05", // salt, one byte long
        ];
        assert_eq!(
            decode_body(body),
            Err(DecodeError::TrailingBytes {
                what: "AuthenticationMD5Password"
            })
        );
    }

    #[test]
    fn sasl_request_lists_mechanisms_until_the_empty_name() {
        let frame = wire![
            b"R",                    // type
            b"\0\0\0\x2a",           // length
            b"\0\0\0\x0a",           // code 10: SASL
            b"SCRAM-SHA-256-PLUS\0", // mechanism
            b"SCRAM-SHA-256\0",      // mechanism
            b"\0",                   // end of list
        ];
        let want = auth(Authentication::Sasl(vec![
            "SCRAM-SHA-256-PLUS".to_owned(),
            "SCRAM-SHA-256".to_owned(),
        ]));
        assert_eq!(decode_frame(&frame), Ok(want.clone()));
        assert_eq!(encode_frame(&want), frame);
    }

    #[test]
    fn sasl_list_without_terminator_is_truncated() {
        let body = wire![
            b"\0\0\0\x0a",      // code 10: SASL
            b"SCRAM-SHA-256\0", // mechanism, then no empty name
        ];
        assert_eq!(
            decode_body(body),
            Err(DecodeError::Truncated {
                what: "SASL mechanism"
            })
        );
    }

    #[test]
    fn sasl_mechanism_name_without_its_nul_is_truncated() {
        let body = wire![
            b"\0\0\0\x0a", // code 10: SASL
            b"SCRAM",      // name cut off
        ];
        assert!(matches!(
            decode_body(body),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn sasl_list_with_no_mechanism_is_rejected() {
        let body = wire![
            b"\0\0\0\x0a", // code 10: SASL
            b"\0",         // end of list, nothing before it
        ];
        assert!(matches!(
            decode_body(body),
            Err(DecodeError::BadValue { .. })
        ));
    }

    #[test]
    fn sasl_continue_and_final_and_gss_continue_keep_their_data_verbatim() {
        for (code, data, want) in [
            (
                11u8,
                &b"r=abc,s=c2FsdA==,i=4096"[..],
                Authentication::SaslContinue as fn(Bytes) -> _,
            ),
            (12, b"v=xyz", Authentication::SaslFinal),
            (8, b"\x01\x00\x02", Authentication::GssContinue),
        ] {
            let body = wire![
                [0, 0, 0, code], // code
                data,            // the rest of the body, verbatim
            ];
            assert_eq!(
                decode_body(body),
                Ok(auth(want(Bytes::copy_from_slice(data))))
            );
        }
    }

    #[test]
    fn authentication_unknown_code_99_is_reported() {
        let body = wire![
            b"\0\0\0\x63", // code 99
        ];
        assert_eq!(decode_body(body), Err(DecodeError::UnknownAuth(99)));
    }

    #[test]
    fn authentication_without_a_code_is_truncated() {
        let body = wire![
            b"\0\0", // half a code
        ];
        assert!(matches!(
            decode_body(body),
            Err(DecodeError::Truncated { .. })
        ));
    }
}
