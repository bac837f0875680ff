//! Property-based round trips against the real server (issue 16): generated values of
//! every mapped type go to PostgreSQL as parameters in the binary and in the text format,
//! and must come back equal: as a result column, through the server's own text rendering
//! (its output function, decoded by pgline's text decoder) and through its binary send
//! function (decoded by pgline's binary decoder). For the types
//! tokio-postgres also maps, tokio-postgres reads the same value from the server and must
//! agree with pgline (a differential check).
//!
//! One runtime and one connection per format serve all cases of a test; a failing case is
//! shrunk by proptest to a minimal value, which the panic message prints.

use std::fmt::Debug;
use std::net::IpAddr;

use pgline::types::{
    decode_value, oid, BitVec, Cidr, Date, Format, FromSql, Inet, Interval, MacAddr, MacAddr8,
    Numeric, Oid, Range, Time, TimeTz, Timestamp, TimestampTz, ValueType,
};
use pgline::{Config, Connection, ToSql};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use tokio::runtime::Runtime;

use crate::support::conn::config;

/// Cases per type: enough to reach the edges the strategies weight, few enough that the
/// whole module takes seconds against a real server.
const CASES: u32 = 64;

/// A runtime and a connection of each parameter format (`[binary, text]`).
struct Harness {
    rt: Runtime,
    conns: [Connection; 2],
}

impl Harness {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let conns = rt.block_on(async {
            let connect = |text: bool| async move {
                let mut cfg: Config = config("postgres", None);
                cfg.prefer_text_format(text);
                Connection::connect(&cfg).await.expect("connect")
            };
            [connect(false).await, connect(true).await]
        });
        Self { rt, conns }
    }

    /// The binary send function of type `ty`, from the catalog.
    fn send_fn(&mut self, ty: &str) -> Result<String, TestCaseError> {
        let row = self
            .rt
            .block_on(self.conns[0].query_one(
                "SELECT typsend::regproc::text FROM pg_catalog.pg_type WHERE oid = $1::text::regtype",
                &[&ty],
            ))
            .map_err(|e| TestCaseError::fail(format!("{ty}: {e}")))?;
        row.get(0).map_err(|e| TestCaseError::fail(e.to_string()))
    }

    /// Checks one value of SQL type `ty` (its OID `type_oid`) in both formats; `same`
    /// compares two values (equality, or a looser relation for floats).
    fn check<T>(
        &mut self,
        v: &T,
        ty: &str,
        type_oid: Oid,
        same: impl Fn(&T, &T) -> bool,
    ) -> Result<(), TestCaseError>
    where
        T: ToSql + Sync + for<'a> FromSql<'a> + Debug,
    {
        // `format('%s')` gives the type's output function; a `::text` cast differs for some
        // types (bool prints `false`, inet adds a full netmask).
        // The type's binary send function, e.g. `numeric_send`, for the binary decoder.
        let send = self.send_fn(ty)?;
        let sql = format!("SELECT $1::{ty}, format('%s', $1::{ty}), {send}($1::{ty})");
        for (conn, format) in self.conns.iter_mut().zip(["binary", "text"]) {
            let row = self
                .rt
                .block_on(conn.query_one(sql.as_str(), &[v]))
                .map_err(|e| TestCaseError::fail(format!("{ty} {v:?} ({format}): {e}")))?;
            let back: T = row
                .get(0)
                .map_err(|e| TestCaseError::fail(format!("{ty} {v:?} ({format}) column: {e}")))?;
            prop_assert!(
                same(&back, v),
                "{ty} ({format}): sent {v:?}, column read back {back:?}"
            );
            let text: String = row.get(1).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let parsed: T = decode_value(
                ValueType::new(type_oid, Format::Text),
                Some(text.as_bytes()),
            )
            .map_err(|e| {
                TestCaseError::fail(format!("{ty} {v:?}: the server's text {text:?}: {e}"))
            })?;
            prop_assert!(
                same(&parsed, v),
                "{ty} ({format}): sent {v:?}, the server printed {text:?}, which reads as {parsed:?}"
            );
            let sent: Vec<u8> = row.get(2).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let decoded: T = decode_value(ValueType::new(type_oid, Format::Binary), Some(&sent))
                .map_err(|e| {
                    TestCaseError::fail(format!("{ty} {v:?}: the server's {send} bytes: {e}"))
                })?;
            prop_assert!(
                same(&decoded, v),
                "{ty} ({format}): sent {v:?}, {send} gave bytes that read as {decoded:?}"
            );
        }
        Ok(())
    }
}

