//! [`Date`]: `date`, days since 2000-01-01 with ±infinity and BC.

use std::fmt;
use std::str::FromStr;

use bytes::{BufMut, BytesMut};

use super::super::oid::{self, is_unspecified};
use super::super::scalar::parse_int;
use super::super::time::{civil_from_days, days_from_civil, days_in_month};
use super::super::{
    check_accepts, ConversionError, Fixed, Format, FromSql, IsNull, Oid, ToSql, ValueType,
};
use super::{put_text, text_input, wire, Cursor, Wire, PG_EPOCH_UNIX_DAYS};

const RUST: &str = "Date";

/// A PostgreSQL `date`: a proleptic Gregorian day from 4714-11-24 BC to 5874897-12-31,
/// or `infinity` / `-infinity`.
///
/// Years are astronomical, as in ISO 8601 and chrono: year 0 is 1 BC and year -43 is
/// 44 BC, which the server prints as `0044-03-15 BC`. Ordering is the server's:
/// `-infinity` < every day < `infinity`.
///
/// ```
/// use pgline::types::Date;
///
/// let ides = Date::from_ymd(-43, 3, 15).unwrap();
/// assert_eq!(ides.to_string(), "0044-03-15 BC");
/// assert_eq!("0044-03-15 BC".parse::<Date>().unwrap(), ides);
/// assert_eq!(ides.ymd(), Some((-43, 3, 15)));
/// assert!(Date::NEG_INFINITY < ides && ides < Date::INFINITY);
/// assert_eq!(Date::from_ymd(2023, 2, 29), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

impl Date {
    /// `infinity`: later than every date.
    pub const INFINITY: Self = Self(i32::MAX);
    /// `-infinity`: earlier than every date.
    pub const NEG_INFINITY: Self = Self(i32::MIN);
    /// The earliest date, 4714-11-24 BC (Julian day 0).
    pub const MIN: Self = Self(-2_451_545);
    /// The latest date, 5874897-12-31.
    pub const MAX: Self = Self(2_145_031_948);
    /// 2000-01-01, the PostgreSQL epoch (day 0 on the wire).
    pub const PG_EPOCH: Self = Self(0);

    /// The date `days` after 2000-01-01, as on the wire: `i32::MAX` and `i32::MIN` are
    /// ±infinity; `None` outside [`MIN`](Self::MIN)..=[`MAX`](Self::MAX) otherwise.
    pub const fn from_pg_days(days: i32) -> Option<Self> {
        if days == i32::MAX || days == i32::MIN || (days >= Self::MIN.0 && days <= Self::MAX.0) {
            Some(Self(days))
        } else {
            None
        }
    }

    /// Days since 2000-01-01 as on the wire (`i32::MAX` / `i32::MIN` for ±infinity).
    pub const fn pg_days(self) -> i32 {
        self.0
    }

    /// The date of astronomical `year` (0 is 1 BC), `month` 1..=12 and `day`; `None` for a
    /// day that does not exist or is out of PostgreSQL's range.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Self> {
        let y = i64::from(year);
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(y, month) {
            return None;
        }
        let days = days_from_civil(y, month, day) - PG_EPOCH_UNIX_DAYS;
        i32::try_from(days)
            .ok()
            .filter(|d| (Self::MIN.0..=Self::MAX.0).contains(d))
            .map(Self)
    }

    /// `(year, month, day)` with an astronomical year (0 is 1 BC); `None` for ±infinity.
    pub fn ymd(self) -> Option<(i32, u32, u32)> {
        if !self.is_finite() {
            return None;
        }
        let (y, m, d) = civil_from_days(i64::from(self.0) + PG_EPOCH_UNIX_DAYS);
        // Within MIN..=MAX the year is within -4713..=5874897.
        Some((i32::try_from(y).ok()?, m, d))
    }

    /// Whether this is a day, not ±infinity.
    pub const fn is_finite(self) -> bool {
        self.0 != i32::MAX && self.0 != i32::MIN
    }
}

impl fmt::Display for Date {
    /// The server's ISO form: `2024-01-15`, `0044-03-15 BC`, `infinity`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ymd() {
            None if self.0 == i32::MAX => f.write_str("infinity"),
            None => f.write_str("-infinity"),
            Some((y, m, d)) => {
                fmt_ymd(f, y, m, d)?;
                if y <= 0 {
                    f.write_str(" BC")?;
                }
                Ok(())
            }
        }
    }
}

