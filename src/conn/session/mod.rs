//! The sans-IO session: bytes in, events out. No IO, no clock, no RNG, no `.await`.
//!
//! # Driving it
//!
//! ```text
//!   Session::new(..)            encodes the StartupMessage (or SSLRequest) into the outbound buffer
//!   loop {
//!       write outbound_mut() to the socket (and clear what was written)
//!       read bytes; handle_bytes(&mut read_buf)    frames + decodes + dispatches
//!       while let Some(ev) = poll_event() { .. }   results, in server order
//!       NeedScramProof? compute it off-thread, then provide_scram_proof(..)
//!       NeedTls? run the TLS handshake on the socket, then tls_established(..)
//!   }
//!   commands (after startup): start_simple_query, push_parse, push_bind, push_execute,
//!   push_describe_*, push_close, push_sync, push_flush — each encodes its message and
//!   pushes the matching expectation.
//! ```
//!
//! # The pipeline state machine
//!
//! Every encoded message pushes what it expects back ([`Expect`]); every server message is
//! matched against the front of that queue:
//!
//! ```text
//!          push expectations                    front matches -> pop, emit event
//!  Idle ─────────────────────► Normal ◄──────┐ (DataRow repeats Execute)
//!   ▲                            │           │
//!   │                            │ ErrorResponse: item = Failed(db_err)
//!   │                            ▼
//!   │                         Aborted         anything but ReadyForQuery
//!   │                            │            (and async messages) = protocol error
//!   │  ReadyForQuery:            │
//!   │  pop every expectation up  │
//!   │  to the Sync as Aborted,   │
//!   └── then pop the Sync ◄──────┘
//! ```
//!
//! Bulk rows are queued as runs ([`Expect::BindExecuteRun`]): one entry stands for many
//! consecutive Bind/Execute pairs and behaves exactly like them expanded (the matcher
//! takes a run's next BindComplete or Execute as the front). Rows of a run that end with
//! BindComplete and a plain CommandComplete are consumed in one pass over the read buffer
//! and reported as one [`Event::CompleteRun`]; anything else (an error, rows, a missing
//! CommandComplete) takes the general path below, item by item.
//!
//! Rules, in order: async messages (Notice, Notification, ParameterStatus) are taken out
//! first and never count as responses; a message matching the front expectation pops it
//! (DataRow leaves `Execute` in place); an ErrorResponse fails the current item and, on
//! PostgreSQL, switches to `Aborted` (the server skips to Sync); on a server without
//! skip-to-Sync ([`Quirks::no_skip_after_error`]) the error answers only the front
//! expectation and later responses are believed; ReadyForQuery with no Sync pending is a
//! protocol error, and so is a simple Query's ReadyForQuery after a RowDescription whose
//! CommandComplete has not arrived (unless [`Quirks::command_complete_may_be_missing`]).
//! Any protocol violation, FATAL error or EOF breaks the session: every pending item is
//! failed once with the cause and nothing is delivered after that.

mod commands;
mod input;
mod policy;

use std::collections::{HashMap, VecDeque};

use bytes::BytesMut;

use super::auth::{CertificateHashError, ScramPending, ScramProof};
use super::event::{Event, Expect, Item};
use super::protocol_version::{ProtocolRange, ProtocolVersion};
use super::startup::{protocol_hint, Startup, StartupCtx, Step};
use crate::error::{DbError, Error};
use crate::iris::{Capabilities, IrisPgwireVersion, Quirks};
use crate::protocol::backend::{
    BackendKeyData, BackendMessage, CommandComplete, TransactionStatus,
};
use crate::protocol::framing::decode_backend;
use crate::protocol::frontend::{self, BindPrefix, BindWriter, Target};
use crate::protocol::{Limits, Oid};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Responses are matched normally.
    Normal,
    /// The server is skipping to Sync after an error in `failed`.
    Aborted { failed: Item },
}

enum Phase {
    Startup(Box<Startup>),
    Ready,
    Broken(Error),
}

/// Which COPY sub-protocol, if any, is in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Copy {
    None,
    /// The server waits for CopyData/CopyDone/CopyFail from us.
    In(Item),
    /// The server sends CopyData to us until CopyDone.
    Out(Item),
    /// A COPY the caller did not ask for: CopyFail was sent; discard server data.
    Refused(Item),
}

/// Outcome of startup, for the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupStatus {
    /// Still exchanging messages.
    InProgress,
    /// The driver must compute the SCRAM proof and call `provide_scram_proof`.
    NeedScramProof,
    /// The driver must run the TLS handshake and call `tls_established`.
    NeedTls,
    /// Ready for queries.
    Done,
}

