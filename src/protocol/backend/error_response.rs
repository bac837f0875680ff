//! ErrorResponse (`'E'`) and NoticeResponse (`'N'`), which share one body: a list of
//! `(code byte, C string)` fields ended by a zero byte ([`ErrorFields`]).
//!
//! Server text is decoded **lossily**: a message in a non-UTF-8 `lc_messages`, or cut in
//! the middle of a character, must still reach the user (and never panic).

use std::borrow::Cow;
use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use super::super::read::Reader;
use super::super::write::put_cstr;
use super::{DecodeError, EncodeError};

/// The fields of an ErrorResponse or NoticeResponse. Keeps the validated body; accessors
/// read the first field with their code. Unknown codes are kept (see
/// [`ErrorFields::fields`]) and ignored by the accessors.
#[derive(Clone, PartialEq, Eq)]
pub struct ErrorFields {
    raw: Bytes,
}

impl ErrorFields {
    /// Fields `S` and `V` (severity), `C` (SQLSTATE) and `M` (message), as a server
    /// sends them. A NUL inside a value cannot go on the wire; it is replaced by U+FFFD.
    pub fn new(severity: &str, code: &str, message: &str) -> Self {
        let mut buf = BytesMut::new();
        for (c, value) in [
            (b'S', severity),
            (b'V', severity),
            (b'C', code),
            (b'M', message),
        ] {
            buf.put_u8(c);
            buf.put_slice(value.replace('\0', "\u{fffd}").as_bytes());
            buf.put_u8(0);
        }
        buf.put_u8(0);
        Self { raw: buf.freeze() }
    }

    /// These fields plus one more (`code`, `value`), appended at the end. Accessors read
    /// the first field of a code, so this does not replace an existing one. A zero code
    /// or a NUL in `value` is refused.
    pub fn with(self, code: u8, value: &str) -> Result<Self, EncodeError> {
        if code == 0 {
            return Err(EncodeError::InteriorNul {
                what: "error field code",
            });
        }
        let mut buf = BytesMut::with_capacity(self.raw.len() + value.len() + 2);
        // Everything but the final terminator, then the new field, then the terminator.
        buf.put_slice(
            self.raw
                .get(..self.raw.len().saturating_sub(1))
                .unwrap_or_default(),
        );
        buf.put_u8(code);
        put_cstr(&mut buf, value.as_bytes(), "error field")?;
        buf.put_u8(0);
        Ok(Self { raw: buf.freeze() })
    }

    /// Every field as `(code, value)`, in wire order, unknown codes included.
    pub fn fields(&self) -> ErrorFieldIter<'_> {
        ErrorFieldIter {
            reader: Reader::new(&self.raw),
        }
    }

    /// The validated body, byte for byte.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The first value with this code, lossily decoded.
    fn text(&self, code: u8) -> Option<Cow<'_, str>> {
        self.fields()
            .find(|&(c, _)| c == code)
            .map(|(_, v)| String::from_utf8_lossy(v))
    }

    /// The first value with this code, parsed as a number.
    fn number(&self, code: u8) -> Option<u32> {
        self.text(code)?.parse().ok()
    }

    /// `S`: the severity, possibly localized (`ERROR`, `FATAL`, `WARNING`, ...).
    pub fn severity(&self) -> Option<Cow<'_, str>> {
        self.text(b'S')
    }

    /// `V`: the severity, never localized (PostgreSQL 9.6 and later).
    pub fn severity_nonlocalized(&self) -> Option<Cow<'_, str>> {
        self.text(b'V')
    }

    /// `C`: the SQLSTATE code.
    pub fn code(&self) -> Option<Cow<'_, str>> {
        self.text(b'C')
    }

    /// `M`: the primary message.
    pub fn message(&self) -> Option<Cow<'_, str>> {
        self.text(b'M')
    }

    /// `D`: the detail.
    pub fn detail(&self) -> Option<Cow<'_, str>> {
        self.text(b'D')
    }

    /// `H`: the hint.
    pub fn hint(&self) -> Option<Cow<'_, str>> {
        self.text(b'H')
    }

    /// `P`: the error position in the query string (1-based, in characters).
    pub fn position(&self) -> Option<u32> {
        self.number(b'P')
    }

    /// `p`: the error position in an internally generated query.
    pub fn internal_position(&self) -> Option<u32> {
        self.number(b'p')
    }

    /// `q`: the internally generated query.
    pub fn internal_query(&self) -> Option<Cow<'_, str>> {
        self.text(b'q')
    }

    /// `W`: the context (call stack) of the error.
    pub fn where_(&self) -> Option<Cow<'_, str>> {
        self.text(b'W')
    }

    /// `s`: the schema name.
    pub fn schema(&self) -> Option<Cow<'_, str>> {
        self.text(b's')
    }

    /// `t`: the table name.
    pub fn table(&self) -> Option<Cow<'_, str>> {
        self.text(b't')
    }

    /// `c`: the column name.
    pub fn column(&self) -> Option<Cow<'_, str>> {
        self.text(b'c')
    }

    /// `d`: the data type name.
    pub fn datatype(&self) -> Option<Cow<'_, str>> {
        self.text(b'd')
    }

    /// `n`: the constraint name.
    pub fn constraint(&self) -> Option<Cow<'_, str>> {
        self.text(b'n')
    }

    /// `F`: the server source file that reported the error.
    pub fn file(&self) -> Option<Cow<'_, str>> {
        self.text(b'F')
    }

    /// `L`: the line in that file.
    pub fn line(&self) -> Option<u32> {
        self.number(b'L')
    }

    /// `R`: the server routine that reported the error.
    pub fn routine(&self) -> Option<Cow<'_, str>> {
        self.text(b'R')
    }

    /// Decodes and validates an `'E'` or `'N'` body; `name` is the message.
    ///
    /// > "The message body consists of one or more identified fields, followed by a zero
    /// > byte as a terminator. Fields can appear in any order. For each field there is
    /// > the following: Byte1: A code identifying the field type; if zero, this is the
    /// > message terminator and no string follows. ... Since more field types might be
    /// > added in future, frontends should silently ignore fields of unrecognized type."
    /// > (*Message Formats*, ErrorResponse)
    pub(super) fn decode(raw: Bytes, name: &'static str) -> Result<Self, DecodeError> {
        let mut r = Reader::new(&raw);
        // No count on the wire: the walk is bounded by the body, and allocates nothing.
        // A body that ends before the zero byte is Truncated.
        while r.u8("error field code")? != 0 {
            r.cstr_bytes("error field")?;
        }
        r.finish(name)?;
        Ok(Self { raw })
    }

    /// Writes the body back byte for byte.
    pub(super) fn encode_body(&self, buf: &mut BytesMut) {
        buf.put_slice(&self.raw);
    }
}

