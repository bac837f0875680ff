//! `json`/`jsonb`: version byte, both formats, serde errors.

use bytes::BytesMut;
use serde_json::{json, Value};

use super::Json;
use crate::types::oid::{INT4, JSON, JSONB, TEXT};
use crate::types::{ConversionError, Format, FromSql, IsNull, ToSql, ValueType};

fn encode<V: ToSql>(v: &V, ty: ValueType) -> Vec<u8> {
    let mut out = BytesMut::new();
    assert_eq!(v.to_sql(ty, &mut out), Ok(IsNull::No));
    out.to_vec()
}

#[test]
fn jsonb_binary_is_version_one_then_the_text_and_json_binary_is_the_text() {
    let v = json!({"a": [1, "x"]});
    assert_eq!(
        encode(&v, ValueType::new(JSONB, Format::Binary)),
        b"\x01{\"a\":[1,\"x\"]}"
    );
    assert_eq!(
        encode(&v, ValueType::new(JSON, Format::Binary)),
        b"{\"a\":[1,\"x\"]}"
    );
    assert_eq!(
        encode(&v, ValueType::new(JSONB, Format::Text)),
        b"{\"a\":[1,\"x\"]}"
    );
    for oid in [JSON, JSONB] {
        for format in [Format::Binary, Format::Text] {
            let ty = ValueType::new(oid, format);
            assert_eq!(Value::from_sql(ty, &encode(&v, ty)), Ok(v.clone()));
        }
    }
}

#[test]
fn jsonb_with_another_version_byte_is_rejected() {
    let ty = ValueType::new(JSONB, Format::Binary);
    let want = Err(ConversionError::invalid(
        "serde_json::Value",
        "unsupported jsonb binary version (expected 1)",
    ));
    assert_eq!(Value::from_sql(ty, b"\x02{}"), want);
    assert_eq!(Value::from_sql(ty, b""), want);
    assert_eq!(Value::from_sql(ty, b"{}"), want);
}

#[test]
fn json_wrapper_serializes_any_serde_type_and_reports_serde_errors() {
    let ty = ValueType::new(JSONB, Format::Binary);
    let bytes = encode(&Json(vec![1u8, 2]), ty);
    assert_eq!(bytes, b"\x01[1,2]");
    assert_eq!(Json::<Vec<u8>>::from_sql(ty, &bytes), Ok(Json(vec![1, 2])));
    let err = Json::<Vec<u8>>::from_sql(ty, b"\x01[1,300]").unwrap_err();
    assert!(matches!(err, ConversionError::Custom { .. }), "{err:?}");
    assert!(std::error::Error::source(&err).is_some());
    let err = Value::from_sql(ValueType::new(JSON, Format::Text), b"{").unwrap_err();
    assert!(matches!(err, ConversionError::Custom { .. }));
}

#[test]
fn json_is_strict_about_types_and_lenient_about_the_version_byte() {
    assert!(Value::from_sql(ValueType::new(INT4, Format::Binary), b"1").is_err());
    assert!(Value::from_sql(ValueType::new(INT4, Format::Text), b"1").is_err());
    assert_eq!(
        Value::from_sql(ValueType::lenient(TEXT, Format::Binary), b"1"),
        Ok(json!(1))
    );
    assert_eq!(
        Value::from_sql(ValueType::lenient(JSONB, Format::Binary), b"[]"),
        Ok(json!([]))
    );
    let mut out = BytesMut::new();
    assert!(json!(1)
        .to_sql(ValueType::new(INT4, Format::Text), &mut out)
        .is_err());
}
