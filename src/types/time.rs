//! `std::time::SystemTime` as `timestamptz`, `timestamp` (read and written as UTC) and,
//! for reading, `date` (midnight UTC).
//!
//! Binary: `timestamp[tz]` is an `i64` count of microseconds since 2000-01-01 00:00:00 UTC,
//! `date` an `i32` count of days since 2000-01-01 (`timestamp_send`, `date_send`); the
//! maximum and minimum values stand for `infinity` and `-infinity`, which `SystemTime`
//! cannot hold. Text: the ISO DateStyle, `2024-01-15 10:11:12.123456+05:30`.
//!
//! Civil dates are converted with Howard Hinnant's `days_from_civil` / `civil_from_days`
//! (<https://howardhinnant.github.io/date_algorithms.html>), proleptic Gregorian, so no
//! calendar crate is needed. Arithmetic is done in `i128` microseconds so that no wire
//! value can overflow it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, BytesMut};

use super::oid::{self, is_text_like, is_unspecified};
use super::scalar::{parse_int, put_int_text};
use super::{
    check_accepts, ConversionError, Fixed, Format, FromSql, IsNull, Oid, ToSql, ValueType,
};

const RUST: &str = "SystemTime";
const USECS_PER_DAY: i128 = 86_400_000_000;
/// 2000-01-01 (the PostgreSQL epoch) in days since 1970-01-01.
const PG_EPOCH_DAYS: i128 = 10_957;
/// The PostgreSQL epoch in microseconds since the Unix epoch.
const PG_EPOCH_USECS: i128 = PG_EPOCH_DAYS * USECS_PER_DAY;
/// The same, for the `i64` fast path (it fits: about 9.5e14).
const PG_EPOCH_USECS_I64: i64 = 946_684_800_000_000;
const _: () = assert!(PG_EPOCH_USECS_I64 as i128 == PG_EPOCH_USECS);

/// Days since 1970-01-01 of a proleptic Gregorian date (`m` in 1..=12, `d` in 1..=31).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let mp = i64::from((m + 9) % 12); // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date `(year, month, day)` of a day count since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
                                  // Both casts are of values in small ranges noted above.
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    let y = yoe + era * 400;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

pub(super) fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Microseconds since the Unix epoch, rounded toward negative infinity.
fn unix_micros(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_micros() as i128,
        Err(e) => {
            let d = e.duration();
            let us = d.as_micros() as i128;
            if d.subsec_nanos() % 1000 == 0 {
                -us
            } else {
                -us - 1
            }
        }
    }
}

fn from_unix_micros(us: i128) -> Result<SystemTime, ConversionError> {
    let out_of_range = ConversionError::invalid(RUST, "out of SystemTime range");
    let magnitude = u64::try_from(us.unsigned_abs()).map_err(|_| out_of_range.clone())?;
    let d = Duration::from_micros(magnitude);
    let t = if us >= 0 {
        UNIX_EPOCH.checked_add(d)
    } else {
        UNIX_EPOCH.checked_sub(d)
    };
    t.ok_or(out_of_range)
}

/// Appends `v` as exactly `width` decimal digits (the caller keeps `v < 10^width`).
fn put_padded(out: &mut BytesMut, v: u64, width: u32) {
    let mut div = 10u64.pow(width.saturating_sub(1));
    while div > 0 {
        // v / div % 10 < 10, so the cast cannot truncate.
        out.put_u8(b'0' + (v / div % 10) as u8);
        div /= 10;
    }
}

/// Appends `YYYY-MM-DD HH:MM:SS.ffffff` (UTC) and, if `offset`, `+00`.
fn put_timestamp_text(out: &mut BytesMut, us: i128, offset: bool) -> Result<(), ConversionError> {
    let days = i64::try_from(us.div_euclid(USECS_PER_DAY))
        .map_err(|_| ConversionError::invalid(RUST, "out of range"))?;
    // In [0, USECS_PER_DAY), so it fits.
    let tod = us.rem_euclid(USECS_PER_DAY) as u64;
    let (y, m, d) = civil_from_days(days);
    if y < 1 {
        return Err(ConversionError::invalid(RUST, "BC dates are not supported"));
    }
    match u64::try_from(y) {
        Ok(y) if y < 10_000 => put_padded(out, y, 4),
        _ => put_int_text(out, y),
    }
    out.put_u8(b'-');
    put_padded(out, m.into(), 2);
    out.put_u8(b'-');
    put_padded(out, d.into(), 2);
    out.put_u8(b' ');
    let secs = tod / 1_000_000;
    put_padded(out, secs / 3600, 2);
    out.put_u8(b':');
    put_padded(out, secs / 60 % 60, 2);
    out.put_u8(b':');
    put_padded(out, secs % 60, 2);
    out.put_u8(b'.');
    put_padded(out, tod % 1_000_000, 6);
    if offset {
        out.extend_from_slice(b"+00");
    }
    Ok(())
}

