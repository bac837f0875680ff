//! [`Interval`]: `interval`, months, days and microseconds kept apart as the server does.

use std::fmt;
use std::str::FromStr;

use bytes::{BufMut, BytesMut};

use super::super::oid::{self, is_unspecified};
use super::super::scalar::parse_int;
use super::super::{
    check_accepts, ConversionError, Format, FromSql, IsNull, Oid, ToSql, ValueType,
};
use super::{fmt_hms, put_text, text_input, wire, Cursor, Wire};

const RUST: &str = "Interval";
const USECS_PER_HOUR: i64 = 3_600_000_000;

/// A PostgreSQL `interval`: months, days and microseconds, kept apart because a month
/// has no fixed number of days and a day no fixed number of microseconds (across a DST
/// change). Any combination of signs is a value: `-1 days +02:03:00`.
///
/// There is deliberately no conversion to a fixed duration that ignores months; the
/// `time` and `chrono` conversions fail when `months != 0` and count a day as 24 hours.
/// Equality is field by field: `1 mon` and `30 days` differ here, although the
/// server's `=` calls them equal.
///
/// Displayed in the server's default `IntervalStyle = postgres`:
///
/// ```
/// use pgline::types::Interval;
///
/// let i = Interval::new(14, 3, 14_706_789_000);
/// assert_eq!(i.to_string(), "1 year 2 mons 3 days 04:05:06.789");
/// assert_eq!("-1 days +02:03:00".parse::<Interval>().unwrap(), Interval::new(0, -1, 7_380_000_000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Interval {
    months: i32,
    days: i32,
    micros: i64,
}

impl Interval {
    /// `00:00:00`.
    pub const ZERO: Self = Self::new(0, 0, 0);
    /// `infinity` (PostgreSQL 17 and later): every field at its maximum.
    pub const INFINITY: Self = Self::new(i32::MAX, i32::MAX, i64::MAX);
    /// `-infinity` (PostgreSQL 17 and later): every field at its minimum.
    pub const NEG_INFINITY: Self = Self::new(i32::MIN, i32::MIN, i64::MIN);

    /// An interval of `months`, `days` and `micros`, each with its own sign.
    pub const fn new(months: i32, days: i32, micros: i64) -> Self {
        Self {
            months,
            days,
            micros,
        }
    }

    /// The months (a year is 12).
    pub const fn months(self) -> i32 {
        self.months
    }

    /// The days.
    pub const fn days(self) -> i32 {
        self.days
    }

    /// The microseconds.
    pub const fn micros(self) -> i64 {
        self.micros
    }

    /// Whether this is neither [`INFINITY`](Self::INFINITY) nor
    /// [`NEG_INFINITY`](Self::NEG_INFINITY).
    pub fn is_finite(self) -> bool {
        self != Self::INFINITY && self != Self::NEG_INFINITY
    }
}

/// PostgreSQL's `AddPostgresIntPart`: ` +3 days`, with the sign-before rule kept.
fn fmt_part(
    f: &mut fmt::Formatter<'_>,
    value: i32,
    unit: &str,
    is_zero: &mut bool,
    is_before: &mut bool,
) -> fmt::Result {
    if value == 0 {
        return Ok(());
    }
    let space = if *is_zero { "" } else { " " };
    let plus = if *is_before && value > 0 { "+" } else { "" };
    let s = if value != 1 { "s" } else { "" };
    write!(f, "{space}{plus}{value} {unit}{s}")?;
    // Each nonzero field sets is_before for (only) the next one.
    *is_before = value < 0;
    *is_zero = false;
    Ok(())
}

impl fmt::Display for Interval {
    /// `IntervalStyle = postgres`, as `EncodeInterval` writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Self::INFINITY {
            return f.write_str("infinity");
        }
        if *self == Self::NEG_INFINITY {
            return f.write_str("-infinity");
        }
        let (mut is_zero, mut is_before) = (true, false);
        // Truncating division, as in C: every part has the sign of its field.
        fmt_part(f, self.months / 12, "year", &mut is_zero, &mut is_before)?;
        fmt_part(f, self.months % 12, "mon", &mut is_zero, &mut is_before)?;
        fmt_part(f, self.days, "day", &mut is_zero, &mut is_before)?;
        if is_zero || self.micros != 0 {
            let space = if is_zero { "" } else { " " };
            let sign = match (self.micros < 0, is_before) {
                (true, _) => "-",
                (false, true) => "+",
                (false, false) => "",
            };
            write!(f, "{space}{sign}")?;
            let hours = (self.micros / USECS_PER_HOUR).unsigned_abs();
            let rest = (self.micros % USECS_PER_HOUR).unsigned_abs();
            fmt_hms(f, hours, rest)?;
        }
        Ok(())
    }
}

