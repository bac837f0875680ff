//! `numeric` as [`Numeric`]: exact, every value PostgreSQL can hold, including `NaN`,
//! `Infinity` and `-Infinity` (PostgreSQL 14+). With the `rust_decimal` feature, also
//! `rust_decimal::Decimal`, converted through [`Numeric`].
//!
//! [`Numeric`] keeps the value as PostgreSQL's `NumericVar` does and as it travels in the
//! binary format (`numeric_send` / `numeric_recv` in `src/backend/utils/adt/numeric.c`):
//!
//! ```text
//! ndigits u16 | weight i16 | sign u16 | dscale u16 | ndigits × digit i16 (0..=9999)
//! ```
//!
//! (`numeric_send` writes `ndigits` with `pq_sendint16` and `numeric_recv` reads it back
//! as `uint16`: a value with 131072 digits before the point has 32768 base-10000 digits,
//! one more than `i16::MAX`. It is read as `u16` here too, and checked against the bytes
//! present before anything is allocated.)
//!
//! The value is `Σ digit[i] × 10000^(weight − i)`. `sign` is `0x0000` (positive),
//! `0x4000` (negative), `0xC000` (NaN), `0xD000` (+Infinity) or `0xF000` (−Infinity).
//! `dscale` is the display scale: how many digits `numeric_out` prints after the point
//! (0..=16383; a negative *typmod* scale in PostgreSQL 15+ only rounds the value, the
//! stored `dscale` is never negative). Every field from the wire is checked; a bad
//! value is a [`ConversionError`], never a panic. As `numeric_recv` does, digits that the
//! display scale hides are truncated away.
//!
//! The text format is what `numeric_out` prints, which [`Numeric`]'s `Display` reproduces
//! byte for byte; its `FromStr` reads what `numeric_in` reads (whitespace, signs, `.5`,
//! exponents such as `1.2E+5`, `NaN` and `Infinity` in any case).

use std::cmp::Ordering;
use std::fmt::{self, Write as _};
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use bytes::{BufMut, BytesMut};

use super::oid::{self, is_text_like, is_unspecified};
use super::{check_accepts, ConversionError, Format, FromSql, IsNull, Oid, ToSql, ValueType};

#[cfg(test)]
mod tests;

const RUST: &str = "Numeric";
const NBASE: u32 = 10_000;
/// `NUMERIC_DSCALE_MAX`: the largest display scale a `numeric` can carry.
const DSCALE_MAX: u16 = 0x3FFF;
const SIGN_POS: u16 = 0x0000;
const SIGN_NEG: u16 = 0x4000;
const SIGN_NAN: u16 = 0xC000;
const SIGN_PINF: u16 = 0xD000;
const SIGN_NINF: u16 = 0xF000;
/// Exponents beyond this cannot give a representable value (131072 digits before the
/// point, 16383 after); checked before any arithmetic so that nothing overflows.
const EXPONENT_MAX: i64 = 1_000_000;

/// An exact PostgreSQL `numeric`: a finite decimal with its display scale, `NaN`,
/// `Infinity` or `-Infinity`.
///
/// `Display` prints what PostgreSQL's `numeric_out` prints (`-12.500`, `NaN`,
/// `Infinity`), and `FromStr` reads what `numeric_in` reads. Equality, ordering and
/// hashing are on the value, as in SQL: `1.5 == 1.50` (their `Display` differs), and
/// `NaN` equals itself and sorts above everything, as PostgreSQL sorts it.
///
/// ```
/// use pgline::types::Numeric;
///
/// let n: Numeric = "1.2E+5".parse().unwrap();
/// assert_eq!(n.to_string(), "120000");
/// let m: Numeric = "-0.000".parse().unwrap();
/// assert_eq!(m.to_string(), "0.000");
/// assert_eq!("1.50".parse::<Numeric>().unwrap(), "1.5".parse().unwrap());
/// ```
#[derive(Clone)]
pub struct Numeric {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    NaN,
    Infinity,
    NegInfinity,
    Finite(Finite),
}

