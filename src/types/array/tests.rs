//! Arrays byte by byte: exact encodings, both formats, hostile headers and text.

use std::time::Instant;

use bytes::BytesMut;
use proptest::prelude::*;

use super::*;
use crate::types::oid::*;
use crate::types::{decode_value, RawValue, Text};

const B: Format = Format::Binary;
const T: Format = Format::Text;

fn encode<V: ToSql + ?Sized>(v: &V, ty: ValueType) -> Vec<u8> {
    let mut out = BytesMut::new();
    assert_eq!(v.to_sql(ty, &mut out), Ok(IsNull::No));
    out.to_vec()
}

fn text_of<V: ToSql + ?Sized>(v: &V) -> String {
    String::from_utf8(encode(v, ValueType::new(v.type_oid(), T))).unwrap()
}

fn decode<V: for<'a> FromSql<'a>>(
    oid: Oid,
    format: Format,
    raw: &[u8],
) -> Result<V, ConversionError> {
    decode_value(ValueType::new(oid, format), Some(raw))
}

/// An array header followed by `rest`.
fn header(ndim: i32, flags: i32, elem: Oid, dims: &[(i32, i32)]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&ndim.to_be_bytes());
    v.extend_from_slice(&flags.to_be_bytes());
    v.extend_from_slice(&elem.to_be_bytes());
    for (len, lb) in dims {
        v.extend_from_slice(&len.to_be_bytes());
        v.extend_from_slice(&lb.to_be_bytes());
    }
    v
}

// --- writing ---------------------------------------------------------------------------

#[test]
fn a_vec_of_i32_declares_int4_array_and_encodes_the_binary_header() {
    let v = vec![1i32, 2];
    assert_eq!(v.type_oid(), INT4_ARRAY);
    let mut want = header(1, 0, INT4, &[(2, 1)]);
    want.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 2]);
    assert_eq!(encode(&v, ValueType::new(INT4_ARRAY, B)), want);
}

#[test]
fn none_elements_are_nulls_and_set_the_has_nulls_flag() {
    let v = vec![Some(7i64), None];
    let mut want = header(1, 1, INT8, &[(2, 1)]);
    want.extend_from_slice(&[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff]);
    assert_eq!(encode(&v, ValueType::new(INT8_ARRAY, B)), want);
    assert_eq!(text_of(&v), "{7,NULL}");
}

#[test]
fn an_empty_array_has_no_dimensions_in_binary_and_is_braces_in_text() {
    let v: Vec<i32> = Vec::new();
    assert_eq!(v.type_oid(), INT4_ARRAY);
    assert_eq!(
        encode(&v, ValueType::new(INT4_ARRAY, B)),
        header(0, 0, INT4, &[])
    );
    assert_eq!(text_of(&v), "{}");
}

#[test]
fn text_elements_are_quoted_as_array_out_quotes_them() {
    let v = vec![
        "a",
        "a b",
        "x\"y",
        "back\\slash",
        "",
        "null",
        "NULL",
        "{",
        ",",
        "é",
    ];
    assert_eq!(
        text_of(&v),
        r#"{a,"a b","x\"y","back\\slash","","null","NULL","{",",",é}"#
    );
}

#[test]
fn slices_and_fixed_arrays_write_like_vecs() {
    let v = [1.5f64, -2.0];
    let s: &[f64] = &v;
    assert_eq!(v.type_oid(), FLOAT8_ARRAY);
    assert_eq!(
        encode(&v, ValueType::new(FLOAT8_ARRAY, B)),
        encode(&s, ValueType::new(FLOAT8_ARRAY, B))
    );
    assert_eq!(text_of(&s), "{1.5,-2.0}");
}

#[test]
fn the_element_type_comes_from_the_first_element_that_names_one() {
    let v = vec![None, Some(Text::new(NUMERIC, "1.5"))];
    assert_eq!(v.type_oid(), NUMERIC_ARRAY);
    let unknown = vec![Text::new(0, "x")];
    assert_eq!(unknown.type_oid(), UNSPECIFIED);
    assert_eq!(<Vec<Option<i16>> as ToSql>::null_type_oid(), INT2_ARRAY);
}

