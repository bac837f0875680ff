//! A blocking facade over the async API, for programs that are not async.
//!
//! ```no_run
//! # fn main() -> Result<(), pgline::Error> {
//! use pgline::blocking::Connection;
//!
//! let mut conn = Connection::connect_str("postgres://postgres@127.0.0.1/postgres")?;
//! conn.batch_execute("CREATE TEMP TABLE t (id int8, name text)")?;
//! let mut tx = conn.begin()?;
//! tx.execute("INSERT INTO t VALUES ($1, $2)", &[&1i64, &"one"])?;
//! tx.commit()?;
//! let name: String = conn.query_one("SELECT name FROM t WHERE id = $1", &[&1i64])?.get(0)?;
//! assert_eq!(name, "one");
//! # Ok(()) }
//! ```
//!
//! Every type here wraps its async counterpart and blocks on it: the methods have the
//! async signatures minus `async`, and all protocol work (deadlines, cancel safety,
//! statement cache, bulk loads) is the async layer's. Nothing is reimplemented here.
//!
//! # Runtimes
//!
//! - A [`Connection`] owns a current-thread tokio runtime (IO and timers enabled) and
//!   drives it with `block_on` on the calling thread, as the `postgres` crate does over
//!   `tokio-postgres`. A connection is `Send`: it can move between threads, and one
//!   thread at a time uses it (`&mut self`).
//! - A [`Pool`] is shared by many threads at once, so its runtime cannot belong to any
//!   one of them: it runs on a thread of its own (`pgline-blocking-pool`), which drives
//!   IO, timers and the pool's background work (reaper, resetting returned connections)
//!   even while no caller is blocked. Callers block on the runtime's handle and poll
//!   their own operation on their own thread, so several threads query in parallel. The
//!   thread stops when the last [`Pool`] clone and [`PooledConnection`] are dropped.
//!
//! (A multi-thread runtime would also do for the pool, but the crate's tokio features
//! do not include `rt-multi-thread`, and one driver thread is all the pool needs.)
//!
//! # Not inside an async runtime
//!
//! Blocking a thread that runs async tasks stalls every task of that runtime, and tokio
//! panics when asked to. So every blocking call first checks for a tokio runtime on the
//! current thread and, if there is one, returns an error instead of blocking or panicking:
//! [`Error::is_unsupported`] is true and [`InsideRuntime::is_cause_of`] says why. Async
//! code should use [`crate::Connection`] and [`crate::pool::Pool`] directly.
//!
//! Tokio gives no way to tell a `spawn_blocking` thread from a thread running async tasks
//! (both have a current runtime), so the blocking API refuses `spawn_blocking` threads
//! too; call it from threads of your own (`std::thread::spawn`).
//!
//! Dropping is always allowed, anywhere. Inside a runtime a destructor that would block
//! (rolling back a [`Transaction`], aborting a COPY) leaves the work queued instead, as
//! the async types do: it is sent before the connection's next operation.

#[macro_use]
mod methods;
mod cancel;
mod connection;
mod copy;
mod pool;
mod rows;
mod transaction;

use std::future::Future;

use tokio::runtime::{Handle, Runtime};

pub use cancel::CancelToken;
pub use connection::Connection;
pub use copy::{BinaryCopyWriter, BinaryRowReader, CopyInWriter, CopyOutReader};
pub use pool::{Pool, PooledConnection};
pub use rows::RowIter;
pub use transaction::Transaction;

use crate::conn::bulk::{LoadError, LoadReport};
use crate::error::{Error, Kind};

/// The cause of the error every blocking call returns when the calling thread is inside
/// a tokio runtime (see "Not inside an async runtime" in the [module docs](self)). It is
/// the [`source`](std::error::Error::source) of that [`Error`].
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use pgline::blocking::{Connection, InsideRuntime};
///
/// let rt = tokio::runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     let err = Connection::connect_str("postgres://postgres@127.0.0.1/postgres").unwrap_err();
///     assert!(InsideRuntime::is_cause_of(&err));
///     assert!(err.is_unsupported());
/// });
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InsideRuntime {
    _private: (),
}

