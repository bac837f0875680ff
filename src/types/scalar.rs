//! `bool`, the integers (`i16`, `i32`, `i64`, `u32` for `oid`) and the floats.
//!
//! Binary forms are big-endian two's complement and IEEE 754 (`int2send`, `int4send`,
//! `int8send`, `float4send`, `float8send`); the text forms are what `int4out` and
//! `float8out` print. Writing in binary never allocates or formats; writing text uses a
//! stack buffer for integers.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};

use super::oid::{self, is_text_like, is_unspecified};
use super::{
    check_accepts, ConversionError, Fixed, Format, FromSql, IsNull, Oid, ToSql, ValueType,
};

// ---------------------------------------------------------------------------------------
// Shared text helpers (also used by the time module).

/// Appends the decimal form of `v` without going through `fmt`.
pub(crate) fn put_int_text(out: &mut BytesMut, v: i64) {
    // 20 digits hold u64::MAX; |i64::MIN| has 19.
    let mut buf = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut start = buf.len();
    for slot in buf.iter_mut().rev() {
        // n % 10 < 10, so the cast cannot truncate.
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
        start -= 1;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.put_u8(b'-');
    }
    out.extend_from_slice(buf.get(start..).unwrap_or_default());
}

/// Trims ASCII whitespace from both ends (lenient mode: padded values).
pub(crate) fn trim_ascii(raw: &[u8]) -> &[u8] {
    raw.trim_ascii()
}

/// Parses an optionally signed decimal integer with nothing else around it (whitespace
/// too, unless `lenient`). `None` on garbage or overflow.
pub(crate) fn parse_int(raw: &[u8], lenient: bool) -> Option<i64> {
    let raw = if lenient { trim_ascii(raw) } else { raw };
    let (negative, digits) = match raw.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, raw),
    };
    if digits.is_empty() {
        return None;
    }
    // Accumulate negatively so that i64::MIN parses without overflow.
    let mut acc: i64 = 0;
    for &b in digits {
        let d = match b {
            b'0'..=b'9' => i64::from(b - b'0'),
            _ => return None,
        };
        acc = acc.checked_mul(10)?.checked_sub(d)?;
    }
    if negative {
        Some(acc)
    } else {
        acc.checked_neg()
    }
}

// ---------------------------------------------------------------------------------------
// bool

impl ToSql for bool {
    fn type_oid(&self) -> Oid {
        oid::BOOL
    }

    fn accepts(&self, oid: Oid) -> bool {
        oid == oid::BOOL || is_unspecified(oid)
    }

    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        crate::types::ensure_accepted(self.accepts(ty.oid), "bool", ty.oid)?;
        match self.to_sql_fixed(ty) {
            Some(binary) => out.extend_from_slice(binary.value()),
            None => out.put_u8(if *self { b't' } else { b'f' }),
        }
        Ok(IsNull::No)
    }

    /// Binary, for the types it accepts.
    #[inline]
    fn to_sql_fixed(&self, ty: ValueType) -> Option<Fixed> {
        (ty.format == Format::Binary && self.accepts(ty.oid)).then(|| Fixed::new([u8::from(*self)]))
    }

    fn null_type_oid() -> Oid {
        oid::BOOL
    }
}

fn parse_bool(raw: &[u8], lenient: bool) -> Result<bool, ConversionError> {
    // boolout writes "t" or "f"; boolin reads much more, but only lenient mode needs it.
    match raw {
        b"t" => return Ok(true),
        b"f" => return Ok(false),
        _ if !lenient => return Err(ConversionError::invalid("bool", "expected t or f")),
        _ => {}
    }
    let raw = trim_ascii(raw);
    if raw.eq_ignore_ascii_case(b"t") || raw.eq_ignore_ascii_case(b"true") || raw == b"1" {
        Ok(true)
    } else if raw.eq_ignore_ascii_case(b"f") || raw.eq_ignore_ascii_case(b"false") || raw == b"0" {
        Ok(false)
    } else {
        Err(ConversionError::invalid("bool", "not a boolean"))
    }
}