/// The sans-IO connection state. See the module docs for how to drive it.
pub struct Session {
    out: BytesMut,
    phase: Phase,
    /// The StartupMessage, held back until TLS is settled.
    startup_packet: Option<BytesMut>,
    /// Whether startup went on over TLS.
    tls_used: bool,
    startup_ctx: Option<StartupCtx>,
    pending_proof: Option<ScramPending>,
    expect: VecDeque<Expect>,
    mode: Mode,
    events: VecDeque<Event>,
    params: HashMap<String, String>,
    key: Option<BackendKeyData>,
    /// The protocol version in effect (the requested one until startup settles it).
    protocol: ProtocolVersion,
    tx_status: TransactionStatus,
    /// The transaction status as the client tracks it from the verbs it sent (used instead
    /// of the server's byte under `Quirks::client_side_transaction_state`).
    client_tx: TransactionStatus,
    quirks: Quirks,
    quirks_forced: Option<Quirks>,
    limits: Limits,
    pending_syncs: usize,
    /// Extended-protocol messages were encoded since the last Sync: the server holds an
    /// open sync window (an implicit transaction on PostgreSQL) even when every response
    /// has arrived, and only a Sync ends it.
    open_window: bool,
    copy: Copy,
    /// Row shape (field count) of the result being read, when known. `Some` from a
    /// RowDescription until the CommandComplete, error or ReadyForQuery that closes the
    /// result: a simple Query's ReadyForQuery while it is `Some` ends a result early.
    shape: Option<u16>,
    /// Last item that got an `Aborted` event, to emit one per item.
    last_aborted: Option<Item>,
    /// The last BindComplete + CommandComplete pair the bulk fast path validated.
    run_answer: RunAnswer,
    /// The server's error for the exchange in flight, kept until its ReadyForQuery: a
    /// deadline that passes after it arrived reports it, not a bare timeout.
    unsettled_error: Option<Error>,
    /// The server reported an error that says it cannot serve this client as it is
    /// now (see [`FAILOVER_CODES`]); a pool must not reuse the connection.
    failover_error: bool,
    /// The next request number handed out by [`Session::item`].
    next_item: Item,
    /// The caller prefers text format for parameters and results (`prefer_text`).
    prefer_text: bool,
    /// The iris-pgwire release the caller declared (`iris_pgwire_version`).
    iris_release: Option<IrisPgwireVersion>,
}

/// How long an exchange that failed waits for its ReadyForQuery before the session
/// decides without it (see [`Session::wait`]). PostgreSQL sends it right behind the
/// error; iris-pgwire 1.7.3 within milliseconds; the legacy build never (quirks §14).
pub(crate) const READY_AFTER_ERROR_GRACE: std::time::Duration =
    std::time::Duration::from_millis(250);

/// What the driver waits for next, as the session decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Socket progress (bytes in, or room to write), for as long as it takes: the
    /// operation's own deadline bounds it.
    Io,
    /// Socket progress for at most this long; when it passes without the awaited
    /// ReadyForQuery, the driver calls [`Session::grace_expired`].
    Grace(std::time::Duration),
}

/// SQLSTATEs after which a connection should not be reused: `25006`
/// read_only_sql_transaction (the server became, or always was, read-only: a demoted
/// primary or a standby), `57P01` admin_shutdown and `57P03` cannot_connect_now (the
/// server is going away or not yet accepting work). After a failover these are what the
/// old primary answers; a pool that evicts on them finds the new primary on reconnect.
pub(crate) const FAILOVER_CODES: [&str; 3] = ["25006", "57P01", "57P03"];

/// The bytes of one row's answer in a bulk run (BindComplete, then a short
/// CommandComplete), once validated: a server answers every row of a load alike, so later
/// answers are recognised by one comparison instead of being checked frame by frame.
#[derive(Clone, Copy)]
struct RunAnswer {
    bytes: [u8; Self::CAP],
    len: usize,
}

impl RunAnswer {
    /// BindComplete (5 bytes) and a CommandComplete of at most 40 bytes after its tag.
    const CAP: usize = 5 + 41;
    const NONE: Self = Self {
        bytes: [0; Self::CAP],
        len: 0,
    };

    /// The cached answer, when `rest` starts with it.
    #[inline]
    fn matches(&self, rest: &[u8]) -> Option<usize> {
        let cached = self.bytes.get(..self.len).filter(|c| !c.is_empty())?;
        rest.starts_with(cached).then_some(self.len)
    }

