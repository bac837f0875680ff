//! Transactions: `BEGIN`, then `COMMIT` or `ROLLBACK`; dropping the guard rolls back.
//!
//! On an iris-pgwire release that cannot roll back (1.0.0 to 1.2.28, or a release not
//! declared with [`Config::iris_pgwire_version`](crate::Config::iris_pgwire_version); see
//! [`crate::iris::capabilities`]), [`Connection::begin`] refuses with an `Unsupported`
//! error; [`Connection::begin_without_rollback`] opts in, and its
//! [`Transaction::rollback`] then says the rollback did not happen.

use std::ops::{Deref, DerefMut};

use tokio::io::{AsyncRead, AsyncWrite};

use super::Connection;
use crate::error::Error;

/// An open transaction. Derefs to the [`Connection`]. Dropped without
/// [`commit`](Self::commit) it rolls back: the ROLLBACK is queued at once (a destructor
/// cannot await) and sent before the connection's next operation.
pub struct Transaction<'c, S: AsyncRead + AsyncWrite + Unpin> {
    conn: &'c mut Connection<S>,
    done: bool,
    /// The server cannot roll back (opted in with `begin_without_rollback`): the words
    /// for the release, for `rollback`'s error.
    no_rollback: Option<String>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> std::fmt::Debug for Transaction<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("done", &self.done)
            .field("rolls_back", &self.no_rollback.is_none())
            .finish()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Starts a transaction with exactly `BEGIN` (no options: some servers only track the
    /// bare verbs).
    ///
    /// On an iris-pgwire release that cannot roll back (see
    /// [`crate::iris::capabilities`]; a release that is not declared counts as one) this
    /// returns an [`Unsupported`](Error::is_unsupported) error and sends nothing: such a
    /// server answers ROLLBACK with success and undoes nothing. Declare the release with
    /// [`Config::iris_pgwire_version`](crate::Config::iris_pgwire_version), or opt in with
    /// [`begin_without_rollback`](Self::begin_without_rollback).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// let mut tx = conn.begin().await?;
    /// // The transaction derefs to the connection: every query method works on it.
    /// tx.execute("UPDATE accounts SET balance = balance - 10 WHERE id = $1", &[&1i64]).await?;
    /// tx.execute("UPDATE accounts SET balance = balance + 10 WHERE id = $1", &[&2i64]).await?;
    /// tx.commit().await?; // an early `?` return above drops `tx`, which rolls back
    /// # Ok(()) }
    /// ```
    pub async fn begin(&mut self) -> Result<Transaction<'_, S>, Error> {
        if let Some(release) = self.cannot_roll_back() {
            return Err(Error::unsupported(format!(
                "{release} cannot roll back (BEGIN/COMMIT/ROLLBACK never reach IRIS: every \
                 statement commits at once), so a transaction is refused; \
                 Connection::begin_without_rollback opts in"
            )));
        }
        self.begin_inner(None).await
    }

    /// Starts a transaction even where the server cannot roll back (iris-pgwire 1.0.0 to
    /// 1.2.28; see [`crate::iris::capabilities`]): the statements then commit one by one, and
    /// [`Transaction::rollback`] sends ROLLBACK but returns an
    /// [`Unsupported`](Error::is_unsupported) error, because nothing was undone. Where
    /// rollback works this is [`begin`](Self::begin).
    ///
    /// A dropped transaction still sends ROLLBACK, which on such a server undoes nothing
    /// and cannot report so: call `commit` or `rollback`.
    pub async fn begin_without_rollback(&mut self) -> Result<Transaction<'_, S>, Error> {
        let release = self.cannot_roll_back();
        self.begin_inner(release).await
    }

    async fn begin_inner(
        &mut self,
        no_rollback: Option<String>,
    ) -> Result<Transaction<'_, S>, Error> {
        self.simple_query("BEGIN").await?;
        Ok(Transaction {
            conn: self,
            done: false,
            no_rollback,
        })
    }

    /// The words for the server's release when it cannot roll back (decided by the
    /// session: `Session::cannot_roll_back`).
    pub(crate) fn cannot_roll_back(&self) -> Option<String> {
        self.session.cannot_roll_back()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Transaction<'_, S> {
    /// Commits. A COMMIT the server turns into a rollback (the transaction had failed) is
    /// reported as a server error with SQLSTATE `25P02`; the connection stays usable.
    pub async fn commit(mut self) -> Result<(), Error> {
        self.done = true;
        let r = self.conn.simple_query("COMMIT").await?;
        if r.first().and_then(|r| r.tag.as_deref()) == Some("ROLLBACK") {
            if let Some(release) = self.no_rollback.take() {
                // Nothing was undone there: the statements before the failure stay.
                return Err(Error::unsupported(format!(
                    "COMMIT was answered with ROLLBACK, but {release} cannot roll back: \
                     the statements that succeeded in this transaction stay committed"
                )));
            }
            // The server's way of saying the transaction had failed: a server-kind error
            // (25P02, in_failed_sql_transaction), and the connection is idle and usable.
            return Err(Error::inferred_db(
                "25P02",
                "COMMIT was answered with ROLLBACK: the transaction had failed and was rolled back",
            ));
        }
        Ok(())
    }

    /// Rolls back.
    ///
    /// In a transaction started with
    /// [`begin_without_rollback`](Connection::begin_without_rollback) on a server that
    /// cannot roll back, ROLLBACK is sent (it ends the server's transaction block) and
    /// an [`Unsupported`](Error::is_unsupported) error is returned: the statements stay
    /// committed, and this never reports a success it did not get.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// let mut tx = conn.begin().await?;
    /// let n = tx.execute("DELETE FROM users WHERE name IS NULL", &[]).await?;
    /// if n > Some(100) {
    ///     tx.rollback().await?; // too many: keep them
    /// } else {
    ///     tx.commit().await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn rollback(mut self) -> Result<(), Error> {
        self.done = true;
        self.conn.simple_query("ROLLBACK").await?;
        match self.no_rollback.take() {
            Some(release) => Err(Error::unsupported(format!(
                "ROLLBACK was sent, but {release} does not roll back: the transaction's \
                 statements stay committed"
            ))),
            None => Ok(()),
        }
    }

    /// Whether [`rollback`](Self::rollback) undoes this transaction's statements (false
    /// only for [`begin_without_rollback`](Connection::begin_without_rollback) on a
    /// server that cannot roll back).
    pub fn rolls_back(&self) -> bool {
        self.no_rollback.is_none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Deref for Transaction<'_, S> {
    type Target = Connection<S>;
    fn deref(&self) -> &Connection<S> {
        self.conn
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> DerefMut for Transaction<'_, S> {
    fn deref_mut(&mut self) -> &mut Connection<S> {
        self.conn
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Drop for Transaction<'_, S> {
    fn drop(&mut self) {
        if self.done || self.conn.session.is_broken() {
            return;
        }
        let item = self.conn.item();
        // Queued, not awaited: the next operation's drain sends it and waits for it.
        if self
            .conn
            .session
            .start_simple_query(item, "ROLLBACK", false)
            .is_err()
        {
            self.conn.session.mark_broken(Error::protocol(
                "could not queue ROLLBACK for a dropped transaction",
            ));
        }
    }
}
