//! `inet` and `cidr` as [`Inet`], [`Cidr`] and `std::net::IpAddr`.
//!
//! Binary (`inet_send`): family (2 = `PGSQL_AF_INET`, 3 = `PGSQL_AF_INET6`), netmask
//! bits, an is-cidr flag, the address length (4 or 16), then the address bytes. Every
//! field is checked against the others and against the value length. Text (`inet_out`,
//! `cidr_out`): `192.168.0.1/24`, `::1`; `inet` leaves out a full netmask, `cidr` always
//! prints it.
//!
//! `IpAddr` is a host address: it is written with a full netmask, and reading an `inet`
//! whose netmask is shorter than the address (`10.1.2.3/8`) is an error that says to
//! read it as [`Inet`] instead, rather than dropping the netmask silently. A `cidr` with
//! a full netmask reads as `IpAddr` too.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use bytes::{BufMut, BytesMut};

use super::oid::{self, is_text_like, is_unspecified};
use super::{check_accepts, ConversionError, Format, FromSql, IsNull, Oid, ToSql, ValueType};

#[cfg(test)]
mod tests;

const PGSQL_AF_INET: u8 = 2;
const PGSQL_AF_INET6: u8 = 3;

/// An `inet` value: an address and a netmask length, host bits allowed (`10.1.2.3/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Inet {
    addr: IpAddr,
    prefix: u8,
}

/// A `cidr` value: a network, an address whose bits past the netmask are zero
/// (`10.0.0.0/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// Why an [`Inet`] or [`Cidr`] could not be made or parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetError(&'static str);

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for NetError {}

fn max_prefix(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// Whether the bits of `addr` past `prefix` are all zero.
fn host_bits_zero(addr: IpAddr, prefix: u8) -> bool {
    let (bits, width) = match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32u32),
        IpAddr::V6(a) => (u128::from(a), 128),
    };
    let host = width.saturating_sub(u32::from(prefix));
    host == 0 || bits & (u128::MAX >> (128 - host)) == 0
}

impl Inet {
    /// An address with a netmask of `prefix` bits (at most 32 for IPv4, 128 for IPv6).
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, NetError> {
        if prefix > max_prefix(addr) {
            return Err(NetError("netmask longer than the address"));
        }
        Ok(Self { addr, prefix })
    }

    /// The address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The netmask length in bits.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
}

impl From<IpAddr> for Inet {
    /// A host address: the full netmask.
    fn from(addr: IpAddr) -> Self {
        Self {
            addr,
            prefix: max_prefix(addr),
        }
    }
}

impl Cidr {
    /// A network: `prefix` at most 32 for IPv4 (128 for IPv6), and the address bits
    /// past it zero, as PostgreSQL requires of `cidr`.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, NetError> {
        if prefix > max_prefix(addr) {
            return Err(NetError("netmask longer than the address"));
        }
        if !host_bits_zero(addr, prefix) {
            return Err(NetError("cidr value has bits set to right of mask"));
        }
        Ok(Self { addr, prefix })
    }

    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The netmask length in bits.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
}

impl From<Cidr> for Inet {
    fn from(c: Cidr) -> Self {
        Self {
            addr: c.addr,
            prefix: c.prefix,
        }
    }
}

impl fmt::Display for Inet {
    /// As `inet_out`: the netmask only when it is shorter than the address.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix == max_prefix(self.addr) {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

impl fmt::Display for Cidr {
    /// As `cidr_out`: always with the netmask.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// `addr[/bits]`; a missing netmask is the full one.
fn parse_net(s: &str) -> Result<(IpAddr, u8), NetError> {
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let addr = IpAddr::from_str(addr).map_err(|_| NetError("not an IP address"))?;
    let prefix = match bits {
        None => max_prefix(addr),
        Some(b) if !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()) => b
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= max_prefix(addr))
            .ok_or(NetError("netmask longer than the address"))?,
        Some(_) => return Err(NetError("invalid netmask")),
    };
    Ok((addr, prefix))
}

impl FromStr for Inet {
    type Err = NetError;

    /// What `inet_out` prints: `10.1.2.3/8`, `::1`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = parse_net(s)?;
        Self::new(addr, prefix)
    }
}

impl FromStr for Cidr {
    type Err = NetError;

    /// What `cidr_out` prints: `10.0.0.0/8`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = parse_net(s)?;
        Self::new(addr, prefix)
    }
}

// ---------------------------------------------------------------------------------------
// The wire

/// Decodes `inet_send`'s layout into (address, netmask bits, is-cidr flag).
fn decode_binary(raw: &[u8]) -> Result<(IpAddr, u8, bool), &'static str> {
    let (&[family, bits, is_cidr, nb], addr) = raw
        .split_first_chunk::<4>()
        .ok_or("binary value shorter than its 4-byte header")?;
    let is_cidr = match is_cidr {
        0 => false,
        1 => true,
        _ => return Err("is-cidr flag is not 0 or 1"),
    };
    let addr = match (family, nb) {
        (PGSQL_AF_INET, 4) => <[u8; 4]>::try_from(addr).map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        (PGSQL_AF_INET6, 16) => <[u8; 16]>::try_from(addr).map(|a| IpAddr::V6(Ipv6Addr::from(a))),
        (PGSQL_AF_INET | PGSQL_AF_INET6, _) => {
            return Err("address length does not match the family")
        }
        _ => return Err("unknown address family"),
    }
    .map_err(|_| "address length does not match the value length")?;
    if bits > max_prefix(addr) {
        return Err("netmask longer than the address");
    }
    Ok((addr, bits, is_cidr))
}

