//! Which connect errors are worth retrying at all.

use crate::error::Error;

/// SQLSTATEs that a connection attempt fails with when retrying cannot help: the
/// server answered, and will answer the same until someone changes its configuration
/// (or the client's).
const NOT_RETRYABLE_CODES: [&str; 3] = [
    "28P01", // invalid_password
    "28000", // invalid_authorization_specification: no pg_hba.conf entry, `reject`, cert refused
    "3D000", // invalid_catalog_name: the database does not exist
];

/// Whether a failed connection attempt is final for this `get`: authentication failed
/// (on the server, or refused by the client's `require_auth` / `channel_binding` policy),
/// the database does not exist, or the configuration is invalid or unsupported. These
/// are returned to the caller at once.
pub(crate) fn retry_cannot_help(e: &Error) -> bool {
    e.is_auth()
        || e.is_config()
        || e.is_unsupported()
        || e.code().is_some_and(|c| NOT_RETRYABLE_CODES.contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_config_and_unsupported_errors_are_not_retried() {
        assert!(retry_cannot_help(&Error::auth("require_auth refused md5")));
        assert!(retry_cannot_help(&Error::config("bad")));
        assert!(retry_cannot_help(&Error::unsupported("no")));
        assert!(!retry_cannot_help(&Error::timeout("connect timed out")));
        assert!(!retry_cannot_help(&Error::closed("eof")));
    }
}
