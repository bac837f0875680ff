//! [`Error`]: the one error type of the connection layer, and [`DbError`], everything the
//! server said in an ErrorResponse.
//!
//! `Error` is opaque: ask it questions (`is_closed`, `is_timeout`, `as_db_error`, `code`,
//! ...) rather than matching on variants, so new kinds can be added without breaking
//! callers. The `Display` wording is for people and is **not** stable.
//!
//! Which errors break a connection (it refuses all further work, and a pool drops it):
//! protocol violations, I/O errors, a closed socket, a timeout in the middle of a request,
//! and a server error of severity FATAL or PANIC. An ordinary server ERROR, a
//! [`PipelineAborted`](Error::is_pipeline_aborted) item and a conversion error leave the
//! connection usable.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::protocol::backend::ErrorFields;
use crate::protocol::{DecodeError, EncodeError};

/// A boxed error from a lower layer.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in broad classes. Private: callers use the predicates on [`Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The transport failed.
    Io,
    /// The server closed the connection (EOF), possibly in the middle of a message.
    Closed,
    /// The server broke the protocol: bad bytes or a message that makes no sense here.
    Protocol,
    /// The server reported an error (ErrorResponse).
    Db,
    /// Authentication failed or was refused by the client's policy.
    Auth,
    /// TLS negotiation failed or was refused.
    Tls,
    /// A deadline passed.
    Timeout,
    /// This pipeline item was not run: an earlier item of its sync window failed.
    PipelineAborted,
    /// A value could not be encoded for the wire (too long, interior NUL, ...).
    Encode,
    /// A value could not be converted between Rust and SQL.
    Conversion,
    /// The configuration is invalid.
    Config,
    /// The operation is not supported (by this build, or by the server's profile).
    Unsupported,
    /// The connection is broken (by an earlier error) and refuses work.
    Broken,
    /// A query expected one row and got another number.
    RowCount,
    /// The pool could not hand out a connection before the acquire deadline.
    PoolTimeout,
    /// The pool is closed and hands out no more connections.
    PoolClosed,
    /// Connected, but the server is not of the kind `target_session_attrs` asks for.
    WrongServer,
}

struct Inner {
    kind: Kind,
    msg: Option<Cow<'static, str>>,
    db: Option<Box<DbError>>,
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

/// An error from pgline.
///
/// Display shows a server error as psql does (severity, message, SQLSTATE, DETAIL, HINT,
/// CONTEXT). When a named prepared statement vanished (SQLSTATE 26000) or collided with
/// another of the same name (42P05), it adds a HINT line of pgline's own: that is what a
/// transaction-pooling PgBouncer causes, and `statement_cache_capacity=0` (pooler-safe
/// mode, see [`Config`](crate::Config)) is the fix.
pub struct Error(Box<Inner>);

impl Clone for Error {
    fn clone(&self) -> Self {
        Self(Box::new(Inner {
            kind: self.0.kind.clone(),
            msg: self.0.msg.clone(),
            db: self.0.db.clone(),
            source: self.0.source.clone(),
        }))
    }
}

impl Error {
    pub(crate) fn new(kind: Kind, msg: impl Into<Cow<'static, str>>) -> Self {
        Self(Box::new(Inner {
            kind,
            msg: Some(msg.into()),
            db: None,
            source: None,
        }))
    }

    pub(crate) fn with_source(
        kind: Kind,
        msg: impl Into<Cow<'static, str>>,
        source: impl Into<BoxError>,
    ) -> Self {
        let source: BoxError = source.into();
        Self(Box::new(Inner {
            kind,
            msg: Some(msg.into()),
            db: None,
            source: Some(Arc::from(source)),
        }))
    }

    pub(crate) fn io(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            return Self::with_source(Kind::Closed, "connection closed by the server", e);
        }
        Self::with_source(Kind::Io, "I/O error", e)
    }

    /// The same error with `note` printed before it (the server's fields stay as they
    /// are, so [`code`](Self::code) and [`as_db_error`](Self::as_db_error) still work).
    /// A note already there stays, after the new one.
    pub(crate) fn with_note(mut self, note: impl Into<Cow<'static, str>>) -> Self {
        let note = note.into();
        self.0.msg = Some(match self.0.msg.take() {
            Some(old) => format!("{note}: {old}").into(),
            None => note,
        });
        self
    }

