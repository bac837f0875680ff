//! Tracing (feature `tracing`): one span per operation, with the OpenTelemetry database
//! attributes as fields. This module owns the feature gate: without the feature every type
//! here is zero-sized and every function an empty `#[inline]` one, so call sites carry no
//! `#[cfg]` and the driver's code paths stay as they are.
//!
//! # Spans
//!
//! Target `pgline`. The operation spans are at INFO, pipeline windows at DEBUG.
//!
//! | span | covers | fields besides the common ones |
//! |---|---|---|
//! | `pgline.connect` | `Connection::connect` (every attempt, TLS, authentication) | `pgline.auth.method`, `pgline.tls` |
//! | `pgline.pool.acquire` | `Pool::get` (waiting, health checks, connecting) | — |
//! | `pgline.prepare` | every Parse + Describe round trip, also a statement-cache miss inside another operation | — |
//! | `pgline.simple_query` | `simple_query`, `batch_execute`, and the BEGIN/COMMIT/ROLLBACK pgline sends | `db.response.returned_rows` |
//! | `pgline.query` | `query`, `query_one`, `query_opt`, `query_unnamed` | `db.response.returned_rows` |
//! | `pgline.query_stream` | `query_stream` until the stream is dropped | `db.response.returned_rows` |
//! | `pgline.execute` | `execute` | `pgline.rows_affected` |
//! | `pgline.execute_many` | `execute_many*`, `resume_execute_many` | `db.operation.batch.size` (rows read), `pgline.rows_done`, `pgline.rows_failed`, `pgline.rows_skipped`, `pgline.rows_committed` |
//! | `pgline.load` | `load` (its COPY or `execute_many` is a child) | `db.collection.name`, `pgline.load.method` and the `execute_many` counts |
//! | `pgline.copy_in` | `copy_in` until `finish`, `abort` or drop | `pgline.rows_affected` |
//! | `pgline.copy_out` | `copy_out` until the end of the data or drop | `db.response.returned_rows` |
//! | `pgline.pipeline` | `pipeline` until `finish` or drop | `db.operation.batch.size` (statements) |
//! | `pgline.pipeline_window` | one sync window of `execute_many` or of a pipeline: from its Sync being queued to its ReadyForQuery (DEBUG) | `db.operation.batch.size` (rows or statements) |
//!
//! Common fields: `db.system.name` = `db.system` = `"postgresql"` (the current name and
//! the one older collectors know; the wire protocol is PostgreSQL's also when the server
//! is iris-pgwire), `server.address`, `server.port`, `db.namespace` (the database: the
//! configured one, else the user name, as the server defaults it), `otel.kind` =
//! `"client"` (read by `tracing-opentelemetry`). On failure: `error.type` (the SQLSTATE for
//! a server error, else the kind: `timeout`, `io`, `closed`, `protocol`, `auth`, `tls`,
//! `pool_timeout`, ...), `db.response.status_code` (the SQLSTATE, server errors only) and
//! `otel.status_code` = `"ERROR"`.
//!
//! `db.operation.name` is the first keyword of the SQL (`SELECT`, `INSERT`, `COPY`, ...,
//! from a fixed list; comments and parentheses before it are skipped), prefixed with
//! `BATCH ` for `execute_many` as the conventions ask for batches. For a simple query
//! holding several statements it names the first one. The pgline operation is the span's
//! name.
//!
//! `pgline.auth.method` uses libpq's `require_auth` names: `none` (no password exchange:
//! trust, peer, or a client certificate), `password` (cleartext), `md5`, `scram-sha-256`,
//! and `scram-sha-256-plus` when SCRAM bound the TLS channel. It is read from the
//! server's authentication request and the client's SASL mechanism as they pass the
//! driver during startup: the session does not record it.
//!
//! # What is never recorded
//!
//! Parameter values, row contents, user names, passwords, and error messages (the
//! server's message can quote the offending value: `invalid input syntax for type
//! integer: "..."`); only SQLSTATEs and counts. The SQL text (`db.query.text`) is
//! recorded only after [`Connection::trace_sql_text`](crate::Connection::trace_sql_text)
//! opts in, per connection: SQL may carry literals the application inlined. An explicit
//! switch was chosen over "record at TRACE level", because turning a whole process to
//! TRACE while debugging something else must not start exporting SQL, and over a
//! process-wide switch, because one library in a process must not decide it for another's
//! connections. Pools set it in their `after_connect` hook.
//!
//! # Cost
//!
//! A span whose level is filtered out costs a cached interest check; its fields are not
//! evaluated. Nothing is recorded per row: `execute_many` has one span per call and one per
//! sync window (`sync_every` rows, 4,096 by default), and a row stream counts rows in an
//! integer it records once at the end.

