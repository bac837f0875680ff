//! Strings (`&str`, `String`) and byte strings (`&[u8]`, `Vec<u8>` as `bytea`).
//!
//! The binary form of `text`, `varchar`, `bpchar` and `name` is the UTF-8 text itself
//! (`textsend`). `bytea` is raw bytes in binary; in text it is either the hex format
//! (`\x0102`, the default since PostgreSQL 9.0) or the legacy escape format
//! (`bytea_output = escape`: printable bytes as-is, `\\` and `\ooo` octal). Writing always
//! uses hex.

use bytes::{BufMut, BytesMut};

use super::oid::{self, is_text_like, is_unspecified};
use super::{check_accepts, ConversionError, Format, FromSql, IsNull, Oid, ToSql, ValueType};

// ---------------------------------------------------------------------------------------
// Strings

fn str_to_sql(
    s: &str,
    ty: ValueType,
    out: &mut BytesMut,
    rust: &'static str,
) -> Result<IsNull, ConversionError> {
    if is_text_like(ty.oid) || is_unspecified(ty.oid) {
        // Text and binary are the same bytes for string types.
        out.extend_from_slice(s.as_bytes());
        Ok(IsNull::No)
    } else {
        Err(ConversionError::WrongType { rust, oid: ty.oid })
    }
}

/// The string check: strict mode takes text-like OIDs in either format and *any* OID in
/// the text format (the text format is a string, which is how `numeric`, `uuid` or `json`
/// are read as strings); a binary non-string value is `WrongType`. Lenient mode takes any
/// value that is valid UTF-8.
fn str_from_sql<'a>(
    ty: ValueType,
    raw: &'a [u8],
    rust: &'static str,
) -> Result<&'a str, ConversionError> {
    if !ty.lenient && ty.format == Format::Binary && !is_text_like(ty.oid) {
        return Err(ConversionError::WrongType { rust, oid: ty.oid });
    }
    std::str::from_utf8(raw).map_err(|_| ConversionError::invalid(rust, "invalid UTF-8"))
}

impl ToSql for &str {
    fn type_oid(&self) -> Oid {
        oid::TEXT
    }

    fn accepts(&self, oid: Oid) -> bool {
        is_text_like(oid) || is_unspecified(oid)
    }

    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        str_to_sql(self, ty, out, "&str")
    }

    #[inline]
    fn to_sql_slice(&self, ty: ValueType) -> Option<&[u8]> {
        (is_text_like(ty.oid) || is_unspecified(ty.oid)).then_some(self.as_bytes())
    }

    fn null_type_oid() -> Oid {
        oid::TEXT
    }
}

impl ToSql for String {
    fn type_oid(&self) -> Oid {
        oid::TEXT
    }

    fn accepts(&self, oid: Oid) -> bool {
        is_text_like(oid) || is_unspecified(oid)
    }

    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        str_to_sql(self, ty, out, "String")
    }

    #[inline]
    fn to_sql_slice(&self, ty: ValueType) -> Option<&[u8]> {
        (is_text_like(ty.oid) || is_unspecified(ty.oid)).then_some(self.as_bytes())
    }

    fn null_type_oid() -> Oid {
        oid::TEXT
    }
}

impl<'a> FromSql<'a> for &'a str {
    fn from_sql(ty: ValueType, raw: &'a [u8]) -> Result<Self, ConversionError> {
        str_from_sql(ty, raw, "&str")
    }

    fn from_sql_null(_ty: ValueType) -> Result<Self, ConversionError> {
        Err(ConversionError::UnexpectedNull { rust: "&str" })
    }

    /// The string types. `from_sql` also takes any OID in the text format (see the
    /// module docs), so do not pre-filter string columns with this alone.
    fn accepts(oid: Oid) -> bool {
        is_text_like(oid)
    }
}

impl FromSql<'_> for String {
    fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
        str_from_sql(ty, raw, "String").map(str::to_owned)
    }

    fn from_sql_null(_ty: ValueType) -> Result<Self, ConversionError> {
        Err(ConversionError::UnexpectedNull { rust: "String" })
    }

    /// As for `&str`.
    fn accepts(oid: Oid) -> bool {
        is_text_like(oid)
    }
}

// ---------------------------------------------------------------------------------------
// bytea

