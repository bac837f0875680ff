//! A connection pool: many tasks, few connections, and dead servers survived.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pgline::Error> {
//! use std::time::Duration;
//! use pgline::pool::{Pool, PoolConfig};
//!
//! let config: pgline::Config = "postgres://app@127.0.0.1/app".parse()?;
//! let pool = Pool::new(
//!     PoolConfig::new(config)
//!         .max_size(10)
//!         .min_idle(2)
//!         .acquire_timeout(Duration::from_secs(5)),
//! )?;
//! let mut conn = pool.get().await?; // derefs to pgline::Connection
//! let row = conn.query_one("SELECT $1::int4", &[&7i32]).await?;
//! assert_eq!(row.get::<i32>(0)?, 7);
//! drop(conn); // back to the pool
//! pool.close().await?;
//! # Ok(()) }
//! ```
//!
//! # Settings
//!
//! All on [`PoolConfig`], with their defaults:
//!
//! | Setting | Default | Meaning |
//! |---|---|---|
//! | `max_size` | 10 | connections open at once (checked out + idle + being checked) |
//! | `min_idle` | 0 | idle connections the background task keeps warm |
//! | `acquire_timeout` | 30 s | the whole of [`Pool::get`]: waiting, health checks, connecting |
//! | `connect_timeout` | 10 s | one connection attempt, including `after_connect` (with several hosts, the whole walk: give the [`Config`](crate::Config) a shorter per-host `connect_timeout` so an unreachable first host does not use it all up) |
//! | `max_lifetime` | 30 min | connections are closed at this age, minus a random jitter |
//! | `lifetime_jitter` | 60 s | at most this much (and half the lifetime) is taken off |
//! | `idle_timeout` | 10 min | idle longer than this: closed (down to `min_idle`) |
//! | `ping_after_idle` | 1 s | idle longer than this: pinged on checkout |
//! | `ping_timeout` | 5 s | a slower ping fails the health check |
//! | `reset_timeout` | 5 s | deadline for draining / rolling back a returned connection |
//! | `close_timeout` | 30 s | how long [`Pool::close`] waits for checked-out connections |
//! | `backoff` | 50 ms → 5 s | reconnection delays, doubling, with jitter |
//! | `reaper_interval` | 5 s | how often the background task runs |
//! | `session_reset` | `Rollback` | extra cleanup on return, see [`SessionReset`] |
//! | `after_connect` | none | async hook on each new connection (session `SET`s) |
//!
//! # Checkout
//!
//! [`Pool::get`] first waits for a slot. Waiters are served strictly in arrival order
//! (FIFO; tokio's fair semaphore). With a slot, it takes the most recently returned idle
//! connection and checks it:
//!
//! 1. **Liveness, always, no round trip.** The connection must not be broken, and a
//!    non-blocking read must find neither EOF, nor a reset, nor a message the server sent
//!    unasked (PostgreSQL sends `FATAL 57P01` before closing a terminated backend).
//! 2. **Age.** Past its lifetime or its idle timeout: closed.
//! 3. **Ping**, only when it has been idle at least `ping_after_idle`: `SELECT 1` within
//!    `ping_timeout`.
//!
//! A connection failing a check is closed and the next idle one is tried; when none is
//! left a new connection is opened. So after a restart or a failover, when every idle
//! connection died at once, one `get` evicts them all and returns a fresh connection.
//! Connecting retries with exponential backoff and jitter while the server is down. The
//! backoff belongs to the pool, not to one `get`: it counts consecutive failed attempts,
//! whichever `get` (or the background task) made them, so a new `get` waits out the
//! current delay instead of starting again from zero, and one successful connection
//! resets it. A `get` sleeping in the backoff wakes as soon as a connection is returned
//! to the pool or created, and takes it.
//! Everything happens within `acquire_timeout`: past it, `get` fails with an error for
//! which [`Error::is_pool_timeout`](crate::Error::is_pool_timeout) (and `is_timeout`)
//! is true, carrying the last connect error as its source.
//!
//! Errors that retrying cannot fix are returned by `get` at once, as they are (not as a
//! pool timeout), and do not feed the backoff: authentication failures (the server's
//! `28P01` invalid password and `28000` rejected by `pg_hba.conf`, and the client's own
//! refusals, for which [`Error::is_auth`](crate::Error::is_auth) is true, such as
//! `require_auth` or `channel_binding`), a database that does not exist (`3D000`), and
//! configuration errors.
//!
//! # What happens on return
//!
//! Dropping the [`PooledConnection`] returns the connection, also when the holder panics
//! or its future is dropped in the middle of a query. `Drop` never blocks:
//!
//! - **Broken**, or **past its lifetime**, or the pool is **closed**: closed. So is a
//!   connection on which the server reported SQLSTATE `25006` (read-only transaction),
//!   `57P01` (admin shutdown) or `57P03` (cannot connect now), the signs of a failover
//!   (see [`Connection::saw_failover_error`](crate::Connection::saw_failover_error)):
//!   the next connection is opened through the same multi-host and
//!   `target_session_attrs` rules, so the pool finds a promoted primary by itself. A
//!   pool meant for standbys (`target_session_attrs=read-only`, `standby` or
//!   `prefer-standby`) keeps a connection that saw `25006`: a read-only server is what
//!   it asked for.
//! - **Clean** (nothing pending, transaction status idle): back to the idle queue at
//!   once, with its statement cache. No round trip.
//! - **Dirty**: a result not read to the end (a dropped row stream or query future), a
//!   transaction left open or failed. A spawned task drains the abandoned responses to
//!   ReadyForQuery and sends `ROLLBACK`, within `reset_timeout`, then returns the
//!   connection; if that fails or times out, the connection is closed. An abandoned
//!   operation still running after 50 ms is cancelled (CancelRequest) instead of waited
//!   out; the task waits until the server has closed the cancel connection before the
//!   connection can be reused, so a late cancel cannot hit the next holder's query. The slot stays
//!   taken until then, so the pool never exceeds `max_size` and a waiter never gets a
//!   dirty connection. Anything done inside the rolled-back transaction (`SET`, temporary
//!   tables) is gone; `SET` outside a transaction survives unless `SessionReset::Clean`.
//! - With [`SessionReset::Clean`], every return also runs one cleanup round trip on
//!   PostgreSQL (`RESET ALL`, `DISCARD TEMP`, ...; never `DISCARD ALL` or
//!   `DEALLOCATE ALL`, which would invalidate the statement cache).
//!
//! **IRIS:** when [`Quirks::no_sql_cleanup`](crate::iris::Quirks) is set, the pool
//! never sends `DISCARD ALL`, `DEALLOCATE ALL` or `RESET ALL`; the only statement it sends
//! on return is `ROLLBACK`, and only when the transaction status is not idle (iris-pgwire
//! reports `I`/`T` only, never `E`; both non-idle cases are handled the same).
//!
//! # Background task
//!
//! [`Pool::new`] spawns a reaper (it holds only a weak reference: dropping the last
//! [`Pool`] handle stops it). Every `reaper_interval` it closes idle connections that are
//! dead, past their lifetime, or idle too long (never below `min_idle`), and opens
//! connections up to `min_idle`, backing off while the server is down; the pool recovers
//! by itself when the server returns.
//!
//! # Close
//!
//! [`Pool::close`] is idempotent. It refuses new checkouts (`get` then fails with
//! [`Error::is_pool_closed`](crate::Error::is_pool_closed); waiters too), closes idle
//! connections, and waits up to `close_timeout` for checked-out ones. A guard dropped
//! after close closes its connection.
//!
//! # Metrics
//!
//! [`Pool::status`] returns a [`Status`]: gauges (size, idle, in use, waiters) and
//! counters (created, closed by reason, connect failures, timeouts, total and maximum
//! wait). No metrics dependency.

