//! The pool (issue 6) against the real PostgreSQL, directly and through the fault proxy.
//! Checklist groups H (transport faults) and J (pool) each have a test named after the
//! item, in `checklist.rs`.

mod checklist;
mod failures;
mod hygiene;
mod lifecycle;
mod load;
mod restart;

use std::time::Duration;

use pgline::pool::PoolConfig;
use pgline::Config;

use crate::support::conn::{config, table};
use crate::support::proxy::Proxy;

/// A pool config for the shared server, with an application_name unique to this pool
/// (so a test can find and terminate exactly its backends).
pub(crate) fn pool_config() -> (PoolConfig, String) {
    let app = table("pool");
    let mut c = config("postgres", None);
    c.application_name(app.clone());
    (PoolConfig::new(c), app)
}

/// The same through a proxy.
pub(crate) fn proxied(proxy: &Proxy) -> (PoolConfig, String) {
    let app = table("poolp");
    let mut c = Config::new();
    c.host("127.0.0.1")
        .port(proxy.port())
        .user("postgres")
        .dbname("postgres")
        .application_name(app.clone());
    (PoolConfig::new(c), app)
}

pub(crate) async fn start_proxy() -> Proxy {
    let s = crate::support::server();
    Proxy::start(s.host(), s.port()).await
}

/// The backend process id.
pub(crate) use crate::support::conn::backend_pid as pid;

/// Backends of `app` right now.
pub(crate) async fn backends(app: &str) -> i64 {
    let mut a = crate::support::conn::connect().await;
    a.query_one(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
        &[&app],
    )
    .await
    .unwrap()
    .get(0)
    .unwrap()
}

/// Terminates every backend of `app` and waits until they are gone.
pub(crate) async fn terminate_all(app: &str) -> i64 {
    let mut a = crate::support::conn::connect().await;
    let n: i64 = a
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .unwrap()
        .get(0)
        .unwrap();
    for _ in 0..200 {
        if backends(app).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Let the reactor see the FATAL + FIN on the pooled sockets.
    tokio::time::sleep(Duration::from_millis(50)).await;
    n
}

/// Polls `f` until it is true or `within` passes.
pub(crate) async fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + within;
    loop {
        if f() {
            return true;
        }
        if tokio::time::Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
