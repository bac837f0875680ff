//! Byte-level tests for the date and time types: both formats, strict and lenient, the
//! range edges, and hostile input.

use std::fmt;

use bytes::BytesMut;
use proptest::prelude::*;

use super::super::oid::*;
use super::super::{decode_value, ConversionError, Format, FromSql, IsNull, Oid, ToSql, ValueType};
use super::*;

const B: Format = Format::Binary;
const T: Format = Format::Text;

fn encode<V: ToSql>(v: &V, format: Format) -> Vec<u8> {
    let mut out = BytesMut::new();
    let ty = ValueType::new(v.type_oid(), format);
    assert_eq!(v.to_sql(ty, &mut out), Ok(IsNull::No));
    if let Some(fixed) = v.to_sql_fixed(ty) {
        assert_eq!(fixed.value(), &out[..], "to_sql_fixed agrees with to_sql");
    }
    out.to_vec()
}

fn decode<V: for<'a> FromSql<'a>>(
    oid: Oid,
    format: Format,
    raw: &[u8],
) -> Result<V, ConversionError> {
    decode_value(ValueType::new(oid, format), Some(raw))
}

fn lenient<V: for<'a> FromSql<'a>>(
    oid: Oid,
    format: Format,
    raw: &[u8],
) -> Result<V, ConversionError> {
    decode_value(ValueType::lenient(oid, format), Some(raw))
}

/// Both formats, strictly, through the value's own OID.
fn round_trips<V>(v: V)
where
    V: ToSql + for<'a> FromSql<'a> + PartialEq + fmt::Debug + fmt::Display + std::str::FromStr,
    <V as std::str::FromStr>::Err: fmt::Debug,
{
    for format in [B, T] {
        let bytes = encode(&v, format);
        assert_eq!(
            decode::<V>(v.type_oid(), format, &bytes).unwrap(),
            v,
            "{format:?}"
        );
    }
    assert_eq!(v.to_string().parse::<V>().unwrap(), v);
    assert_eq!(encode(&v, T), v.to_string().into_bytes());
}

