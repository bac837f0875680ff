//! The `time` crate's types (feature `time`), converted through pgline's own types.
//!
//! | time | PostgreSQL | through |
//! |---|---|---|
//! | `Date` | `date` | [`Date`] |
//! | `Time` | `time` | [`Time`] |
//! | `PrimitiveDateTime` | `timestamp` | [`Timestamp`] |
//! | `OffsetDateTime` | `timestamptz` (read at offset UTC) | [`TimestampTz`] |
//! | `Duration` | none: `TryFrom` [`Interval`] only | |
//!
//! What `time` cannot hold is an error, never a clamp: ±infinity (read those columns as
//! pgline's types), `24:00:00`, and years beyond ±9999 (the crate's range without its
//! `large-dates` feature). Going the other way, nanoseconds are truncated to
//! microseconds.

use ::time::{Duration, OffsetDateTime, PrimitiveDateTime};

use super::super::ConversionError;
use super::{renamed, via_pgline, Date, Interval, Time, Timestamp, TimestampTz, USECS_PER_DAY};

/// Julian day number of 2000-01-01.
const PG_EPOCH_JULIAN_DAY: i32 = 2_451_545;
/// The PostgreSQL epoch in nanoseconds since the Unix epoch.
const PG_EPOCH_UNIX_NANOS: i128 = 946_684_800_000_000_000;

const INFINITY: &str = "±infinity has no time crate value: read the column as pgline::types::\
                        Date, Timestamp or TimestampTz to get infinity";

impl TryFrom<Date> for ::time::Date {
    type Error = ConversionError;

    /// Fails for ±infinity and beyond the crate's range.
    fn try_from(d: Date) -> Result<Self, ConversionError> {
        const RUST: &str = "time::Date";
        if !d.is_finite() {
            return Err(ConversionError::invalid(RUST, INFINITY));
        }
        d.pg_days()
            .checked_add(PG_EPOCH_JULIAN_DAY)
            .and_then(|jd| Self::from_julian_day(jd).ok())
            .ok_or(ConversionError::invalid(
                RUST,
                "date out of the time crate's range",
            ))
    }
}

impl TryFrom<::time::Date> for Date {
    type Error = ConversionError;

    /// Fails before 4714-11-24 BC (only with `time`'s `large-dates`).
    fn try_from(d: ::time::Date) -> Result<Self, ConversionError> {
        d.to_julian_day()
            .checked_sub(PG_EPOCH_JULIAN_DAY)
            .and_then(Self::from_pg_days)
            .filter(|d| d.is_finite())
            .ok_or(ConversionError::invalid(
                "time::Date",
                "date out of PostgreSQL's range (4714-11-24 BC to 5874897-12-31)",
            ))
    }
}

impl TryFrom<Time> for ::time::Time {
    type Error = ConversionError;

    /// Fails for `24:00:00`.
    fn try_from(t: Time) -> Result<Self, ConversionError> {
        let (h, m, s, us) = t.hms_micro();
        match (u8::try_from(h), u8::try_from(m), u8::try_from(s)) {
            (Ok(h), Ok(m), Ok(s)) if t != Time::END_OF_DAY => {
                Self::from_hms_micro(h, m, s, us).ok()
            }
            _ => None,
        }
        .ok_or(ConversionError::invalid(
            "time::Time",
            "24:00:00 has no time::Time: read it as pgline::types::Time",
        ))
    }
}

impl TryFrom<::time::Time> for Time {
    type Error = ConversionError;

    /// Truncates nanoseconds; never fails (every `time::Time` is below 24:00:00).
    fn try_from(t: ::time::Time) -> Result<Self, ConversionError> {
        let (h, m, s, us) = t.as_hms_micro();
        Self::from_hms_micro(h.into(), m.into(), s.into(), us)
            .ok_or(ConversionError::invalid("time::Time", "time out of range"))
    }
}

impl TryFrom<Timestamp> for PrimitiveDateTime {
    type Error = ConversionError;

