//! Against a real PostgreSQL started by the harness.

mod auth;
mod queries;
mod session;
