//! TLS settings by libpq's names, and the rules that turn them into what one connection
//! attempt does. Pure data: reading certificate files and the handshake itself belong to
//! the driver (`driver/tls.rs`, feature `rustls`).
//!
//! # `sslmode`
//!
//! | `sslmode` | TLS | certificate checked | host name checked | plaintext fallback |
//! |---|---|---|---|---|
//! | `disable` | never | — | — | — |
//! | `allow` | only if plaintext is refused | no | no | plaintext first, TLS second |
//! | `prefer` (default) | if the server offers it | no | no | when the server answers `N`, or refuses the TLS session |
//! | `require` | always | no — **unless a root certificate is present**, then as `verify-ca` | no | never |
//! | `verify-ca` | always | chain to `sslrootcert` | no | never |
//! | `verify-full` | always | chain to `sslrootcert` | yes (`host` against the certificate's names) | never |
//!
//! A root certificate is "present" when `sslrootcert` is set or `~/.postgresql/root.crt`
//! exists (libpq's rule, so `require` is never weaker than libpq's). `sslrootcert=system`
//! uses the platform's trust store and makes `verify-full` the default; a weaker explicit
//! `sslmode` with it is an error. `verify-ca`/`verify-full` without any root certificate
//! is an error, never a silent downgrade. Over a Unix-domain socket `sslmode` is ignored,
//! as in libpq.
//!
//! # The other parameters
//!
//! `sslnegotiation=postgres|direct` (direct: TLS at once with ALPN `postgresql`, PostgreSQL
//! 17+, only with `sslmode` `require` or stronger), `sslrootcert`, `sslcert`, `sslkey`
//! (PKCS#8, PKCS#1 or SEC1 PEM; the key file must not be group- or world-readable),
//! `sslpassword` (accepted; encrypted keys are refused with a clear error), `sslcrl`,
//! `sslcrldir`, `sslsni` (`1` default), `sslcertmode` (`disable`, `allow` default,
//! `require`), `ssl_min_protocol_version` / `ssl_max_protocol_version` (`TLSv1.2`,
//! `TLSv1.3`; older versions are not offered by rustls), `sslkeylogfile`,
//! `channel_binding` (`disable`, `prefer` default, `require`), `gssencmode` (`disable`,
//! `prefer`: pgline has no GSSAPI, so `prefer` never encrypts with it; `require` is an
//! error).

use std::path::PathBuf;

use crate::error::Error;

/// libpq's `sslmode`: whether to use TLS and what to check. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
#[non_exhaustive]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// Plaintext first; TLS only when the server refuses the plaintext session.
    Allow,
    /// TLS when the server offers it (SSLRequest answered `S`), else plaintext. The
    /// certificate is not checked. Probing first also keeps old iris-pgwire servers
    /// happy (they hang on a StartupMessage that is not preceded by an SSLRequest).
    #[default]
    Prefer,
    /// TLS or nothing; the certificate is checked only when a root certificate is present
    /// (then exactly as `VerifyCa`).
    Require,
    /// TLS, with the server certificate chained to a trusted root.
    VerifyCa,
    /// TLS, with the chain checked and the host name matched against the certificate.
    VerifyFull,
}

impl SslMode {
    /// libpq's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Allow => "allow",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }

    fn parse(value: &str) -> Result<Self, Error> {
        Ok(match value {
            "disable" => Self::Disable,
            "allow" => Self::Allow,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => {
                return Err(Error::config(format!(
                    "invalid sslmode {value:?} (disable, allow, prefer, require, verify-ca, verify-full)"
                )))
            }
        })
    }

    /// Whether a connection in this mode must be encrypted.
    pub fn requires_tls(self) -> bool {
        self >= Self::Require
    }
}

/// libpq's `sslnegotiation`: how TLS starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub enum SslNegotiation {
    /// SSLRequest first, then the handshake if the server answers `S`.
    #[default]
    Postgres,
    /// The handshake at once, with ALPN `postgresql` (PostgreSQL 17+). Saves a round trip.
    Direct,
}