/// Runs `CASES` values from `strategy` through `check`.
fn run<T: Debug>(
    strategy: impl Strategy<Value = T>,
    check: impl FnMut(&T) -> Result<(), TestCaseError>,
) {
    // The runner wants `Fn`; the checks hold the connections mutably.
    let check = std::cell::RefCell::new(check);
    let mut runner = TestRunner::new(RunnerConfig {
        cases: CASES,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    if let Err(e) = runner.run(&strategy, |v| (check.borrow_mut())(&v)) {
        panic!("{e}");
    }
}

fn eq<T: PartialEq>(a: &T, b: &T) -> bool {
    a == b
}

/// A decimal string: sign, up to 60 integer and 40 fraction digits, sometimes with an
/// exponent, or one of the special values.
fn numeric_text() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just("NaN".to_string()),
        1 => Just("Infinity".to_string()),
        1 => Just("-Infinity".to_string()),
        12 => (any::<bool>(), "[0-9]{1,60}", proptest::option::of("[0-9]{0,40}"), proptest::option::of(-30i32..30))
            .prop_map(|(neg, int, frac, exp)| {
                let mut s = String::new();
                if neg {
                    s.push('-');
                }
                s.push_str(&int);
                if let Some(f) = frac {
                    s.push('.');
                    s.push_str(&f);
                }
                if let Some(e) = exp {
                    s.push_str(&format!("e{e}"));
                }
                s
            }),
    ]
}

#[test]
fn numerics_round_trip_through_the_server_in_both_formats() {
    let mut h = Harness::new();
    run(numeric_text(), |s| {
        let v: Numeric = s
            .parse()
            .map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
        h.check(&v, "numeric", oid::NUMERIC, eq)
    });
}

#[test]
fn integers_floats_booleans_strings_and_bytes_round_trip_in_both_formats() {
    let mut h = Harness::new();
    run(any::<i16>(), |v| h.check(v, "int2", oid::INT2, eq));
    run(any::<i32>(), |v| h.check(v, "int4", oid::INT4, eq));
    run(any::<i64>(), |v| h.check(v, "int8", oid::INT8, eq));
    run(any::<bool>(), |v| h.check(v, "bool", oid::BOOL, eq));
    // Every bit pattern, NaN included: the server prints floats exactly (shortest form).
    let same_f64 = |a: &f64, b: &f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    run(any::<u64>().prop_map(f64::from_bits), |v| {
        h.check(v, "float8", oid::FLOAT8, same_f64)
    });
    let same_f32 = |a: &f32, b: &f32| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    run(any::<u32>().prop_map(f32::from_bits), |v| {
        h.check(v, "float4", oid::FLOAT4, same_f32)
    });
    // Any text without NUL (which PostgreSQL's text cannot hold).
    run("[^\u{0}]{0,80}", |v: &String| {
        h.check(v, "text", oid::TEXT, eq)
    });
    run(
        proptest::collection::vec(any::<u8>(), 0..200),
        |v: &Vec<u8>| h.check(v, "bytea", oid::BYTEA, eq),
    );
    // "char": one byte; 0 is the empty string in PostgreSQL.
    run(any::<i8>().prop_filter("NUL", |&c| c != 0), |v| {
        h.check(v, "\"char\"", oid::CHAR, eq)
    });
}

/// PostgreSQL's date range: 4714-11-24 BC to 5874897-12-31, plus ±infinity.
fn date() -> impl Strategy<Value = Date> {
    prop_oneof![
        1 => Just(i32::MIN),
        1 => Just(i32::MAX),
        2 => -2_451_545i32..=2_145_031_948,
        6 => -800_000i32..800_000,
    ]
    .prop_map(|d| Date::from_pg_days(d).expect("in range"))
}

/// PostgreSQL's timestamp range: 4714-11-24 00:00 BC to 294276-12-31 23:59:59.999999,
/// plus ±infinity.
fn timestamp_micros() -> impl Strategy<Value = i64> {
    prop_oneof![
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
        2 => -211_813_488_000_000_000i64..9_223_371_331_200_000_000,
        6 => -4_000_000_000_000_000i64..4_000_000_000_000_000,
    ]
}

#[test]
fn dates_times_and_timestamps_round_trip_through_the_server_in_both_formats() {
    let mut h = Harness::new();
    run(date(), |v| h.check(v, "date", oid::DATE, eq));
    let micros_of_day = 0i64..=86_400_000_000;
    run(micros_of_day.clone(), |&m| {
        let v = Time::from_micros(m).expect("in range");
        h.check(&v, "time", oid::TIME, eq)
    });
    // Offsets up to ±15:59:59, as the server accepts.
    run((micros_of_day, -57_599i32..=57_599), |&(m, off)| {
        let v = TimeTz::new(Time::from_micros(m).expect("in range"), off).expect("offset");
        h.check(&v, "timetz", oid::TIMETZ, eq)
    });
    run(timestamp_micros(), |&m| {
        let v = Timestamp::from_pg_micros(m).expect("in range");
        h.check(&v, "timestamp", oid::TIMESTAMP, eq)
    });
    run(timestamp_micros(), |&m| {
        let v = TimestampTz::from_pg_micros(m).expect("in range");
        h.check(&v, "timestamptz", oid::TIMESTAMPTZ, eq)
    });
}

