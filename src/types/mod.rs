//! Conversions between Rust values and PostgreSQL values on the wire: [`ToSql`] for
//! parameters, [`FromSql`] for column values, in both the text and the binary format.
//!
//! This module owns value *bodies* only (the bytes after a value's length prefix). It does
//! no IO and knows nothing about messages; NULL is a separate path (`IsNull::Yes` when
//! writing, [`FromSql::from_sql_null`] when reading), never a byte pattern.
//!
//! # Strict and lenient decoding
//!
//! Every decode gets a [`ValueType`]: the column's type OID and format from RowDescription,
//! plus a `lenient` flag.
//!
//! - **Strict** (`lenient: false`, for PostgreSQL): the OID must be one the Rust type
//!   accepts ([`FromSql::accepts`]) or decoding fails with [`ConversionError::WrongType`]
//!   before a byte is read. Widening is allowed (`i64` from `int2`), narrowing is not.
//! - **Lenient** (`lenient: true`, for servers whose type OIDs lie, such as InterSystems
//!   IRIS behind iris-pgwire): the OID check is skipped and the value is parsed as the Rust
//!   type asked for, from whatever the server sent: numbers in `text`/`varchar` columns,
//!   `inf`/`nan`/`.5` floats, `true`/`1` booleans, dates as day counts, bytea as a Python
//!   `b'...'` repr. A fixed-width binary value of the wrong length (iris-pgwire sends text
//!   bytes while RowDescription says binary) is parsed as text instead of being rejected.
//!   A text value that *happens* to have the right binary width is ambiguous and is read as
//!   binary, as the format code says, except for dates and timestamps, where all-printable
//!   bytes (`"8780"`) cannot be a binary value within 100,000 years and are read as text.
//!
//! Whether `''` means NULL (iris-pgwire returns NULL strings as `''`) is the caller's
//! concern; this module decodes what it is given.
//!
//! # Type table
//!
//! | Rust | writes as (`type_oid`) | `ToSql` also accepts | `FromSql` strict accepts | lenient extras |
//! |---|---|---|---|---|
//! | `bool` | `bool` | | `bool` | text `true`/`false`/`1`/`0`/`t`/`f`, any case |
//! | `i16` | `int2` | `int4`, `int8` (widened) | `int2` | numbers as text; whitespace trimmed |
//! | `i32` | `int4` | `int8` (widened) | `int2`, `int4` | as `i16` |
//! | `i64` | `int8` | | `int2`, `int4`, `int8`, `oid` | as `i16` |
//! | `u32` | `oid` | `int8` (widened) | `oid` | as `i16` |
//! | `f32` | `float4` | `float8` (widened) | `float4` | `inf`, `nan`, `.5`, `1E+2`; `float8` narrowed |
//! | `f64` | `float8` | | `float4`, `float8` | as `f32` |
//! | `&str`, `String` | `text` | `varchar`, `bpchar`, `name`, `"char"` | those, `unknown`, and **any OID in text format** | any OID in binary format if the bytes are UTF-8 |
//! | `&[u8]`, `Vec<u8>` | `bytea` | | `bytea` (`&[u8]`: binary format only) | Python `b'...'`; any OID |
//! | `SystemTime` | `timestamptz` | `timestamp` (as UTC) | `timestamptz`, `timestamp` (UTC), `date` (midnight UTC) | `date` as a day count (`"8780"`) |
//! | [`Vector`] | `text` (`[a,b,…]`) | string types, IRIS `vector` (16388) | string types, 16388 | any OID; binary only if it holds the text |
//! | [`Text`] | its `oid` | everything (text format only) | any OID in text format; text-like in binary | |
//! | [`RawValue`] | its `ty.oid` | everything (its own format only) | everything | |
//! | `Option<T>` | as `T` | `None` accepts everything | as `T`; NULL is `None` | |
//!
//! The types of a real schema, binary and text (the server sends results of these
//! types as text; the binary decoders serve parameters, `*_send` values and binary
//! COPY):
//!
//! | Rust | PostgreSQL types | notes | feature |
//! |---|---|---|---|
//! | [`Numeric`] | `numeric` (reads `int2`/`int4`/`int8` too) | exact: NaN, ±Infinity, any scale; equality on the value | |
//! | `rust_decimal::Decimal` | `numeric` | NaN, infinities and more than 28 places are errors | `rust_decimal` |
//! | `uuid::Uuid` | `uuid` | | `uuid` |
//! | `serde_json::Value`, [`Json<T>`](Json) | writes `jsonb`, accepts `json`; reads both | jsonb's version byte checked | `serde_json` |
//! | [`Date`] | `date` | ±infinity, 4714 BC to 5874897 AD | |
//! | [`Time`], [`TimeTz`] | `time`, `timetz` | `24:00:00`; leap seconds refused | |
//! | [`Timestamp`], [`TimestampTz`] | `timestamp`, `timestamptz` | ±infinity, BC; two types so that neither shifts by the session's TimeZone | |
//! | [`Interval`] | `interval` | months, days and µs kept apart; text in `IntervalStyle = postgres` | |
//! | `chrono::{NaiveDate, NaiveTime, NaiveDateTime, DateTime<Utc>, DateTime<FixedOffset>}` | `date`, `time`, `timestamp`, `timestamptz` | infinity is an error naming the pgline type to use | `chrono` |
//! | `time::{Date, Time, PrimitiveDateTime, OffsetDateTime}` | `date`, `time`, `timestamp`, `timestamptz` | as chrono | `time` |
//! | `std::net::IpAddr`, [`Inet`], [`Cidr`] | `inet`, `cidr` | an `IpAddr` never drops a netmask silently | |
//! | [`MacAddr`], [`MacAddr8`] | `macaddr`, `macaddr8` | | |
//! | [`BitVec`] | `bit`, `varbit` | | |
//! | `i8` | `"char"` | | |
//! | [`Money`] | `money` | raw `i64`; text read only (the currency's minor digits are unknown) | |
//! | `Vec<T>`, `&[T]`, `[T; N]` | arrays of the element's type (`Option<T>` elements are NULL) | 1-D; element OID checked; counts capped before allocating | |
//! | [`Array<T>`](Array) | arrays, up to 6 dimensions with lower bounds | | |
//! | [`Range<T>`](Range), [`MultiRange<T>`](MultiRange) | the built-in ranges and multiranges | empty, inclusive, exclusive, unbounded | |
//! | `HashMap<String, Option<String>>` | `hstore` (an extension: any non-built-in OID) | | |
//! | [`Composite`] | `record`, composite types | read field by field, no derive (see its docs) | |
//! | `String` | enums, and any type in text format | | |
//!
//! A user's own type implements [`ToSql`]/[`FromSql`] (see [`Composite`] for a worked
//! example) and reports its own errors with [`ConversionError::custom`]. Not mapped yet:
//! geometric types, `xml`, `tsvector`/`tsquery`, `pg_lsn`, `txid_snapshot`, user-defined
//! ranges, and `ToSql` for composites (send them as text or with `ROW($1, $2)`).
//!
//! Every `ToSql` type also accepts OID 0 and `unknown` (705), which leave the type to the
//! server. Strings are read from any OID in the text format because the text format *is* a
//! string: that is how `numeric`, `uuid` or `json` are read without a dedicated type.
//!
//! Text-format timestamps assume `DateStyle = ISO` (the server default, and what the
//! connection asks for in its startup packet; a later `SET DateStyle` to another style
//! makes text timestamps fail to decode with an error that says so); `BC` dates and `±infinity` are rejected as [`ConversionError::Invalid`]
//! because `SystemTime` conversions here cover the Common Era only.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

