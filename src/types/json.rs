//! `json` and `jsonb` as `serde_json::Value` and as [`Json<T>`] for any serde type
//! (feature `serde_json`). `&str` and `String` already read both in the text format.
//!
//! The text format and `json`'s binary format are the JSON text itself. `jsonb`'s binary
//! format is a version byte, `1`, followed by the JSON text (`jsonb_send`); any other
//! version is a [`ConversionError`], since its layout is unknown. Values are written as
//! `jsonb` by default (as tokio-postgres does) and accepted for parameters of either
//! type; both types are read.

#[cfg(feature = "serde_json")]
mod imp {
    use std::fmt;

    use bytes::{BufMut, BytesMut};
    use serde::de::DeserializeOwned;
    use serde::Serialize;

    use crate::types::oid::{self, is_text_like, is_unspecified};
    use crate::types::{
        check_accepts, ConversionError, Format, FromSql, IsNull, Oid, ToSql, ValueType,
    };

    /// The only `jsonb` binary version PostgreSQL has defined.
    const JSONB_VERSION: u8 = 1;

    /// A value stored as `json` or `jsonb` through serde: `Json(my_struct)` as a
    /// parameter, `row.get::<Json<MyStruct>>(0)?.0` for a column.
    ///
    /// Serialization and deserialization errors are [`ConversionError::Custom`] with
    /// serde's error as the source.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct Json<T>(pub T);

    fn accepts_json(oid: Oid) -> bool {
        matches!(oid, oid::JSON | oid::JSONB)
    }

    /// Writes `v` for a `json`/`jsonb` parameter.
    fn write_json<T: Serialize + ?Sized>(
        v: &T,
        ty: ValueType,
        out: &mut BytesMut,
        rust: &'static str,
    ) -> Result<IsNull, ConversionError> {
        if !(accepts_json(ty.oid) || is_unspecified(ty.oid)) {
            return Err(ConversionError::WrongType { rust, oid: ty.oid });
        }
        if ty.format == Format::Binary && ty.oid == oid::JSONB {
            out.put_u8(JSONB_VERSION);
        }
        serde_json::to_writer(out.writer(), v).map_err(ConversionError::custom::<T>)?;
        Ok(IsNull::No)
    }

    /// The JSON text of a `json`/`jsonb` value (the version byte checked and removed).
    fn json_text<'a>(
        ty: ValueType,
        raw: &'a [u8],
        rust: &'static str,
    ) -> Result<&'a [u8], ConversionError> {
        match (ty.format, raw.split_first()) {
            (Format::Binary, Some((&JSONB_VERSION, rest))) if ty.oid == oid::JSONB => Ok(rest),
            (Format::Binary, _) if ty.oid == oid::JSONB && !ty.lenient => Err(
                ConversionError::invalid(rust, "unsupported jsonb binary version (expected 1)"),
            ),
            // Lenient: a version byte if there is one (JSON text never starts with 0x01).
            (Format::Binary, Some((&JSONB_VERSION, rest))) if ty.lenient => Ok(rest),
            (Format::Binary, _) if !ty.lenient && !is_text_like(ty.oid) && ty.oid != oid::JSON => {
                Err(ConversionError::WrongType { rust, oid: ty.oid })
            }
            _ => Ok(raw),
        }
    }

    fn read_json<T: DeserializeOwned>(
        ty: ValueType,
        raw: &[u8],
        rust: &'static str,
    ) -> Result<T, ConversionError> {
        let text = json_text(ty, raw, rust)?;
        serde_json::from_slice(text).map_err(ConversionError::custom::<T>)
    }

    impl ToSql for serde_json::Value {
        fn type_oid(&self) -> Oid {
            oid::JSONB
        }

        fn accepts(&self, oid: Oid) -> bool {
            accepts_json(oid) || is_unspecified(oid)
        }

        fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
            write_json(self, ty, out, "serde_json::Value")
        }

        /// Binary only for a parameter known to be `json` or `jsonb`, whose binary forms
        /// differ.
        fn supports_binary(&self, oid: Oid) -> bool {
            accepts_json(oid)
        }

        fn null_type_oid() -> Oid {
            oid::JSONB
        }
    }

    impl FromSql<'_> for serde_json::Value {
        fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
            check_accepts::<Self>(ty, "serde_json::Value")?;
            read_json(ty, raw, "serde_json::Value")
        }

        fn accepts(oid: Oid) -> bool {
            accepts_json(oid)
        }
    }

    impl<T: Serialize + fmt::Debug + Sync> ToSql for Json<T> {
        fn type_oid(&self) -> Oid {
            oid::JSONB
        }

        fn accepts(&self, oid: Oid) -> bool {
            accepts_json(oid) || is_unspecified(oid)
        }

        fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
            write_json(&self.0, ty, out, "Json")
        }

        fn supports_binary(&self, oid: Oid) -> bool {
            accepts_json(oid)
        }

        fn null_type_oid() -> Oid {
            oid::JSONB
        }
    }

    impl<T: DeserializeOwned> FromSql<'_> for Json<T> {
        fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
            check_accepts::<Self>(ty, "Json")?;
            read_json(ty, raw, "Json").map(Json)
        }

        fn accepts(oid: Oid) -> bool {
            accepts_json(oid)
        }
    }
}

#[cfg(feature = "serde_json")]
pub use imp::Json;

#[cfg(all(test, feature = "serde_json"))]
mod tests;