impl FromSql<'_> for bool {
    fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
        check_accepts::<Self>(ty, "bool")?;
        match (ty.format, raw) {
            (Format::Text, _) => parse_bool(raw, ty.lenient),
            // boolsend writes exactly 0 or 1.
            (Format::Binary, [0]) => Ok(false),
            (Format::Binary, [1]) => Ok(true),
            // Binary format but text bytes: iris-pgwire, or a text type in binary.
            (Format::Binary, _) if ty.lenient || is_text_like(ty.oid) => {
                parse_bool(raw, ty.lenient)
            }
            (Format::Binary, [_]) => Err(ConversionError::invalid("bool", "byte is not 0 or 1")),
            (Format::Binary, _) => Err(ConversionError::invalid("bool", "binary length is not 1")),
        }
    }

    fn from_sql_null(_ty: ValueType) -> Result<Self, ConversionError> {
        Err(ConversionError::UnexpectedNull { rust: "bool" })
    }

    fn accepts(oid: Oid) -> bool {
        oid == oid::BOOL
    }
}

// ---------------------------------------------------------------------------------------
// Integers

/// The integer in a binary value of an integer type, if the length matches the OID.
fn binary_int(oid: Oid, raw: &[u8]) -> Option<i64> {
    match oid {
        oid::INT2 => <[u8; 2]>::try_from(raw)
            .ok()
            .map(|b| i64::from(i16::from_be_bytes(b))),
        oid::INT4 => <[u8; 4]>::try_from(raw)
            .ok()
            .map(|b| i64::from(i32::from_be_bytes(b))),
        oid::INT8 => <[u8; 8]>::try_from(raw).ok().map(i64::from_be_bytes),
        oid::OID => <[u8; 4]>::try_from(raw)
            .ok()
            .map(|b| i64::from(u32::from_be_bytes(b))),
        _ => None,
    }
}

/// Decodes any integer value as i64; the caller narrows it.
fn int_from_sql(ty: ValueType, raw: &[u8], rust: &'static str) -> Result<i64, ConversionError> {
    let parsed = match ty.format {
        Format::Text => parse_int(raw, ty.lenient),
        Format::Binary => match binary_int(ty.oid, raw) {
            Some(v) => return Ok(v),
            // Wrong length (iris-pgwire text in a "binary" column) or a non-integer OID.
            None if ty.lenient || is_text_like(ty.oid) => parse_int(raw, ty.lenient),
            None => return Err(ConversionError::invalid(rust, "wrong binary length")),
        },
    };
    parsed.ok_or(ConversionError::invalid(
        rust,
        "not an integer or out of range",
    ))
}

