//! [`Pool`]: the async [`crate::pool::Pool`] on a runtime driven by a thread of its own,
//! so that any number of threads can block on it at once.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

use super::{consumed, current_thread_runtime, CancelToken, Exec, Facade, Transaction};
use crate::error::{Error, Kind};
use crate::pool::{PoolConfig, Status};

/// The pool's runtime and the thread that drives it.
///
/// The thread sits in `Runtime::block_on` for the pool's whole life, so it holds the
/// current-thread scheduler: it runs IO, timers and spawned tasks (the reaper, resets of
/// returned connections). Callers use `Handle::block_on`, which polls their future on
/// their own thread and relies on a thread in `Runtime::block_on` to drive IO and timers,
/// exactly what this thread is.
#[derive(Debug)]
struct Driver {
    handle: Handle,
    /// Ends the driver thread's `block_on`; the runtime is then dropped on that thread,
    /// outside any async context, where a clean shutdown is allowed.
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Driver {
    fn start() -> Result<Self, Error> {
        let rt = current_thread_runtime()?;
        let handle = rt.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("pgline-blocking-pool".into())
            .spawn(move || {
                rt.block_on(async {
                    // A dropped sender ends the wait as well as a sent stop.
                    let _ = stopped.await;
                });
                drop(rt);
            })
            .map_err(|e| {
                Error::with_source(
                    Kind::Io,
                    "cannot start the blocking pool's runtime thread",
                    e,
                )
            })?;
        Ok(Self {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // Wait for the shutdown, so connections are closed when the last handle is
            // gone; but never block an async thread (the shutdown then finishes alone),
            // and never join the driver thread from itself.
            let on_driver = thread.thread().id() == std::thread::current().id();
            if !on_driver && Handle::try_current().is_err() {
                let _ = thread.join();
            }
        }
    }
}

/// A blocking connection pool shared by any number of threads: [`crate::pool::Pool`]
/// (every setting, checkout rule and return rule is its) on a runtime driven by a thread
/// of its own (see "Runtimes" in the [module docs](super)). Cheap to clone; all clones
/// share one pool. The driver thread stops when the last clone and the last
/// [`PooledConnection`] are dropped.
///
/// ```no_run
/// # fn main() -> Result<(), pgline::Error> {
/// use std::time::Duration;
/// use pgline::blocking::Pool;
/// use pgline::pool::PoolConfig;
///
/// let config: pgline::Config = "postgres://app@127.0.0.1/app".parse()?;
/// let pool = Pool::new(PoolConfig::new(config).max_size(4).acquire_timeout(Duration::from_secs(5)))?;
/// let workers: Vec<_> = (0..8i32)
///     .map(|i| {
///         let pool = pool.clone();
///         std::thread::spawn(move || -> Result<i32, pgline::Error> {
///             let mut conn = pool.get()?;
///             conn.query_one("SELECT $1::int4", &[&i])?.get(0)
///         })
///     })
///     .collect();
/// for w in workers {
///     println!("{:?}", w.join());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Pool {
    // Declared before the driver: the pool's handle goes first, then the runtime may stop.
    pool: crate::pool::Pool,
    driver: Arc<Driver>,
}

impl Pool {
    /// Makes a pool and starts its driver thread and background task; connections are
    /// opened on demand. It blocks on nothing, so it may be called anywhere. See
    /// [`crate::pool::Pool::new`].
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// use pgline::{blocking::Pool, pool::PoolConfig};
    /// let pool = Pool::new(PoolConfig::new("postgres://app@127.0.0.1/app".parse()?).min_idle(2))?;
    /// # Ok(()) }
    /// ```
    pub fn new(config: PoolConfig) -> Result<Self, Error> {
        let driver = Arc::new(Driver::start()?);
        // The async pool spawns its reaper on the current runtime: this one.
        let pool = {
            let _in_runtime = driver.handle.enter();
            crate::pool::Pool::new(config)?
        };
        Ok(Self { pool, driver })
    }

    /// Checks out a connection, within the acquire timeout. See
    /// [`crate::pool::Pool::get`] for the checks and errors.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let pool = pgline::blocking::Pool::new(pgline::pool::PoolConfig::new("postgres://app@127.0.0.1/app".parse()?))?;
    /// let mut conn = pool.get()?;
    /// conn.execute("UPDATE counters SET n = n + 1", &[])?;
    /// drop(conn); // back to the pool
    /// # Ok(()) }
    /// ```
    pub fn get(&self) -> Result<PooledConnection, Error> {
        let conn = Exec::Driven(&self.driver.handle).run(self.pool.get())?;
        Ok(PooledConnection {
            conn: Some(conn),
            driver: Arc::clone(&self.driver),
        })
    }

    /// A snapshot of gauges and counters. See [`crate::pool::Pool::status`].
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let pool = pgline::blocking::Pool::new(pgline::pool::PoolConfig::new("postgres://app@127.0.0.1/app".parse()?))?;
    /// let status = pool.status();
    /// println!("{} open, {} idle", status.size, status.idle);
    /// # Ok(()) }
    /// ```
    pub fn status(&self) -> Status {
        self.pool.status()
    }