/// Splits off a run of `min..=max` leading ASCII digits and returns its value.
pub(super) fn digits(s: &[u8], min: usize, max: usize) -> Option<(u64, usize, &[u8])> {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if n < min || n > max {
        return None;
    }
    let (head, rest) = s.split_at_checked(n)?;
    let v = head
        .iter()
        .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'));
    Some((v, n, rest))
}

pub(super) fn expect(s: &[u8], c: u8) -> Option<&[u8]> {
    s.strip_prefix(&[c])
}

/// Parses ISO DateStyle output into microseconds since the Unix epoch:
/// `YYYY-MM-DD[( |T)HH:MM:SS[.f{1,6}][(+|-)HH[[:]MM[[:]SS]]]]`. Without an offset the
/// value is taken as UTC. Lenient mode also trims whitespace, takes up to 9 fractional
/// digits (truncated to microseconds) and a `Z` offset.
fn parse_timestamp(raw: &[u8], lenient: bool) -> Result<i128, ConversionError> {
    let s = if lenient { raw.trim_ascii() } else { raw };
    if s.ends_with(b" BC") {
        return Err(ConversionError::invalid(RUST, "BC dates are not supported"));
    }
    if s == b"infinity" || s == b"-infinity" {
        return Err(ConversionError::invalid(
            RUST,
            "infinity cannot be represented",
        ));
    }
    parse_iso(s, lenient).ok_or(ConversionError::invalid(
        RUST,
        "not an ISO timestamp: text-format dates and times are read in DateStyle ISO only \
         (pgline asks for it at connect; was DateStyle changed with SET?)",
    ))
}

fn parse_iso(s: &[u8], lenient: bool) -> Option<i128> {
    // Years above 9999 print with more digits; 7 is well past PostgreSQL's 294276.
    let (year, _, s) = digits(s, 4, 7)?;
    let (month, _, s) = digits(expect(s, b'-')?, 2, 2)?;
    let (day, _, s) = digits(expect(s, b'-')?, 2, 2)?;
    let (year, month, day) = (
        i64::try_from(year).ok()?,
        u32::try_from(month).ok()?,
        u32::try_from(day).ok()?,
    );
    if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = i128::from(days_from_civil(year, month, day));
    let Some((b' ' | b'T', s)) = s.split_first() else {
        return s.is_empty().then_some(days * USECS_PER_DAY);
    };
    let (hour, _, s) = digits(s, 2, 2)?;
    let (minute, _, s) = digits(expect(s, b':')?, 2, 2)?;
    let (second, _, s) = digits(expect(s, b':')?, 2, 2)?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let (micros, s) = match expect(s, b'.') {
        Some(frac) => {
            let (v, n, rest) = digits(frac, 1, if lenient { 9 } else { 6 })?;
            let scaled = match u32::try_from(n).ok()? {
                n @ 0..=6 => v * 10u64.pow(6 - n),
                n => v / 10u64.pow(n - 6),
            };
            (scaled, rest)
        }
        None => (0, s),
    };
    let offset_secs: i128 = match s {
        [] => 0,
        [b'Z'] if lenient => 0,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (oh, _, rest) = digits(rest, 2, 2)?;
            let rest = expect(rest, b':').unwrap_or(rest);
            let (om, om_n, rest) = digits(rest, 0, 2)?;
            let rest = expect(rest, b':').unwrap_or(rest);
            let (os, os_n, rest) = digits(rest, 0, 2)?;
            let widths_ok = om_n != 1 && os_n != 1 && (om_n == 2 || os_n == 0);
            if !rest.is_empty() || !widths_ok || oh > 23 || om > 59 || os > 59 {
                return None;
            }
            let secs = i128::from(oh * 3600 + om * 60 + os);
            if *sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        _ => return None,
    };
    let local_secs = i128::from(hour * 3600 + minute * 60 + second);
    // The text is local time at `offset`: UTC = local - offset.
    Some(days * USECS_PER_DAY + (local_secs - offset_secs) * 1_000_000 + i128::from(micros))
}

fn date_days_to_micros(days: i128) -> i128 {
    (days + PG_EPOCH_DAYS) * USECS_PER_DAY
}

impl ToSql for SystemTime {
    fn type_oid(&self) -> Oid {
        oid::TIMESTAMPTZ
    }

