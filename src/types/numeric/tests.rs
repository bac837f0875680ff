//! `Numeric`: exact bytes, `numeric_out` text, hostile binary values, round trips.

use bytes::BytesMut;
use proptest::prelude::*;

use super::*;

const B: Format = Format::Binary;
const T: Format = Format::Text;

fn n(s: &str) -> Numeric {
    s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn encode<V: ToSql>(v: &V, format: Format) -> Vec<u8> {
    let mut out = BytesMut::new();
    assert_eq!(
        v.to_sql(ValueType::new(oid::NUMERIC, format), &mut out),
        Ok(IsNull::No)
    );
    out.to_vec()
}

fn decode(format: Format, raw: &[u8]) -> Result<Numeric, ConversionError> {
    Numeric::from_sql(ValueType::new(oid::NUMERIC, format), raw)
}

/// Both formats give back the same value and the same text.
fn assert_round_trips(v: &Numeric) {
    for format in [B, T] {
        let back = decode(format, &encode(v, format)).unwrap();
        assert_eq!(back.to_string(), v.to_string(), "{format:?}");
        assert_eq!(&back, v);
    }
}

// --- exact bytes -----------------------------------------------------------------------

#[test]
fn one_and_a_half_encodes_as_two_base_10000_digits() {
    assert_eq!(
        encode(&n("1.5"), B),
        [
            0, 2, // ndigits
            0, 0, // weight
            0, 0, // sign: positive
            0, 1, // dscale
            0, 1, // 1
            0x13, 0x88, // 5000
        ]
    );
}

#[test]
fn negative_small_value_has_a_negative_weight() {
    assert_eq!(
        encode(&n("-0.00012"), B),
        [
            0, 2, // ndigits
            0xff, 0xff, // weight -1
            0x40, 0, // sign: negative
            0, 5, // dscale
            0, 1, // 0001
            0x07, 0xd0, // 2000
        ]
    );
}

#[test]
fn special_values_encode_with_the_postgres_14_sign_codes() {
    assert_eq!(encode(&Numeric::NAN, B), [0, 0, 0, 0, 0xc0, 0, 0, 0]);
    assert_eq!(encode(&Numeric::INFINITY, B), [0, 0, 0, 0, 0xd0, 0, 0, 0]);
    assert_eq!(
        encode(&Numeric::NEG_INFINITY, B),
        [0, 0, 0, 0, 0xf0, 0, 0, 0]
    );
    assert_eq!(encode(&Numeric::NAN, T), b"NaN");
    assert_eq!(encode(&Numeric::NEG_INFINITY, T), b"-Infinity");
}

#[test]
fn zero_with_a_scale_has_no_digits() {
    assert_eq!(encode(&n("-0.000"), B), [0, 0, 0, 0, 0, 0, 0, 3]);
}

// --- text ------------------------------------------------------------------------------

#[test]
fn display_prints_what_numeric_out_prints() {
    for (input, out) in [
        ("0", "0"),
        ("1.2E+5", "120000"),
        ("1.2e5", "120000"),
        ("-0.000", "0.000"),
        (".5", "0.5"),
        ("5.", "5"),
        ("1e-3", "0.001"),
        ("001.2300", "1.2300"),
        ("  12\n", "12"),
        ("+7", "7"),
        ("1.0E+1", "10"),
        ("1.25e-1", "0.125"),
        ("12345678.9", "12345678.9"),
        ("-1e-20", "-0.00000000000000000001"),
        ("10000", "10000"),
        ("0.0001", "0.0001"),
        ("99999999.99999999", "99999999.99999999"),
        ("nan", "NaN"),
        ("NaN", "NaN"),
        ("-inf", "-Infinity"),
        ("+Infinity", "Infinity"),
        ("INFINITY", "Infinity"),
    ] {
        assert_eq!(n(input).to_string(), out, "{input:?}");
    }
}

#[test]
fn parse_rejects_what_numeric_in_rejects() {
    for bad in [
        "",
        " ",
        "-",
        ".",
        "1e",
        "1e+",
        "e5",
        "abc",
        "1.2.3",
        "+NaN",
        "-nan",
        "1 2",
        "0x10",
        "1e1000001",
        "1e-16384",
        "1e131072",
        "Infinityx",
    ] {
        assert!(bad.parse::<Numeric>().is_err(), "{bad:?}");
    }
}

#[test]
fn extreme_scales_and_weights_are_representable() {
    let tiny = n("1e-16383");
    assert_eq!(tiny.scale(), 16383);
    assert_round_trips(&tiny);
    let huge = n("9e131071");
    assert_eq!(huge.to_string().len(), 131_072);
    assert_round_trips(&huge);
    // 131072 nines: 32768 base-10000 digits, one more than i16::MAX.
    let nines = "9".repeat(131_072);
    let all = n(&nines);
    assert_eq!(&encode(&all, B)[..2], [0x80, 0x00]);
    assert_round_trips(&all);
}

#[test]
fn a_thousand_digit_value_round_trips() {
    let digits: String = (0..1000)
        .map(|i| char::from(b'1' + (i % 9) as u8))
        .collect();
    let s = format!("-{}.{}", &digits[..600], &digits[600..]);
    let v = n(&s);
    assert_eq!(v.to_string(), s);
    assert_round_trips(&v);
}

// --- hostile binary values -------------------------------------------------------------

#[test]
fn binary_values_that_lie_are_invalid() {
    let cases: [(&[u8], &str); 8] = [
        (&[], "binary value shorter than its 8-byte header"),
        (
            &[0, 0, 0, 0, 0, 0, 0],
            "binary value shorter than its 8-byte header",
        ),
        (
            &[0, 1, 0, 0, 0, 0, 0, 0],
            "digit count does not match the value length",
        ),
        (
            &[0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1],
            "digit count does not match the value length",
        ),
        (
            &[0, 0, 0, 0, 0, 0, 0, 0, 0],
            "digit count does not match the value length",
        ),
        (
            &[0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10],
            "digit out of range 0..=9999",
        ),
        (
            &[0, 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff],
            "digit out of range 0..=9999",
        ),
        (&[0, 0, 0, 0, 0x80, 0, 0, 0], "invalid sign code"),
    ];
    for (raw, reason) in cases {
        assert_eq!(
            decode(B, raw),
            Err(ConversionError::invalid("Numeric", reason)),
            "{raw:?}"
        );
    }
    assert_eq!(
        decode(B, &[0, 0, 0, 0, 0, 0, 0x40, 0]),
        Err(ConversionError::invalid(
            "Numeric",
            "display scale above 16383"
        ))
    );
}

#[test]
fn digits_hidden_by_the_display_scale_are_truncated_as_numeric_recv_does() {
    // 1.5678 with dscale 1 reads as 1.5; leading zero digits are dropped.
    let raw = [0, 3, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x16, 0x2e];
    assert_eq!(decode(B, &raw).unwrap().to_string(), "1.5");
    // A negative value that truncates to zero is zero, not -0.
    let raw = [0, 1, 0xff, 0xfe, 0x40, 0, 0, 2, 0, 5];
    assert_eq!(decode(B, &raw).unwrap().to_string(), "0.00");
}

#[test]
fn special_values_ignore_their_digits_as_numeric_recv_does() {
    let raw = [0, 1, 0, 3, 0xd0, 0, 0, 0, 0, 9];
    assert_eq!(decode(B, &raw), Ok(Numeric::INFINITY));
}

#[test]
fn text_garbage_is_invalid_and_lenient_binary_falls_back_to_text() {
    assert!(decode(T, b"12abc").is_err());
    assert!(decode(T, b"\xff").is_err());
    // iris-pgwire: text bytes in a column RowDescription calls binary.
    let ty = ValueType::lenient(oid::NUMERIC, B);
    assert_eq!(
        Numeric::from_sql(ty, b"12.50").unwrap().to_string(),
        "12.50"
    );
    assert!(decode(B, b"12.50").is_err());
}

#[test]
fn strict_mode_reads_integers_widened_and_rejects_other_types() {
    let ty = ValueType::new(oid::INT4, B);
    assert_eq!(Numeric::from_sql(ty, &(-5i32).to_be_bytes()), Ok(n("-5")));
    let ty = ValueType::new(oid::FLOAT8, B);
    assert_eq!(
        Numeric::from_sql(ty, &[0; 8]),
        Err(ConversionError::WrongType {
            rust: "Numeric",
            oid: oid::FLOAT8
        })
    );
    let mut out = BytesMut::new();
    assert!(n("1")
        .to_sql(ValueType::new(oid::INT4, B), &mut out)
        .is_err());
}

// --- value semantics -------------------------------------------------------------------

#[test]
fn equality_ignores_the_display_scale_and_order_is_postgres_order() {
    use std::collections::hash_map::DefaultHasher;
    let hash = |v: &Numeric| {
        let mut h = DefaultHasher::new();
        v.hash(&mut h);
        h.finish()
    };
    assert_eq!(n("1.5"), n("1.50"));
    assert_eq!(hash(&n("1.5")), hash(&n("1.50")));
    assert_eq!(n("0"), n("-0.00"));
    assert_eq!(Numeric::NAN, Numeric::NAN);
    let sorted = [
        Numeric::NEG_INFINITY,
        n("-10000"),
        n("-1.5"),
        n("-0.0001"),
        n("0"),
        n("0.00009"),
        n("1"),
        n("1.0001"),
        n("9999"),
        n("10000"),
        Numeric::INFINITY,
        Numeric::NAN,
    ];
    for w in sorted.windows(2) {
        assert!(w[0] < w[1], "{:?} < {:?}", w[0], w[1]);
    }
}

#[test]
fn integers_convert_exactly() {
    assert_eq!(Numeric::from(i64::MIN).to_string(), "-9223372036854775808");
    assert_eq!(Numeric::from(u64::MAX).to_string(), "18446744073709551615");
    assert_eq!(Numeric::from(0u8).to_string(), "0");
    assert_eq!(Numeric::from(10_000i32).to_string(), "10000");
}

// --- rust_decimal ----------------------------------------------------------------------

#[cfg(feature = "rust_decimal")]
mod decimal {
    use rust_decimal::Decimal;

    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn decimals_convert_to_numeric_exactly_keeping_the_scale() {
        for s in [
            "0",
            "1.50",
            "-0.0000000000000000000000000001",
            "79228162514264337593543950335",
            "-123.456",
        ] {
            assert_eq!(Numeric::from(d(s)).to_string(), s);
        }
    }

    #[test]
    fn numerics_convert_to_decimal_or_say_why_not() {
        assert_eq!(Decimal::try_from(n("-12.340")), Ok(d("-12.340")));
        assert_eq!(Decimal::try_from(n("-12.340")).unwrap().scale(), 3);
        // More than 28 places, all zeros beyond the 28th: scale 28.
        let v = Decimal::try_from(n(&format!("1.{}", "0".repeat(40)))).unwrap();
        assert_eq!((v, v.scale()), (d("1"), 28));
        // The scale is given up before the value is.
        let v = Decimal::try_from(n("79228162514264337593543950335.00")).unwrap();
        assert_eq!(v, Decimal::MAX);
        for (v, why) in [
            (Numeric::NAN, "NaN cannot be a Decimal"),
            (Numeric::INFINITY, "infinity cannot be a Decimal"),
            (
                n("1e-29"),
                "more than 28 digits after the point cannot be a Decimal",
            ),
            (
                n("79228162514264337593543950336"),
                "out of range for Decimal (96-bit mantissa)",
            ),
        ] {
            assert_eq!(Decimal::try_from(&v).unwrap_err().to_string(), why);
        }
    }

    #[test]
    fn decimal_round_trips_in_both_formats_and_rejects_nan_from_the_wire() {
        for s in ["0.00", "-1", "3.14159265358979323846264338", "1000000"] {
            for format in [B, T] {
                let ty = ValueType::new(oid::NUMERIC, format);
                let bytes = encode(&d(s), format);
                let back = Decimal::from_sql(ty, &bytes).unwrap();
                assert_eq!(back.to_string(), s);
            }
        }
        assert_eq!(
            Decimal::from_sql(ValueType::new(oid::NUMERIC, T), b"NaN"),
            Err(ConversionError::invalid(
                "Decimal",
                "NaN cannot be a Decimal"
            ))
        );
    }

    proptest! {
        #[test]
        fn any_decimal_round_trips_through_numeric(m in any::<i128>(), scale in 0u32..=28) {
            let m = m % (1i128 << 96);
            let v = Decimal::from_i128_with_scale(m, scale);
            let back = Decimal::try_from(Numeric::from(v)).unwrap();
            prop_assert_eq!(back, v);
            prop_assert_eq!(back.to_string(), v.to_string());
        }
    }
}

// --- properties ------------------------------------------------------------------------

/// The canonical text of `int.frac × 10^exp` as `numeric_out` prints it, computed by
/// moving the point in the digit string.
fn canonical(negative: bool, int: &str, frac: &str, exp: i64) -> String {
    let all = format!("{int}{frac}");
    let point = int.len() as i64 + exp;
    let dscale = (frac.len() as i64 - exp).max(0) as usize;
    let (int_part, frac_part) = if point <= 0 {
        (
            String::new(),
            format!("{}{all}", "0".repeat((-point) as usize)),
        )
    } else if point as usize >= all.len() {
        (
            format!("{all}{}", "0".repeat(point as usize - all.len())),
            String::new(),
        )
    } else {
        let (a, b) = all.split_at(point as usize);
        (a.to_owned(), b.to_owned())
    };
    let int_part = int_part.trim_start_matches('0');
    let int_part = if int_part.is_empty() { "0" } else { int_part };
    let mut out = String::new();
    if negative && all.bytes().any(|b| b != b'0') {
        out.push('-');
    }
    out.push_str(int_part);
    if dscale > 0 {
        out.push('.');
        out.push_str(&frac_part);
    }
    out
}

proptest! {
    #[test]
    fn decimal_strings_print_canonically_and_round_trip(
        negative in any::<bool>(),
        int in "[0-9]{0,30}",
        frac in "[0-9]{0,30}",
        point in any::<bool>(),
        exp in prop::option::of(-40i64..40),
    ) {
        prop_assume!(!int.is_empty() || !frac.is_empty());
        let frac = if point || int.is_empty() { frac } else { String::new() };
        let mut s = format!("{}{int}", if negative { "-" } else { "" });
        if !frac.is_empty() || point {
            s.push('.');
            s.push_str(&frac);
        }
        if let Some(e) = exp {
            s.push_str(&format!("e{e}"));
        }
        let v = n(&s);
        prop_assert_eq!(v.to_string(), canonical(negative, &int, &frac, exp.unwrap_or(0)));
        assert_round_trips(&v);
        // Reading the canonical text again gives the same text (numeric_out is a fixpoint).
        prop_assert_eq!(n(&v.to_string()).to_string(), v.to_string());
    }

    #[test]
    fn arbitrary_binary_bytes_never_panic_and_decode_to_a_round_tripping_value(
        raw in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        if let Ok(v) = decode(B, &raw) {
            assert_round_trips(&v);
        }
        let _ = decode(T, &raw);
        let _ = Numeric::from_sql(ValueType::lenient(oid::NUMERIC, B), &raw);
    }

    #[test]
    fn well_formed_binary_headers_with_random_digits_never_panic(
        weight in any::<i16>(),
        sign in prop::sample::select(vec![SIGN_POS, SIGN_NEG, SIGN_NAN, 0x1234]),
        dscale in 0u16..0x4100,
        digits in prop::collection::vec(0i16..10_100, 0..12),
    ) {
        let mut raw = Vec::new();
        raw.extend_from_slice(&(digits.len() as u16).to_be_bytes());
        raw.extend_from_slice(&weight.to_be_bytes());
        raw.extend_from_slice(&sign.to_be_bytes());
        raw.extend_from_slice(&dscale.to_be_bytes());
        for d in &digits {
            raw.extend_from_slice(&d.to_be_bytes());
        }
        if let Ok(v) = decode(B, &raw) {
            assert_round_trips(&v);
        }
    }
}
