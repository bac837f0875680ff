//! `date`, `time`, `timetz`, `timestamp`, `timestamptz` and `interval`: pgline's own
//! [`Date`], [`Time`], [`TimeTz`], [`Timestamp`], [`TimestampTz`] and [`Interval`], which
//! hold every value PostgreSQL can (±infinity, BC dates, `24:00:00`, intervals with months
//! and days), and, behind the `chrono` and `time` features, the calendar crates' types
//! converted through them.
//!
//! No IO, no clock: values only. The calendar is proleptic Gregorian (as PostgreSQL's),
//! computed with `days_from_civil` / `civil_from_days` shared with the `SystemTime`
//! module.
//!
//! # Wire forms
//!
//! Binary (`date_send`, `time_send`, `timetz_send`, `timestamp_send`, `interval_send`):
//!
//! | type | bytes |
//! |---|---|
//! | `date` | `i32` days since 2000-01-01; `i32::MAX` / `i32::MIN` are ±infinity |
//! | `time` | `i64` microseconds since midnight, `0..=86_400_000_000` |
//! | `timetz` | `i64` microseconds, then `i32` zone in seconds **west** of UTC |
//! | `timestamp[tz]` | `i64` microseconds since 2000-01-01 00:00 (UTC for `tz`); `i64::MAX` / `i64::MIN` are ±infinity |
//! | `interval` | `i64` microseconds, `i32` days, `i32` months (in that order) |
//!
//! Text: what the server prints under `DateStyle = ISO` (which the connection asks for)
//! and `IntervalStyle = postgres` (the default): `0044-03-15 BC`, `24:00:00`,
//! `04:05:06+05:30`, `2024-01-15 10:11:12.5+00`,
//! `1 year 2 mons 3 days 04:05:06.789`, `-1 days +02:03:00`. Every type's `Display`
//! prints exactly that and its `FromStr` reads it back, so a value read in text and
//! printed compares equal to the server's own `::text`.
//!
//! # Ranges
//!
//! Values are checked as the server checks them, on decode and in constructors:
//! dates from 4714-11-24 BC to 5874897-12-31, timestamps from 4714-11-24 00:00:00 BC
//! to 294276-12-31 23:59:59.999999, times up to 24:00:00, time zone offsets below 16
//! hours. Text that PostgreSQL never prints, such as a leap second `23:59:60` or
//! February 30, is [`ConversionError::Invalid`] with a reason saying so. No arithmetic on
//! a wire value can overflow: it is checked or done in `i128`.
//!
//! # Lenient mode
//!
//! As for `SystemTime`: the OID check is skipped, whitespace is trimmed, a `T` between
//! date and time, `Z` for UTC and up to 9 fractional digits (truncated) are accepted, and
//! a value in a "binary" column whose length is not the binary width, or whose bytes are
//! all printable ASCII, is read as text (iris-pgwire sends text there; printable bytes
//! would be a value more than 70,000 years away in binary). A date may be a day count
//! since 2000-01-01 (`"8780"`), as iris-pgwire sends it.

use std::fmt;

use bytes::BytesMut;

use super::{ConversionError, Format, ValueType};

mod clock;
mod date;
mod interval;
mod timestamp;

#[cfg(feature = "chrono")]
mod chrono;
#[cfg(feature = "time")]
mod time_crate;

#[cfg(test)]
mod tests;

pub use clock::{Time, TimeTz};
pub use date::Date;
pub use interval::Interval;
pub use timestamp::{Timestamp, TimestampTz};

const USECS_PER_SEC: i64 = 1_000_000;
const USECS_PER_DAY: i64 = 86_400_000_000;
/// 2000-01-01 (the PostgreSQL epoch) in days since 1970-01-01.
const PG_EPOCH_UNIX_DAYS: i64 = 10_957;

/// Where a value's bytes are to be read from.
enum Wire<'a, const N: usize> {
    Binary([u8; N]),
    Text(&'a str),
}