/// A finite value. Invariants (kept by [`Finite::new`]): `digits` has no leading or
/// trailing zero digits, each digit is below 10000, there are at most `u16::MAX` of
/// them, zero is no digits with `weight` 0 and `negative` false, `dscale <= DSCALE_MAX`,
/// and no non-zero decimal digit lies beyond `dscale` places after the point.
#[derive(Clone)]
struct Finite {
    negative: bool,
    weight: i16,
    dscale: u16,
    digits: Vec<u16>,
}

impl Finite {
    /// Normalises `digits` (base 10000, the first of weight `weight`) into a value;
    /// the caller has already truncated them to `dscale`.
    fn new(
        negative: bool,
        weight: i32,
        dscale: i32,
        mut digits: Vec<u16>,
    ) -> Result<Self, &'static str> {
        let dscale = u16::try_from(dscale)
            .ok()
            .filter(|s| *s <= DSCALE_MAX)
            .ok_or("display scale out of range 0..=16383")?;
        let leading = digits.iter().take_while(|d| **d == 0).count();
        let trailing = digits.iter().rev().take_while(|d| **d == 0).count();
        if leading == digits.len() {
            return Ok(Self::zero(dscale));
        }
        digits.truncate(digits.len() - trailing);
        digits.drain(..leading);
        let weight = i64::from(weight) - leading as i64;
        let weight = i16::try_from(weight).map_err(|_| "value overflows numeric format")?;
        if digits.len() > usize::from(u16::MAX) {
            return Err("too many digits for the numeric format");
        }
        Ok(Self {
            negative,
            weight,
            dscale,
            digits,
        })
    }

    const fn zero(dscale: u16) -> Self {
        Self {
            negative: false,
            weight: 0,
            dscale,
            digits: Vec::new(),
        }
    }

    fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// The base-10000 digit of weight `w` (0 outside the stored digits).
    fn digit_at(&self, w: i32) -> u16 {
        let index = i32::from(self.weight) - w;
        usize::try_from(index)
            .ok()
            .and_then(|i| self.digits.get(i))
            .copied()
            .unwrap_or(0)
    }

    /// Compares magnitudes.
    fn cmp_abs(&self, other: &Self) -> Ordering {
        match (self.is_zero(), other.is_zero()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        self.weight.cmp(&other.weight).then_with(|| {
            // Same weight: digit by digit; a missing digit is a zero, and neither side
            // has trailing zeros, so the longer one is larger when the prefixes match.
            self.digits.cmp(&other.digits)
        })
    }
}

impl Numeric {
    /// `NaN`.
    pub const NAN: Self = Self { repr: Repr::NaN };
    /// `Infinity` (PostgreSQL 14+).
    pub const INFINITY: Self = Self {
        repr: Repr::Infinity,
    };
    /// `-Infinity` (PostgreSQL 14+).
    pub const NEG_INFINITY: Self = Self {
        repr: Repr::NegInfinity,
    };
    /// Zero with display scale 0.
    pub const ZERO: Self = Self {
        repr: Repr::Finite(Finite::zero(0)),
    };

    /// Whether this is `NaN`.
    pub fn is_nan(&self) -> bool {
        matches!(self.repr, Repr::NaN)
    }

    /// Whether this is `Infinity` or `-Infinity`.
    pub fn is_infinite(&self) -> bool {
        matches!(self.repr, Repr::Infinity | Repr::NegInfinity)
    }

    /// Whether this is neither `NaN` nor infinite.
    pub fn is_finite(&self) -> bool {
        matches!(self.repr, Repr::Finite(_))
    }

    /// Whether this is below zero (`-Infinity` included; `NaN` and zero are not).
    pub fn is_negative(&self) -> bool {
        match &self.repr {
            Repr::Finite(f) => f.negative,
            Repr::NegInfinity => true,
            Repr::NaN | Repr::Infinity => false,
        }
    }

    /// The display scale: how many digits `Display` prints after the point (0 for the
    /// special values).
    pub fn scale(&self) -> u16 {
        match &self.repr {
            Repr::Finite(f) => f.dscale,
            _ => 0,
        }
    }