fn encode_binary(addr: IpAddr, prefix: u8, is_cidr: bool, out: &mut BytesMut) {
    match addr {
        IpAddr::V4(a) => {
            out.put_slice(&[PGSQL_AF_INET, prefix, u8::from(is_cidr), 4]);
            out.put_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            out.put_slice(&[PGSQL_AF_INET6, prefix, u8::from(is_cidr), 16]);
            out.put_slice(&a.octets());
        }
    }
}

/// Reads an `inet` or `cidr` value in either format as (address, netmask bits).
fn net_from_sql(
    ty: ValueType,
    raw: &[u8],
    rust: &'static str,
) -> Result<(IpAddr, u8), ConversionError> {
    let text = |raw: &[u8]| {
        std::str::from_utf8(raw)
            .map_err(|_| NetError("invalid UTF-8"))
            .and_then(|s| parse_net(if ty.lenient { s.trim() } else { s }))
            .map_err(|e| ConversionError::invalid(rust, e.0))
    };
    match ty.format {
        Format::Text => text(raw),
        Format::Binary if is_text_like(ty.oid) => text(raw),
        Format::Binary => match decode_binary(raw) {
            Ok((addr, bits, _)) => Ok((addr, bits)),
            // iris-pgwire: text bytes in a "binary" column.
            Err(_) if ty.lenient && text(raw).is_ok() => text(raw),
            Err(reason) => Err(ConversionError::invalid(rust, reason)),
        },
    }
}

/// Writes (address, netmask bits) for a parameter of type `ty`.
fn net_to_sql(
    addr: IpAddr,
    prefix: u8,
    ty: ValueType,
    out: &mut BytesMut,
) -> Result<IsNull, ConversionError> {
    match ty.format {
        Format::Binary => encode_binary(addr, prefix, ty.oid == oid::CIDR, out),
        Format::Text => {
            use std::fmt::Write as _;
            write!(out, "{addr}/{prefix}")
                .map_err(|_| ConversionError::invalid("Inet", "formatting"))?;
        }
    }
    Ok(IsNull::No)
}

macro_rules! net_impls {
    ($t:ty, $name:literal, $own:expr, $to:expr, $from:expr, $parts:expr, $make:expr) => {
        impl ToSql for $t {
            fn type_oid(&self) -> Oid {
                $own
            }

            fn accepts(&self, oid: Oid) -> bool {
                #[allow(clippy::redundant_closure_call)]
                let ok = ($to)(self, oid);
                ok || is_unspecified(oid)
            }

            fn to_sql(&self, ty: ValueType, out: &mut BytesMut) -> Result<IsNull, ConversionError> {
                crate::types::ensure_accepted(self.accepts(ty.oid), $name, ty.oid)?;
                #[allow(clippy::redundant_closure_call)]
                let (addr, prefix): (IpAddr, u8) = ($parts)(self);
                net_to_sql(addr, prefix, ty, out)
            }

            /// Binary only for `inet` and `cidr` themselves.
            fn supports_binary(&self, oid: Oid) -> bool {
                matches!(oid, oid::INET | oid::CIDR)
            }

            fn null_type_oid() -> Oid {
                $own
            }
        }

        impl FromSql<'_> for $t {
            fn from_sql(ty: ValueType, raw: &[u8]) -> Result<Self, ConversionError> {
                check_accepts::<Self>(ty, $name)?;
                let (addr, prefix) = net_from_sql(ty, raw, $name)?;
                #[allow(clippy::redundant_closure_call)]
                ($make)(addr, prefix).map_err(|e: NetError| ConversionError::invalid($name, e.0))
            }

            fn accepts(oid: Oid) -> bool {
                #[allow(clippy::redundant_closure_call)]
                ($from)(oid)
            }
        }
    };
}

net_impls!(
    Inet,
    "Inet",
    oid::INET,
    |_: &Inet, oid| oid == oid::INET,
    |oid| matches!(oid, oid::INET | oid::CIDR),
    |v: &Inet| (v.addr, v.prefix),
    Inet::new
);

net_impls!(
    Cidr,
    "Cidr",
    oid::CIDR,
    |_: &Cidr, oid| matches!(oid, oid::CIDR | oid::INET),
    |oid| oid == oid::CIDR,
    |v: &Cidr| (v.addr, v.prefix),
    Cidr::new
);

net_impls!(
    IpAddr,
    "IpAddr",
    oid::INET,
    |_: &IpAddr, oid| matches!(oid, oid::INET | oid::CIDR),
    |oid| matches!(oid, oid::INET | oid::CIDR),
    |v: &IpAddr| (*v, max_prefix(*v)),
    |addr: IpAddr, prefix: u8| if prefix == max_prefix(addr) {
        Ok(addr)
    } else {
        Err(NetError(
            "the value has a netmask shorter than the address; read it as pgline::types::Inet",
        ))
    }
);
