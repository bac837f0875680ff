//! Shared integration-test support: the real PostgreSQL server the tests run against.
//!
//! By default one [`TempCluster`] is started per test binary (on first use) and cleaned up
//! by its watchdog when the binary exits. Set `PGLINE_TEST_PG_PORT` (and optionally
//! `PGLINE_TEST_PG_HOST`, default `127.0.0.1`) to run against an existing server instead;
//! that server must have the roles from `tests/setup-roles.sql` and the same `pg_hba.conf`
//! methods. Tests that need to own the server (its log, `pg_ctl`) call [`cluster`], which
//! panics in that mode. Nothing is ever skipped: if the cluster cannot start, we panic with
//! the reason.
//!
//! TLS: [`DEFAULT_SERVER_TLS`] decides whether that cluster serves TLS (with the
//! certificates from [`tls::tls_files`]). Whichever it is, [`tls_server`] and
//! [`plain_server`] give a harness-owned cluster with and without `ssl = on`, starting an
//! extra one only when the default is not of that kind; [`expired_tls_server`] is always an
//! extra one. All have the same roles and `pg_hba.conf`.
#![allow(dead_code, unreachable_pub)]

pub mod conn;
pub mod fake_server;
pub mod iris;
pub mod pg18;
pub mod pgbouncer;
pub mod proxy;
pub mod tls;

use pgline::cluster::{ClusterOptions, ClusterTls, TempCluster};
use std::sync::OnceLock;

/// Whether the default harness-owned cluster ([`server`], [`cluster`]) runs with `ssl = on`.
/// Flip to `true` once the driver speaks TLS.
pub const DEFAULT_SERVER_TLS: bool = true;

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
        let c = if DEFAULT_SERVER_TLS {
            start_cluster_with_tls()
        } else {
            start_cluster()
        };
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

/// Starts a fresh cluster owned by the caller that serves TLS with the test server
/// certificate (SAN `localhost` only) and trusts the test CA for client certificates.
pub fn start_cluster_with_tls() -> TempCluster {
    start_cluster_with(tls::tls_files().server_tls())
}

/// A harness-owned cluster with `ssl = on` (server certificate and client CA as in
/// [`start_cluster_with_tls`]): the default cluster when [`DEFAULT_SERVER_TLS`] is set and
/// the tests own it, otherwise an extra one shared by the tests that ask, started on
/// first use.
pub fn tls_server() -> &'static TempCluster {
    static EXTRA: OnceLock<TempCluster> = OnceLock::new();
    // Without the flag, don't start the default cluster just to find it is plain.
    match DEFAULT_SERVER_TLS.then(|| server().local()).flatten() {
        Some(c) => c,
        None => EXTRA.get_or_init(start_cluster_with_tls),
    }
}

/// A harness-owned cluster without TLS (it answers `N` to SSLRequest): the default cluster
/// unless [`DEFAULT_SERVER_TLS`] is set or the tests run against an external server,
/// otherwise an extra one shared by the tests that ask, started on first use.
pub fn plain_server() -> &'static TempCluster {
    static EXTRA: OnceLock<TempCluster> = OnceLock::new();
    match (!DEFAULT_SERVER_TLS).then(|| server().local()).flatten() {
        Some(c) => c,
        None => EXTRA.get_or_init(start_cluster),
    }
}

/// A shared extra cluster with `ssl = on` whose server certificate (same CA, SAN
/// `localhost` and `127.0.0.1`) expired a year ago; started on first use.
pub fn expired_tls_server() -> &'static TempCluster {
    static EXTRA: OnceLock<TempCluster> = OnceLock::new();
    EXTRA.get_or_init(|| start_cluster_with(tls::tls_files().expired_server_tls()))
}

fn start_cluster_with(tls: &ClusterTls) -> TempCluster {
    TempCluster::start(ClusterOptions {
        tls: Some(tls.clone()),
        ..ClusterOptions::default()
    })
    .unwrap_or_else(|e| panic!("could not start the PostgreSQL test cluster with TLS: {e}"))
}
