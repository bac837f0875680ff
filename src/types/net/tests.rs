//! `inet`/`cidr`: exact bytes, `inet_out` text, hostile binary values, round trips.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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

fn inet(s: &str) -> Inet {
    s.parse().unwrap()
}

#[test]
fn inet_binary_is_family_bits_flag_length_and_address() {
    let ty = ValueType::new(oid::INET, B);
    assert_eq!(
        encode(&inet("192.168.0.1/24"), ty),
        [
            2,  // PGSQL_AF_INET
            24, // bits
            0,  // not cidr
            4,  // address length
            192, 168, 0, 1,
        ]
    );
    let c: Cidr = "2001:db8::/32".parse().unwrap();
    let bytes = encode(&c, ValueType::new(oid::CIDR, B));
    assert_eq!(&bytes[..4], [3, 32, 1, 16]);
    assert_eq!(bytes.len(), 20);
}

#[test]
fn text_is_what_inet_out_and_cidr_out_print() {
    assert_eq!(inet("10.1.2.3/8").to_string(), "10.1.2.3/8");
    assert_eq!(inet("10.1.2.3/32").to_string(), "10.1.2.3");
    assert_eq!(inet("::1").to_string(), "::1");
    assert_eq!(inet("2001:db8::1/64").to_string(), "2001:db8::1/64");
    let c: Cidr = "10.0.0.0/8".parse().unwrap();
    assert_eq!(c.to_string(), "10.0.0.0/8");
    let full: Cidr = "::1".parse().unwrap();
    assert_eq!(full.to_string(), "::1/128");
}

#[test]
fn cidr_rejects_host_bits_and_long_netmasks() {
    assert_eq!(
        "10.1.0.0/8".parse::<Cidr>(),
        Err(NetError("cidr value has bits set to right of mask"))
    );
    assert!("10.0.0.0/33".parse::<Cidr>().is_err());
    assert!("::/129".parse::<Inet>().is_err());
    assert!("10.0.0.0/".parse::<Inet>().is_err());
    assert!("10.0.0.0/+8".parse::<Inet>().is_err());
    assert!("10.0.0".parse::<Inet>().is_err());
    let ty = ValueType::new(oid::CIDR, B);
    assert_eq!(
        Cidr::from_sql(ty, &[2, 8, 1, 4, 10, 1, 0, 0]),
        Err(ConversionError::invalid(
            "Cidr",
            "cidr value has bits set to right of mask"
        ))
    );
}

#[test]
fn ip_addr_reads_host_addresses_and_refuses_a_shorter_netmask() {
    let ty = ValueType::new(oid::INET, T);
    assert_eq!(
        IpAddr::from_sql(ty, b"::1"),
        Ok(IpAddr::V6(Ipv6Addr::LOCALHOST))
    );
    assert_eq!(
        IpAddr::from_sql(ty, b"10.0.0.1/8"),
        Err(ConversionError::invalid(
            "IpAddr",
            "the value has a netmask shorter than the address; read it as pgline::types::Inet"
        ))
    );
    let v4 = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
    let b = ValueType::new(oid::INET, B);
    assert_eq!(encode(&v4, b), [2, 32, 0, 4, 127, 0, 0, 1]);
    assert_eq!(IpAddr::from_sql(b, &encode(&v4, b)), Ok(v4));
}

#[test]
fn binary_values_that_lie_are_invalid() {
    let ty = ValueType::new(oid::INET, B);
    for (raw, reason) in [
        (&[][..], "binary value shorter than its 4-byte header"),
        (
            &[2, 32, 0][..],
            "binary value shorter than its 4-byte header",
        ),
        (
            &[2, 32, 0, 4, 1, 2, 3][..],
            "address length does not match the value length",
        ),
        (
            &[2, 32, 0, 4, 1, 2, 3, 4, 5][..],
            "address length does not match the value length",
        ),
        (
            &[2, 32, 0, 16, 1, 2, 3, 4][..],
            "address length does not match the family",
        ),
        (&[4, 32, 0, 4, 1, 2, 3, 4][..], "unknown address family"),
        (
            &[2, 33, 0, 4, 1, 2, 3, 4][..],
            "netmask longer than the address",
        ),
        (&[2, 32, 2, 4, 1, 2, 3, 4][..], "is-cidr flag is not 0 or 1"),
    ] {
        assert_eq!(
            Inet::from_sql(ty, raw),
            Err(ConversionError::invalid("Inet", reason)),
            "{raw:?}"
        );
    }
}

#[test]
fn strict_types_and_lenient_text_in_binary() {
    assert!(Cidr::from_sql(ValueType::new(oid::INET, T), b"10.0.0.0/8").is_err());
    assert!(Inet::from_sql(ValueType::new(oid::TEXT, B), b"10.0.0.0/8").is_err());
    assert_eq!(
        Inet::from_sql(ValueType::lenient(oid::INET, B), b" 10.0.0.1/8 "),
        Ok(inet("10.0.0.1/8"))
    );
    let mut out = BytesMut::new();
    assert!(inet("::1")
        .to_sql(ValueType::new(oid::CIDR, B), &mut out)
        .is_err());
}

fn any_inet() -> impl Strategy<Value = Inet> {
    prop_oneof![
        (any::<[u8; 4]>(), 0u8..=32).prop_map(|(a, p)| Inet::new(IpAddr::from(a), p).unwrap()),
        (any::<[u8; 16]>(), 0u8..=128).prop_map(|(a, p)| Inet::new(IpAddr::from(a), p).unwrap()),
    ]
}

/// Zeroes the host bits: the network of an inet.
fn network(i: Inet) -> Cidr {
    let addr = match i.addr() {
        IpAddr::V4(a) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(i.prefix()))
                .unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(i.prefix()))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
        }
    };
    Cidr::new(addr, i.prefix()).unwrap()
}

proptest! {
    #[test]
    fn inet_and_cidr_round_trip_in_both_formats(i in any_inet()) {
        for format in [B, T] {
            let ty = ValueType::new(oid::INET, format);
            prop_assert_eq!(Inet::from_sql(ty, &encode(&i, ty)), Ok(i));
            let c = network(i);
            let ty = ValueType::new(oid::CIDR, format);
            prop_assert_eq!(Cidr::from_sql(ty, &encode(&c, ty)), Ok(c));
        }
        prop_assert_eq!(i.to_string().parse::<Inet>(), Ok(i));
    }

    #[test]
    fn arbitrary_bytes_never_panic(raw in prop::collection::vec(any::<u8>(), 0..24)) {
        for ty in [ValueType::new(oid::INET, B), ValueType::new(oid::CIDR, T), ValueType::lenient(oid::CIDR, B)] {
            let _ = Inet::from_sql(ty, &raw);
            let _ = Cidr::from_sql(ty, &raw);
            let _ = IpAddr::from_sql(ty, &raw);
        }
    }
}