use std::future::Future;

use crate::error::Error;

pub(crate) use imp::{ConnTrace, Count, Span};

/// The operations that get a span; each names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    SimpleQuery,
    Prepare,
    Query,
    QueryStream,
    Execute,
    ExecuteMany,
    Load,
    CopyIn,
    CopyOut,
    Pipeline,
}

/// What a successful operation records on its span.
pub(crate) trait Outcome {
    fn record_on(&self, span: &Span);
}

impl Outcome for crate::Statement {
    fn record_on(&self, _: &Span) {}
}

impl Outcome for Vec<crate::Row> {
    #[inline]
    fn record_on(&self, span: &Span) {
        span.returned_rows(self.len() as u64);
    }
}

/// Rows affected (`execute`).
impl Outcome for Option<u64> {
    #[inline]
    fn record_on(&self, span: &Span) {
        span.rows_affected(*self);
    }
}

/// Rows copied (COPY IN).
impl Outcome for u64 {
    #[inline]
    fn record_on(&self, span: &Span) {
        span.rows_affected(Some(*self));
    }
}

impl Span {
    /// Records the outcome of an operation: what it returned, or its error.
    #[inline]
    pub(crate) fn finish<T: Outcome>(&self, r: &Result<T, Error>) {
        match r {
            Ok(v) => v.record_on(self),
            Err(e) => self.error(e),
        }
    }

    /// Records the error of an operation that failed; a success records nothing.
    #[inline]
    pub(crate) fn error_of<T>(&self, r: &Result<T, Error>) {
        if let Err(e) = r {
            self.error(e);
        }
    }

    /// Runs `f` inside this span (entered on every poll, never across an await).
    #[inline]
    pub(crate) fn instrument<F: Future>(&self, f: F) -> imp::Instrumented<F> {
        imp::instrument(self, f)
    }
}

/// The first keyword of `sql`, if it is one of the statement keywords below, and the
/// batch form of it. Leading whitespace, comments and parentheses are skipped. Nothing
/// from the text itself is returned: only these constants.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
fn operation_name(sql: &str, batch: bool) -> Option<&'static str> {
    /// `(keyword, its name for a batch of it)`.
    macro_rules! keywords {
        ($($k:ident),* $(,)?) => {
            &[$((stringify!($k), concat!("BATCH ", stringify!($k)))),*]
        };
    }
    const KEYWORDS: &[(&str, &str)] = keywords!(
        SELECT, INSERT, UPDATE, DELETE, MERGE, COPY, WITH, VALUES, TABLE, CALL, DO, EXPLAIN,
        CREATE, ALTER, DROP, TRUNCATE, GRANT, REVOKE, COMMENT, BEGIN, START, COMMIT, END, ROLLBACK,
        ABORT, SAVEPOINT, RELEASE, PREPARE, EXECUTE, DEALLOCATE, DISCARD, SET, RESET, SHOW, LISTEN,
        UNLISTEN, NOTIFY, LOCK, DECLARE, FETCH, MOVE, CLOSE, VACUUM, ANALYZE, CLUSTER, REINDEX,
        REFRESH, CHECKPOINT
    );
    let word = first_word(sql)?;
    KEYWORDS
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(word))
        .map(|&(k, b)| if batch { b } else { k })
}