    fn from_finite(f: Finite) -> Self {
        Self {
            repr: Repr::Finite(f),
        }
    }

    /// An integer as a numeric with display scale 0.
    fn from_i128(v: i128) -> Self {
        let mut magnitude = v.unsigned_abs();
        let mut digits = Vec::with_capacity(10);
        while magnitude > 0 {
            // The remainder is below 10000, so it fits.
            digits.push((magnitude % u128::from(NBASE)) as u16);
            magnitude /= u128::from(NBASE);
        }
        digits.reverse();
        let weight = digits.len() as i32 - 1;
        // At most 10 digits of weight at most 9: always representable.
        Finite::new(v < 0, weight, 0, digits)
            .map(Self::from_finite)
            .unwrap_or(Self::ZERO)
    }

    /// Decodes the binary format (`numeric_recv`).
    fn decode_binary(raw: &[u8]) -> Result<Self, &'static str> {
        let (head, rest) = raw
            .split_first_chunk::<8>()
            .ok_or("binary value shorter than its 8-byte header")?;
        let [n0, n1, w0, w1, s0, s1, d0, d1] = *head;
        let ndigits = usize::from(u16::from_be_bytes([n0, n1]));
        let weight = i16::from_be_bytes([w0, w1]);
        let sign = u16::from_be_bytes([s0, s1]);
        let dscale = u16::from_be_bytes([d0, d1]);
        if !matches!(sign, SIGN_POS | SIGN_NEG | SIGN_NAN | SIGN_PINF | SIGN_NINF) {
            return Err("invalid sign code");
        }
        if dscale > DSCALE_MAX {
            return Err("display scale above 16383");
        }
        // The digit count is checked against the bytes present before allocating.
        if rest.len() != ndigits * 2 {
            return Err("digit count does not match the value length");
        }
        let mut digits = Vec::with_capacity(ndigits);
        for pair in rest.chunks_exact(2) {
            let d = match *pair {
                [a, b] => i16::from_be_bytes([a, b]),
                _ => return Err("digit count does not match the value length"),
            };
            let d = u16::try_from(d)
                .ok()
                .filter(|d| u32::from(*d) < NBASE)
                .ok_or("digit out of range 0..=9999")?;
            digits.push(d);
        }
        // numeric_recv ignores the digits of the special values.
        match sign {
            SIGN_NAN => return Ok(Self::NAN),
            SIGN_PINF => return Ok(Self::INFINITY),
            SIGN_NINF => return Ok(Self::NEG_INFINITY),
            _ => {}
        }
        truncate_to_scale(&mut digits, i32::from(weight), i32::from(dscale));
        Finite::new(
            sign == SIGN_NEG,
            i32::from(weight),
            i32::from(dscale),
            digits,
        )
        .map(Self::from_finite)
    }

    /// Appends the binary format (`numeric_send`).
    fn encode_binary(&self, out: &mut BytesMut) {
        let (sign, f) = match &self.repr {
            Repr::NaN => (SIGN_NAN, None),
            Repr::Infinity => (SIGN_PINF, None),
            Repr::NegInfinity => (SIGN_NINF, None),
            Repr::Finite(f) if f.negative => (SIGN_NEG, Some(f)),
            Repr::Finite(f) => (SIGN_POS, Some(f)),
        };
        let (weight, dscale, digits) = f.map_or((0, 0, &[][..]), |f| {
            (f.weight, f.dscale, f.digits.as_slice())
        });
        out.reserve(8 + digits.len() * 2);
        // At most u16::MAX digits (a Finite invariant).
        out.put_u16(digits.len() as u16);
        out.put_i16(weight);
        out.put_u16(sign);
        out.put_u16(dscale);
        for d in digits {
            // Below 10000 (a Finite invariant).
            out.put_i16(*d as i16);
        }
    }
}