use std::fmt;
use std::sync::Arc;

use bytes::BytesMut;

pub use crate::protocol::frontend::IsNull;
pub use crate::protocol::{Format, Oid};

pub mod oid;
mod raw;
mod scalar;
mod text;
mod time;
mod vector;

pub use raw::{RawValue, Text};
pub use vector::Vector;

// Issue 16's mappings: one module each; its re-exports go right under its line.
mod array;
pub use array::{Array, Dimension};
mod composite;
pub use composite::Composite;
mod datetime;
pub use datetime::{Date, Interval, Time, TimeTz, Timestamp, TimestampTz};
mod hstore;
mod json;
#[cfg(feature = "serde_json")]
pub use json::Json;
mod misc;
pub use misc::{BitVec, MacAddr, MacAddr8, Money, ParseError};
mod net;
pub use net::{Cidr, Inet, NetError};
mod numeric;
pub use numeric::{Numeric, NumericError};
mod range;
pub use range::{MultiRange, Range};
mod uuids;

/// The type and format of one value on the wire, plus whether to decode leniently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueType {
    /// The type OID (from RowDescription or ParameterDescription).
    pub oid: Oid,
    /// The wire format of the value.
    pub format: Format,
    /// Decode by the Rust type asked for instead of checking the OID (see the module docs).
    pub lenient: bool,
}

