//! The tokio driver: [`Connection`] owns the socket, a read buffer and the sans-IO
//! [`Session`]; it is the only code in `conn` that awaits.
//!
//! The one loop that waits on the socket is in `io_loop` ([`Connection::drive`] and the
//! few primitives beside it): it writes whatever the session has queued **while** reading
//! whatever the server sends, feeds the bytes to the session and hands each event to the
//! operation's [flow](crate::conn::flow), which decides what it means. The files here
//! are the async shells of the operations (start a flow, drive it, apply the deadline)
//! and what needs the OS: sockets and TLS (`socket`, `tls`), cancel requests (`cancel`),
//! the host walk (`hosts`), polled IO for bulk loads (`io_tick`), and the loads that
//! span several connections (`parallel`). The read buffer lives in the struct, so a
//! dropped future loses no bytes; the session keeps its expectation queue, and the next
//! operation drains it to ReadyForQuery first (see `# Cancel safety` in the crate docs).

mod bulk;
mod cancel;
mod copy;
mod hosts;
mod io_loop;
mod io_tick;
mod load;
mod parallel;
mod pipeline;
mod query;
mod socket;
mod tls;
mod transaction;
mod unnest;

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;

use base64::Engine as _;
use bytes::BytesMut;
use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite};

pub use cancel::CancelToken;
pub use copy::{BinaryCopyWriter, CopyIn, CopyOut};
pub use load::{quote_ident, LoadMode};
pub use parallel::{
    execute_many_parallel, load_parallel, ChunkReport, Connections, ParallelLoadError,
    ParallelOptions, ParallelReport,
};
pub use pipeline::{Pipeline, PipelineOutput};
pub use query::{RowStream, SimpleQueryResult, StatementRef};
pub use socket::Socket;
pub use transaction::Transaction;

use super::config::{Config, ProfileChoice, SslMode};
use super::event::Item;
use super::session::{Session, SessionConfig, TlsStart};
use super::statement::StatementCache;
use crate::error::{DbError, Error};
use crate::iris::Quirks;
use crate::protocol::backend::{NotificationResponse, TransactionStatus};
use crate::protocol::frontend;
use crate::trace::{self, ConnTrace};
use tls::{Binding, TlsConnector, TlsPlan};

/// A LISTEN/NOTIFY notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Backend process that sent it.
    pub process_id: i32,
    /// Channel name.
    pub channel: String,
    /// Payload.
    pub payload: String,
}

impl From<NotificationResponse> for Notification {
    fn from(n: NotificationResponse) -> Self {
        Self {
            process_id: n.process_id(),
            channel: n.channel().to_string(),
            payload: n.payload().to_string(),
        }
    }
}

type NoticeHandler = Box<dyn FnMut(DbError) + Send>;

/// A connection to a PostgreSQL (or iris-pgwire) server.
///
/// Methods take `&mut self`: one operation at a time. Pipelining is explicit (see the
/// pipeline API), never implicit.
///
/// # Behind PgBouncer
///
/// In session pooling every mode works. In **transaction pooling** (PgBouncer's
/// `pool_mode = transaction`), connect with `statement_cache_capacity=0`, pgline's
/// pooler-safe mode (see [`conn::config`](crate::conn::config)): every
/// statement is the unnamed one, parsed in the same flight as its Bind. Then these work,
/// each transaction or statement on whichever server connection the pooler picks:
/// `query`/`query_one`/`query_opt`/`execute` with parameters, [`prepare`](Self::prepare)
/// (the handle keeps the Describe information; the SQL is parsed again at each run),
/// `query_stream`, `execute_many` and `load` (the statement parsed again in every Sync
/// window; outside a transaction one window is in flight at a time), COPY in and out,
/// `insert_unnest`, transactions, and the pipeline API (outside a transaction a new
/// Sync window starts only once the previous one was read).
///
/// What does not work through a transaction-mode pooler, in this client or any other:
/// session state kept between transactions. `SET` (use `SET LOCAL` in a transaction),
/// `LISTEN`, session advisory locks (use `pg_advisory_xact_lock`), temporary tables
/// (unless `ON COMMIT DROP` in one transaction), SQL `PREPARE`/`DEALLOCATE`, `WITH HOLD`
/// cursors, and named prepared statements (pgline's default mode): they live on one
/// server connection, which the next transaction may not get and another client may.
/// A default-mode connection used there by mistake fails with SQLSTATE 42P05 or 26000,
/// and the error's Display says to set `statement_cache_capacity=0`.
pub struct Connection<S = Socket> {
    stream: S,
    rbuf: BytesMut,
    session: Session,
    next_statement: u64,
    config: Config,
    pub(crate) cache: StatementCache,
    notifications: VecDeque<Notification>,
    dropped_notifications: u64,
    notices: VecDeque<DbError>,
    notice_handler: Option<NoticeHandler>,
    cancel: Option<CancelToken>,
    /// Switches the transport between event-driven and polled IO, where it can.
    set_polled: Option<SetPolled<S>>,
    /// Whether the transport is in polled IO now.
    polled: bool,
    /// Runs the TLS handshake on the transport, where it can (only [`Socket`] can).
    start_tls: Option<StartTls<S>>,
    /// The TLS configuration of this connection, when it may use TLS.
    tls: Option<Arc<TlsConnector>>,
    /// What this connection's spans need (zero-sized without the `tracing` feature).
    trace: ConnTrace,
}

