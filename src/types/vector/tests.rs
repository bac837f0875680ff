//! Both directions, every accepted spelling, and malformed input as typed errors.

use bytes::BytesMut;
use proptest::prelude::*;

use super::super::oid::{FLOAT8, INT4, TEXT, UNKNOWN, UNSPECIFIED, VARCHAR};
use super::super::{decode_value, ConversionError, Format, IsNull, ToSql, ValueType};
use super::{Vector, IRIS_VECTOR};

fn encode(v: &Vector, ty: ValueType) -> Result<String, ConversionError> {
    let mut out = BytesMut::new();
    assert_eq!(v.to_sql(ty, &mut out)?, IsNull::No);
    Ok(String::from_utf8(out.to_vec()).unwrap())
}

fn text(oid: u32) -> ValueType {
    ValueType::new(oid, Format::Text)
}

fn decode(ty: ValueType, raw: &str) -> Result<Vec<f64>, ConversionError> {
    decode_value::<Vector>(ty, Some(raw.as_bytes())).map(Vector::into_vec)
}

fn invalid(reason: &'static str) -> ConversionError {
    ConversionError::Invalid {
        rust: "Vector",
        reason,
    }
}

// --- writing -----------------------------------------------------------------------------

#[test]
fn a_vector_is_written_as_a_bracketed_list_in_shortest_form() {
    let v = Vector::from(vec![1.0, -0.5, 0.1, 1e-7, 3.0e20]);
    assert_eq!(
        encode(&v, text(TEXT)).unwrap(),
        "[1,-0.5,0.1,0.0000001,300000000000000000000]"
    );
}

#[test]
fn an_empty_vector_is_written_as_empty_brackets() {
    assert_eq!(encode(&Vector::default(), text(TEXT)).unwrap(), "[]");
}

#[test]
fn f32_elements_are_widened_exactly() {
    let v = Vector::from(vec![0.5f32, 0.1]);
    assert_eq!(v.as_slice(), [0.5, f64::from(0.1f32)]);
    assert_eq!(encode(&v, text(TEXT)).unwrap(), "[0.5,0.10000000149011612]");
}

#[test]
fn a_vector_is_declared_as_text_and_accepts_unknown_and_the_iris_oid() {
    let v = Vector::new(vec![1.0]);
    assert_eq!(v.type_oid(), TEXT);
    for oid in [TEXT, VARCHAR, UNKNOWN, UNSPECIFIED, IRIS_VECTOR] {
        assert!(v.accepts(oid), "{oid}");
        assert_eq!(encode(&v, text(oid)).unwrap(), "[1]");
    }
    assert!(!v.accepts(FLOAT8));
    assert!(!v.supports_binary(TEXT));
}

#[test]
fn a_vector_refuses_a_non_text_parameter_type() {
    assert_eq!(
        encode(&Vector::new(vec![1.0]), text(INT4)),
        Err(ConversionError::WrongType {
            rust: "Vector",
            oid: INT4
        })
    );
}

#[test]
fn a_binary_vector_parameter_is_its_text_only_for_string_types() {
    let v = Vector::new(vec![2.0]);
    assert_eq!(
        encode(&v, ValueType::new(TEXT, Format::Binary)).unwrap(),
        "[2]"
    );
    assert!(matches!(
        encode(&v, ValueType::new(IRIS_VECTOR, Format::Binary)),
        Err(ConversionError::Unsupported { .. })
    ));
}

#[test]
fn nan_and_infinities_are_refused_without_writing_anything() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut out = BytesMut::new();
        let r = Vector::new(vec![1.0, bad]).to_sql(text(TEXT), &mut out);
        assert!(matches!(r, Err(ConversionError::Invalid { .. })), "{bad}");
        assert!(out.is_empty());
    }
}

// --- reading -----------------------------------------------------------------------------

#[test]
fn iris_bare_comma_lists_are_read() {
    assert_eq!(decode(text(VARCHAR), "1,2,3"), Ok(vec![1.0, 2.0, 3.0]));
}

#[test]
fn bracketed_lists_with_spaces_are_read() {
    assert_eq!(
        decode(text(TEXT), " [ 1.5 , -2 ,3e2 ] "),
        Ok(vec![1.5, -2.0, 300.0])
    );
}

#[test]
fn objectscript_canonical_numbers_are_read() {
    assert_eq!(
        decode(text(TEXT), ".1,-.5,1E+2,+3"),
        Ok(vec![0.1, -0.5, 100.0, 3.0])
    );
}

