//! What the session expects next ([`Expect`]) and what it tells the driver ([`Event`]).

use bytes::Bytes;

use crate::error::{DbError, Error};
use crate::protocol::backend::{
    CommandComplete, CopyResponse, DataRow, NotificationResponse, ParameterDescription,
    RowDescription, TransactionStatus,
};

/// Identifies one request (a statement in a flight, a simple query, a sync window). Chosen
/// by the caller, increasing.
pub type Item = u64;

/// One expected server response, pushed when the matching frontend message is encoded.
/// The queue of these *is* the pipeline state: the encoder is the single source of truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expect {
    /// Parse → ParseComplete.
    ParseComplete(Item),
    /// Bind → BindComplete.
    BindComplete(Item),
    /// Describe('S'), first answer → ParameterDescription.
    ParameterDescription(Item),
    /// Describe('S') second answer, or Describe('P') → RowDescription or NoData.
    RowDescription(Item),
    /// Execute → DataRow* then CommandComplete, EmptyQueryResponse or PortalSuspended.
    /// `columns` is the row shape known from an earlier Describe, if any.
    Execute {
        /// The statement.
        item: Item,
        /// Expected DataRow field count, when known.
        columns: Option<u16>,
    },
    /// Close → CloseComplete.
    CloseComplete(Item),
    /// Query → any results, then ReadyForQuery (consumed by this expectation).
    SimpleQuery {
        /// The query.
        item: Item,
        /// Whether COPY sub-protocol responses are wanted (else refused with CopyFail).
        allow_copy: bool,
    },
    /// Sync → ReadyForQuery.
    Sync(Item),
    /// `count` Bind/Execute pairs for the consecutive items `first..first + count`, each
    /// answered by BindComplete then CommandComplete: the bulk path's rows in one entry
    /// instead of two per row. Matched exactly like the expanded sequence
    /// `BindComplete(first), Execute { first, None }, BindComplete(first + 1), …`;
    /// `bound` says the first pair's BindComplete has already arrived. The events differ
    /// only in shorthand: no BindComplete events, and rows that complete are reported
    /// together as [`Event::CompleteRun`]; failures, aborts and rows are per item.
    BindExecuteRun {
        /// The first row's item.
        first: Item,
        /// How many rows (at least 1).
        count: u64,
        /// Whether the first row's BindComplete has arrived.
        bound: bool,
    },
}

impl Expect {
    /// The request this expectation belongs to.
    pub fn item(&self) -> Item {
        match *self {
            Self::ParseComplete(i)
            | Self::BindComplete(i)
            | Self::ParameterDescription(i)
            | Self::RowDescription(i)
            | Self::CloseComplete(i)
            | Self::Sync(i)
            | Self::Execute { item: i, .. }
            | Self::SimpleQuery { item: i, .. }
            | Self::BindExecuteRun { first: i, .. } => i,
        }
    }

    /// The single expectation this one stands for first: a run's next BindComplete or
    /// Execute; any other expectation itself.
    #[inline]
    pub fn head(&self) -> Self {
        match *self {
            Self::BindExecuteRun {
                first,
                bound: false,
                ..
            } => Self::BindComplete(first),
            Self::BindExecuteRun {
                first, bound: true, ..
            } => Self::Execute {
                item: first,
                columns: None,
            },
            e => e,
        }
    }

    /// What is left after [`head`](Self::head) is answered: `None` when nothing is (every
    /// expectation but a run with more to come).
    #[inline]
    pub fn after_head(&self) -> Option<Self> {
        match *self {
            Self::BindExecuteRun {
                first,
                count,
                bound: false,
            } => Some(Self::BindExecuteRun {
                first,
                count,
                bound: true,
            }),
            Self::BindExecuteRun {
                first,
                count,
                bound: true,
            } if count > 1 => Some(Self::BindExecuteRun {
                first: first + 1,
                count: count - 1,
                bound: false,
            }),
            _ => None,
        }
    }

    /// The single expectations this one stands for, in order.
    pub fn expand(self) -> impl Iterator<Item = Self> {
        std::iter::successors(Some(self), Self::after_head).map(|e| e.head())
    }

    /// What the server should send next, for "expected X, got Y" errors.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::ParseComplete(_) => "ParseComplete",
            Self::BindComplete(_) => "BindComplete",
            Self::ParameterDescription(_) => "ParameterDescription",
            Self::RowDescription(_) => "RowDescription or NoData",
            Self::Execute { .. } => {
                "DataRow, CommandComplete, EmptyQueryResponse or PortalSuspended"
            }
            Self::CloseComplete(_) => "CloseComplete",
            Self::SimpleQuery { .. } => "a query result or ReadyForQuery",
            Self::Sync(_) => "ReadyForQuery",
            Self::BindExecuteRun { bound: false, .. } => "BindComplete",
            Self::BindExecuteRun { bound: true, .. } => {
                "DataRow, CommandComplete, EmptyQueryResponse or PortalSuspended"
            }
        }
    }

    /// Whether this expectation ends a sync window (is answered by ReadyForQuery).
    pub fn is_sync_point(&self) -> bool {
        matches!(self, Self::Sync(_) | Self::SimpleQuery { .. })
    }
}

/// An output of the session, in server order.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// ParseComplete for a statement.
    ParseComplete(Item),
    /// BindComplete for a statement.
    BindComplete(Item),
    /// Parameter types from Describe('S').
    ParameterDescription(Item, ParameterDescription),
    /// Row shape of a statement's result.
    RowDescription(Item, RowDescription),
    /// The statement returns no rows.
    NoData(Item),
    /// One row.
    Row(Item, DataRow),
    /// A statement completed. `None` when the server omitted CommandComplete (IRIS).
    Complete(Item, Option<CommandComplete>),
    /// `n` consecutive rows of a [`Expect::BindExecuteRun`] from `first` completed with a
    /// CommandComplete (their tags are not kept; rows a statement returned came before
    /// as [`Event::Row`]). Rows that end any other way (an error, a missing
    /// CommandComplete, an empty query, a suspended portal) get the per-item events.
    CompleteRun(Item, u64),
    /// An empty query string completed.
    EmptyQuery(Item),
    /// Execute's row limit was reached; Execute again for more.
    PortalSuspended(Item),
    /// CloseComplete.
    CloseComplete(Item),
    /// The request failed. For a sync-window item this is an error reported at Sync
    /// (e.g. a deferred constraint, or iris-pgwire's deferred DML error).
    Failed(Item, Error),
    /// Not run: an earlier item in the same sync window failed (PostgreSQL skips to Sync).
    Aborted(Item),
    /// The server is ready to receive COPY data.
    CopyIn(Item, CopyResponse),
    /// The server is about to send COPY data.
    CopyOut(Item, CopyResponse),
    /// COPY data from the server.
    CopyData(Item, Bytes),
    /// End of COPY data from the server.
    CopyDone(Item),
    /// ReadyForQuery ending a sync window or a simple query.
    Ready(Item, TransactionStatus),
    /// A NoticeResponse (never a response to anything).
    Notice(Box<DbError>),
    /// A NotificationResponse (LISTEN/NOTIFY).
    Notification(NotificationResponse),
    /// A ParameterStatus after startup (the session also records it).
    ParameterStatus(String, String),
}
