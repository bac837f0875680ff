//! `Uuid` in both formats, hostile lengths.

use bytes::BytesMut;
use uuid::Uuid;

use crate::types::oid::{INT4, TEXT, UUID};
use crate::types::{ConversionError, Format, FromSql, IsNull, ToSql, ValueType};

const U: &str = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";

fn encode(v: &Uuid, format: Format) -> Vec<u8> {
    let mut out = BytesMut::new();
    assert_eq!(
        v.to_sql(ValueType::new(UUID, format), &mut out),
        Ok(IsNull::No)
    );
    out.to_vec()
}

#[test]
fn uuid_is_sixteen_bytes_in_binary_and_hyphenated_lowercase_in_text() {
    let u = Uuid::parse_str(U).unwrap();
    assert_eq!(encode(&u, Format::Binary), u.as_bytes());
    assert_eq!(encode(&u, Format::Text), U.as_bytes());
    for format in [Format::Binary, Format::Text] {
        let back = Uuid::from_sql(ValueType::new(UUID, format), &encode(&u, format));
        assert_eq!(back, Ok(u));
    }
}

#[test]
fn uuid_reads_the_other_spellings_uuid_in_accepts() {
    let u = Uuid::parse_str(U).unwrap();
    let ty = ValueType::new(UUID, Format::Text);
    for s in [
        "{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}",
        "a0eebc999c0b4ef8bb6d6bb9bd380a11",
    ] {
        assert_eq!(Uuid::from_sql(ty, s.as_bytes()), Ok(u), "{s}");
    }
}

#[test]
fn uuid_rejects_wrong_lengths_garbage_and_other_types() {
    let b = ValueType::new(UUID, Format::Binary);
    assert_eq!(
        Uuid::from_sql(b, &[0; 15]),
        Err(ConversionError::invalid("Uuid", "binary length is not 16"))
    );
    assert!(Uuid::from_sql(b, &[0; 17]).is_err());
    assert!(Uuid::from_sql(ValueType::new(UUID, Format::Text), b"not-a-uuid").is_err());
    assert!(Uuid::from_sql(ValueType::new(INT4, Format::Binary), &[0; 16]).is_err());
    // Lenient: text bytes in a binary column, and a text column.
    let lenient = ValueType::lenient(TEXT, Format::Binary);
    assert!(Uuid::from_sql(lenient, U.as_bytes()).is_ok());
    assert!(Uuid::from_sql(ValueType::lenient(UUID, Format::Binary), U.as_bytes()).is_ok());
}