    fn remember(&mut self, answer: &[u8]) {
        if let Some(slot) = self.bytes.get_mut(..answer.len()) {
            slot.copy_from_slice(answer);
            self.len = answer.len();
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("expect", &self.expect)
            .field("mode", &self.mode)
            .field("pending_syncs", &self.pending_syncs)
            .field("tx_status", &self.tx_status)
            .field("broken", &self.is_broken())
            .finish_non_exhaustive()
    }
}

/// How a session starts with respect to TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsStart {
    /// Plaintext: the StartupMessage goes first.
    Off,
    /// SSLRequest first. `required`: an `N` answer fails the connect; otherwise the
    /// session goes on in plaintext.
    Request {
        /// Whether TLS is mandatory.
        required: bool,
    },
    /// The TLS handshake at once (`sslnegotiation=direct`).
    Direct,
}

/// Startup parameters for [`Session::new`].
pub struct SessionConfig {
    /// Startup parameters (`user`, `database`, ...), in order.
    pub params: Vec<(String, String)>,
    /// User name (for MD5 and SCRAM).
    pub user: String,
    /// Password, if configured.
    pub password: Option<Vec<u8>>,
    /// Accepted authentication exchanges.
    pub policy: super::config::AuthPolicy,
    /// SCRAM client nonce (printable ASCII, no ','), from a CSPRNG in the driver.
    pub nonce: String,
    /// Accept an unverifiable SCRAM server signature (iris-pgwire opt-in).
    pub skip_server_signature: bool,
    /// Incoming message caps.
    pub limits: Limits,
    /// Force a dialect instead of detecting it from `server_version`.
    pub quirks: Option<Quirks>,
    /// TLS negotiation.
    pub tls: TlsStart,
    /// `channel_binding`.
    pub channel_binding: super::tls::ChannelBindingMode,
    /// `min_protocol_version` and `max_protocol_version` (the version requested).
    pub protocol: ProtocolRange,
}

impl Session {
    /// A session in startup: the StartupMessage (asking for `cfg.protocol.max`) is already
    /// encoded into the outbound buffer (or held back behind the SSLRequest).
    pub fn new(cfg: SessionConfig) -> Result<Self, Error> {
        let protocol = cfg.protocol.check()?;
        let params: Vec<(&str, &str)> = cfg
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut startup_packet = BytesMut::new();
        frontend::write_startup(&mut startup_packet, protocol.max.code(), &params)
            .map_err(Error::encode)?;
        let mut out = BytesMut::with_capacity(8 * 1024);
        let (state, held) = match cfg.tls {
            TlsStart::Off => {
                out.extend_from_slice(&startup_packet);
                (Startup::ExpectAuth, None)
            }
            TlsStart::Request { required } => {
                frontend::write_ssl_request(&mut out);
                (
                    Startup::ExpectSslResponse { required },
                    Some(startup_packet),
                )
            }
            TlsStart::Direct => (Startup::AwaitTls, Some(startup_packet)),
        };
        Ok(Self {
            startup_packet: held,
            startup_ctx: Some(StartupCtx {
                user: cfg.user,
                password: cfg.password,
                policy: cfg.policy,
                nonce: cfg.nonce,
                skip_server_signature: cfg.skip_server_signature,
                channel_binding: cfg.channel_binding,
                tls: None,
                protocol,
                version: protocol.max,
                negotiated: false,
            }),
            ..Self::blank(
                out,
                Phase::Startup(Box::new(state)),
                cfg.quirks,
                cfg.limits,
                protocol.max,
            )
        })
    }

    /// A session that is already past startup (for tests and fuzzing).
    #[doc(hidden)]
    pub fn new_ready(quirks: Quirks) -> Self {
        Self::blank(
            BytesMut::new(),
            Phase::Ready,
            Some(quirks),
            Limits::default(),
            ProtocolVersion::V3_0,
        )
    }

    /// A session in `phase` with nothing sent, expected or known yet; `forced` is the
    /// dialect the caller chose (else detected at startup).
    fn blank(
        out: BytesMut,
        phase: Phase,
        forced: Option<Quirks>,
        limits: Limits,
        protocol: ProtocolVersion,
    ) -> Self {
        Self {
            out,
            phase,
            startup_packet: None,
            tls_used: false,
            startup_ctx: None,
            pending_proof: None,
            expect: VecDeque::new(),
            mode: Mode::Normal,
            events: VecDeque::new(),
            params: HashMap::new(),
            key: None,
            protocol,
            tx_status: TransactionStatus::Idle,
            client_tx: TransactionStatus::Idle,
            quirks: forced.unwrap_or_default(),
            quirks_forced: forced,
            limits,
            pending_syncs: 0,
            open_window: false,
            copy: Copy::None,
            shape: None,
            last_aborted: None,
            run_answer: RunAnswer::NONE,
            unsettled_error: None,
            failover_error: false,
            next_item: 1,
            prefer_text: false,
            iris_release: None,
        }
    }

