//! The small built-in types: `macaddr` and `macaddr8` ([`MacAddr`], [`MacAddr8`]),
//! `bit` and `varbit` ([`BitVec`]), `"char"` (`i8`) and `money` ([`Money`]).
//!
//! - `macaddr`: 6 bytes in binary, `08:00:2b:01:02:03` in text (`macaddr_out`);
//!   `macaddr8` the same with 8 bytes.
//! - `bit`/`varbit`: binary is an `i32` bit count then the bits, most significant first,
//!   padded with zero bits to whole bytes (`bit_send`); text is `0101`. The bit count is
//!   checked against the bytes present, and padding bits are cleared as `bit_recv` does.
//! - `"char"`: one byte in binary (`charsend`); in text `charout` prints a byte of 128
//!   or more as `\ooo` octal, zero as the empty string, anything else as itself.
//! - `money`: an `i64` count of the currency's minor units (cents) in binary. The text
//!   form depends on `lc_monetary` (`$1,234.56`, `1.234,56 €`, `(¥1,234)`), but since it
//!   always prints every minor digit, the digits alone are the count and a `-` or `(`
//!   makes it negative: that is how text is read. Writing text is
//!   [`ConversionError::Unsupported`], because the number of minor digits is unknown:
//!   send `money` in binary (the default) or as `numeric`.

use std::fmt;
use std::str::FromStr;

use bytes::{BufMut, BytesMut};

use super::oid::{self, is_text_like, is_unspecified};
use super::{
    check_accepts, ConversionError, Fixed, Format, FromSql, IsNull, Oid, ToSql, ValueType,
};

#[cfg(test)]
mod tests;

/// The error of the `FromStr` impls here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError(&'static str);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for ParseError {}

/// Runs a text parser on UTF-8 bytes, trimming whitespace when lenient.
fn text_value<T>(
    raw: &[u8],
    lenient: bool,
    rust: &'static str,
    parse: impl FnOnce(&str) -> Result<T, ParseError>,
) -> Result<T, ConversionError> {
    let s =
        std::str::from_utf8(raw).map_err(|_| ConversionError::invalid(rust, "invalid UTF-8"))?;
    parse(if lenient { s.trim() } else { s }).map_err(|e| ConversionError::invalid(rust, e.0))
}

// ---------------------------------------------------------------------------------------
// macaddr, macaddr8

macro_rules! mac {
    ($t:ident, $n:literal, $name:literal, $oid:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $t(pub [u8; $n]);

        impl fmt::Display for $t {
            /// Lowercase hex pairs joined by `:`, as PostgreSQL prints them.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for (i, b) in self.0.iter().enumerate() {
                    if i > 0 {
                        f.write_str(":")?;
                    }
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }

        impl FromStr for $t {
            type Err = ParseError;

            /// Hex pairs separated by `:` or `-`, or none (`08002b010203`), any case.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let hex: Vec<u8> = s.bytes().filter(|b| *b != b':' && *b != b'-').collect();
                let sep = s.len() - hex.len();
                if hex.len() != $n * 2 || (sep != 0 && sep != $n - 1) {
                    return Err(ParseError(concat!("not a ", $name, " address")));
                }
                let mut out = [0u8; $n];
                for (slot, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
                    let pair = std::str::from_utf8(pair).map_err(|_| ParseError("not hex"))?;
                    *slot = u8::from_str_radix(pair, 16).map_err(|_| ParseError("not hex"))?;
                }
                Ok(Self(out))
            }
        }

        impl ToSql for $t {
            fn type_oid(&self) -> Oid {
                $oid
            }

            fn accepts(&self, oid: Oid) -> bool {
                oid == $oid || is_unspecified(oid)
            }

            fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
                crate::types::ensure_accepted(self.accepts(ty.oid), $name, ty.oid)?;
                match ty.format {
                    Format::Binary => out.put_slice(&self.0),
                    Format::Text => {
                        use std::fmt::Write as _;
                        write!(out, "{self}")
                            .map_err(|_| ConversionError::invalid($name, "formatting"))?
                    }
                }
                Ok(IsNull::No)
            }

            fn supports_binary(&self, oid: Oid) -> bool {
                oid == $oid
            }

            fn null_type_oid() -> Oid {
                $oid
            }
        }

        impl FromSql<'_> for $t {
            fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
                check_accepts::<Self>(ty, $name)?;
                match (ty.format, <[u8; $n]>::try_from(raw)) {
                    (Format::Binary, Ok(b)) if !is_text_like(ty.oid) => Ok(Self(b)),
                    (Format::Binary, _) if !ty.lenient && !is_text_like(ty.oid) => Err(
                        ConversionError::invalid($name, concat!("binary length is not ", $n)),
                    ),
                    _ => text_value(raw, ty.lenient, $name, str::parse),
                }
            }

            fn accepts(oid: Oid) -> bool {
                oid == $oid
            }
        }
    };
}