/// `[+|-]H+:MM:SS[.f]` in microseconds, signed.
fn parse_clock(token: &str, lenient: bool) -> Result<i128, &'static str> {
    const BAD: &str = "not an interval time part ([+|-]HH:MM:SS[.ffffff])";
    let (negative, rest) = match token.as_bytes().first() {
        Some(b'-') => (true, token.get(1..).unwrap_or("")),
        Some(b'+') => (false, token.get(1..).unwrap_or("")),
        _ => (false, token),
    };
    let mut c = Cursor::new(rest);
    // An i64 of microseconds is at most 2,562,047,788 hours: 10 digits.
    let h = c.digits(2, 10).ok_or(BAD)?;
    let m = c.eat(b':').then(|| c.digits(2, 2)).flatten().ok_or(BAD)?;
    let s = c.eat(b':').then(|| c.digits(2, 2)).flatten().ok_or(BAD)?;
    let frac = c.fraction(lenient).ok_or(BAD)?;
    if !c.is_empty() {
        return Err(BAD);
    }
    if m > 59 || s > 59 {
        return Err("interval minutes or seconds out of range");
    }
    let us =
        ((i128::from(h) * 60 + i128::from(m)) * 60 + i128::from(s)) * 1_000_000 + i128::from(frac);
    Ok(if negative { -us } else { us })
}

fn parse(s: &str, lenient: bool) -> Result<Interval, &'static str> {
    const BAD: &str = "not an interval in IntervalStyle postgres (e.g. \
                       1 year 2 mons 3 days 04:05:06.789): text-format intervals are read in \
                       that style only (was IntervalStyle changed with SET?)";
    let s = text_input(s, lenient);
    match s {
        "infinity" => return Ok(Interval::INFINITY),
        "-infinity" => return Ok(Interval::NEG_INFINITY),
        "" => return Err(BAD),
        _ => {}
    }
    let (mut months, mut days, mut micros) = (0i64, 0i64, 0i128);
    // Units must come in the server's order: years, months, days, then the time.
    let mut rank = 0;
    let mut tokens = s.split(' ');
    while let Some(token) = tokens.next() {
        if rank == 4 {
            return Err("trailing characters after the interval's time part");
        }
        if token.contains(':') {
            micros = parse_clock(token, lenient)?;
            rank = 4;
            continue;
        }
        let n = parse_int(token.as_bytes(), false).ok_or(BAD)?;
        let (r, scale) = match tokens.next().ok_or(BAD)? {
            "year" | "years" => (1, 12),
            "mon" | "mons" => (2, 1),
            "day" | "days" => (3, 1),
            _ => return Err(BAD),
        };
        if r <= rank {
            return Err(BAD);
        }
        rank = r;
        let v = n.checked_mul(scale).ok_or("interval out of range")?;
        match r {
            3 => days = v,
            _ => months = months.checked_add(v).ok_or("interval out of range")?,
        }
    }
    let out_of_range = "interval out of range";
    Ok(Interval::new(
        i32::try_from(months).map_err(|_| out_of_range)?,
        i32::try_from(days).map_err(|_| out_of_range)?,
        i64::try_from(micros).map_err(|_| out_of_range)?,
    ))
}

impl FromStr for Interval {
    type Err = ConversionError;

    /// Reads `IntervalStyle = postgres` (what `Display` prints).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s, false).map_err(|reason| ConversionError::invalid(RUST, reason))
    }
}

impl ToSql for Interval {
    fn type_oid(&self) -> Oid {
        oid::INTERVAL
    }

    fn accepts(&self, oid: Oid) -> bool {
        oid == oid::INTERVAL || is_unspecified(oid)
    }

    fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
        crate::types::ensure_accepted(self.accepts(ty.oid), RUST, ty.oid)?;
        match ty.format {
            // interval_send: time, then day, then month.
            Format::Binary => {
                out.put_i64(self.micros);
                out.put_i32(self.days);
                out.put_i32(self.months);
            }
            Format::Text => put_text(out, self, RUST)?,
        }
        Ok(IsNull::No)
    }

    fn null_type_oid() -> Oid {
        oid::INTERVAL
    }
}

impl FromSql<'_> for Interval {
    fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
        check_accepts::<Self>(ty, RUST)?;
        match wire::<16>(ty, raw, RUST)? {
            Wire::Binary(b) => {
                let (micros, rest) = b.split_at(8);
                let (days, months) = rest.split_at(4);
                match (
                    <[u8; 8]>::try_from(micros),
                    <[u8; 4]>::try_from(days),
                    <[u8; 4]>::try_from(months),
                ) {
                    (Ok(us), Ok(d), Ok(m)) => Ok(Self::new(
                        i32::from_be_bytes(m),
                        i32::from_be_bytes(d),
                        i64::from_be_bytes(us),
                    )),
                    _ => Err(ConversionError::invalid(RUST, "wrong binary length")),
                }
            }
            Wire::Text(s) => {
                parse(s, ty.lenient).map_err(|reason| ConversionError::invalid(RUST, reason))
            }
        }
    }

    fn from_sql_null(_ty: ValueType) -> Result<Self, ConversionError> {
        Err(ConversionError::UnexpectedNull { rust: RUST })
    }

    fn accepts(oid: Oid) -> bool {
        oid == oid::INTERVAL
    }
}
