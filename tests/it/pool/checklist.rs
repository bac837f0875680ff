//! Reliability checklist groups H (transport faults) and J (pool): one test per item,
//! named after it (J5-J7 are in `lifecycle.rs`).

use std::time::{Duration, Instant};

use pgline::pool::Pool;
use pgline::protocol::backend::TransactionStatus;

use super::{pid, pool_config, proxied, start_proxy, terminate_all};
use crate::support::conn::assert_answers;
use crate::support::proxy::Mode;

const BIG: &str = "SELECT g, repeat('x', 100) FROM generate_series(1, 100000) g";

/// H1/H2: a fault in the middle of a result fails the query (no partial result passed off
/// as complete), breaks the connection, the pool evicts it, and the next get is fresh.
async fn fault_mid_result(mode: Mode) {
    let proxy = start_proxy().await;
    let (cfg, _) = proxied(&proxy);
    let pool = Pool::new(cfg.max_size(1)).unwrap();
    let mut c = pool.get().await.unwrap();
    let before = pid(&mut c).await;
    proxy.set_mode(mode);
    let t = Instant::now();
    let e = c.query(BIG, &[]).await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(e.breaks_connection(), "{e:?}");
    assert!(c.is_broken());
    // A streamed read ends with an error too, never a silent None.
    drop(c);
    assert_eq!(pool.status().closed.broken, 1);
    assert_eq!(pool.status().size, 0);
    proxy.set_mode(Mode::Pass);
    let mut c = pool.get().await.unwrap();
    assert_ne!(pid(&mut c).await, before);
}

#[tokio::test]
async fn h1_server_fin_partway_through_a_result_fails_the_query_and_the_pool_evicts_it() {
    fault_mid_result(Mode::Cut(64 * 1024)).await;
}

#[tokio::test]
async fn h2_rst_partway_through_a_result_fails_the_query_and_the_pool_evicts_it() {
    fault_mid_result(Mode::Rst(64 * 1024)).await;
}

#[tokio::test]
async fn h1_a_row_stream_cut_partway_ends_with_an_error_not_none() {
    let proxy = start_proxy().await;
    let (cfg, _) = proxied(&proxy);
    let pool = Pool::new(cfg.max_size(1)).unwrap();
    let mut c = pool.get().await.unwrap();
    proxy.set_mode(Mode::Cut(64 * 1024));
    let mut rows = 0;
    let end = {
        let mut s = c.query_stream(BIG, &[], 0).await.unwrap();
        loop {
            match s.next().await {
                Ok(Some(_)) => rows += 1,
                other => break other,
            }
        }
    };
    assert!(end.is_err(), "stream ended with {end:?} after {rows} rows");
    assert!(rows < 100_000);
    drop(c);
    assert_eq!(pool.status().closed.broken, 1);
}

#[tokio::test]
async fn h3_a_terminated_backend_fails_its_query_and_the_next_get_is_a_new_connection() {
    let (cfg, app) = pool_config();
    let pool = Pool::new(cfg.max_size(1)).unwrap();
    let mut c = pool.get().await.unwrap();
    let before = pid(&mut c).await;
    let killer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        terminate_all(&app).await
    });
    let e = c.batch_execute("SELECT pg_sleep(5)").await.unwrap_err();
    assert!(
        e.code() == Some("57P01") || e.is_closed() || e.breaks_connection(),
        "{e:?}"
    );
    assert!(c.is_broken());
    assert_eq!(killer.await.unwrap(), 1);
    drop(c);
    let mut c = pool.get().await.unwrap();
    assert_ne!(pid(&mut c).await, before);
    assert_eq!(pool.status().closed.broken, 1);
}

