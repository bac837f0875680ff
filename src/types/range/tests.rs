//! Ranges and multiranges byte by byte.

use std::ops::Bound::{self, Excluded, Included, Unbounded};

use bytes::BytesMut;
use proptest::prelude::*;

use super::*;
use crate::types::decode_value;
use crate::types::oid::*;

const B: Format = Format::Binary;
const T: Format = Format::Text;

fn encode<V: ToSql>(v: &V, oid: Oid, format: Format) -> Vec<u8> {
    let mut out = BytesMut::new();
    assert_eq!(
        v.to_sql(ValueType::new(oid, format), &mut out),
        Ok(IsNull::No)
    );
    out.to_vec()
}

fn decode<V: for<'a> FromSql<'a>>(
    oid: Oid,
    format: Format,
    raw: &[u8],
) -> Result<V, ConversionError> {
    decode_value(ValueType::new(oid, format), Some(raw))
}

#[test]
fn an_int4_range_encodes_flags_then_length_prefixed_bounds() {
    let r: Range<i32> = (1..5).into();
    assert_eq!(r.type_oid(), INT4RANGE);
    assert_eq!(
        encode(&r, INT4RANGE, B),
        [LB_INC, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 5]
    );
    assert_eq!(encode(&r, INT4RANGE, T), b"[1,5)");
}

#[test]
fn empty_and_unbounded_ranges_have_their_flags_and_text() {
    let e = Range::<i64>::Empty;
    assert_eq!(encode(&e, INT8RANGE, B), [EMPTY]);
    assert_eq!(encode(&e, INT8RANGE, T), b"empty");
    let all: Range<i64> = (..).into();
    assert_eq!(encode(&all, INT8RANGE, B), [LB_INF | UB_INF]);
    assert_eq!(encode(&all, INT8RANGE, T), b"(,)");
    let upto: Range<i64> = Range::new(Unbounded, Included(3));
    assert_eq!(encode(&upto, INT8RANGE, T), b"(,3]");
    assert_eq!(Range::<i64>::null_type_oid(), INT8RANGE);
}

