//! Transactions: `BEGIN`, then `COMMIT` or `ROLLBACK`; dropping the guard rolls back.

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
}

impl<S: AsyncRead + AsyncWrite + Unpin> std::fmt::Debug for Transaction<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("done", &self.done)
            .finish()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Starts a transaction with exactly `BEGIN` (no options: some servers only track the
    /// bare verbs).
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
        self.simple_query("BEGIN").await?;
        Ok(Transaction {
            conn: self,
            done: false,
        })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Transaction<'_, S> {
    /// Commits. A COMMIT the server turns into a rollback (the transaction had failed) is
    /// reported as a server error with SQLSTATE `25P02`; the connection stays usable.
    pub async fn commit(mut self) -> Result<(), Error> {
        self.done = true;
        let r = self.conn.simple_query("COMMIT").await?;
        if r.first().and_then(|r| r.tag.as_deref()) == Some("ROLLBACK") {
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
        self.conn.simple_query("ROLLBACK").await.map(|_| ())
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
