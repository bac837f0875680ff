//! macaddr, bit strings, "char" and money: bytes, text, hostile values.

use bytes::BytesMut;
use proptest::prelude::*;

use super::*;

const B: Format = Format::Binary;
const T: Format = Format::Text;

fn encode<V: ToSql>(v: &V, ty: ValueType) -> Vec<u8> {
    let mut out = BytesMut::new();
    assert_eq!(v.to_sql(ty, &mut out), Ok(IsNull::No));
    out.to_vec()
}

#[test]
fn macaddr_is_six_bytes_and_lowercase_colon_hex() {
    let m = MacAddr([0x08, 0, 0x2b, 1, 2, 0xff]);
    assert_eq!(encode(&m, ValueType::new(oid::MACADDR, B)), m.0);
    assert_eq!(
        encode(&m, ValueType::new(oid::MACADDR, T)),
        b"08:00:2b:01:02:ff"
    );
    for s in ["08:00:2B:01:02:FF", "08-00-2b-01-02-ff", "08002b0102ff"] {
        assert_eq!(s.parse::<MacAddr>(), Ok(m), "{s}");
    }
    for bad in [
        "08:00:2b:01:02",
        "08:00:2b:01:02:ff:00",
        "0800:2b01:02ff",
        "zz:00:2b:01:02:ff",
    ] {
        assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
    }
    let ty = ValueType::new(oid::MACADDR, B);
    assert_eq!(
        MacAddr::from_sql(ty, &[1, 2, 3]),
        Err(ConversionError::invalid(
            "MacAddr",
            "binary length is not 6"
        ))
    );
    let m8 = MacAddr8([1, 2, 3, 4, 5, 6, 7, 8]);
    let ty = ValueType::new(oid::MACADDR8, T);
    assert_eq!(MacAddr8::from_sql(ty, &encode(&m8, ty)), Ok(m8));
}

#[test]
fn bitvec_binary_is_a_bit_count_then_padded_bytes() {
    let v: BitVec = "101000001".parse().unwrap();
    let ty = ValueType::new(oid::VARBIT, B);
    assert_eq!(encode(&v, ty), [0, 0, 0, 9, 0b1010_0000, 0b1000_0000]);
    assert_eq!(encode(&v, ValueType::new(oid::BIT, T)), b"101000001");
    assert_eq!(BitVec::from_sql(ty, &encode(&v, ty)), Ok(v));
    let empty = BitVec::default();
    assert_eq!(encode(&empty, ty), [0, 0, 0, 0]);
    assert_eq!(
        BitVec::from_sql(ValueType::new(oid::BIT, T), b""),
        Ok(empty)
    );
}

#[test]
fn bitvec_rejects_lying_counts_and_clears_padding_bits() {
    let ty = ValueType::new(oid::VARBIT, B);
    for (raw, reason) in [
        (
            &[0, 0, 0][..],
            "binary value shorter than its 4-byte bit count",
        ),
        (&[0xff, 0xff, 0xff, 0xff][..], "negative bit count"),
        (
            &[0, 0, 0, 9, 0][..],
            "bit count does not match the value length",
        ),
        (
            &[0, 0, 0, 8, 0, 0][..],
            "bit count does not match the value length",
        ),
        (
            &[0x7f, 0xff, 0xff, 0xff, 0][..],
            "bit count does not match the value length",
        ),
    ] {
        assert_eq!(
            BitVec::from_sql(ty, raw),
            Err(ConversionError::invalid("BitVec", reason)),
            "{raw:?}"
        );
    }
    let v = BitVec::from_sql(ty, &[0, 0, 0, 3, 0xff]).unwrap();
    assert_eq!(v.as_bytes(), [0b1110_0000]);
    assert_eq!(v.to_string(), "111");
    assert!(BitVec::from_sql(ValueType::new(oid::BIT, T), b"012").is_err());
}

#[test]
fn char_escapes_high_bytes_as_octal_like_charout() {
    let ty = ValueType::new(oid::CHAR, T);
    assert_eq!(encode(&(200u8 as i8), ty), b"\\310");
    assert_eq!(encode(&(b'a' as i8), ty), b"a");
    assert_eq!(encode(&0i8, ty), b"");
    assert_eq!(encode(&(200u8 as i8), ValueType::new(oid::CHAR, B)), [200]);
    for b in 0..=255u8 {
        let v = b as i8;
        for format in [B, T] {
            let ty = ValueType::new(oid::CHAR, format);
            assert_eq!(i8::from_sql(ty, &encode(&v, ty)), Ok(v), "{b} {format:?}");
        }
    }
    assert!(i8::from_sql(ty, b"\\400").is_err());
    assert!(i8::from_sql(ty, b"ab").is_err());
    assert!(i8::from_sql(ValueType::new(oid::CHAR, B), b"ab").is_err());
    assert!(i8::from_sql(ValueType::new(oid::INT2, B), &[0]).is_err());
}

#[test]
fn money_is_binary_i64_and_text_of_any_locale_reads_as_minor_units() {
    let ty = ValueType::new(oid::MONEY, B);
    assert_eq!(encode(&Money(-123_456), ty), (-123_456i64).to_be_bytes());
    assert_eq!(Money::from_sql(ty, &(-5i64).to_be_bytes()), Ok(Money(-5)));
    let t = ValueType::new(oid::MONEY, T);
    for (s, v) in [
        ("$1,234.56", 123_456),
        ("-$1,234.56", -123_456),
        ("1.234,56 €", 123_456),
        ("(¥1,234)", -1234),
        ("-$92,233,720,368,547,758.08", i64::MIN),
        ("$0.00", 0),
    ] {
        assert_eq!(Money::from_sql(t, s.as_bytes()), Ok(Money(v)), "{s}");
    }
    assert!(Money::from_sql(t, b"$92,233,720,368,547,758.08").is_err());
    assert!(Money::from_sql(t, b"$").is_err());
    let mut out = BytesMut::new();
    assert_eq!(
        Money(1).to_sql(t, &mut out),
        Err(ConversionError::Unsupported {
            rust: "Money",
            format: T
        })
    );
}

proptest! {
    #[test]
    fn bitvec_round_trips_in_both_formats(bits in prop::collection::vec(any::<bool>(), 0..200)) {
        let v: BitVec = bits.iter().copied().collect();
        prop_assert_eq!(v.len(), bits.len());
        prop_assert_eq!(v.iter().collect::<Vec<_>>(), bits);
        for format in [B, T] {
            let ty = ValueType::new(oid::VARBIT, format);
            prop_assert_eq!(BitVec::from_sql(ty, &encode(&v, ty)), Ok(v.clone()));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(raw in prop::collection::vec(any::<u8>(), 0..40)) {
        for format in [B, T] {
            let _ = BitVec::from_sql(ValueType::new(oid::VARBIT, format), &raw);
            let _ = MacAddr::from_sql(ValueType::new(oid::MACADDR, format), &raw);
            let _ = i8::from_sql(ValueType::new(oid::CHAR, format), &raw);
            let _ = Money::from_sql(ValueType::new(oid::MONEY, format), &raw);
            let _ = BitVec::from_sql(ValueType::lenient(oid::VARBIT, format), &raw);
        }
    }
}