/// Drops the digits `dscale` hides and zeroes the hidden decimal places of the last
/// one kept, as PostgreSQL's `trunc_var` does.
fn truncate_to_scale(digits: &mut Vec<u16>, weight: i32, dscale: i32) {
    // Base-10000 digits needed: those of weight >= -ceil(dscale / 4).
    let keep = i64::from(weight) + 1 + i64::from((dscale + 3) / 4);
    let keep = usize::try_from(keep.max(0)).unwrap_or(0);
    if keep < digits.len() {
        digits.truncate(keep);
    }
    let hidden = (4 - dscale % 4) % 4;
    let last_weight = weight - (digits.len() as i32 - 1);
    if hidden > 0 && last_weight == -((dscale + 3) / 4) {
        if let Some(last) = digits.last_mut() {
            let unit = 10u16.pow(hidden as u32);
            *last -= *last % unit;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Text: numeric_out and numeric_in.

impl fmt::Display for Numeric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = match &self.repr {
            Repr::NaN => return f.write_str("NaN"),
            Repr::Infinity => return f.write_str("Infinity"),
            Repr::NegInfinity => return f.write_str("-Infinity"),
            Repr::Finite(v) => v,
        };
        if v.negative {
            f.write_char('-')?;
        }
        if v.weight < 0 {
            f.write_char('0')?;
        } else {
            for (i, w) in (0..=i32::from(v.weight)).rev().enumerate() {
                let d = v.digit_at(w);
                if i == 0 {
                    write!(f, "{d}")?;
                } else {
                    write!(f, "{d:04}")?;
                }
            }
        }
        if v.dscale > 0 {
            f.write_char('.')?;
            let mut left = usize::from(v.dscale);
            let mut w = -1;
            while left > 0 {
                let group = format!("{:04}", v.digit_at(w));
                let n = left.min(4);
                f.write_str(group.get(..n).unwrap_or_default())?;
                left -= n;
                w -= 1;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Numeric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Numeric({self})")
    }
}

/// The error of [`Numeric`]'s `FromStr` and of the `rust_decimal` conversions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumericError(&'static str);

impl fmt::Display for NumericError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for NumericError {}

impl FromStr for Numeric {
    type Err = NumericError;

    /// Reads what `numeric_in` reads: surrounding whitespace, an optional sign, digits
    /// with an optional point (`5.`, `.5`), an optional exponent (`1.2E+5`), or `NaN`,
    /// `Infinity`, `inf` with any sign and in any case. The display scale is the number
    /// of digits after the point minus the exponent, at least 0.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s.trim_ascii().as_bytes()).map_err(NumericError)
    }
}

fn parse(s: &[u8]) -> Result<Numeric, &'static str> {
    let (negative, body) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    if body.eq_ignore_ascii_case(b"nan") && s.len() == body.len() {
        return Ok(Numeric::NAN);
    }
    if body.eq_ignore_ascii_case(b"infinity") || body.eq_ignore_ascii_case(b"inf") {
        return Ok(if negative {
            Numeric::NEG_INFINITY
        } else {
            Numeric::INFINITY
        });
    }
    let mut dec = Vec::with_capacity(body.len());
    let (mut ipart, mut fpart, mut point) = (0i64, 0i64, false);
    let mut rest = body;
    while let Some((&b, tail)) = rest.split_first() {
        match b {
            b'0'..=b'9' => {
                dec.push(b - b'0');
                if point {
                    fpart += 1;
                } else {
                    ipart += 1;
                }
            }
            b'.' if !point => point = true,
            _ => break,
        }
        rest = tail;
    }
    if dec.is_empty() {
        return Err("invalid input syntax for numeric");
    }
    let exponent = match rest.split_first() {
        None => 0,
        Some((b'e' | b'E', exp)) => parse_exponent(exp)?,
        Some(_) => return Err("invalid input syntax for numeric"),
    };
    // The power of ten of the first digit, and the display scale.
    let mut dweight = ipart - 1 + exponent;
    let dscale = (fpart - exponent).max(0);
    if dscale > i64::from(DSCALE_MAX) {
        return Err("display scale out of range 0..=16383");
    }
    let leading = dec.iter().take_while(|d| **d == 0).count();
    let trailing = dec.iter().rev().take_while(|d| **d == 0).count();
    if leading == dec.len() {
        return Ok(Numeric::from_finite(Finite::zero(dscale as u16)));
    }
    dweight -= leading as i64;
    let significant = dec.get(leading..dec.len() - trailing).unwrap_or_default();
    let weight = dweight.div_euclid(4);
    if weight > i64::from(i16::MAX) {
        return Err("value overflows numeric format");
    }
    // Every significant digit lies at or above 10^-dscale (the scale counts them), so
    // no rounding is needed.
    let lowest = dweight - (significant.len() as i64 - 1);
    let groups = weight - lowest.div_euclid(4) + 1;
    if groups > i64::from(u16::MAX) {
        return Err("too many digits for the numeric format");
    }
    let mut digits = vec![0u16; usize::try_from(groups).unwrap_or(0)];
    for (i, d) in significant.iter().enumerate() {
        let power = dweight - i as i64;
        let index = usize::try_from(weight - power.div_euclid(4)).unwrap_or(usize::MAX);
        if let Some(slot) = digits.get_mut(index) {
            // rem_euclid(4) is 0..=3: at most 9 × 1000 added to a digit below 10000.
            *slot += u16::from(*d) * 10u16.pow(power.rem_euclid(4) as u32);
        }
    }
    // Both fit: weight was checked above and dscale is at most DSCALE_MAX.
    Finite::new(negative, weight as i32, dscale as i32, digits).map(Numeric::from_finite)
}

fn parse_exponent(s: &[u8]) -> Result<i64, &'static str> {
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err("invalid exponent in numeric");
    }
    let mut e: i64 = 0;
    for d in digits {
        e = e * 10 + i64::from(d - b'0');
        if e > EXPONENT_MAX {
            return Err("exponent out of range for numeric");
        }
    }
    Ok(if negative { -e } else { e })
}