mac!(
    MacAddr,
    6,
    "MacAddr",
    oid::MACADDR,
    "A `macaddr`: a 6-byte MAC address."
);
mac!(
    MacAddr8,
    8,
    "MacAddr8",
    oid::MACADDR8,
    "A `macaddr8`: an 8-byte (EUI-64) MAC address."
);

// ---------------------------------------------------------------------------------------
// bit, varbit

/// A `bit(n)` or `varbit` value: `len` bits, most significant first, in `len / 8`
/// rounded-up bytes whose padding bits are zero.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct BitVec {
    len: usize,
    bytes: Vec<u8>,
}

/// The largest bit count the binary format's `i32` can carry.
const BITS_MAX: usize = i32::MAX as usize;

impl BitVec {
    /// `len` bits taken from `bytes` (most significant bit first). `None` when `bytes`
    /// is not exactly `len` bits rounded up to bytes. Padding bits are cleared.
    pub fn from_bytes(mut bytes: Vec<u8>, len: usize) -> Option<Self> {
        if len > BITS_MAX || bytes.len() != len.div_ceil(8) {
            return None;
        }
        let pad = (8 - len % 8) % 8;
        if let Some(last) = bytes.last_mut() {
            *last &= 0xffu8 << pad;
        }
        Some(Self { len, bytes })
    }

    /// The number of bits.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no bits (`bit(0)` or an empty `varbit`).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bit `i` (0 is the first, most significant one), `None` past the end.
    pub fn get(&self, i: usize) -> Option<bool> {
        if i >= self.len {
            return None;
        }
        self.bytes.get(i / 8).map(|b| b & (0x80 >> (i % 8)) != 0)
    }

    /// The bytes, padding bits zero.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The bits in order.
    pub fn iter(&self) -> impl Iterator<Item = bool> + '_ {
        (0..self.len).map(|i| self.get(i).unwrap_or(false))
    }

    fn decode_binary(raw: &[u8]) -> Result<Self, &'static str> {
        let (len, bytes) = raw
            .split_first_chunk::<4>()
            .ok_or("binary value shorter than its 4-byte bit count")?;
        let len = usize::try_from(i32::from_be_bytes(*len)).map_err(|_| "negative bit count")?;
        // Checked against the bytes present before the copy.
        if bytes.len() != len.div_ceil(8) {
            return Err("bit count does not match the value length");
        }
        Self::from_bytes(bytes.to_vec(), len).ok_or("bit count does not match the value length")
    }
}

impl FromIterator<bool> for BitVec {
    fn from_iter<I: IntoIterator<Item = bool>>(iter: I) -> Self {
        let mut v = Self::default();
        for bit in iter {
            if v.len % 8 == 0 {
                v.bytes.push(0);
            }
            if bit {
                if let Some(last) = v.bytes.last_mut() {
                    *last |= 0x80 >> (v.len % 8);
                }
            }
            v.len += 1;
        }
        v
    }
}