impl ValueType {
    /// A strict value type.
    pub const fn new(oid: Oid, format: Format) -> Self {
        Self {
            oid,
            format,
            lenient: false,
        }
    }

    /// A lenient value type.
    pub const fn lenient(oid: Oid, format: Format) -> Self {
        Self {
            oid,
            format,
            lenient: true,
        }
    }
}

/// Why a value could not be converted. Small and allocation-free, except for
/// [`Custom`](Self::Custom): the error of a user's own [`ToSql`]/[`FromSql`] impl.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ConversionError {
    /// The Rust type does not accept this type OID (strict mode), e.g. `i32` from `int8`.
    WrongType {
        /// The Rust type.
        rust: &'static str,
        /// The type OID on the wire.
        oid: Oid,
    },
    /// The value is NULL and the Rust type has no NULL (use `Option<T>`).
    UnexpectedNull {
        /// The Rust type.
        rust: &'static str,
    },
    /// The bytes are not a valid value: wrong binary length, unparsable text, out of range.
    Invalid {
        /// The Rust type.
        rust: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The Rust type has no conversion in this format for this value.
    Unsupported {
        /// The Rust type.
        rust: &'static str,
        /// The format that is not supported.
        format: Format,
    },
    /// A conversion's own error, typically from a user's impl (see
    /// [`ConversionError::custom`]); [`std::error::Error::source`] returns it.
    Custom {
        /// The Rust type.
        rust: &'static str,
        /// The error.
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
}

impl PartialEq for ConversionError {
    /// Field by field; two `Custom` errors are equal when they are the same error (one
    /// `Arc`).
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::WrongType { rust: a, oid: x }, Self::WrongType { rust: b, oid: y }) => {
                a == b && x == y
            }
            (Self::UnexpectedNull { rust: a }, Self::UnexpectedNull { rust: b }) => a == b,
            (Self::Invalid { rust: a, reason: x }, Self::Invalid { rust: b, reason: y }) => {
                a == b && x == y
            }
            (
                Self::Unsupported { rust: a, format: x },
                Self::Unsupported { rust: b, format: y },
            ) => a == b && x == y,
            (Self::Custom { rust: a, source: x }, Self::Custom { rust: b, source: y }) => {
                a == b && Arc::ptr_eq(x, y)
            }
            _ => false,
        }
    }
}

impl fmt::Display for ConversionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongType { rust, oid } => {
                write!(
                    f,
                    "cannot convert between Rust type {rust} and type OID {oid}"
                )
            }
            Self::UnexpectedNull { rust } => {
                write!(f, "unexpected NULL for Rust type {rust} (use Option)")
            }
            Self::Invalid { rust, reason } => write!(f, "invalid value for {rust}: {reason}"),
            Self::Unsupported { rust, format } => {
                write!(f, "{rust} does not support the {format:?} format here")
            }
            Self::Custom { rust, source } => write!(f, "invalid value for {rust}: {source}"),
        }
    }
}

impl std::error::Error for ConversionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Custom { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

impl ConversionError {
    pub(crate) const fn invalid(rust: &'static str, reason: &'static str) -> Self {
        Self::Invalid { rust, reason }
    }