    /// Closes the pool: no more checkouts, idle connections closed, and a wait of up to
    /// `close_timeout` for checked-out ones. Idempotent. See
    /// [`crate::pool::Pool::close`].
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let pool = pgline::blocking::Pool::new(pgline::pool::PoolConfig::new("postgres://app@127.0.0.1/app".parse()?))?;
    /// pool.close()?;
    /// assert!(pool.get().unwrap_err().is_pool_closed());
    /// # Ok(()) }
    /// ```
    pub fn close(&self) -> Result<(), Error> {
        Exec::Driven(&self.driver.handle).run(self.pool.close())
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let pool = pgline::blocking::Pool::new(pgline::pool::PoolConfig::new("postgres://app@127.0.0.1/app".parse()?))?;
    /// assert!(!pool.is_closed());
    /// # Ok(()) }
    /// ```
    pub fn is_closed(&self) -> bool {
        self.pool.is_closed()
    }

    /// The settings.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let pool = pgline::blocking::Pool::new(pgline::pool::PoolConfig::new("postgres://app@127.0.0.1/app".parse()?))?;
    /// println!("{:?}", pool.config());
    /// # Ok(()) }
    /// ```
    pub fn config(&self) -> &PoolConfig {
        self.pool.config()
    }
}

/// A connection checked out of a blocking [`Pool`], with the connection's query methods.
/// Dropping it returns the connection, as [`crate::pool::PooledConnection`] does: at once
/// when it is clean, else after the driver thread drained it and rolled back what was left
/// open (see "What happens on return" in [`crate::pool`]). Dropping never blocks.
///
/// ```no_run
/// # fn main() -> Result<(), pgline::Error> {
/// # let pool = pgline::blocking::Pool::new(pgline::pool::PoolConfig::new("postgres://app@127.0.0.1/app".parse()?))?;
/// let mut conn = pool.get()?;
/// let n: i64 = conn.query_one("SELECT count(*) FROM jobs", &[])?.get(0)?;
/// # Ok(()) }
/// ```
pub struct PooledConnection {
    /// `Some` until `drop` returns it.
    conn: Option<crate::pool::PooledConnection>,
    driver: Arc<Driver>,
}

impl std::fmt::Debug for PooledConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledConnection")
            .field("conn", &self.conn)
            .finish_non_exhaustive()
    }
}

impl Facade for PooledConnection {
    fn parts(&mut self) -> Result<(Exec<'_>, &mut crate::Connection), Error> {
        let conn = self.conn.as_mut().ok_or_else(consumed)?;
        Ok((Exec::Driven(&self.driver.handle), &mut **conn))
    }

    fn conn(&self) -> Option<&crate::Connection> {
        self.conn.as_deref()
    }
}

impl PooledConnection {
    /// Starts a transaction (`BEGIN`). Dropped without [`Transaction::commit`], it rolls
    /// back. See [`crate::Connection::begin`].
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let pool = pgline::blocking::Pool::new(pgline::pool::PoolConfig::new("postgres://app@127.0.0.1/app".parse()?))?;
    /// let mut conn = pool.get()?;
    /// let mut tx = conn.begin()?;
    /// tx.execute("INSERT INTO jobs (name) VALUES ($1)", &[&"backup"])?;
    /// tx.commit()?;
    /// # Ok(()) }
    /// ```
    pub fn begin(&mut self) -> Result<Transaction<'_>, Error> {
        let (exec, conn) = self.parts()?;
        let tx = exec.run(conn.begin())?;
        Ok(Transaction::new(exec, tx))
    }

    /// Starts a transaction even where the server cannot roll back (iris-pgwire 1.0.0 to 1.2.28).
    /// See [`crate::Connection::begin_without_rollback`].
    pub fn begin_without_rollback(&mut self) -> Result<Transaction<'_>, Error> {
        let (exec, conn) = self.parts()?;
        let tx = exec.run(conn.begin_without_rollback())?;
        Ok(Transaction::new(exec, tx))
    }

    /// A token that cancels the query running on this connection, from another thread.
    /// See [`crate::Connection::cancel_token`].
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let pool = pgline::blocking::Pool::new(pgline::pool::PoolConfig::new("postgres://app@127.0.0.1/app".parse()?))?;
    /// let conn = pool.get()?;
    /// let token = conn.cancel_token();
    /// # Ok(()) }
    /// ```
    pub fn cancel_token(&self) -> Option<CancelToken> {
        self.conn
            .as_deref()
            .and_then(crate::Connection::cancel_token)
            .map(CancelToken::new)
    }

    /// How long this connection has been checked out.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgline::Error> {
    /// # let pool = pgline::blocking::Pool::new(pgline::pool::PoolConfig::new("postgres://app@127.0.0.1/app".parse()?))?;
    /// let conn = pool.get()?;
    /// println!("held for {:?}", conn.held_for());
    /// # Ok(()) }
    /// ```
    pub fn held_for(&self) -> Duration {
        self.conn
            .as_ref()
            .map_or(Duration::ZERO, crate::pool::PooledConnection::held_for)
    }

    blocking_methods!(
        " # let pool = pgline::blocking::Pool::new(pgline::pool::PoolConfig::new(\"postgres://app@127.0.0.1/app\".parse()?))?; let mut c = pool.get()?;"
    );
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        // The async guard resets a dirty connection in a task spawned on the current
        // runtime (without one it would close the connection instead): enter the pool's.
        let _in_runtime = self.driver.handle.enter();
        drop(self.conn.take());
    }
}
