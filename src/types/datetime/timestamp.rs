//! [`Timestamp`] (`timestamp`) and [`TimestampTz`] (`timestamptz`): microseconds since
//! 2000-01-01 00:00 with ±infinity and BC.
//!
//! Two types rather than one accepting both: a `timestamp` is a wall-clock reading and a
//! `timestamptz` an instant, and the server converts between them through the session's
//! `TimeZone`. One Rust type declared as either would silently shift values sent for the
//! other type whenever that zone is not UTC.

use std::fmt;
use std::str::FromStr;

use bytes::{BufMut, BytesMut};

use super::super::oid::{self, is_unspecified};
use super::super::{
    check_accepts, ConversionError, Fixed, Format, FromSql, IsNull, Oid, ToSql, ValueType,
};
use super::clock::fmt_offset;
use super::date::{fmt_ymd, parse_ymd, strip_bc};
use super::{
    fmt_hms, put_text, text_input, wire, Cursor, Date, Time, Wire, USECS_PER_DAY, USECS_PER_SEC,
};

/// 4714-11-24 00:00:00 BC (`MIN_TIMESTAMP`).
const MIN_USECS: i64 = -211_813_488_000_000_000;
/// 294276-12-31 23:59:59.999999 (`END_TIMESTAMP` - 1).
const MAX_USECS: i64 = 9_223_371_331_199_999_999;

const fn checked(us: i64) -> Option<i64> {
    if us == i64::MAX || us == i64::MIN || (us >= MIN_USECS && us <= MAX_USECS) {
        Some(us)
    } else {
        None
    }
}

/// The date and time of a finite timestamp.
fn split(us: i64) -> Option<(Date, Time)> {
    if us == i64::MAX || us == i64::MIN {
        return None;
    }
    // |us| < 2^63, so the day count is within ±1.1e8 and fits i32.
    let days = i32::try_from(us.div_euclid(USECS_PER_DAY)).ok()?;
    Some((
        Date::from_pg_days(days)?,
        Time::from_micros(us.rem_euclid(USECS_PER_DAY))?,
    ))
}

fn join(date: Date, time: Time) -> Option<i64> {
    if !date.is_finite() {
        return None;
    }
    let us = i128::from(date.pg_days()) * i128::from(USECS_PER_DAY) + i128::from(time.micros());
    i64::try_from(us)
        .ok()
        .filter(|us| (MIN_USECS..=MAX_USECS).contains(us))
}

/// The server's ISO form; `tz` appends `+00` (a `timestamptz` is shown in UTC).
fn fmt_ts(f: &mut fmt::Formatter<'_>, us: i64, tz: bool) -> fmt::Result {
    let Some((date, time)) = split(us) else {
        return f.write_str(if us == i64::MAX {
            "infinity"
        } else {
            "-infinity"
        });
    };
    let Some((y, m, d)) = date.ymd() else {
        return Err(fmt::Error);
    };
    fmt_ymd(f, y, m, d)?;
    f.write_str(" ")?;
    // A time from split() is below 24:00:00.
    let t = time.micros().unsigned_abs();
    fmt_hms(f, t / 3_600_000_000, t % 3_600_000_000)?;
    if tz {
        fmt_offset(f, 0)?;
    }
    if y <= 0 {
        f.write_str(" BC")?;
    }
    Ok(())
}

/// Parses the server's ISO form (`tz`: with an optional UTC offset) into microseconds
/// since 2000-01-01 (UTC for `tz`).
fn parse_ts(s: &str, lenient: bool, tz: bool) -> Result<i64, &'static str> {
    let s = text_input(s, lenient);
    match s {
        "infinity" => return Ok(i64::MAX),
        "-infinity" => return Ok(i64::MIN),
        _ => {}
    }
    let (s, bc) = strip_bc(s);
    let mut c = Cursor::new(s);
    let days = parse_ymd(&mut c, bc)?;
    let has_time = match c.peek() {
        Some(b' ') => true,
        Some(b'T') if lenient => true,
        None if lenient => false,
        _ => return Err("not an ISO timestamp (YYYY-MM-DD HH:MM:SS[.ffffff])"),
    };
    let mut tod = 0;
    let mut offset = 0;
    if has_time {
        c.eat(c.peek().unwrap_or(b' '));
        tod = c.clock(lenient, 24)?;
        if !c.is_empty() {
            if !tz && !lenient {
                return Err("a time zone in a timestamp without time zone (use TimestampTz)");
            }
            offset = c
                .offset(lenient)
                .ok_or("not a UTC offset ((+|-)HH[:MM[:SS]], within 15:59:59)")?;
        }
    }
    if !c.is_empty() {
        return Err("trailing characters after the timestamp");
    }
    // Local time at `offset`: UTC = local - offset. In i128: a 7-digit year overflows i64.
    let us = i128::from(days) * i128::from(USECS_PER_DAY) + i128::from(tod)
        - i128::from(offset) * i128::from(USECS_PER_SEC);
    i64::try_from(us)
        .ok()
        .filter(|us| (MIN_USECS..=MAX_USECS).contains(us))
        .ok_or("timestamp out of range (4714-11-24 BC to 294276-12-31)")
}

fn from_sql_ts(
    ty: ValueType,
    raw: &[u8],
    rust: &'static str,
    tz: bool,
) -> Result<i64, ConversionError> {
    match wire::<8>(ty, raw, rust)? {
        // timestamp_recv: "timestamp out of range" unless ±infinity or within range.
        Wire::Binary(b) => checked(i64::from_be_bytes(b))
            .ok_or(ConversionError::invalid(rust, "timestamp out of range")),
        Wire::Text(s) => {
            parse_ts(s, ty.lenient, tz).map_err(|reason| ConversionError::invalid(rust, reason))
        }
    }
}