    /// Wraps the error of a conversion for Rust type `T` (a user's own [`ToSql`] or
    /// [`FromSql`] impl), keeping it as the source.
    ///
    /// ```
    /// use pgline::types::{ConversionError, FromSql, Oid, ValueType};
    ///
    /// /// A user's type: a percentage stored as `int4`.
    /// struct Percent(u8);
    ///
    /// impl<'a> FromSql<'a> for Percent {
    ///     fn from_sql(ty: ValueType, raw: &'a [u8]) -> Result<Self, ConversionError> {
    ///         let n = i32::from_sql(ty, raw)?;
    ///         u8::try_from(n)
    ///             .ok()
    ///             .filter(|p| *p <= 100)
    ///             .map(Percent)
    ///             .ok_or_else(|| ConversionError::custom::<Self>(format!("{n} is not a percentage")))
    ///     }
    ///     fn accepts(oid: Oid) -> bool {
    ///         <i32 as FromSql>::accepts(oid)
    ///     }
    /// }
    /// ```
    pub fn custom<T: ?Sized>(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Custom {
            rust: std::any::type_name::<T>(),
            source: Arc::from(error.into()),
        }
    }
}

/// A Rust value that can be sent as a statement parameter.
///
/// Usable as `&dyn ToSql`. The caller asks [`type_oid`](Self::type_oid) when it declares
/// parameter types itself, checks [`accepts`](Self::accepts) against the types the server
/// reports, picks the format with [`supports_binary`](Self::supports_binary), then calls
/// [`to_sql`](Self::to_sql).
pub trait ToSql: fmt::Debug + Sync {
    /// The OID this value is declared as when a statement is parsed for it (unnamed
    /// one-shot statements declare parameter types from the values).
    fn type_oid(&self) -> Oid;

    /// Whether this value can be sent for a parameter the server says has type `oid`.
    /// Only types the value is encoded into losslessly are accepted (`i32` for `int4` and
    /// `int8`, not `int2`). OID 0 and `unknown` are accepted by every type.
    fn accepts(&self, oid: Oid) -> bool;

    /// Writes the value for a parameter of type `ty.oid` in `ty.format`: the value bytes
    /// only, no length prefix. Returns `IsNull::Yes` for NULL (`Option::None`), having
    /// written nothing. A type it does not accept is [`ConversionError::WrongType`].
    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError>;

    /// Whether binary is supported for `oid` (callers pick text otherwise).
    fn supports_binary(&self, oid: Oid) -> bool {
        let _ = oid;
        true
    }

    /// The bulk path's shortcut: when the value's encoding for `ty` is at most 8 bytes
    /// and certain to succeed, exactly what [`to_sql`](Self::to_sql) would write (which
    /// must then return `IsNull::No`), with its length in front, so that it is copied
    /// into a Bind in one piece. `None` (the default) sends it through `to_sql`.
    #[doc(hidden)]
    #[inline]
    fn to_sql_fixed(&self, ty: ValueType) -> Option<Fixed> {
        let _ = ty;
        None
    }

    /// The other bulk shortcut: when the value's encoding for `ty` is certain to succeed
    /// and is a slice the value already holds (a string's bytes), exactly what
    /// [`to_sql`](Self::to_sql) would write (which must then return `IsNull::No`), so
    /// that it is copied in after its length with no back-patching. `None` (the default)
    /// sends it through `to_sql`.
    #[doc(hidden)]
    #[inline]
    fn to_sql_slice(&self, ty: ValueType) -> Option<&[u8]> {
        let _ = ty;
        None
    }

    /// For a one-dimensional array value (`Vec<T>`, `&[T]`, `[T; N]`): its element count.
    /// `None` (the default) for everything else. Lets `insert_unnest` check column lengths
    /// before it encodes anything.
    #[doc(hidden)]
    fn array_len(&self) -> Option<usize> {
        None
    }

    /// For a one-dimensional array value: writes elements `range` alone as an array of
    /// type `ty`, exactly as [`to_sql`](Self::to_sql) writes an array of just those
    /// elements. `None` (the default) where the value is not such an array or `range` is
    /// out of bounds. Lets `insert_unnest` encode each chunk of a column straight into
    /// its Bind.
    #[doc(hidden)]
    fn to_sql_array_range(
        &self,
        ty: ValueType,
        range: std::ops::Range<usize>,
        out: &mut BytesMut,
    ) -> Option<Result<IsNull, ConversionError>> {
        let _ = (ty, range, out);
        None
    }

    /// The OID to declare for a NULL of this type (`Option::<Self>::None`), which has no
    /// value to ask [`type_oid`](Self::type_oid). Defaults to 0: let the server infer it.
    fn null_type_oid() -> Oid
    where
        Self: Sized,
    {
        oid::UNSPECIFIED
    }
}

/// A value of at most 8 bytes preceded by its 4-byte length, as it goes into a Bind (see
/// [`ToSql::to_sql_fixed`]).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fixed {
    bytes: [u8; 12],
    len: usize,
}

