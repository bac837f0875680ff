//! [`PoolConfig`]: the pool's settings, as a builder.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::conn::Config;
use crate::error::Error;
use crate::Connection;

/// A boxed, sendable future (the return type of the [`after_connect`](PoolConfig::after_connect)
/// hook).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The hook run on every new connection before the pool uses it.
pub(crate) type AfterConnect =
    Arc<dyn for<'c> Fn(&'c mut Connection) -> BoxFuture<'c, Result<(), Error>> + Send + Sync>;

/// What the pool does to a connection that comes back, beyond what is always done
/// (draining an abandoned operation and rolling back an open transaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SessionReset {
    /// Nothing more: session settings (`SET` outside a transaction), temporary tables and
    /// prepared statements survive. A clean return costs no round trip.
    #[default]
    Rollback,
    /// On PostgreSQL, also run `CLOSE ALL; RESET ALL; UNLISTEN *;
    /// SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES` on every return
    /// (one round trip). Prepared statements, and so the statement cache, survive. On a
    /// server whose [`Quirks::no_sql_cleanup`](crate::iris::Quirks) is set (IRIS) this
    /// falls back to [`Rollback`](Self::Rollback): none of those statements is ever sent.
    Clean,
}

/// Pool settings. Build with [`PoolConfig::new`] and the chained setters; every setting has
/// a default documented on its setter.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use pgline::pool::{PoolConfig, SessionReset};
///
/// let conn: pgline::Config = "postgres://app@db.internal/app".parse()?;
/// let config = PoolConfig::new(conn)
///     .max_size(20)
///     .min_idle(2)
///     .acquire_timeout(Duration::from_secs(5))
///     .connect_timeout(Duration::from_secs(3))
///     .max_lifetime(Some(Duration::from_secs(15 * 60)))
///     .idle_timeout(Some(Duration::from_secs(60)))
///     .session_reset(SessionReset::Clean);
/// assert_eq!(config.connection_config().get_host(), "db.internal");
/// # Ok::<(), pgline::Error>(())
/// ```
#[derive(Clone)]
pub struct PoolConfig {
    pub(crate) conn: Config,
    pub(crate) max_size: usize,
    pub(crate) min_idle: usize,
    pub(crate) acquire_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) lifetime_jitter: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) ping_after_idle: Option<Duration>,
    pub(crate) ping_timeout: Duration,
    pub(crate) reset_timeout: Duration,
    pub(crate) close_timeout: Duration,
    pub(crate) backoff_initial: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) reaper_interval: Duration,
    pub(crate) session_reset: SessionReset,
    pub(crate) after_connect: Option<AfterConnect>,
}

impl fmt::Debug for PoolConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolConfig")
            .field("conn", &self.conn)
            .field("max_size", &self.max_size)
            .field("min_idle", &self.min_idle)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_lifetime", &self.max_lifetime)
            .field("lifetime_jitter", &self.lifetime_jitter)
            .field("idle_timeout", &self.idle_timeout)
            .field("ping_after_idle", &self.ping_after_idle)
            .field("ping_timeout", &self.ping_timeout)
            .field("reset_timeout", &self.reset_timeout)
            .field("close_timeout", &self.close_timeout)
            .field("backoff_initial", &self.backoff_initial)
            .field("backoff_max", &self.backoff_max)
            .field("reaper_interval", &self.reaper_interval)
            .field("session_reset", &self.session_reset)
            .field("after_connect", &self.after_connect.is_some())
            .finish()
    }
}

impl PoolConfig {
    /// Settings for a pool of connections made with `conn`, all other settings at their
    /// defaults.
    pub fn new(conn: Config) -> Self {
        Self {
            conn,
            max_size: 10,
            min_idle: 0,
            acquire_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_lifetime: Some(Duration::from_secs(30 * 60)),
            lifetime_jitter: Duration::from_secs(60),
            idle_timeout: Some(Duration::from_secs(10 * 60)),
            ping_after_idle: Some(Duration::from_secs(1)),
            ping_timeout: Duration::from_secs(5),
            reset_timeout: Duration::from_secs(5),
            close_timeout: Duration::from_secs(30),
            backoff_initial: Duration::from_millis(50),
            backoff_max: Duration::from_secs(5),
            reaper_interval: Duration::from_secs(5),
            session_reset: SessionReset::Rollback,
            after_connect: None,
        }
    }

    /// The most connections open at once, checked out or idle (default 10; at least 1).
    pub fn max_size(mut self, n: usize) -> Self {
        self.max_size = n;
        self
    }

