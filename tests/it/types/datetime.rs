//! Dates, times, timestamps and intervals against the real server, in both formats: each
//! value read from a literal, compared with the server's own `::text`, and sent back as a
//! parameter (issue 16).

use std::fmt::{Debug, Display};

use pgline::types::{Date, FromSql, Interval, Time, TimeTz, Timestamp, TimestampTz, ToSql};
use pgline::{Config, Connection};

use crate::support::conn::config;

/// A connection with results (and parameters) in text or binary, its TimeZone UTC so
/// that `timestamptz` text is comparable with `Display`.
async fn connect_with(text: bool) -> Connection {
    let mut cfg: Config = config("postgres", None);
    cfg.prefer_text_format(text);
    let mut c = Connection::connect(&cfg).await.expect("connect");
    c.batch_execute("SET TimeZone = 'UTC'").await.unwrap();
    c
}

/// Reads `'lit'::ty` as `T` and checks it is `want` and prints as the server does; sends
/// `want` as a parameter and checks the server reads the same value and renders it the
/// same way.
async fn check<T>(c: &mut Connection, ty: &str, lit: &str, want: T)
where
    T: ToSql + for<'a> FromSql<'a> + PartialEq + Debug + Display + Sync,
{
    let row = c
        .query_one(
            format!("SELECT '{lit}'::{ty}, '{lit}'::{ty}::text").as_str(),
            &[],
        )
        .await
        .unwrap();
    let server_text: String = row.get(1).unwrap();
    assert_eq!(row.get::<T>(0).unwrap(), want, "{ty} '{lit}' read");
    assert_eq!(want.to_string(), server_text, "{ty} '{lit}' printed");
    let row = c
        .query_one(
            format!("SELECT $1::{ty}::text, $1::{ty} = '{lit}'::{ty}, $1::{ty}").as_str(),
            &[&want],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<String>(0).unwrap(),
        server_text,
        "{ty} '{lit}' sent"
    );
    assert!(
        row.get::<bool>(1).unwrap(),
        "{ty} '{lit}' sent equals the literal"
    );
    assert_eq!(row.get::<T>(2).unwrap(), want, "{ty} '{lit}' round trip");
}

fn date(s: &str) -> Date {
    s.parse().unwrap()
}

#[tokio::test]
async fn dates_round_trip_in_both_formats_including_infinity_and_bc() {
    for text in [false, true] {
        let mut c = connect_with(text).await;
        for lit in [
            "2024-01-15",
            "2000-01-01",
            "infinity",
            "-infinity",
            "0044-03-15 BC",
            "0001-01-01 BC",
            "4714-11-24 BC",
            "5874897-12-31",
            "1999-12-31",
        ] {
            check(&mut c, "date", lit, date(lit)).await;
        }
        assert_eq!(date("4714-11-24 BC"), Date::MIN);
        assert_eq!(date("5874897-12-31"), Date::MAX);
    }
}

#[tokio::test]
async fn times_and_timetz_round_trip_in_both_formats_including_24_00() {
    for text in [false, true] {
        let mut c = connect_with(text).await;
        for lit in [
            "00:00:00",
            "04:05:06.789",
            "23:59:59.999999",
            "24:00:00",
            "12:00:00.000001",
        ] {
            check(&mut c, "time", lit, lit.parse::<Time>().unwrap()).await;
        }
        for lit in [
            "04:05:06+05:30",
            "04:05:06-08",
            "00:00:00+00",
            "24:00:00-15:59",
            "13:14:15.5+01:02:03",
        ] {
            check(&mut c, "timetz", lit, lit.parse::<TimeTz>().unwrap()).await;
        }
    }
}