#[test]
fn intervals_round_trip_through_the_server_in_both_formats() {
    let mut h = Harness::new();
    // Mixed signs in every field; the extreme values PostgreSQL 17 reserves for
    // ±infinity are left out (PostgreSQL 15 has no infinite intervals).
    let field = |max: i64| {
        prop_oneof![
            3 => -1_000i64..1_000,
            1 => -max..max,
        ]
    };
    run(
        (
            field(i64::from(i32::MAX)),
            field(i64::from(i32::MAX)),
            field(i64::MAX),
        ),
        |&(months, days, micros)| {
            let v = Interval::new(months as i32, days as i32, micros);
            h.check(&v, "interval", oid::INTERVAL, eq)
        },
    );
}

fn ip() -> impl Strategy<Value = (IpAddr, u8)> {
    prop_oneof![
        (any::<[u8; 4]>(), 0u8..=32).prop_map(|(a, p)| (IpAddr::from(a), p)),
        (any::<[u8; 16]>(), 0u8..=128).prop_map(|(a, p)| (IpAddr::from(a), p)),
    ]
}

/// `addr` with the bits past `prefix` cleared (a network address).
fn network(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::from((bits & mask).to_be_bytes())
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::from((bits & mask).to_be_bytes())
        }
    }
}

#[test]
fn network_addresses_round_trip_through_the_server_in_both_formats() {
    let mut h = Harness::new();
    run(ip(), |&(a, p)| {
        let v = Inet::new(a, p).expect("prefix in range");
        h.check(&v, "inet", oid::INET, eq)
    });
    run(ip(), |&(a, p)| {
        let v = Cidr::new(network(a, p), p).expect("network address");
        h.check(&v, "cidr", oid::CIDR, eq)
    });
    run(any::<[u8; 6]>(), |&b| {
        h.check(&MacAddr(b), "macaddr", oid::MACADDR, eq)
    });
    run(any::<[u8; 8]>(), |&b| {
        h.check(&MacAddr8(b), "macaddr8", oid::MACADDR8, eq)
    });
    run(
        (proptest::collection::vec(any::<u8>(), 0..12), 0usize..8),
        |(bytes, cut)| {
            // A bit string of any length: the last byte's unused bits are cleared.
            let len = (bytes.len() * 8).saturating_sub(*cut);
            let mut bytes = bytes.clone();
            if let Some(last) = bytes.last_mut() {
                let used = len % 8;
                if used != 0 {
                    *last &= 0xffu8 << (8 - used);
                }
            }
            bytes.truncate(len.div_ceil(8));
            let v = BitVec::from_bytes(bytes, len).expect("valid bits");
            h.check(&v, "varbit", oid::VARBIT, eq)
        },
    );
}

#[test]
fn arrays_and_ranges_round_trip_through_the_server_in_both_formats() {
    let mut h = Harness::new();
    run(
        proptest::collection::vec(proptest::option::of(any::<i64>()), 0..20),
        |v: &Vec<Option<i64>>| h.check(v, "int8[]", oid::INT8_ARRAY, eq),
    );
    // Quotes, backslashes, braces, commas, spaces and the word NULL all need quoting in
    // the text form.
    run(
        proptest::collection::vec(
            proptest::option::of(prop_oneof![
                "[^\u{0}]{0,12}",
                Just("NULL".to_string()),
                Just(" {\"a\\b\",} ".to_string()),
            ]),
            0..12,
        ),
        |v: &Vec<Option<String>>| h.check(v, "text[]", oid::TEXT_ARRAY, eq),
    );
    run(proptest::collection::vec(date(), 0..10), |v: &Vec<Date>| {
        h.check(v, "date[]", oid::DATE_ARRAY, eq)
    });
    run(
        proptest::collection::vec(numeric_text(), 0..8),
        |texts: &Vec<String>| {
            let v: Vec<Numeric> = texts.iter().map(|s| s.parse().expect("numeric")).collect();
            h.check(&v, "numeric[]", oid::NUMERIC_ARRAY, eq)
        },
    );
    // int4range in its canonical form, as the server returns it: [lower, upper), or empty.
    run(
        (
            proptest::option::of(-1_000_000i32..1_000_000),
            proptest::option::of(-1_000_000i32..1_000_000),
        ),
        |&(lo, hi)| {
            use std::ops::Bound::{Excluded, Included, Unbounded};
            let v = match (lo, hi) {
                (Some(l), Some(u)) if l >= u => Range::Empty,
                (l, u) => Range::new(l.map_or(Unbounded, Included), u.map_or(Unbounded, Excluded)),
            };
            h.check(&v, "int4range", oid::INT4RANGE, eq)
        },
    );
}