impl fmt::Display for BitVec {
    /// `0101`, as `bit_out` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for bit in self.iter() {
            f.write_str(if bit { "1" } else { "0" })?;
        }
        Ok(())
    }
}

impl FromStr for BitVec {
    type Err = ParseError;

    /// `0` and `1` characters.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.bytes()
            .map(|b| match b {
                b'0' => Ok(false),
                b'1' => Ok(true),
                _ => Err(ParseError("not a bit string of 0 and 1")),
            })
            .collect()
    }
}

impl ToSql for BitVec {
    fn type_oid(&self) -> Oid {
        oid::VARBIT
    }

    fn accepts(&self, oid: Oid) -> bool {
        matches!(oid, oid::BIT | oid::VARBIT) || is_unspecified(oid)
    }

    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        crate::types::ensure_accepted(self.accepts(ty.oid), "BitVec", ty.oid)?;
        match ty.format {
            Format::Binary => {
                let len = i32::try_from(self.len)
                    .map_err(|_| ConversionError::invalid("BitVec", "more than i32::MAX bits"))?;
                out.reserve(4 + self.bytes.len());
                out.put_i32(len);
                out.put_slice(&self.bytes);
            }
            Format::Text => {
                out.reserve(self.len);
                for bit in self.iter() {
                    out.put_u8(if bit { b'1' } else { b'0' });
                }
            }
        }
        Ok(IsNull::No)
    }

    fn supports_binary(&self, oid: Oid) -> bool {
        matches!(oid, oid::BIT | oid::VARBIT)
    }

    fn null_type_oid() -> Oid {
        oid::VARBIT
    }
}

impl FromSql<'_> for BitVec {
    fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
        check_accepts::<Self>(ty, "BitVec")?;
        let text = |raw| text_value(raw, ty.lenient, "BitVec", str::parse);
        match ty.format {
            Format::Text => text(raw),
            Format::Binary if is_text_like(ty.oid) => text(raw),
            Format::Binary => match Self::decode_binary(raw) {
                Ok(v) => Ok(v),
                Err(_) if ty.lenient && text(raw).is_ok() => text(raw),
                Err(reason) => Err(ConversionError::invalid("BitVec", reason)),
            },
        }
    }

    fn accepts(oid: Oid) -> bool {
        matches!(oid, oid::BIT | oid::VARBIT)
    }
}

// ---------------------------------------------------------------------------------------
// "char"

/// `charout`: bytes of 128 and above as `\ooo`, zero as nothing.
fn put_char_text(out: &mut BytesMut, b: u8) {
    match b {
        0 => {}
        1..=127 => out.put_u8(b),
        _ => out.put_slice(&[
            b'\\',
            b'0' + (b >> 6),
            b'0' + ((b >> 3) & 7),
            b'0' + (b & 7),
        ]),
    }
}

/// `charin`: `\ooo` is that byte, otherwise the first byte (zero when empty).
fn parse_char_text(raw: &[u8]) -> Result<u8, ConversionError> {
    match raw {
        [] => Ok(0),
        [b] => Ok(*b),
        [b'\\', a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7'] => {
            Ok(((a - b'0') << 6) | ((b - b'0') << 3) | (c - b'0'))
        }
        _ => Err(ConversionError::invalid(
            "i8",
            "\"char\" text is not one byte or \\ooo",
        )),
    }
}

impl ToSql for i8 {
    fn type_oid(&self) -> Oid {
        oid::CHAR
    }

