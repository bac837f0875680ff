//! Against a real PostgreSQL started by the harness.

mod auth;
mod bulk;
mod cache;
mod copy_binary;
mod failover;
mod parallel;
mod pgbouncer;
mod pipeline;
mod protocol32;
mod queries;
mod session;
mod statements;
#[cfg(feature = "rustls")]
mod tls;
mod truth;
mod unnest;
