//! [`Vector`]: InterSystems IRIS `VECTOR` values, as the text lists IRIS reads and writes.
//!
//! IRIS has no wire type for vectors: a parameter goes in as text and `TO_VECTOR` parses
//! it, and a `VECTOR` column comes back as text (OID 25 or 1043; 16388 from iris-pgwire's
//! embedded string-type path). See quirks doc §5.6.
//!
//! - Writing: `[a,b,…]`, each element in Rust's shortest round-trip decimal form (`{}`,
//!   never an exponent). NaN and infinities are refused: IRIS has no text for them.
//! - Reading: IRIS's bare `a,b,…` and the bracketed `[a,b,…]`, with optional ASCII
//!   whitespace around elements and brackets; elements in ObjectScript canonical form
//!   (`.1`, `-.5`, `1E+2`) too. `[]` and the empty string are the empty vector.

use std::fmt::Write as _;

use bytes::BytesMut;

use super::oid::{self, is_text_like, is_unspecified};
use super::{check_accepts, ConversionError, Format, FromSql, IsNull, Oid, ToSql, ValueType};

/// The type OID iris-pgwire's embedded backend gives `VECTOR` columns (not in `pg_type`).
pub(crate) const IRIS_VECTOR: Oid = 16388;

const RUST: &str = "Vector";

/// An IRIS `VECTOR` of doubles, sent and read as its text form `[a,b,…]`.
///
/// As a parameter it is text (OID `text`), so wrap the placeholder in `TO_VECTOR`, which
/// parses the list; for example, a similarity search:
///
/// ```no_run
/// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
/// use pgline::types::Vector;
///
/// let query = Vector::from(vec![0.1f32, 0.2, 0.3]);
/// let rows = conn
///     .query(
///         "SELECT id FROM docs ORDER BY VECTOR_COSINE(embedding, TO_VECTOR($1, DOUBLE)) DESC",
///         &[&query],
///     )
///     .await?;
/// let embedding: Vector = conn
///     .query_one("SELECT embedding FROM docs WHERE id = $1", &[&1i64])
///     .await?
///     .get(0)?;
/// # let _ = (rows, embedding);
/// # Ok(()) }
/// ```
///
/// `f32` elements are widened exactly, so `0.1f32` is sent as `0.10000000149011612`, the
/// same number IRIS stores from `0.1` as a `FLOAT` element.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vector(Vec<f64>);

impl Vector {
    /// A vector of these elements.
    pub const fn new(elements: Vec<f64>) -> Self {
        Self(elements)
    }

    /// The elements.
    pub fn as_slice(&self) -> &[f64] {
        &self.0
    }

    /// The elements, by value.
    pub fn into_vec(self) -> Vec<f64> {
        self.0
    }

    /// The number of elements (dimensions).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the vector has no elements.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends the text form `[a,b,…]`. Refuses NaN and infinities before writing
    /// anything.
    fn write_text(&self, out: &mut BytesMut) -> Result<(), ConversionError> {
        if !self.0.iter().all(|v| v.is_finite()) {
            return Err(ConversionError::invalid(
                RUST,
                "NaN or infinite element (IRIS vectors hold finite numbers only)",
            ));
        }
        out.extend_from_slice(b"[");
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b",");
            }
            write!(out, "{v}").map_err(|_| ConversionError::invalid(RUST, "formatting failed"))?;
        }
        out.extend_from_slice(b"]");
        Ok(())
    }

    /// Parses `a,b,…` or `[a,b,…]` with optional ASCII whitespace.
    fn parse(text: &[u8]) -> Result<Self, ConversionError> {
        let text = text.trim_ascii();
        let list = match text {
            [b'[', inner @ .., b']'] => inner,
            [b'[', ..] | [.., b']'] => return Err(ConversionError::invalid(RUST, "unbalanced [")),
            _ => text,
        };
        if list.trim_ascii().is_empty() {
            return Ok(Self(Vec::new()));
        }
        list.split(|&b| b == b',')
            .map(parse_element)
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// One element: a finite decimal number (Rust's float syntax, which includes `.5`, `5.`
/// and exponents), trimmed.
fn parse_element(raw: &[u8]) -> Result<f64, ConversionError> {
    let raw = raw.trim_ascii();
    if raw.is_empty() {
        return Err(ConversionError::invalid(RUST, "empty element"));
    }
    // Rust also parses `inf`, `infinity` and `nan`; IRIS never sends them (and `is_finite`
    // below rejects them anyway), so only allow what a decimal number can start with.
    if !raw
        .iter()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
    {
        return Err(ConversionError::invalid(RUST, "element is not a number"));
    }
    let v: f64 = std::str::from_utf8(raw)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(ConversionError::invalid(RUST, "element is not a number"))?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(ConversionError::invalid(RUST, "element out of range"))
    }
}

impl From<Vec<f64>> for Vector {
    fn from(elements: Vec<f64>) -> Self {
        Self(elements)
    }
}

/// Widens each element exactly (`f64::from`).
impl From<Vec<f32>> for Vector {
    fn from(elements: Vec<f32>) -> Self {
        Self(elements.into_iter().map(f64::from).collect())
    }
}

impl From<Vector> for Vec<f64> {
    fn from(v: Vector) -> Self {
        v.0
    }
}

impl AsRef<[f64]> for Vector {
    fn as_ref(&self) -> &[f64] {
        &self.0
    }
}

impl ToSql for Vector {
    /// `text`: IRIS parses the list in `TO_VECTOR($1, DOUBLE)`.
    fn type_oid(&self) -> Oid {
        oid::TEXT
    }

    /// String types, IRIS's vector OID, and "let the server decide".
    fn accepts(&self, oid: Oid) -> bool {
        is_text_like(oid) || is_unspecified(oid) || oid == IRIS_VECTOR
    }

    /// Writes `[a,b,…]`. Binary is allowed only for string types, whose binary form is the
    /// same text.
    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        crate::types::ensure_accepted(self.accepts(ty.oid), RUST, ty.oid)?;
        if ty.format == Format::Binary && !is_text_like(ty.oid) {
            return Err(ConversionError::Unsupported {
                rust: RUST,
                format: Format::Binary,
            });
        }
        self.write_text(out)?;
        Ok(IsNull::No)
    }

    fn supports_binary(&self, _oid: Oid) -> bool {
        false
    }

    fn null_type_oid() -> Oid {
        oid::TEXT
    }
}

impl FromSql<'_> for Vector {
    /// Parses the text list. A binary-format value is accepted only when its bytes are
    /// that text (iris-pgwire sends text bytes under a binary format code); anything else
    /// in binary is [`ConversionError::Unsupported`].
    fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
        check_accepts::<Self>(ty, RUST)?;
        match ty.format {
            Format::Text => Self::parse(raw),
            Format::Binary => Self::parse(raw).map_err(|_| ConversionError::Unsupported {
                rust: RUST,
                format: Format::Binary,
            }),
        }
    }

    fn from_sql_null(_ty: ValueType) -> Result<Self, ConversionError> {
        Err(ConversionError::UnexpectedNull { rust: RUST })
    }

    /// String types and IRIS's vector OID (16388). Lenient mode reads any column.
    fn accepts(oid: Oid) -> bool {
        is_text_like(oid) || oid == IRIS_VECTOR
    }
}

#[cfg(test)]
mod tests;