impl Fixed {
    /// The length-prefixed form of `value`.
    #[inline]
    pub fn new<const N: usize>(value: [u8; N]) -> Self {
        const { assert!(N <= 8, "a fixed value has at most 8 bytes") };
        let mut bytes = [0u8; 12];
        // N <= 8 (checked above), so both fit.
        let len = N as u32;
        if let Some(slot) = bytes.get_mut(..4) {
            slot.copy_from_slice(&len.to_be_bytes());
        }
        if let Some(slot) = bytes.get_mut(4..4 + N) {
            slot.copy_from_slice(&value);
        }
        Self { bytes, len: 4 + N }
    }

    /// The length and the value, as they go on the wire.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&self.bytes)
    }

    /// The value alone (what `to_sql` writes).
    #[inline]
    pub fn value(&self) -> &[u8] {
        self.as_bytes().get(4..).unwrap_or(&[])
    }
}

/// A Rust value that can be read from a column value, borrowing from the row for `'a`.
pub trait FromSql<'a>: Sized {
    /// Decodes a non-NULL value. In strict mode this fails with
    /// [`ConversionError::WrongType`] unless [`accepts`](Self::accepts) says yes.
    fn from_sql(ty: ValueType, raw: &'a [u8]) -> Result<Self, ConversionError>;

    /// Decodes a NULL. Only `Option<T>` (and types with their own NULL) succeed.
    fn from_sql_null(ty: ValueType) -> Result<Self, ConversionError> {
        let _ = ty;
        Err(ConversionError::UnexpectedNull {
            rust: std::any::type_name::<Self>(),
        })
    }

    /// For the column-type check before decoding: strict mode asks this.
    fn accepts(oid: Oid) -> bool;
}

/// Decodes one column value; `None` is NULL.
pub fn decode_value<'a, T: FromSql<'a>>(
    ty: ValueType,
    raw: Option<&'a [u8]>,
) -> Result<T, ConversionError> {
    match raw {
        Some(raw) => T::from_sql(ty, raw),
        None => T::from_sql_null(ty),
    }
}

/// The type check every `to_sql` starts with: [`ConversionError::WrongType`] unless the
/// value accepts the parameter's type.
#[inline]
pub(crate) fn ensure_accepted(
    accepted: bool,
    rust: &'static str,
    oid: Oid,
) -> Result<(), ConversionError> {
    if accepted {
        Ok(())
    } else {
        Err(ConversionError::WrongType { rust, oid })
    }
}

/// The strict-mode type check every `from_sql` starts with.
#[inline]
pub(crate) fn check_accepts<'a, T: FromSql<'a>>(
    ty: ValueType,
    rust: &'static str,
) -> Result<(), ConversionError> {
    if ty.lenient || T::accepts(ty.oid) {
        Ok(())
    } else {
        Err(ConversionError::WrongType { rust, oid: ty.oid })
    }
}

impl<T: ToSql> ToSql for Option<T> {
    fn type_oid(&self) -> Oid {
        match self {
            Some(v) => v.type_oid(),
            None => T::null_type_oid(),
        }
    }

    /// `None` accepts every type: NULL is a value of every type.
    fn accepts(&self, oid: Oid) -> bool {
        match self {
            Some(v) => v.accepts(oid),
            None => true,
        }
    }

    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        match self {
            Some(v) => v.to_sql(ty, out),
            None => Ok(IsNull::Yes),
        }
    }

    fn supports_binary(&self, oid: Oid) -> bool {
        match self {
            Some(v) => v.supports_binary(oid),
            None => true,
        }
    }

    #[inline]
    fn to_sql_fixed(&self, ty: ValueType) -> Option<Fixed> {
        self.as_ref().and_then(|v| v.to_sql_fixed(ty))
    }

    #[inline]
    fn to_sql_slice(&self, ty: ValueType) -> Option<&[u8]> {
        self.as_ref().and_then(|v| v.to_sql_slice(ty))
    }

    fn null_type_oid() -> Oid {
        T::null_type_oid()
    }
}

impl<'a, T: FromSql<'a>> FromSql<'a> for Option<T> {
    fn from_sql(ty: ValueType, raw: &'a [u8]) -> Result<Self, ConversionError> {
        T::from_sql(ty, raw).map(Some)
    }

    fn from_sql_null(_ty: ValueType) -> Result<Self, ConversionError> {
        Ok(None)
    }

    fn accepts(oid: Oid) -> bool {
        T::accepts(oid)
    }
}

#[cfg(test)]
mod tests;