    fn accepts(&self, oid: Oid) -> bool {
        oid == oid::CHAR || is_unspecified(oid)
    }

    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        if let Some(binary) = self.to_sql_fixed(ty) {
            out.put_slice(binary.value());
            return Ok(IsNull::No);
        }
        crate::types::ensure_accepted(self.accepts(ty.oid), "i8", ty.oid)?;
        put_char_text(out, self.to_be_bytes()[0]);
        Ok(IsNull::No)
    }

    /// Binary: the byte.
    #[inline]
    fn to_sql_fixed(&self, ty: ValueType) -> Option<Fixed> {
        (ty.format == Format::Binary && ty.oid == oid::CHAR).then(|| Fixed::new(self.to_be_bytes()))
    }

    /// Binary only for `"char"`: an unspecified parameter could be inferred as text.
    fn supports_binary(&self, oid: Oid) -> bool {
        oid == oid::CHAR
    }

    fn null_type_oid() -> Oid {
        oid::CHAR
    }
}

impl FromSql<'_> for i8 {
    fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
        check_accepts::<Self>(ty, "i8")?;
        let byte = match (ty.format, raw) {
            (Format::Binary, [b]) if !is_text_like(ty.oid) || ty.oid == oid::CHAR => *b,
            (Format::Binary, _) if !ty.lenient && !is_text_like(ty.oid) => {
                return Err(ConversionError::invalid("i8", "binary length is not 1"))
            }
            _ => parse_char_text(raw)?,
        };
        Ok(Self::from_be_bytes([byte]))
    }

    fn accepts(oid: Oid) -> bool {
        oid == oid::CHAR
    }
}

// ---------------------------------------------------------------------------------------
// money

/// A `money` value as its raw count of the currency's minor units: `Money(123456)` is
/// `$1,234.56` under `lc_monetary = 'en_US'`. Binary both ways; text only read (see the
/// module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Money(pub i64);

/// Reads `cash_out` text of any locale: every digit is part of the count.
fn parse_money_text(raw: &[u8]) -> Result<i64, ConversionError> {
    let invalid = |why| ConversionError::invalid("Money", why);
    let negative = raw.iter().any(|b| matches!(b, b'-' | b'('));
    let mut n: i64 = 0;
    let mut any = false;
    for d in raw.iter().filter(|b| b.is_ascii_digit()) {
        any = true;
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_sub(i64::from(d - b'0')))
            .ok_or(invalid("out of range"))?;
    }
    if !any {
        return Err(invalid("no digits in money text"));
    }
    if negative {
        Ok(n)
    } else {
        n.checked_neg().ok_or(invalid("out of range"))
    }
}

impl ToSql for Money {
    fn type_oid(&self) -> Oid {
        oid::MONEY
    }

    fn accepts(&self, oid: Oid) -> bool {
        oid == oid::MONEY || is_unspecified(oid)
    }

    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        match self.to_sql_fixed(ty) {
            Some(binary) => out.put_slice(binary.value()),
            None if !self.accepts(ty.oid) => {
                return Err(ConversionError::WrongType {
                    rust: "Money",
                    oid: ty.oid,
                })
            }
            None => {
                return Err(ConversionError::Unsupported {
                    rust: "Money",
                    format: ty.format,
                })
            }
        }
        Ok(IsNull::No)
    }

    #[inline]
    fn to_sql_fixed(&self, ty: ValueType) -> Option<Fixed> {
        (ty.format == Format::Binary && self.accepts(ty.oid))
            .then(|| Fixed::new(self.0.to_be_bytes()))
    }

    fn null_type_oid() -> Oid {
        oid::MONEY
    }
}

impl FromSql<'_> for Money {
    fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
        check_accepts::<Self>(ty, "Money")?;
        match (ty.format, <[u8; 8]>::try_from(raw)) {
            (Format::Binary, Ok(b)) if !is_text_like(ty.oid) => Ok(Self(i64::from_be_bytes(b))),
            (Format::Binary, _) if !ty.lenient && !is_text_like(ty.oid) => {
                Err(ConversionError::invalid("Money", "binary length is not 8"))
            }
            _ => parse_money_text(raw).map(Self),
        }
    }

    fn accepts(oid: Oid) -> bool {
        oid == oid::MONEY
    }
}
