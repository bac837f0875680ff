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
            out,
            phase: Phase::Startup(Box::new(state)),
            startup_packet: held,
            tls_used: false,
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
            pending_proof: None,
            expect: VecDeque::new(),
            mode: Mode::Normal,
            events: VecDeque::new(),
            params: HashMap::new(),
            key: None,
            protocol: protocol.max,
            tx_status: TransactionStatus::Idle,
            client_tx: TransactionStatus::Idle,
            quirks: cfg.quirks.unwrap_or_default(),
            quirks_forced: cfg.quirks,
            limits: cfg.limits,
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
        })
    }

    /// A session that is already past startup (for tests and fuzzing).
    #[doc(hidden)]
    pub fn new_ready(quirks: Quirks) -> Self {
        Self {
            out: BytesMut::new(),
            phase: Phase::Ready,
            startup_packet: None,
            tls_used: false,
            startup_ctx: None,
            pending_proof: None,
            expect: VecDeque::new(),
            mode: Mode::Normal,
            events: VecDeque::new(),
            params: HashMap::new(),
            key: None,
            protocol: ProtocolVersion::V3_0,
            tx_status: TransactionStatus::Idle,
            client_tx: TransactionStatus::Idle,
            quirks,
            quirks_forced: Some(quirks),
            limits: Limits::default(),
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

    // ----- input --------------------------------------------------------------------------

    /// Frames and handles every complete message in `buf`. Stops at the first error,
    /// which breaks the session.
    pub fn handle_bytes(&mut self, buf: &mut BytesMut) {
        if let Phase::Startup(s) = &self.phase {
            match **s {
                Startup::ExpectSslResponse { required } => {
                    self.handle_ssl_response(required, buf);
                    return;
                }
                Startup::AwaitTls if !buf.is_empty() => {
                    self.fail(Error::protocol(
                        "server sent unencrypted bytes before the TLS handshake: refused",
                    ));
                    return;
                }
                _ => {}
            }
        }
        while !self.is_broken() {
            if self.run_fast_path(buf) {
                continue;
            }
            // Fast path for the bodiless messages that dominate pipelines (BindComplete,
            // ParseComplete, ...): no frame split, no reference-count traffic.
            match crate::protocol::framing::peek_header(buf) {
                Some((tag, 4)) => {
                    if let Some(msg) = bodiless(tag) {
                        bytes::Buf::advance(buf, 5);
                        self.handle_message(msg);
                        continue;
                    }
                }
                // A short CommandComplete (one per row in a bulk load): decoded from the
                // read buffer in place.
                Some((b'C', len @ 5..=40)) => {
                    let total = usize::try_from(len).unwrap_or(0) + 1;
                    if let Some(body) = buf.get(5..total) {
                        match CommandComplete::decode_slice(body) {
                            Ok(c) => {
                                bytes::Buf::advance(buf, total);
                                self.handle_message(BackendMessage::CommandComplete(c));
                                continue;
                            }
                            Err(e) => {
                                self.fail(Error::decode(e));
                                return;
                            }
                        }
                    }
                }
                _ => {}
            }
            if self.quirks.backend_copy_fail_messages {
                // iris-pgwire answers stray copy messages with a backend 'f' ("CopyData
                // processing failed"): not a response to anything; dropped.
                if let Some((b'f', _)) = crate::protocol::framing::peek_header(buf) {
                    let limits = &self.limits;
                    match crate::protocol::framing::split_frame(buf, |t| limits.backend_cap(t)) {
                        Ok(Some(_)) => continue,
                        Ok(None) => return,
                        Err(e) => {
                            self.fail(Error::decode(e));
                            return;
                        }
                    }
                }
            }
            match decode_backend(buf, &self.limits) {
                Ok(Some(msg)) => self.handle_message(msg),
                Ok(None) => return,
                Err(e) => {
                    self.fail(Error::decode(e));
                    return;
                }
            }
        }
    }

    /// The server closed the connection.
    pub fn handle_eof(&mut self) {
        if !self.is_broken() {
            let err = Error::closed("the server closed the connection");
            let err = match self.unconfirmed_protocol() {
                Some(v) => err.with_note(protocol_hint(v)),
                None => err,
            };
            self.fail(err);
        }
    }

    /// The protocol version requested, while startup waits for the peer's first answer
    /// to a request above 3.0 (a peer that closes the connection now may not know it).
    fn unconfirmed_protocol(&self) -> Option<ProtocolVersion> {
        match (&self.phase, &self.startup_ctx) {
            (Phase::Startup(s), Some(ctx))
                if matches!(**s, Startup::ExpectAuth) && ctx.version_unconfirmed() =>
            {
                Some(ctx.protocol.max)
            }
            _ => None,
        }
    }

    /// Handles one decoded message.
    #[inline]
    pub fn handle_message(&mut self, msg: BackendMessage) {
        match msg {
            BackendMessage::NoticeResponse(f) => {
                if !self.is_broken() {
                    self.events
                        .push_back(Event::Notice(Box::new(DbError::from_fields(&f))));
                }
                return;
            }
            BackendMessage::NotificationResponse(n) => {
                if !self.is_broken() {
                    self.events.push_back(Event::Notification(n));
                }
                return;
            }
            BackendMessage::ParameterStatus(p) => {
                if !self.is_broken() {
                    self.handle_parameter_status(p.name(), p.value());
                }
                return;
            }
            _ => {}
        }
        match self.phase {
            Phase::Ready => {
                if let Err(e) = self.dispatch(msg) {
                    self.fail(e);
                }
            }
            Phase::Broken(_) => {}
            Phase::Startup(_) => {
                let phase = std::mem::replace(&mut self.phase, Phase::Ready);
                if let Phase::Startup(state) = phase {
                    self.handle_startup(*state, msg);
                }
            }
        }
    }

    fn handle_parameter_status(&mut self, name: &str, value: &str) {
        // Text decoding assumes UTF-8; a server that switches encoding would hand us
        // mojibake, so the connection is broken instead (checklist E2).
        if name == "client_encoding" && !value.eq_ignore_ascii_case("UTF8") {
            self.fail(Error::protocol(format!(
                "server switched client_encoding to {value:?}; only UTF8 is supported"
            )));
            return;
        }
        self.params.insert(name.to_string(), value.to_string());
        if matches!(self.phase, Phase::Ready) {
            self.events
                .push_back(Event::ParameterStatus(name.to_string(), value.to_string()));
        }
    }

    fn handle_startup(&mut self, state: Startup, msg: BackendMessage) {
        let Some(ctx) = self.startup_ctx.as_mut() else {
            self.fail(Error::protocol("startup state without context"));
            return;
        };
        match state.handle(msg, ctx, &mut self.out) {
            Ok(Step::Next(s)) => self.phase = Phase::Startup(Box::new(s)),
            Ok(Step::Negotiated(v)) => {
                ctx.version = v;
                ctx.negotiated = true;
                self.protocol = v;
                self.phase = Phase::Startup(Box::new(Startup::ExpectAuth));
            }
            Ok(Step::NeedProof(p)) => {
                self.pending_proof = Some(p);
                self.phase = Phase::Startup(Box::new(Startup::ComputingProof));
            }
            Ok(Step::Done(key)) => {
                self.key = key;
                self.startup_ctx = None;
                self.quirks = self
                    .quirks_forced
                    .unwrap_or_else(|| Quirks::detect(self.parameter("server_version")));
                self.phase = Phase::Ready;
            }
            Err(e) => self.fail(e),
        }
    }

    /// Breaks the session: every pending item fails once with `err`, then nothing more is
    /// delivered.
    fn fail(&mut self, err: Error) {
        if self.is_broken() {
            return;
        }
        let mut last = None;
        while let Some(e) = self.pop() {
            let item = e.item();
            if last != Some(item) {
                self.events.push_back(Event::Failed(item, err.clone()));
                last = Some(item);
            }
        }
        self.pending_syncs = 0;
        self.open_window = false;
        self.copy = Copy::None;
        self.startup_ctx = None;
        self.pending_proof = None;
        self.phase = Phase::Broken(err);
    }

    /// Takes the front single expectation (a run gives up its next BindComplete or
    /// Execute and stays queued while rows remain).
    #[inline]
    fn pop(&mut self) -> Option<Expect> {
        let front = self.expect.front_mut()?;
        let head = front.head();
        match front.after_head() {
            Some(rest) => *front = rest,
            None => {
                self.expect.pop_front();
            }
        }
        if head.is_sync_point() {
            self.pending_syncs = self.pending_syncs.saturating_sub(1);
        }
        Some(head)
    }

    /// The single expectation after the front one (runs expanded).
    fn second(&self) -> Option<Expect> {
        let front = self.expect.front()?;
        match front.after_head() {
            Some(rest) => Some(rest.head()),
            None => self.expect.get(1).map(Expect::head),
        }
    }

    /// Records that `n` rows of a run from `first` completed: extends the last event when
    /// it is the run just before, so a whole read of bulk answers becomes one event.
    #[inline]
    fn complete_run_rows(&mut self, first: Item, n: u64) {
        match self.events.back_mut() {
            Some(Event::CompleteRun(f, k)) if f.checked_add(*k) == Some(first) => *k += n,
            _ => self.events.push_back(Event::CompleteRun(first, n)),
        }
    }

    /// The bulk fast path: while the front is a run and the next frames are the
    /// BindComplete and plain CommandComplete pairs it expects, consumes them in one pass
    /// over the read buffer, without decoding them into messages, and reports the rows
    /// as one [`Event::CompleteRun`]. Stops (consuming nothing more) at anything else,
    /// which then takes the general path. Returns whether it consumed anything.
    #[inline]
    fn run_fast_path(&mut self, buf: &mut BytesMut) -> bool {
        /// BindComplete: `2`, length 4.
        const BIND_COMPLETE: [u8; 5] = [b'2', 0, 0, 0, 4];
        let Some(&Expect::BindExecuteRun {
            first,
            count,
            mut bound,
        }) = self.expect.front()
        else {
            return false;
        };
        if self.mode != Mode::Normal || self.copy != Copy::None {
            return false;
        }
        let data: &[u8] = buf;
        let mut pos = 0usize;
        let mut done = 0u64;
        // Where the BindComplete of the row being read began, when it is in this buffer.
        let mut row_start: Option<usize> = None;
        while done < count {
            let Some(rest) = data.get(pos..) else { break };
            if !bound {
                if let Some(n) = self.run_answer.matches(rest) {
                    pos += n;
                    done += 1;
                    continue;
                }
                if !rest.starts_with(&BIND_COMPLETE) {
                    break;
                }
                row_start = Some(pos);
                pos += BIND_COMPLETE.len();
                bound = true;
                continue;
            }
            // A short CommandComplete whose tag is ASCII without NUL, ending in its NUL:
            // exactly what decoding would accept (anything else goes the long way, and
            // fails there if it must).
            let Some((b'C', len @ 5..=40)) = crate::protocol::framing::peek_header(rest) else {
                break;
            };
            let total = usize::try_from(len).unwrap_or(0) + 1;
            let ok = rest.get(5..total).is_some_and(|body| {
                body.split_last().is_some_and(|(&nul, tag)| {
                    nul == 0 && tag.iter().all(|&b| b.wrapping_sub(1) < 0x7f)
                })
            });
            if !ok {
                break;
            }
            // A whole answer (BindComplete just before this CommandComplete) is kept, so
            // that the rows after it are matched in one comparison.
            if let Some(answer) = row_start.and_then(|start| data.get(start..pos + total)) {
                self.run_answer.remember(answer);
            }
            pos += total;
            done += 1;
            bound = false;
            row_start = None;
        }
        if pos == 0 {
            return false;
        }
        bytes::Buf::advance(buf, pos);
        if done == count {
            self.expect.pop_front();
        } else if let Some(front) = self.expect.front_mut() {
            *front = Expect::BindExecuteRun {
                first: first + done,
                count: count - done,
                bound,
            };
        }
        if done > 0 {
            // As the general path does at CommandComplete: the next result has no shape
            // until it is described.
            self.shape = None;
            self.complete_run_rows(first, done);
        }
        true
    }

    #[inline]
    fn push(&mut self, e: Expect) {
        if e.is_sync_point() {
            self.pending_syncs += 1;
        }
        self.expect.push_back(e);
    }

    /// Whether the exchange in flight has failed and only its ReadyForQuery is left to
    /// come (see [`Quirks::ready_may_not_follow_error`]).
    pub fn awaiting_ready_after_error(&self) -> bool {
        self.unsettled_error.is_some()
            && self.copy == Copy::None
            && self
                .expect
                .front()
                .is_some_and(|e| e.head().is_sync_point())
    }

    /// Ends an exchange whose ReadyForQuery did not follow its error within the driver's
    /// grace, as if it had come (the transaction status is the one last known). Only for
    /// servers whose profile says it may never come.
    pub fn assume_ready_after_error(&mut self) {
        if !self.awaiting_ready_after_error() || !self.quirks.ready_may_not_follow_error {
            return;
        }
        if let Some(head) = self.pop() {
            let status = self.tx_status;
            self.ready(head.item(), status);
        }
    }

    /// The server's error for the exchange in flight, if one arrived and its
    /// ReadyForQuery has not.
    pub fn take_unsettled_error(&mut self) -> Option<Error> {
        self.unsettled_error.take()
    }

    /// What the driver should wait for now: a failed exchange waits a short grace for its
    /// ReadyForQuery ([`READY_AFTER_ERROR_GRACE`]); everything else waits for IO.
    pub(crate) fn wait(&self) -> Wait {
        if self.awaiting_ready_after_error() {
            Wait::Grace(READY_AFTER_ERROR_GRACE)
        } else {
            Wait::Io
        }
    }

    /// The grace of [`Wait::Grace`] passed without the ReadyForQuery. On a server whose
    /// profile says it may never come (iris-pgwire legacy) the exchange settles without
    /// it. Elsewhere, when `report` (the caller is an operation, not a drain) and every
    /// message is written, so that the delay is the server's, the server's error is
    /// returned for the operation to complete with at once; re-synchronising then becomes
    /// the next operation's first work. `None`: keep waiting.
    pub(crate) fn grace_expired(&mut self, report: bool) -> Option<Error> {
        if self.quirks.ready_may_not_follow_error {
            self.assume_ready_after_error();
            None
        } else if report && !self.has_outbound() {
            self.take_unsettled_error()
        } else {
            None
        }
    }

    /// A new request number (increasing; see [`Item`]).
    #[inline]
    pub(crate) fn item(&mut self) -> Item {
        let i = self.next_item;
        self.next_item += 1;
        i
    }

    /// Settings of the caller's that the flows consult beside the server's quirks:
    /// `prefer_text` and the declared iris-pgwire release.
    pub(crate) fn set_client_options(
        &mut self,
        prefer_text: bool,
        iris_release: Option<IrisPgwireVersion>,
    ) {
        self.prefer_text = prefer_text;
        self.iris_release = iris_release;
    }

    /// Whether parameters and results use text format only (the server's dialect or the
    /// caller's `prefer_text`).
    #[inline]
    pub(crate) fn text_only(&self) -> bool {
        self.quirks.text_only || self.prefer_text
    }

    /// What the server's iris-pgwire release can do (see [`crate::iris::capabilities`]);
    /// `None` on PostgreSQL.
    pub(crate) fn iris_capabilities(&self) -> Option<Capabilities> {
        self.quirks
            .is_iris_like()
            .then(|| Capabilities::of(self.iris_release))
    }

    /// The declared iris-pgwire release in words, for errors.
    pub(crate) fn iris_release_words(&self) -> String {
        crate::iris::capabilities::release_words(self.iris_release)
    }

    /// The words for the server's release when it cannot roll back (an iris-pgwire
    /// release before 1.2.29, or one not declared; see [`crate::iris::capabilities`]):
    /// there a transaction is refused unless the caller opts in, and a ROLLBACK is never
    /// reported as a success. `None` where rollback works.
    pub(crate) fn cannot_roll_back(&self) -> Option<String> {
        let caps = self.iris_capabilities()?;
        (!caps.rollback).then(|| self.iris_release_words())
    }

    /// Why a CancelRequest cannot cancel a query on this server (the words for the
    /// token's refusal); `None` where it can. On iris-pgwire, by the declared release:
    /// ignored, or the connection closed instead (see [`crate::iris::capabilities`]).
    pub(crate) fn cancel_refusal(&self) -> Option<String> {
        let caps = self.iris_capabilities()?;
        let release = self.iris_release_words();
        match caps.cancel {
            crate::iris::CancelEffect::Cancels => None,
            crate::iris::CancelEffect::Ignored => Some(format!(
                "{release} ignores a CancelRequest: the query runs to its end"
            )),
            _ => Some(format!(
                "{release} closes the connection on a CancelRequest instead of cancelling its query"
            )),
        }
    }

    /// Whether a CancelRequest can stop a statement and leave the connection usable, so
    /// that a deadline may cancel and drain instead of closing.
    #[inline]
    pub(crate) fn cancel_keeps_connection(&self) -> bool {
        !self.quirks.cancel_unreliable
    }

    fn ready(&mut self, item: Item, status: TransactionStatus) {
        self.unsettled_error = None;
        // iris-pgwire's byte is `T` only after a bare BEGIN and never `E`.
        let status = if self.quirks.client_side_transaction_state {
            self.client_tx
        } else {
            status
        };
        self.tx_status = status;
        self.shape = None;
        self.copy = Copy::None;
        self.events.push_back(Event::Ready(item, status));
    }

    fn check_row_shape(&self, got: usize) -> Result<(), Error> {
        if self.quirks.lenient_row_shape {
            return Ok(());
        }
        match self.shape {
            None => Err(Error::protocol(
                "server sent a DataRow without a RowDescription",
            )),
            Some(n) if usize::from(n) != got => Err(Error::protocol(format!(
                "DataRow has {got} fields, RowDescription announced {n}"
            ))),
            Some(_) => Ok(()),
        }
    }

    /// The core matcher: one server message against the front expectation.
    fn dispatch(&mut self, msg: BackendMessage) -> Result<(), Error> {
        // COPY OUT data belongs to whichever request started the copy.
        match (&self.copy, &msg) {
            (Copy::Out(i), BackendMessage::CopyData(d)) => {
                self.events.push_back(Event::CopyData(*i, d.data().clone()));
                return Ok(());
            }
            (Copy::Out(i), BackendMessage::CopyDone) => {
                self.events.push_back(Event::CopyDone(*i));
                self.copy = Copy::None;
                return Ok(());
            }
            (Copy::Refused(_), BackendMessage::CopyData(_)) => return Ok(()),
            (Copy::Refused(_), BackendMessage::CopyDone) => return Ok(()),
            _ => {}
        }

        let Some(front) = self.expect.front().map(Expect::head) else {
            return self.dispatch_idle(msg);
        };
        let in_run = matches!(self.expect.front(), Some(Expect::BindExecuteRun { .. }));

        if let Mode::Aborted { failed } = self.mode {
            return match msg {
                BackendMessage::ReadyForQuery(r) => self.finish_aborted_window(failed, r.status()),
                BackendMessage::ErrorResponse(f) => {
                    let err = self.db_error(&f);
                    if err.breaks_connection() {
                        return Err(err);
                    }
                    // A second ERROR while skipping (e.g. a COPY failing at Sync) is
                    // attributed to the failed item; keep waiting for ReadyForQuery.
                    Ok(())
                }
                other => Err(Error::unexpected(
                    "ReadyForQuery (the server skips to Sync after an error)",
                    other.name(),
                )),
            };
        }

        match (front, msg) {
            (Expect::ParseComplete(i), BackendMessage::ParseComplete) => {
                self.pop();
                self.events.push_back(Event::ParseComplete(i));
            }
            (Expect::BindComplete(i), BackendMessage::BindComplete) => {
                self.pop();
                if !in_run {
                    self.events.push_back(Event::BindComplete(i));
                }
            }
            (Expect::ParameterDescription(i), BackendMessage::ParameterDescription(d)) => {
                self.pop();
                self.events.push_back(Event::ParameterDescription(i, d));
            }
            (Expect::RowDescription(i), BackendMessage::RowDescription(d)) => {
                self.pop();
                self.shape = Some(u16::try_from(d.len()).unwrap_or(u16::MAX));
                self.set_next_execute_shape(i, self.shape);
                self.events.push_back(Event::RowDescription(i, d));
            }
            (Expect::RowDescription(i), BackendMessage::NoData) => {
                self.pop();
                self.shape = None;
                self.set_next_execute_shape(i, None);
                self.events.push_back(Event::NoData(i));
            }
            (Expect::Execute { item, columns }, BackendMessage::DataRow(r)) => {
                if self.shape.is_none() {
                    self.shape = columns;
                }
                self.check_row_shape(r.len())?;
                self.events.push_back(Event::Row(item, r));
            }
            (Expect::Execute { item, .. }, BackendMessage::CommandComplete(c)) => {
                self.pop();
                self.shape = None;
                if in_run {
                    self.complete_run_rows(item, 1);
                } else {
                    self.events.push_back(Event::Complete(item, Some(c)));
                }
            }
            (Expect::Execute { item, .. }, BackendMessage::EmptyQueryResponse) => {
                self.pop();
                self.shape = None;
                self.events.push_back(Event::EmptyQuery(item));
            }
            (Expect::Execute { item, .. }, BackendMessage::PortalSuspended) => {
                self.pop();
                self.shape = None;
                self.events.push_back(Event::PortalSuspended(item));
            }
            (Expect::Execute { item, .. }, BackendMessage::RowDescription(d))
                if self.quirks.lenient_row_shape =>
            {
                // iris-pgwire 1.7.3 sends RowDescription from Execute for RETURNING.
                self.shape = Some(u16::try_from(d.len()).unwrap_or(u16::MAX));
                self.events.push_back(Event::RowDescription(item, d));
            }
            (Expect::CloseComplete(i), BackendMessage::CloseComplete) => {
                self.pop();
                self.events.push_back(Event::CloseComplete(i));
            }
            (Expect::SimpleQuery { item, .. }, BackendMessage::RowDescription(d)) => {
                self.shape = Some(u16::try_from(d.len()).unwrap_or(u16::MAX));
                self.events.push_back(Event::RowDescription(item, d));
            }
            (Expect::SimpleQuery { item, .. }, BackendMessage::DataRow(r)) => {
                self.check_row_shape(r.len())?;
                self.events.push_back(Event::Row(item, r));
            }
            (Expect::SimpleQuery { item, .. }, BackendMessage::CommandComplete(c)) => {
                self.shape = None;
                self.events.push_back(Event::Complete(item, Some(c)));
            }
            (Expect::SimpleQuery { item, .. }, BackendMessage::EmptyQueryResponse) => {
                self.events.push_back(Event::EmptyQuery(item));
            }
            (Expect::SimpleQuery { .. }, BackendMessage::ReadyForQuery(_))
                if self.shape.is_some() && !self.quirks.command_complete_may_be_missing =>
            {
                // A RowDescription opened a result (`shape`) that no CommandComplete (or
                // error) closed. > "The response to a SELECT query … normally consists
                // of RowDescription, zero or more DataRow messages, and then
                // CommandComplete" (Protocol, *Simple Query*): ending the Query here
                // would hand back the partial rows as a complete result.
                return Err(Error::protocol(
                    "server sent ReadyForQuery in the middle of a result (no CommandComplete)",
                ));
            }
            (Expect::SimpleQuery { item, .. }, BackendMessage::ReadyForQuery(r)) => {
                self.pop();
                self.ready(item, r.status());
            }
            (
                Expect::SimpleQuery { item, .. } | Expect::Execute { item, .. },
                msg @ (BackendMessage::CopyInResponse(_)
                | BackendMessage::CopyOutResponse(_)
                | BackendMessage::CopyBothResponse(_)),
            ) => {
                // COPY is only served through a simple Query started for it (iris-pgwire
                // supports nothing else, and it keeps Sync semantics out of copy mode).
                let allow = matches!(
                    front,
                    Expect::SimpleQuery {
                        allow_copy: true,
                        ..
                    }
                );
                self.start_copy(item, allow, msg)?;
            }
            (Expect::Sync(i), BackendMessage::ReadyForQuery(r)) => {
                self.pop();
                self.ready(i, r.status());
            }
            (front, BackendMessage::ErrorResponse(f)) => {
                let err = self.db_error(&f);
                if err.breaks_connection() {
                    return Err(err);
                }
                if matches!(self.copy, Copy::In(_) | Copy::Out(_) | Copy::Refused(_)) {
                    self.copy = Copy::None;
                }
                self.shape = None;
                let item = front.item();
                self.unsettled_error.get_or_insert_with(|| err.clone());
                self.events.push_back(Event::Failed(item, err));
                match front {
                    // Errors reported at Sync (deferred constraints, iris-pgwire's
                    // deferred DML) and simple-query errors: ReadyForQuery still follows.
                    Expect::Sync(_) | Expect::SimpleQuery { .. } => {}
                    _ if self.quirks.no_skip_after_error => {
                        // The error answers this one message; the rest still run.
                        self.pop();
                    }
                    _ => {
                        // > "When an error is detected while processing any extended-query
                        // > message, the backend issues ErrorResponse, then reads and
                        // > discards messages until a Sync is reached" (Protocol,
                        // > *Extended Query*)
                        self.mode = Mode::Aborted { failed: item };
                        self.last_aborted = Some(item);
                    }
                }
            }
            (Expect::Execute { item, .. }, msg)
                if self.quirks.command_complete_may_be_missing && self.next_accepts(&msg) =>
            {
                // iris-pgwire can finish a statement without CommandComplete: the next
                // expectation's message completes it with an unknown row count.
                self.pop();
                self.shape = None;
                self.events.push_back(Event::Complete(item, None));
                return self.dispatch(msg);
            }
            (front, msg) => return Err(Error::unexpected(front.describe(), msg.name())),
        }
        Ok(())
    }

    /// Whether the expectation after the front one would accept `msg`.
    fn next_accepts(&self, msg: &BackendMessage) -> bool {
        let Some(next) = self.second() else {
            return false;
        };
        matches!(
            (next, msg),
            (Expect::ParseComplete(_), BackendMessage::ParseComplete)
                | (Expect::BindComplete(_), BackendMessage::BindComplete)
                | (Expect::CloseComplete(_), BackendMessage::CloseComplete)
                | (Expect::Sync(_), BackendMessage::ReadyForQuery(_))
                | (
                    Expect::ParameterDescription(_),
                    BackendMessage::ParameterDescription(_)
                )
                | (
                    Expect::RowDescription(_),
                    BackendMessage::RowDescription(_) | BackendMessage::NoData
                )
        )
    }

    fn set_next_execute_shape(&mut self, item: Item, shape: Option<u16>) {
        for e in self.expect.iter_mut() {
            match e {
                Expect::Execute { item: i, columns } if *i == item => {
                    *columns = shape;
                    return;
                }
                e if e.item() != item => return,
                _ => {}
            }
        }
    }

    fn start_copy(&mut self, item: Item, allow: bool, msg: BackendMessage) -> Result<(), Error> {
        match msg {
            BackendMessage::CopyInResponse(r) if allow => {
                self.copy = Copy::In(item);
                self.events.push_back(Event::CopyIn(item, r));
            }
            BackendMessage::CopyOutResponse(r) if allow => {
                self.copy = Copy::Out(item);
                self.events.push_back(Event::CopyOut(item, r));
            }
            other => {
                // A COPY nobody asked for (e.g. `COPY .. FROM STDIN` through simple_query),
                // or CopyBoth (replication), which this client does not speak: refuse it
                // with CopyFail so the server ends it with an error and ReadyForQuery.
                let what = other.name();
                frontend::write_copy_fail(
                    &mut self.out,
                    "COPY is not supported by this call; use copy_in/copy_out",
                )
                .map_err(Error::encode)?;
                self.copy = Copy::Refused(item);
                self.events.push_back(Event::Failed(
                    item,
                    Error::unsupported(format!(
                        "server started a COPY ({what}) that this call cannot serve; use copy_in/copy_out"
                    )),
                ));
            }
        }
        Ok(())
    }

    fn dispatch_idle(&mut self, msg: BackendMessage) -> Result<(), Error> {
        match msg {
            // The server explaining why it is closing (admin shutdown, idle timeout).
            BackendMessage::ErrorResponse(f) => Err(self.db_error(&f)),
            BackendMessage::ReadyForQuery(_) if self.quirks.surplus_ready_tolerated => Ok(()),
            BackendMessage::ReadyForQuery(_) => Err(Error::protocol(
                "server sent more ReadyForQuery messages than Syncs",
            )),
            other => Err(Error::unexpected(
                "nothing (no request pending)",
                other.name(),
            )),
        }
    }

    fn finish_aborted_window(
        &mut self,
        failed: Item,
        status: TransactionStatus,
    ) -> Result<(), Error> {
        loop {
            match self.pop() {
                Some(Expect::Sync(w)) => {
                    self.mode = Mode::Normal;
                    self.ready(w, status);
                    return Ok(());
                }
                Some(Expect::SimpleQuery { item, .. }) => {
                    // Cannot happen: simple queries never enter Aborted. Treat the RFQ as
                    // its end, as the server does.
                    self.mode = Mode::Normal;
                    self.ready(item, status);
                    return Ok(());
                }
                Some(e) => {
                    let item = e.item();
                    if item != failed && self.last_aborted != Some(item) {
                        self.events.push_back(Event::Aborted(item));
                        self.last_aborted = Some(item);
                    }
                }
                None => {
                    return Err(Error::protocol(
                        "server sent ReadyForQuery but no Sync was pending",
                    ))
                }
            }
        }
    }

    // ----- commands -----------------------------------------------------------------------

    #[inline]
    fn check_commands(&self) -> Result<(), Error> {
        match &self.phase {
            Phase::Ready => Ok(()),
            Phase::Broken(e) => Err(Error::broken(e)),
            Phase::Startup(_) => Err(Error::protocol("startup has not finished")),
        }
    }

    /// Encodes a simple Query. Its results, then `Ready(item)`, follow as events.
    /// `allow_copy` lets a COPY sub-protocol start (else it is refused with CopyFail).
    pub fn start_simple_query(
        &mut self,
        item: Item,
        sql: &str,
        allow_copy: bool,
    ) -> Result<(), Error> {
        self.check_commands()?;
        self.note_statement_sql(sql);
        if self.quirks.empty_query_unanswered && is_empty_query(sql) {
            // iris-pgwire answers nothing at all to an empty query: answer it here.
            self.events.push_back(Event::EmptyQuery(item));
            self.events.push_back(Event::Ready(item, self.tx_status));
            return Ok(());
        }
        frontend::write_query(&mut self.out, sql).map_err(Error::encode)?;
        self.push(Expect::SimpleQuery { item, allow_copy });
        Ok(())
    }

    /// Encodes Parse.
    pub fn push_parse(
        &mut self,
        item: Item,
        name: &str,
        sql: &str,
        types: &[Oid],
    ) -> Result<(), Error> {
        self.check_commands()?;
        frontend::write_parse(&mut self.out, name, sql, types).map_err(Error::encode)?;
        self.open_window = true;
        self.push(Expect::ParseComplete(item));
        Ok(())
    }

    /// Encodes Describe of a statement (ParameterDescription, then RowDescription/NoData).
    pub fn push_describe_statement(&mut self, item: Item, name: &str) -> Result<(), Error> {
        self.check_commands()?;
        frontend::write_describe(&mut self.out, Target::Statement, name).map_err(Error::encode)?;
        self.open_window = true;
        self.push(Expect::ParameterDescription(item));
        self.push(Expect::RowDescription(item));
        Ok(())
    }

    /// Encodes Describe of a portal (RowDescription/NoData).
    pub fn push_describe_portal(&mut self, item: Item, portal: &str) -> Result<(), Error> {
        self.check_commands()?;
        frontend::write_describe(&mut self.out, Target::Portal, portal).map_err(Error::encode)?;
        self.open_window = true;
        self.push(Expect::RowDescription(item));
        Ok(())
    }

    /// Encodes a Bind whose values `write` adds through the [`BindWriter`]. On error
    /// nothing is written and no expectation is pushed.
    pub fn push_bind<E, F>(
        &mut self,
        item: Item,
        portal: &str,
        statement: &str,
        param_formats: &[i16],
        result_formats: &[i16],
        write: F,
    ) -> Result<(), E>
    where
        E: From<Error>,
        F: FnOnce(&mut BindWriter<'_>) -> Result<(), E>,
    {
        self.check_commands()?;
        let mut w = BindWriter::begin(&mut self.out, portal, statement, param_formats)
            .map_err(|e| E::from(Error::encode(e)))?;
        write(&mut w)?;
        w.finish(result_formats)
            .map_err(|e| E::from(Error::encode(e)))?;
        self.open_window = true;
        self.push(Expect::BindComplete(item));
        Ok(())
    }

    /// Encodes a Bind from a pre-encoded prefix (the bulk path; see [`BindPrefix`]).
    #[inline]
    pub fn push_bind_prefixed<E, F>(
        &mut self,
        item: Item,
        prefix: &BindPrefix,
        result_formats: &[i16],
        write: F,
    ) -> Result<(), E>
    where
        E: From<Error>,
        F: FnOnce(&mut BindWriter<'_>) -> Result<(), E>,
    {
        self.check_commands()?;
        let mut w = BindWriter::begin_with(&mut self.out, prefix);
        write(&mut w)?;
        w.finish(result_formats)
            .map_err(|e| E::from(Error::encode(e)))?;
        self.open_window = true;
        self.push(Expect::BindComplete(item));
        Ok(())
    }

    /// Encodes Bind (from a pre-encoded prefix, text or binary values as the prefix says,
    /// binary-free results) and Execute of the unnamed portal for one bulk row, queued as
    /// part of a [`Expect::BindExecuteRun`] when `item` follows the last queued row. On
    /// error nothing is written and nothing is queued.
    #[inline]
    pub fn push_bind_execute_run<E, F>(
        &mut self,
        item: Item,
        prefix: &BindPrefix,
        write: F,
    ) -> Result<(), E>
    where
        E: From<Error>,
        F: FnOnce(&mut BindWriter<'_>) -> Result<(), E>,
    {
        self.check_commands()?;
        let mut w = BindWriter::begin_with(&mut self.out, prefix);
        write(&mut w)?;
        w.finish_execute_all()
            .map_err(|e| E::from(Error::encode(e)))?;
        if let Some(Expect::BindExecuteRun { first, count, .. }) = self.expect.back_mut() {
            if first.checked_add(*count) == Some(item) {
                *count += 1;
                return Ok(());
            }
        }
        // Only a new run marks the window open: a run is extended only while it is the
        // last entry, i.e. while no Sync has followed it (no work per bulk row).
        self.open_window = true;
        self.expect.push_back(Expect::BindExecuteRun {
            first: item,
            count: 1,
            bound: false,
        });
        Ok(())
    }

    /// Encodes Execute. `columns` is the row shape when already known from a Describe.
    #[inline]
    pub fn push_execute(
        &mut self,
        item: Item,
        portal: &str,
        max_rows: i32,
        columns: Option<u16>,
    ) -> Result<(), Error> {
        self.check_commands()?;
        frontend::write_execute(&mut self.out, portal, max_rows).map_err(Error::encode)?;
        self.open_window = true;
        self.push(Expect::Execute { item, columns });
        Ok(())
    }

    /// Encodes Close of a statement or portal.
    pub fn push_close(&mut self, item: Item, target: Target, name: &str) -> Result<(), Error> {
        self.check_commands()?;
        frontend::write_close(&mut self.out, target, name).map_err(Error::encode)?;
        self.open_window = true;
        self.push(Expect::CloseComplete(item));
        Ok(())
    }

    /// Encodes Sync: ends a sync window; `Ready(item)` follows.
    pub fn push_sync(&mut self, item: Item) -> Result<(), Error> {
        self.check_commands()?;
        frontend::write_sync(&mut self.out);
        self.open_window = false;
        self.push(Expect::Sync(item));
        Ok(())
    }

    /// Encodes Flush: asks the server to send what it has, without ending the window.
    pub fn push_flush(&mut self) -> Result<(), Error> {
        self.check_commands()?;
        frontend::write_flush(&mut self.out);
        Ok(())
    }

    fn check_copy_in(&self) -> Result<(), Error> {
        self.check_commands()?;
        if !self.in_copy_in() {
            return Err(Error::protocol("not in COPY IN mode"));
        }
        Ok(())
    }

    /// Sends COPY data (only while the server is in copy-in mode).
    pub fn copy_data(&mut self, data: &[u8]) -> Result<(), Error> {
        self.check_copy_in()?;
        frontend::write_copy_data(&mut self.out, data).map_err(Error::encode)
    }

    /// Ends COPY IN successfully.
    pub fn copy_done(&mut self) -> Result<(), Error> {
        self.check_copy_in()?;
        frontend::write_copy_done(&mut self.out);
        self.copy = Copy::None;
        Ok(())
    }

    /// Aborts COPY IN: the server answers with an error and ReadyForQuery.
    pub fn copy_fail(&mut self, message: &str) -> Result<(), Error> {
        self.check_copy_in()?;
        let msg: String = message.chars().filter(|&c| c != '\0').collect();
        frontend::write_copy_fail(&mut self.out, &msg).map_err(Error::encode)?;
        self.copy = Copy::None;
        Ok(())
    }

    /// Prepares to drain after an abandoned operation: aborts a COPY IN in progress and
    /// makes sure a sync point is queued, so that every pending expectation will be
    /// answered and no sync window stays open (even one whose responses have all
    /// arrived: [`in_open_window`](Self::in_open_window)). `item` is used for the Sync
    /// if one is added.
    pub fn prepare_drain(&mut self, item: Item) -> Result<(), Error> {
        self.check_commands()?;
        if self.in_copy_in() {
            self.copy_fail("operation cancelled by the client")?;
        }
        if self.open_window || self.expect.back().is_some_and(|e| !e.is_sync_point()) {
            self.push_sync(item)?;
        }
        Ok(())
    }

    /// Drops events queued for earlier operations, keeping async ones.
    pub fn discard_stale_events(&mut self) -> Vec<Event> {
        let mut keep = Vec::new();
        for ev in self.events.drain(..) {
            if matches!(
                ev,
                Event::Notice(_) | Event::Notification(_) | Event::ParameterStatus(..)
            ) {
                keep.push(ev);
            }
        }
        keep
    }

    /// Encodes Terminate (the driver closes the socket after writing it).
    pub fn terminate(&mut self) {
        frontend::write_terminate(&mut self.out);
    }
}

/// The message for a tag whose body is empty by definition.
fn bodiless(tag: u8) -> Option<BackendMessage> {
    Some(match tag {
        b'1' => BackendMessage::ParseComplete,
        b'2' => BackendMessage::BindComplete,
        b'3' => BackendMessage::CloseComplete,
        b'n' => BackendMessage::NoData,
        b'I' => BackendMessage::EmptyQueryResponse,
        b's' => BackendMessage::PortalSuspended,
        b'c' => BackendMessage::CopyDone,
        _ => return None,
    })
}

/// Whether a query string has no statement in it (only whitespace and semicolons).
pub(crate) fn is_empty_query(sql: &str) -> bool {
    sql.chars().all(|c| c.is_whitespace() || c == ';')
}