fn hex_digit(n: u8) -> u8 {
    if n < 10 {
        b'0' + n
    } else {
        b'a' + (n - 10)
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn bytes_to_sql(
    b: &[u8],
    ty: ValueType,
    out: &mut BytesMut,
    rust: &'static str,
) -> Result<IsNull, ConversionError> {
    if ty.oid != oid::BYTEA && !is_unspecified(ty.oid) {
        return Err(ConversionError::WrongType { rust, oid: ty.oid });
    }
    match ty.format {
        Format::Binary => out.extend_from_slice(b),
        Format::Text => {
            out.reserve(2 + 2 * b.len());
            out.extend_from_slice(b"\\x");
            for &byte in b {
                out.put_u8(hex_digit(byte >> 4));
                out.put_u8(hex_digit(byte & 0x0f));
            }
        }
    }
    Ok(IsNull::No)
}

/// Decodes bytea's hex format after the `\x`. byteain skips whitespace between digit pairs.
fn decode_hex(mut s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 2);
    loop {
        s = s.trim_ascii_start();
        match s {
            [] => return Some(out),
            [hi, lo, rest @ ..] => {
                out.push(hex_value(*hi)? << 4 | hex_value(*lo)?);
                s = rest;
            }
            [_] => return None,
        }
    }
}

/// Decodes bytea's escape format: `\\` is a backslash, `\ooo` an octal byte, everything
/// else stands for itself.
fn decode_escape(mut s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    loop {
        match s {
            [] => return Some(out),
            [b'\\', b'\\', rest @ ..] => {
                out.push(b'\\');
                s = rest;
            }
            [b'\\', a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7', rest @ ..] => {
                out.push((a - b'0') << 6 | (b - b'0') << 3 | (c - b'0'));
                s = rest;
            }
            [b'\\', ..] => return None,
            [c, rest @ ..] => {
                out.push(*c);
                s = rest;
            }
        }
    }
}

/// Decodes a Python `bytes` repr (`b'..'` or `b".."`), as iris-pgwire sends binary
/// columns: printable ASCII as-is, `\xNN`, `\\`, `\'`, `\"`, `\n`, `\t`, `\r`.
fn decode_python_repr(s: &[u8]) -> Option<Vec<u8>> {
    let ([b'b', b'\'', body @ .., b'\''] | [b'b', b'"', body @ .., b'"']) = s else {
        return None;
    };
    let mut s = body;
    let mut out = Vec::with_capacity(s.len());
    loop {
        match s {
            [] => return Some(out),
            [b'\\', b'x', hi, lo, rest @ ..] => {
                out.push(hex_value(*hi)? << 4 | hex_value(*lo)?);
                s = rest;
            }
            [b'\\', c, rest @ ..] => {
                out.push(match c {
                    b'\\' | b'\'' | b'"' => *c,
                    b'n' => b'\n',
                    b't' => b'\t',
                    b'r' => b'\r',
                    _ => return None,
                });
                s = rest;
            }
            [c, rest @ ..] => {
                out.push(*c);
                s = rest;
            }
        }
    }
}

/// Decodes a text-format bytea: hex, or escape; lenient mode also takes a Python repr.
pub(crate) fn decode_bytea_text(raw: &[u8], lenient: bool) -> Result<Vec<u8>, ConversionError> {
    let decoded = match raw {
        [b'\\', b'x', hex @ ..] => decode_hex(hex),
        // A malformed repr may still be escape-format bytes that start with b' or b".
        [b'b', b'\'' | b'"', ..] if lenient => {
            decode_python_repr(raw).or_else(|| decode_escape(raw))
        }
        _ => decode_escape(raw),
    };
    decoded.ok_or(ConversionError::invalid("Vec<u8>", "malformed bytea text"))
}

impl ToSql for &[u8] {
    fn type_oid(&self) -> Oid {
        oid::BYTEA
    }

    fn accepts(&self, oid: Oid) -> bool {
        oid == oid::BYTEA || is_unspecified(oid)
    }

    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        bytes_to_sql(self, ty, out, "&[u8]")
    }

    fn null_type_oid() -> Oid {
        oid::BYTEA
    }
}

impl ToSql for Vec<u8> {
    fn type_oid(&self) -> Oid {
        oid::BYTEA
    }

    fn accepts(&self, oid: Oid) -> bool {
        oid == oid::BYTEA || is_unspecified(oid)
    }

    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        bytes_to_sql(self, ty, out, "Vec<u8>")
    }

    fn null_type_oid() -> Oid {
        oid::BYTEA
    }
}

/// Zero-copy bytea: binary format only (the text format needs decoding; use `Vec<u8>`).
impl<'a> FromSql<'a> for &'a [u8] {
    fn from_sql(ty: ValueType, raw: &'a [u8]) -> Result<Self, ConversionError> {
        check_accepts::<Self>(ty, "&[u8]")?;
        match ty.format {
            Format::Binary => Ok(raw),
            Format::Text => Err(ConversionError::Unsupported {
                rust: "&[u8]",
                format: Format::Text,
            }),
        }
    }

    fn from_sql_null(_ty: ValueType) -> Result<Self, ConversionError> {
        Err(ConversionError::UnexpectedNull { rust: "&[u8]" })
    }

    fn accepts(oid: Oid) -> bool {
        oid == oid::BYTEA
    }
}

impl FromSql<'_> for Vec<u8> {
    fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
        check_accepts::<Self>(ty, "Vec<u8>")?;
        match ty.format {
            Format::Binary => Ok(raw.to_vec()),
            Format::Text => decode_bytea_text(raw, ty.lenient),
        }
    }

    fn from_sql_null(_ty: ValueType) -> Result<Self, ConversionError> {
        Err(ConversionError::UnexpectedNull { rust: "Vec<u8>" })
    }

    fn accepts(oid: Oid) -> bool {
        oid == oid::BYTEA
    }
}
