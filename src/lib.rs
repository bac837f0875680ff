//! pgline: a PostgreSQL wire-protocol (v3) client for tokio, with a hand-written codec,
//! pipelined bulk loads, and InterSystems IRIS (iris-pgwire) compatibility built into the
//! protocol state machine.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pgline::Error> {
//! use pgline::{Config, Connection};
//!
//! let config: Config = "postgres://postgres@127.0.0.1:5432/postgres".parse()?;
//! let mut conn = Connection::connect(&config).await?;
//! conn.batch_execute("CREATE TEMP TABLE t (id int8, name text)").await?;
//! conn.execute("INSERT INTO t VALUES ($1, $2)", &[&1i64, &"one"]).await?;
//! let row = conn.query_one("SELECT name FROM t WHERE id = $1", &[&1i64]).await?;
//! let name: String = row.get(0)?;
//! assert_eq!(name, "one");
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! - [`protocol`]: the codec. Every frontend and backend message, encode and decode, with
//!   length caps checked before allocation. No IO.
//! - [`conn`]: the sans-IO layer and the thin tokio driver around it.
//!   - [`conn::Session`]: startup with TLS negotiation, authentication, the expectation
//!     queue that matches responses to requests, the error grace; every server quirk is
//!     consulted here or in the flows.
//!   - `conn::flow`: one state machine per operation (simple query, prepare, run, row
//!     stream, close, the explicit pipeline, COPY in and out), events in, messages and
//!     results out; `conn::bulk` holds the bulk load's sender (when to encode, Sync,
//!     Flush, stop) and ledger (what every answer means for the report).
//!   - the driver, [`Connection`]: its one loop (`driver/io_loop.rs`) moves bytes and
//!     timers and hands events to the flows; the rest of `driver/` are the async shells
//!     of the operations and what needs the OS (sockets, TLS with rustls under the
//!     default `rustls` feature, cancel requests, the host walk, polled IO).
//!     [`conn::tls`] holds libpq's TLS parameters and the `sslmode` table.
//! - [`types`]: [`ToSql`]/[`FromSql`], binary and text encodings.
//! - [`iris`]: the server dialect flags ([`iris::Quirks`]) and the manual of iris-pgwire's
//!   deviations.
//! - [`pool`]: a connection pool.
//! - [`blocking`]: a blocking facade for programs that are not async: connections,
//!   transactions, COPY through `std::io` and a pool shared by OS threads, each call a
//!   `block_on` of the async method on a runtime the facade owns.
//! - `cluster` (feature `test-cluster`): a throwaway local PostgreSQL cluster, for tests,
//!   examples and the CLI's demo; not part of the driver.
//!
//! With the `tracing` feature, every operation is a span with the OpenTelemetry database
//! attributes; SQL text is recorded only after `Connection::trace_sql_text(true)`, and
//! parameter values never.
//!
//! # Cancel safety
//!
//! Every future returned by a [`Connection`] method can be dropped at any await point. The
//! read buffer and the session's expectation queue live in the connection, not in the
//! future, so nothing is lost: the next operation first writes a Sync if needed, aborts a
//! COPY IN with CopyFail, and reads and discards every response of the abandoned
//! operation up to ReadyForQuery. The next caller never sees someone else's rows. A
//! dropped [`conn::Transaction`] queues a ROLLBACK the same way. If draining fails (the
//! server is gone, or a deadline passes), the connection is marked broken and refuses
//! all work; a pool discards it.
//!
//! # Server quirks
//!
//! Servers that deviate from PostgreSQL are handled by flags in [`iris::Quirks`],
//! detected once from `server_version` at startup (or forced with `profile=`). The
//! PostgreSQL profile stays strict: a message that makes no sense is a protocol error
//! and breaks the connection. See [`iris`] for every flag, its evidence and its uses.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Without `runtime` only the codec and the sans-IO session are built; crate-internal
// helpers that only the tokio driver uses are then unused.
#![cfg_attr(not(feature = "runtime"), allow(dead_code, unused_imports))]

#[doc(hidden)]
#[path = "fuzzing.rs"]
pub mod __fuzz;
#[cfg(feature = "runtime")]
pub mod blocking;
#[cfg(feature = "test-cluster")]
pub mod cluster;
pub mod conn;
mod error;
pub mod iris;
#[cfg(feature = "runtime")]
pub mod pool;
pub mod protocol;
mod trace;
pub mod types;

#[cfg(feature = "runtime")]
pub use conn::{CancelToken, Connection, Notification, RowStream, SimpleQueryResult, Transaction};
pub use conn::{Column, Config, Row, SimpleRow, Statement};
pub use error::{DbError, Error, Result, Severity};
pub use types::{FromSql, ToSql};
