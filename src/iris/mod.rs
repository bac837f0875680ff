//! InterSystems IRIS through iris-pgwire: every quirk, its evidence, its flag, and every
//! place the flag is used.
//!
//! IRIS speaks the PostgreSQL protocol through `iris-pgwire` (PyPI; MIT). It deviates
//! from PostgreSQL in ways that break ordinary drivers: missing or doubled
//! ReadyForQuery, no skip-to-Sync after an error, mangled command tags, positional
//! `$n` binding, deferred DML errors, a constant SCRAM signature, and more. pgline
//! handles these **inside the protocol state machine**, driven by a [`Quirks`] profile,
//! instead of catching exceptions afterwards.
//!
//! # The profile
//!
//! [`Quirks`] is a plain struct of flags. It is detected once at startup from the
//! `server_version` ParameterStatus (`"16.0 (InterSystems IRIS)"`), or forced with
//! `profile=postgres|iris` in the URL ([`ProfileChoice`](crate::conn::ProfileChoice)).
//! Code consults flags, never product names; `grep -rn 'quirks' src/conn` lists every
//! use. `Quirks::default()` is plain PostgreSQL, where every check stays strict.
//!
//! # Quirks, evidence, flags, uses
//!
//! Evidence refers to `iris-pgwire-quirks.md` (§ numbers; §13 = observed over TCP, wins
//! where it differs) and to the end-to-end suite `tests/it/iris/e2e.rs` (real 1.7.3) and
//! the scripted fake `tests/it/iris/fake.rs` (legacy, 1.0.1, 1.7.3).
//!
//! | Symptom | Versions, evidence | Flag | Where it is used |
//! |---|---|---|---|
//! | After an ErrorResponse the server keeps answering the rest of the sync window | all; §3, §11.35, §12 | `no_skip_after_error` | `conn/session.rs` (error handling: the error answers only the front expectation; later answers are believed) |
//! | Empty or `;`-only Query gets no answer at all (hang) | all; §2, §11.9 | `empty_query_unanswered` | `Session::start_simple_query`: answered locally, never sent |
//! | Execute completes without CommandComplete | 1.0.1; §11.19 | `command_complete_may_be_missing` | `conn/session.rs` (the next expectation's message completes it) |
//! | DataRow without RowDescription, RowDescription from Execute or after NoData, field-count mismatch | all; §3, §11.31 | `lenient_row_shape` | `conn/session.rs` (row-shape checks) |
//! | A second ReadyForQuery with nothing pending (COPY inside a multi-statement Query) | all; §11.44 | `surplus_ready_tolerated` | `conn/session.rs` (discarded, not a protocol error) |
//! | Tags `CREATE 0`, `INSERT 0 0 0`, `UPDATE 0 0`, `SELECT n n`, `UNKNOWN 0`, `DISCARD ALL 0`, `DEALLOCATE 0`, `SET` for RESET, DDL as `SELECT 0`; 1.0.1 DML always 0, 1.7.3 extended DML always 1 | §2, §11.17 | `unreliable_row_counts` | `conn/driver/query.rs` `rows_affected`: `None`, never a made-up number |
//! | `DEALLOCATE`/`DISCARD ALL`/`RESET ALL` are not real cleanup (odd tags, or errors through the extended protocol) | §4, §11.12, §11.38, §14 | `no_sql_cleanup` | statement cache evicts with Close('S') always (`conn/statement.rs`); the pool's session reset sends only `ROLLBACK` under this flag; a parameterless `DEALLOCATE …`/`DISCARD …` the caller runs through `query`/`execute`/`query_unnamed` goes out as a simple Query, the only place the server intercepts it (`Connection::cleanup_as_simple_query`) |
//! | Type OIDs lie: numbers in text columns, DATE as days since 2000-01-01, `''` as NULL, `t`/`f`, `inf`/`nan` | §5, §11.24-25 | `lenient_types` | `types` (lenient decoding by the Rust type asked for); rows of every query path |
//! | Binary result formats leak into later simple queries; binary parameters are decoded by guesswork | 1.0.1, 1.7.3; §5, §11.26, §11.30 | `text_only` | `Connection::text_only`: parameters and results are text everywhere |
//! | `$n` bound by position: `SELECT $2, $1` swaps values, a repeated `$1` needs two | all; §11.29, §12 | `positional_placeholders` | `Connection::renumber` (`iris::placeholders`): SQL renumbered ascending and unique, values reordered/duplicated, in prepare, one-shot, pipeline and `execute_many` |
//! | ParameterDescription contradicts the statement (legacy: `$1, $2` described as 0 parameters) | legacy; §14 | `positional_placeholders` | an explicit `prepare` takes the statement's own `$n` count (one wire parameter per placeholder after renumbering), logged once at debug level |
//! | Describe runs the statement (S: with NULL parameters; P: with the bound ones) | all; §11.31-32 | `describe_executes` | `query`/`execute`/`query_stream`/`execute_many` prepare with Parse only (parameter types from the values, count checked against the SQL's placeholders) and one-shot queries skip Describe, so every statement runs exactly once; rows then come without names unless Execute describes them and are read by position. An explicit `prepare` still describes (the caller asked for the metadata; on IRIS that runs a SELECT once with NULL parameters) |
//! | Execute never sends a RowDescription for a SELECT, so only Describe (a second execution) names the columns; 1.7.3 sleeps 1 ms after every extended-protocol result; a simple Query names the columns, runs once and does not sleep | all; `tests/iris/evidence.md` (probe with the stand-in's execution trace) | `parameterless_as_simple_query` | `query`/`execute`/`query_one`/`query_opt`/`query_unnamed` with SQL text, no values, no `$n` and not COPY go as a simple Query: names and OIDs from its RowDescription, text values decoded by those OIDs (`SELECT 1` is int4). With parameters, rows come without names and `get("name")` fails with an error that says why |
//! | Execute row limits ignored, no PortalSuspended, re-Execute re-runs | all; §11.33 | `ignores_row_limit` | `query_stream`: one Execute, memory bounded by reading only as fast as rows are taken |
//! | COPY TO sends column names split into characters; COPY only through simple Query | all; §6, §11.43, §13 | `copy_out_broken` | `copy_out`: `Unsupported` without sending anything; `load` and `pgline load` pick pipelined inserts |
//! | ReadyForQuery is never `E`, `T` only after a bare BEGIN; an error does not abort a transaction | all; §11.11, §11.21-22, §13 | `client_side_transaction_state` | `Session` tracks the status from the transaction verbs the client sends ([`transaction_effect`]); `begin`/`commit`/`rollback` send the bare verbs |
//! | DML errors of the extended protocol come after `INSERT 0 1`, at Sync or before a later message | 1.7.3; §11.34, §12 | `deferred_dml_errors` | `Pipeline` gives each statement its own Sync and makes outcomes final at Sync; one-shot queries and `execute_many` take a Sync-time error as the statement's (window's) failure |
//! | A sync window is not a transaction: rows commit one by one | all; §11.45-46 | `sync_window_not_atomic` | `execute_many` with `Batches(n)`: each batch in explicit `BEGIN` … `COMMIT`/`ROLLBACK` |
//! | Backend `f` messages after stray copy messages | all; §11.41 | `backend_copy_fail_messages` | `Session::handle_bytes`: dropped (size-capped) |
//!
//! Not flags, because pgline does them for every server:
//!
//! * **SSLRequest first.** legacy hangs on a StartupMessage not preceded by SSLRequest
//!   (§13); pgline's default `sslmode=prefer` probes first and accepts `N`.
//! * **Protocol 3.0 only** is requested; trust (AuthenticationOk at once) is accepted.
//! * **SCRAM user name.** iris-pgwire needs a non-empty `n=` in client-first (§13): pgline
//!   sends the SASLprep'd startup user, valid for PostgreSQL too.
//! * **SCRAM server signature.** iris-pgwire's SASLFinal is a constant 20-byte dummy
//!   (`v=rmF+pqV8S7suAoZWja4dJRkFsKQ=`). pgline refuses it with an error that says
//!   "server signature is 20 bytes"; the one opt-in,
//!   [`Config::danger_iris_skip_scram_server_signature`](crate::Config::danger_iris_skip_scram_server_signature),
//!   is honoured only with `profile=iris` (auth happens before the server version is
//!   known) and logs a warning (`log` crate) on every connect that uses it. iris-pgwire
//!   answers SSLRequest with `N`, so `channel_binding=require` (or any `sslmode` from
//!   `require` up) fails against it with a clear error, never silently.
//! * **Missing ReadyForQuery** (legacy error path): every operation has a deadline; when
//!   it passes, the connection is marked broken and refuses work, so one request's
//!   results never shift onto the next.
//! * **Cancel** may close the connection (1.0.1) or do nothing (1.7.3): a connection
//!   closed after a cancel is broken, never reused.
//!
//! # What each release cannot do
//!
//! [`capabilities`] holds the per-release table (ROLLBACK, COPY FROM/TO, cancel, SHOW)
//! and the API refuses what it says does not work with an
//! [`Unsupported`](crate::Error::is_unsupported) error instead of a silent success:
//! `begin` on a release that cannot roll back (opt in with `begin_without_rollback`, whose
//! `rollback` then says nothing was undone), `copy_in`, `copy_out`, and
//! `CancelToken::cancel_query`. The server does not report its release: declare it with
//! [`Config::iris_pgwire_version`](crate::Config::iris_pgwire_version) (URL
//! `iris_pgwire_version=1.7.3`); undeclared, the least any release does is assumed.
//!
//! # IRIS error codes
//!
//! iris-pgwire sends its own SQLSTATE (42000 for every IRIS error on 1.0.x; a partial
//! classification with fallbacks 42000, 08000, XX000 on 1.7.x) and the IRIS SQLCODE in the
//! message. [`DbError::iris_sqlcode`](crate::DbError::iris_sqlcode) reads the SQLCODE,
//! [`DbError::sqlstate_mapped`](crate::DbError::sqlstate_mapped) maps the common ones to
//! PostgreSQL's SQLSTATE through [`SQLCODE_TO_SQLSTATE`] (unique -119/-120 → 23505,
//! foreign key -121…-124 → 23503, not null -108 → 23502, lock timeout -110/-114 → 55P03,
//! no table -30 → 42P01, no column -29 → 42703, syntax -1/-4/-12/-25 → 42601, ...), and
//! `code()` stays what the server sent.
//!
//! # What the server still gets wrong (not fixable by a client)
//!
//! * 1.0.0 to 1.2.28 with the DB-API backend never send BEGIN/COMMIT/ROLLBACK to IRIS:
//!   every statement commits at once (§13). pgline cannot restore transactions; it
//!   refuses them there (see above) rather than report a rollback that did not happen.
//! * `$n`, `?`, `::` inside string literals are rewritten by the server (§5.4): bind
//!   such text as a parameter instead of writing it into the SQL.
//! * Digit-only text parameters lose leading zeros (`'007'` → `7`, §11.30).
//! * Which row of a deferred batch failed is not reported: `execute_many`'s report
//!   attributes the failure to the whole window ([`RowFailure::rows`](crate::conn::RowFailure::rows));
//!   use `Atomicity::EachRow` for exact rows.
//!
//! # pgline and tokio-postgres against iris-pgwire 1.7.3
//!
//! The same everyday operations, each judged by its result, against the published
//! server (`cargo run --release --example iris_compare`; recorded 2026-11-28):
//!
//! | operation | pgline | tokio-postgres 0.7 |
//! |---|---|---|
//! | connect | ok (IRIS profile detected) | ok |
//! | CREATE TABLE | ok | ok |
//! | prepared INSERT with parameters | ok | error serializing parameter 0 (server describes every parameter as `unknown`) |
//! | typed read-back (int, text, double) | ok | error serializing parameter 0 |
//! | 1,000 pipelined inserts | ok | error serializing parameter 0 |
//! | pipelined inserts with a duplicate key | ok (23505, table matches the report) | every row failed |
//! | `SELECT $2 AS a, $1 AS b` | ok | **wrong result** (values swapped) |
//! | repeated placeholder `VALUES ($1, $2, $2)` | ok | error: expected 3 parameters but got 2 |
//! | `SHOW standard_conforming_strings` | ok | ok |
//! | `DEALLOCATE ALL`, then a prepared query | ok | **wrong result** (binary bytes leak into text) |
//! | `DISCARD ALL`, then a prepared query | ok | **wrong result** |
//! | transaction with an error, then COMMIT | ok | ok |
//! | empty query | ok (answered locally) | **hang** |
//! | COPY FROM STDIN (`load` vs `copy_in`) | ok (pipelined inserts) | error 42601 |
//! | COPY TO STDOUT | ok (clean `Unsupported`) | error 42601 |
//! | rows affected by an UPDATE of 3 rows | ok (`None`: unknown) | **wrong result** (1) |
//! | **correct** | **16/16** | **4/16** |
//!
//! Bulk inserts, same server, same run, interleaved, every stored row of both clients read
//! back and compared (the server, single-threaded Python over a sqlite stand-in, is the
//! bottleneck): pgline `execute_many` 2.45× the rows/s of tokio-postgres's pipelined
//! `execute` futures, at 0.33× the client CPU per row (2,000 rows, 2026-12-06; the peer now
//! binds typed `i64`/`f64` values, since the server decodes binary values by their length
//! and an earlier run's figures, 2.14× at 0.39×, came from rows it stored wrong).
//!
//! # The seed's path (psycopg 3.3) against pgline on iris-pgwire 1.7.3
//!
//! `python3 tests/iris/seed_compare.py 10000`: one server, the seed's workload with the
//! seed's workarounds (errors caught and counted), 10,000 `SELECT 1`, a 10,000-row
//! executemany, every stored row read back (recorded 2026-12-06 on a shared 2-vCPU machine
//! under heavy load, so absolute figures are slow; the clients ran one after another):
//!
//! | client | `SELECT 1` p50 µs | p99 µs | executemany rows/s | client CPU µs/row | errors swallowed | rows checked (wrong) |
//! |---|---:|---:|---:|---:|---:|---:|
//! | psycopg sync (default) | 15955 | 41618 | 98 | 34.8 | 2 | 10001 (0) |
//! | psycopg sync (`prepare_threshold=None`) | 15192 | 40007 | 69 | 86.5 | 2 | 10001 (0) |
//! | psycopg async (default) | 20219 | 51993 | 86 | 102.7 | 2 | 10001 (0) |
//! | psycopg async (`prepare_threshold=None`) | 17273 | 52035 | 63 | 184.1 | 2 | 10001 (0) |
//! | pgline | 8002 | 23999 | 761 | 16.0 | 0 | 10001 (0) |
//!
//! pgline's `SELECT 1` p50 is 0.53× the best synchronous psycopg p50 (a simple Query: one
//! execution, no 1 ms sleep; psycopg's Describe runs it twice); its `execute_many` is 7.8×
//! the best executemany (part of that is pgline's one transaction against psycopg's
//! per-row autocommit). psycopg's two swallowed errors are the INFORMATION_SCHEMA
//! fetches, which the server answers without a RowDescription.
//!
//! # Example
//!
//! `examples/iris.rs` connects, bulk loads with `execute_many`, and runs a vector
//! similarity query with [`Vector`](crate::types::Vector):
//!
//! ```text
//! SELECT TOP 3 id FROM docs
//!  ORDER BY VECTOR_COSINE(embedding, TO_VECTOR($1, DOUBLE)) DESC
//! ```

pub mod capabilities;
pub(crate) mod placeholders;
mod quirks;
mod sqlcode;
mod tx;

pub use capabilities::{CancelEffect, Capabilities, IrisPgwireVersion, ParseVersionError};
pub use quirks::Quirks;
pub use sqlcode::{iris_sqlcode, sqlstate_for_sqlcode, SQLCODE_TO_SQLSTATE};
pub use tx::transaction_effect;

/// Logs, once per process at debug level (`log` crate, and `tracing` with that feature),
/// that a ParameterDescription contradicted the statement's own `$n` count and the count
/// won. Only the numbers are logged, never the SQL.
pub(crate) fn note_parameter_count_mismatch(described: usize, placeholders: usize) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static ONCE: AtomicBool = AtomicBool::new(false);
    if ONCE.swap(true, Ordering::Relaxed) {
        return;
    }
    log::debug!(
        target: "pgline",
        "iris-pgwire described {described} parameters for a statement with {placeholders} \
         placeholders; the statement's own count is used (logged once)"
    );
    #[cfg(feature = "tracing")]
    tracing::debug!(
        target: "pgline",
        described,
        placeholders,
        "iris-pgwire described a parameter count that contradicts the statement's $n count; \
         the statement's own count is used (logged once)"
    );
}