/// `YYYY-MM-DD` of an astronomical year, without the ` BC` that a year <= 0 needs after
/// the whole value.
pub(super) fn fmt_ymd(f: &mut dyn fmt::Write, y: i32, m: u32, d: u32) -> fmt::Result {
    let year = if y <= 0 {
        1 - i64::from(y)
    } else {
        i64::from(y)
    };
    write!(f, "{year:04}-{m:02}-{d:02}")
}

/// Strips a trailing ` BC`, returning whether there was one.
pub(super) fn strip_bc(s: &str) -> (&str, bool) {
    match s.strip_suffix(" BC") {
        Some(rest) => (rest, true),
        None => (s, false),
    }
}

/// Parses `YYYY-MM-DD` (years of 4 to 7 digits, 1 or later; `bc` makes year `n` the
/// astronomical `1 - n`) into days since 2000-01-01, unchecked against PostgreSQL's range.
pub(super) fn parse_ymd(c: &mut Cursor<'_>, bc: bool) -> Result<i64, &'static str> {
    const BAD: &str = "not an ISO date (YYYY-MM-DD[ BC]): text-format dates and times are \
                       read in DateStyle ISO only (pgline asks for it at connect; was it \
                       changed with SET?)";
    let y = c.digits(4, 7).ok_or(BAD)?;
    let m = c.eat(b'-').then(|| c.digits(2, 2)).flatten().ok_or(BAD)?;
    let d = c.eat(b'-').then(|| c.digits(2, 2)).flatten().ok_or(BAD)?;
    // At most 7 digits each, so these fit.
    let (y, m, d) = (y as i64, m as u32, d as u32);
    if y == 0 {
        return Err("year 0 does not exist (1 BC is followed by 1 AD)");
    }
    let y = if bc { 1 - y } else { y };
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return Err("no such day (month or day of month out of range)");
    }
    Ok(days_from_civil(y, m, d) - PG_EPOCH_UNIX_DAYS)
}

fn parse(s: &str, lenient: bool) -> Result<Date, &'static str> {
    let s = text_input(s, lenient);
    match s {
        "infinity" => return Ok(Date::INFINITY),
        "-infinity" => return Ok(Date::NEG_INFINITY),
        _ => {}
    }
    // iris-pgwire sends a date as its day count since 2000-01-01 ("8780").
    if lenient {
        if let Some(days) = parse_int(s.as_bytes(), true) {
            return i32::try_from(days)
                .ok()
                .and_then(Date::from_pg_days)
                .filter(|d| d.is_finite())
                .ok_or("date out of range");
        }
    }
    let (s, bc) = strip_bc(s);
    let mut c = Cursor::new(s);
    let days = parse_ymd(&mut c, bc)?;
    if !c.is_empty() {
        return Err("trailing characters after the date");
    }
    i32::try_from(days)
        .ok()
        .and_then(Date::from_pg_days)
        .filter(|d| d.is_finite())
        .ok_or("date out of range (4714-11-24 BC to 5874897-12-31)")
}

impl FromStr for Date {
    type Err = ConversionError;

    /// Reads the server's ISO form (what `Display` prints).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s, false).map_err(|reason| ConversionError::invalid(RUST, reason))
    }
}

impl ToSql for Date {
    fn type_oid(&self) -> Oid {
        oid::DATE
    }

    fn accepts(&self, oid: Oid) -> bool {
        oid == oid::DATE || is_unspecified(oid)
    }

    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        crate::types::ensure_accepted(self.accepts(ty.oid), RUST, ty.oid)?;
        match ty.format {
            Format::Binary => out.put_i32(self.0),
            Format::Text => put_text(out, self, RUST)?,
        }
        Ok(IsNull::No)
    }

    #[inline]
    fn to_sql_fixed(&self, ty: ValueType) -> Option<Fixed> {
        (ty.format == Format::Binary && self.accepts(ty.oid))
            .then(|| Fixed::new(self.0.to_be_bytes()))
    }

    fn null_type_oid() -> Oid {
        oid::DATE
    }
}

impl FromSql<'_> for Date {
    fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
        check_accepts::<Self>(ty, RUST)?;
        match wire::<4>(ty, raw, RUST)? {
            // date_recv: "date out of range" unless finite and valid, or ±infinity.
            Wire::Binary(b) => Self::from_pg_days(i32::from_be_bytes(b))
                .ok_or(ConversionError::invalid(RUST, "date out of range")),
            Wire::Text(s) => {
                parse(s, ty.lenient).map_err(|reason| ConversionError::invalid(RUST, reason))
            }
        }
    }

    fn from_sql_null(_ty: ValueType) -> Result<Self, ConversionError> {
        Err(ConversionError::UnexpectedNull { rust: RUST })
    }

    fn accepts(oid: Oid) -> bool {
        oid == oid::DATE
    }
}