#[test]
fn text_bounds_are_quoted_as_range_out_quotes_them() {
    let r = Range::new(Included("a b".to_string()), Excluded("x\"y\\".to_string()));
    // String bounds name no range type: a text parameter of a declared range type.
    assert_eq!(encode(&r, UNSPECIFIED, T), br#"["a b","x""y\\")"#);
    assert_eq!(r.type_oid(), UNSPECIFIED);
    assert_eq!(
        decode::<Range<String>>(TSRANGE, T, br#"["a b","x""y\\")"#),
        Ok(r)
    );
}

#[test]
fn ranges_accept_only_their_own_range_types() {
    let r: Range<i32> = (1..2).into();
    assert!(r.accepts(INT4RANGE));
    assert!(r.accepts(INT8RANGE), "i32 widens");
    assert!(!r.accepts(INT4MULTIRANGE));
    assert!(!r.accepts(INT4));
    assert!(<Range<i32> as FromSql>::accepts(INT4RANGE));
    assert!(!<Range<i32> as FromSql>::accepts(INT8RANGE));
    assert!(!<Range<i32> as FromSql>::accepts(INT4MULTIRANGE));
    let err = decode::<Range<i32>>(INT8RANGE, T, b"[1,2)").unwrap_err();
    assert!(matches!(err, ConversionError::WrongType { .. }));
}

#[test]
fn text_ranges_parse_as_range_in_does() {
    let p = |s: &str| decode::<Range<i32>>(INT4RANGE, T, s.as_bytes());
    assert_eq!(p("[1,5)"), Ok((1..5).into()));
    assert_eq!(p(" EMPTY "), Ok(Range::Empty));
    assert_eq!(p("(,)"), Ok((..).into()));
    assert_eq!(p("(1,]"), Ok(Range::new(Excluded(1), Unbounded)));
    assert_eq!(p(r#"["1","2"]"#), Ok((1..=2).into()));
    for bad in [
        "", "[1,5", "1,5)", "[1;5)", "[1,5)x", "[a,5)", "[1,5,6)", "emptyx", "[",
    ] {
        assert!(p(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn multiranges_round_trip_in_both_formats() {
    let m = MultiRange(vec![(1..3).into(), (5..7).into()]);
    assert_eq!(m.type_oid(), INT4MULTIRANGE);
    assert_eq!(encode(&m, INT4MULTIRANGE, T), b"{[1,3),[5,7)}");
    for f in [B, T] {
        let bytes = encode(&m, INT4MULTIRANGE, f);
        assert_eq!(
            decode::<MultiRange<i32>>(INT4MULTIRANGE, f, &bytes),
            Ok(m.clone())
        );
    }
    let empty = MultiRange::<i64>(vec![]);
    assert_eq!(encode(&empty, INT8MULTIRANGE, T), b"{}");
    assert_eq!(encode(&empty, INT8MULTIRANGE, B), [0, 0, 0, 0]);
    assert_eq!(
        decode::<MultiRange<i64>>(INT8MULTIRANGE, T, b" { } "),
        Ok(empty)
    );
}

#[test]
fn hostile_range_bytes_are_errors_not_panics() {
    let cases: &[(&str, &[u8])] = &[
        ("no flags", b""),
        ("missing lower", &[LB_INC]),
        ("negative length", &[0, 0xff, 0xff, 0xff, 0xfe]),
        ("null bound", &[UB_INF, 0xff, 0xff, 0xff, 0xff]),
        ("length past the end", &[UB_INF, 0, 0, 0, 9, 0, 0, 0, 1]),
        ("trailing", &[EMPTY, 0]),
        ("wrong width", &[UB_INF, 0, 0, 0, 2, 0, 1]),
    ];
    for (what, bytes) in cases {
        assert!(decode::<Range<i32>>(INT4RANGE, B, bytes).is_err(), "{what}");
    }
    let multi: &[(&str, &[u8])] = &[
        (
            "count > bytes",
            &[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1, EMPTY],
        ),
        ("negative count", &[0xff, 0xff, 0xff, 0xff]),
        ("null range", &[0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0]),
        ("range trailing", &[0, 0, 0, 1, 0, 0, 0, 2, EMPTY, 0]),
    ];
    for (what, bytes) in multi {
        assert!(
            decode::<MultiRange<i32>>(INT4MULTIRANGE, B, bytes).is_err(),
            "{what}"
        );
    }
}

fn bound() -> impl Strategy<Value = Bound<i64>> {
    prop_oneof![
        any::<i64>().prop_map(Included),
        any::<i64>().prop_map(Excluded),
        Just(Unbounded),
    ]
}

fn range() -> impl Strategy<Value = Range<i64>> {
    prop_oneof![
        Just(Range::Empty),
        (bound(), bound()).prop_map(|(l, u)| Range::new(l, u)),
    ]
}

proptest! {
    #[test]
    fn ranges_round_trip_in_both_formats(r in range()) {
        for f in [B, T] {
            let bytes = encode(&r, INT8RANGE, f);
            prop_assert_eq!(decode::<Range<i64>>(INT8RANGE, f, &bytes), Ok(r.clone()));
        }
    }

    #[test]
    fn string_ranges_round_trip_in_text(l in ".{0,6}", u in ".{0,6}") {
        let r = Range::new(Included(l), Excluded(u));
        let bytes = encode(&r, UNSPECIFIED, T);
        prop_assert_eq!(decode::<Range<String>>(TSRANGE, T, &bytes), Ok(r));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        let _ = decode::<Range<i32>>(INT4RANGE, B, &bytes);
        let _ = decode::<Range<String>>(INT4RANGE, T, &bytes);
        let _ = decode::<MultiRange<i32>>(INT4MULTIRANGE, B, &bytes);
        let _ = decode::<MultiRange<String>>(INT4MULTIRANGE, T, &bytes);
    }
}