impl InsideRuntime {
    /// Whether `err` (or an error in its source chain) was caused by calling the blocking
    /// API inside a tokio runtime.
    ///
    /// ```no_run
    /// # fn demo(conn: &mut pgline::blocking::Connection) {
    /// use pgline::blocking::InsideRuntime;
    ///
    /// if let Err(e) = conn.batch_execute("SELECT 1") {
    ///     if InsideRuntime::is_cause_of(&e) {
    ///         eprintln!("use pgline::Connection from async code");
    ///     }
    /// }
    /// # }
    /// ```
    pub fn is_cause_of(err: &Error) -> bool {
        let mut cause = std::error::Error::source(err);
        while let Some(c) = cause {
            if c.is::<Self>() {
                return true;
            }
            cause = c.source();
        }
        false
    }
}

impl std::fmt::Display for InsideRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "blocking here would stall the runtime's async tasks: use the async API \
             (pgline::Connection, pgline::pool::Pool), or call from a thread without a runtime",
        )
    }
}

impl std::error::Error for InsideRuntime {}

/// Refuses to block on a thread that has a tokio runtime (see [`InsideRuntime`]).
pub(crate) fn ensure_blocking_allowed() -> Result<(), Error> {
    match Handle::try_current() {
        Ok(_) => Err(Error::with_source(
            Kind::Unsupported,
            "the blocking API was called inside a tokio runtime",
            InsideRuntime { _private: () },
        )),
        Err(_) => Ok(()),
    }
}

/// A current-thread runtime with IO and timers: the connect timeout, deadlines and the
/// polled IO of bulk loads all need the time driver.
pub(crate) fn current_thread_runtime() -> Result<Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Error::with_source(
                Kind::Io,
                "cannot build the tokio runtime of the blocking API",
                e,
            )
        })
}

/// A runtime owned by one blocking [`Connection`] (or [`CancelToken`] call). `None` only
/// while it is being dropped.
#[derive(Debug)]
pub(crate) struct OwnedRuntime(Option<Runtime>);

impl OwnedRuntime {
    pub(crate) fn new() -> Result<Self, Error> {
        current_thread_runtime().map(|rt| Self(Some(rt)))
    }
}

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        // Dropping a runtime waits for its blocking threads, which tokio refuses (with a
        // panic) inside another runtime. There, shut down without waiting.
        if let Some(rt) = self.0.take() {
            if Handle::try_current().is_ok() {
                rt.shutdown_background();
            }
        }
    }
}

/// How a blocking type runs a future: on a runtime it owns (the calling thread drives
/// it), or on the handle of a runtime another thread drives (the pool's).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Exec<'a> {
    Owned(&'a OwnedRuntime),
    Driven(&'a Handle),
}

impl Exec<'_> {
    /// Blocks on `f`, unless this thread is inside a runtime (then `f` is dropped unpolled).
    pub(crate) fn block_on<F: Future>(self, f: F) -> Result<F::Output, Error> {
        ensure_blocking_allowed()?;
        match self {
            Self::Owned(OwnedRuntime(Some(rt))) => Ok(rt.block_on(f)),
            Self::Owned(OwnedRuntime(None)) => Err(Error::closed("the runtime is shut down")),
            Self::Driven(handle) => Ok(handle.block_on(f)),
        }
    }

    /// [`block_on`](Self::block_on) for the common `Result<T, Error>` output.
    pub(crate) fn run<T>(self, f: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
        self.block_on(f)?
    }
}

/// A connection-holding blocking type: the methods of [`methods`] are written once
/// against this.
pub(crate) trait Facade {
    /// How to block, and the async connection; an error only once the holder was
    /// consumed (a transaction being committed or dropped).
    fn parts(&mut self) -> Result<(Exec<'_>, &mut crate::Connection), Error>;

    /// The async connection, for accessors that do not block.
    fn conn(&self) -> Option<&crate::Connection>;
}

/// The error of a holder whose connection was already handed back.
pub(crate) fn consumed() -> Error {
    Error::closed("the connection was already handed back")
}

/// A bulk-load error for a failure before any row was sent.
pub(crate) fn load_error(error: Error) -> LoadError {
    LoadError {
        error,
        report: LoadReport::default(),
    }
}