/// How a transport is switched to polled IO (`Some(tick)`) and back (`None`).
type SetPolled<S> = fn(&mut S, Option<std::time::Duration>) -> io::Result<()>;

/// How a transport runs the TLS handshake (returning the channel-binding data).
type StartTls<S> = for<'a> fn(&'a mut S, &'a TlsConnector) -> BoxFuture<'a, Result<Binding, Error>>;

#[cfg(feature = "rustls")]
fn socket_start_tls<'a>(
    s: &'a mut Socket,
    connector: &'a TlsConnector,
) -> BoxFuture<'a, Result<Binding, Error>> {
    Box::pin(s.start_tls(connector))
}

#[cfg(not(feature = "rustls"))]
fn socket_start_tls<'a>(
    _s: &'a mut Socket,
    connector: &'a TlsConnector,
) -> BoxFuture<'a, Result<Binding, Error>> {
    match *connector {}
}

impl<S> std::fmt::Debug for Connection<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// Applies the per-operation deadline. When it passes with a request in flight, the
/// statement is cancelled (CancelRequest) and the connection drained to ReadyForQuery
/// within a short grace, so it stays usable; only when that fails (or the server cannot
/// cancel reliably) is the connection broken, because the position in the server's
/// response stream is then unknown.
macro_rules! timed {
    ($self:ident, $fut:expr) => {{
        match $self.config.query_timeout {
            None => $fut.await,
            Some(t) => match tokio::time::timeout(t, $fut).await {
                Ok(r) => r,
                Err(_) => Err($self.recover_from_timeout(t).await),
            },
        }
    }};
}
pub(crate) use timed;