#[tokio::test]
async fn timestamps_round_trip_in_both_formats_to_the_ends_of_the_range() {
    for text in [false, true] {
        let mut c = connect_with(text).await;
        for lit in [
            "2024-01-15 10:11:12.123456",
            "infinity",
            "-infinity",
            "294276-12-31 23:59:59.999999",
            "4714-11-24 00:00:00 BC",
            "0044-03-15 12:00:00.5 BC",
            "1969-12-31 23:59:59.999999",
        ] {
            check(&mut c, "timestamp", lit, lit.parse::<Timestamp>().unwrap()).await;
            let tz = if lit.ends_with("infinity") {
                lit.to_owned()
            } else if let Some(day) = lit.strip_suffix(" BC") {
                format!("{day}+00 BC")
            } else {
                format!("{lit}+00")
            };
            check(
                &mut c,
                "timestamptz",
                &tz,
                tz.parse::<TimestampTz>().unwrap(),
            )
            .await;
        }
        assert_eq!(
            "294276-12-31 23:59:59.999999".parse::<Timestamp>().unwrap(),
            Timestamp::MAX
        );
    }
}

#[tokio::test]
async fn intervals_round_trip_in_both_formats_with_mixed_signs() {
    for text in [false, true] {
        let mut c = connect_with(text).await;
        for lit in [
            "1 year 2 mons 3 days 04:05:06.789",
            "-1 days +02:03:00",
            "00:00:00",
            "-1 years -2 mons +3 days -04:05:06",
            "178956970 years 7 mons 2147483647 days 2562047788:00:54.775806",
            "-178956970 years -8 mons -2147483648 days -2562047788:00:54.775807",
            "00:00:00.000001",
        ] {
            check(&mut c, "interval", lit, lit.parse::<Interval>().unwrap()).await;
        }
    }
}

#[tokio::test]
async fn timestamptz_text_in_a_session_zone_other_than_utc_is_read_as_the_same_instant() {
    let mut c = connect_with(true).await;
    c.batch_execute("SET TimeZone = 'Asia/Kolkata'")
        .await
        .unwrap();
    let row = c
        .query_one(
            "SELECT '2024-01-15 10:11:12.5+00'::timestamptz, \
             '2024-01-15 10:11:12.5+00'::timestamptz::text, \
             '1800-01-01 00:00:00+00'::timestamptz",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<String>(1).unwrap(), "2024-01-15 15:41:12.5+05:30");
    let got: TimestampTz = row.get(0).unwrap();
    assert_eq!(got.to_string(), "2024-01-15 10:11:12.5+00");
    // Local mean time: an offset with seconds (+05:53:28).
    let lmt: TimestampTz = row.get(2).unwrap();
    assert_eq!(lmt.to_string(), "1800-01-01 00:00:00+00");
}

#[tokio::test]
async fn date_columns_still_read_as_system_time_and_now_as_date() {
    for text in [false, true] {
        let mut c = connect_with(text).await;
        let row = c.query_one("SELECT '2024-01-15'::date", &[]).await.unwrap();
        let st: std::time::SystemTime = row.get(0).unwrap();
        let secs = st.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(secs, 19_737 * 86_400);
        assert_eq!(row.get::<Date>(0).unwrap(), date("2024-01-15"));
    }
}

#[tokio::test]
async fn reading_a_timestamp_column_as_date_is_a_type_error() {
    let mut c = connect_with(false).await;
    let row = c.query_one("SELECT now()::timestamp", &[]).await.unwrap();
    assert!(row.get::<Date>(0).is_err());
    assert!(row.get::<TimestampTz>(0).is_err());
    assert!(row.get::<Timestamp>(0).is_ok());
}