/// The leading run of ASCII letters after whitespace, `--` and (nested) `/* */`
/// comments and opening parentheses.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
fn first_word(sql: &str) -> Option<&str> {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, after)| after);
        } else if rest.starts_with("/*") {
            // PostgreSQL's block comments nest.
            let mut depth = 0usize;
            let mut end = None;
            let bytes = rest.as_bytes();
            let mut i = 0;
            while let Some(pair) = bytes.get(i..i + 2) {
                match pair {
                    b"/*" => {
                        depth += 1;
                        i += 2;
                    }
                    b"*/" => {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            end = Some(i);
                            break;
                        }
                    }
                    _ => i += 1,
                }
            }
            rest = end.and_then(|e| rest.get(e..)).unwrap_or("");
        } else {
            break;
        }
    }
    let len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
    rest.get(..len).filter(|w| !w.is_empty())
}

/// The `error.type` of an error: its SQLSTATE when the server reported one, else its kind.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
fn error_type(e: &Error) -> &str {
    if let Some(code) = e.code() {
        return code;
    }
    type Is = fn(&Error) -> bool;
    let kinds: [(Is, &str); 15] = [
        (Error::is_pool_timeout, "pool_timeout"),
        (Error::is_pool_closed, "pool_closed"),
        (Error::is_timeout, "timeout"),
        (Error::is_closed, "closed"),
        (Error::is_io, "io"),
        (Error::is_protocol, "protocol"),
        (Error::is_auth, "auth"),
        (Error::is_tls, "tls"),
        (Error::is_pipeline_aborted, "pipeline_aborted"),
        (Error::is_conversion, "conversion"),
        (Error::is_encode, "encode"),
        (Error::is_config, "config"),
        (Error::is_unsupported, "unsupported"),
        (Error::is_broken, "broken"),
        (Error::is_row_count, "row_count"),
    ];
    kinds
        .iter()
        .find(|(is, _)| is(e))
        .map_or("_OTHER", |&(_, name)| name)
}

#[cfg(feature = "tracing")]
mod imp {
    use std::collections::VecDeque;
    use std::future::Future;

    use bytes::Bytes;
    use tracing::field::Empty;
    use tracing::Instrument as _;

    use super::{error_type, operation_name, Op};
    use crate::conn::{Config, Item, LoadReport};
    use crate::error::Error;
    use crate::protocol::backend::{Authentication, BackendMessage};
    use crate::protocol::framing::peek_header;
    use crate::protocol::frontend::SaslInitialResponse;

    pub(crate) type Instrumented<F> = tracing::instrument::Instrumented<F>;

    pub(crate) fn instrument<F: Future>(span: &Span, f: F) -> Instrumented<F> {
        f.instrument(span.0.clone())
    }

    /// A span (or a disabled one).
    #[derive(Debug)]
    pub(crate) struct Span(tracing::Span);

    /// The database: the configured one, else the user name (the server's default).
    fn namespace(c: &Config) -> Option<&str> {
        c.dbname.as_deref().or(c.user.as_deref())
    }

    /// One operation span; every one has the same fields, so each name is one line.
    macro_rules! op_span {
        ($name:literal, $c:expr, $op:expr, $text:expr) => {
            tracing::info_span!(
                target: "pgline",
                $name,
                otel.kind = "client",
                db.system.name = "postgresql",
                db.system = "postgresql",
                db.namespace = namespace($c),
                server.address = $c.host.as_str(),
                server.port = $c.port,
                db.operation.name = $op,
                db.query.text = $text,
                db.collection.name = Empty,
                db.operation.batch.size = Empty,
                db.response.returned_rows = Empty,
                pgline.rows_affected = Empty,
                pgline.rows_done = Empty,
                pgline.rows_failed = Empty,
                pgline.rows_skipped = Empty,
                pgline.rows_committed = Empty,
                pgline.load.method = Empty,
                db.response.status_code = Empty,
                error.type = Empty,
                otel.status_code = Empty,
            )
        };
    }

