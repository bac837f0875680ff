//! Integration tests: one binary, modules below. Real-server tests run against a
//! throwaway PostgreSQL cluster the harness starts itself (see `support`).

mod blocking;
#[cfg(feature = "cli")]
mod cli;
mod cluster;
mod corpus;
mod deadlines;
mod fake;
mod iris;
mod pg;
mod pool;
mod support;
#[cfg(feature = "tracing")]
mod tracing;
mod types;