fn invalid(e: ConversionError) -> &'static str {
    match e {
        ConversionError::Invalid { reason, .. } => reason,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn ymd(y: i32, m: u32, d: u32) -> Date {
    Date::from_ymd(y, m, d).unwrap()
}

fn hms(h: u32, m: u32, s: u32, us: u32) -> Time {
    Time::from_hms_micro(h, m, s, us).unwrap()
}

// ---------------------------------------------------------------------------------------
// Range edges

#[test]
fn date_range_is_postgres_range_from_4714_bc_to_5874897() {
    assert_eq!(Date::MIN.ymd(), Some((-4713, 11, 24)));
    assert_eq!(Date::MAX.ymd(), Some((5_874_897, 12, 31)));
    assert_eq!(Date::MIN.to_string(), "4714-11-24 BC");
    assert_eq!(Date::MAX.to_string(), "5874897-12-31");
    assert_eq!(Date::from_ymd(-4713, 11, 23), None);
    assert_eq!(Date::from_ymd(5_874_898, 1, 1), None);
    assert_eq!(Date::from_pg_days(Date::MIN.pg_days() - 1), None);
    assert_eq!(Date::from_pg_days(Date::MAX.pg_days() + 1), None);
    assert_eq!(ymd(2000, 1, 1), Date::PG_EPOCH);
}

#[test]
fn timestamp_range_is_postgres_range_from_4714_bc_to_294276() {
    assert_eq!(
        Timestamp::MIN.date_time(),
        Some((Date::MIN, Time::MIDNIGHT))
    );
    assert_eq!(
        Timestamp::MAX.date_time(),
        Some((ymd(294_276, 12, 31), hms(23, 59, 59, 999_999)))
    );
    assert_eq!(Timestamp::MAX.to_string(), "294276-12-31 23:59:59.999999");
    assert_eq!(Timestamp::MIN.to_string(), "4714-11-24 00:00:00 BC");
    assert_eq!(
        TimestampTz::MAX.to_string(),
        "294276-12-31 23:59:59.999999+00"
    );
    assert_eq!(
        Timestamp::from_pg_micros(Timestamp::MAX.pg_micros() + 1),
        None
    );
    assert_eq!(Timestamp::from_pg_micros(i64::MAX - 1), None);
    assert_eq!(Timestamp::new(ymd(294_277, 1, 1), Time::MIDNIGHT), None);
}

// ---------------------------------------------------------------------------------------
// Text forms, as the server prints them

#[test]
fn display_matches_the_servers_iso_output() {
    assert_eq!(ymd(2024, 1, 15).to_string(), "2024-01-15");
    assert_eq!(ymd(-43, 3, 15).to_string(), "0044-03-15 BC");
    assert_eq!(ymd(0, 1, 1).to_string(), "0001-01-01 BC");
    assert_eq!(ymd(12_345, 6, 7).to_string(), "12345-06-07");
    assert_eq!(Date::INFINITY.to_string(), "infinity");
    assert_eq!(Date::NEG_INFINITY.to_string(), "-infinity");
    assert_eq!(hms(4, 5, 6, 789_000).to_string(), "04:05:06.789");
    assert_eq!(hms(0, 0, 0, 1).to_string(), "00:00:00.000001");
    assert_eq!(Time::END_OF_DAY.to_string(), "24:00:00");
    let tz = |t, off| TimeTz::new(t, off).unwrap().to_string();
    assert_eq!(tz(hms(4, 5, 6, 0), 19_800), "04:05:06+05:30");
    assert_eq!(tz(hms(4, 5, 6, 0), -8 * 3600), "04:05:06-08");
    assert_eq!(tz(hms(4, 5, 6, 0), 0), "04:05:06+00");
    assert_eq!(tz(hms(4, 5, 6, 0), -(3600 + 60 + 1)), "04:05:06-01:01:01");
    let ts = Timestamp::new(ymd(-43, 3, 15), hms(10, 0, 0, 500_000)).unwrap();
    assert_eq!(ts.to_string(), "0044-03-15 10:00:00.5 BC");
    assert_eq!(
        TimestampTz::from_utc(ts).to_string(),
        "0044-03-15 10:00:00.5+00 BC"
    );
    assert_eq!(Timestamp::INFINITY.to_string(), "infinity");
    assert_eq!(TimestampTz::NEG_INFINITY.to_string(), "-infinity");
}

#[test]
fn intervals_display_in_intervalstyle_postgres() {
    let cases = [
        (
            Interval::new(14, 3, 14_706_789_000),
            "1 year 2 mons 3 days 04:05:06.789",
        ),
        (Interval::new(0, -1, 7_380_000_000), "-1 days +02:03:00"),
        (Interval::ZERO, "00:00:00"),
        (Interval::new(1, 1, 0), "1 mon 1 day"),
        (Interval::new(-12, 0, 0), "-1 years"),
        (Interval::new(-13, 0, 0), "-1 years -1 mons"),
        (Interval::new(-12, 3, 0), "-1 years +3 days"),
        (Interval::new(0, 0, -1), "-00:00:00.000001"),
        (Interval::new(12, 0, -3_600_000_000), "1 year -01:00:00"),
        (Interval::new(0, 0, 100 * 3_600_000_000), "100:00:00"),
        (Interval::INFINITY, "infinity"),
        (Interval::NEG_INFINITY, "-infinity"),
        (
            Interval::new(i32::MIN, i32::MIN, i64::MAX - 1),
            "-178956970 years -8 mons -2147483648 days +2562047788:00:54.775806",
        ),
    ];
    for (v, text) in cases {
        assert_eq!(v.to_string(), text);
        assert_eq!(text.parse::<Interval>().unwrap(), v, "{text}");
    }
}

#[test]
fn text_that_postgres_never_prints_is_rejected_with_a_reason() {
    assert!(invalid("23:59:60".parse::<Time>().unwrap_err()).contains("leap second"));
    assert!(
        invalid("2016-12-31 23:59:60".parse::<Timestamp>().unwrap_err()).contains("leap second")
    );
    assert!(invalid("2023-02-29".parse::<Date>().unwrap_err()).contains("no such day"));
    assert!(invalid("2024-02-30".parse::<Date>().unwrap_err()).contains("no such day"));
    assert!(invalid("0000-01-01".parse::<Date>().unwrap_err()).contains("year 0"));
    assert!(invalid("4714-11-23 BC".parse::<Date>().unwrap_err()).contains("out of range"));
    assert!(invalid("24:00:01".parse::<Time>().unwrap_err()).contains("24:00:00"));
    assert!(
        invalid("294277-01-01 00:00:00".parse::<Timestamp>().unwrap_err()).contains("out of range")
    );
    assert!("04:05:06+16:00".parse::<TimeTz>().is_err());
    assert!("04:05:06".parse::<TimeTz>().is_err());
    assert!("2024-01-15 10:11:12+01".parse::<Timestamp>().is_err());
    assert!("2024-01-15T10:11:12".parse::<Timestamp>().is_err());
    assert!("2024-01-15 10:11:12.1234567".parse::<Timestamp>().is_err());
    assert!("15/01/2024".parse::<Date>().is_err());
    assert!("2 mons 1 year".parse::<Interval>().is_err());
    assert!("1 year 1 year".parse::<Interval>().is_err());
    assert!("01:00:00 1 day".parse::<Interval>().is_err());
    assert!("P1Y".parse::<Interval>().is_err());
    assert!("".parse::<Interval>().is_err());
    assert!("178956971 years".parse::<Interval>().is_err());
    assert!("2562047789:00:00".parse::<Interval>().is_err());
}

#[test]
fn timestamptz_text_in_another_zone_is_read_as_utc() {
    let a: TimestampTz = "2024-01-15 15:41:12.25+05:30".parse().unwrap();
    let b: TimestampTz = "2024-01-15 10:11:12.25+00".parse().unwrap();
    assert_eq!(a, b);
    // Local mean time offsets have seconds (Europe/Amsterdam before 1937, say).
    let lmt: TimestampTz = "1900-01-01 00:19:32+00:19:32".parse().unwrap();
    assert_eq!(lmt.to_string(), "1900-01-01 00:00:00+00");
    let bc: TimestampTz = "0044-03-15 10:00:00-01 BC".parse().unwrap();
    assert_eq!(bc.to_string(), "0044-03-15 11:00:00+00 BC");
}

// ---------------------------------------------------------------------------------------
// Round trips

#[test]
fn edge_values_round_trip_in_both_formats() {
    for d in [
        Date::INFINITY,
        Date::NEG_INFINITY,
        Date::MIN,
        Date::MAX,
        ymd(-43, 3, 15),
        ymd(0, 2, 29),
    ] {
        round_trips(d);
    }
    for t in [Time::MIDNIGHT, Time::END_OF_DAY, hms(23, 59, 59, 999_999)] {
        round_trips(t);
    }
    for off in [0, 19_800, -57_599, 57_599] {
        round_trips(TimeTz::new(Time::END_OF_DAY, off).unwrap());
    }
    for us in [
        i64::MAX,
        i64::MIN,
        Timestamp::MIN.pg_micros(),
        Timestamp::MAX.pg_micros(),
        -1,
        0,
    ] {
        round_trips(Timestamp::from_pg_micros(us).unwrap());
        round_trips(TimestampTz::from_pg_micros(us).unwrap());
    }
    for i in [
        Interval::INFINITY,
        Interval::NEG_INFINITY,
        Interval::new(i32::MIN, i32::MAX, i64::MIN),
        Interval::new(-1, 1, -1),
        Interval::new(0, -1, 7_380_000_000),
    ] {
        round_trips(i);
    }
}

#[test]
fn binary_forms_follow_the_server_layouts() {
    assert_eq!(encode(&Date::INFINITY, B), i32::MAX.to_be_bytes());
    assert_eq!(encode(&ymd(2000, 1, 2), B), 1i32.to_be_bytes());
    assert_eq!(encode(&Timestamp::NEG_INFINITY, B), i64::MIN.to_be_bytes());
    let tz = TimeTz::new(hms(4, 5, 6, 0), 19_800).unwrap();
    assert_eq!(
        encode(&tz, B),
        [
            &14_706_000_000i64.to_be_bytes()[..], // microseconds
            &(-19_800i32).to_be_bytes(),          // zone, seconds west
        ]
        .concat()
    );
    assert_eq!(
        encode(&Interval::new(14, 3, 5), B),
        [
            &5i64.to_be_bytes()[..], // microseconds
            &3i32.to_be_bytes(),     // days
            &14i32.to_be_bytes(),    // months
        ]
        .concat()
    );
}

fn dates() -> impl Strategy<Value = Date> {
    (Date::MIN.pg_days()..=Date::MAX.pg_days()).prop_map(|d| Date::from_pg_days(d).unwrap())
}

fn micros() -> impl Strategy<Value = i64> {
    prop_oneof![
        Timestamp::MIN.pg_micros()..=Timestamp::MAX.pg_micros(),
        // Around the PostgreSQL epoch and the Common Era's start, where signs flip.
        -100_000_000_000_000i64..100_000_000_000_000,
        -63_200_000_000_000_000i64..-63_000_000_000_000_000,
    ]
}

proptest! {
    #[test]
    fn every_date_round_trips(d in dates()) {
        round_trips(d);
        let (y, m, day) = d.ymd().unwrap();
        prop_assert_eq!(Date::from_ymd(y, m, day), Some(d));
    }

    #[test]
    fn every_time_round_trips(us in 0..=86_400_000_000i64, off in -57_599..=57_599i32) {
        let t = Time::from_micros(us).unwrap();
        round_trips(t);
        let (h, m, s, micro) = t.hms_micro();
        prop_assert_eq!(Time::from_hms_micro(h, m, s, micro), Some(t));
        round_trips(TimeTz::new(t, off).unwrap());
    }

    #[test]
    fn every_timestamp_round_trips(us in micros()) {
        let ts = Timestamp::from_pg_micros(us).unwrap();
        round_trips(ts);
        round_trips(TimestampTz::from_pg_micros(us).unwrap());
        let (d, t) = ts.date_time().unwrap();
        prop_assert_eq!(Timestamp::new(d, t), Some(ts));
    }

    #[test]
    fn every_interval_round_trips(months: i32, days: i32, us: i64) {
        round_trips(Interval::new(months, days, us));
    }

    #[test]
    fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..40)) {
        for ty in [
            ValueType::new(DATE, B), ValueType::new(DATE, T),
            ValueType::lenient(DATE, B), ValueType::lenient(TEXT, T),
        ] {
            let _ = decode_value::<Date>(ty, Some(&raw));
        }
        for format in [B, T] {
            let _ = decode::<Time>(TIME, format, &raw);
            let _ = decode::<TimeTz>(TIMETZ, format, &raw);
            let _ = decode::<Timestamp>(TIMESTAMP, format, &raw);
            let _ = decode::<TimestampTz>(TIMESTAMPTZ, format, &raw);
            let _ = decode::<Interval>(INTERVAL, format, &raw);
            let _ = lenient::<Time>(TEXT, format, &raw);
            let _ = lenient::<TimeTz>(TEXT, format, &raw);
            let _ = lenient::<Timestamp>(TEXT, format, &raw);
            let _ = lenient::<TimestampTz>(TEXT, format, &raw);
            let _ = lenient::<Interval>(TEXT, format, &raw);
        }
        let s = String::from_utf8_lossy(&raw);
        let _ = s.parse::<Date>();
        let _ = s.parse::<Interval>();
        let _ = s.parse::<TimestampTz>();
    }

    #[test]
    fn arbitrary_text_shaped_like_the_iso_forms_never_panics(s in "[-+0-9: .BCTZ]{0,40}") {
        let _ = s.parse::<Date>();
        let _ = s.parse::<Time>();
        let _ = s.parse::<TimeTz>();
        let _ = s.parse::<Timestamp>();
        let _ = s.parse::<TimestampTz>();
        let _ = s.parse::<Interval>();
    }

    #[test]
    fn binary_values_out_of_range_are_errors_not_panics(d: i32, us: i64, zone: i32) {
        let date = decode::<Date>(DATE, B, &d.to_be_bytes());
        prop_assert_eq!(date.is_ok(), Date::from_pg_days(d).is_some());
        let ts = decode::<Timestamp>(TIMESTAMP, B, &us.to_be_bytes());
        prop_assert_eq!(ts.is_ok(), Timestamp::from_pg_micros(us).is_some());
        let raw = [&us.to_be_bytes()[..], &zone.to_be_bytes()].concat();
        let tz = decode::<TimeTz>(TIMETZ, B, &raw);
        prop_assert_eq!(tz.is_ok(), (0..=86_400_000_000).contains(&us) && zone.unsigned_abs() < 57_600);
    }
}