/// libpq's `channel_binding`: whether SCRAM binds to the TLS channel
/// (`SCRAM-SHA-256-PLUS` with `tls-server-end-point`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub enum ChannelBindingMode {
    /// Never bind.
    Disable,
    /// Bind when TLS is in use and the server offers it.
    #[default]
    Prefer,
    /// Bind or fail: every authentication without binding (trust, password, md5, plain
    /// SCRAM, or no TLS) is refused before a password byte is sent.
    Require,
}

/// libpq's `sslcertmode`: whether to send a client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub enum SslCertMode {
    /// Never send one, even if configured.
    Disable,
    /// Send one if configured and the server asks.
    #[default]
    Allow,
    /// The server must ask for one (and one must be configured).
    Require,
}

/// A TLS protocol version bound (`ssl_min_protocol_version`, `ssl_max_protocol_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum TlsVersion {
    /// `TLSv1` (accepted as a lower bound; rustls offers nothing below 1.2).
    Tls10,
    /// `TLSv1.1` (accepted as a lower bound; rustls offers nothing below 1.2).
    Tls11,
    /// `TLSv1.2`.
    Tls12,
    /// `TLSv1.3`.
    Tls13,
}

impl TlsVersion {
    fn parse(key: &str, value: &str) -> Result<Option<Self>, Error> {
        Ok(Some(match value.to_ascii_lowercase().as_str() {
            "" => return Ok(None),
            "tlsv1" => Self::Tls10,
            "tlsv1.1" => Self::Tls11,
            "tlsv1.2" => Self::Tls12,
            "tlsv1.3" => Self::Tls13,
            _ => {
                return Err(Error::config(format!(
                    "invalid {key} {value:?} (TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)"
                )))
            }
        }))
    }
}

/// Where trusted root certificates come from (`sslrootcert`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RootCert {
    /// A PEM file of CA certificates.
    File(PathBuf),
    /// The platform's trust store (`sslrootcert=system`); implies `verify-full`.
    System,
}

/// Every TLS setting of a [`Config`](super::Config), by libpq's names.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub struct TlsSettings {
    /// `sslmode` as given; `None` = libpq's default (`prefer`, or `verify-full` with
    /// `sslrootcert=system`).
    pub mode: Option<SslMode>,
    /// `sslnegotiation`.
    pub negotiation: SslNegotiation,
    /// `sslrootcert`; `None` = `~/.postgresql/root.crt` when it exists.
    pub root_cert: Option<RootCert>,
    /// `sslcert`; `None` = `~/.postgresql/postgresql.crt` when it exists.
    pub cert: Option<PathBuf>,
    /// `sslkey`; `None` = `~/.postgresql/postgresql.key` when a certificate is used.
    pub key: Option<PathBuf>,
    /// `sslpassword` was given (its value is not kept: rustls cannot decrypt keys).
    pub key_password_given: bool,
    /// `sslcrl`: a PEM file of certificate revocation lists.
    pub crl: Option<PathBuf>,
    /// `sslcrldir`: a directory of PEM CRL files.
    pub crl_dir: Option<PathBuf>,
    /// `sslsni` (default on): send the host name in the TLS handshake.
    pub sni: Option<bool>,
    /// `sslcertmode`.
    pub cert_mode: SslCertMode,
    /// `ssl_min_protocol_version` (libpq's default is TLSv1.2).
    pub min_version: Option<TlsVersion>,
    /// `ssl_max_protocol_version`.
    pub max_version: Option<TlsVersion>,
    /// `sslkeylogfile`: append TLS secrets in NSS key-log format (for Wireshark).
    pub key_log_file: Option<PathBuf>,
    /// `channel_binding`.
    pub channel_binding: ChannelBindingMode,
}