    // ----- inspection -------------------------------------------------------------------

    /// Bytes waiting to be written. The driver writes from the front and `advance`s.
    pub fn outbound_mut(&mut self) -> &mut BytesMut {
        &mut self.out
    }

    /// Whether anything waits to be written.
    pub fn has_outbound(&self) -> bool {
        !self.out.is_empty()
    }

    /// The next event, in server order.
    #[inline]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Whether the server reported an error after which the connection should not be
    /// reused (SQLSTATE `25006`, `57P01` or `57P03`): the pool closes such a connection
    /// on return instead of keeping it idle.
    pub fn saw_failover_error(&self) -> bool {
        self.failover_error
    }

    /// The server's error, noting whether it is one of [`FAILOVER_CODES`]; under the IRIS
    /// profile with the IRIS SQLCODE read from its message
    /// ([`DbError::iris_sqlcode`](crate::DbError::iris_sqlcode)).
    fn db_error(&mut self, f: &crate::protocol::backend::ErrorFields) -> Error {
        let err = Error::db(f);
        if err.code().is_some_and(|c| FAILOVER_CODES.contains(&c)) {
            self.failover_error = true;
        }
        if self.quirks.is_iris_like() {
            err.with_iris_sqlcode()
        } else {
            err
        }
    }

    /// Whether the connection is broken; see [`broken_error`](Self::broken_error).
    pub fn is_broken(&self) -> bool {
        matches!(self.phase, Phase::Broken(_))
    }

    /// The error that broke the connection.
    pub fn broken_error(&self) -> Option<&Error> {
        match &self.phase {
            Phase::Broken(e) => Some(e),
            _ => None,
        }
    }

    /// Whether startup finished, nothing is pending and no sync window is open.
    pub fn is_ready(&self) -> bool {
        matches!(self.phase, Phase::Ready)
            && self.expect.is_empty()
            && self.copy == Copy::None
            && !self.open_window
    }

    /// Whether extended-protocol messages were sent since the last Sync (see
    /// [`prepare_drain`](Self::prepare_drain)).
    ///
    /// > "At completion of each series of extended-query messages, the frontend should
    /// > issue a Sync message. [...] Sync causes the backend to close the current
    /// > transaction if it's not inside a BEGIN/COMMIT transaction block" (Protocol,
    /// > *Extended Query*)
    ///
    /// Until then, work the server already answered (an INSERT's CommandComplete) is not
    /// committed.
    pub fn in_open_window(&self) -> bool {
        self.open_window
    }

    /// Whether startup is finished (the session accepts commands).
    pub fn is_started(&self) -> bool {
        matches!(self.phase, Phase::Ready)
    }

    /// Startup progress.
    pub fn startup_status(&self) -> StartupStatus {
        match &self.phase {
            Phase::Startup(s) if matches!(**s, Startup::AwaitTls) => StartupStatus::NeedTls,
            Phase::Startup(_) if self.pending_proof.is_some() => StartupStatus::NeedScramProof,
            Phase::Startup(_) => StartupStatus::InProgress,
            _ => StartupStatus::Done,
        }
    }

    /// Entries in the expectation queue (a run of bulk rows counts once): zero exactly
    /// when no response is expected.
    pub fn pending(&self) -> usize {
        self.expect.len()
    }

    /// Sync points (Sync or Query) still waiting for ReadyForQuery.
    pub fn pending_syncs(&self) -> usize {
        self.pending_syncs
    }

    /// The expectation queue as it is stored (runs of bulk rows as one entry).
    pub fn expectation_entries(&self) -> impl Iterator<Item = &Expect> {
        self.expect.iter()
    }