    impl Span {
        /// The span of operation `op` running `sql` on a connection made with `c`.
        pub(crate) fn op(op: Op, c: &Config, t: &ConnTrace, sql: &str) -> Self {
            let name = operation_name(sql, op == Op::ExecuteMany);
            let text = Some(sql).filter(|s| t.sql_text && !s.is_empty());
            Self(match op {
                Op::SimpleQuery => op_span!("pgline.simple_query", c, name, text),
                Op::Prepare => op_span!("pgline.prepare", c, name, text),
                Op::Query => op_span!("pgline.query", c, name, text),
                Op::QueryStream => op_span!("pgline.query_stream", c, name, text),
                Op::Execute => op_span!("pgline.execute", c, name, text),
                Op::ExecuteMany => op_span!("pgline.execute_many", c, name, text),
                Op::Load => op_span!("pgline.load", c, name, text),
                Op::CopyIn => op_span!("pgline.copy_in", c, name, text),
                Op::CopyOut => op_span!("pgline.copy_out", c, name, text),
                Op::Pipeline => op_span!("pgline.pipeline", c, name, text),
            })
        }

        /// The span of `Connection::connect` with `c`.
        pub(crate) fn connect(c: &Config) -> Self {
            Self(tracing::info_span!(
                target: "pgline",
                "pgline.connect",
                otel.kind = "client",
                db.system.name = "postgresql",
                db.system = "postgresql",
                db.namespace = namespace(c),
                server.address = c.host.as_str(),
                server.port = c.port,
                pgline.auth.method = Empty,
                pgline.tls = Empty,
                db.response.status_code = Empty,
                error.type = Empty,
                otel.status_code = Empty,
            ))
        }

        /// The span of a pool checkout for connections made with `c`.
        pub(crate) fn acquire(c: &Config) -> Self {
            Self(tracing::info_span!(
                target: "pgline",
                "pgline.pool.acquire",
                db.system.name = "postgresql",
                db.system = "postgresql",
                db.namespace = namespace(c),
                server.address = c.host.as_str(),
                server.port = c.port,
                db.response.status_code = Empty,
                error.type = Empty,
                otel.status_code = Empty,
            ))
        }

        /// Records the table of a load.
        pub(crate) fn collection(&self, table: &str) {
            self.0.record("db.collection.name", table);
        }

        pub(crate) fn returned_rows(&self, n: u64) {
            self.0.record("db.response.returned_rows", n);
        }

        pub(crate) fn rows_affected(&self, n: Option<u64>) {
            if let Some(n) = n {
                self.0.record("pgline.rows_affected", n);
            }
        }

        pub(crate) fn batch_size(&self, n: u64) {
            self.0.record("db.operation.batch.size", n);
        }

        /// The counts of a bulk load.
        pub(crate) fn load(&self, r: &LoadReport) {
            let s = &self.0;
            s.record("db.operation.batch.size", r.rows_read);
            s.record("pgline.rows_done", r.rows_done);
            s.record("pgline.rows_failed", r.failures_total);
            s.record("pgline.rows_skipped", r.rows_skipped);
            s.record("pgline.rows_committed", r.rows_committed);
            s.record("pgline.load.method", tracing::field::display(r.method));
        }

        /// A connection was made.
        pub(crate) fn connected(&self, t: &ConnTrace, tls: bool) {
            if let Some(m) = t.auth_method() {
                self.0.record("pgline.auth.method", m);
            }
            self.0.record("pgline.tls", tls);
        }

        /// Records a failure: the SQLSTATE of a server error, else the error's kind. The
        /// message is not recorded (it can quote values).
        pub(crate) fn error(&self, e: &Error) {
            let s = &self.0;
            if let Some(code) = e.code() {
                s.record("db.response.status_code", code);
            }
            s.record("error.type", error_type(e));
            s.record("otel.status_code", "ERROR");
        }
    }

    /// A counter for a span (rows of a stream, statements of a pipeline).
    #[derive(Debug, Default, Clone, Copy)]
    pub(crate) struct Count(u64);

    impl Count {
        #[inline]
        pub(crate) fn new() -> Self {
            Self(0)
        }

        #[inline]
        pub(crate) fn add(&mut self, n: u64) {
            self.0 += n;
        }

        #[inline]
        pub(crate) fn get(self) -> u64 {
            self.0
        }
    }