    /// `timestamptz` and `timestamp` (written as UTC), and `date` for values at exactly
    /// midnight UTC (any other time of day is refused rather than silently dropped).
    fn accepts(&self, oid: Oid) -> bool {
        matches!(oid, oid::TIMESTAMPTZ | oid::TIMESTAMP | oid::DATE) || is_unspecified(oid)
    }

    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        crate::types::ensure_accepted(self.accepts(ty.oid), RUST, ty.oid)?;
        if let Some(binary) = self.to_sql_fixed(ty) {
            out.extend_from_slice(binary.value());
            return Ok(IsNull::No);
        }
        let us = unix_micros(*self);
        if ty.oid == oid::DATE {
            if us.rem_euclid(USECS_PER_DAY) != 0 {
                return Err(ConversionError::invalid(
                    RUST,
                    "a date parameter needs a time at exactly midnight UTC",
                ));
            }
            let days = us.div_euclid(USECS_PER_DAY) - PG_EPOCH_DAYS;
            match ty.format {
                Format::Binary => {
                    let d = i32::try_from(days)
                        .map_err(|_| ConversionError::invalid(RUST, "out of date range"))?;
                    out.put_i32(d);
                }
                Format::Text => {
                    let mut tmp = BytesMut::with_capacity(32);
                    put_timestamp_text(&mut tmp, us, false)?;
                    // "YYYY-MM-DD 00:00:00.000000": keep the date part.
                    let date_len = tmp.iter().position(|&b| b == b' ').unwrap_or(tmp.len());
                    out.extend_from_slice(tmp.get(..date_len).unwrap_or(&[]));
                }
            }
            return Ok(IsNull::No);
        }
        match ty.format {
            Format::Binary => {
                // i64::MAX and i64::MIN mean ±infinity on the wire: never send them.
                match i64::try_from(us - PG_EPOCH_USECS) {
                    Ok(v) if v != i64::MAX && v != i64::MIN => out.put_i64(v),
                    _ => return Err(ConversionError::invalid(RUST, "out of timestamp range")),
                }
            }
            Format::Text => put_timestamp_text(out, us, ty.oid != oid::TIMESTAMP)?,
        }
        Ok(IsNull::No)
    }

    /// Binary `timestamp[tz]` after 1970 (the common case, in `i64`); other times, dates
    /// and text go through `to_sql`'s `i128` path.
    #[inline]
    fn to_sql_fixed(&self, ty: ValueType) -> Option<Fixed> {
        if ty.format != Format::Binary || ty.oid == oid::DATE || !self.accepts(ty.oid) {
            return None;
        }
        binary_timestamp_fast(*self).map(|v| Fixed::new(v.to_be_bytes()))
    }

    fn null_type_oid() -> Oid {
        oid::TIMESTAMPTZ
    }
}

/// A binary `timestamp[tz]` in `i64` arithmetic, for the common case: a time after 1970
/// and before year 294,247 (others take the `i128` path, or are refused there).
#[inline]
fn binary_timestamp_fast(t: SystemTime) -> Option<i64> {
    let d = t.duration_since(UNIX_EPOCH).ok()?;
    let secs = i64::try_from(d.as_secs()).ok()?;
    let us = secs
        .checked_mul(1_000_000)?
        .checked_add(i64::from(d.subsec_micros()))?;
    // i64::MAX means infinity on the wire (i64::MIN cannot come out of this).
    us.checked_sub(PG_EPOCH_USECS_I64)
        .filter(|&v| v != i64::MAX)
}

impl FromSql<'_> for SystemTime {
    fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
        check_accepts::<Self>(ty, RUST)?;
        let infinity = || ConversionError::invalid(RUST, "infinity cannot be represented");
        // iris-pgwire sends text in "binary" columns, and a 4-digit day count has exactly
        // the width of a binary date. Printable ASCII in every byte would be a date or
        // timestamp over 100,000 years from 2000 in binary, so lenient mode reads it as text.
        let looks_like_text = ty.lenient && raw.iter().all(u8::is_ascii_graphic);
        let binary = match (ty.format, ty.oid) {
            (Format::Text, _) => None,
            (Format::Binary, _) if looks_like_text => None,
            (Format::Binary, oid::TIMESTAMPTZ | oid::TIMESTAMP) => <[u8; 8]>::try_from(raw)
                .ok()
                .map(i64::from_be_bytes)
                .map(|v| {
                    if v == i64::MAX || v == i64::MIN {
                        Err(infinity())
                    } else {
                        Ok(i128::from(v) + PG_EPOCH_USECS)
                    }
                }),
            (Format::Binary, oid::DATE) => <[u8; 4]>::try_from(raw)
                .ok()
                .map(i32::from_be_bytes)
                .map(|v| {
                    if v == i32::MAX || v == i32::MIN {
                        Err(infinity())
                    } else {
                        Ok(date_days_to_micros(v.into()))
                    }
                }),
            (Format::Binary, _) => None,
        };
        let us = match binary {
            Some(us) => us?,
            None if ty.format == Format::Binary && !ty.lenient && !is_text_like(ty.oid) => {
                return Err(ConversionError::invalid(RUST, "wrong binary length"));
            }
            // iris-pgwire sends a date as its day count since 2000-01-01 ("8780").
            None => match (ty.lenient && ty.oid == oid::DATE)
                .then(|| parse_int(raw, true))
                .flatten()
            {
                Some(days) => date_days_to_micros(days.into()),
                None => parse_timestamp(raw, ty.lenient)?,
            },
        };
        from_unix_micros(us)
    }

    fn from_sql_null(_ty: ValueType) -> Result<Self, ConversionError> {
        Err(ConversionError::UnexpectedNull { rust: RUST })
    }

    fn accepts(oid: Oid) -> bool {
        matches!(oid, oid::TIMESTAMPTZ | oid::TIMESTAMP | oid::DATE)
    }
}
