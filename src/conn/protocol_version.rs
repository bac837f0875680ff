//! Protocol versions: what the client asks for (`max_protocol_version`), the least it
//! accepts (`min_protocol_version`), and what the server agreed to.
//!
//! libpq 18's rules, which pgline follows:
//!
//! > "`min_protocol_version`: Specifies the minimum protocol version to allow for the
//! > connection. The default is to allow any version of the PostgreSQL protocol supported
//! > by libpq, which currently means 3.0. If the server does not support at least this
//! > protocol version the connection will be closed."
//! >
//! > "`max_protocol_version`: Specifies the protocol version to request from the server.
//! > The default is to use version 3.0 of the PostgreSQL protocol [...] If the server
//! > does not support the protocol version requested by the client, the connection is
//! > automatically downgraded to a lower minor protocol version that the server
//! > supports." (libpq, *Parameter Key Words*; the values are `3.0`, `3.2` and `latest`)
//!
//! Protocol 3.2 (PostgreSQL 18) differs from 3.0 in one way pgline uses: the cancel key
//! in BackendKeyData is 4 to 256 bytes long instead of exactly 4. A server that only
//! knows 3.0 answers a 3.2 request with NegotiateProtocolVersion (PostgreSQL 9.3.x and
//! later); some middleware (PgBouncer before 1.23) instead answers with an error and
//! closes the connection, which is why 3.0 stays the default.

use std::fmt;

use crate::error::Error;

/// A protocol version (always major 3).
///
/// # Examples
///
/// ```
/// use pgline::conn::ProtocolVersion;
///
/// assert_eq!(ProtocolVersion::parse("latest")?, ProtocolVersion::V3_2);
/// assert_eq!(ProtocolVersion::V3_0.to_string(), "3.0");
/// assert!(ProtocolVersion::V3_0 < ProtocolVersion::V3_2);
/// # Ok::<(), pgline::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolVersion {
    minor: u16,
}

impl ProtocolVersion {
    /// Protocol 3.0 (PostgreSQL 7.4 to 17): 4-byte cancel keys.
    pub const V3_0: Self = Self { minor: 0 };
    /// Protocol 3.2 (PostgreSQL 18): cancel keys of 4 to 256 bytes.
    pub const V3_2: Self = Self { minor: 2 };
    /// The newest version pgline speaks (`latest`).
    pub const LATEST: Self = Self::V3_2;

    /// Parses a `min_protocol_version`/`max_protocol_version` value: `3.0`, `3.2` or
    /// `latest`.
    pub fn parse(value: &str) -> Result<Self, Error> {
        match value.trim() {
            "3.0" => Ok(Self::V3_0),
            "3.2" => Ok(Self::V3_2),
            "latest" => Ok(Self::LATEST),
            other => Err(Error::config(format!(
                "invalid protocol version {other:?} (3.0, 3.2 or latest)"
            ))),
        }
    }

    /// The major version: always 3.
    pub fn major(self) -> u16 {
        3
    }

    /// The minor version.
    pub fn minor(self) -> u16 {
        self.minor
    }

    /// Whether BackendKeyData may carry a secret key longer than 4 bytes.
    pub(crate) fn has_long_cancel_keys(self) -> bool {
        self.minor >= 2
    }

    /// The version code of the StartupMessage (`major << 16 | minor`).
    pub(crate) fn code(self) -> i32 {
        0x0003_0000 | i32::from(self.minor)
    }

