//! [`Status`]: a snapshot of the pool's gauges and counters. Plain atomics, no metrics
//! dependency; export them to whatever the service uses.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Why the pool closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    Broken,
    Lifetime,
    IdleTimeout,
    HealthCheck,
    ResetFailed,
    PoolClosed,
}

/// Connections closed by the pool, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClosedCounts {
    /// Found broken: on return, by the liveness check on checkout, or in the background
    /// (includes connections whose owner dropped them while the pool was checking them).
    pub broken: u64,
    /// Reached their max lifetime.
    pub lifetime: u64,
    /// Stayed idle longer than the idle timeout.
    pub idle_timeout: u64,
    /// Failed (or timed out) the ping on checkout.
    pub health_check: u64,
    /// Could not be drained or rolled back within the reset deadline.
    pub reset_failed: u64,
    /// Closed because the pool was closed.
    pub pool_closed: u64,
}

impl ClosedCounts {
    /// All closed connections.
    pub fn total(&self) -> u64 {
        self.broken
            + self.lifetime
            + self.idle_timeout
            + self.health_check
            + self.reset_failed
            + self.pool_closed
    }
}

/// A snapshot of the pool, from [`Pool::status`](super::Pool::status). Gauges are read
/// one by one without a global lock, so they may be off by one under load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// The configured maximum size.
    pub max_size: usize,
    /// Open connections (idle, checked out, being checked or reset) plus those being
    /// opened; never above `max_size`.
    pub size: usize,
    /// Idle connections, ready for checkout.
    pub idle: usize,
    /// Connections checked out (guards alive).
    pub in_use: usize,
    /// Tasks waiting in [`Pool::get`](super::Pool::get) for a free slot.
    pub waiters: usize,
    /// Connections opened since the pool was made.
    pub created: u64,
    /// Connections closed since the pool was made, by reason.
    pub closed: ClosedCounts,
    /// Failed connection attempts.
    pub connect_failures: u64,
    /// Successful checkouts.
    pub gets: u64,
    /// Checkouts that failed with a pool timeout.
    pub timeouts: u64,
    /// Total time successful checkouts spent in `get`.
    pub total_wait: Duration,
    /// The longest time a successful checkout spent in `get`.
    pub max_wait: Duration,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) created: AtomicU64,
    closed: [AtomicU64; 6],
    pub(crate) connect_failures: AtomicU64,
    pub(crate) gets: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    total_wait_ns: AtomicU64,
    max_wait_ns: AtomicU64,
}

impl Counters {
    pub(crate) fn closed(&self, r: Reason) {
        let i = match r {
            Reason::Broken => 0,
            Reason::Lifetime => 1,
            Reason::IdleTimeout => 2,
            Reason::HealthCheck => 3,
            Reason::ResetFailed => 4,
            Reason::PoolClosed => 5,
        };
        if let Some(c) = self.closed.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn waited(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.gets.fetch_add(1, Ordering::Relaxed);
        self.total_wait_ns.fetch_add(ns, Ordering::Relaxed);
        self.max_wait_ns.fetch_max(ns, Ordering::Relaxed);
    }

    pub(crate) fn snapshot_into(&self, s: &mut Status) {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let [broken, lifetime, idle_timeout, health_check, reset_failed, pool_closed] =
            &self.closed;
        s.created = get(&self.created);
        s.closed = ClosedCounts {
            broken: get(broken),
            lifetime: get(lifetime),
            idle_timeout: get(idle_timeout),
            health_check: get(health_check),
            reset_failed: get(reset_failed),
            pool_closed: get(pool_closed),
        };
        s.connect_failures = get(&self.connect_failures);
        s.gets = get(&self.gets);
        s.timeouts = get(&self.timeouts);
        s.total_wait = Duration::from_nanos(get(&self.total_wait_ns));
        s.max_wait = Duration::from_nanos(get(&self.max_wait_ns));
    }
}
