//! Against a real PostgreSQL started by the harness.

mod auth;
mod bulk;
mod cache;
mod copy_binary;
mod parallel;
mod pipeline;
mod queries;
mod session;
mod statements;
#[cfg(feature = "rustls")]
mod tls;
mod truth;
mod unnest;