// ---------------------------------------------------------------------------------------
// Hostile and lenient input

#[test]
fn binary_values_of_the_wrong_length_are_rejected() {
    for raw in [&[][..], &[0; 3], &[0; 5], &[0; 8]] {
        assert_eq!(
            invalid(decode::<Date>(DATE, B, raw).unwrap_err()),
            "wrong binary length"
        );
    }
    for raw in [&[0; 7][..], &[0; 9]] {
        assert!(decode::<Time>(TIME, B, raw).is_err());
        assert!(decode::<Timestamp>(TIMESTAMP, B, raw).is_err());
        assert!(decode::<TimestampTz>(TIMESTAMPTZ, B, raw).is_err());
    }
    assert!(decode::<TimeTz>(TIMETZ, B, &[0; 8]).is_err());
    assert!(decode::<Interval>(INTERVAL, B, &[0; 15]).is_err());
    assert!(decode::<Interval>(INTERVAL, B, &[0; 17]).is_err());
}

#[test]
fn strict_mode_checks_the_type_oid() {
    let e = decode::<Date>(TIMESTAMP, B, &[0; 4]).unwrap_err();
    assert_eq!(
        e,
        ConversionError::WrongType {
            rust: "Date",
            oid: TIMESTAMP
        }
    );
    assert!(decode::<Timestamp>(TIMESTAMPTZ, B, &[0; 8]).is_err());
    assert!(decode::<TimestampTz>(TIMESTAMP, B, &[0; 8]).is_err());
    let mut out = BytesMut::new();
    assert!(Timestamp::MAX
        .to_sql(ValueType::new(TIMESTAMPTZ, B), &mut out)
        .is_err());
    assert!(out.is_empty());
}

