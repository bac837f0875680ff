//! Lifetimes, idle timeouts, min idle, panics, close (checklist J5, J6, J7).

use std::time::{Duration, Instant};

use pgline::pool::Pool;

use super::{eventually, pid, pool_config};

#[tokio::test]
async fn j5_max_lifetime_is_enforced_in_the_background_and_min_idle_refills() {
    let (cfg, _) = pool_config();
    let pool = Pool::new(
        cfg.max_size(4)
            .min_idle(2)
            .max_lifetime(Some(Duration::from_millis(400)))
            .lifetime_jitter(Duration::from_millis(100))
            .idle_timeout(None)
            .reaper_interval(Duration::from_millis(50)),
    )
    .unwrap();
    assert!(eventually(Duration::from_secs(5), || pool.status().idle == 2).await);
    let mut c = pool.get().await.unwrap();
    let before = pid(&mut c).await;
    drop(c);
    // Two lifetimes later every original connection was replaced, in the background.
    assert!(
        eventually(Duration::from_secs(5), || {
            let s = pool.status();
            s.closed.lifetime >= 2 && s.created >= 4 && s.idle == 2
        })
        .await,
        "{:?}",
        pool.status()
    );
    let mut c = pool.get().await.unwrap();
    assert_ne!(pid(&mut c).await, before);
    let s = pool.status();
    assert_eq!(s.closed.total(), s.closed.lifetime, "{s:?}");
    assert!(s.size <= 4);
}

#[tokio::test]
async fn j5_max_lifetime_is_checked_when_a_connection_comes_back() {
    let (cfg, _) = pool_config();
    let pool = Pool::new(
        cfg.max_size(1)
            .max_lifetime(Some(Duration::from_millis(200)))
            .lifetime_jitter(Duration::ZERO)
            .reaper_interval(Duration::from_secs(60)),
    )
    .unwrap();
    let mut c = pool.get().await.unwrap();
    let before = pid(&mut c).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    drop(c);
    let s = pool.status();
    assert_eq!((s.closed.lifetime, s.size, s.idle), (1, 0, 0), "{s:?}");
    let mut c = pool.get().await.unwrap();
    assert_ne!(pid(&mut c).await, before);
}

#[tokio::test]
async fn j5_idle_timeout_closes_surplus_idle_connections_down_to_min_idle() {
    let (cfg, _) = pool_config();
    let pool = Pool::new(
        cfg.max_size(4)
            .min_idle(1)
            .idle_timeout(Some(Duration::from_millis(200)))
            .reaper_interval(Duration::from_millis(50)),
    )
    .unwrap();
    let mut held = Vec::new();
    let mut pids = Vec::new();
    for _ in 0..4 {
        let mut c = pool.get().await.unwrap();
        pids.push(pid(&mut c).await);
        held.push(c);
    }
    drop(held);
    assert_eq!(pool.status().idle, 4);
    assert!(
        eventually(Duration::from_secs(5), || {
            let s = pool.status();
            s.closed.idle_timeout >= 3 && s.size == 1
        })
        .await,
        "{:?}",
        pool.status()
    );
    // min_idle keeps one; after its own idle timeout it may be replaced but never dropped.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s = pool.status();
    assert!(s.idle >= 1, "{s:?}");
}