    /// What a connection's spans need from it: the SQL-text opt-in, the authentication
    /// method seen during startup, and the spans of the sync windows in flight.
    #[derive(Debug, Default)]
    pub(crate) struct ConnTrace {
        sql_text: bool,
        auth: Auth,
        /// Open window spans and the Sync item that ends each, oldest first.
        windows: VecDeque<(Item, tracing::Span)>,
    }

    #[derive(Debug, Default, Clone, Copy)]
    enum Auth {
        /// No authentication request seen yet.
        #[default]
        Unknown,
        /// The server asked for SASL; the mechanism is the client's choice.
        Sasl,
        Known(&'static str),
    }

    impl ConnTrace {
        pub(crate) fn new() -> Self {
            Self::default()
        }

        pub(crate) fn set_sql_text(&mut self, on: bool) {
            self.sql_text = on;
        }

        /// A sync window of `size()` rows or statements, ended by the Sync `sync`, was
        /// closed: its span runs until [`Self::window_done`] sees that Sync answered. It
        /// is a child of `parent`, else of the current span. `size` is only called when
        /// the span is enabled; a disabled one is not kept.
        pub(crate) fn window_opened(
            &mut self,
            parent: Option<&Span>,
            sync: Item,
            size: impl FnOnce() -> u64,
        ) {
            let span = match parent {
                Some(p) => tracing::debug_span!(
                    target: "pgline",
                    parent: &p.0,
                    "pgline.pipeline_window",
                    db.operation.batch.size = size(),
                ),
                None => tracing::debug_span!(
                    target: "pgline",
                    "pgline.pipeline_window",
                    db.operation.batch.size = size(),
                ),
            };
            if !span.is_disabled() {
                self.windows.push_back((sync, span));
            }
        }

        /// The ReadyForQuery of Sync `sync` arrived: its window's span ends, and so do
        /// those of older windows (left open by an abandoned operation).
        #[inline]
        pub(crate) fn window_done(&mut self, sync: Item) {
            while self.windows.front().is_some_and(|&(i, _)| i <= sync) {
                self.windows.pop_front();
            }
        }

        /// The `require_auth` name of the exchange used, once startup is done.
        pub(crate) fn auth_method(&self) -> Option<&'static str> {
            match self.auth {
                Auth::Unknown => None,
                Auth::Sasl => Some("sasl"),
                Auth::Known(m) => Some(m),
            }
        }

        /// During startup, before the session takes `rbuf`: the server's first
        /// authentication request says how the client authenticates. Only complete
        /// frames are read (a partial one is read again with its rest); nothing is
        /// consumed.
        pub(crate) fn startup_read(&mut self, rbuf: &[u8]) {
            let mut rest = rbuf;
            while let Some((tag, body, after)) = frame(rest) {
                rest = after;
                if tag != b'R' || matches!(self.auth, Auth::Known(_)) {
                    continue;
                }
                let Ok(BackendMessage::Authentication(a)) =
                    BackendMessage::decode(tag, Bytes::copy_from_slice(body))
                else {
                    continue;
                };
                self.auth = match (self.auth, a) {
                    // AuthenticationOk with nothing asked before it.
                    (Auth::Unknown, Authentication::Ok) => Auth::Known("none"),
                    (_, Authentication::CleartextPassword) => Auth::Known("password"),
                    (_, Authentication::Md5Password { .. }) => Auth::Known("md5"),
                    (_, Authentication::Sasl(_)) => Auth::Sasl,
                    (auth, _) => auth,
                };
            }
        }

        /// During startup, after the session answered: the mechanism of the client's
        /// SASLInitialResponse, which is at the front of `out` right after the request.
        pub(crate) fn startup_wrote(&mut self, out: &[u8]) {
            if !matches!(self.auth, Auth::Sasl) {
                return;
            }
            let Some((b'p', body, _)) = frame(out) else {
                return;
            };
            if let Ok(r) = SaslInitialResponse::decode(&Bytes::copy_from_slice(body)) {
                self.auth = Auth::Known(match r.mechanism.as_str() {
                    "SCRAM-SHA-256-PLUS" => "scram-sha-256-plus",
                    "SCRAM-SHA-256" => "scram-sha-256",
                    _ => "sasl",
                });
            }
        }
    }

