//! Byte-level tests for every conversion, both formats, strict and lenient.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use proptest::prelude::*;

use super::oid::*;
use super::*;

const B: Format = Format::Binary;
const T: Format = Format::Text;

fn strict(oid: Oid, format: Format) -> ValueType {
    ValueType::new(oid, format)
}

fn lenient(oid: Oid, format: Format) -> ValueType {
    ValueType::lenient(oid, format)
}

fn encode<V: ToSql + ?Sized>(v: &V, ty: ValueType) -> Vec<u8> {
    let mut out = BytesMut::new();
    assert_eq!(v.to_sql(ty, &mut out), Ok(IsNull::No));
    out.to_vec()
}

fn decode<'a, V: FromSql<'a>>(ty: ValueType, raw: &'a [u8]) -> Result<V, ConversionError> {
    decode_value(ty, Some(raw))
}

/// Encodes with the value's own OID in `format`, decodes it back strictly.
fn round_trip<V>(v: &V, format: Format) -> V
where
    V: ToSql + for<'a> FromSql<'a>,
{
    let ty = strict(v.type_oid(), format);
    let bytes = encode(v, ty);
    decode::<V>(ty, &bytes).unwrap()
}

fn ymd(y: i64, m: u32, d: u32) -> SystemTime {
    let days = time::days_from_civil(y, m, d);
    let secs = days * 86_400;
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

// --- exact bytes -----------------------------------------------------------------------

#[test]
fn i32_one_encodes_as_four_big_endian_bytes() {
    assert_eq!(encode(&1i32, strict(INT4, B)), [0, 0, 0, 1]);
}

#[test]
fn i32_widens_to_eight_bytes_for_an_int8_parameter() {
    assert_eq!(
        encode(&-2i32, strict(INT8, B)),
        [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]
    );
}

#[test]
fn f64_one_and_a_half_encodes_as_ieee_bytes() {
    assert_eq!(
        encode(&1.5f64, strict(FLOAT8, B)),
        [0x3f, 0xf8, 0, 0, 0, 0, 0, 0]
    );
}

#[test]
fn timestamptz_of_the_postgres_epoch_is_zero() {
    assert_eq!(encode(&ymd(2000, 1, 1), strict(TIMESTAMPTZ, B)), [0; 8]);
}

#[test]
fn timestamptz_of_the_unix_epoch_is_minus_946684800_seconds() {
    let want = (-946_684_800_000_000i64).to_be_bytes();
    assert_eq!(encode(&UNIX_EPOCH, strict(TIMESTAMPTZ, B)), want);
}

#[test]
fn bool_encodes_as_one_byte_and_t_or_f() {
    assert_eq!(encode(&true, strict(BOOL, B)), [1]);
    assert_eq!(encode(&false, strict(BOOL, B)), [0]);
    assert_eq!(encode(&true, strict(BOOL, T)), b"t");
}

#[test]
fn ints_encode_as_decimal_text() {
    assert_eq!(encode(&-42i32, strict(INT4, T)), b"-42");
    assert_eq!(encode(&0i16, strict(INT2, T)), b"0");
    assert_eq!(encode(&i64::MIN, strict(INT8, T)), b"-9223372036854775808");
    assert_eq!(encode(&u32::MAX, strict(OID, T)), b"4294967295");
}

#[test]
fn float_specials_encode_as_postgres_spells_them() {
    assert_eq!(encode(&f64::INFINITY, strict(FLOAT8, T)), b"Infinity");
    assert_eq!(encode(&f64::NEG_INFINITY, strict(FLOAT8, T)), b"-Infinity");
    assert_eq!(encode(&f32::NAN, strict(FLOAT4, T)), b"NaN");
    assert_eq!(encode(&1.5f64, strict(FLOAT8, T)), b"1.5");
}

#[test]
fn bytea_encodes_as_hex_text() {
    assert_eq!(encode(&&[1u8, 2][..], strict(BYTEA, T)), b"\\x0102");
    assert_eq!(encode(&vec![0xabu8], strict(BYTEA, B)), [0xab]);
}

#[test]
fn timestamptz_encodes_as_iso_utc_text() {
    let t = ymd(2024, 1, 15) + Duration::from_micros(36_672_123_456);
    assert_eq!(
        encode(&t, strict(TIMESTAMPTZ, T)),
        b"2024-01-15 10:11:12.123456+00"
    );
    assert_eq!(
        encode(&t, strict(TIMESTAMP, T)),
        b"2024-01-15 10:11:12.123456"
    );
}

#[test]
fn none_writes_nothing_and_reports_null() {
    let mut out = BytesMut::new();
    let v: Option<i32> = None;
    assert_eq!(v.to_sql(strict(INT4, B), &mut out), Ok(IsNull::Yes));
    assert!(out.is_empty());
    assert_eq!(v.type_oid(), INT4);
    assert!(v.accepts(TEXT));
}

// --- decoding --------------------------------------------------------------------------

#[test]
fn text_forms_decode() {
    assert_eq!(decode::<bool>(strict(BOOL, T), b"t"), Ok(true));
    assert_eq!(decode::<i32>(strict(INT4, T), b"-42"), Ok(-42));
    assert_eq!(
        decode::<f64>(strict(FLOAT8, T), b"Infinity"),
        Ok(f64::INFINITY)
    );
    assert_eq!(
        decode::<f64>(strict(FLOAT8, T), b"-Infinity"),
        Ok(f64::NEG_INFINITY)
    );
    assert!(decode::<f64>(strict(FLOAT8, T), b"NaN").unwrap().is_nan());
    assert_eq!(decode::<f64>(strict(FLOAT8, T), b"1e+100"), Ok(1e100));
    assert_eq!(
        decode::<Vec<u8>>(strict(BYTEA, T), b"\\x0102"),
        Ok(vec![1, 2])
    );
    assert_eq!(
        decode::<Vec<u8>>(strict(BYTEA, T), b"a\\\\b\\001"),
        Ok(b"a\\b\x01".to_vec())
    );
}

#[test]
fn widening_decodes_are_allowed() {
    assert_eq!(decode::<i64>(strict(INT2, B), &[0xff, 0xfe]), Ok(-2));
    assert_eq!(decode::<i32>(strict(INT2, B), &[0, 7]), Ok(7));
    assert_eq!(decode::<i64>(strict(OID, B), &[0xff; 4]), Ok(4_294_967_295));
    assert_eq!(
        decode::<f64>(strict(FLOAT4, B), &1.5f32.to_be_bytes()),
        Ok(1.5)
    );
}

#[test]
fn i32_from_three_binary_bytes_is_invalid() {
    assert!(matches!(
        decode::<i32>(strict(INT4, B), &[0, 0, 1]),
        Err(ConversionError::Invalid { rust: "i32", .. })
    ));
}

#[test]
fn i32_from_an_int8_column_is_the_wrong_type_in_strict_mode() {
    assert_eq!(
        decode::<i32>(strict(INT8, B), &[0; 8]),
        Err(ConversionError::WrongType {
            rust: "i32",
            oid: INT8
        })
    );
}

#[test]
fn trailing_garbage_in_an_integer_is_invalid() {
    assert!(matches!(
        decode::<i32>(strict(INT4, T), b"12x"),
        Err(ConversionError::Invalid { .. })
    ));
    assert!(decode::<i32>(strict(INT4, T), b"").is_err());
    assert!(decode::<i32>(strict(INT4, T), b" 12").is_err());
}

#[test]
fn i16_overflow_in_text_is_invalid() {
    assert!(matches!(
        decode::<i16>(strict(INT2, T), b"40000"),
        Err(ConversionError::Invalid { rust: "i16", .. })
    ));
    assert!(decode::<i64>(strict(INT8, T), b"9223372036854775808").is_err());
    assert_eq!(
        decode::<i64>(strict(INT8, T), b"-9223372036854775808"),
        Ok(i64::MIN)
    );
}

#[test]
fn null_into_i32_is_unexpected_and_into_option_is_none() {
    assert_eq!(
        decode_value::<i32>(strict(INT4, B), None),
        Err(ConversionError::UnexpectedNull { rust: "i32" })
    );
    assert_eq!(decode_value::<Option<i32>>(strict(INT4, B), None), Ok(None));
    assert_eq!(
        decode_value::<Option<i32>>(strict(INT4, B), Some(&[0, 0, 0, 9])),
        Ok(Some(9))
    );
}

#[test]
fn strict_floats_reject_forms_postgres_never_prints() {
    for s in [&b"inf"[..], b".5", b"5.", b" 1", b"1e", b"infinity"] {
        assert!(decode::<f64>(strict(FLOAT8, T), s).is_err(), "{s:?}");
    }
}

#[test]
fn strings_decode_from_string_types_and_from_any_text_value() {
    assert_eq!(decode::<&str>(strict(VARCHAR, B), b"abc"), Ok("abc"));
    assert_eq!(
        decode::<String>(strict(NUMERIC, T), b"1.50"),
        Ok("1.50".to_owned())
    );
    assert_eq!(
        decode::<String>(strict(NUMERIC, B), &[0, 0]),
        Err(ConversionError::WrongType {
            rust: "String",
            oid: NUMERIC
        })
    );
    assert!(matches!(
        decode::<&str>(strict(TEXT, T), &[0xff]),
        Err(ConversionError::Invalid { .. })
    ));
}

#[test]
fn borrowed_bytes_need_the_binary_format() {
    assert_eq!(
        decode::<&[u8]>(strict(BYTEA, B), &[1, 2]),
        Ok(&[1u8, 2][..])
    );
    assert_eq!(
        decode::<&[u8]>(strict(BYTEA, T), b"\\x01"),
        Err(ConversionError::Unsupported {
            rust: "&[u8]",
            format: T
        })
    );
}

#[test]
fn malformed_bytea_text_is_invalid() {
    for s in [&b"\\x0"[..], b"\\xzz", b"\\q", b"\\400"] {
        assert!(decode::<Vec<u8>>(strict(BYTEA, T), s).is_err(), "{s:?}");
    }
}

#[test]
fn timestamps_parse_with_offsets_and_fractions() {
    let base = ymd(2024, 1, 15) + Duration::from_secs(36_672);
    let ty = strict(TIMESTAMPTZ, T);
    assert_eq!(
        decode::<SystemTime>(ty, b"2024-01-15 10:11:12.123456+00"),
        Ok(base + Duration::from_micros(123_456))
    );
    assert_eq!(
        decode::<SystemTime>(ty, b"2024-01-15 15:41:12+05:30"),
        Ok(base)
    );
    assert_eq!(
        decode::<SystemTime>(ty, b"2024-01-15 02:11:12.5-08"),
        Ok(base + Duration::from_millis(500))
    );
    assert_eq!(
        decode::<SystemTime>(strict(TIMESTAMP, T), b"2024-01-15 10:11:12"),
        Ok(base)
    );
    assert_eq!(
        decode::<SystemTime>(strict(DATE, T), b"2024-01-15"),
        Ok(ymd(2024, 1, 15))
    );
}

#[test]
fn bad_or_unrepresentable_timestamps_are_invalid() {
    let ty = strict(TIMESTAMPTZ, T);
    for s in [
        &b"2024-01-15 10:11:12+00 BC"[..],
        b"infinity",
        b"2024-02-30 00:00:00+00",
        b"2024-01-15 24:00:00+00",
        b"2024-01-15 10:11:12.1234567+00",
        b"2024-01-15 10:11:12+5",
        b"2024-01-15x",
    ] {
        assert!(
            matches!(
                decode::<SystemTime>(ty, s),
                Err(ConversionError::Invalid { .. })
            ),
            "{s:?}"
        );
    }
    assert!(decode::<SystemTime>(strict(TIMESTAMPTZ, B), &i64::MAX.to_be_bytes()).is_err());
    assert!(decode::<SystemTime>(strict(DATE, B), &i32::MIN.to_be_bytes()).is_err());
}

#[test]
fn dates_before_1970_decode() {
    assert_eq!(
        decode::<SystemTime>(strict(DATE, B), &(-36_524i32).to_be_bytes()),
        Ok(ymd(1900, 1, 1))
    );
    assert_eq!(
        decode::<SystemTime>(strict(DATE, T), b"0001-01-01"),
        Ok(ymd(1, 1, 1))
    );
}

#[test]
fn escape_hatches_read_and_write_any_type() {
    let t = Text::new(NUMERIC, "1.50");
    assert!(!t.supports_binary(NUMERIC));
    assert_eq!(encode(&t, strict(NUMERIC, T)), b"1.50");
    assert_eq!(
        decode::<Text<'_>>(strict(UUID, T), b"x"),
        Ok(Text::new(UUID, "x"))
    );
    let raw = decode::<RawValue<'_>>(strict(NUMERIC, B), &[1, 2]).unwrap();
    assert_eq!(raw.bytes, [1, 2]);
    assert_eq!(encode(&raw, strict(NUMERIC, B)), [1, 2]);
}

#[test]
fn to_sql_rejects_parameter_types_it_cannot_encode_losslessly() {
    let mut out = BytesMut::new();
    assert!(!1i64.accepts(INT4));
    assert_eq!(
        1i64.to_sql(strict(INT4, B), &mut out),
        Err(ConversionError::WrongType {
            rust: "i64",
            oid: INT4
        })
    );
    assert!(1i32.accepts(UNKNOWN) && "x".accepts(UNSPECIFIED));
    assert!(out.is_empty());
}

#[test]
fn system_time_is_sent_as_a_date_only_at_exactly_midnight_utc() {
    let mut out = BytesMut::new();
    let day = ymd(2024, 1, 15);
    assert!(day.accepts(DATE));
    day.to_sql(strict(DATE, B), &mut out).unwrap();
    assert_eq!(&out[..], &8780i32.to_be_bytes());
    out.clear();
    day.to_sql(strict(DATE, T), &mut out).unwrap();
    assert_eq!(&out[..], b"2024-01-15");
    out.clear();
    let noon = day + Duration::from_secs(12 * 3600);
    assert!(matches!(
        noon.to_sql(strict(DATE, B), &mut out),
        Err(ConversionError::Invalid { .. })
    ));
    assert!(out.is_empty(), "nothing written for a refused value");
}

// --- lenient ---------------------------------------------------------------------------

#[test]
fn lenient_reads_numbers_from_text_columns() {
    assert_eq!(decode::<i32>(lenient(TEXT, T), b"42"), Ok(42));
    assert_eq!(decode::<i64>(lenient(VARCHAR, T), b" 7 "), Ok(7));
    assert_eq!(decode::<f64>(lenient(NUMERIC, T), b"-.5"), Ok(-0.5));
    assert_eq!(decode::<f64>(lenient(FLOAT8, T), b"1E+2"), Ok(100.0));
}

#[test]
fn lenient_reads_python_float_specials() {
    assert_eq!(decode::<f64>(lenient(FLOAT8, T), b"inf"), Ok(f64::INFINITY));
    assert_eq!(
        decode::<f64>(lenient(FLOAT8, T), b"-inf"),
        Ok(f64::NEG_INFINITY)
    );
    assert!(decode::<f32>(lenient(FLOAT4, T), b"nan").unwrap().is_nan());
}

#[test]
fn lenient_reads_booleans_in_many_spellings() {
    for (s, want) in [
        (&b"t"[..], true),
        (b"TRUE", true),
        (b"1", true),
        (b"False", false),
        (b"0", false),
        (b"F", false),
    ] {
        assert_eq!(decode::<bool>(lenient(VARCHAR, T), s), Ok(want), "{s:?}");
    }
    assert!(decode::<bool>(strict(BOOL, T), b"true").is_err());
}

#[test]
fn lenient_reads_a_date_sent_as_a_day_count() {
    assert_eq!(
        decode::<SystemTime>(lenient(DATE, T), b"8780"),
        Ok(ymd(2024, 1, 15))
    );
    assert_eq!(
        decode::<SystemTime>(lenient(DATE, T), b"-1"),
        Ok(ymd(1999, 12, 31))
    );
    assert!(decode::<SystemTime>(strict(DATE, T), b"8780").is_err());
}

#[test]
fn lenient_reads_a_python_bytes_repr() {
    assert_eq!(
        decode::<Vec<u8>>(lenient(BYTEA, T), b"b'\\x00ab'"),
        Ok(vec![0, b'a', b'b'])
    );
    assert_eq!(
        decode::<Vec<u8>>(lenient(BYTEA, T), br#"b"it's\\\n\t\r""#),
        Ok(b"it's\\\n\t\r".to_vec())
    );
}

#[test]
fn lenient_parses_text_bytes_in_a_binary_column_of_the_wrong_width() {
    assert_eq!(decode::<i32>(lenient(INT4, B), b"42"), Ok(42));
    assert_eq!(decode::<f64>(lenient(FLOAT8, B), b"1.5"), Ok(1.5));
    assert_eq!(decode::<bool>(lenient(BOOL, B), b"t"), Ok(true));
    assert_eq!(
        decode::<SystemTime>(lenient(DATE, B), b"8780"),
        Ok(ymd(2024, 1, 15))
    );
    assert!(decode::<i32>(strict(INT4, B), b"42").is_err());
}

#[test]
fn conversion_errors_display_their_context() {
    let e = ConversionError::WrongType {
        rust: "i32",
        oid: INT8,
    };
    assert_eq!(
        e.to_string(),
        "cannot convert between Rust type i32 and type OID 20"
    );
    assert!(size_of::<ConversionError>() <= 40);
}

// --- round trips -----------------------------------------------------------------------

fn micros_in_years_1_to_9999() -> impl Strategy<Value = SystemTime> {
    let lo = time::days_from_civil(1, 1, 1) * 86_400_000_000;
    let hi = time::days_from_civil(10_000, 1, 1) * 86_400_000_000 - 1;
    (lo..=hi).prop_map(|us| {
        if us >= 0 {
            UNIX_EPOCH + Duration::from_micros(us as u64)
        } else {
            UNIX_EPOCH - Duration::from_micros(us.unsigned_abs())
        }
    })
}

proptest! {
    #[test]
    fn ints_round_trip_in_both_formats(a: i16, b: i32, c: i64, d: u32) {
        for f in [B, T] {
            prop_assert_eq!(round_trip(&a, f), a);
            prop_assert_eq!(round_trip(&b, f), b);
            prop_assert_eq!(round_trip(&c, f), c);
            prop_assert_eq!(round_trip(&d, f), d);
        }
    }

    #[test]
    fn widened_ints_decode_to_the_same_value(b: i32) {
        let bytes = encode(&b, strict(INT8, B));
        prop_assert_eq!(decode::<i64>(strict(INT8, B), &bytes), Ok(i64::from(b)));
    }

    #[test]
    fn floats_round_trip_in_both_formats(a: f32, b: f64) {
        for f in [B, T] {
            let (ra, rb) = (round_trip(&a, f), round_trip(&b, f));
            prop_assert!(ra.to_bits() == a.to_bits() || (a.is_nan() && ra.is_nan()));
            prop_assert!(rb.to_bits() == b.to_bits() || (b.is_nan() && rb.is_nan()));
        }
    }

    #[test]
    fn strings_and_bytes_round_trip_in_both_formats(s: String, v: Vec<u8>, flag: bool) {
        for f in [B, T] {
            prop_assert_eq!(&round_trip(&s, f), &s);
            prop_assert_eq!(&round_trip(&v, f), &v);
            prop_assert_eq!(round_trip(&flag, f), flag);
        }
    }

    #[test]
    fn binary_timestamps_are_microseconds_since_2000_truncating_nanoseconds(
        us in -200_000_000_000_000_000i64..=200_000_000_000_000_000,
        nanos in 0u32..1000,
    ) {
        // Times before and after 1970 take different encoding paths.
        let t = if us >= 0 {
            UNIX_EPOCH + Duration::from_micros(us as u64) + Duration::from_nanos(u64::from(nanos))
        } else {
            UNIX_EPOCH - Duration::from_micros(us.unsigned_abs()) + Duration::from_nanos(u64::from(nanos))
        };
        let want = us - 946_684_800_000_000;
        prop_assert_eq!(&encode(&t, strict(TIMESTAMPTZ, B))[..], &want.to_be_bytes()[..]);
        prop_assert_eq!(&encode(&t, strict(TIMESTAMP, B))[..], &want.to_be_bytes()[..]);
    }

    #[test]
    fn timestamps_round_trip_in_both_formats(t in micros_in_years_1_to_9999()) {
        for f in [B, T] {
            prop_assert_eq!(round_trip(&t, f), t);
        }
    }

    #[test]
    fn civil_dates_round_trip_through_day_counts(z in -1_000_000i64..3_000_000) {
        let (y, m, d) = time::civil_from_days(z);
        prop_assert_eq!(time::days_from_civil(y, m, d), z);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(raw: Vec<u8>, oid in 0u32..4000, bin: bool, len: bool) {
        let ty = ValueType { oid, format: if bin { B } else { T }, lenient: len };
        let _ = decode::<bool>(ty, &raw);
        let _ = decode::<i16>(ty, &raw);
        let _ = decode::<u32>(ty, &raw);
        let _ = decode::<f32>(ty, &raw);
        let _ = decode::<f64>(ty, &raw);
        let _ = decode::<String>(ty, &raw);
        let _ = decode::<Vec<u8>>(ty, &raw);
        let _ = decode::<SystemTime>(ty, &raw);
    }
}

// --- the fixed-width shortcut ----------------------------------------------------------

/// Every type and format a parameter may be declared with, strict and lenient.
fn all_value_types() -> Vec<ValueType> {
    let oids = [
        INT2,
        INT4,
        INT8,
        OID,
        FLOAT4,
        FLOAT8,
        BOOL,
        TIMESTAMPTZ,
        TIMESTAMP,
        DATE,
        TEXT,
        0,
        UNKNOWN,
    ];
    let mut out = Vec::new();
    for oid in oids {
        for f in [B, T] {
            out.push(strict(oid, f));
            out.push(lenient(oid, f));
        }
    }
    out
}

/// `to_sql_fixed`, where it answers, is exactly `to_sql`'s bytes with their length in
/// front; where it does not, `to_sql` is the only way.
fn check_fixed_agrees<V: ToSql>(v: &V) -> Result<(), TestCaseError> {
    for ty in all_value_types() {
        if let Some(fixed) = v.to_sql_fixed(ty) {
            let mut out = BytesMut::new();
            prop_assert_eq!(
                v.to_sql(ty, &mut out),
                Ok(IsNull::No),
                "{:?} as {:?}",
                v,
                ty
            );
            let mut want = (out.len() as u32).to_be_bytes().to_vec();
            want.extend_from_slice(&out);
            prop_assert_eq!(fixed.as_bytes(), &want[..], "{:?} as {:?}", v, ty);
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn the_fixed_width_shortcut_writes_exactly_what_to_sql_writes(
        a: i16, b: i32, c: i64, d: u32, e: f32, f: f64, g: bool, h: Option<i64>,
        us in -200_000_000_000_000_000i64..=200_000_000_000_000_000,
    ) {
        check_fixed_agrees(&a)?;
        check_fixed_agrees(&b)?;
        check_fixed_agrees(&c)?;
        check_fixed_agrees(&d)?;
        check_fixed_agrees(&e)?;
        check_fixed_agrees(&f)?;
        check_fixed_agrees(&g)?;
        check_fixed_agrees(&h)?;
        let t = if us >= 0 {
            UNIX_EPOCH + Duration::from_micros(us as u64)
        } else {
            UNIX_EPOCH - Duration::from_micros(us.unsigned_abs())
        };
        check_fixed_agrees(&t)?;
    }
}

/// `to_sql_slice`, where it answers, is exactly `to_sql`'s bytes.
fn check_slice_agrees<V: ToSql>(v: &V) -> Result<(), TestCaseError> {
    for ty in all_value_types() {
        if let Some(bytes) = v.to_sql_slice(ty) {
            let mut out = BytesMut::new();
            prop_assert_eq!(
                v.to_sql(ty, &mut out),
                Ok(IsNull::No),
                "{:?} as {:?}",
                v,
                ty
            );
            prop_assert_eq!(bytes, &out[..], "{:?} as {:?}", v, ty);
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn the_slice_shortcut_writes_exactly_what_to_sql_writes(s: String, o: Option<String>) {
        check_slice_agrees(&s)?;
        check_slice_agrees(&s.as_str())?;
        check_slice_agrees(&o)?;
        prop_assert!(s.to_sql_slice(strict(TEXT, B)).is_some());
        prop_assert!(s.to_sql_slice(strict(INT8, B)).is_none());
        prop_assert!(None::<String>.to_sql_slice(strict(TEXT, B)).is_none());
    }
}

#[test]
fn fixed_width_values_take_the_shortcut_for_their_own_binary_type() {
    let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    assert!(7i64.to_sql_fixed(strict(INT8, B)).is_some());
    assert!(7i32.to_sql_fixed(strict(INT8, B)).is_some());
    assert!(0.5f64.to_sql_fixed(strict(FLOAT8, B)).is_some());
    assert!(true.to_sql_fixed(strict(BOOL, B)).is_some());
    assert!(t.to_sql_fixed(strict(TIMESTAMPTZ, B)).is_some());
    assert!(Some(7i64).to_sql_fixed(strict(INT8, B)).is_some());
    // Text, NULL, a type the value does not take, and strings go the general way.
    assert!(7i64.to_sql_fixed(strict(INT8, T)).is_none());
    assert!(None::<i64>.to_sql_fixed(strict(INT8, B)).is_none());
    assert!(7i64.to_sql_fixed(strict(INT2, B)).is_none());
    assert!("x".to_sql_fixed(strict(TEXT, B)).is_none());
    assert!(t.to_sql_fixed(strict(DATE, B)).is_none());
}

#[test]
fn a_fixed_value_is_its_big_endian_length_then_its_bytes() {
    assert_eq!(Fixed::new([7u8]).as_bytes(), [0, 0, 0, 1, 7]);
    assert_eq!(
        Fixed::new(1i64.to_be_bytes()).as_bytes(),
        [0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1]
    );
    assert_eq!(Fixed::new([]).as_bytes(), [0, 0, 0, 0]);
}

#[test]
fn a_users_own_conversion_error_is_kept_as_the_source() {
    #[derive(Debug)]
    struct NotAPercentage(i32);
    impl fmt::Display for NotAPercentage {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{} is not a percentage", self.0)
        }
    }
    impl std::error::Error for NotAPercentage {}

    let e = ConversionError::custom::<u8>(NotAPercentage(140));
    assert_eq!(
        e.to_string(),
        "invalid value for u8: 140 is not a percentage"
    );
    let source = std::error::Error::source(&e).expect("the user's error");
    assert_eq!(
        source.downcast_ref::<NotAPercentage>().map(|n| n.0),
        Some(140)
    );
    assert_eq!(e.clone(), e, "a clone is the same error");
    assert_ne!(e, ConversionError::custom::<u8>(NotAPercentage(140)));
}

#[test]
fn built_in_array_and_range_types_map_to_their_elements_both_ways() {
    assert_eq!(array_of(INT8), Some(INT8_ARRAY));
    assert_eq!(element_of(NUMERIC_ARRAY), Some(NUMERIC));
    assert_eq!(element_of(CHAR_ARRAY), Some(CHAR));
    assert_eq!(
        array_of(INT8_ARRAY),
        None,
        "no arrays of arrays: dimensions are in the value"
    );
    assert_eq!(range_element_of(TSTZMULTIRANGE), Some(TIMESTAMPTZ));
    assert_eq!(range_element_of(INT4), None);
}