macro_rules! int_impls {
    ($t:ty, $name:literal, $own:expr, [$($to:pat),*], [$($from:pat),*]) => {
        impl ToSql for $t {
            fn type_oid(&self) -> Oid {
                $own
            }

            fn accepts(&self, oid: Oid) -> bool {
                matches!(oid, $($to)|*) || is_unspecified(oid)
            }

            #[inline]
            fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
                if let Some(binary) = self.to_sql_fixed(ty) {
                    out.extend_from_slice(binary.value());
                    return Ok(IsNull::No);
                }
                match (ty.format, ty.oid) {
                    (Format::Text, o) if self.accepts(o) => put_int_text(out, i64::from(*self)),
                    (_, oid) => return Err(ConversionError::WrongType { rust: $name, oid }),
                }
                Ok(IsNull::No)
            }

            /// Binary: widened into whatever integer type the parameter has (`accepts`
            /// only lets through types at least as wide as the value's).
            #[inline]
            fn to_sql_fixed(&self, ty: ValueType) -> Option<Fixed> {
                let v = i64::from(*self);
                match (ty.format, ty.oid) {
                    (Format::Binary, oid::INT2) if self.accepts(ty.oid) => {
                        Some(Fixed::new((v as i16).to_be_bytes()))
                    }
                    (Format::Binary, oid::INT4) if self.accepts(ty.oid) => {
                        Some(Fixed::new((v as i32).to_be_bytes()))
                    }
                    (Format::Binary, oid::OID) if self.accepts(ty.oid) => {
                        Some(Fixed::new((v as u32).to_be_bytes()))
                    }
                    (Format::Binary, oid::INT8) if self.accepts(ty.oid) => {
                        Some(Fixed::new(v.to_be_bytes()))
                    }
                    (Format::Binary, o) if is_unspecified(o) => Some(Fixed::new(self.to_be_bytes())),
                    _ => None,
                }
            }

            fn null_type_oid() -> Oid {
                $own
            }
        }

        impl FromSql<'_> for $t {
            #[inline]
            fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
                check_accepts::<Self>(ty, $name)?;
                let v = int_from_sql(ty, raw, $name)?;
                Self::try_from(v).map_err(|_| ConversionError::invalid($name, "out of range"))
            }

            fn from_sql_null(_ty: ValueType) -> Result<Self, ConversionError> {
                Err(ConversionError::UnexpectedNull { rust: $name })
            }

            fn accepts(oid: Oid) -> bool {
                matches!(oid, $($from)|*)
            }
        }
    };
}

// The `as` casts in to_sql are guarded by accepts(): a value is only narrowed to a type
// listed as at least as wide as its own.
int_impls!(
    i16,
    "i16",
    oid::INT2,
    [oid::INT2, oid::INT4, oid::INT8],
    [oid::INT2]
);
int_impls!(
    i32,
    "i32",
    oid::INT4,
    [oid::INT4, oid::INT8],
    [oid::INT2, oid::INT4]
);
int_impls!(
    i64,
    "i64",
    oid::INT8,
    [oid::INT8],
    [oid::INT2, oid::INT4, oid::INT8, oid::OID]
);
int_impls!(u32, "u32", oid::OID, [oid::OID, oid::INT8], [oid::OID]);

// ---------------------------------------------------------------------------------------
// Floats

/// Whether `s` is a plain decimal number as float8out prints it:
/// `-?digits(.digits)?([eE][+-]?digits)?`.
fn is_plain_decimal(s: &[u8]) -> bool {
    fn digits(s: &[u8]) -> (usize, &[u8]) {
        let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
        (n, s.get(n..).unwrap_or_default())
    }
    let s = s.strip_prefix(b"-").unwrap_or(s);
    let (n, s) = digits(s);
    if n == 0 {
        return false;
    }
    let s = match s.strip_prefix(b".") {
        Some(frac) => match digits(frac) {
            (0, _) => return false,
            (_, rest) => rest,
        },
        None => s,
    };
    match s.split_first() {
        None => true,
        Some((b'e' | b'E', exp)) => {
            let exp = exp
                .strip_prefix(b"+")
                .or_else(|| exp.strip_prefix(b"-"))
                .unwrap_or(exp);
            matches!(digits(exp), (n, rest) if n > 0 && rest.is_empty())
        }
        Some(_) => false,
    }
}

/// Parses a text float. Strict: what float8out prints (`Infinity`, `-Infinity`, `NaN`,
/// plain decimals). Lenient: anything Rust's parser takes after trimming, which covers
/// Python's `inf`/`nan` and ObjectScript's `.5`, `-.5`, `1E+2`.
fn parse_float<T: std::str::FromStr>(raw: &[u8], lenient: bool) -> Option<T> {
    let s = std::str::from_utf8(raw).ok()?;
    let s = if lenient {
        s.trim()
    } else {
        match s {
            "Infinity" => "inf",
            "-Infinity" => "-inf",
            "NaN" => "NaN",
            _ if is_plain_decimal(s.as_bytes()) => s,
            _ => return None,
        }
    };
    s.parse().ok()
}