    /// The version a NegotiateProtocolVersion names, from its "newest minor version"
    /// field. The low 16 bits are the minor version; the high half is the major version
    /// in PostgreSQL's own servers (`PG_PROTOCOL(3, minor)`) and 0 in implementations
    /// that send the minor version alone, as the message format's wording reads.
    ///
    /// Refused, as libpq 18 refuses them (fe-protocol3.c,
    /// `pqGetNegotiateProtocolVersion3`): any other major version (a 3.x client cannot
    /// go on with it), and 3.1, which never existed (protocol 3.0 went straight to 3.2).
    /// One deliberate difference: a high half of 0 is read as the minor version alone
    /// (3.x), as the message's documentation describes the field, where libpq refuses
    /// it as older than 3.0.
    pub(crate) fn from_negotiated(newest_minor: i32) -> Result<Self, Error> {
        let [m1, m0, n1, n0] = newest_minor.to_be_bytes();
        let (major, minor) = (u16::from_be_bytes([m1, m0]), u16::from_be_bytes([n1, n0]));
        if major != 0 && major != 3 {
            return Err(Error::protocol(format!(
                "invalid NegotiateProtocolVersion: the server offers protocol {major}.{minor}, \
                 and only major version 3 is spoken"
            )));
        }
        if minor == 1 {
            return Err(Error::protocol(
                "invalid NegotiateProtocolVersion: the server offers protocol 3.1, which \
                 does not exist (3.0 was followed by 3.2)",
            ));
        }
        Ok(Self { minor })
    }
}

impl Default for ProtocolVersion {
    fn default() -> Self {
        Self::V3_0
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major(), self.minor)
    }
}

/// The protocol versions a connection may use: it asks for `max` and accepts a downgrade
/// down to `min`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProtocolRange {
    /// `min_protocol_version`.
    pub min: ProtocolVersion,
    /// `max_protocol_version`: the version requested in the StartupMessage.
    pub max: ProtocolVersion,
}

impl ProtocolRange {
    /// Refuses a range whose minimum is above its maximum, as libpq does.
    pub(crate) fn check(self) -> Result<Self, Error> {
        if self.min > self.max {
            return Err(Error::config(format!(
                "min_protocol_version {} is greater than max_protocol_version {}",
                self.min, self.max
            )));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_by_libpqs_names_and_latest_is_3_2() {
        assert_eq!(
            ProtocolVersion::parse("3.0").unwrap(),
            ProtocolVersion::V3_0
        );
        assert_eq!(
            ProtocolVersion::parse("3.2").unwrap(),
            ProtocolVersion::V3_2
        );
        assert_eq!(
            ProtocolVersion::parse("latest").unwrap(),
            ProtocolVersion::V3_2
        );
        for bad in ["3.1", "3", "4.0", "", "3.10"] {
            assert!(
                ProtocolVersion::parse(bad).unwrap_err().is_config(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_startup_code_puts_the_minor_version_in_the_low_16_bits() {
        assert_eq!(ProtocolVersion::V3_0.code(), crate::protocol::PROTOCOL_3_0);
        assert_eq!(ProtocolVersion::V3_2.code(), crate::protocol::PROTOCOL_3_2);
    }

    #[test]
    fn a_negotiated_version_is_read_from_the_low_16_bits() {
        assert_eq!(
            ProtocolVersion::from_negotiated(0x0003_0000).unwrap(),
            ProtocolVersion::V3_0
        );
        assert_eq!(
            ProtocolVersion::from_negotiated(0x0003_0002).unwrap(),
            ProtocolVersion::V3_2
        );
        assert_eq!(
            ProtocolVersion::from_negotiated(2).unwrap(),
            ProtocolVersion::V3_2
        );
    }

    #[test]
    fn a_negotiated_3_1_or_a_major_other_than_3_is_a_protocol_error() {
        for bad in [
            1,
            0x0003_0001,
            0x0002_0000,
            0x0004_0000,
            0x0004_0002,
            -1,
            i32::MIN,
        ] {
            let e = ProtocolVersion::from_negotiated(bad).unwrap_err();
            assert!(e.is_protocol(), "{bad:#x}: {e}");
        }
        let e = ProtocolVersion::from_negotiated(1).unwrap_err();
        assert!(e.to_string().contains("3.1"), "{e}");
    }

    #[test]
    fn a_minimum_above_the_maximum_is_a_config_error() {
        let r = ProtocolRange {
            min: ProtocolVersion::V3_2,
            max: ProtocolVersion::V3_0,
        };
        assert!(r.check().unwrap_err().is_config());
        assert!(ProtocolRange::default().check().is_ok());
    }
}