#[test]
fn array_types_accept_their_element_types_and_nothing_else() {
    let v = vec![1i32];
    assert!(v.accepts(INT4_ARRAY));
    assert!(v.accepts(INT8_ARRAY), "i32 widens to int8");
    assert!(!v.accepts(INT2_ARRAY));
    assert!(!v.accepts(INT4));
    assert!(v.accepts(UNSPECIFIED));
    assert!(vec!["a"].accepts(VARCHAR_ARRAY));
    // A user-defined array type (an enum's array): text only.
    assert!(vec![Text::new(0, "happy")].accepts(20_000));
    assert!(!vec![Text::new(0, "happy")].supports_binary(20_000));
    assert!(v.supports_binary(INT4_ARRAY));
}

#[test]
fn a_wider_element_type_is_written_widened() {
    let v = vec![1i32];
    let mut want = header(1, 0, INT8, &[(1, 1)]);
    want.extend_from_slice(&[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(encode(&v, ValueType::new(INT8_ARRAY, B)), want);
}

#[test]
fn a_wrong_array_type_is_wrong_type_and_writes_nothing() {
    let mut out = BytesMut::from(&b"keep"[..]);
    let err = vec![1i64].to_sql(ValueType::new(INT4_ARRAY, B), &mut out);
    assert!(matches!(err, Err(ConversionError::WrongType { .. })));
    assert_eq!(&out[..], b"keep");
}

#[test]
fn an_n_dimensional_array_writes_its_bounds() {
    let a = Array::new(
        vec![
            Dimension {
                len: 2,
                lower_bound: 0,
            },
            Dimension::new(1),
        ],
        vec![1i32, 2],
    )
    .unwrap();
    assert_eq!(text_of(&a), "[0:1][1:1]={{1},{2}}");
    let mut want = header(2, 0, INT4, &[(2, 0), (1, 1)]);
    want.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 2]);
    assert_eq!(encode(&a, ValueType::new(INT4_ARRAY, B)), want);
    let plain = Array::new(vec![Dimension::new(2), Dimension::new(2)], vec![1, 2, 3, 4]).unwrap();
    assert_eq!(text_of(&plain), "{{1,2},{3,4}}");
}

#[test]
fn array_new_checks_the_shape() {
    assert!(Array::new(vec![Dimension::new(2)], vec![1]).is_err());
    assert!(Array::new(vec![Dimension::new(-1)], Vec::<i32>::new()).is_err());
    assert!(Array::new(vec![Dimension::new(1); 7], vec![1]).is_err());
    let overflow = Dimension {
        len: 2,
        lower_bound: i32::MAX,
    };
    assert!(Array::new(vec![overflow], vec![1, 2]).is_err());
    let a = Array::new(vec![Dimension::new(0)], Vec::<i32>::new()).unwrap();
    assert!(a.dimensions().is_empty());
}

// --- reading ---------------------------------------------------------------------------

#[test]
fn binary_round_trips_keep_values_and_nulls() {
    let v = vec![Some("a b".to_string()), None, Some(String::new())];
    let bytes = encode(&v, ValueType::new(TEXT_ARRAY, B));
    assert_eq!(
        decode::<Vec<Option<String>>>(TEXT_ARRAY, B, &bytes),
        Ok(v.clone())
    );
    let text = encode(&v, ValueType::new(TEXT_ARRAY, T));
    assert_eq!(decode::<Vec<Option<String>>>(TEXT_ARRAY, T, &text), Ok(v));
}

#[test]
fn a_null_element_into_a_non_option_is_unexpected_null() {
    let err = decode::<Vec<i32>>(INT4_ARRAY, T, b"{1,NULL}").unwrap_err();
    assert!(
        matches!(err, ConversionError::UnexpectedNull { .. }),
        "{err}"
    );
}

#[test]
fn strict_mode_checks_the_array_oid_and_the_headers_element_oid() {
    let err = decode::<Vec<i32>>(INT8_ARRAY, B, &header(0, 0, INT8, &[])).unwrap_err();
    assert!(matches!(
        err,
        ConversionError::WrongType {
            oid: INT8_ARRAY,
            ..
        }
    ));
    // The column says int4[] but the header says int8: the header is checked too.
    let err = decode::<Vec<i32>>(INT4_ARRAY, B, &header(0, 0, INT8, &[])).unwrap_err();
    assert!(matches!(err, ConversionError::WrongType { oid: INT8, .. }));
    // Lenient mode trusts neither and decodes.
    let ok: Result<Vec<i32>, _> =
        decode_value(ValueType::lenient(TEXT, B), Some(&header(0, 0, INT8, &[])));
    assert_eq!(ok, Ok(vec![]));
    // i64 reads int4[] (widening).
    assert_eq!(decode::<Vec<i64>>(INT4_ARRAY, T, b"{1,2}"), Ok(vec![1, 2]));
}

