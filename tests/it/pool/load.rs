//! Many tasks, few connections: correctness under load, fairness, hooks.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pgline::pool::Pool;

use super::pool_config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_tasks_share_ten_connections_and_every_echo_matches() {
    let (cfg, _) = pool_config();
    let pool = Pool::new(cfg.max_size(10)).unwrap();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..200i32 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            for q in 0..1000i32 {
                let v = t * 1000 + q;
                let mut c = pool.get().await.unwrap();
                let row = c.query_one("SELECT $1::int4", &[&v]).await.unwrap();
                assert_eq!(row.get::<i32>(0).unwrap(), v);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let s = pool.status();
    eprintln!(
        "200x1000 queries over 10 connections: {:?}, {s:?}",
        started.elapsed()
    );
    assert!(s.size <= 10 && s.created <= 10, "{s:?}");
    assert_eq!(s.gets, 200_000);
    assert_eq!(s.closed.total(), 0, "{s:?}");
    assert_eq!(s.in_use, 0);
    assert_eq!(s.waiters, 0);
    assert!(s.max_wait > Duration::ZERO && s.total_wait >= s.max_wait);
    // The statement was prepared once per connection and survived every clean return.
    let c = pool.get().await.unwrap();
    assert_eq!(c.cached_statements(), 1);
}

#[tokio::test]
async fn waiters_are_served_in_arrival_order() {
    let (cfg, _) = pool_config();
    let pool = Pool::new(cfg.max_size(1)).unwrap();
    let held = pool.get().await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..5 {
        let (p, order) = (pool.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            let c = p.get().await.unwrap();
            order.lock().unwrap().push(i);
            tokio::time::sleep(Duration::from_millis(5)).await;
            drop(c);
        }));
        // Make sure task i is queued before task i + 1.
        assert!(super::eventually(Duration::from_secs(2), || pool.status().waiters == i + 1).await);
    }
    drop(held);
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4]);
    let s = pool.status();
    assert_eq!(s.waiters, 0);
    assert_eq!(s.created, 1);
}

#[tokio::test]
async fn after_connect_hook_runs_on_every_new_connection() {
    let (cfg, _) = pool_config();
    let pool = Pool::new(cfg.max_size(2).after_connect(|c| {
        Box::pin(async move { c.batch_execute("SET work_mem = '7777kB'").await })
    }))
    .unwrap();
    let mut a = pool.get().await.unwrap();
    let mut b = pool.get().await.unwrap();
    for c in [&mut a, &mut b] {
        let r = c.simple_query("SHOW work_mem").await.unwrap();
        assert_eq!(r[0].rows[0].get(0).unwrap(), Some("7777kB"));
    }
    assert_eq!(pool.status().created, 2);
}

#[tokio::test]
async fn a_failing_after_connect_hook_fails_get_and_leaks_no_slot() {
    let (cfg, _) = pool_config();
    let pool = Pool::new(
        cfg.max_size(1)
            .acquire_timeout(Duration::from_millis(300))
            .backoff(Duration::from_millis(20), Duration::from_millis(50))
            .after_connect(|c| Box::pin(async move { c.batch_execute("SELECT 1/0").await })),
    )
    .unwrap();
    let e = pool.get().await.unwrap_err();
    assert!(e.is_pool_timeout(), "{e:?}");
    let s = pool.status();
    assert_eq!(s.size, 0, "{s:?}");
    assert!(s.connect_failures >= 2, "{s:?}");
}
