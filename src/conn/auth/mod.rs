//! Password authentication as pure functions and objects: MD5 (`AuthenticationMD5Password`)
//! and SCRAM-SHA-256 (`AuthenticationSASL`, RFC 5802 / RFC 7677).
//!
//! **No IO, no clock, no RNG, no async** in this module. The startup state machine feeds
//! the server's bytes in and sends the bytes that come out; the driver supplies the SCRAM
//! client nonce and runs the one expensive step ([`ScramPending::compute`], PBKDF2) on a
//! blocking thread.
//!
//! Every check on server input returns an [`AuthError`]; nothing here panics on what the
//! server sends (see the reliability checklist, group G).
//!
//! Channel binding (`SCRAM-SHA-256-PLUS`, `tls-server-end-point`) needs the server's
//! certificate, which only the driver sees: it hands [`tls_server_end_point`]'s hash in,
//! and the startup machine picks the mechanism (see `channel_binding` in the config docs).
//!
//! SASLprep is the full RFC 4013 profile with the `stringprep` feature (default); without
//! it, a partial version (no NFKC, no bidi or unassigned-code-point tables; see
//! [`ScramClient`]).

mod channel_binding;
mod md5;
mod saslprep;
mod scram;
#[cfg(test)]
mod tests;

use std::fmt;

pub use self::channel_binding::{tls_server_end_point, CertificateHashError};
pub(crate) use self::md5::md5_password;
pub(crate) use self::scram::{ChannelBinding, ScramClient, ScramPending, ScramProof};

/// The SASL mechanism name pgline implements (RFC 7677 §3).
pub(crate) const SCRAM_SHA_256: &str = "SCRAM-SHA-256";
/// The same with channel binding (RFC 5802 §6, RFC 7677 §3).
pub(crate) const SCRAM_SHA_256_PLUS: &str = "SCRAM-SHA-256-PLUS";

/// Default cap on the server's SCRAM iteration count (`i=`), as in pgx.
///
/// PBKDF2 cost is linear in the count: PostgreSQL's default is 4096, and a hostile server
/// asking for 2,000,000,000 would pin a CPU for minutes per connection attempt
/// (checklist G5). [`ScramClient::with_max_iterations`] changes it per client.
pub(crate) const MAX_ITERATIONS: u32 = 10_000_000;

/// Why password authentication failed on the client side.
///
/// Every variant is a reason to abandon the connection. The Display wording is for people
/// and is not stable; match on the variant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// The server nonce (`r=`) does not extend the client nonce, equals it (no server
    /// part), or contains bytes outside printable ASCII (RFC 5802 §5.1, §7 `printable`).
    ScramNonceMismatch,
    /// A SCRAM message does not follow the RFC 5802 §7 grammar; the string names the part
    /// (`"server-first"`, `"salt"`, `"iteration count"`, `"server-final"`,
    /// `"server signature"`, `"mandatory extension (m=)"`).
    ScramMalformed(&'static str),
    /// The iteration count is 0 or above the client's cap ([`MAX_ITERATIONS`] by default).
    /// `u64` so that a count too large for `u32` is reported as sent; counts beyond `u64`
    /// are reported as `u64::MAX`.
    ScramIterations(u64),
    /// The server-final message was `e=<reason>` (RFC 5802 §7 `server-error`); the reason
    /// is kept as the server sent it (lossily decoded as UTF-8).
    ScramServerError(String),
    /// The server signature (`v=`) is well-formed but wrong: the server does not know the
    /// password, or the exchange was tampered with.
    ScramServerSignatureMismatch,
    /// The server signature (`v=`) decodes to this many bytes instead of 32. iris-pgwire's
    /// SCRAM mode sends a constant 20-byte dummy (`v=rmF+pqV8S7suAoZWja4dJRkFsKQ=`).
    ScramServerSignatureLength(usize),
    /// The server offered no mechanism pgline supports; these are the ones it offered.
    UnsupportedMechanism(Vec<String>),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ScramNonceMismatch => f.write_str(
                "SCRAM server nonce does not extend the client nonce \
                 (or has no server part, or non-printable characters)",
            ),
            Self::ScramMalformed(what) => write!(f, "malformed SCRAM message: {what}"),
            Self::ScramIterations(n) => write!(
                f,
                "SCRAM iteration count {n} rejected (must be between 1 and the client's cap)"
            ),
            Self::ScramServerError(reason) => {
                write!(f, "server reported a SCRAM error: {reason}")
            }
            Self::ScramServerSignatureMismatch => {
                f.write_str("SCRAM server signature does not match: the server did not prove it knows the password")
            }
            Self::ScramServerSignatureLength(n) => write!(
                f,
                "server signature is {n} bytes, SCRAM-SHA-256 requires 32 \
                 (iris-pgwire sends a constant dummy signature)"
            ),
            Self::UnsupportedMechanism(offered) => write!(
                f,
                "server offered no supported SASL mechanism (offered: [{}]; pgline supports {SCRAM_SHA_256})",
                offered.join(", ")
            ),
        }
    }
}

impl std::error::Error for AuthError {}