// ---------------------------------------------------------------------------------------
// Equality and order on the value.

impl PartialEq for Numeric {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Numeric {}

impl PartialOrd for Numeric {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Numeric {
    /// PostgreSQL's order: `-Infinity` < finite values < `Infinity` < `NaN`.
    fn cmp(&self, other: &Self) -> Ordering {
        fn rank(n: &Numeric) -> u8 {
            match n.repr {
                Repr::NegInfinity => 0,
                Repr::Finite(_) => 1,
                Repr::Infinity => 2,
                Repr::NaN => 3,
            }
        }
        match (&self.repr, &other.repr) {
            (Repr::Finite(a), Repr::Finite(b)) => match (a.negative, b.negative) {
                (false, true) => Ordering::Greater,
                (true, false) => Ordering::Less,
                (false, false) => a.cmp_abs(b),
                (true, true) => b.cmp_abs(a),
            },
            _ => rank(self).cmp(&rank(other)),
        }
    }
}

impl Hash for Numeric {
    /// The value without the display scale, consistent with `Eq`.
    fn hash<H: Hasher>(&self, state: &mut H) {
        match &self.repr {
            Repr::Finite(f) => {
                1u8.hash(state);
                f.negative.hash(state);
                f.weight.hash(state);
                f.digits.hash(state);
            }
            Repr::NaN => 0u8.hash(state),
            Repr::Infinity => 2u8.hash(state),
            Repr::NegInfinity => 3u8.hash(state),
        }
    }
}

impl Default for Numeric {
    fn default() -> Self {
        Self::ZERO
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Numeric {
            fn from(v: $t) -> Self {
                Self::from_i128(i128::from(v))
            }
        }
    )*};
}

from_int!(i8, i16, i32, i64, u8, u16, u32, u64);

// ---------------------------------------------------------------------------------------
// ToSql / FromSql

impl ToSql for Numeric {
    fn type_oid(&self) -> Oid {
        oid::NUMERIC
    }

