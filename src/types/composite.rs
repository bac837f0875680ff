//! Composite values (`record`, and any user-defined row type) read without a derive:
//! [`Composite`] splits the value into fields, [`Composite::get`] decodes one.
//!
//! # Wire formats
//!
//! Binary (`record_send`): an `i32` field count, then per field its type OID (`u32`), an
//! `i32` length (-1 = NULL) and the field's binary value. Text (`record_out`):
//! `(1,"a b",)`: an empty unquoted field is NULL, `""` is the empty string, a field is
//! double-quoted when it holds `"`, `\`, `(`, `)`, `,` or whitespace, and inside quotes
//! `"` and `\` are doubled (record_in also takes `\"`).
//!
//! The text format carries no field types: text fields are decoded as the Rust type asked
//! for (leniently, as if the OID were `unknown`). Binary fields carry their OID and are
//! checked strictly. A text `()` is read as zero fields (`ROW()`; `ROW(NULL)` prints the
//! same).
//!
//! Enums, and the recipe for a user's own composite type (no derive), are documented on
//! [`Composite`].

use std::borrow::Cow;

use crate::types::array::wire::{is_pg_space, Body};
use crate::types::array::FIRST_NORMAL_OID;
use crate::types::oid;
use crate::types::{ConversionError, Format, FromSql, Oid, ValueType};

const RUST: &str = "Composite";

/// One field: its type OID (`unknown` in the text format) and its bytes (`None` is NULL).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field<'a> {
    oid: Oid,
    value: Option<Cow<'a, [u8]>>,
}

/// A composite value split into its fields, borrowing from the row where it can.
///
/// Reads `record` and any user-defined composite type (OID 16384 and up: their OIDs are
/// per database), in both formats: binary is an `i32` field count, then per field its
/// type OID, an `i32` length (-1 = NULL) and the bytes; text is `(1,"a b",)` (an empty
/// field is NULL, `""` the empty string). The text format carries no field types, so
/// [`get`](Self::get) decodes text fields as the Rust type asked for (leniently, as if the
/// OID were `unknown`); binary fields are checked against their OIDs. A text `()` is read
/// as zero fields (`ROW()` and `ROW(NULL)` print the same).
///
/// # Enums
///
/// Enum values need no type here: their text and binary forms are both the label, so
/// `String` reads them (in text, which is how the server sends enum columns to this
/// crate), and [`Text`](crate::types::Text) sends them (`Text::new(0, "happy")`, or any
/// OID: the server parses the label as the parameter's enum type).
///
/// # Your own types: no derive, a short impl
///
/// A derive macro would need a proc-macro crate of its own, and the crate's top-level
/// layout is fixed (no room for a second crate), so there is none: a user type maps
/// with a few lines over [`Composite`], returning its own errors through
/// [`ConversionError::custom`]. For a type `CREATE TYPE point2 AS (x int4, label text)`:
///
/// ```
/// use bytes::{BufMut, BytesMut};
/// use pgline::types::{
///     Composite, ConversionError, Format, FromSql, IsNull, Oid, ToSql, ValueType,
/// };
///
/// #[derive(Debug, PartialEq)]
/// struct Point2 {
///     x: i32,
///     label: Option<String>,
/// }
///
/// impl<'a> FromSql<'a> for Point2 {
///     fn from_sql(ty: ValueType, raw: &'a [u8]) -> Result<Self, ConversionError> {
///         let c = Composite::from_sql(ty, raw)?;
///         if c.len() != 2 {
///             let msg = format!("point2 has 2 fields, got {}", c.len());
///             return Err(ConversionError::custom::<Self>(msg));
///         }
///         Ok(Self { x: c.get(0)?, label: c.get(1)? })
///     }
///
///     fn accepts(oid: Oid) -> bool {
///         <Composite<'_> as FromSql>::accepts(oid)
///     }
/// }
///
/// /// Sent in the text format, `(x,"label")`; the server parses it as the parameter's type.
/// impl ToSql for Point2 {
///     fn type_oid(&self) -> Oid {
///         0 // per-database: let the server infer it from `$1::point2`
///     }
///     fn accepts(&self, _oid: Oid) -> bool {
///         true
///     }
///     fn supports_binary(&self, _oid: Oid) -> bool {
///         false
///     }
///     fn to_sql(&self, _ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
///         out.put_slice(format!("({},", self.x).as_bytes());
///         if let Some(label) = &self.label {
///             out.put_slice(format!("\"{}\"", label.replace('\\', "\\\\").replace('"', "\\\"")).as_bytes());
///         }
///         out.put_u8(b')');
///         Ok(IsNull::No)
///     }
/// }
///
/// let ty = ValueType::new(16_500, Format::Text);
/// let p = Point2::from_sql(ty, br#"(3,"a ""b""")"#)?;
/// assert_eq!(p, Point2 { x: 3, label: Some("a \"b\"".into()) });
/// assert!(Point2::from_sql(ty, b"(1,2,3)").is_err());
/// let mut out = BytesMut::new();
/// p.to_sql(ty, &mut out)?;
/// assert_eq!(&out[..], br#"(3,"a \"b\"")"#);
/// # Ok::<(), ConversionError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composite<'a> {
    format: Format,
    lenient: bool,
    fields: Vec<Field<'a>>,
}

