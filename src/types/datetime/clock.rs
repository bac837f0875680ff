//! [`Time`] (`time`) and [`TimeTz`] (`timetz`): a time of day, `00:00:00` to `24:00:00`.

use std::fmt;
use std::str::FromStr;

use bytes::{BufMut, BytesMut};

use super::super::oid::{self, is_unspecified};
use super::super::{
    check_accepts, ConversionError, Fixed, Format, FromSql, IsNull, Oid, ToSql, ValueType,
};
use super::{fmt_hms, put_text, text_input, wire, Cursor, Wire, USECS_PER_DAY};

const USECS_PER_HOUR: u64 = 3_600_000_000;

/// A PostgreSQL `time` (without time zone): microseconds since midnight, from `00:00:00`
/// to `24:00:00` inclusive (the server accepts and returns `24:00:00`, the end of a day).
///
/// ```
/// use pgline::types::Time;
///
/// let t = Time::from_hms_micro(4, 5, 6, 789_000).unwrap();
/// assert_eq!(t.to_string(), "04:05:06.789");
/// assert_eq!("24:00:00".parse::<Time>().unwrap(), Time::END_OF_DAY);
/// assert!("23:59:60".parse::<Time>().is_err()); // a leap second
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(i64);

impl Time {
    /// `00:00:00`.
    pub const MIDNIGHT: Self = Self(0);
    /// `24:00:00`, the latest time.
    pub const END_OF_DAY: Self = Self(USECS_PER_DAY);

    /// The time `micros` after midnight; `None` outside `0..=86_400_000_000`.
    pub const fn from_micros(micros: i64) -> Option<Self> {
        if micros >= 0 && micros <= USECS_PER_DAY {
            Some(Self(micros))
        } else {
            None
        }
    }

    /// Microseconds since midnight, as on the wire.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// The time `hour:minute:second.micro`; `None` for fields out of range, or past
    /// `24:00:00`.
    pub fn from_hms_micro(hour: u32, minute: u32, second: u32, micro: u32) -> Option<Self> {
        if hour > 24 || minute > 59 || second > 59 || micro > 999_999 {
            return None;
        }
        let secs = (i64::from(hour) * 60 + i64::from(minute)) * 60 + i64::from(second);
        Self::from_micros(secs * 1_000_000 + i64::from(micro))
    }

    /// `(hour, minute, second, microsecond)`; `24:00:00` is `(24, 0, 0, 0)`.
    pub fn hms_micro(self) -> (u32, u32, u32, u32) {
        // 0 <= self.0 <= USECS_PER_DAY, so every field is small.
        let us = self.0.unsigned_abs();
        let secs = us / 1_000_000;
        (
            (secs / 3600) as u32,
            (secs / 60 % 60) as u32,
            (secs % 60) as u32,
            (us % 1_000_000) as u32,
        )
    }
}

impl fmt::Display for Time {
    /// The server's form: `04:05:06`, `04:05:06.789`, `24:00:00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0.unsigned_abs();
        fmt_hms(f, us / USECS_PER_HOUR, us % USECS_PER_HOUR)
    }
}

fn parse_time(c: &mut Cursor<'_>, lenient: bool) -> Result<Time, &'static str> {
    let us = c.clock(lenient, 24)?;
    // clock() keeps us <= USECS_PER_DAY.
    Time::from_micros(i64::try_from(us).map_err(|_| "time out of range")?)
        .ok_or("time out of range (24:00:00 is the latest time)")
}

impl FromStr for Time {
    type Err = ConversionError;

    /// Reads the server's form (what `Display` prints).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s, false).map_err(|reason| ConversionError::invalid("Time", reason))
    }
}

fn parse(s: &str, lenient: bool) -> Result<Time, &'static str> {
    let mut c = Cursor::new(text_input(s, lenient));
    let t = parse_time(&mut c, lenient)?;
    if !c.is_empty() {
        return Err("trailing characters after the time (a time zone? use TimeTz)");
    }
    Ok(t)
}

impl ToSql for Time {
    fn type_oid(&self) -> Oid {
        oid::TIME
    }

    fn accepts(&self, oid: Oid) -> bool {
        oid == oid::TIME || is_unspecified(oid)
    }

    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        crate::types::ensure_accepted(self.accepts(ty.oid), "Time", ty.oid)?;
        match ty.format {
            Format::Binary => out.put_i64(self.0),
            Format::Text => put_text(out, self, "Time")?,
        }
        Ok(IsNull::No)
    }

    #[inline]
    fn to_sql_fixed(&self, ty: ValueType) -> Option<Fixed> {
        (ty.format == Format::Binary && self.accepts(ty.oid))
            .then(|| Fixed::new(self.0.to_be_bytes()))
    }

    fn null_type_oid() -> Oid {
        oid::TIME
    }
}

impl FromSql<'_> for Time {
    fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
        check_accepts::<Self>(ty, "Time")?;
        match wire::<8>(ty, raw, "Time")? {
            // time_recv: "time out of range" outside 0..=USECS_PER_DAY.
            Wire::Binary(b) => Self::from_micros(i64::from_be_bytes(b))
                .ok_or(ConversionError::invalid("Time", "time out of range")),
            Wire::Text(s) => {
                parse(s, ty.lenient).map_err(|reason| ConversionError::invalid("Time", reason))
            }
        }
    }

    fn from_sql_null(_ty: ValueType) -> Result<Self, ConversionError> {
        Err(ConversionError::UnexpectedNull { rust: "Time" })
    }

    fn accepts(oid: Oid) -> bool {
        oid == oid::TIME
    }
}