mod backoff;
mod config;
mod guard;
mod inner;
mod metrics;

use std::sync::Arc;

pub use config::{BoxFuture, PoolConfig, SessionReset};
pub use guard::PooledConnection;
pub use metrics::{ClosedCounts, Status};

use crate::error::Error;
use crate::trace;
use inner::Shared;

/// A pool of connections. Cheap to clone (all clones share one pool).
#[derive(Clone, Debug)]
pub struct Pool {
    shared: Arc<Shared>,
}

impl Pool {
    /// Makes a pool and starts its background task; connections are opened on demand and
    /// by the background task (up to `min_idle`). Must be called inside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), pgline::Error> {
    /// use pgline::pool::{Pool, PoolConfig};
    ///
    /// let config: pgline::Config = "postgres://app@127.0.0.1/app".parse()?;
    /// let pool = Pool::new(PoolConfig::new(config).max_size(20))?;
    /// // Clones share the pool: hand one to each task.
    /// let for_worker = pool.clone();
    /// tokio::spawn(async move {
    ///     let mut conn = for_worker.get().await?;
    ///     conn.execute("DELETE FROM sessions WHERE expires < now()", &[]).await?;
    ///     Ok::<(), pgline::Error>(())
    /// });
    /// # Ok(()) }
    /// ```
    pub fn new(config: PoolConfig) -> Result<Self, Error> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::config("Pool::new must be called inside a tokio runtime"))?;
        let shared = Arc::new(Shared::new(config));
        handle.spawn(inner::reaper(Arc::downgrade(&shared)));
        Ok(Self { shared })
    }

    /// Checks out a connection, within the acquire timeout (see "Checkout" in the module
    /// docs). Errors: [`is_pool_timeout`](Error::is_pool_timeout),
    /// [`is_pool_closed`](Error::is_pool_closed), or an authentication or configuration
    /// error from connecting.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(pool: &pgline::pool::Pool) -> Result<(), pgline::Error> {
    /// match pool.get().await {
    ///     Ok(mut conn) => {
    ///         // Derefs to `Connection`; goes back to the pool when dropped.
    ///         conn.execute("UPDATE counters SET n = n + 1", &[]).await?;
    ///     }
    ///     Err(e) if e.is_pool_timeout() => eprintln!("no connection within the timeout: {e}"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn get(&self) -> Result<PooledConnection, Error> {
        let span = trace::Span::acquire(&self.shared.cfg.conn);
        let r = span.instrument(self.shared.get()).await;
        span.error_of(&r);
        let (live, permit) = r?;
        Ok(PooledConnection::new(
            live,
            permit,
            Arc::clone(&self.shared),
        ))
    }

    /// A snapshot of gauges and counters.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(pool: &pgline::pool::Pool) -> Result<(), pgline::Error> {
    /// let s = pool.status();
    /// println!(
    ///     "{}/{} open, {} idle, {} in use, {} waiting; {} closed, {} timeouts",
    ///     s.size, s.max_size, s.idle, s.in_use, s.waiters, s.closed.total(), s.timeouts,
    /// );
    /// # Ok(()) }
    /// ```
    pub fn status(&self) -> Status {
        self.shared.status()
    }

    /// Closes the pool: no more checkouts, idle connections closed, and a wait of up to
    /// `close_timeout` for checked-out connections (closed as they come back). Idempotent.
    /// Returns a timeout error if connections were still out at the deadline; they are
    /// closed whenever their guards drop.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(pool: &pgline::pool::Pool) -> Result<(), pgline::Error> {
    /// // At shutdown:
    /// pool.close().await?;
    /// assert!(pool.is_closed());
    /// assert!(pool.get().await.unwrap_err().is_pool_closed());
    /// # Ok(()) }
    /// ```
    pub async fn close(&self) -> Result<(), Error> {
        self.shared.close().await
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// The settings.
    pub fn config(&self) -> &PoolConfig {
        &self.shared.cfg
    }
}
