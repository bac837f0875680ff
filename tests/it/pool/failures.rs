//! Connect failures (issue 15, point 7): authentication and missing-database errors come
//! back from `get` at once, with the server's error, not after the acquire timeout; a task
//! waiting out the reconnect backoff takes a connection that another task returns.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pgline::cluster::{MD5_USER, MD5_USER_PW, SCRAM_USER, SSLONLY_DB};
use pgline::conn::SslMode;
use pgline::pool::{Pool, PoolConfig};
use pgline::Config;

use super::{eventually, pid, pool_config};
use crate::support::conn::config;

/// Retrying for the whole acquire timeout would take this long ...
const ACQUIRE: Duration = Duration::from_secs(30);
/// ... and a failure returned at once comes back well within this.
const AT_ONCE: Duration = Duration::from_secs(10);

/// `get` on a fresh pool for `conn` with a 30 s acquire timeout: its error, and how long
/// it took.
async fn first_get_error(conn: Config) -> (pgline::Error, Duration, Pool) {
    let pool = Pool::new(PoolConfig::new(conn).acquire_timeout(ACQUIRE)).unwrap();
    let t = Instant::now();
    let e = pool.get().await.expect_err("get must fail");
    (e, t.elapsed(), pool)
}

#[tokio::test]
async fn a_wrong_password_fails_get_at_once_with_the_servers_28p01() {
    let (e, took, pool) = first_get_error(config(SCRAM_USER, Some("wrong"))).await;
    assert!(!e.is_pool_timeout(), "{e:?}");
    assert_eq!(e.code(), Some("28P01"), "{e:?}");
    assert!(took < AT_ONCE, "{took:?}");
    assert_eq!(pool.status().connect_failures, 1, "{:?}", pool.status());
}

#[tokio::test]
async fn a_wrong_password_fails_every_later_get_at_once_too() {
    let pool = Pool::new(
        PoolConfig::new(config(SCRAM_USER, Some("wrong")))
            .acquire_timeout(ACQUIRE)
            .backoff(ACQUIRE, ACQUIRE),
    )
    .unwrap();
    // Authentication failures do not feed the reconnect backoff: a 30 s backoff would
    // otherwise hold up the later calls.
    let t = Instant::now();
    for _ in 0..3 {
        let e = pool.get().await.expect_err("wrong password");
        assert_eq!(e.code(), Some("28P01"), "{e:?}");
    }
    assert!(t.elapsed() < AT_ONCE, "{:?}", t.elapsed());
}

#[tokio::test]
async fn a_database_that_does_not_exist_fails_get_at_once_with_3d000() {
    let mut conn = config("postgres", None);
    conn.dbname("pgline_no_such_database");
    let (e, took, _pool) = first_get_error(conn).await;
    assert!(!e.is_pool_timeout(), "{e:?}");
    assert_eq!(e.code(), Some("3D000"), "{e:?}");
    assert!(took < AT_ONCE, "{took:?}");
}

#[tokio::test]
async fn a_pg_hba_rejection_fails_get_at_once_with_28000() {
    let mut conn = config("postgres", None);
    conn.dbname(SSLONLY_DB).ssl_mode(SslMode::Disable);
    let (e, took, _pool) = first_get_error(conn).await;
    assert!(!e.is_pool_timeout(), "{e:?}");
    assert_eq!(e.code(), Some("28000"), "{e:?}");
    assert!(took < AT_ONCE, "{took:?}");
}

#[tokio::test]
async fn a_client_side_auth_refusal_fails_get_at_once() {
    let mut conn = config(MD5_USER, Some(MD5_USER_PW));
    conn.set("require_auth", "scram-sha-256").unwrap();
    let (e, took, _pool) = first_get_error(conn).await;
    assert!(e.is_auth(), "{e:?}");
    assert!(took < AT_ONCE, "{took:?}");
}

#[tokio::test]
async fn a_task_sleeping_in_backoff_takes_a_connection_another_task_returns() {
    // The hook fails every new connection once `failing` is set: a retryable error (the
    // server's 22012), so the second get() backs off, for a minute.
    let failing = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&failing);
    let (cfg, _) = pool_config();
    let pool = Pool::new(
        cfg.max_size(2)
            .acquire_timeout(ACQUIRE)
            .backoff(Duration::from_secs(60), Duration::from_secs(60))
            .after_connect(move |conn| {
                let fail = flag.load(Ordering::SeqCst);
                Box::pin(async move {
                    if fail {
                        conn.batch_execute("SELECT 1/0").await
                    } else {
                        Ok(())
                    }
                })
            }),
    )
    .unwrap();
    let mut first = pool.get().await.unwrap();
    let first_pid = pid(&mut first).await;
    failing.store(true, Ordering::SeqCst);

    let p = pool.clone();
    let t = Instant::now();
    let second = tokio::spawn(async move {
        let mut c = p.get().await?;
        Ok::<_, pgline::Error>(pid(&mut c).await)
    });
    // The second get() has failed to connect and is now sleeping out its backoff.
    assert!(
        eventually(AT_ONCE, || pool.status().connect_failures >= 1).await,
        "{:?}",
        pool.status()
    );
    drop(first);
    let got = tokio::time::timeout(AT_ONCE, second)
        .await
        .expect("woken by the returned connection, not by the end of its backoff")
        .unwrap()
        .expect("the returned connection");
    assert_eq!(got, first_pid);
    assert!(t.elapsed() < AT_ONCE, "{:?}", t.elapsed());
    assert_eq!(pool.status().connect_failures, 1, "{:?}", pool.status());
}

#[tokio::test]
async fn backoff_carries_over_from_one_get_to_the_next() {
    // Every new connection fails (retryably). A first get() times out after one or more
    // attempts; a second get() right after must wait out the backoff the pool is in
    // rather than start again from zero with an immediate attempt.
    let (cfg, _) = pool_config();
    let pool = Pool::new(
        cfg.acquire_timeout(Duration::from_millis(300))
            .backoff(Duration::from_secs(60), Duration::from_secs(60))
            .after_connect(|conn| Box::pin(async move { conn.batch_execute("SELECT 1/0").await })),
    )
    .unwrap();
    let e = pool.get().await.unwrap_err();
    assert!(e.is_pool_timeout(), "{e:?}");
    assert_eq!(pool.status().connect_failures, 1, "{:?}", pool.status());
    let e = pool.get().await.unwrap_err();
    assert!(e.is_pool_timeout(), "{e:?}");
    assert_eq!(
        pool.status().connect_failures,
        1,
        "no new attempt during the backoff: {:?}",
        pool.status()
    );
}

#[tokio::test]
async fn a_task_sleeping_in_backoff_fails_with_pool_closed_when_the_pool_closes() {
    let (cfg, _) = pool_config();
    let pool = Pool::new(
        cfg.acquire_timeout(ACQUIRE)
            .backoff(Duration::from_secs(60), Duration::from_secs(60))
            .after_connect(|conn| Box::pin(async move { conn.batch_execute("SELECT 1/0").await })),
    )
    .unwrap();
    let p = pool.clone();
    let waiter = tokio::spawn(async move { p.get().await.map(drop) });
    assert!(
        eventually(AT_ONCE, || pool.status().connect_failures >= 1).await,
        "{:?}",
        pool.status()
    );
    pool.close().await.unwrap();
    let e = tokio::time::timeout(AT_ONCE, waiter)
        .await
        .expect("woken by close, not by the end of its backoff")
        .unwrap()
        .unwrap_err();
    assert!(e.is_pool_closed(), "{e:?}");
}