/// Decides between the binary form (`N` bytes) and text, as the module docs describe for
/// strict and lenient mode. Strict binary of the wrong length is an error; text that is
/// not UTF-8 is an error in both modes.
fn wire<'a, const N: usize>(
    ty: ValueType,
    raw: &'a [u8],
    rust: &'static str,
) -> Result<Wire<'a, N>, ConversionError> {
    let as_text = |raw: &'a [u8]| {
        std::str::from_utf8(raw)
            .map(Wire::Text)
            .map_err(|_| ConversionError::invalid(rust, "text value is not UTF-8"))
    };
    match ty.format {
        Format::Text => as_text(raw),
        Format::Binary => {
            let printable =
                !raw.is_empty() && raw.iter().all(|b| b.is_ascii_graphic() || *b == b' ');
            match <[u8; N]>::try_from(raw) {
                Ok(bytes) if !(ty.lenient && printable) => Ok(Wire::Binary(bytes)),
                _ if ty.lenient => as_text(raw),
                _ => Err(ConversionError::invalid(rust, "wrong binary length")),
            }
        }
    }
}

/// Writes `v`'s `Display` form (the server's text form) into `out`.
fn put_text(
    out: &mut BytesMut,
    v: &impl fmt::Display,
    rust: &'static str,
) -> Result<(), ConversionError> {
    use std::fmt::Write as _;
    write!(out, "{v}").map_err(|_| ConversionError::invalid(rust, "cannot format"))
}

/// The text form of a strict or lenient value: lenient trims whitespace.
fn text_input(s: &str, lenient: bool) -> &str {
    if lenient {
        s.trim()
    } else {
        s
    }
}

/// Writes `HH:MM:SS` and, when `usecs` has a fraction, `.` and its digits without trailing
/// zeros (PostgreSQL's `AppendSeconds`). `hours` may exceed 23 (intervals).
fn fmt_hms(f: &mut dyn fmt::Write, hours: u64, usecs_in_hour: u64) -> fmt::Result {
    let secs = usecs_in_hour / 1_000_000;
    write!(f, "{hours:02}:{:02}:{:02}", secs / 60, secs % 60)?;
    fmt_fraction(f, usecs_in_hour % 1_000_000)
}

/// `.ffffff` without trailing zeros; nothing for zero.
fn fmt_fraction(f: &mut dyn fmt::Write, mut micros: u64) -> fmt::Result {
    if micros == 0 {
        return Ok(());
    }
    let mut width = 6;
    while micros % 10 == 0 {
        micros /= 10;
        width -= 1;
    }
    write!(f, ".{micros:0width$}")
}

/// A cursor over text input with the few parsers the ISO forms need.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Self(s.as_bytes())
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `min..=max` digits.
    fn digits(&mut self, min: usize, max: usize) -> Option<u64> {
        let (v, _, rest) = super::time::digits(self.0, min, max)?;
        self.0 = rest;
        Some(v)
    }

    /// Consumes `c` if it is next.
    fn eat(&mut self, c: u8) -> bool {
        match super::time::expect(self.0, c) {
            Some(rest) => {
                self.0 = rest;
                true
            }
            None => false,
        }
    }

    /// The byte that is next, if any.
    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    /// `.f{1,6}` (up to 9 when `lenient`, truncated) as microseconds; 0 when absent.
    fn fraction(&mut self, lenient: bool) -> Option<u64> {
        if !self.eat(b'.') {
            return Some(0);
        }
        let (v, n, rest) = super::time::digits(self.0, 1, if lenient { 9 } else { 6 })?;
        self.0 = rest;
        let n = u32::try_from(n).ok()?;
        Some(if n <= 6 {
            v * 10u64.pow(6 - n)
        } else {
            v / 10u64.pow(n - 6)
        })
    }

    /// `HH:MM:SS[.f]` as microseconds since midnight; hours up to `max_hour`. A leap
    /// second is its own error, since PostgreSQL never prints one.
    fn clock(&mut self, lenient: bool, max_hour: u64) -> Result<u64, &'static str> {
        const BAD: &str = "not an ISO time (HH:MM:SS[.ffffff])";
        let h = self.digits(2, 2).ok_or(BAD)?;
        let m = self
            .eat(b':')
            .then(|| self.digits(2, 2))
            .flatten()
            .ok_or(BAD)?;
        let s = self
            .eat(b':')
            .then(|| self.digits(2, 2))
            .flatten()
            .ok_or(BAD)?;
        let frac = self.fraction(lenient).ok_or(BAD)?;
        if s == 60 {
            return Err("a leap second (:60) cannot be represented");
        }
        if h > max_hour || m > 59 || s > 59 {
            return Err("time field out of range");
        }
        // max_hour <= 24, so this is at most a few microseconds past a day.
        let us = ((h * 60 + m) * 60 + s) * 1_000_000 + frac;
        if us > USECS_PER_DAY.unsigned_abs() {
            return Err("time out of range (24:00:00 is the latest time)");
        }
        Ok(us)
    }

    /// A UTC offset `(+|-)HH[:MM[:SS]]` (lenient: also `Z` and `+HHMM`), in seconds east.
    fn offset(&mut self, lenient: bool) -> Option<i32> {
        if lenient && self.eat(b'Z') {
            return Some(0);
        }
        let negative = match self.peek()? {
            b'+' => false,
            b'-' => true,
            _ => return None,
        };
        self.0 = self.0.get(1..)?;
        let h = self.digits(2, 2)?;
        let mut m = 0;
        let mut s = 0;
        if self.eat(b':') {
            m = self.digits(2, 2)?;
            if self.eat(b':') {
                s = self.digits(2, 2)?;
            }
        } else if lenient && self.peek().is_some_and(|b| b.is_ascii_digit()) {
            m = self.digits(2, 2)?;
        }
        if h > 15 || m > 59 || s > 59 {
            return None;
        }
        let secs = i32::try_from((h * 60 + m) * 60 + s).ok()?;
        Some(if negative { -secs } else { secs })
    }
}