#[cfg(feature = "chrono")]
mod chrono_types {
    use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};

    use super::*;

    #[tokio::test]
    async fn chrono_types_round_trip_in_both_formats() {
        for text in [false, true] {
            let mut c = connect_with(text).await;
            let d = NaiveDate::from_ymd_opt(-43, 3, 15).unwrap();
            check_chrono(&mut c, "date", "0044-03-15 BC", d).await;
            let t = NaiveTime::from_hms_micro_opt(4, 5, 6, 789_000).unwrap();
            check_chrono(&mut c, "time", "04:05:06.789", t).await;
            let dt = NaiveDate::from_ymd_opt(2024, 1, 15).unwrap().and_time(t);
            check_chrono(&mut c, "timestamp", "2024-01-15 04:05:06.789", dt).await;
            let utc = DateTime::<Utc>::from_naive_utc_and_offset(dt, Utc);
            check_chrono(&mut c, "timestamptz", "2024-01-15 04:05:06.789+00", utc).await;
            let fixed = utc.with_timezone(&FixedOffset::east_opt(19_800).unwrap());
            check_chrono(&mut c, "timestamptz", "2024-01-15 04:05:06.789+00", fixed).await;
        }
    }

    #[tokio::test]
    async fn chrono_reports_infinity_and_24_00_as_conversion_errors() {
        for text in [false, true] {
            let mut c = connect_with(text).await;
            let row = c
                .query_one(
                    "SELECT 'infinity'::date, '-infinity'::timestamp, \
                     'infinity'::timestamptz, '24:00:00'::time",
                    &[],
                )
                .await
                .unwrap();
            let e = row.get::<NaiveDate>(0).unwrap_err();
            assert!(e.to_string().contains("pgline::types::Date"), "{e}");
            assert!(row.get::<NaiveDateTime>(1).is_err());
            assert!(row.get::<DateTime<Utc>>(2).is_err());
            assert!(row.get::<NaiveTime>(3).is_err());
            assert_eq!(row.get::<Date>(0).unwrap(), Date::INFINITY);
        }
    }

    async fn check_chrono<T>(c: &mut Connection, ty: &str, server_text: &str, want: T)
    where
        T: ToSql + for<'a> FromSql<'a> + PartialEq + Debug + Sync,
    {
        let row = c
            .query_one(
                format!("SELECT '{server_text}'::{ty}, $1::{ty}::text").as_str(),
                &[&want],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<T>(0).unwrap(), want, "{ty} read");
        assert_eq!(row.get::<String>(1).unwrap(), server_text, "{ty} sent");
    }
}

#[cfg(feature = "time")]
mod time_types {
    use time::{Month, OffsetDateTime, PrimitiveDateTime};

    use super::*;

    #[tokio::test]
    async fn time_crate_types_round_trip_in_both_formats() {
        for text in [false, true] {
            let mut c = connect_with(text).await;
            let d = time::Date::from_calendar_date(-43, Month::March, 15).unwrap();
            check_time(&mut c, "date", "0044-03-15 BC", d).await;
            let t = time::Time::from_hms_micro(4, 5, 6, 789_000).unwrap();
            check_time(&mut c, "time", "04:05:06.789", t).await;
            let dt = PrimitiveDateTime::new(
                time::Date::from_calendar_date(2024, Month::January, 15).unwrap(),
                t,
            );
            check_time(&mut c, "timestamp", "2024-01-15 04:05:06.789", dt).await;
            check_time(
                &mut c,
                "timestamptz",
                "2024-01-15 04:05:06.789+00",
                dt.assume_utc(),
            )
            .await;
            let row = c
                .query_one("SELECT 'infinity'::timestamptz, '10000-01-01'::date", &[])
                .await
                .unwrap();
            assert!(row.get::<OffsetDateTime>(0).is_err());
            assert!(row.get::<time::Date>(1).is_err());
        }
    }

    async fn check_time<T>(c: &mut Connection, ty: &str, server_text: &str, want: T)
    where
        T: ToSql + for<'a> FromSql<'a> + PartialEq + Debug + Sync,
    {
        let row = c
            .query_one(
                format!("SELECT '{server_text}'::{ty}, $1::{ty}::text").as_str(),
                &[&want],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<T>(0).unwrap(), want, "{ty} read");
        assert_eq!(row.get::<String>(1).unwrap(), server_text, "{ty} sent");
    }
}