#[cfg(all(feature = "uuid", feature = "serde_json"))]
mod with_serde {
    use super::*;

    fn json() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            // No NUL: jsonb cannot hold \u0000.
            "[^\u{0}]{0,10}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z\"\\\\ ]{0,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn uuids_and_json_round_trip_in_both_formats_and_tokio_postgres_reads_the_same() {
        let mut h = Harness::new();
        let tp = h.rt.block_on(tokio_postgres());
        run(any::<u128>(), |&n| {
            let v = uuid::Uuid::from_u128(n);
            h.check(&v, "uuid", oid::UUID, eq)?;
            let theirs: uuid::Uuid =
                h.rt.block_on(tp.query_one("SELECT $1::text::uuid", &[&v.to_string()]))
                    .map_err(|e| TestCaseError::fail(e.to_string()))?
                    .get(0);
            prop_assert_eq!(theirs, v);
            Ok(())
        });
        for (ty, type_oid) in [("json", oid::JSON), ("jsonb", oid::JSONB)] {
            run(json(), |v| {
                h.check(v, ty, type_oid, eq)?;
                // tokio-postgres reads the value pgline sent, stored by the server.
                let sql = format!("SELECT $1::{ty}::text");
                let text: String =
                    h.rt.block_on(h.conns[0].query_one(sql.as_str(), &[v]))
                        .map_err(|e| TestCaseError::fail(e.to_string()))?
                        .get(0)
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let theirs: serde_json::Value =
                    h.rt.block_on(tp.query_one(&format!("SELECT $1::text::{ty}"), &[&text]))
                        .map_err(|e| TestCaseError::fail(e.to_string()))?
                        .get(0);
                prop_assert_eq!(&theirs, v);
                Ok(())
            });
        }
    }
}

#[cfg(feature = "chrono")]
#[test]
fn chrono_dates_and_timestamps_read_the_same_through_pgline_and_tokio_postgres() {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

    let mut h = Harness::new();
    let tp = h.rt.block_on(tokio_postgres());
    run((date(), timestamp_micros()), |&(d, ts)| {
        let t = Timestamp::from_pg_micros(ts).expect("in range");
        let tz = TimestampTz::from_pg_micros(ts).expect("in range");
        let sql = "SELECT $1::date, $2::timestamp, $3::timestamptz";
        let ours =
            h.rt.block_on(h.conns[0].query_one(sql, &[&d, &t, &tz]))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
        // tokio-postgres gets the same values as the server printed them.
        let sql_tp = "SELECT $1::text::date, $2::text::timestamp, $3::text::timestamptz";
        let texts =
            h.rt.block_on(h.conns[0].query_one(
                "SELECT $1::date::text, $2::timestamp::text, $3::timestamptz::text",
                &[&d, &t, &tz],
            ))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let text = |i: usize| texts.get::<String>(i).unwrap_or_default();
        let theirs =
            h.rt.block_on(tp.query_one(sql_tp, &[&text(0), &text(1), &text(2)]))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
        // Both refuse what chrono cannot hold (infinity, beyond ±262,143 years), or both
        // read the same value.
        let a = ours.get::<NaiveDate>(0).ok();
        let b = theirs.try_get::<_, NaiveDate>(0).ok();
        prop_assert_eq!(a, b, "date {:?} printed {}", d, text(0));
        let a = ours.get::<NaiveDateTime>(1).ok();
        let b = theirs.try_get::<_, NaiveDateTime>(1).ok();
        prop_assert_eq!(a, b, "timestamp {:?} printed {}", t, text(1));
        let a = ours.get::<DateTime<Utc>>(2).ok();
        let b = theirs.try_get::<_, DateTime<Utc>>(2).ok();
        prop_assert_eq!(a, b, "timestamptz {:?} printed {}", tz, text(2));
        Ok(())
    });
}

/// A tokio-postgres client on the same server, driven by the caller's runtime.
async fn tokio_postgres() -> tokio_postgres::Client {
    let server = crate::support::server();
    let (client, conn) = tokio_postgres::connect(
        &server.url("postgres", None, "postgres"),
        tokio_postgres::NoTls,
    )
    .await
    .expect("tokio-postgres connects");
    tokio::spawn(conn);
    client
}
