//! chrono's types (feature `chrono`), converted through pgline's own types.
//!
//! | chrono | PostgreSQL | through |
//! |---|---|---|
//! | `NaiveDate` | `date` | [`Date`] |
//! | `NaiveTime` | `time` | [`Time`] |
//! | `NaiveDateTime` | `timestamp` | [`Timestamp`] |
//! | `DateTime<Utc>`, `DateTime<FixedOffset>` | `timestamptz` (read as UTC) | [`TimestampTz`] |
//! | `TimeDelta` | none: `TryFrom` [`Interval`] only | |
//!
//! What chrono cannot hold is an error, never a clamp: ±infinity (read those columns as
//! pgline's types), `24:00:00`, dates beyond chrono's ±262,143 years. Going the other
//! way, nanoseconds are truncated to microseconds and a leap second is an error.

use ::chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta,
    Timelike, Utc,
};

use super::super::ConversionError;
use super::{renamed, via_pgline, Date, Interval, Time, Timestamp, TimestampTz, USECS_PER_DAY};

/// 2000-01-01 in chrono's days from the Common Era (0001-01-01 is day 1).
const PG_EPOCH_CE_DAYS: i32 = 730_120;

pub(super) const INFINITY: &str =
    "±infinity has no chrono value: read the column as pgline::types::\
                        Date, Timestamp or TimestampTz to get infinity";

impl TryFrom<Date> for NaiveDate {
    type Error = ConversionError;

    /// Fails for ±infinity and for dates beyond chrono's range.
    fn try_from(d: Date) -> Result<Self, ConversionError> {
        const RUST: &str = "chrono::NaiveDate";
        if !d.is_finite() {
            return Err(ConversionError::invalid(RUST, INFINITY));
        }
        d.pg_days()
            .checked_add(PG_EPOCH_CE_DAYS)
            .and_then(Self::from_num_days_from_ce_opt)
            .ok_or(ConversionError::invalid(RUST, "date out of chrono's range"))
    }
}

impl TryFrom<NaiveDate> for Date {
    type Error = ConversionError;

    /// Fails before 4714-11-24 BC.
    fn try_from(d: NaiveDate) -> Result<Self, ConversionError> {
        d.num_days_from_ce()
            .checked_sub(PG_EPOCH_CE_DAYS)
            .and_then(Self::from_pg_days)
            .filter(|d| d.is_finite())
            .ok_or(ConversionError::invalid(
                "chrono::NaiveDate",
                "date out of PostgreSQL's range (4714-11-24 BC to 5874897-12-31)",
            ))
    }
}

impl TryFrom<Time> for NaiveTime {
    type Error = ConversionError;

    /// Fails for `24:00:00`.
    fn try_from(t: Time) -> Result<Self, ConversionError> {
        let us = t.micros().unsigned_abs();
        u32::try_from(us / 1_000_000)
            .ok()
            .and_then(|secs| {
                Self::from_num_seconds_from_midnight_opt(secs, (us % 1_000_000) as u32 * 1000)
            })
            .filter(|_| t != Time::END_OF_DAY)
            .ok_or(ConversionError::invalid(
                "chrono::NaiveTime",
                "24:00:00 has no chrono::NaiveTime: read it as pgline::types::Time",
            ))
    }
}

impl TryFrom<NaiveTime> for Time {
    type Error = ConversionError;

    /// Truncates nanoseconds; fails for a leap second.
    fn try_from(t: NaiveTime) -> Result<Self, ConversionError> {
        let nanos = t.nanosecond();
        if nanos >= 1_000_000_000 {
            return Err(ConversionError::invalid(
                "chrono::NaiveTime",
                "a leap second cannot be represented in PostgreSQL",
            ));
        }
        let us = i64::from(t.num_seconds_from_midnight()) * 1_000_000 + i64::from(nanos / 1000);
        Self::from_micros(us).ok_or(ConversionError::invalid(
            "chrono::NaiveTime",
            "time out of range",
        ))
    }
}

impl TryFrom<Timestamp> for NaiveDateTime {
    type Error = ConversionError;

    /// Fails for ±infinity and beyond chrono's range.
    fn try_from(ts: Timestamp) -> Result<Self, ConversionError> {
        const RUST: &str = "chrono::NaiveDateTime";
        let (d, t) = ts
            .date_time()
            .ok_or(ConversionError::invalid(RUST, INFINITY))?;
        let d = NaiveDate::try_from(d).map_err(|e| renamed(e, RUST))?;
        let t = NaiveTime::try_from(t).map_err(|e| renamed(e, RUST))?;
        Ok(d.and_time(t))
    }
}