#[tokio::test]
async fn j5_an_idle_timed_out_connection_is_not_handed_out() {
    let (cfg, _) = pool_config();
    let pool = Pool::new(
        cfg.max_size(1)
            .idle_timeout(Some(Duration::from_millis(100)))
            .reaper_interval(Duration::from_secs(60)),
    )
    .unwrap();
    let mut c = pool.get().await.unwrap();
    let before = pid(&mut c).await;
    drop(c);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut c = pool.get().await.unwrap();
    assert_ne!(pid(&mut c).await, before);
    assert_eq!(pool.status().closed.idle_timeout, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn j6_a_panic_while_holding_a_connection_returns_it_and_keeps_counts_right() {
    let (cfg, _) = pool_config();
    let pool = Pool::new(cfg.max_size(2)).unwrap();
    let p = pool.clone();
    let r = tokio::spawn(async move {
        let mut c = p.get().await.unwrap();
        c.batch_execute("BEGIN").await.unwrap();
        panic!("user code panics while holding a connection in a transaction");
    })
    .await;
    assert!(r.unwrap_err().is_panic());
    assert!(
        eventually(Duration::from_secs(2), || {
            let s = pool.status();
            s.in_use == 0 && s.idle == 1 && s.size == 1
        })
        .await,
        "{:?}",
        pool.status()
    );
    let c = pool.get().await.unwrap();
    assert_eq!(
        c.transaction_status(),
        pgline::protocol::backend::TransactionStatus::Idle
    );
    drop(c);

    // A get() dropped mid-checkout (here: mid-connect) leaks no slot either.
    let (cfg, _) = pool_config();
    let pool = Pool::new(cfg.max_size(1)).unwrap();
    for _ in 0..5 {
        let _ = tokio::time::timeout(Duration::from_micros(200), pool.get()).await;
    }
    let c = tokio::time::timeout(Duration::from_secs(5), pool.get())
        .await
        .expect("a slot is free")
        .unwrap();
    drop(c);
    let s = pool.status();
    assert!(s.size <= 1 && s.in_use == 0, "{s:?}");
}

#[tokio::test]
async fn j7_close_waits_for_checked_out_connections_and_is_idempotent() {
    let (cfg, app) = pool_config();
    let pool = Pool::new(cfg.max_size(3).close_timeout(Duration::from_secs(5))).unwrap();
    let a = pool.get().await.unwrap();
    let b = pool.get().await.unwrap();
    drop(b); // one idle
    let p = pool.clone();
    let closing = tokio::spawn(async move {
        let t = Instant::now();
        p.close().await.map(|()| t.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !closing.is_finished(),
        "close must wait for the checked-out connection"
    );
    assert!(pool.is_closed());
    let e = pool.get().await.unwrap_err();
    assert!(e.is_pool_closed(), "{e:?}");
    drop(a);
    let waited = closing.await.unwrap().unwrap();
    assert!(waited >= Duration::from_millis(150));
    let s = pool.status();
    assert_eq!((s.size, s.idle, s.in_use), (0, 0, 0), "{s:?}");
    assert_eq!(s.closed.pool_closed, 2, "{s:?}");
    // Idempotent, and immediate the second time.
    let t = Instant::now();
    pool.close().await.unwrap();
    assert!(t.elapsed() < Duration::from_millis(100));
    let mut left = -1;
    for _ in 0..100 {
        left = super::backends(&app).await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(left, 0, "closed connections end their backends");
}

#[tokio::test]
async fn j7_close_gives_up_at_its_deadline_and_a_later_guard_drop_destroys_the_connection() {
    let (cfg, _) = pool_config();
    let pool = Pool::new(cfg.max_size(2).close_timeout(Duration::from_millis(200))).unwrap();
    let a = pool.get().await.unwrap();
    let t = Instant::now();
    let e = pool.close().await.unwrap_err();
    let took = t.elapsed();
    assert!(e.is_timeout(), "{e:?}");
    assert!(
        took >= Duration::from_millis(190) && took < Duration::from_millis(600),
        "{took:?}"
    );
    assert_eq!(pool.status().size, 1);
    drop(a);
    let s = pool.status();
    assert_eq!((s.size, s.idle, s.closed.pool_closed), (0, 0, 1), "{s:?}");
}

#[tokio::test]
async fn waiters_blocked_in_get_fail_with_pool_closed_when_the_pool_closes() {
    let (cfg, _) = pool_config();
    let pool = Pool::new(cfg.max_size(1).close_timeout(Duration::from_millis(100))).unwrap();
    let a = pool.get().await.unwrap();
    let p = pool.clone();
    let waiter = tokio::spawn(async move { p.get().await.map(drop) });
    assert!(eventually(Duration::from_secs(2), || pool.status().waiters == 1).await);
    let _ = pool.close().await;
    let e = waiter.await.unwrap().unwrap_err();
    assert!(e.is_pool_closed(), "{e:?}");
    drop(a);
}

#[tokio::test]
async fn dropping_the_last_pool_handle_stops_the_reaper_and_closes_idle_connections() {
    let (cfg, app) = pool_config();
    let pool = Pool::new(
        cfg.max_size(3)
            .min_idle(2)
            .reaper_interval(Duration::from_millis(20)),
    )
    .unwrap();
    assert!(eventually(Duration::from_secs(5), || pool.status().idle == 2).await);
    drop(pool);
    // Were the reaper still running it would reopen min_idle connections.
    let mut left = -1;
    for _ in 0..100 {
        left = super::backends(&app).await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(left, 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(super::backends(&app).await, 0, "nothing reopened them");
}

#[tokio::test]
async fn timeouts_of_duration_max_mean_no_limit_not_a_panic() {
    let (cfg, _) = pool_config();
    let pool = Pool::new(
        cfg.max_size(2)
            .acquire_timeout(Duration::MAX)
            .connect_timeout(Duration::MAX)
            .max_lifetime(Some(Duration::MAX))
            .lifetime_jitter(Duration::MAX)
            .close_timeout(Duration::MAX),
    )
    .unwrap();
    let mut c = pool.get().await.unwrap();
    assert!(pid(&mut c).await > 0);
    drop(c);
    pool.close().await.unwrap();
}

#[tokio::test]
async fn an_idle_timeout_at_checkout_never_closes_a_connection_kept_for_min_idle() {
    let (cfg, _) = pool_config();
    let pool = Pool::new(
        cfg.max_size(1)
            .min_idle(1)
            .idle_timeout(Some(Duration::from_millis(100)))
            .reaper_interval(Duration::from_secs(60)),
    )
    .unwrap();
    let mut c = pool.get().await.unwrap();
    let before = pid(&mut c).await;
    drop(c);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut c = pool.get().await.unwrap();
    assert_eq!(pid(&mut c).await, before, "the warm connection is reused");
    assert_eq!(pool.status().closed.idle_timeout, 0);
}

#[tokio::test]
async fn a_checkout_out_of_time_leaves_a_healthy_idle_connection_alone() {
    // The ping after idle has no time left: the connection must go back to the queue,
    // not be closed as if it had failed its health check.
    let (cfg, _) = pool_config();
    let pool = Pool::new(
        cfg.max_size(1)
            .min_idle(1)
            .acquire_timeout(Duration::ZERO)
            .ping_after_idle(Some(Duration::ZERO))
            .reaper_interval(Duration::from_millis(50)),
    )
    .unwrap();
    assert!(eventually(Duration::from_secs(5), || pool.status().idle == 1).await);
    let Err(e) = pool.get().await else {
        panic!("no time to check the connection, yet get() succeeded");
    };
    assert!(e.is_pool_timeout(), "{e}");
    let s = pool.status();
    assert_eq!((s.closed.health_check, s.idle, s.size), (0, 1, 1), "{s:?}");
}