impl<'a> Composite<'a> {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The format the fields are in.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The fields in order: type OID (`unknown`, 705, in the text format) and bytes
    /// (`None` for NULL).
    pub fn fields(&self) -> impl ExactSizeIterator<Item = (Oid, Option<&[u8]>)> + '_ {
        self.fields.iter().map(|f| (f.oid, f.value.as_deref()))
    }

    /// Decodes field `i` (from 0) as `T`: with its own OID in binary, as `T` asks in text.
    pub fn get<'b, T: FromSql<'b>>(&'b self, i: usize) -> Result<T, ConversionError> {
        let f = self
            .fields
            .get(i)
            .ok_or(ConversionError::invalid(RUST, "no such field"))?;
        let ty = match self.format {
            Format::Binary => ValueType {
                oid: f.oid,
                format: Format::Binary,
                lenient: self.lenient,
            },
            Format::Text => ValueType::lenient(oid::UNKNOWN, Format::Text),
        };
        match &f.value {
            Some(v) => T::from_sql(ty, v),
            None => T::from_sql_null(ty),
        }
    }
}

fn read_binary(raw: &[u8]) -> Result<Vec<Field<'_>>, ConversionError> {
    let mut body = Body::new(raw, RUST);
    // Each field is at least its OID and its length.
    let n = body.count(8, "truncated field count")?;
    let mut fields = Vec::with_capacity(n);
    for _ in 0..n {
        let oid = body.u32("truncated field type")?;
        let value = body.nullable()?.map(Cow::Borrowed);
        fields.push(Field { oid, value });
    }
    body.finish()?;
    Ok(fields)
}

/// record_in's grammar: `(` fields separated by `,` `)`, whitespace around the parentheses
/// only.
fn read_text(s: &[u8]) -> Result<Vec<Field<'_>>, ConversionError> {
    let err = |reason| ConversionError::invalid(RUST, reason);
    let start = s.iter().position(|&b| !is_pg_space(b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| !is_pg_space(b))
        .map_or(start, |i| i + 1);
    let inner = s
        .get(start..end)
        .and_then(|t| t.strip_prefix(b"("))
        .and_then(|t| t.strip_suffix(b")"))
        .ok_or(err("a record is (…)"))?;
    let mut fields = Vec::new();
    if inner.is_empty() {
        return Ok(fields);
    }
    let mut pos = 0;
    loop {
        let field_start = pos;
        let mut owned: Option<Vec<u8>> = None;
        let mut in_quotes = false;
        while let Some(&b) = inner.get(pos) {
            match b {
                b'"' if in_quotes && inner.get(pos + 1) == Some(&b'"') => {
                    owned.get_or_insert_with(Vec::new).push(b'"');
                    pos += 2;
                    continue;
                }
                b'"' => {
                    in_quotes = !in_quotes;
                    // Unquoted text before the first quote is kept.
                    if owned.is_none() {
                        owned = Some(inner.get(field_start..pos).unwrap_or_default().to_vec());
                    }
                }
                b'\\' => {
                    pos += 1;
                    let escaped = *inner.get(pos).ok_or(err("unterminated escape"))?;
                    let buf = owned.get_or_insert_with(|| {
                        inner.get(field_start..pos - 1).unwrap_or_default().to_vec()
                    });
                    buf.push(escaped);
                }
                b',' if !in_quotes => break,
                b'(' | b')' if !in_quotes => return Err(err("unquoted parenthesis in a record")),
                _ => {
                    if let Some(buf) = owned.as_mut() {
                        buf.push(b);
                    }
                }
            }
            pos += 1;
        }
        if in_quotes {
            return Err(err("unterminated quoted field"));
        }
        let text = inner.get(field_start..pos).unwrap_or_default();
        let value = match owned {
            Some(buf) => Some(Cow::Owned(buf)),
            None if text.is_empty() => None,
            None => Some(Cow::Borrowed(text)),
        };
        fields.push(Field {
            oid: oid::UNKNOWN,
            value,
        });
        if pos >= inner.len() {
            break;
        }
        pos += 1; // the comma
    }
    Ok(fields)
}

