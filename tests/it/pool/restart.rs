//! A real server restart in the middle of a load, on a private cluster.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pgline::pool::Pool;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_mid_load_fails_only_in_flight_operations_and_the_pool_refills() {
    let cluster = Arc::new(
        tokio::task::spawn_blocking(crate::support::start_cluster)
            .await
            .unwrap(),
    );
    let mut conn = pgline::Config::new();
    conn.host(cluster.host())
        .port(cluster.port())
        .user("postgres")
        .dbname("postgres");
    let max = 6;
    let pool = Pool::new(
        pgline::pool::PoolConfig::new(conn)
            .max_size(max)
            .min_idle(max)
            .acquire_timeout(Duration::from_secs(20))
            .backoff(Duration::from_millis(20), Duration::from_millis(200))
            .reaper_interval(Duration::from_millis(100)),
    )
    .unwrap();
    let ok = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let tasks = 12;
    let per_task = 400;
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (pool, ok, failed) = (pool.clone(), ok.clone(), failed.clone());
        handles.push(tokio::spawn(async move {
            for q in 0..per_task {
                let v = (t * per_task + q) as i32;
                // get() never fails here: it waits out the restart within its deadline.
                let mut c = pool.get().await.expect("get during restart");
                match c.query_one("SELECT $1::int4", &[&v]).await {
                    Ok(r) => {
                        assert_eq!(r.get::<i32>(0).unwrap(), v);
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        assert!(e.breaks_connection() || e.code() == Some("57P01"), "{e:?}");
                        assert!(c.is_broken());
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }));
    }
    // Let the load run, then restart under it.
    while ok.load(Ordering::Relaxed) < 500 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let c2 = cluster.clone();
    tokio::task::spawn_blocking(move || c2.pg_ctl(&["restart", "-m", "fast"]))
        .await
        .unwrap()
        .unwrap();
    for h in handles {
        h.await.unwrap();
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let s = pool.status();
    eprintln!("restart under load: ok {ok}, failed {failed}, {s:?}");
    assert_eq!(ok + failed, tasks * per_task);
    // Only operations in flight when the server went down fail: at most one per
    // connection checked out at that moment (plus one per connection that passed its
    // checkout check just before the shutdown reached it).
    assert!(failed <= 2 * max, "{failed} failures");
    assert!(s.closed.broken >= 1, "{s:?}");
    assert!(
        super::eventually(Duration::from_secs(5), || pool.status().idle == max).await,
        "back to size: {:?}",
        pool.status()
    );
    drop(pool);
}
