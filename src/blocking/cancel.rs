//! [`CancelToken`]: cancels a query from another thread.

use std::time::Duration;

use super::{ensure_blocking_allowed, Exec, OwnedRuntime};
use crate::error::Error;

/// Cancels the running query of one connection, from any thread: the blocking form of
/// [`crate::CancelToken`]. Cheap to clone. Cancellation is best effort: the query may
/// finish before the request arrives.
///
/// ```no_run
/// # fn main() -> Result<(), pgline::Error> {
/// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
/// use std::time::Duration;
///
/// let token = conn.cancel_token().expect("PostgreSQL sends a cancel key");
/// let canceller = std::thread::spawn(move || {
///     std::thread::sleep(Duration::from_millis(500));
///     token.cancel_query(Duration::from_secs(5))
/// });
/// let err = conn.batch_execute("SELECT pg_sleep(60)").unwrap_err();
/// assert_eq!(err.code(), Some("57014")); // query_canceled
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct CancelToken {
    token: crate::CancelToken,
}

impl CancelToken {
    pub(crate) fn new(token: crate::CancelToken) -> Self {
        Self { token }
    }

    /// Sends the CancelRequest over a new connection and waits (up to `timeout`) for the
    /// server to close it, which it does after acting on it. Each call runs on a
    /// short-lived runtime of its own. See [`crate::CancelToken::cancel_query`].
    ///
    /// ```no_run
    /// # fn demo(token: pgline::blocking::CancelToken) -> Result<(), pgline::Error> {
    /// token.cancel_query(std::time::Duration::from_secs(5))?;
    /// # Ok(()) }
    /// ```
    pub fn cancel_query(&self, timeout: Duration) -> Result<(), Error> {
        ensure_blocking_allowed()?;
        let rt = OwnedRuntime::new()?;
        Exec::Owned(&rt).run(self.token.cancel_query(timeout))
    }

    /// The backend process ID this token targets.
    ///
    /// ```no_run
    /// # fn demo(token: pgline::blocking::CancelToken) {
    /// println!("will cancel backend {}", token.process_id());
    /// # }
    /// ```
    pub fn process_id(&self) -> i32 {
        self.token.process_id()
    }

    /// Whether a cancel can work on this server (false on iris-pgwire, which ignores it
    /// or closes the connection). See [`crate::CancelToken::is_supported`].
    ///
    /// ```no_run
    /// # fn demo(token: pgline::blocking::CancelToken) {
    /// if !token.is_supported() {
    ///     println!("this server cannot cancel a query");
    /// }
    /// # }
    /// ```
    pub fn is_supported(&self) -> bool {
        self.token.is_supported()
    }

    /// The length of the secret key in bytes (the key itself is never exposed): 4 under
    /// protocol 3.0; PostgreSQL 18 sends 32 under 3.2. See
    /// [`crate::CancelToken::secret_key_len`].
    ///
    /// ```no_run
    /// # fn demo(token: pgline::blocking::CancelToken) {
    /// println!("cancel key of {} bytes", token.secret_key_len());
    /// # }
    /// ```
    pub fn secret_key_len(&self) -> usize {
        self.token.secret_key_len()
    }
}