/// Appends the text form of a float as float8out spells the specials. Finite values use
/// Rust's shortest round-trip form (`1.5`, `1e300`), which float8in reads back exactly.
fn put_float_text<T: std::fmt::Debug>(
    out: &mut BytesMut,
    v: T,
    nan: bool,
    inf: Option<bool>,
) -> Result<(), ConversionError> {
    match (nan, inf) {
        (true, _) => out.extend_from_slice(b"NaN"),
        (_, Some(false)) => out.extend_from_slice(b"Infinity"),
        (_, Some(true)) => out.extend_from_slice(b"-Infinity"),
        (false, None) => write!(out, "{v:?}")
            .map_err(|_| ConversionError::invalid("float", "formatting failed"))?,
    }
    Ok(())
}

macro_rules! float_impls {
    ($t:ty, $name:literal, $own:expr, [$($to:pat),*], [$($from:pat),*]) => {
        impl ToSql for $t {
            fn type_oid(&self) -> Oid {
                $own
            }

            fn accepts(&self, oid: Oid) -> bool {
                matches!(oid, $($to)|*) || is_unspecified(oid)
            }

            #[inline]
            fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
                if let Some(binary) = self.to_sql_fixed(ty) {
                    out.extend_from_slice(binary.value());
                    return Ok(IsNull::No);
                }
                let v = *self;
                match (ty.format, ty.oid) {
                    (Format::Text, o) if self.accepts(o) => {
                        let inf = v.is_infinite().then_some(v.is_sign_negative());
                        put_float_text(out, v, v.is_nan(), inf)?
                    }
                    (_, oid) => return Err(ConversionError::WrongType { rust: $name, oid }),
                }
                Ok(IsNull::No)
            }

            /// Binary, for the types it accepts (widened to `float8` for one).
            #[inline]
            fn to_sql_fixed(&self, ty: ValueType) -> Option<Fixed> {
                let v = *self;
                match (ty.format, ty.oid) {
                    (Format::Binary, oid::FLOAT8) if self.accepts(ty.oid) => {
                        Some(Fixed::new(f64::from(v).to_be_bytes()))
                    }
                    (Format::Binary, o) if self.accepts(o) => Some(Fixed::new(v.to_be_bytes())),
                    _ => None,
                }
            }

            fn null_type_oid() -> Oid {
                $own
            }
        }

        impl FromSql<'_> for $t {
            fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
                check_accepts::<Self>(ty, $name)?;
                let binary = match ty.format {
                    Format::Text => None,
                    Format::Binary => match ty.oid {
                        oid::FLOAT4 => <[u8; 4]>::try_from(raw)
                            .ok()
                            .map(|b| f32::from_be_bytes(b).into()),
                        oid::FLOAT8 => <[u8; 8]>::try_from(raw).ok().map(f64::from_be_bytes),
                        _ => None,
                    },
                };
                match (ty.format, binary) {
                    // Narrowing float8 to f32 only gets here in lenient mode.
                    (_, Some(v)) => Ok(v as $t),
                    (Format::Binary, None) if !ty.lenient && !is_text_like(ty.oid) => {
                        Err(ConversionError::invalid($name, "wrong binary length"))
                    }
                    _ => parse_float::<$t>(raw, ty.lenient)
                        .ok_or(ConversionError::invalid($name, "not a number")),
                }
            }

            fn from_sql_null(_ty: ValueType) -> Result<Self, ConversionError> {
                Err(ConversionError::UnexpectedNull { rust: $name })
            }

            fn accepts(oid: Oid) -> bool {
                matches!(oid, $($from)|*)
            }
        }
    };
}

float_impls!(
    f32,
    "f32",
    oid::FLOAT4,
    [oid::FLOAT4, oid::FLOAT8],
    [oid::FLOAT4]
);
float_impls!(
    f64,
    "f64",
    oid::FLOAT8,
    [oid::FLOAT8],
    [oid::FLOAT4, oid::FLOAT8]
);