/// A PostgreSQL `timetz` (`time with time zone`): a [`Time`] and a UTC offset in seconds
/// **east** of Greenwich (`+05:30` is 19,800), below 16 hours either way.
///
/// On the wire the zone is in seconds *west* (the sign is inverted); this type hides that.
/// Equality compares both fields, so `04:05:06+05:30` and `22:35:06+00` differ (as they
/// do for the server's `=`, which breaks ties by zone).
///
/// ```
/// use pgline::types::{Time, TimeTz};
///
/// let t: TimeTz = "04:05:06+05:30".parse().unwrap();
/// assert_eq!(t.time(), Time::from_hms_micro(4, 5, 6, 0).unwrap());
/// assert_eq!(t.offset_seconds(), 19_800);
/// assert_eq!(t.to_string(), "04:05:06+05:30");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeTz {
    time: Time,
    offset: i32,
}

/// timetz_recv's TZDISP_LIMIT: offsets must be strictly within ±16 hours.
const TZDISP_LIMIT: i32 = 16 * 3600;

impl TimeTz {
    /// `time` at `offset_seconds` east of UTC; `None` unless the offset is within
    /// ±15:59:59.
    pub const fn new(time: Time, offset_seconds: i32) -> Option<Self> {
        if offset_seconds > -TZDISP_LIMIT && offset_seconds < TZDISP_LIMIT {
            Some(Self {
                time,
                offset: offset_seconds,
            })
        } else {
            None
        }
    }

    /// The local time of day.
    pub const fn time(self) -> Time {
        self.time
    }

    /// The UTC offset in seconds east of Greenwich.
    pub const fn offset_seconds(self) -> i32 {
        self.offset
    }
}

/// PostgreSQL's `EncodeTimezone`: `+HH`, `+HH:MM` when minutes or seconds, `+HH:MM:SS`
/// when seconds.
pub(super) fn fmt_offset(f: &mut dyn fmt::Write, east: i32) -> fmt::Result {
    let sign = if east < 0 { '-' } else { '+' };
    let a = east.unsigned_abs();
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    if s != 0 {
        write!(f, "{sign}{h:02}:{m:02}:{s:02}")
    } else if m != 0 {
        write!(f, "{sign}{h:02}:{m:02}")
    } else {
        write!(f, "{sign}{h:02}")
    }
}

impl fmt::Display for TimeTz {
    /// The server's form: `04:05:06+05:30`, `24:00:00-08`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.time)?;
        fmt_offset(f, self.offset)
    }
}

fn parse_tz(s: &str, lenient: bool) -> Result<TimeTz, &'static str> {
    let mut c = Cursor::new(text_input(s, lenient));
    let time = parse_time(&mut c, lenient)?;
    let offset = if lenient && c.is_empty() {
        0
    } else {
        c.offset(lenient)
            .ok_or("not a UTC offset ((+|-)HH[:MM[:SS]], within 15:59:59)")?
    };
    if !c.is_empty() {
        return Err("trailing characters after the time zone");
    }
    TimeTz::new(time, offset).ok_or("time zone displacement out of range")
}

impl FromStr for TimeTz {
    type Err = ConversionError;

    /// Reads the server's form (what `Display` prints).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_tz(s, false).map_err(|reason| ConversionError::invalid("TimeTz", reason))
    }
}

impl ToSql for TimeTz {
    fn type_oid(&self) -> Oid {
        oid::TIMETZ
    }

    fn accepts(&self, oid: Oid) -> bool {
        oid == oid::TIMETZ || is_unspecified(oid)
    }

    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        crate::types::ensure_accepted(self.accepts(ty.oid), "TimeTz", ty.oid)?;
        match ty.format {
            Format::Binary => {
                out.put_i64(self.time.0);
                // Seconds west on the wire; |offset| < 16 h, so the negation cannot overflow.
                out.put_i32(-self.offset);
            }
            Format::Text => put_text(out, self, "TimeTz")?,
        }
        Ok(IsNull::No)
    }

    fn null_type_oid() -> Oid {
        oid::TIMETZ
    }
}

impl FromSql<'_> for TimeTz {
    fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
        check_accepts::<Self>(ty, "TimeTz")?;
        let invalid = |reason| ConversionError::invalid("TimeTz", reason);
        match wire::<12>(ty, raw, "TimeTz")? {
            Wire::Binary(b) => {
                let (us, zone) = b.split_at(8);
                let us = <[u8; 8]>::try_from(us).map(i64::from_be_bytes);
                let zone = <[u8; 4]>::try_from(zone).map(i32::from_be_bytes);
                let (Ok(us), Ok(zone)) = (us, zone) else {
                    return Err(invalid("wrong binary length"));
                };
                let time = Time::from_micros(us).ok_or(invalid("time out of range"))?;
                zone.checked_neg()
                    .and_then(|east| Self::new(time, east))
                    .ok_or(invalid("time zone displacement out of range"))
            }
            Wire::Text(s) => parse_tz(s, ty.lenient).map_err(invalid),
        }
    }

    fn from_sql_null(_ty: ValueType) -> Result<Self, ConversionError> {
        Err(ConversionError::UnexpectedNull { rust: "TimeTz" })
    }

    fn accepts(oid: Oid) -> bool {
        oid == oid::TIMETZ
    }
}