#[test]
fn lenient_mode_reads_text_in_binary_columns_and_iris_day_counts() {
    assert_eq!(
        lenient::<Date>(DATE, T, b" 8780 ").unwrap(),
        ymd(2024, 1, 15)
    );
    assert_eq!(lenient::<Date>(DATE, B, b"8780").unwrap(), ymd(2024, 1, 15));
    assert_eq!(
        lenient::<Date>(VARCHAR, B, b"2024-01-15").unwrap(),
        ymd(2024, 1, 15)
    );
    assert_eq!(
        lenient::<Time>(TIME, B, b"10:11:12").unwrap(),
        hms(10, 11, 12, 0)
    );
    assert_eq!(
        lenient::<Time>(TEXT, T, b"10:11:12.123456789").unwrap(),
        hms(10, 11, 12, 123_456)
    );
    let ts = Timestamp::new(ymd(2024, 1, 15), hms(10, 11, 12, 0)).unwrap();
    assert_eq!(
        lenient::<Timestamp>(TEXT, T, b"2024-01-15T10:11:12").unwrap(),
        ts
    );
    assert_eq!(
        lenient::<Timestamp>(TEXT, T, b"2024-01-15").unwrap(),
        ts.date_time()
            .map(|(d, _)| Timestamp::new(d, Time::MIDNIGHT).unwrap())
            .unwrap()
    );
    assert_eq!(
        lenient::<TimestampTz>(TIMESTAMPTZ, B, b"2024-01-15 10:11:12Z").unwrap(),
        TimestampTz::from_utc(ts)
    );
    assert_eq!(
        lenient::<Interval>(TEXT, T, b" 1 day 01:00:00 ").unwrap(),
        Interval::new(0, 1, 3_600_000_000)
    );
    // Strict mode takes none of that.
    assert!(decode::<Date>(DATE, T, b"8780").is_err());
    assert!(decode::<Time>(TIME, B, b"10:11").is_err());
}

