//! Integration tests: one binary, modules below. Real-server tests run against a
//! throwaway PostgreSQL cluster the harness starts itself (see `support`).

mod cluster;
mod corpus;
mod fake;
mod pg;
mod support;