macro_rules! timestamp_type {
    ($(#[$doc:meta])* $t:ident, $name:literal, $oid:expr, $tz:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $t(i64);

        impl $t {
            /// `infinity`: later than every timestamp.
            pub const INFINITY: Self = Self(i64::MAX);
            /// `-infinity`: earlier than every timestamp.
            pub const NEG_INFINITY: Self = Self(i64::MIN);
            /// The earliest value, 4714-11-24 00:00:00 BC.
            pub const MIN: Self = Self(MIN_USECS);
            /// The latest value, 294276-12-31 23:59:59.999999.
            pub const MAX: Self = Self(MAX_USECS);

            /// The value `micros` after 2000-01-01 00:00, as on the wire: `i64::MAX` and
            /// `i64::MIN` are ±infinity; `None` outside [`MIN`](Self::MIN)..=[`MAX`](Self::MAX)
            /// otherwise.
            pub const fn from_pg_micros(micros: i64) -> Option<Self> {
                match checked(micros) {
                    Some(us) => Some(Self(us)),
                    None => None,
                }
            }

            /// Microseconds since 2000-01-01 00:00 as on the wire (`i64::MAX` / `i64::MIN`
            /// for ±infinity).
            pub const fn pg_micros(self) -> i64 {
                self.0
            }

            /// The value at `time` on `date` (`24:00:00` is midnight of the next day);
            /// `None` for an infinite date or a result out of range.
            pub fn new(date: Date, time: Time) -> Option<Self> {
                join(date, time).map(Self)
            }

            /// The date and time of day (below `24:00:00`); `None` for ±infinity.
            pub fn date_time(self) -> Option<(Date, Time)> {
                split(self.0)
            }

            /// Whether this is a point in time, not ±infinity.
            pub const fn is_finite(self) -> bool {
                self.0 != i64::MAX && self.0 != i64::MIN
            }
        }

        impl fmt::Display for $t {
            /// The server's ISO form (see the type docs).
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt_ts(f, self.0, $tz)
            }
        }

        impl FromStr for $t {
            type Err = ConversionError;

            /// Reads the server's ISO form (what `Display` prints).
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_ts(s, false, $tz)
                    .map(Self)
                    .map_err(|reason| ConversionError::invalid($name, reason))
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
                if !self.accepts(ty.oid) {
                    return Err(ConversionError::WrongType { rust: $name, oid: ty.oid });
                }
                match ty.format {
                    Format::Binary => out.put_i64(self.0),
                    Format::Text => put_text(out, self, $name)?,
                }
                Ok(IsNull::No)
            }

            #[inline]
            fn to_sql_fixed(&self, ty: ValueType) -> Option<Fixed> {
                (ty.format == Format::Binary && self.accepts(ty.oid))
                    .then(|| Fixed::new(self.0.to_be_bytes()))
            }

            fn null_type_oid() -> Oid {
                $oid
            }
        }

        impl FromSql<'_> for $t {
            fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
                check_accepts::<Self>(ty, $name)?;
                from_sql_ts(ty, raw, $name, $tz).map(Self)
            }

            fn from_sql_null(_ty: ValueType) -> Result<Self, ConversionError> {
                Err(ConversionError::UnexpectedNull { rust: $name })
            }

            fn accepts(oid: Oid) -> bool {
                oid == $oid
            }
        }
    };
}

timestamp_type!(
    /// A PostgreSQL `timestamp` (without time zone): a wall-clock date and time, from
    /// 4714-11-24 00:00:00 BC to 294276-12-31 23:59:59.999999, or ±infinity.
    ///
    /// Displayed as the server prints it: `2024-01-15 10:11:12.5`,
    /// `0044-03-15 10:00:00 BC`, `infinity`.
    ///
    /// ```
    /// use pgline::types::{Date, Time, Timestamp};
    ///
    /// let ts: Timestamp = "294276-12-31 23:59:59.999999".parse().unwrap();
    /// assert_eq!(ts, Timestamp::MAX);
    /// let noon = Timestamp::new(Date::from_ymd(-43, 3, 15).unwrap(), Time::from_hms_micro(12, 0, 0, 0).unwrap());
    /// assert_eq!(noon.unwrap().to_string(), "0044-03-15 12:00:00 BC");
    /// assert!("2024-01-15 23:59:60".parse::<Timestamp>().is_err());
    /// ```
    Timestamp,
    "Timestamp",
    oid::TIMESTAMP,
    false
);

timestamp_type!(
    /// A PostgreSQL `timestamptz` (`timestamp with time zone`): an instant, held as UTC,
    /// from 4714-11-24 00:00:00 BC to 294276-12-31 23:59:59.999999 UTC, or ±infinity.
    ///
    /// Text from the server is in the session's `TimeZone` and is converted to UTC when
    /// read; `Display` prints UTC: `2024-01-15 10:11:12.5+00`.
    ///
    /// ```
    /// use pgline::types::TimestampTz;
    ///
    /// let a: TimestampTz = "2024-01-15 15:41:12+05:30".parse().unwrap();
    /// assert_eq!(a.to_string(), "2024-01-15 10:11:12+00");
    /// ```
    TimestampTz,
    "TimestampTz",
    oid::TIMESTAMPTZ,
    true
);

impl TimestampTz {
    /// The instant at which UTC's wall clock reads `ts`.
    pub const fn from_utc(ts: Timestamp) -> Self {
        Self(ts.0)
    }

    /// The UTC wall-clock reading of this instant.
    pub const fn to_utc(self) -> Timestamp {
        Timestamp(self.0)
    }
}
