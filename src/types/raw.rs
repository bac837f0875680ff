//! The escape hatches: [`Text`] sends any value as a string for the server to parse, and
//! [`RawValue`] reads (or resends) any value as its bytes plus its type.

use bytes::BytesMut;

use super::oid::is_text_like;
use super::{ConversionError, Format, FromSql, IsNull, Oid, ToSql, ValueType};

/// A parameter sent as text with a chosen type OID: the server parses `value` with that
/// type's input function. Use it for types without a Rust mapping here (`numeric`, `uuid`,
/// `json`, enums, ...), or with OID 0 to let the server infer the type.
///
/// Always sent in the text format; reading a `Text` takes any value in the text format
/// (and string types in binary) and keeps the column's OID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text<'a> {
    /// The type to declare (0: let the server infer it).
    pub oid: Oid,
    /// The value in the type's text syntax.
    pub value: &'a str,
}

impl<'a> Text<'a> {
    /// A text value declared as `oid`.
    pub const fn new(oid: Oid, value: &'a str) -> Self {
        Self { oid, value }
    }
}

impl ToSql for Text<'_> {
    fn type_oid(&self) -> Oid {
        self.oid
    }

    /// Every type: in the text format the server parses the string as the parameter type.
    fn accepts(&self, _oid: Oid) -> bool {
        true
    }

    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        // A string type's binary form is its text, so that much binary is harmless.
        if ty.format == Format::Binary && !is_text_like(ty.oid) {
            return Err(ConversionError::Unsupported {
                rust: "Text",
                format: Format::Binary,
            });
        }
        out.extend_from_slice(self.value.as_bytes());
        Ok(IsNull::No)
    }

    fn supports_binary(&self, _oid: Oid) -> bool {
        false
    }
}

impl<'a> FromSql<'a> for Text<'a> {
    fn from_sql(ty: ValueType, raw: &'a [u8]) -> Result<Self, ConversionError> {
        if ty.format == Format::Binary && !is_text_like(ty.oid) {
            return Err(ConversionError::Unsupported {
                rust: "Text",
                format: Format::Binary,
            });
        }
        let value = std::str::from_utf8(raw)
            .map_err(|_| ConversionError::invalid("Text", "invalid UTF-8"))?;
        Ok(Self { oid: ty.oid, value })
    }

    fn from_sql_null(_ty: ValueType) -> Result<Self, ConversionError> {
        Err(ConversionError::UnexpectedNull { rust: "Text" })
    }

    fn accepts(_oid: Oid) -> bool {
        true
    }
}

/// Any value as its bytes on the wire plus its type and format: reads every column, and
/// resends a value unchanged (for example, copying rows between servers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawValue<'a> {
    /// The value's type and format (`lenient` is carried along, unused).
    pub ty: ValueType,
    /// The value bytes, without the length prefix.
    pub bytes: &'a [u8],
}

impl<'a> FromSql<'a> for RawValue<'a> {
    fn from_sql(ty: ValueType, raw: &'a [u8]) -> Result<Self, ConversionError> {
        Ok(Self { ty, bytes: raw })
    }

    fn from_sql_null(_ty: ValueType) -> Result<Self, ConversionError> {
        Err(ConversionError::UnexpectedNull { rust: "RawValue" })
    }

    fn accepts(_oid: Oid) -> bool {
        true
    }
}

impl ToSql for RawValue<'_> {
    fn type_oid(&self) -> Oid {
        self.ty.oid
    }

    fn accepts(&self, _oid: Oid) -> bool {
        true
    }

    /// Writes the bytes as they are; only in the value's own format.
    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        if ty.format != self.ty.format {
            return Err(ConversionError::Unsupported {
                rust: "RawValue",
                format: ty.format,
            });
        }
        out.extend_from_slice(self.bytes);
        Ok(IsNull::No)
    }

    fn supports_binary(&self, _oid: Oid) -> bool {
        self.ty.format == Format::Binary
    }
}
