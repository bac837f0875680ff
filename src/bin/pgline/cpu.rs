//! Client CPU time of this process, in nanoseconds, from the scheduler's per-thread
//! accounting (`/proc/self/task/*/schedstat`), which has nanosecond resolution where
//! getrusage's tick-based figures do not.

use std::time::Duration;

/// CPU time (user + system) used so far by every thread of this process.
pub(crate) fn process_cpu() -> Duration {
    let mut total: u64 = 0;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
                total += s
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    Duration::from_nanos(total)
}
