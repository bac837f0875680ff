//! [`Quirks`]: the server dialect as a plain struct of flags, detected once at startup.
//!
//! Code consults flags, never product names: `grep -rn 'quirks\.' src/` lists every place
//! a deviation from PostgreSQL is tolerated. The manual for each flag (symptom, evidence,
//! where it is used) is in [`crate::iris`].

/// How the server deviates from PostgreSQL. `Quirks::default()` is plain PostgreSQL:
/// every flag off, every check strict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Quirks {
    /// After an ErrorResponse the server does **not** skip to Sync: later messages in the
    /// same sync window are still executed and answered.
    pub no_skip_after_error: bool,
    /// An empty or semicolon-only Query is not answered at all (no EmptyQueryResponse, no
    /// ReadyForQuery): such queries are answered locally and never sent.
    pub empty_query_unanswered: bool,
    /// An Execute may complete with no CommandComplete; the next expectation's message
    /// completes it.
    pub command_complete_may_be_missing: bool,
    /// Execute may send its own RowDescription; DataRow may arrive without one or after
    /// NoData; the field count may disagree.
    pub lenient_row_shape: bool,
    /// A ReadyForQuery with nothing pending is discarded instead of breaking the
    /// connection (COPY inside a multi-statement Query sends two).
    pub surplus_ready_tolerated: bool,
    /// Command tags are unusual and their row counts unreliable.
    pub unreliable_row_counts: bool,
    /// SQL `DEALLOCATE`, `DISCARD ALL`, `RESET ALL` are not usable for cleanup.
    pub no_sql_cleanup: bool,
    /// Type OIDs may lie: decode by the Rust type asked for.
    pub lenient_types: bool,
    /// Binary formats leak into later queries: request and send text only.
    pub text_only: bool,
    /// `$n` placeholders are bound positionally, not by number.
    pub positional_placeholders: bool,
    /// Describe executes the statement: the query path prepares with Parse only and
    /// one-shot queries skip Describe, so a statement runs once.
    pub describe_executes: bool,
    /// Statements without parameters run as a simple Query on the query path
    /// (`query`, `execute`, `query_one`, ...): the only exchange in which the server names
    /// the result columns without running the statement a second time, and (1.7.3) the one
    /// without a 1 ms sleep after every result.
    pub parameterless_as_simple_query: bool,
    /// Execute row limits are ignored (no PortalSuspended).
    pub ignores_row_limit: bool,
    /// COPY TO STDOUT is broken on the server.
    pub copy_out_broken: bool,
    /// ReadyForQuery never reports a failed transaction ('E'); errors do not abort a
    /// transaction: transaction state is tracked on the client.
    pub client_side_transaction_state: bool,
    /// DML errors of the extended protocol may be deferred to Sync (reported after a
    /// CommandComplete that looked like success).
    pub deferred_dml_errors: bool,
    /// A sync window is not a transaction: each statement commits on its own and an error
    /// does not undo the rest of the window, so batch atomicity needs explicit
    /// `BEGIN`/`COMMIT`.
    pub sync_window_not_atomic: bool,
    /// The server may send a backend `f` message (after stray CopyData/CopyDone outside
    /// COPY): dropped instead of breaking the connection.
    pub backend_copy_fail_messages: bool,
    /// A CancelRequest may close the connection or do nothing: an operation that passes
    /// its deadline breaks the connection instead of cancelling and draining it.
    pub cancel_unreliable: bool,
    /// ReadyForQuery may never follow an ErrorResponse (legacy builds, simple and extended
    /// protocol alike): once only the sync point is left, a short grace without it ends
    /// the exchange as if it had come.
    pub ready_may_not_follow_error: bool,
}

impl Quirks {
    /// Plain PostgreSQL: everything strict.
    pub fn postgres() -> Self {
        Self::default()
    }

    /// InterSystems IRIS through iris-pgwire (all known versions).
    pub fn iris() -> Self {
        Self {
            no_skip_after_error: true,
            empty_query_unanswered: true,
            command_complete_may_be_missing: true,
            lenient_row_shape: true,
            surplus_ready_tolerated: true,
            unreliable_row_counts: true,
            no_sql_cleanup: true,
            lenient_types: true,
            text_only: true,
            positional_placeholders: true,
            describe_executes: true,
            parameterless_as_simple_query: true,
            ignores_row_limit: true,
            copy_out_broken: true,
            client_side_transaction_state: true,
            deferred_dml_errors: true,
            sync_window_not_atomic: true,
            backend_copy_fail_messages: true,
            cancel_unreliable: true,
            ready_may_not_follow_error: true,
        }
    }

    /// Detects the dialect from the `server_version` ParameterStatus.
    pub fn detect(server_version: Option<&str>) -> Self {
        match server_version {
            Some(v) if v.contains("InterSystems IRIS") => Self::iris(),
            _ => Self::postgres(),
        }
    }

    /// Whether any flag is set.
    pub fn is_iris_like(&self) -> bool {
        *self != Self::default()
    }
}
