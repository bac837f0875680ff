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
            | Self::SimpleQuery { item: i, .. } => i,
        }
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
