//! Connections: the sans-IO [`Session`] (startup, authentication, the expectation queue
//! and every protocol flow) and the thin tokio driver around it ([`Connection`]).
//!
//! Only `driver/` performs IO or awaits; everything else here is a pure state machine
//! that can be driven byte by byte in tests and fuzzers.

pub(crate) mod auth;
pub(crate) mod bulk;
pub mod config;
pub mod copy_binary;
#[cfg(feature = "runtime")]
mod driver;
pub(crate) mod event;
pub(crate) mod flow;
pub mod options;
pub(crate) mod params;
pub(crate) mod pgpass;
pub mod protocol_version;
pub(crate) mod row;
pub mod service;
pub(crate) mod session;
mod startup;
pub(crate) mod statement;
pub mod tls;

pub use auth::{tls_server_end_point, CertificateHashError};
pub use bulk::{
    Atomicity, ExecuteManyOptions, LoadError, LoadMethod, LoadReport, RowFailure, DEFAULT_IO_TICK,
};
pub use config::{
    AuthPolicy, Config, Keepalives, LoadBalanceHosts, ProfileChoice, TargetSessionAttrs,
    DEFAULT_QUERY_TIMEOUT,
};
#[cfg(feature = "runtime")]
pub use driver::{
    execute_many_parallel, load_parallel, quote_ident, BinaryCopyWriter, CancelToken, ChunkReport,
    Connection, Connections, CopyIn, CopyOut, LoadMode, Notification, ParallelLoadError,
    ParallelOptions, ParallelReport, Pipeline, PipelineOutput, RowStream, SimpleQueryResult,
    Socket, StatementRef, Transaction,
};
pub use event::{Event, Expect, Item};
pub use params::Params;
pub use protocol_version::{ProtocolRange, ProtocolVersion};
pub use row::{Column, Row, RowIndex, SimpleRow};
pub use session::{Session, SessionConfig, StartupStatus, TlsStart};
pub use statement::Statement;
pub use tls::{ChannelBindingMode, RootCert, SslMode, SslNegotiation, TlsSettings};

#[cfg(test)]
mod tests;