    /// Idle connections the background task keeps open, warm (default 0; capped at
    /// `max_size`). Idle timeouts never shrink the pool below it.
    pub fn min_idle(mut self, n: usize) -> Self {
        self.min_idle = n;
        self
    }

    /// The deadline of [`Pool::get`](super::Pool::get), covering the wait for a free slot,
    /// health checks and connecting (default 30 s). Past it, `get` fails with an error
    /// for which [`is_pool_timeout`](crate::Error::is_pool_timeout) is true.
    pub fn acquire_timeout(mut self, t: Duration) -> Self {
        self.acquire_timeout = t;
        self
    }

    /// The deadline of one connection attempt, including authentication and the
    /// `after_connect` hook (default 10 s; always also bounded by the acquire deadline).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// Connections older than this are closed: on return, on checkout and by the
    /// background task (default 30 min; `None` = never).
    pub fn max_lifetime(mut self, t: Option<Duration>) -> Self {
        self.max_lifetime = t;
        self
    }

    /// Each connection's lifetime is shortened by a random amount up to this (capped at
    /// half the lifetime), so connections made together do not all expire together
    /// (default 60 s).
    pub fn lifetime_jitter(mut self, t: Duration) -> Self {
        self.lifetime_jitter = t;
        self
    }

    /// Idle connections unused for this long are closed, down to `min_idle` (default
    /// 10 min; `None` = never).
    pub fn idle_timeout(mut self, t: Option<Duration>) -> Self {
        self.idle_timeout = t;
        self
    }

    /// On checkout, a connection that has been idle at least this long is pinged (one
    /// round trip, `SELECT 1`) before it is handed out (default 1 s; `Some(ZERO)` = ping
    /// every checkout; `None` = never ping). The liveness check that costs no round trip
    /// is always done.
    pub fn ping_after_idle(mut self, t: Option<Duration>) -> Self {
        self.ping_after_idle = t;
        self
    }

    /// A ping slower than this fails the health check and the connection is closed
    /// (default 5 s; always also bounded by the acquire deadline).
    pub fn ping_timeout(mut self, t: Duration) -> Self {
        self.ping_timeout = t;
        self
    }

    /// The deadline for making a returned connection clean (draining, `ROLLBACK`); past
    /// it the connection is closed (default 5 s).
    pub fn reset_timeout(mut self, t: Duration) -> Self {
        self.reset_timeout = t;
        self
    }

    /// How long [`Pool::close`](super::Pool::close) waits for checked-out connections
    /// (default 30 s).
    pub fn close_timeout(mut self, t: Duration) -> Self {
        self.close_timeout = t;
        self
    }

    /// Reconnection backoff while the server is unreachable: the first delay and the cap
    /// (defaults 50 ms and 5 s). Delays double per consecutive failed attempt of the whole
    /// pool (not per `get`; one successful connection resets them), with jitter (each
    /// delay is drawn between half and all of the nominal value). A `get` waiting out a
    /// delay takes a connection returned meanwhile at once. Errors that retrying cannot
    /// fix (authentication, missing database) are returned at once and never delayed.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff_initial = initial;
        self.backoff_max = max;
        self
    }

    /// How often the background task enforces lifetimes, idle timeouts and `min_idle`
    /// (default 5 s).
    pub fn reaper_interval(mut self, t: Duration) -> Self {
        self.reaper_interval = t;
        self
    }

    /// What is done to every returned connection (default [`SessionReset::Rollback`]).
    pub fn session_reset(mut self, r: SessionReset) -> Self {
        self.session_reset = r;
        self
    }

    /// A hook run on each new connection before first use, e.g. session `SET`s. An
    /// error discards the connection and counts as a failed connection attempt.
    ///
    /// ```no_run
    /// # fn demo(cfg: pgline::Config) -> pgline::pool::PoolConfig {
    /// pgline::pool::PoolConfig::new(cfg).after_connect(|conn| {
    ///     Box::pin(async move { conn.batch_execute("SET statement_timeout = '5s'").await })
    /// })
    /// # }
    /// ```
    pub fn after_connect<F>(mut self, f: F) -> Self
    where
        F: for<'c> Fn(&'c mut Connection) -> BoxFuture<'c, Result<(), Error>>
            + Send
            + Sync
            + 'static,
    {
        self.after_connect = Some(Arc::new(f));
        self
    }

    /// The connection settings.
    pub fn connection_config(&self) -> &Config {
        &self.conn
    }
}