    pub(crate) fn closed(what: &'static str) -> Self {
        Self::new(Kind::Closed, what)
    }

    pub(crate) fn protocol(msg: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::Protocol, msg)
    }

    pub(crate) fn decode(e: DecodeError) -> Self {
        Self::with_source(Kind::Protocol, "invalid message from the server", e)
    }

    pub(crate) fn encode(e: EncodeError) -> Self {
        Self::with_source(Kind::Encode, "cannot encode message", e)
    }

    /// A message arrived that the current state does not allow.
    pub(crate) fn unexpected(expected: &'static str, got: &'static str) -> Self {
        Self::protocol(format!(
            "unexpected message from the server: expected {expected}, got {got}"
        ))
    }

    pub(crate) fn db(fields: &ErrorFields) -> Self {
        Self::from_db(DbError::from_fields(fields))
    }

    /// A server-kind error the client infers from a reply that carries no ErrorResponse
    /// (e.g. COMMIT answered with the tag ROLLBACK): SQLSTATE `code`, severity ERROR.
    pub(crate) fn inferred_db(code: &str, message: impl Into<String>) -> Self {
        Self::from_db(DbError {
            severity: "ERROR".into(),
            severity_nonlocalized: Some("ERROR".into()),
            code: code.into(),
            message: message.into(),
            ..DbError::default()
        })
    }

    /// Reads the IRIS SQLCODE from the server error's message (IRIS profile only; see
    /// [`DbError::iris_sqlcode`]).
    pub(crate) fn with_iris_sqlcode(mut self) -> Self {
        if let Some(db) = self.0.db.as_deref_mut() {
            db.iris_sqlcode = crate::iris::iris_sqlcode(&db.message);
        }
        self
    }

    pub(crate) fn from_db(db: DbError) -> Self {
        Self(Box::new(Inner {
            kind: Kind::Db,
            msg: None,
            db: Some(Box::new(db)),
            source: None,
        }))
    }

    pub(crate) fn timeout(what: &'static str) -> Self {
        Self::new(Kind::Timeout, what)
    }

    pub(crate) fn config(msg: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::Config, msg)
    }

    pub(crate) fn auth(msg: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::Auth, msg)
    }

    pub(crate) fn unsupported(msg: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::Unsupported, msg)
    }

    pub(crate) fn conversion(
        msg: impl Into<Cow<'static, str>>,
        source: impl Into<BoxError>,
    ) -> Self {
        Self::with_source(Kind::Conversion, msg, source)
    }

    pub(crate) fn pipeline_aborted() -> Self {
        Self::new(
            Kind::PipelineAborted,
            "not run: an earlier statement in the same sync window failed",
        )
    }

    /// An error that marks the connection broken for later callers, keeping the cause.
    pub(crate) fn broken(cause: &Self) -> Self {
        Self(Box::new(Inner {
            kind: Kind::Broken,
            msg: Some("connection is broken by an earlier error".into()),
            db: None,
            source: Some(Arc::new(cause.clone())),
        }))
    }

    pub(crate) fn row_count(msg: &'static str) -> Self {
        Self::new(Kind::RowCount, msg)
    }

    /// No connection before the acquire deadline; `cause` is the last connect error, if
    /// connecting was what failed.
    pub(crate) fn pool_timeout(cause: Option<Self>) -> Self {
        let msg = "timed out waiting for a connection from the pool";
        match cause {
            Some(c) => Self::with_source(Kind::PoolTimeout, msg, c),
            None => Self::new(Kind::PoolTimeout, msg),
        }
    }

    pub(crate) fn pool_closed() -> Self {
        Self::new(Kind::PoolClosed, "the pool is closed")
    }

    /// The server closed the connection (EOF), or it was closed by this side.
    pub fn is_closed(&self) -> bool {
        matches!(self.0.kind, Kind::Closed)
    }

    /// A deadline passed (connect, query or pool checkout; a pool checkout timeout is
    /// also [`is_pool_timeout`](Self::is_pool_timeout)).
    pub fn is_timeout(&self) -> bool {
        matches!(self.0.kind, Kind::Timeout | Kind::PoolTimeout)
    }

    /// The pool could not hand out a connection before the acquire deadline (all
    /// connections busy, or the server unreachable; the last connect error is the
    /// [`source`](std::error::Error::source)).
    pub fn is_pool_timeout(&self) -> bool {
        matches!(self.0.kind, Kind::PoolTimeout)
    }

    /// The pool was closed.
    pub fn is_pool_closed(&self) -> bool {
        matches!(self.0.kind, Kind::PoolClosed)
    }

    /// The server broke the wire protocol.
    pub fn is_protocol(&self) -> bool {
        matches!(self.0.kind, Kind::Protocol)
    }

    /// An I/O error on the socket.
    pub fn is_io(&self) -> bool {
        matches!(self.0.kind, Kind::Io)
    }

    /// Authentication failed or was refused by the client's policy.
    pub fn is_auth(&self) -> bool {
        matches!(self.0.kind, Kind::Auth)
    }

    /// Every host was reachable (or skipped) but none was of the kind
    /// `target_session_attrs` asks for (e.g. only standbys for `read-write`).
    pub fn is_wrong_server(&self) -> bool {
        matches!(self.0.kind, Kind::WrongServer)
    }

    pub(crate) fn kind(&self) -> Kind {
        self.0.kind.clone()
    }

    /// The server reported an error; see [`as_db_error`](Self::as_db_error).
    pub fn is_db(&self) -> bool {
        self.0.db.is_some()
    }

    /// A pipeline item that was not run because an earlier item in its sync window failed.
    pub fn is_pipeline_aborted(&self) -> bool {
        matches!(self.0.kind, Kind::PipelineAborted)
    }

    /// A value could not be converted between Rust and SQL.
    pub fn is_conversion(&self) -> bool {
        matches!(self.0.kind, Kind::Conversion)
    }

    /// A value or message could not be encoded (too long, NUL in a string, ...).
    pub fn is_encode(&self) -> bool {
        matches!(self.0.kind, Kind::Encode)
    }

    /// TLS could not be set up: refused by the server, a failed handshake, or a server
    /// certificate that did not pass the checks `sslmode` asks for (the message says which).
    pub fn is_tls(&self) -> bool {
        matches!(self.0.kind, Kind::Tls)
    }

    /// The configuration is invalid.
    pub fn is_config(&self) -> bool {
        matches!(self.0.kind, Kind::Config)
    }

    /// The operation is not supported by this build or by the server.
    pub fn is_unsupported(&self) -> bool {
        matches!(self.0.kind, Kind::Unsupported)
    }

    /// The connection was already broken by an earlier error.
    pub fn is_broken(&self) -> bool {
        matches!(self.0.kind, Kind::Broken)
    }

    /// `query_one` got no row or more than one.
    pub fn is_row_count(&self) -> bool {
        matches!(self.0.kind, Kind::RowCount)
    }

    /// The server's error, if this is one.
    pub fn as_db_error(&self) -> Option<&DbError> {
        self.0.db.as_deref()
    }

    /// The SQLSTATE code, if the server reported one.
    pub fn code(&self) -> Option<&str> {
        self.0.db.as_deref().map(DbError::code)
    }

    /// Whether this error leaves the connection unusable.
    pub fn breaks_connection(&self) -> bool {
        match self.0.kind {
            Kind::Io | Kind::Closed | Kind::Protocol | Kind::Timeout | Kind::Broken => true,
            Kind::Db => self.0.db.as_deref().is_some_and(DbError::is_fatal),
            _ => false,
        }
    }
}