    /// Fails for ±infinity and beyond the crate's range.
    fn try_from(ts: Timestamp) -> Result<Self, ConversionError> {
        const RUST: &str = "time::PrimitiveDateTime";
        let (d, t) = ts
            .date_time()
            .ok_or(ConversionError::invalid(RUST, INFINITY))?;
        let d = ::time::Date::try_from(d).map_err(|e| renamed(e, RUST))?;
        let t = ::time::Time::try_from(t).map_err(|e| renamed(e, RUST))?;
        Ok(Self::new(d, t))
    }
}

impl TryFrom<PrimitiveDateTime> for Timestamp {
    type Error = ConversionError;

    /// Truncates nanoseconds.
    fn try_from(dt: PrimitiveDateTime) -> Result<Self, ConversionError> {
        const RUST: &str = "time::PrimitiveDateTime";
        let d = Date::try_from(dt.date()).map_err(|e| renamed(e, RUST))?;
        let t = Time::try_from(dt.time()).map_err(|e| renamed(e, RUST))?;
        Self::new(d, t).ok_or(ConversionError::invalid(
            RUST,
            "timestamp out of PostgreSQL's range (4714-11-24 BC to 294276-12-31)",
        ))
    }
}

impl TryFrom<TimestampTz> for OffsetDateTime {
    type Error = ConversionError;

    /// The instant at offset UTC. Fails for ±infinity and beyond the crate's range.
    fn try_from(ts: TimestampTz) -> Result<Self, ConversionError> {
        const RUST: &str = "time::OffsetDateTime";
        if !ts.is_finite() {
            return Err(ConversionError::invalid(RUST, INFINITY));
        }
        let nanos = i128::from(ts.pg_micros()) * 1000 + PG_EPOCH_UNIX_NANOS;
        Self::from_unix_timestamp_nanos(nanos)
            .map_err(|_| ConversionError::invalid(RUST, "timestamp out of the time crate's range"))
    }
}

impl TryFrom<OffsetDateTime> for TimestampTz {
    type Error = ConversionError;

    /// The same instant (the offset is not kept: `timestamptz` has none); nanoseconds
    /// truncated.
    fn try_from(dt: OffsetDateTime) -> Result<Self, ConversionError> {
        let us = (dt.unix_timestamp_nanos() - PG_EPOCH_UNIX_NANOS).div_euclid(1000);
        i64::try_from(us)
            .ok()
            .and_then(Self::from_pg_micros)
            .filter(|ts| ts.is_finite())
            .ok_or(ConversionError::invalid(
                "time::OffsetDateTime",
                "timestamp out of PostgreSQL's range (4714-11-24 BC to 294276-12-31)",
            ))
    }
}

impl TryFrom<Interval> for Duration {
    type Error = ConversionError;

    /// Days count as 24 hours. Fails when `months != 0` (a month has no fixed length) and
    /// for ±infinity.
    fn try_from(i: Interval) -> Result<Self, ConversionError> {
        if i.months() != 0 {
            return Err(ConversionError::invalid(
                "time::Duration",
                "an interval with months has no fixed length: read it as pgline::types::Interval",
            ));
        }
        let us = i128::from(i.days()) * i128::from(USECS_PER_DAY) + i128::from(i.micros());
        i64::try_from(us)
            .map(Self::microseconds)
            .map_err(|_| ConversionError::invalid("time::Duration", "interval out of range"))
    }
}

impl TryFrom<Duration> for Interval {
    type Error = ConversionError;

    /// Microseconds only (months and days 0); nanoseconds truncated. Fails beyond `i64`
    /// microseconds (about 292,000 years).
    fn try_from(d: Duration) -> Result<Self, ConversionError> {
        i64::try_from(d.whole_microseconds())
            .map(|us| Self::new(0, 0, us))
            .map_err(|_| ConversionError::invalid("time::Duration", "interval out of range"))
    }
}

via_pgline!(::time::Date, Date, "time::Date");
via_pgline!(::time::Time, Time, "time::Time");
via_pgline!(PrimitiveDateTime, Timestamp, "time::PrimitiveDateTime");
via_pgline!(OffsetDateTime, TimestampTz, "time::OffsetDateTime");
