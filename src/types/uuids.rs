//! `uuid` as `uuid::Uuid` (feature `uuid`).
//!
//! Binary: the 16 bytes in network order (`uuid_send`). Text: `uuid_out`'s lowercase
//! hyphenated form; reading also takes what `uuid_in` takes (braces, no hyphens, upper
//! case), through `Uuid::try_parse_ascii`.

#[cfg(feature = "uuid")]
mod imp {
    use bytes::BytesMut;
    use uuid::Uuid;

    use crate::types::oid::{self, is_text_like, is_unspecified};
    use crate::types::{
        check_accepts, ConversionError, Format, FromSql, IsNull, Oid, ToSql, ValueType,
    };

    const RUST: &str = "Uuid";

    fn parse_text(raw: &[u8], lenient: bool) -> Result<Uuid, ConversionError> {
        let raw = if lenient { raw.trim_ascii() } else { raw };
        Uuid::try_parse_ascii(raw).map_err(|_| ConversionError::invalid(RUST, "not a UUID"))
    }

    impl ToSql for Uuid {
        fn type_oid(&self) -> Oid {
            oid::UUID
        }

        fn accepts(&self, oid: Oid) -> bool {
            oid == oid::UUID || is_unspecified(oid)
        }

        fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
            crate::types::ensure_accepted(self.accepts(ty.oid), RUST, ty.oid)?;
            match ty.format {
                Format::Binary => out.extend_from_slice(self.as_bytes()),
                Format::Text => {
                    let mut buf = Self::encode_buffer();
                    out.extend_from_slice(self.hyphenated().encode_lower(&mut buf).as_bytes());
                }
            }
            Ok(IsNull::No)
        }

        /// Binary only for a parameter known to be `uuid`: for an unspecified one the
        /// server may infer `text`, which 16 raw bytes are not.
        fn supports_binary(&self, oid: Oid) -> bool {
            oid == oid::UUID
        }

        fn null_type_oid() -> Oid {
            oid::UUID
        }
    }

    impl FromSql<'_> for Uuid {
        fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
            check_accepts::<Self>(ty, RUST)?;
            match ty.format {
                Format::Text => parse_text(raw, ty.lenient),
                Format::Binary if is_text_like(ty.oid) => parse_text(raw, ty.lenient),
                Format::Binary => match <[u8; 16]>::try_from(raw) {
                    Ok(bytes) => Ok(Self::from_bytes(bytes)),
                    // iris-pgwire: text bytes in a "binary" column.
                    Err(_) if ty.lenient => parse_text(raw, true),
                    Err(_) => Err(ConversionError::invalid(RUST, "binary length is not 16")),
                },
            }
        }

        fn accepts(oid: Oid) -> bool {
            oid == oid::UUID
        }
    }
}

#[cfg(all(test, feature = "uuid"))]
mod tests;