#[test]
fn a_multi_dimensional_value_into_a_vec_says_to_use_array() {
    let err = decode::<Vec<i32>>(INT4_ARRAY, T, b"{{1},{2}}").unwrap_err();
    assert!(err.to_string().contains("Array<T>"), "{err}");
}

#[test]
fn a_three_dimensional_text_array_with_bounds_decodes_into_array() {
    let a: Array<i32> = decode(INT4_ARRAY, T, b"[0:1][1:2][1:1]={{{1},{2}},{{3},{4}}}").unwrap();
    assert_eq!(
        a.dimensions(),
        [
            Dimension {
                len: 2,
                lower_bound: 0
            },
            Dimension::new(2),
            Dimension::new(1)
        ]
    );
    assert_eq!(a.elements(), [1, 2, 3, 4]);
    assert_eq!(a.get(&[1, 2, 1]), Some(&4));
    assert_eq!(a.get(&[0, 1, 1]), Some(&1));
    assert_eq!(a.get(&[2, 1, 1]), None);
    // And back to the same text.
    assert_eq!(text_of(&a), "[0:1][1:2][1:1]={{{1},{2}},{{3},{4}}}");
    let bin = encode(&a, ValueType::new(INT4_ARRAY, B));
    assert_eq!(decode::<Array<i32>>(INT4_ARRAY, B, &bin), Ok(a));
}

#[test]
fn text_parsing_follows_array_in() {
    let p = |s: &str| decode::<Vec<Option<String>>>(TEXT_ARRAY, T, s.as_bytes());
    let s = |x: &str| Some(x.to_string());
    assert_eq!(p("{}"), Ok(vec![]));
    assert_eq!(p("  { }  "), Ok(vec![]));
    assert_eq!(p("{a, b ,c}"), Ok(vec![s("a"), s("b"), s("c")]));
    assert_eq!(
        p(r#"{"a b","x\"y",NULL,"NULL",null}"#),
        Ok(vec![s("a b"), s("x\"y"), None, s("NULL"), None])
    );
    assert_eq!(
        p(r"{a\,b,\NULL, x\ }"),
        Ok(vec![s("a,b"), s("NULL"), s("x ")])
    );
    assert_eq!(p(r#"{"",a b}"#), Ok(vec![s(""), s("a b")]));
    assert_eq!(p("{{}}"), Ok(vec![]));
    for bad in [
        "",
        "{",
        "}",
        "{a,}",
        "{,a}",
        "{a b",
        "{a}x",
        "{{1},2}",
        "{1,{2}}",
        "{{1},{1,2}}",
        "{{1,2},{1}}",
        r#"{"a}"#,
        "{a\"b}",
        "[1:2]={1}",
        "[2:1]={}",
        "[1:1]{1}",
        "{{{{{{{1}}}}}}}",
        "[1:1][1:1][1:1][1:1][1:1][1:1][1:1]={{{{{{{1}}}}}}}",
        "{a\\",
        "{{},{1}}",
        "{{1},{}}",
        "{{{1}},{2}}",
    ] {
        assert!(p(bad).is_err(), "{bad:?} parsed as {:?}", p(bad));
    }
}

#[test]
fn text_with_a_six_deep_array_parses() {
    let a: Array<i32> = decode(INT4_ARRAY, T, b"{{{{{{1,2}}}}}}").unwrap();
    assert_eq!(a.dimensions().len(), 6);
    assert_eq!(a.elements(), [1, 2]);
}

#[test]
fn a_user_defined_array_reads_from_text_with_an_unknown_element_type() {
    assert_eq!(
        decode::<Vec<String>>(20_000, T, b"{happy,sad}"),
        Ok(vec!["happy".to_string(), "sad".to_string()])
    );
    // Raw element bytes, borrowed or not, through RawValue is not possible for Vec (owned
    // elements), but Text-like String works everywhere.
    let _ = RawValue {
        ty: ValueType::new(TEXT_ARRAY, T),
        bytes: b"{}",
    };
}

// --- hostile input ---------------------------------------------------------------------

#[test]
fn hostile_binary_headers_are_errors_not_panics() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("seven dimensions", header(7, 0, INT4, &[(1, 1); 7])),
        ("negative ndim", header(-1, 0, INT4, &[])),
        ("bad flags", header(0, 2, INT4, &[])),
        ("negative length", header(1, 0, INT4, &[(-1, 1)])),
        (
            "2^30 x 2^30",
            header(2, 0, INT4, &[(1 << 30, 1), (1 << 30, 1)]),
        ),
        ("i32::MAX elements", header(1, 0, INT4, &[(i32::MAX, 1)])),
        ("upper bound overflow", header(1, 0, INT4, &[(2, i32::MAX)])),
        ("truncated header", vec![0, 0, 0, 1, 0, 0]),
        ("missing dimension", header(1, 0, INT4, &[])),
        ("count > bytes", {
            let mut v = header(1, 0, INT4, &[(3, 1)]);
            v.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 2]);
            v
        }),
        ("element length past the end", {
            let mut v = header(1, 0, INT4, &[(1, 1)]);
            v.extend_from_slice(&[0, 0, 0, 9, 0, 0, 0, 1]);
            v
        }),
        ("negative element length", {
            let mut v = header(1, 0, INT4, &[(1, 1)]);
            v.extend_from_slice(&(-2i32).to_be_bytes());
            v
        }),
        ("trailing bytes", {
            let mut v = header(1, 0, INT4, &[(1, 1)]);
            v.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 1, 0]);
            v
        }),
        ("wrong element width", {
            let mut v = header(1, 0, INT4, &[(1, 1)]);
            v.extend_from_slice(&[0, 0, 0, 2, 0, 1]);
            v
        }),
    ];
    for (what, bytes) in cases {
        let started = Instant::now();
        let r = decode::<Array<i32>>(INT4_ARRAY, B, &bytes);
        assert!(r.is_err(), "{what}: {r:?}");
        let r = decode::<Vec<Option<i32>>>(INT4_ARRAY, B, &bytes);
        assert!(r.is_err(), "{what}: {r:?}");
        assert!(started.elapsed().as_millis() < 100, "{what} took long");
    }
}