#[test]
fn empty_brackets_and_empty_text_are_the_empty_vector() {
    assert_eq!(decode(text(TEXT), "[]"), Ok(vec![]));
    assert_eq!(decode(text(TEXT), "[ ]"), Ok(vec![]));
    assert_eq!(decode(text(TEXT), ""), Ok(vec![]));
}

#[test]
fn the_iris_vector_oid_is_accepted_strictly() {
    assert_eq!(decode(text(IRIS_VECTOR), "1"), Ok(vec![1.0]));
}

#[test]
fn a_non_string_column_is_the_wrong_type_unless_lenient() {
    assert_eq!(
        decode(text(FLOAT8), "1"),
        Err(ConversionError::WrongType {
            rust: "Vector",
            oid: FLOAT8
        })
    );
    assert_eq!(
        decode(ValueType::lenient(FLOAT8, Format::Text), "1"),
        Ok(vec![1.0])
    );
}

#[test]
fn a_binary_column_is_read_only_when_it_holds_the_text() {
    let binary = ValueType::new(TEXT, Format::Binary);
    assert_eq!(decode(binary, "[1,2]"), Ok(vec![1.0, 2.0]));
    let unsupported = Err(ConversionError::Unsupported {
        rust: "Vector",
        format: Format::Binary,
    });
    let float8_bytes = 1.0f64.to_be_bytes();
    assert_eq!(
        decode_value::<Vector>(binary, Some(&float8_bytes)),
        unsupported
    );
    assert_eq!(
        decode_value::<Vector>(binary, Some(&[0xff, 0xfe])),
        unsupported
    );
}

#[test]
fn malformed_lists_are_typed_errors() {
    let cases = [
        ("[1,2", invalid("unbalanced [")),
        ("1,2]", invalid("unbalanced [")),
        ("[", invalid("unbalanced [")),
        ("[[1]]", invalid("element is not a number")),
        ("1,,2", invalid("empty element")),
        ("[1,2,]", invalid("empty element")),
        (",", invalid("empty element")),
        ("1;2", invalid("element is not a number")),
        ("1 2", invalid("element is not a number")),
        ("abc", invalid("element is not a number")),
        ("nan", invalid("element is not a number")),
        ("inf,1", invalid("element is not a number")),
        ("1e400", invalid("element out of range")),
        ("-", invalid("element is not a number")),
        (".", invalid("element is not a number")),
        ("1e", invalid("element is not a number")),
    ];
    for (raw, err) in cases {
        assert_eq!(decode(text(TEXT), raw), Err(err), "{raw:?}");
    }
}

#[test]
fn invalid_utf8_is_a_typed_error() {
    assert_eq!(
        decode_value::<Vector>(text(TEXT), Some(&[b'1', b',', 0xc3])),
        Err(invalid("element is not a number"))
    );
}

#[test]
fn null_is_unexpected_but_option_reads_it() {
    assert_eq!(
        decode_value::<Vector>(text(TEXT), None),
        Err(ConversionError::UnexpectedNull { rust: "Vector" })
    );
    assert_eq!(decode_value::<Option<Vector>>(text(TEXT), None), Ok(None));
}

// --- properties --------------------------------------------------------------------------

proptest! {
    #[test]
    fn finite_vectors_round_trip_exactly(
        elements in prop::collection::vec(
            any::<f64>().prop_filter("finite", |v| v.is_finite()),
            0..16,
        )
    ) {
        let v = Vector::new(elements);
        let written = encode(&v, text(TEXT)).unwrap();
        let back = decode_value::<Vector>(text(TEXT), Some(written.as_bytes())).unwrap();
        // Bitwise, so -0.0 stays -0.0.
        let bits = |v: &Vector| v.as_slice().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&back), bits(&v));
        // IRIS's bare form reads back the same.
        let bare = written.trim_start_matches('[').trim_end_matches(']');
        let back = decode_value::<Vector>(text(VARCHAR), Some(bare.as_bytes())).unwrap();
        prop_assert_eq!(bits(&back), bits(&v));
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(
        raw in prop::collection::vec(any::<u8>(), 0..64),
        binary in any::<bool>(),
    ) {
        let format = if binary { Format::Binary } else { Format::Text };
        let _ = decode_value::<Vector>(ValueType::lenient(FLOAT8, format), Some(&raw));
    }

    #[test]
    fn decoding_list_like_text_never_panics(
        raw in prop::collection::vec(
            prop::sample::select(vec!["[", "]", ",", " ", "1", ".", "-", "e", "+", "9", "é"]),
            0..24,
        )
    ) {
        let _ = decode(text(TEXT), &raw.concat());
    }
}