impl<'a> FromSql<'a> for Composite<'a> {
    fn from_sql(ty: ValueType, raw: &'a [u8]) -> Result<Self, ConversionError> {
        crate::types::check_accepts::<Self>(ty, RUST)?;
        let fields = match ty.format {
            Format::Binary => read_binary(raw)?,
            Format::Text => read_text(raw)?,
        };
        Ok(Self {
            format: ty.format,
            lenient: ty.lenient,
            fields,
        })
    }

    /// `record` and any user-defined type (OID 16384 and up).
    fn accepts(oid: Oid) -> bool {
        oid == oid::RECORD || oid >= FIRST_NORMAL_OID
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::types::oid::*;

    fn text(s: &str) -> Result<Composite<'_>, ConversionError> {
        Composite::from_sql(ValueType::new(RECORD, Format::Text), s.as_bytes())
    }

    fn values<'c>(c: &'c Composite<'_>) -> Vec<Option<&'c [u8]>> {
        c.fields().map(|(_, v)| v).collect()
    }

    #[test]
    fn text_records_split_as_record_in_splits_them() {
        let c = text(r#"(1,"a b",,"",x\,y,"q""uote","b\\s")"#).unwrap();
        assert_eq!(
            values(&c),
            [
                Some(&b"1"[..]),
                Some(b"a b"),
                None,
                Some(b""),
                Some(b"x,y"),
                Some(b"q\"uote"),
                Some(b"b\\s")
            ]
        );
        assert_eq!(c.get::<i32>(0), Ok(1));
        assert_eq!(c.get::<Option<i64>>(2), Ok(None));
        assert_eq!(c.get::<String>(1).as_deref(), Ok("a b"));
        assert!(c.get::<i32>(1).is_err());
        assert!(c.get::<i32>(99).is_err());
        assert_eq!(text(" () ").unwrap().len(), 0);
        assert_eq!(values(&text("(,)").unwrap()), [None, None]);
        for bad in ["", "(", "1,2", "(a(b)", r#"("a)"#, r"(a\)", "(1)x"] {
            assert!(text(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn binary_records_carry_each_fields_type() {
        let mut raw = vec![0, 0, 0, 2];
        raw.extend_from_slice(&INT4.to_be_bytes());
        raw.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 7]);
        raw.extend_from_slice(&TEXT.to_be_bytes());
        raw.extend_from_slice(&[0xff; 4]);
        let c = Composite::from_sql(ValueType::new(RECORD, Format::Binary), &raw).unwrap();
        assert_eq!(c.fields().map(|(o, _)| o).collect::<Vec<_>>(), [INT4, TEXT]);
        assert_eq!(c.get::<i32>(0), Ok(7));
        assert_eq!(c.get::<Option<String>>(1), Ok(None));
        // Strict: the field's OID is checked.
        assert!(matches!(
            c.get::<i16>(0),
            Err(ConversionError::WrongType { .. })
        ));
    }

    #[test]
    fn hostile_binary_records_are_errors_not_panics() {
        let cases: &[&[u8]] = &[
            &[0, 0, 0],
            &[0x7f, 0xff, 0xff, 0xff],
            &[0xff, 0xff, 0xff, 0xff],
            &[0, 0, 0, 1, 0, 0, 0, 23],
            &[0, 0, 0, 1, 0, 0, 0, 23, 0, 0, 0, 9, 1],
            &[0, 0, 0, 1, 0, 0, 0, 23, 0xff, 0xff, 0xff, 0xfe],
            &[0, 0, 0, 0, 0],
        ];
        for raw in cases {
            let r = Composite::from_sql(ValueType::new(RECORD, Format::Binary), raw);
            assert!(r.is_err(), "{raw:?}");
        }
    }

    #[test]
    fn only_record_and_user_types_are_accepted_strictly() {
        assert!(<Composite<'_> as FromSql>::accepts(RECORD));
        assert!(<Composite<'_> as FromSql>::accepts(16_384));
        assert!(!<Composite<'_> as FromSql>::accepts(TEXT));
        let r = Composite::from_sql(ValueType::new(TEXT, Format::Text), b"(1)");
        assert!(matches!(r, Err(ConversionError::WrongType { .. })));
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
            let _ = Composite::from_sql(ValueType::new(RECORD, Format::Binary), &bytes);
            let _ = Composite::from_sql(ValueType::new(RECORD, Format::Text), &bytes);
        }
    }
}
