//! Connecting to the test cluster.

use pgline::{Config, Connection};

/// A config for `user` on the shared test cluster.
pub fn config(user: &str, password: Option<&str>) -> Config {
    let c = super::server();
    let mut cfg = Config::new();
    cfg.host(c.host())
        .port(c.port())
        .user(user)
        .dbname("postgres");
    if let Some(p) = password {
        cfg.password(p);
    }
    cfg
}

/// A superuser connection (trust over 127.0.0.1).
pub async fn connect() -> Connection {
    Connection::connect(&config("postgres", None))
        .await
        .expect("connect as postgres")
}

/// A fresh table name, unique within the run.
pub fn table(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
