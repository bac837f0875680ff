//! Through a real PgBouncer 1.18 in transaction pooling mode, with a pool of one server
//! connection (see `support::pgbouncer`): what works in pgline's pooler-safe mode
//! (`statement_cache_capacity=0`), and the hint the default mode's errors carry.

use pgline::Connection;

use crate::support::pgbouncer::{pgbouncer, TRUST_USER};

/// A connection through the shared PgBouncer, with `extra` URL parameters.
async fn through_bouncer(extra: &str) -> Connection {
    let url = pgbouncer().url(TRUST_USER, "postgres", extra);
    Connection::connect_str(&url)
        .await
        .unwrap_or_else(|e| panic!("connect through pgbouncer ({url}): {e}"))
}

/// A connection in pooler-safe mode through the shared PgBouncer.
async fn pooler_safe() -> Connection {
    through_bouncer("statement_cache_capacity=0").await
}

#[tokio::test]
async fn two_clients_share_the_one_server_connection_of_the_pool() {
    let mut a = pooler_safe().await;
    let mut b = pooler_safe().await;
    let pid = |rows: Vec<pgline::Row>| -> i32 { rows[0].get(0).unwrap() };
    let pa = pid(a.query("SELECT pg_backend_pid()", &[]).await.unwrap());
    let pb = pid(b.query("SELECT pg_backend_pid()", &[]).await.unwrap());
    // Both clients are connected at once, yet run on the same backend: transaction pooling.
    assert_eq!(pa, pb, "log:\n{}", pgbouncer().log());
}