impl TlsSettings {
    /// Sets one libpq TLS key; `Ok(false)` when `key` is not a TLS key.
    pub(crate) fn set(&mut self, key: &str, value: &str) -> Result<bool, Error> {
        let path = |v: &str| (!v.is_empty()).then(|| PathBuf::from(v));
        match key {
            "sslmode" => self.mode = Some(SslMode::parse(value)?),
            "sslnegotiation" => {
                self.negotiation = match value {
                    "postgres" => SslNegotiation::Postgres,
                    "direct" => SslNegotiation::Direct,
                    _ => {
                        return Err(Error::config(format!(
                            "invalid sslnegotiation {value:?} (postgres, direct)"
                        )))
                    }
                }
            }
            "sslrootcert" => {
                self.root_cert = match value {
                    "" => None,
                    "system" => Some(RootCert::System),
                    file => Some(RootCert::File(file.into())),
                }
            }
            "sslcert" => self.cert = path(value),
            "sslkey" => self.key = path(value),
            "sslpassword" => self.key_password_given = !value.is_empty(),
            "sslcrl" => self.crl = path(value),
            "sslcrldir" => self.crl_dir = path(value),
            "sslsni" => {
                self.sni = Some(match value {
                    "1" => true,
                    "0" => false,
                    _ => return Err(Error::config(format!("invalid sslsni {value:?} (0, 1)"))),
                })
            }
            "sslcertmode" => {
                self.cert_mode = match value {
                    "disable" => SslCertMode::Disable,
                    "allow" => SslCertMode::Allow,
                    "require" => SslCertMode::Require,
                    _ => {
                        return Err(Error::config(format!(
                            "invalid sslcertmode {value:?} (disable, allow, require)"
                        )))
                    }
                }
            }
            "ssl_min_protocol_version" => self.min_version = TlsVersion::parse(key, value)?,
            "ssl_max_protocol_version" => self.max_version = TlsVersion::parse(key, value)?,
            "sslkeylogfile" => self.key_log_file = path(value),
            "channel_binding" => {
                self.channel_binding = match value {
                    "disable" => ChannelBindingMode::Disable,
                    "prefer" => ChannelBindingMode::Prefer,
                    "require" => ChannelBindingMode::Require,
                    _ => {
                        return Err(Error::config(format!(
                            "invalid channel_binding {value:?} (disable, prefer, require)"
                        )))
                    }
                }
            }
            "gssencmode" => match value {
                "disable" | "prefer" => {}
                "require" => {
                    return Err(Error::config(
                        "gssencmode=require: pgline has no GSSAPI encryption (use sslmode)",
                    ))
                }
                _ => {
                    return Err(Error::config(format!(
                        "invalid gssencmode {value:?} (disable, prefer, require)"
                    )))
                }
            },
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The `sslmode` in force: the explicit one, or libpq's default. Checks the
    /// combinations libpq refuses; `default_root_present` says whether
    /// `~/.postgresql/root.crt` exists (consulted only without `sslrootcert`).
    pub fn effective_mode(&self, default_root_present: bool) -> Result<SslMode, Error> {
        let system = self.root_cert == Some(RootCert::System);
        let mode = match (self.mode, system) {
            (None, true) => SslMode::VerifyFull,
            (Some(m), true) if m != SslMode::VerifyFull => {
                return Err(Error::config(format!(
                    "sslrootcert=system requires sslmode=verify-full (got sslmode={})",
                    m.as_str()
                )))
            }
            (Some(m), _) => m,
            (None, false) => SslMode::Prefer,
        };
        let root_present = self.root_cert.is_some() || default_root_present;
        let mode = if mode == SslMode::Require && root_present {
            // libpq: "If a root CA file is present, verify the certificate in the same way
            // as if verify-ca was specified."
            SslMode::VerifyCa
        } else {
            mode
        };
        if self.negotiation == SslNegotiation::Direct && !mode.requires_tls() {
            return Err(Error::config(format!(
                "sslnegotiation=direct requires sslmode=require or stronger (got sslmode={}): \
                 a weaker mode could fall back to plaintext authentication",
                mode.as_str()
            )));
        }
        if mode == SslMode::Disable && self.channel_binding == ChannelBindingMode::Require {
            return Err(Error::config(
                "channel_binding=require needs TLS, but sslmode=disable",
            ));
        }
        if mode == SslMode::Disable && self.cert_mode == SslCertMode::Require {
            return Err(Error::config(
                "sslcertmode=require needs TLS, but sslmode=disable",
            ));
        }
        if let (Some(min), Some(max)) = (self.min_version, self.max_version) {
            if min > max {
                return Err(Error::config(
                    "ssl_min_protocol_version is above ssl_max_protocol_version",
                ));
            }
        }
        if self.max_version.is_some_and(|v| v < TlsVersion::Tls12) {
            return Err(Error::config(
                "ssl_max_protocol_version below TLSv1.2: pgline (rustls) speaks only TLS 1.2 and 1.3",
            ));
        }
        Ok(mode)
    }

    /// Whether the host name is sent in the handshake (`sslsni`, default on).
    pub fn sni(&self) -> bool {
        self.sni.unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> TlsSettings {
        let mut s = TlsSettings::default();
        for (k, v) in pairs {
            assert!(s.set(k, v).unwrap(), "{k} is a TLS key");
        }
        s
    }

    #[test]
    fn every_libpq_sslmode_parses_to_itself() {
        for m in [
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ] {
            let s = settings(&[("sslmode", m)]);
            assert_eq!(s.mode.unwrap().as_str(), m);
        }
        assert!(TlsSettings::default().set("sslmode", "verify").is_err());
    }

    #[test]
    fn the_default_mode_is_prefer() {
        assert_eq!(
            TlsSettings::default().effective_mode(false).unwrap(),
            SslMode::Prefer
        );
    }

    #[test]
    fn require_with_a_root_certificate_verifies_like_verify_ca() {
        let s = settings(&[("sslmode", "require"), ("sslrootcert", "/ca.pem")]);
        assert_eq!(s.effective_mode(false).unwrap(), SslMode::VerifyCa);
        let s = settings(&[("sslmode", "require")]);
        assert_eq!(s.effective_mode(true).unwrap(), SslMode::VerifyCa);
        assert_eq!(s.effective_mode(false).unwrap(), SslMode::Require);
    }

    #[test]
    fn sslrootcert_system_implies_verify_full_and_refuses_weaker_modes() {
        let s = settings(&[("sslrootcert", "system")]);
        assert_eq!(s.effective_mode(false).unwrap(), SslMode::VerifyFull);
        for weaker in ["disable", "allow", "prefer", "require", "verify-ca"] {
            let s = settings(&[("sslrootcert", "system"), ("sslmode", weaker)]);
            let e = s.effective_mode(false).unwrap_err();
            assert!(
                e.is_config() && e.to_string().contains("verify-full"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_file_literally_named_system_is_reachable_as_dot_slash_system() {
        let s = settings(&[("sslrootcert", "./system")]);
        assert_eq!(s.root_cert, Some(RootCert::File("./system".into())));
    }

    #[test]
    fn direct_negotiation_needs_require_or_stronger() {
        for weak in ["disable", "allow", "prefer"] {
            let s = settings(&[("sslnegotiation", "direct"), ("sslmode", weak)]);
            assert!(s.effective_mode(false).unwrap_err().is_config());
        }
        let s = settings(&[("sslnegotiation", "direct"), ("sslmode", "require")]);
        assert_eq!(s.effective_mode(false).unwrap(), SslMode::Require);
    }

    #[test]
    fn contradictory_combinations_are_config_errors() {
        for pairs in [
            &[("sslmode", "disable"), ("channel_binding", "require")][..],
            &[("sslmode", "disable"), ("sslcertmode", "require")][..],
            &[
                ("ssl_min_protocol_version", "TLSv1.3"),
                ("ssl_max_protocol_version", "TLSv1.2"),
            ][..],
            &[("ssl_max_protocol_version", "TLSv1.1")][..],
        ] {
            assert!(settings(pairs)
                .effective_mode(false)
                .unwrap_err()
                .is_config());
        }
    }

    #[test]
    fn unknown_values_are_errors_and_gssencmode_require_is_refused() {
        let mut s = TlsSettings::default();
        for (k, v) in [
            ("sslnegotiation", "tls"),
            ("sslsni", "yes"),
            ("channel_binding", "maybe"),
            ("sslcertmode", "sometimes"),
            ("ssl_min_protocol_version", "SSLv3"),
            ("gssencmode", "require"),
        ] {
            assert!(s.set(k, v).unwrap_err().is_config(), "{k}={v}");
        }
        assert!(s.set("gssencmode", "prefer").unwrap());
        assert!(!s.set("host", "x").unwrap());
    }
}