#[tokio::test]
async fn h4_blackhole_queries_and_get_time_out_within_their_deadlines() {
    let proxy = start_proxy().await;
    let (cfg, _) = proxied(&proxy);
    let mut conn = cfg.connection_config().clone();
    conn.query_timeout(Some(Duration::from_millis(300)));
    let acquire = Duration::from_millis(500);
    let pool = Pool::new(
        pgline::pool::PoolConfig::new(conn)
            .max_size(2)
            .acquire_timeout(acquire)
            .connect_timeout(Duration::from_millis(200)),
    )
    .unwrap();
    let mut c = pool.get().await.unwrap();
    proxy.set_mode(Mode::Blackhole);
    let t = Instant::now();
    let e = c.query_one("SELECT 1", &[]).await.unwrap_err();
    let took = t.elapsed();
    assert!(e.is_timeout(), "{e:?}");
    // The deadline, then at most the cancel-and-drain grace (1 s for a deadline this
    // short), which a blackhole never satisfies: the connection is then broken.
    assert!(took < Duration::from_millis(300 + 1000 + 250), "{took:?}");
    assert!(c.is_broken());
    drop(c);

    // New connections disappear into the blackhole: get() fails at its deadline.
    let t = Instant::now();
    let e = pool.get().await.unwrap_err();
    let took = t.elapsed();
    assert!(e.is_pool_timeout() && e.is_timeout(), "{e:?}");
    assert!(
        took >= acquire && took < acquire + Duration::from_millis(250),
        "{took:?}"
    );
    let s = pool.status();
    assert!(s.timeouts >= 1 && s.closed.broken == 1, "{s:?}");

    // close() is bounded too: the blackholed socket cannot make it hang.
    proxy.set_mode(Mode::Pass);
    let t = Instant::now();
    pool.close().await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn h5_a_listener_that_never_answers_hits_the_connect_timeout_and_the_acquire_deadline() {
    // Accepted by the kernel (backlog) but never served.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut conn = pgline::Config::new();
    conn.host("127.0.0.1").port(port).user("postgres");
    let pool = Pool::new(
        pgline::pool::PoolConfig::new(conn)
            .acquire_timeout(Duration::from_millis(400))
            .connect_timeout(Duration::from_millis(100)),
    )
    .unwrap();
    let t = Instant::now();
    let e = pool.get().await.unwrap_err();
    let took = t.elapsed();
    assert!(e.is_pool_timeout(), "{e:?}");
    assert!(took < Duration::from_millis(400 + 250), "{took:?}");
    let s = pool.status();
    assert!(
        s.connect_failures >= 2,
        "connect timeout fired and retried: {s:?}"
    );
    drop(listener);
}

#[tokio::test]
async fn h6_the_server_closing_an_idle_pooled_connection_is_detected_on_checkout_without_a_ping() {
    let proxy = start_proxy().await;
    let (cfg, _) = proxied(&proxy);
    let pool = Pool::new(cfg.max_size(2).ping_after_idle(None)).unwrap();
    let mut a = pool.get().await.unwrap();
    let mut b = pool.get().await.unwrap();
    let pa = pid(&mut a).await;
    let pb = pid(&mut b).await;
    drop((a, b));
    proxy.set_mode_existing(Mode::Rst(0));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut c = pool.get().await.unwrap();
    let p = pid(&mut c).await;
    assert!(p != pa && p != pb);
    let s = pool.status();
    assert_eq!(s.closed.broken, 2, "{s:?}");
    assert_eq!(s.closed.health_check, 0, "no ping was needed: {s:?}");
}

#[tokio::test]
async fn j1_a_broken_connection_is_destroyed_on_return() {
    let (cfg, app) = pool_config();
    let pool = Pool::new(cfg.max_size(1)).unwrap();
    let mut c = pool.get().await.unwrap();
    terminate_all(&app).await;
    assert!(c.query_one("SELECT 1", &[]).await.is_err());
    assert!(c.is_broken());
    drop(c);
    let s = pool.status();
    assert_eq!((s.size, s.idle, s.closed.broken), (0, 0, 1), "{s:?}");
}

#[tokio::test]
async fn j1_a_busy_connection_running_a_long_query_is_cancelled_drained_and_reused() {
    let (cfg, app) = pool_config();
    let pool = Pool::new(cfg.max_size(1)).unwrap();
    let mut c = pool.get().await.unwrap();
    let before = pid(&mut c).await;
    // Dropped mid-query; waiting it out would take 30 s.
    let r = tokio::time::timeout(
        Duration::from_millis(50),
        c.batch_execute("BEGIN; SELECT pg_sleep(30)"),
    )
    .await;
    assert!(r.is_err());
    drop(c);
    let t = Instant::now();
    let mut c = pool.get().await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(
        pid(&mut c).await,
        before,
        "cancelled and reused, not replaced"
    );
    assert_eq!(c.transaction_status(), TransactionStatus::Idle);
    let r = c.query_one("SELECT 8", &[]).await.unwrap();
    assert_eq!(
        r.get::<i32>(0).unwrap(),
        8,
        "the late cancel did not hit this query"
    );
    assert_eq!(pool.status().closed.total(), 0);
    drop(c);
    // The server is not still sleeping for us.
    let mut a = crate::support::conn::connect().await;
    let n: i64 = a
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND query LIKE '%pg_sleep(30)%' AND state = 'active'",
            &[&app],
        )
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn j1_a_busy_connection_that_cannot_be_drained_in_time_is_destroyed() {
    let proxy = start_proxy().await;
    let (cfg, _) = proxied(&proxy);
    let pool = Pool::new(cfg.max_size(1).reset_timeout(Duration::from_millis(300))).unwrap();
    let mut c = pool.get().await.unwrap();
    let before = pid(&mut c).await;
    let r = tokio::time::timeout(
        Duration::from_millis(50),
        c.batch_execute("SELECT pg_sleep(2)"),
    )
    .await;
    assert!(r.is_err());
    // Its answers will never arrive (the cancel itself gets through, on a new connection).
    proxy.set_mode_existing(Mode::Blackhole);
    drop(c);
    let t = Instant::now();
    let mut c = pool.get().await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    assert_ne!(pid(&mut c).await, before);
    assert_eq!(pool.status().closed.reset_failed, 1);
}

#[tokio::test]
async fn j1_transaction_status_t_and_e_are_rolled_back_on_return() {
    let (cfg, _) = pool_config();
    let pool = Pool::new(cfg.max_size(1)).unwrap();
    for fail in [false, true] {
        let mut c = pool.get().await.unwrap();
        c.batch_execute("BEGIN").await.unwrap();
        if fail {
            let _ = c.batch_execute("SELECT 1/0").await;
            assert_eq!(c.transaction_status(), TransactionStatus::Failed);
        }
        drop(c);
        let c = pool.get().await.unwrap();
        assert_eq!(c.transaction_status(), TransactionStatus::Idle);
    }
    assert_eq!(pool.status().created, 1);
}

#[tokio::test]
async fn j2_server_down_get_times_out_in_its_deadline_with_backoff_and_the_pool_recovers() {
    let proxy = start_proxy().await;
    let (cfg, _) = proxied(&proxy);
    let acquire = Duration::from_millis(600);
    let pool = Pool::new(
        cfg.max_size(2)
            .acquire_timeout(acquire)
            .backoff(Duration::from_millis(20), Duration::from_secs(1)),
    )
    .unwrap();
    drop(pool.get().await.unwrap());
    proxy.set_mode(Mode::Refuse);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let failures_before = pool.status().connect_failures;
    let t = Instant::now();
    let e = pool.get().await.unwrap_err();
    let took = t.elapsed();
    assert!(e.is_pool_timeout(), "{e:?}");
    assert!(
        std::error::Error::source(&e).is_some(),
        "carries the connect error"
    );
    assert!(
        took >= acquire && took < acquire + Duration::from_millis(250),
        "{took:?}"
    );
    // Exponential backoff: 20, 40, 80, 160, 320 ms nominal (half to all of each) fits
    // at most ~8 attempts in 600 ms, and at least 3.
    let attempts = pool.status().connect_failures - failures_before;
    assert!((3..=12).contains(&attempts), "{attempts} attempts");

    // The server comes back: the next get works (the background refill of min_idle is
    // covered by the restart test).
    // The backoff belongs to the pool: the next attempt waits out the current delay (at
    // most the 1 s cap), which may exceed this pool's 600 ms acquire timeout.
    proxy.set_mode(Mode::Pass);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut c = pool.get().await.unwrap();
    assert_answers(&mut c, 3).await;
}

#[tokio::test]
async fn j3_all_idle_connections_dead_at_once_one_get_evicts_them_all_and_returns_a_fresh_one() {
    let (cfg, app) = pool_config();
    let pool = Pool::new(
        cfg.max_size(5)
            .ping_after_idle(None)
            .reaper_interval(Duration::from_secs(60)),
    )
    .unwrap();
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(pool.get().await.unwrap());
    }
    drop(held);
    assert_eq!(pool.status().idle, 5);
    assert_eq!(terminate_all(&app).await, 5);
    let t = Instant::now();
    let mut c = pool.get().await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(1));
    assert_answers(&mut c, 1).await;
    let s = pool.status();
    assert_eq!(s.closed.broken, 5, "{s:?}");
    assert_eq!((s.size, s.idle, s.created), (1, 0, 6), "{s:?}");
}

#[tokio::test]
async fn j4_a_hanging_ping_discards_the_connection_and_opens_a_new_one() {
    let proxy = start_proxy().await;
    let (cfg, _) = proxied(&proxy);
    let pool = Pool::new(
        cfg.max_size(1)
            .ping_after_idle(Some(Duration::ZERO))
            .ping_timeout(Duration::from_millis(200))
            .acquire_timeout(Duration::from_secs(3)),
    )
    .unwrap();
    let mut c = pool.get().await.unwrap();
    let before = pid(&mut c).await;
    drop(c);
    // Only the open (idle) connection gets slow: 500 ms per chunk against a 200 ms ping.
    proxy.set_mode_existing(Mode::Delay(Duration::from_millis(500)));
    let t = Instant::now();
    let mut c = pool.get().await.unwrap();
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert_ne!(pid(&mut c).await, before);
    let s = pool.status();
    assert_eq!(s.closed.health_check, 1, "{s:?}");
}
