//! [`Connection`]: one async [`crate::Connection`] and the current-thread runtime that
//! drives it.

use super::{ensure_blocking_allowed, CancelToken, Exec, Facade, OwnedRuntime, Transaction};
use crate::conn::Config;
use crate::error::Error;

/// A blocking connection: [`crate::Connection`] plus a current-thread tokio runtime of its
/// own, on which each call blocks (see the [module docs](super)).
///
/// ```no_run
/// # fn main() -> Result<(), pgline::Error> {
/// use pgline::blocking::Connection;
///
/// let mut conn = Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
/// let row = conn.query_one("SELECT $1::int4 + 1", &[&41i32])?;
/// assert_eq!(row.get::<i32>(0)?, 42);
/// conn.close()?;
/// # Ok(()) }
/// ```
pub struct Connection {
    // Declared before the runtime: the socket is dropped while its reactor still runs.
    conn: crate::Connection,
    rt: OwnedRuntime,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("conn", &self.conn)
            .finish_non_exhaustive()
    }
}

impl Facade for Connection {
    fn parts(&mut self) -> Result<(Exec<'_>, &mut crate::Connection), Error> {
        Ok((Exec::Owned(&self.rt), &mut self.conn))
    }

    fn conn(&self) -> Option<&crate::Connection> {
        Some(&self.conn)
    }
}

impl Connection {
    /// Connects as [`crate::Connection::connect`] does (TLS as `sslmode` says,
    /// authentication, all within the connect timeout), on a new runtime.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// use pgline::{blocking::Connection, Config};
    ///
    /// let mut config = Config::new();
    /// config.host("127.0.0.1").user("postgres").dbname("postgres");
    /// let conn = Connection::connect(&config)?;
    /// # Ok(()) }
    /// ```
    pub fn connect(config: &Config) -> Result<Self, Error> {
        ensure_blocking_allowed()?;
        let rt = OwnedRuntime::new()?;
        let conn = Exec::Owned(&rt).run(crate::Connection::connect(config))?;
        Ok(Self { conn, rt })
    }

    /// Parses `url` (a `postgres://` URL or `key=value` string, with `PG*` environment
    /// defaults) and connects.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// let conn = pgline::blocking::Connection::connect_str("host=127.0.0.1 user=postgres")?;
    /// # Ok(()) }
    /// ```
    pub fn connect_str(url: &str) -> Result<Self, Error> {
        Self::connect(&Config::parse(url)?)
    }

    /// Starts a transaction (`BEGIN`). Dropped without [`Transaction::commit`], it rolls
    /// back. See [`crate::Connection::begin`].
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
    /// let mut tx = conn.begin()?;
    /// tx.execute("UPDATE accounts SET balance = balance - 10 WHERE id = $1", &[&1i64])?;
    /// tx.execute("UPDATE accounts SET balance = balance + 10 WHERE id = $1", &[&2i64])?;
    /// tx.commit()?;
    /// # Ok(()) }
    /// ```
    pub fn begin(&mut self) -> Result<Transaction<'_>, Error> {
        let exec = Exec::Owned(&self.rt);
        let tx = exec.run(self.conn.begin())?;
        Ok(Transaction::new(exec, tx))
    }

    /// Starts a transaction even where the server cannot roll back (iris-pgwire 1.0.0 to 1.2.28).
    /// See [`crate::Connection::begin_without_rollback`].
    pub fn begin_without_rollback(&mut self) -> Result<Transaction<'_>, Error> {
        let exec = Exec::Owned(&self.rt);
        let tx = exec.run(self.conn.begin_without_rollback())?;
        Ok(Transaction::new(exec, tx))
    }

    /// A token that cancels the query running on this connection, from another thread.
    /// See [`crate::Connection::cancel_token`].
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
    /// use std::time::Duration;
    ///
    /// if let Some(token) = conn.cancel_token() {
    ///     std::thread::spawn(move || {
    ///         std::thread::sleep(Duration::from_secs(1));
    ///         let _ = token.cancel_query(Duration::from_secs(5));
    ///     });
    /// }
    /// let err = conn.batch_execute("SELECT pg_sleep(60)").unwrap_err();
    /// assert_eq!(err.code(), Some("57014"));
    /// # Ok(()) }
    /// ```
    pub fn cancel_token(&self) -> Option<CancelToken> {
        self.conn.cancel_token().map(CancelToken::new)
    }

    /// The async connection inside, for its accessors that do not block
    /// ([`transaction_status`](crate::Connection::transaction_status),
    /// [`quirks`](crate::Connection::quirks), [`is_tls`](crate::Connection::is_tls),
    /// [`config`](crate::Connection::config), ...).
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
    /// println!("TLS: {}", conn.as_async().is_tls());
    /// # Ok(()) }
    /// ```
    pub fn as_async(&self) -> &crate::Connection {
        &self.conn
    }

    /// Sends Terminate and closes the socket. See [`crate::Connection::close`]; dropping
    /// the connection also closes it, without telling the server.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
    /// conn.close()?;
    /// # Ok(()) }
    /// ```
    pub fn close(self) -> Result<(), Error> {
        let Self { conn, rt } = self;
        Exec::Owned(&rt).run(conn.close())
    }

    blocking_methods!(
        " # let mut c = pgline::blocking::Connection::connect_str(\"postgres://postgres@127.0.0.1/postgres\")?;"
    );
}