/// Renames the Rust type in a conversion error (the calendar crates' impls delegate to
/// pgline's types and report under their own name).
#[cfg(any(feature = "chrono", feature = "time"))]
fn renamed(e: ConversionError, rust: &'static str) -> ConversionError {
    match e {
        ConversionError::WrongType { oid, .. } => ConversionError::WrongType { rust, oid },
        ConversionError::Invalid { reason, .. } => ConversionError::Invalid { rust, reason },
        ConversionError::Unsupported { format, .. } => {
            ConversionError::Unsupported { rust, format }
        }
        ConversionError::UnexpectedNull { .. } => ConversionError::UnexpectedNull { rust },
        other => other,
    }
}

/// `ToSql` and `FromSql` for a calendar crate's type `$t` by converting through pgline's
/// `$pg` with `TryFrom` both ways (errors name `$name`).
#[cfg(any(feature = "chrono", feature = "time"))]
macro_rules! via_pgline {
    ($t:ty, $pg:ty, $name:literal) => {
        impl $crate::types::ToSql for $t {
            fn type_oid(&self) -> $crate::types::Oid {
                <$pg as $crate::types::ToSql>::null_type_oid()
            }

            fn accepts(&self, oid: $crate::types::Oid) -> bool {
                <$pg as $crate::types::FromSql>::accepts(oid)
                    || $crate::types::oid::is_unspecified(oid)
            }

            fn to_sql(
                &self,
                ty: $crate::types::ValueType,
                out: &mut bytes::BytesMut,
            ) -> Result<$crate::types::IsNull, $crate::types::ConversionError> {
                let v = <$pg>::try_from(*self)?;
                $crate::types::ToSql::to_sql(&v, ty, out).map_err(|e| super::renamed(e, $name))
            }

            #[inline]
            fn to_sql_fixed(&self, ty: $crate::types::ValueType) -> Option<$crate::types::Fixed> {
                <$pg>::try_from(*self)
                    .ok()
                    .and_then(|v| $crate::types::ToSql::to_sql_fixed(&v, ty))
            }

            fn null_type_oid() -> $crate::types::Oid {
                <$pg as $crate::types::ToSql>::null_type_oid()
            }
        }

        impl $crate::types::FromSql<'_> for $t {
            fn from_sql(
                ty: $crate::types::ValueType,
                raw: &[u8],
            ) -> Result<Self, $crate::types::ConversionError> {
                let v = <$pg as $crate::types::FromSql>::from_sql(ty, raw)
                    .map_err(|e| super::renamed(e, $name))?;
                Self::try_from(v)
            }

            fn from_sql_null(
                _ty: $crate::types::ValueType,
            ) -> Result<Self, $crate::types::ConversionError> {
                Err($crate::types::ConversionError::UnexpectedNull { rust: $name })
            }

            fn accepts(oid: $crate::types::Oid) -> bool {
                <$pg as $crate::types::FromSql>::accepts(oid)
            }
        }
    };
}
#[cfg(any(feature = "chrono", feature = "time"))]
use via_pgline;