#[test]
fn a_header_claiming_2_pow_31_elements_fails_before_allocating() {
    // With 4 GiB of NULL lengths this would succeed; with 12 bytes after the header it
    // must fail on the count check, not on a failed allocation.
    let mut v = header(1, 1, INT4, &[(i32::MAX, 1)]);
    v.extend_from_slice(&[0xff; 12]);
    let started = Instant::now();
    let err = decode::<Vec<Option<i32>>>(INT4_ARRAY, B, &v).unwrap_err();
    assert_eq!(
        err,
        ConversionError::invalid("Vec<T>", "count larger than the value")
    );
    assert!(started.elapsed().as_millis() < 50);
}

#[test]
fn a_long_text_array_parses_in_linear_time() {
    let n = 200_000;
    let mut s = String::from("{");
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push_str("\"a\\\"b\"");
    }
    s.push('}');
    let started = Instant::now();
    let v = decode::<Vec<String>>(TEXT_ARRAY, T, s.as_bytes()).unwrap();
    assert_eq!(v.len(), n);
    assert!(started.elapsed().as_secs() < 5);
    // Deep-but-unbalanced garbage stops at the depth limit.
    let deep = "{".repeat(100_000);
    assert!(decode::<Array<i32>>(INT4_ARRAY, T, deep.as_bytes()).is_err());
}

// --- properties ------------------------------------------------------------------------

fn round_trip<V>(v: &V, oid: Oid, format: Format) -> V
where
    V: ToSql + for<'a> FromSql<'a>,
{
    let bytes = encode(v, ValueType::new(oid, format));
    decode::<V>(oid, format, &bytes).unwrap()
}