impl TryFrom<NaiveDateTime> for Timestamp {
    type Error = ConversionError;

    /// Truncates nanoseconds; fails out of PostgreSQL's range or for a leap second.
    fn try_from(dt: NaiveDateTime) -> Result<Self, ConversionError> {
        const RUST: &str = "chrono::NaiveDateTime";
        let d = Date::try_from(dt.date()).map_err(|e| renamed(e, RUST))?;
        let t = Time::try_from(dt.time()).map_err(|e| renamed(e, RUST))?;
        Self::new(d, t).ok_or(ConversionError::invalid(
            RUST,
            "timestamp out of PostgreSQL's range (4714-11-24 BC to 294276-12-31)",
        ))
    }
}

impl TryFrom<TimestampTz> for DateTime<Utc> {
    type Error = ConversionError;

    /// Fails for ±infinity and beyond chrono's range.
    fn try_from(ts: TimestampTz) -> Result<Self, ConversionError> {
        NaiveDateTime::try_from(ts.to_utc())
            .map(|naive| Self::from_naive_utc_and_offset(naive, Utc))
            .map_err(|e| renamed(e, "chrono::DateTime<Utc>"))
    }
}

impl TryFrom<DateTime<Utc>> for TimestampTz {
    type Error = ConversionError;

    /// Truncates nanoseconds; fails out of PostgreSQL's range or for a leap second.
    fn try_from(dt: DateTime<Utc>) -> Result<Self, ConversionError> {
        Timestamp::try_from(dt.naive_utc())
            .map(Self::from_utc)
            .map_err(|e| renamed(e, "chrono::DateTime<Utc>"))
    }
}

impl TryFrom<TimestampTz> for DateTime<FixedOffset> {
    type Error = ConversionError;

    /// The instant at offset `+00:00` (the server does not send the session's offset in
    /// binary). Fails for ±infinity and beyond chrono's range.
    fn try_from(ts: TimestampTz) -> Result<Self, ConversionError> {
        NaiveDateTime::try_from(ts.to_utc())
            .map(|naive| Self::from_naive_utc_and_offset(naive, Utc.fix()))
            .map_err(|e| renamed(e, "chrono::DateTime<FixedOffset>"))
    }
}

impl TryFrom<DateTime<FixedOffset>> for TimestampTz {
    type Error = ConversionError;

    /// The same instant (the offset is not kept: `timestamptz` has none).
    fn try_from(dt: DateTime<FixedOffset>) -> Result<Self, ConversionError> {
        Timestamp::try_from(dt.naive_utc())
            .map(Self::from_utc)
            .map_err(|e| renamed(e, "chrono::DateTime<FixedOffset>"))
    }
}

impl TryFrom<Interval> for TimeDelta {
    type Error = ConversionError;

    /// Days count as 24 hours. Fails when `months != 0` (a month has no fixed length) and
    /// for ±infinity.
    fn try_from(i: Interval) -> Result<Self, ConversionError> {
        if i.months() != 0 {
            return Err(ConversionError::invalid(
                "chrono::TimeDelta",
                "an interval with months has no fixed length: read it as pgline::types::Interval",
            ));
        }
        let us = i128::from(i.days()) * i128::from(USECS_PER_DAY) + i128::from(i.micros());
        i64::try_from(us)
            .map(Self::microseconds)
            .map_err(|_| ConversionError::invalid("chrono::TimeDelta", "interval out of range"))
    }
}

impl TryFrom<TimeDelta> for Interval {
    type Error = ConversionError;

    /// Microseconds only (months and days 0); nanoseconds truncated. Fails beyond
    /// `i64` microseconds (about 292,000 years).
    fn try_from(d: TimeDelta) -> Result<Self, ConversionError> {
        d.num_microseconds()
            .map(|us| Self::new(0, 0, us))
            .ok_or(ConversionError::invalid(
                "chrono::TimeDelta",
                "interval out of range",
            ))
    }
}

via_pgline!(NaiveDate, Date, "chrono::NaiveDate");
via_pgline!(NaiveTime, Time, "chrono::NaiveTime");
via_pgline!(NaiveDateTime, Timestamp, "chrono::NaiveDateTime");
via_pgline!(DateTime<Utc>, TimestampTz, "chrono::DateTime<Utc>");
via_pgline!(
    DateTime<FixedOffset>,
    TimestampTz,
    "chrono::DateTime<FixedOffset>"
);
