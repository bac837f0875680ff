//! 10,000,000 rows through `execute_many` with flat client memory. Its own test binary, so
//! the process's peak RSS belongs to this load alone.

#[path = "it/support/mod.rs"]
mod support;

use std::time::{Duration, Instant, UNIX_EPOCH};

use pgline::conn::ExecuteManyOptions;

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "current_thread")]
async fn ten_million_rows_load_with_flat_client_memory() {
    const ROWS: u64 = 10_000_000;
    let mut c = support::conn::connect().await;
    let t = support::conn::table("ten_m");
    c.batch_execute(&format!(
        "CREATE UNLOGGED TABLE {t} (id int8, name text, score float8, created timestamptz)"
    ))
    .await
    .unwrap();
    let base = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let names = ["alpha", "bravo", "charlie", "delta"];
    let rows = (0..ROWS).map(|i| {
        (
            i as i64,
            names[(i % 4) as usize],
            i as f64 * 0.5,
            base + Duration::from_micros(i),
        )
    });
    // Reset the peak-RSS counter (Linux >= 4.0), so the figure is this load's.
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
    let before = status_kib("VmRSS:");
    let start = Instant::now();
    let report = c
        .execute_many_with(
            &format!("INSERT INTO {t} (id, name, score, created) VALUES ($1, $2, $3, $4)"),
            rows,
            ExecuteManyOptions::default(),
        )
        .await
        .expect("load");
    let secs = start.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM:");
    eprintln!(
        "10M rows in {secs:.1} s ({:.0} rows/s); RSS before {} MiB, peak {} MiB",
        ROWS as f64 / secs,
        before / 1024,
        peak / 1024
    );
    assert!(report.is_complete(), "{report}");
    assert_eq!(report.rows_committed, ROWS);
    assert!(
        peak < 100 * 1024,
        "peak RSS {} MiB is not flat",
        peak / 1024
    );
    assert!(
        peak < before + 64 * 1024,
        "memory grew by {} MiB",
        (peak - before) / 1024
    );
    let n = c
        .query_one(format!("SELECT count(*) FROM {t}").as_str(), &[])
        .await
        .unwrap();
    assert_eq!(n.get::<i64>(0).unwrap(), ROWS as i64);
    c.batch_execute(&format!("DROP TABLE {t}")).await.unwrap();
}