#[test]
fn non_utf8_text_is_an_error() {
    assert!(decode::<Date>(DATE, T, b"\xff").is_err());
    assert!(decode::<Interval>(INTERVAL, T, b"1 day\xc0").is_err());
}

// ---------------------------------------------------------------------------------------
// chrono and time

#[cfg(feature = "chrono")]
mod chrono_types {
    use ::chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};

    use super::*;

    #[test]
    fn chrono_values_convert_through_pgline_types_in_both_formats() {
        let d = NaiveDate::from_ymd_opt(-43, 3, 15).unwrap();
        assert_eq!(Date::try_from(d).unwrap(), ymd(-43, 3, 15));
        assert_eq!(encode(&d, B), encode(&ymd(-43, 3, 15), B));
        assert_eq!(encode(&d, T), b"0044-03-15 BC");
        let t = NaiveTime::from_hms_micro_opt(4, 5, 6, 789_000).unwrap();
        let dt = d.and_time(t);
        let utc = DateTime::<Utc>::from_naive_utc_and_offset(dt, Utc);
        let fixed: DateTime<FixedOffset> = utc.fixed_offset();
        for format in [B, T] {
            assert_eq!(
                decode::<NaiveDate>(DATE, format, &encode(&d, format)).unwrap(),
                d
            );
            assert_eq!(
                decode::<NaiveTime>(TIME, format, &encode(&t, format)).unwrap(),
                t
            );
            assert_eq!(
                decode::<NaiveDateTime>(TIMESTAMP, format, &encode(&dt, format)).unwrap(),
                dt
            );
            assert_eq!(
                decode::<DateTime<Utc>>(TIMESTAMPTZ, format, &encode(&utc, format)).unwrap(),
                utc
            );
            assert_eq!(
                decode::<DateTime<FixedOffset>>(TIMESTAMPTZ, format, &encode(&fixed, format))
                    .unwrap(),
                fixed
            );
        }
        // An offset other than UTC is the same instant, read back at +00:00.
        let east = utc.with_timezone(&FixedOffset::east_opt(19_800).unwrap());
        let back = decode::<DateTime<FixedOffset>>(TIMESTAMPTZ, B, &encode(&east, B)).unwrap();
        assert_eq!(back, east);
        assert_eq!(back.offset().local_minus_utc(), 0);
    }

    #[test]
    fn chrono_refuses_infinity_and_24_00_with_a_reason_naming_pgline_types() {
        let e = decode::<NaiveDate>(DATE, B, &i32::MAX.to_be_bytes()).unwrap_err();
        assert!(invalid(e).contains("pgline::types::Date"));
        let e = decode::<DateTime<Utc>>(TIMESTAMPTZ, T, b"-infinity").unwrap_err();
        assert!(matches!(
            e,
            ConversionError::Invalid { rust: "chrono::DateTime<Utc>", reason } if reason.contains("infinity")
        ));
        assert!(decode::<NaiveTime>(TIME, T, b"24:00:00").is_err());
        assert!(decode::<NaiveDate>(DATE, T, b"5874897-12-31").is_err());
        assert!(TimeDelta::try_from(Interval::new(1, 0, 0)).is_err());
        assert_eq!(
            TimeDelta::try_from(Interval::new(0, -1, 7_380_000_000)).unwrap(),
            TimeDelta::microseconds(-86_400_000_000 + 7_380_000_000)
        );
        assert_eq!(
            Interval::try_from(TimeDelta::seconds(2)).unwrap(),
            Interval::new(0, 0, 2_000_000)
        );
        let leap = NaiveTime::from_hms_nano_opt(23, 59, 59, 1_500_000_000).unwrap();
        assert!(invalid(Time::try_from(leap).unwrap_err()).contains("leap second"));
    }

    proptest! {
        #[test]
        fn chrono_dates_and_timestamps_within_both_ranges_round_trip(us in -211_813_488_000_000_000i64..8_000_000_000_000_000_000) {
            let ts = Timestamp::from_pg_micros(us).unwrap();
            let dt = NaiveDateTime::try_from(ts).unwrap();
            prop_assert_eq!(Timestamp::try_from(dt).unwrap(), ts);
            let (d, _) = ts.date_time().unwrap();
            prop_assert_eq!(Date::try_from(NaiveDate::try_from(d).unwrap()).unwrap(), d);
        }
    }
}