impl From<EncodeError> for Error {
    fn from(e: EncodeError) -> Self {
        Self::encode(e)
    }
}

impl From<crate::types::ConversionError> for Error {
    fn from(e: crate::types::ConversionError) -> Self {
        Self::conversion("value conversion failed", e)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.0.kind);
        if let Some(msg) = &self.0.msg {
            d.field("message", msg);
        }
        if let Some(db) = &self.0.db {
            d.field("db", db);
        }
        if let Some(source) = &self.0.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(db) = &self.0.db {
            if let Some(note) = &self.0.msg {
                write!(f, "{note}: ")?;
            }
            fmt::Display::fmt(db, f)?;
            if let Some(hint) = pooler_hint(db) {
                write!(f, "\nHINT: {hint}")?;
            }
            return Ok(());
        }
        match &self.0.msg {
            Some(msg) => f.write_str(msg)?,
            None => write!(f, "{:?}", self.0.kind)?,
        }
        if let Some(source) = &self.0.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

/// What pgline adds to a server error that named prepared statements cannot survive: a
/// statement vanished (26000, `prepared statement "..." does not exist`) or collided with
/// one of the same name (42P05, `... already exists`). Both are what a pooler in
/// transaction mode (PgBouncer's `pool_mode = transaction`) causes, by handing each
/// transaction a server connection that another client prepared its statements on.
pub(crate) const POOLER_HINT: &str = "this looks like a transaction-pooling PgBouncer (or another \
pooler) between pgline and the server: named prepared statements do not survive it. Set \
statement_cache_capacity=0 for pgline's pooler-safe mode (unnamed statements only)";

fn pooler_hint(db: &DbError) -> Option<&'static str> {
    // Only about pgline's own statement names: a caller's `EXECUTE nosuch` or second
    // `PREPARE x` is not the pooler's doing.
    (matches!(db.code(), "26000" | "42P05") && db.message().contains("\"pgline_s"))
        .then_some(POOLER_HINT)
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0.source {
            Some(s) => Some(&**s as &(dyn std::error::Error + 'static)),
            None => self
                .0
                .db
                .as_deref()
                .map(|d| d as &(dyn std::error::Error + 'static)),
        }
    }
}

/// Severity of a server error or notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Severity {
    /// ERROR: the statement failed; the connection is fine.
    Error,
    /// FATAL: the server is ending this session.
    Fatal,
    /// PANIC: the server is ending every session.
    Panic,
    /// WARNING (notices).
    Warning,
    /// NOTICE (notices).
    Notice,
    /// DEBUG (notices).
    Debug,
    /// INFO (notices).
    Info,
    /// LOG (notices).
    Log,
    /// A severity this client does not know.
    Other,
}

impl Severity {
    fn parse(s: &str) -> Self {
        match s {
            "ERROR" => Self::Error,
            "FATAL" => Self::Fatal,
            "PANIC" => Self::Panic,
            "WARNING" => Self::Warning,
            "NOTICE" => Self::Notice,
            "DEBUG" => Self::Debug,
            "INFO" => Self::Info,
            "LOG" => Self::Log,
            _ => Self::Other,
        }
    }
}

/// Everything the server sent in an ErrorResponse or NoticeResponse. Text is decoded
/// lossily; missing fields are empty or `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DbError {
    severity: String,
    severity_nonlocalized: Option<String>,
    code: String,
    message: String,
    detail: Option<String>,
    hint: Option<String>,
    position: Option<u32>,
    internal_position: Option<u32>,
    internal_query: Option<String>,
    where_: Option<String>,
    schema: Option<String>,
    table: Option<String>,
    column: Option<String>,
    datatype: Option<String>,
    constraint: Option<String>,
    file: Option<String>,
    line: Option<u32>,
    routine: Option<String>,
    iris_sqlcode: Option<i32>,
}

fn own(c: Option<Cow<'_, str>>) -> Option<String> {
    c.map(Cow::into_owned)
}

impl DbError {
    /// Parses the fields of an ErrorResponse or NoticeResponse.
    pub fn from_fields(f: &ErrorFields) -> Self {
        Self {
            severity: own(f.severity()).unwrap_or_default(),
            severity_nonlocalized: own(f.severity_nonlocalized()),
            code: own(f.code()).unwrap_or_default(),
            message: own(f.message()).unwrap_or_default(),
            detail: own(f.detail()),
            hint: own(f.hint()),
            position: f.position(),
            internal_position: f.internal_position(),
            internal_query: own(f.internal_query()),
            where_: own(f.where_()),
            schema: own(f.schema()),
            table: own(f.table()),
            column: own(f.column()),
            datatype: own(f.datatype()),
            constraint: own(f.constraint()),
            file: own(f.file()),
            line: f.line(),
            routine: own(f.routine()),
            iris_sqlcode: None,
        }
    }

