//! pgline: a PostgreSQL wire-protocol (v3) client for tokio.
//!
//! (Crate documentation grows with the crate: see README.md.)
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod protocol;