impl fmt::Debug for ErrorFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.fields()
                    .map(|(c, v)| (char::from(c), String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

/// Iterator over `(code, value)` pairs of [`ErrorFields`], in wire order.
#[derive(Debug, Clone)]
pub struct ErrorFieldIter<'a> {
    reader: Reader<'a>,
}

impl<'a> Iterator for ErrorFieldIter<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        // Validated by decode (or built by new/with); a failed read just ends the walk.
        let code = self.reader.u8("error field code").ok()?;
        if code == 0 {
            return None;
        }
        let value = self.reader.cstr_bytes("error field").ok()?;
        Some((code, value))
    }
}

impl std::iter::FusedIterator for ErrorFieldIter<'_> {}

#[cfg(test)]
mod tests {
    use super::super::test_util::{decode_frame, encode_frame};
    use super::super::BackendMessage;
    use super::*;

    fn decode_body(tag: u8, body: Vec<u8>) -> Result<ErrorFields, DecodeError> {
        match BackendMessage::decode(tag, Bytes::from(body))? {
            BackendMessage::ErrorResponse(f) | BackendMessage::NoticeResponse(f) => Ok(f),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn error_response_fields_are_read_by_their_codes() {
        let frame = wire![
            b"E",                                // type
            b"\0\0\0\x64",                       // length 100
            b"SERROR\0",                         // severity
            b"VERROR\0",                         // severity, not localized
            b"C42P01\0",                         // SQLSTATE
            b"Mrelation \"t\" does not exist\0", // message
            b"P15\0",                            // position
            b"Fparse_relation.c\0",              // file
            b"L1392\0",                          // line
            b"RparserOpenTable\0",               // routine
            b"\0",                               // terminator
        ];
        let Ok(BackendMessage::ErrorResponse(e)) = decode_frame(&frame) else {
            panic!("not an ErrorResponse");
        };
        assert_eq!(e.severity().as_deref(), Some("ERROR"));
        assert_eq!(e.severity_nonlocalized().as_deref(), Some("ERROR"));
        assert_eq!(e.code().as_deref(), Some("42P01"));
        assert_eq!(
            e.message().as_deref(),
            Some("relation \"t\" does not exist")
        );
        assert_eq!(e.position(), Some(15));
        assert_eq!(e.file().as_deref(), Some("parse_relation.c"));
        assert_eq!(e.line(), Some(1392));
        assert_eq!(e.routine().as_deref(), Some("parserOpenTable"));
        assert_eq!(e.detail(), None);
        assert_eq!(e.fields().count(), 8);
        assert_eq!(encode_frame(&BackendMessage::ErrorResponse(e)), frame);
    }

    #[test]
    fn notice_response_shares_the_error_layout() {
        let body = wire![
            b"SNOTICE\0", // severity
            b"C00000\0",  // SQLSTATE
            b"Mhello\0",  // message
            b"\0",        // terminator
        ];
        let n = decode_body(b'N', body).unwrap();
        assert_eq!(n.severity().as_deref(), Some("NOTICE"));
        assert_eq!(n.message().as_deref(), Some("hello"));
    }

    #[test]
    fn every_optional_accessor_reads_its_code() {
        let e = ErrorFields::new("ERROR", "23505", "dup")
            .with(b'D', "detail")
            .and_then(|e| e.with(b'H', "hint"))
            .and_then(|e| e.with(b'p', "7"))
            .and_then(|e| e.with(b'q', "select 1"))
            .and_then(|e| e.with(b'W', "where"))
            .and_then(|e| e.with(b's', "public"))
            .and_then(|e| e.with(b't', "t"))
            .and_then(|e| e.with(b'c', "id"))
            .and_then(|e| e.with(b'd', "int4"))
            .and_then(|e| e.with(b'n', "t_pkey"))
            .unwrap();
        assert_eq!(e.detail().as_deref(), Some("detail"));
        assert_eq!(e.hint().as_deref(), Some("hint"));
        assert_eq!(e.internal_position(), Some(7));
        assert_eq!(e.internal_query().as_deref(), Some("select 1"));
        assert_eq!(e.where_().as_deref(), Some("where"));
        assert_eq!(e.schema().as_deref(), Some("public"));
        assert_eq!(e.table().as_deref(), Some("t"));
        assert_eq!(e.column().as_deref(), Some("id"));
        assert_eq!(e.datatype().as_deref(), Some("int4"));
        assert_eq!(e.constraint().as_deref(), Some("t_pkey"));
        // Built fields decode to the same thing.
        assert_eq!(decode_body(b'E', e.raw().to_vec()), Ok(e));
    }

    #[test]
    fn error_fields_new_writes_severity_code_and_message() {
        let e = ErrorFields::new("FATAL", "28P01", "bad password");
        let want = wire![
            b"SFATAL\0",        // severity
            b"VFATAL\0",        // severity, not localized
            b"C28P01\0",        // SQLSTATE
            b"Mbad password\0", // message
            b"\0",              // terminator
        ];
        assert_eq!(&e.raw()[..], &want[..]);
    }

    #[test]
    fn error_fields_with_refuses_nul() {
        let e = ErrorFields::new("ERROR", "XX000", "x");
        assert!(e.clone().with(b'D', "a\0b").is_err());
        assert!(e.with(0, "a").is_err());
    }

    #[test]
    fn error_response_without_final_nul_is_truncated() {
        let body = wire![
            b"SERROR\0", // severity
            b"Mboom\0",  // message, then no terminator
        ];
        assert_eq!(
            decode_body(b'E', body),
            Err(DecodeError::Truncated {
                what: "error field code"
            })
        );
    }

    #[test]
    fn error_response_field_without_its_nul_is_truncated() {
        let body = wire![
            b"SERROR", // severity, cut off
        ];
        assert!(matches!(
            decode_body(b'E', body),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn empty_error_response_body_is_truncated() {
        assert!(matches!(
            decode_body(b'E', Vec::new()),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn error_response_rejects_bytes_after_the_terminator() {
        let body = wire![
            b"Mboom\0", // message
            b"\0",      // terminator
            b"x",       // one byte too many
        ];
        assert_eq!(
            decode_body(b'E', body),
            Err(DecodeError::TrailingBytes {
                what: "ErrorResponse"
            })
        );
    }

    #[test]
    fn non_utf8_error_text_is_decoded_lossily() {
        let body = wire![
            b"SERREUR\0",            // severity
            b"Mla relation \xe9t\0", // message in Latin-1
            b"\0",                   // terminator
        ];
        let e = decode_body(b'E', body).unwrap();
        assert_eq!(e.message().as_deref(), Some("la relation \u{fffd}t"));
        assert_eq!(e.severity().as_deref(), Some("ERREUR"));
    }

    #[test]
    fn unknown_error_field_code_is_kept_but_ignored() {
        let body = wire![
            b"Zsomething new\0", // unknown code 'Z'
            b"Mboom\0",          // message
            b"\0",               // terminator
        ];
        let e = decode_body(b'E', body).unwrap();
        assert_eq!(e.message().as_deref(), Some("boom"));
        let fields: Vec<_> = e.fields().collect();
        assert_eq!(
            fields,
            vec![(b'Z', &b"something new"[..]), (b'M', &b"boom"[..])]
        );
    }

    #[test]
    fn unparsable_position_is_none() {
        let e = ErrorFields::new("ERROR", "42601", "x")
            .with(b'P', "abc")
            .unwrap();
        assert_eq!(e.position(), None);
    }
}