impl Connection<Socket> {
    /// Connects over TCP (or a Unix socket), negotiates TLS as `sslmode` says (see
    /// [`crate::conn::tls`]) and authenticates, within the connect timeout, which covers
    /// every attempt (`allow` and `prefer` may make two), the TLS handshake,
    /// authentication and the first ReadyForQuery. With several hosts, each is tried in
    /// turn with its own connect timeout, skipping servers of the wrong kind for
    /// `target_session_attrs` (see [`Config::host`]); the password comes from
    /// `.pgpass` for each host when none is configured.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), pgline::Error> {
    /// let config: pgline::Config =
    ///     "postgres://app@db.example.com/appdb?sslmode=verify-full&connect_timeout=10".parse()?;
    /// let conn = pgline::Connection::connect(&config).await?;
    /// assert!(conn.is_tls());
    /// conn.close().await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(config: &Config) -> Result<Self, Error> {
        hosts::connect(config).await
    }

    /// One attempt at one server: `config` names a single host (see
    /// [`Config::for_target`]). No deadline here; the caller applies `connect_timeout`.
    async fn connect_one(config: &Config) -> Result<Self, Error> {
        let span = trace::Span::connect(config);
        let addr = config.hostaddr.as_deref().unwrap_or(&config.host);
        let fut = async {
            let plan = TlsPlan::resolve(config)?;
            let attempts = plan.attempts();
            let mut last = None;
            for (i, &attempt) in attempts.iter().enumerate() {
                let stream = Socket::connect(addr, config.port).await.map_err(|e| {
                    Error::with_source(
                        crate::error::Kind::Io,
                        format!("cannot connect to {addr}:{}", config.port),
                        e,
                    )
                })?;
                stream.set_keepalives(&config.keepalives).map_err(|e| {
                    Error::with_source(crate::error::Kind::Io, "cannot set TCP keepalives", e)
                })?;
                let tls = plan.connector.clone();
                match Self::start(stream, config, attempt, tls, Some(socket_start_tls)).await {
                    Ok(mut conn) => {
                        conn.set_polled = Some(Socket::set_polled);
                        let tls = conn.stream.is_tls().then(|| conn.tls.clone()).flatten();
                        conn.cancel = conn
                            .cancel
                            .take()
                            .map(|c| c.with_addr(addr, config.port, tls, attempt));
                        return Ok(conn);
                    }
                    Err((e, tls_used)) => {
                        let more = i + 1 < attempts.len();
                        if !(more && plan.retry_after(attempt, tls_used, &e)) {
                            return Err(e);
                        }
                        last = Some(e);
                    }
                }
            }
            Err(last.unwrap_or_else(|| Error::protocol("no connection attempt was made")))
        };
        let r = span.instrument(fut).await;
        span.finish(&r);
        r
    }

    /// Parses `url` (a `postgres://` URL or `key=value` string, with `PG*` environment
    /// defaults) and connects.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), pgline::Error> {
    /// let mut conn = pgline::Connection::connect_str("host=127.0.0.1 user=app dbname=app").await?;
    /// conn.batch_execute("SELECT 1").await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect_str(url: &str) -> Result<Self, Error> {
        Self::connect(&Config::parse(url)?).await
    }

    /// Whether TCP keepalives are on for this connection's socket (see
    /// [`Keepalives`](crate::conn::Keepalives); always false over a Unix-domain socket).
    pub fn tcp_keepalive(&self) -> bool {
        self.stream.keepalive_on()
    }

    /// A token that cancels the query running on this connection, from another task.
    /// `None` when the server sent no cancel key (or over [`Self::connect_stream`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// use std::time::Duration;
    /// let token = conn.cancel_token().expect("PostgreSQL sends a cancel key");
    /// tokio::spawn(async move {
    ///     tokio::time::sleep(Duration::from_secs(1)).await;
    ///     let _ = token.cancel_query(Duration::from_secs(5)).await;
    /// });
    /// let err = conn.simple_query("SELECT pg_sleep(60)").await.unwrap_err();
    /// assert_eq!(err.code(), Some("57014")); // query_canceled
    /// # Ok(()) }
    /// ```
    ///
    /// On iris-pgwire the token refuses to cancel ([`CancelToken::is_supported`] is false):
    /// see [`crate::iris::capabilities`].
    pub fn cancel_token(&self) -> Option<CancelToken> {
        let token = self.cancel.clone()?;
        Some(match self.session.cancel_refusal() {
            Some(why) => token.refusing(why),
            None => token,
        })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Runs startup over an already-connected stream (duplex pipes and fake servers in
    /// tests use this). No connect timeout is applied here.
    ///
    /// TLS cannot be set up over such a stream: `sslmode=disable` starts in plaintext,
    /// other modes send SSLRequest first, and a server that answers `S` is refused.
    pub async fn connect_stream(stream: S, config: &Config) -> Result<Self, Error> {
        let start = match config.tls.effective_mode(false)? {
            SslMode::Disable | SslMode::Allow => TlsStart::Off,
            mode => TlsStart::Request {
                required: mode.requires_tls(),
            },
        };
        let span = trace::Span::connect(config);
        let r = span
            .instrument(Self::start(stream, config, start, None, None))
            .await
            .map_err(|(e, _)| e);
        span.finish(&r);
        r
    }

    /// Runs startup over `stream`. On failure, also says whether TLS was in use.
    async fn start(
        stream: S,
        config: &Config,
        tls_start: TlsStart,
        tls: Option<Arc<TlsConnector>>,
        start_tls: Option<StartTls<S>>,
    ) -> Result<Self, (Error, bool)> {
        let mut nonce_bytes = [0u8; 18];
        getrandom::fill(&mut nonce_bytes).map_err(|e| {
            (
                Error::auth(format!("no randomness for the SCRAM nonce: {e}")),
                false,
            )
        })?;
        let nonce = base64::engine::general_purpose::STANDARD.encode(nonce_bytes);
        let forced = match config.profile {
            ProfileChoice::Auto => None,
            ProfileChoice::Postgres => Some(Quirks::postgres()),
            ProfileChoice::Iris => Some(Quirks::iris()),
        };
        let skip_sig =
            config.insecure_skip_scram_server_signature && config.profile == ProfileChoice::Iris;
        let session = Session::new(SessionConfig {
            params: config.startup_params(),
            user: config.get_user(),
            password: config.password.clone(),
            policy: config.auth,
            nonce,
            skip_server_signature: skip_sig,
            limits: config.limits,
            quirks: forced,
            tls: tls_start,
            channel_binding: config.tls.channel_binding,
            protocol: config.protocol_range(),
        })
        .map_err(|e| (e, false))?;
        let mut session = session;
        session.set_client_options(config.prefer_text, config.iris_pgwire_version);
        let mut conn = Self {
            stream,
            rbuf: BytesMut::with_capacity(io_loop::READ_CHUNK),
            session,
            next_statement: 1,
            config: config.clone(),
            cache: StatementCache::new(config.statement_cache_capacity),
            notifications: VecDeque::new(),
            dropped_notifications: 0,
            notices: VecDeque::new(),
            notice_handler: None,
            cancel: None,
            set_polled: None,
            polled: false,
            start_tls,
            tls,
            trace: ConnTrace::new(),
        };
        if let Err(e) = conn.run_startup().await {
            return Err((e, conn.session.is_tls()));
        }
        if let Some(k) = conn.session.backend_key() {
            conn.cancel = Some(CancelToken::new(k.process_id(), k.secret_key().to_vec()));
        }
        Ok(conn)
    }

    /// Whether this connection is encrypted with TLS.
    pub fn is_tls(&self) -> bool {
        self.session.is_tls()
    }

    pub(crate) fn item(&mut self) -> Item {
        self.session.item()
    }

    /// The name for the next prepared statement: `pgline_s<n>`, or the unnamed statement
    /// (`""`) in pooler-safe mode (`statement_cache_capacity=0`, see [`Config`]).
    pub(crate) fn statement_name(&mut self) -> String {
        if self.config.pooler_safe() {
            return String::new();
        }
        let n = self.next_statement;
        self.next_statement += 1;
        format!("pgline_s{n}")
    }

    /// After an operation passed its deadline (its future was dropped at an await point,
    /// which is always safe: see `# Cancel safety` in the crate docs): cancel what is
    /// still running on the server and drain to ReadyForQuery, within a grace of the
    /// deadline itself clamped to 1–5 s. Returns the timeout error to report; the
    /// connection is broken only when this fails.
    pub(crate) async fn recover_from_timeout(&mut self, deadline: std::time::Duration) -> Error {
        let in_flight = self.session.pending() > 0
            || self.session.in_copy_in()
            || self.session.in_open_window();
        // The server's error arrived before the deadline: that is the answer to report.
        let received = self.session.take_unsettled_error();
        if self.session.is_broken() || !in_flight {
            return received.unwrap_or_else(|| Error::timeout("operation timed out"));
        }
        let token = match &self.cancel {
            Some(t) if self.session.cancel_keeps_connection() => t.clone(),
            _ => {
                let e = Error::timeout("operation timed out (the connection is closed)");
                self.session.mark_broken(e.clone());
                return received.unwrap_or(e);
            }
        };
        let grace = deadline.clamp(
            std::time::Duration::from_secs(1),
            std::time::Duration::from_secs(5),
        );
        let recovered = tokio::time::timeout(grace, async {
            // Best effort: the statement may have finished meanwhile.
            let _ = token.cancel_query(grace).await;
            let item = self.item();
            self.session.prepare_drain(item)?;
            while self.session.pending() > 0 {
                self.next_discarded_event().await?;
            }
            Ok::<(), Error>(())
        })
        .await;
        match recovered {
            Ok(Ok(())) => received.unwrap_or_else(|| {
                Error::timeout(
                    "operation timed out: the statement was cancelled and the connection is still usable",
                )
            }),
            _ => {
                let e = Error::timeout(
                    "operation timed out, and the server did not settle after a cancel: the connection is closed",
                );
                self.session.mark_broken(e.clone());
                received.unwrap_or(e)
            }
        }
    }

    /// Before each operation: refuse if broken; drain what an abandoned operation left
    /// behind (its responses are discarded, a COPY IN is aborted, a sync window left open
    /// by a pipeline or row stream whose results were all read is ended with Sync); close
    /// statements the cache evicted and statements dropped by their owners.
    pub(crate) async fn begin_op(&mut self) -> Result<(), Error> {
        // A bulk load dropped mid-way leaves the socket polled: back to event-driven IO.
        self.set_io_tick(None);
        if let Some(e) = self.session.broken_error() {
            return Err(Error::broken(e));
        }
        if self.session.pending() > 0 || self.session.in_copy_in() || self.session.in_open_window()
        {
            let item = self.item();
            self.session.prepare_drain(item)?;
            while self.session.pending() > 0 {
                // Discard: these responses belong to an operation that was dropped, or
                // are the ReadyForQuery of one that already returned its error.
                self.next_discarded_event().await?;
            }
        }
        self.route_async_events();
        let evicted = self.cache.take_evicted();
        if !evicted.is_empty() {
            // Cleanup gets its own sync window: an error there must not abort user items.
            let item = self.item();
            for name in &evicted {
                self.session
                    .push_close(item, frontend::Target::Statement, name)?;
            }
            self.session.push_sync(item)?;
        }
        Ok(())
    }

    /// Brings a connection back to a clean idle state for reuse: drains what an abandoned
    /// operation left behind, then rolls back an open (or failed) transaction. An error is
    /// returned as is (the pool then retires the connection); the caller bounds this with
    /// a deadline.
    pub(crate) async fn reset_for_reuse(&mut self) -> Result<(), Error> {
        self.begin_op().await?;
        // The statement-cache cleanup that begin_op may have queued: let it complete.
        while self.session.pending() > 0 {
            self.next_discarded_event().await?;
        }
        if self.transaction_status() != TransactionStatus::Idle {
            self.simple_query("ROLLBACK").await?;
        }
        Ok(())
    }

    // ----- public accessors ---------------------------------------------------------------

    /// Named statements currently in the statement cache.
    pub fn cached_statements(&self) -> usize {
        self.cache.len()
    }

    /// Whether an earlier error broke this connection; it then refuses all work.
    pub fn is_broken(&self) -> bool {
        self.session.is_broken()
    }

    /// Whether the server answered an operation on this connection with SQLSTATE `25006`
    /// (read_only_sql_transaction), `57P01` (admin_shutdown) or `57P03`
    /// (cannot_connect_now): the signs of a failover (a demoted or retiring primary). The
    /// connection may still work, but the pool closes it on return rather than reuse it,
    /// so the next checkout reconnects through `host` and `target_session_attrs` and
    /// finds the new primary.
    pub fn saw_failover_error(&self) -> bool {
        self.session.saw_failover_error()
    }

    /// Whether nothing is pending and the connection is usable.
    pub fn is_idle(&self) -> bool {
        self.session.is_ready()
    }

    /// The protocol version of this connection: `max_protocol_version` if the server
    /// supports it, else the lower one it offered in NegotiateProtocolVersion.
    pub fn protocol_version(&self) -> crate::conn::ProtocolVersion {
        self.session.protocol_version()
    }

    /// A server parameter reported by ParameterStatus (`server_version`, `TimeZone`, ...).
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.session.parameter(name)
    }

    /// The transaction status from the last ReadyForQuery.
    ///
    /// An operation returns the server's error as soon as it arrives; PostgreSQL sends
    /// the ReadyForQuery (with the new status) right behind it, and the operation waits
    /// a short grace for it. Only when a server stalls there is the error returned first:
    /// [`Self::is_idle`] is then false, this status is the one from before the failure,
    /// and the next operation reads the ReadyForQuery before it starts.
    pub fn transaction_status(&self) -> TransactionStatus {
        self.session.transaction_status()
    }

    /// The server dialect in effect.
    pub fn quirks(&self) -> &Quirks {
        self.session.quirks()
    }

    /// What the server's iris-pgwire release can do, looked up in
    /// [`crate::iris::capabilities`] by the release declared with
    /// [`Config::iris_pgwire_version`] (undeclared: the least any release does); `None`
    /// on PostgreSQL.
    pub fn iris_capabilities(&self) -> Option<crate::iris::Capabilities> {
        self.session.iris_capabilities()
    }

    /// Changes this connection's operation deadline (`None`: no deadline) from now on:
    /// set it around one statement for a per-statement timeout.
    pub fn set_query_timeout(&mut self, t: Option<std::time::Duration>) {
        self.config.query_timeout = t;
    }

    /// The configuration this connection was made with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether this connection's spans record the SQL text of each statement as
    /// `db.query.text` (feature `tracing`). Off by default: SQL can carry literals the
    /// application inlined. Parameter values are never recorded. For a pool, set it in
    /// the `after_connect` hook.
    #[cfg(feature = "tracing")]
    pub fn trace_sql_text(&mut self, on: bool) {
        self.trace.set_sql_text(on);
    }

    /// The span of operation `op` running `sql` on this connection (see `crate::trace`).
    #[inline]
    pub(crate) fn op_span(&self, op: trace::Op, sql: &str) -> trace::Span {
        trace::Span::op(op, &self.config, &self.trace, sql)
    }

    /// Installs a handler for NoticeResponse (e.g. `RAISE NOTICE`). Without one, the last
    /// 64 notices are kept for [`take_notices`](Self::take_notices).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// conn.set_notice_handler(|notice| eprintln!("{}: {}", notice.severity(), notice.message()));
    /// conn.batch_execute("DO $$ BEGIN RAISE NOTICE 'hello'; END $$").await?;
    /// # Ok(()) }
    /// ```
    pub fn set_notice_handler(&mut self, f: impl FnMut(DbError) + Send + 'static) {
        self.notice_handler = Some(Box::new(f));
    }

    /// Notices received since the last call (when no handler is installed).
    pub fn take_notices(&mut self) -> Vec<DbError> {
        self.notices.drain(..).collect()
    }

    /// Notifications received so far (buffered, oldest dropped beyond the configured
    /// capacity; see [`dropped_notifications`](Self::dropped_notifications)).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(conn: &mut pgline::Connection) -> Result<(), pgline::Error> {
    /// conn.batch_execute("LISTEN jobs; NOTIFY jobs, 'one'").await?;
    /// // Notifications arrive with the answers of any operation.
    /// for n in conn.take_notifications() {
    ///     println!("{}: {}", n.channel, n.payload);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn take_notifications(&mut self) -> Vec<Notification> {
        self.notifications.drain(..).collect()
    }

    /// How many notifications were dropped because the buffer was full.
    pub fn dropped_notifications(&self) -> u64 {
        self.dropped_notifications
    }
}

/// A connect span records how the connection authenticated and whether it is encrypted.
impl<S> trace::Outcome for Connection<S> {
    #[inline]
    fn record_on(&self, span: &trace::Span) {
        span.connected(&self.trace, self.session.is_tls());
    }
}

/// The server accepted TLS, but this connection has no way to run it.
fn no_tls_here() -> Error {
    let why = if cfg!(feature = "rustls") {
        "the server accepted TLS, but TLS needs a connection made by Connection::connect \
         (a stream given to connect_stream cannot be upgraded): use sslmode=disable there"
    } else {
        "the server accepted TLS, but this build of pgline has no TLS support \
         (enable the `rustls` feature, or use sslmode=disable)"
    };
    Error::new(crate::error::Kind::Tls, why)
}