#[cfg(feature = "time")]
mod time_types {
    use ::time::{Duration, Month, OffsetDateTime, PrimitiveDateTime, UtcOffset};

    use super::*;

    #[test]
    fn time_crate_values_convert_through_pgline_types_in_both_formats() {
        let d = ::time::Date::from_calendar_date(-43, Month::March, 15).unwrap();
        assert_eq!(Date::try_from(d).unwrap(), ymd(-43, 3, 15));
        let t = ::time::Time::from_hms_micro(4, 5, 6, 789_000).unwrap();
        let dt = PrimitiveDateTime::new(d, t);
        let odt = dt.assume_utc();
        for format in [B, T] {
            assert_eq!(
                decode::<::time::Date>(DATE, format, &encode(&d, format)).unwrap(),
                d
            );
            assert_eq!(
                decode::<::time::Time>(TIME, format, &encode(&t, format)).unwrap(),
                t
            );
            assert_eq!(
                decode::<PrimitiveDateTime>(TIMESTAMP, format, &encode(&dt, format)).unwrap(),
                dt
            );
            assert_eq!(
                decode::<OffsetDateTime>(TIMESTAMPTZ, format, &encode(&odt, format)).unwrap(),
                odt
            );
        }
        let east = odt.to_offset(UtcOffset::from_whole_seconds(19_800).unwrap());
        let back = decode::<OffsetDateTime>(TIMESTAMPTZ, B, &encode(&east, B)).unwrap();
        assert_eq!(back, east);
        assert_eq!(back.offset(), UtcOffset::UTC);
    }