    /// The first complete frame of `buf`: tag, body, and what follows it.
    fn frame(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (tag, len) = peek_header(buf)?;
        let end = usize::try_from(len)
            .ok()
            .filter(|&l| l >= 4)?
            .checked_add(1)?;
        Some((tag, buf.get(5..end)?, buf.get(end..)?))
    }
}

#[cfg(not(feature = "tracing"))]
mod imp {
    //! Without the feature: zero-sized types and empty functions.

    use std::future::Future;

    use super::Op;
    use crate::conn::{Config, Item, LoadReport};
    use crate::error::Error;

    pub(crate) type Instrumented<F> = F;

    #[inline(always)]
    pub(crate) fn instrument<F: Future>(_: &Span, f: F) -> F {
        f
    }

    #[derive(Debug)]
    pub(crate) struct Span;

    impl Span {
        #[inline(always)]
        pub(crate) fn op(_: Op, _: &Config, _: &ConnTrace, _: &str) -> Self {
            Self
        }
        #[inline(always)]
        pub(crate) fn connect(_: &Config) -> Self {
            Self
        }
        #[inline(always)]
        pub(crate) fn acquire(_: &Config) -> Self {
            Self
        }
        #[inline(always)]
        pub(crate) fn collection(&self, _: &str) {}
        #[inline(always)]
        pub(crate) fn returned_rows(&self, _: u64) {}
        #[inline(always)]
        pub(crate) fn rows_affected(&self, _: Option<u64>) {}
        #[inline(always)]
        pub(crate) fn batch_size(&self, _: u64) {}
        #[inline(always)]
        pub(crate) fn load(&self, _: &LoadReport) {}
        #[inline(always)]
        pub(crate) fn connected(&self, _: &ConnTrace, _: bool) {}
        #[inline(always)]
        pub(crate) fn error(&self, _: &Error) {}
    }

    #[derive(Debug, Default, Clone, Copy)]
    pub(crate) struct Count;

    impl Count {
        #[inline(always)]
        pub(crate) fn new() -> Self {
            Self
        }
        #[inline(always)]
        pub(crate) fn add(&mut self, _: u64) {}
        #[inline(always)]
        pub(crate) fn get(self) -> u64 {
            0
        }
    }

    #[derive(Debug, Default)]
    pub(crate) struct ConnTrace;

    impl ConnTrace {
        #[inline(always)]
        pub(crate) fn new() -> Self {
            Self
        }
        #[inline(always)]
        pub(crate) fn window_opened(&mut self, _: Option<&Span>, _: Item, _: impl FnOnce() -> u64) {
        }
        #[inline(always)]
        pub(crate) fn window_done(&mut self, _: Item) {}
        #[inline(always)]
        pub(crate) fn startup_read(&mut self, _: &[u8]) {}
        #[inline(always)]
        pub(crate) fn startup_wrote(&mut self, _: &[u8]) {}
    }
}

#[cfg(test)]
mod tests {
    use super::{first_word, operation_name};

    #[test]
    fn operation_name_is_the_first_keyword_after_comments_and_parentheses() {
        assert_eq!(operation_name("select 1", false), Some("SELECT"));
        assert_eq!(operation_name("  \n\tInsert INTO t", false), Some("INSERT"));
        assert_eq!(
            operation_name("-- note\n/* a /* nested */ b */ (SELECT 1)", false),
            Some("SELECT")
        );
        assert_eq!(
            operation_name("INSERT INTO t VALUES ($1)", true),
            Some("BATCH INSERT")
        );
    }

    #[test]
    fn operation_name_returns_nothing_for_unknown_or_empty_text() {
        assert_eq!(operation_name("", false), None);
        assert_eq!(operation_name("-- only a comment", false), None);
        assert_eq!(operation_name("/* unterminated", false), None);
        assert_eq!(operation_name("frobnicate the table", false), None);
        assert_eq!(operation_name("selectx", false), None);
        assert_eq!(first_word("1 + 1"), None);
    }
}