    /// Severity as sent (localized), e.g. `ERROR`, `FATAL`, `NOTICE`.
    pub fn severity(&self) -> &str {
        &self.severity
    }

    /// Severity, parsed from the non-localized field when present.
    pub fn parsed_severity(&self) -> Severity {
        Severity::parse(
            self.severity_nonlocalized
                .as_deref()
                .unwrap_or(&self.severity),
        )
    }

    /// Whether the server is ending the session (FATAL or PANIC).
    pub fn is_fatal(&self) -> bool {
        matches!(self.parsed_severity(), Severity::Fatal | Severity::Panic)
    }

    /// SQLSTATE code, e.g. `23505`, as the server sent it.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The InterSystems IRIS SQLCODE, when the server is iris-pgwire and the message
    /// carries one (`[SQLCODE: <-119>:<...>]`), e.g. `-119` for a unique-key violation.
    /// iris-pgwire sends its own SQLSTATE beside it (42000 for every IRIS error on 1.0.x);
    /// see [`Self::sqlstate_mapped`].
    pub fn iris_sqlcode(&self) -> Option<i32> {
        self.iris_sqlcode
    }

    /// The SQLSTATE that PostgreSQL would report: for an IRIS SQLCODE in the
    /// [documented table](crate::iris::SQLCODE_TO_SQLSTATE) the mapped code (`-119` →
    /// `23505`, `-121` → `23503`, `-108` → `23502`, `-30` → `42P01`, ...), otherwise
    /// [`Self::code`] unchanged. Code written for PostgreSQL can match on this one.
    ///
    /// ```
    /// # fn demo(e: &pgline::DbError) {
    /// if e.sqlstate_mapped() == "23505" {
    ///     // duplicate key, on PostgreSQL and on IRIS alike
    /// }
    /// # }
    /// ```
    pub fn sqlstate_mapped(&self) -> &str {
        self.iris_sqlcode
            .and_then(crate::iris::sqlstate_for_sqlcode)
            .unwrap_or(&self.code)
    }