    #[test]
    fn time_crate_refuses_what_it_cannot_hold() {
        assert!(
            invalid(decode::<::time::Date>(DATE, T, b"infinity").unwrap_err()).contains("infinity")
        );
        assert!(decode::<::time::Date>(DATE, T, b"10000-01-01").is_err());
        assert!(decode::<::time::Time>(TIME, B, &86_400_000_000i64.to_be_bytes()).is_err());
        assert!(decode::<OffsetDateTime>(TIMESTAMPTZ, B, &i64::MAX.to_be_bytes()).is_err());
        assert!(Duration::try_from(Interval::new(-1, 0, 0)).is_err());
        assert_eq!(
            Duration::try_from(Interval::new(0, 1, 1)).unwrap(),
            Duration::microseconds(86_400_000_001)
        );
        assert_eq!(
            Interval::try_from(Duration::nanoseconds(1_999)).unwrap(),
            Interval::new(0, 0, 1)
        );
    }

    proptest! {
        #[test]
        fn time_crate_timestamps_within_both_ranges_round_trip(us in -211_813_488_000_000_000i64..250_000_000_000_000_000) {
            let ts = TimestampTz::from_pg_micros(us).unwrap();
            let odt = OffsetDateTime::try_from(ts).unwrap();
            prop_assert_eq!(TimestampTz::try_from(odt).unwrap(), ts);
            let naive = PrimitiveDateTime::try_from(ts.to_utc()).unwrap();
            prop_assert_eq!(Timestamp::try_from(naive).unwrap(), ts.to_utc());
        }
    }
}