    fn accepts(&self, oid: Oid) -> bool {
        oid == oid::NUMERIC || is_unspecified(oid)
    }

    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        crate::types::ensure_accepted(self.accepts(ty.oid), RUST, ty.oid)?;
        match ty.format {
            Format::Binary => self.encode_binary(out),
            Format::Text => {
                // Display into the buffer directly: no intermediate String.
                write!(out, "{self}").map_err(|_| ConversionError::invalid(RUST, "formatting"))?
            }
        }
        Ok(IsNull::No)
    }

    /// Binary only for `numeric`: for an unspecified type the server may infer another
    /// type (an `int4` column), so the text form, which every numeric type reads, goes.
    fn supports_binary(&self, oid: Oid) -> bool {
        oid == oid::NUMERIC
    }

    fn null_type_oid() -> Oid {
        oid::NUMERIC
    }
}

/// An integer type's binary value, widened.
fn binary_int(oid: Oid, raw: &[u8]) -> Option<i64> {
    match oid {
        oid::INT2 => <[u8; 2]>::try_from(raw)
            .ok()
            .map(|b| i16::from_be_bytes(b).into()),
        oid::INT4 => <[u8; 4]>::try_from(raw)
            .ok()
            .map(|b| i32::from_be_bytes(b).into()),
        oid::INT8 => <[u8; 8]>::try_from(raw).ok().map(i64::from_be_bytes),
        _ => None,
    }
}

/// Decodes a numeric value (or an integer one, widened) for Rust type `rust`.
fn numeric_from_sql(
    ty: ValueType,
    raw: &[u8],
    rust: &'static str,
) -> Result<Numeric, ConversionError> {
    let text = |raw: &[u8]| {
        std::str::from_utf8(raw)
            .map_err(|_| "invalid UTF-8")
            .and_then(|s| parse(s.trim_ascii().as_bytes()))
            .map_err(|reason| ConversionError::invalid(rust, reason))
    };
    match ty.format {
        Format::Text => text(raw),
        Format::Binary => {
            if let Some(v) = binary_int(ty.oid, raw) {
                return Ok(Numeric::from(v));
            }
            if is_text_like(ty.oid) {
                return text(raw);
            }
            match Numeric::decode_binary(raw) {
                Ok(n) => Ok(n),
                // iris-pgwire sends text bytes while RowDescription says binary.
                Err(_) if ty.lenient && text(raw).is_ok() => text(raw),
                Err(reason) => Err(ConversionError::invalid(rust, reason)),
            }
        }
    }
}

impl FromSql<'_> for Numeric {
    fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
        check_accepts::<Self>(ty, RUST)?;
        numeric_from_sql(ty, raw, RUST)
    }

    /// `numeric`, and the integer types (widened).
    fn accepts(oid: Oid) -> bool {
        matches!(oid, oid::NUMERIC | oid::INT2 | oid::INT4 | oid::INT8)
    }
}

// ---------------------------------------------------------------------------------------
// rust_decimal

#[cfg(feature = "rust_decimal")]
mod decimal {
    use rust_decimal::Decimal;

    use super::*;

    /// `rust_decimal`'s largest scale.
    const DECIMAL_MAX_SCALE: i32 = 28;
    const DECIMAL: &str = "Decimal";

    impl From<Decimal> for Numeric {
        /// Exact, keeping the scale (`1.50` stays `1.50`).
        fn from(d: Decimal) -> Self {
            let mantissa = d.mantissa();
            // A Decimal's scale is at most 28.
            let scale = d.scale() as i32;
            let mut magnitude = mantissa.unsigned_abs();
            // Base-10000 digits of the mantissa, least significant first, after padding
            // the scale to a multiple of 4 so that the point falls between digits.
            let pad = (4 - scale % 4) % 4;
            magnitude *= 10u128.pow(pad as u32);
            let mut digits = Vec::with_capacity(12);
            while magnitude > 0 {
                // The remainder is below 10000.
                digits.push((magnitude % u128::from(NBASE)) as u16);
                magnitude /= u128::from(NBASE);
            }
            digits.reverse();
            let frac_groups = (scale + pad) / 4;
            let weight = digits.len() as i32 - 1 - frac_groups;
            // At most 12 digits of small weight and a scale of at most 28.
            Finite::new(mantissa < 0, weight, scale, digits)
                .map(Self::from_finite)
                .unwrap_or(Self::ZERO)
        }
    }