proptest! {
    #[test]
    fn i32_arrays_round_trip_in_both_formats(v in proptest::collection::vec(any::<i32>(), 0..40)) {
        prop_assert_eq!(&round_trip(&v, INT4_ARRAY, B), &v);
        prop_assert_eq!(&round_trip(&v, INT4_ARRAY, T), &v);
    }

    #[test]
    fn i64_arrays_with_nulls_round_trip_in_both_formats(
        v in proptest::collection::vec(proptest::option::of(any::<i64>()), 0..40)
    ) {
        prop_assert_eq!(&round_trip(&v, INT8_ARRAY, B), &v);
        prop_assert_eq!(&round_trip(&v, INT8_ARRAY, T), &v);
    }

    #[test]
    fn string_arrays_round_trip_in_both_formats(
        v in proptest::collection::vec(proptest::option::of(".{0,8}"), 0..20)
    ) {
        prop_assert_eq!(&round_trip(&v, TEXT_ARRAY, B), &v);
        prop_assert_eq!(&round_trip(&v, TEXT_ARRAY, T), &v);
    }

    #[test]
    fn arrays_of_any_shape_round_trip(
        dims in proptest::collection::vec((1i32..4, -3i32..3), 1..4),
        seed in any::<i32>()
    ) {
        let dims: Vec<Dimension> = dims.into_iter().map(|(len, lower_bound)| Dimension { len, lower_bound }).collect();
        let n: i32 = dims.iter().map(|d| d.len).product();
        let a = Array::new(dims, (0..n).map(|i| seed.wrapping_add(i)).collect()).unwrap();
        prop_assert_eq!(&round_trip(&a, INT4_ARRAY, B), &a);
        prop_assert_eq!(&round_trip(&a, INT4_ARRAY, T), &a);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode::<Array<Option<String>>>(TEXT_ARRAY, B, &bytes);
        let _ = decode::<Array<Option<String>>>(TEXT_ARRAY, T, &bytes);
    }

    #[test]
    fn arbitrary_array_text_never_panics(s in "[{}\",\\\\ a1\\[\\]:=N-]{0,40}") {
        let _ = decode::<Array<Option<String>>>(TEXT_ARRAY, T, s.as_bytes());
    }
}

#[test]
fn string_elements_read_any_array_type_in_text_but_typed_elements_are_still_checked() {
    assert_eq!(
        decode::<Vec<String>>(INT4_ARRAY, T, b"{1,2}"),
        Ok(vec!["1".to_string(), "2".to_string()])
    );
    assert!(matches!(
        decode::<Vec<i32>>(INT8_ARRAY, T, b"{1}"),
        Err(ConversionError::WrongType { oid: INT8, .. })
    ));
    assert!(matches!(
        decode::<Vec<String>>(INT4, T, b"{1}"),
        Err(ConversionError::WrongType { oid: INT4, .. })
    ));
}

/// Encodes `v` as type `oid` in `format`, or the error.
fn encoded<V: ToSql + ?Sized>(v: &V, oid: Oid, format: Format) -> Result<Vec<u8>, ConversionError> {
    let mut out = BytesMut::new();
    v.to_sql(ValueType::new(oid, format), &mut out)?;
    Ok(out.to_vec())
}

proptest! {
    #[test]
    fn a_range_of_an_array_encodes_exactly_as_the_subslice_does(
        ints in proptest::collection::vec(proptest::option::of(any::<i64>()), 0..40),
        texts in proptest::collection::vec("[a-z\" ,{}]{0,6}", 0..40),
        a in 0usize..45,
        b in 0usize..45,
    ) {
        let (lo, hi) = (a.min(b), a.max(b));
        for format in [Format::Binary, Format::Text] {
            let ty = ValueType::new(INT8_ARRAY, format);
            let mut out = BytesMut::new();
            match ints.to_sql_array_range(ty, lo..hi, &mut out) {
                Some(r) => {
                    prop_assert!(hi <= ints.len());
                    prop_assert_eq!(r.map(|_| out.to_vec()), encoded(&&ints[lo..hi], INT8_ARRAY, format));
                }
                None => prop_assert!(hi > ints.len(), "an in-bounds range must encode"),
            }
            let ty = ValueType::new(TEXT_ARRAY, format);
            let mut out = BytesMut::new();
            if let Some(r) = texts.as_slice().to_sql_array_range(ty, lo..hi, &mut out) {
                prop_assert_eq!(r.map(|_| out.to_vec()), encoded(&&texts[lo..hi], TEXT_ARRAY, format));
            } else {
                prop_assert!(hi > texts.len());
            }
        }
        prop_assert_eq!(ints.array_len(), Some(ints.len()));
        prop_assert_eq!(7i64.array_len(), None);
    }
}