    /// Primary message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Detail (`D`).
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// Hint (`H`).
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// Cursor position in the query, 1-based characters (`P`).
    pub fn position(&self) -> Option<u32> {
        self.position
    }

    /// Position in an internally generated query (`p`).
    pub fn internal_position(&self) -> Option<u32> {
        self.internal_position
    }

    /// The internally generated query (`q`).
    pub fn internal_query(&self) -> Option<&str> {
        self.internal_query.as_deref()
    }

    /// Context / call stack (`W`).
    pub fn where_(&self) -> Option<&str> {
        self.where_.as_deref()
    }

    /// Schema name (`s`).
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// Table name (`t`).
    pub fn table(&self) -> Option<&str> {
        self.table.as_deref()
    }

    /// Column name (`c`).
    pub fn column(&self) -> Option<&str> {
        self.column.as_deref()
    }

    /// Data type name (`d`).
    pub fn datatype(&self) -> Option<&str> {
        self.datatype.as_deref()
    }

    /// Constraint name (`n`).
    pub fn constraint(&self) -> Option<&str> {
        self.constraint.as_deref()
    }

    /// Server source file (`F`).
    pub fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }

    /// Server source line (`L`).
    pub fn line(&self) -> Option<u32> {
        self.line
    }

    /// Server source routine (`R`).
    pub fn routine(&self) -> Option<&str> {
        self.routine.as_deref()
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.severity, self.message)?;
        if !self.code.is_empty() {
            write!(f, " (SQLSTATE {})", self.code)?;
        }
        if let Some(d) = &self.detail {
            write!(f, "\nDETAIL: {d}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\nHINT: {h}")?;
        }
        // Where it happened, as psql shows it: for COPY, the input line (and column) that
        // failed, e.g. `COPY t, line 3, column b: "x"`; for PL/pgSQL, the call stack.
        if let Some(w) = &self.where_ {
            write!(f, "\nCONTEXT: {w}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DbError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vanished_or_colliding_statement_error_shows_the_pooler_hint() {
        for (code, message) in [
            ("26000", "prepared statement \"pgline_s1\" does not exist"),
            ("42P05", "prepared statement \"pgline_s1\" already exists"),
        ] {
            let shown = Error::inferred_db(code, message).to_string();
            assert!(shown.starts_with(&format!("ERROR: {message} (SQLSTATE {code})")));
            assert!(
                shown.ends_with(&format!("\nHINT: {POOLER_HINT}")),
                "{shown}"
            );
            assert!(shown.contains("statement_cache_capacity=0"));
        }
    }

    #[test]
    fn other_server_errors_carry_no_pooler_hint() {
        let shown = Error::inferred_db("23505", "duplicate key").to_string();
        assert_eq!(shown, "ERROR: duplicate key (SQLSTATE 23505)");
    }
}