    impl TryFrom<&Numeric> for Decimal {
        type Error = NumericError;

        /// Exact or an error: `NaN` and the infinities, more than 28 significant digits
        /// after the point, or a magnitude beyond 96 bits. The scale is kept when it
        /// fits (at most 28, and the mantissa in 96 bits), else the smallest that holds
        /// the value is used.
        fn try_from(n: &Numeric) -> Result<Self, Self::Error> {
            let f = match &n.repr {
                Repr::Finite(f) => f,
                Repr::NaN => return Err(NumericError("NaN cannot be a Decimal")),
                _ => return Err(NumericError("infinity cannot be a Decimal")),
            };
            let last_weight = i32::from(f.weight) - (f.digits.len() as i32 - 1);
            let min_scale = match f.digits.last() {
                Some(&last) if last_weight < 0 => {
                    let mut zeros = 0;
                    let mut d = last;
                    while d % 10 == 0 && zeros < 4 {
                        d /= 10;
                        zeros += 1;
                    }
                    -last_weight * 4 - zeros
                }
                _ => 0,
            };
            if min_scale > DECIMAL_MAX_SCALE {
                return Err(NumericError(
                    "more than 28 digits after the point cannot be a Decimal",
                ));
            }
            let wanted = i32::from(f.dscale).clamp(min_scale, DECIMAL_MAX_SCALE);
            with_scale(f, wanted)
                .or_else(|| with_scale(f, min_scale))
                .ok_or(NumericError("out of range for Decimal (96-bit mantissa)"))
        }
    }

    impl TryFrom<Numeric> for Decimal {
        type Error = NumericError;

        fn try_from(n: Numeric) -> Result<Self, Self::Error> {
            Self::try_from(&n)
        }
    }

    /// The value as mantissa × 10^-scale, if it fits (`scale` holds every digit).
    fn with_scale(f: &Finite, scale: i32) -> Option<Decimal> {
        let mut mantissa: i128 = 0;
        for (i, &d) in f.digits.iter().enumerate() {
            let power = 4 * (i32::from(f.weight) - i as i32) + scale;
            let term = if power >= 0 {
                i128::from(d).checked_mul(10i128.checked_pow(u32::try_from(power).ok()?)?)?
            } else {
                // Only zeros are cut here: scale covers every significant digit.
                i128::from(d) / 10i128.pow(power.unsigned_abs().min(4))
            };
            mantissa = mantissa.checked_add(term)?;
        }
        if f.negative {
            mantissa = -mantissa;
        }
        Decimal::try_from_i128_with_scale(mantissa, u32::try_from(scale).ok()?).ok()
    }

    impl ToSql for Decimal {
        fn type_oid(&self) -> Oid {
            oid::NUMERIC
        }

        fn accepts(&self, oid: Oid) -> bool {
            oid == oid::NUMERIC || is_unspecified(oid)
        }

        fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
            crate::types::ensure_accepted(self.accepts(ty.oid), DECIMAL, ty.oid)?;
            Numeric::from(*self).to_sql(ty, out)
        }

        fn supports_binary(&self, oid: Oid) -> bool {
            oid == oid::NUMERIC
        }

        fn null_type_oid() -> Oid {
            oid::NUMERIC
        }
    }

    impl FromSql<'_> for Decimal {
        fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
            check_accepts::<Self>(ty, DECIMAL)?;
            let n = numeric_from_sql(ty, raw, DECIMAL)?;
            Self::try_from(&n).map_err(|e| ConversionError::invalid(DECIMAL, e.0))
        }

        /// `numeric` and the integer types.
        fn accepts(oid: Oid) -> bool {
            <Numeric as FromSql>::accepts(oid)
        }
    }
}