    /// The expected responses one by one, runs expanded (for tests and invariants).
    pub fn expectations(&self) -> impl Iterator<Item = Expect> + '_ {
        self.expect.iter().flat_map(|e| e.expand())
    }

    /// The last transaction status from ReadyForQuery (or, where the server's byte cannot
    /// be believed, as tracked from the transaction verbs the client sent).
    pub fn transaction_status(&self) -> TransactionStatus {
        self.tx_status
    }

    /// Notes the SQL of a statement about to run, for client-side transaction tracking
    /// (`Quirks::client_side_transaction_state`); a no-op otherwise.
    pub fn note_statement_sql(&mut self, sql: &str) {
        if self.quirks.client_side_transaction_state {
            if let Some(s) = crate::iris::transaction_effect(sql) {
                self.client_tx = s;
            }
        }
    }

    /// A server parameter from ParameterStatus.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// All server parameters.
    pub fn parameters(&self) -> &HashMap<String, String> {
        &self.params
    }

    /// BackendKeyData, for CancelRequest.
    pub fn backend_key(&self) -> Option<&BackendKeyData> {
        self.key.as_ref()
    }

    /// The protocol version in effect: after startup, the one the server agreed to
    /// (`max_protocol_version`, or lower after NegotiateProtocolVersion).
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.protocol
    }

    /// The server dialect in effect.
    pub fn quirks(&self) -> &Quirks {
        &self.quirks
    }

    /// Whether the server is waiting for COPY data from us.
    pub fn in_copy_in(&self) -> bool {
        matches!(self.copy, Copy::In(_))
    }

    /// Marks the session broken (timeouts, I/O errors seen by the driver). Pending items
    /// are failed with the cause.
    pub fn mark_broken(&mut self, err: Error) {
        let err = match self.unconfirmed_protocol() {
            Some(v) if err.is_closed() || err.is_io() => err.with_note(protocol_hint(v)),
            _ => err,
        };
        self.fail(err);
    }

    // ----- startup ------------------------------------------------------------------------

    /// Takes the parsed server-first message whose proof the driver must compute.
    pub fn take_scram_pending(&mut self) -> Option<ScramPending> {
        self.pending_proof.take()
    }

    /// Resumes startup with the computed proof (sends client-final).
    pub fn provide_scram_proof(&mut self, proof: ScramProof) {
        if !matches!(self.phase, Phase::Startup(_)) {
            return;
        }
        match Startup::with_proof(proof, &mut self.out) {
            Ok(next) => self.phase = Phase::Startup(Box::new(next)),
            Err(e) => self.fail(e),
        }
    }

    /// The TLS handshake the session asked for ([`StartupStatus::NeedTls`]) succeeded:
    /// sends the StartupMessage, now encrypted. `binding` is the `tls-server-end-point`
    /// data of the server's certificate ([`tls_server_end_point`](super::tls_server_end_point)),
    /// or why there is none; `channel_binding` decides what that means.
    pub fn tls_established(&mut self, binding: Result<Vec<u8>, CertificateHashError>) {
        let awaiting = matches!(&self.phase, Phase::Startup(s) if matches!(**s, Startup::AwaitTls));
        if !awaiting {
            self.fail(Error::protocol(
                "tls_established without a pending TLS handshake",
            ));
            return;
        }
        if let Some(ctx) = self.startup_ctx.as_mut() {
            ctx.tls = Some(binding);
        }
        self.send_startup_packet();
    }

    /// Whether startup ran over TLS (the server accepted it and the handshake finished).
    pub fn is_tls(&self) -> bool {
        self.tls_used
    }

    fn send_startup_packet(&mut self) {
        if let Some(packet) = self.startup_packet.take() {
            self.out.extend_from_slice(&packet);
        }
        self.tls_used = self
            .startup_ctx
            .as_ref()
            .is_some_and(|ctx| ctx.tls.is_some());
        self.phase = Phase::Startup(Box::new(Startup::ExpectAuth));
    }

    /// The one-byte answer to SSLRequest. Exactly one byte is taken: anything the server
    /// sent behind it arrived before TLS was set up (or before our StartupMessage), so a
    /// man in the middle could have written it; it is refused, as libpq does since 14.1.
    fn handle_ssl_response(&mut self, required: bool, buf: &mut BytesMut) {
        let Some(&answer) = buf.first() else { return };
        bytes::Buf::advance(buf, 1);
        if !buf.is_empty() {
            self.fail(Error::protocol(format!(
                "server sent {} unencrypted bytes after its answer to SSLRequest: refused (possible injection, CVE-2021-23222)",
                buf.len()
            )));
            return;
        }
        match answer {
            b'S' => self.phase = Phase::Startup(Box::new(Startup::AwaitTls)),
            b'N' if required => self.fail(Error::new(
                crate::error::Kind::Tls,
                "the server does not support TLS, but sslmode requires it",
            )),
            b'N' => self.send_startup_packet(),
            // The server is not authenticated: its text must not be shown (CVE-2024-10977),
            // and, as in libpq since that fix, there is no plaintext retry after it.
            b'E' => self.fail(Error::protocol(
                "server sent an error response during SSL exchange",
            )),
            b => self.fail(Error::protocol(format!(
                "invalid response to SSLRequest: 0x{b:02x}"
            ))),
        }
    }
}
