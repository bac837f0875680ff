//! [`Transaction`]: the blocking form of [`crate::Transaction`].

use super::{consumed, Exec, Facade};
use crate::conn::Socket;
use crate::error::Error;

/// An open transaction, from [`Connection::begin`](super::Connection::begin) or
/// [`PooledConnection::begin`](super::PooledConnection::begin). It has the connection's
/// query methods; end it with [`commit`](Self::commit) or [`rollback`](Self::rollback).
///
/// Dropped without either, it rolls back at once: the destructor blocks on the ROLLBACK
/// (within the connection's `query_timeout`), so locks are released before it returns.
/// Where blocking is refused (inside a tokio runtime, see the [module docs](super)) the
/// async [`crate::Transaction`] takes over: the ROLLBACK is queued and sent before the
/// connection's next operation. Either way nothing of the transaction is committed.
///
/// ```no_run
/// # fn main() -> Result<(), pgline::Error> {
/// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
/// let mut tx = conn.begin()?;
/// tx.execute("DELETE FROM jobs WHERE done", &[])?;
/// drop(tx); // rolled back: nothing was deleted
/// # Ok(()) }
/// ```
pub struct Transaction<'a> {
    exec: Exec<'a>,
    /// `Some` until `commit`, `rollback` or `drop` takes it.
    tx: Option<crate::Transaction<'a, Socket>>,
}

impl std::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("tx", &self.tx)
            .finish_non_exhaustive()
    }
}

impl<'a> Transaction<'a> {
    pub(crate) fn new(exec: Exec<'a>, tx: crate::Transaction<'a, Socket>) -> Self {
        Self { exec, tx: Some(tx) }
    }

    /// Commits. A COMMIT the server turns into a rollback (the transaction had failed) is
    /// a server error with SQLSTATE `25P02`. See [`crate::Transaction::commit`].
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
    /// let mut tx = conn.begin()?;
    /// tx.execute("INSERT INTO jobs (name) VALUES ($1)", &[&"backup"])?;
    /// tx.commit()?;
    /// # Ok(()) }
    /// ```
    pub fn commit(mut self) -> Result<(), Error> {
        let tx = self.tx.take().ok_or_else(consumed)?;
        self.exec.run(tx.commit())
    }

    /// Rolls back. See [`crate::Transaction::rollback`].
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
    /// let mut tx = conn.begin()?;
    /// tx.execute("DELETE FROM jobs", &[])?;
    /// tx.rollback()?;
    /// # Ok(()) }
    /// ```
    pub fn rollback(mut self) -> Result<(), Error> {
        let tx = self.tx.take().ok_or_else(consumed)?;
        self.exec.run(tx.rollback())
    }

    /// Whether [`rollback`](Self::rollback) undoes this transaction's statements (false
    /// only for `begin_without_rollback` on a server that cannot roll back). See
    /// [`crate::Transaction::rolls_back`].
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let mut conn = pgline::blocking::Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
    /// let tx = conn.begin()?;
    /// assert!(tx.rolls_back());
    /// # Ok(()) }
    /// ```
    pub fn rolls_back(&self) -> bool {
        self.tx
            .as_ref()
            .is_none_or(crate::Transaction::<'_, Socket>::rolls_back)
    }

    blocking_methods!(
        " # let mut conn = pgline::blocking::Connection::connect_str(\"postgres://postgres@127.0.0.1/postgres\")?; let mut c = conn.begin()?;"
    );
}

impl Facade for Transaction<'_> {
    fn parts(&mut self) -> Result<(Exec<'_>, &mut crate::Connection), Error> {
        let tx = self.tx.as_mut().ok_or_else(consumed)?;
        Ok((self.exec, &mut **tx))
    }

    fn conn(&self) -> Option<&crate::Connection> {
        self.tx.as_deref()
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            // Refused inside a runtime: the future is dropped unpolled, and the async
            // transaction's own drop queues the ROLLBACK. An error has no one to go to: one
            // that matters (the server is gone) has broken the connection, which says so.
            let _ = self.exec.run(tx.rollback());
        }
    }
}
