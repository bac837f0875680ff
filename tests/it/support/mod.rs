//! Shared integration-test support: the real PostgreSQL server the tests run against.
//!
//! By default one [`TempCluster`] is started per test binary (on first use) and cleaned up
//! by its watchdog when the binary exits. Set `PGLINE_TEST_PG_PORT` (and optionally
//! `PGLINE_TEST_PG_HOST`, default `127.0.0.1`) to run against an existing server instead;
//! that server must have the roles from `tests/setup-roles.sql` and the same `pg_hba.conf`
//! methods. Tests that need to own the server (its log, `pg_ctl`) call [`cluster`], which
//! panics in that mode. Nothing is ever skipped: if the cluster cannot start, we panic with
//! the reason.
#![allow(dead_code, unreachable_pub)]

pub mod conn;
pub mod fake_server;
pub mod iris;
pub mod proxy;

use pgline::cluster::{ClusterOptions, TempCluster};
use std::sync::OnceLock;

/// The server under test: either owned by this binary or an external one.
pub struct TestServer {
    host: String,
    port: u16,
    local: Option<TempCluster>,
}

impl TestServer {
    /// Host to connect to over TCP.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://user[:pw]@host:port/db`, percent-encoded.
    pub fn url(&self, user: &str, password: Option<&str>, dbname: &str) -> String {
        match &self.local {
            Some(c) => c.url(user, password, dbname),
            None => {
                let enc = |s: &str| {
                    s.bytes()
                        .map(|b| {
                            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                                char::from(b).to_string()
                            } else {
                                format!("%{b:02X}")
                            }
                        })
                        .collect::<String>()
                };
                let pw = password.map(|p| format!(":{}", enc(p))).unwrap_or_default();
                format!(
                    "postgres://{}{pw}@{}:{}/{}",
                    enc(user),
                    self.host,
                    self.port,
                    enc(dbname)
                )
            }
        }
    }

    /// The harness-owned cluster, if this binary started one.
    pub fn local(&self) -> Option<&TempCluster> {
        self.local.as_ref()
    }
}

/// The server under test, started on first use.
pub fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        if let Ok(port) = std::env::var("PGLINE_TEST_PG_PORT") {
            let port = port
                .parse()
                .unwrap_or_else(|e| panic!("PGLINE_TEST_PG_PORT={port:?} is not a port: {e}"));
            let host = std::env::var("PGLINE_TEST_PG_HOST").unwrap_or_else(|_| "127.0.0.1".into());
            return TestServer {
                host,
                port,
                local: None,
            };
        }
        let c = start_cluster();
        TestServer {
            host: c.host().to_owned(),
            port: c.port(),
            local: Some(c),
        }
    })
}

/// The harness-owned cluster. Panics (never skips) when `PGLINE_TEST_PG_PORT` points the
/// tests at an external server, because the caller needs to own the server.
pub fn cluster() -> &'static TempCluster {
    server().local().unwrap_or_else(|| {
        panic!(
            "this test needs the harness-owned cluster (server log / pg_ctl); \
             unset PGLINE_TEST_PG_PORT to run it"
        )
    })
}

/// Starts a fresh cluster owned by the caller (for tests that stop or restart it).
pub fn start_cluster() -> TempCluster {
    TempCluster::start(ClusterOptions::default())
        .unwrap_or_else(|e| panic!("could not start the PostgreSQL test cluster: {e}"))
}
