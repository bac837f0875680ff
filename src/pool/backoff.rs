//! The pool's reconnection backoff, and which connect errors are worth retrying at all.
//!
//! [`Backoff`] is a small state machine with no IO, no clock and no RNG (the caller passes
//! `now` and a random number). One instance belongs to the pool and is shared by every
//! [`Pool::get`](super::Pool::get) and the background task, so the delay keeps growing
//! across calls while the server stays down, and one success resets it.

use std::time::Duration;

use tokio::time::Instant;

use super::inner::later;
use crate::error::Error;

/// SQLSTATEs that a connection attempt fails with when retrying cannot help: the
/// server answered, and will answer the same until someone changes its configuration
/// (or the client's).
const NOT_RETRYABLE_CODES: [&str; 3] = [
    "28P01", // invalid_password
    "28000", // invalid_authorization_specification: no pg_hba.conf entry, `reject`, cert refused
    "3D000", // invalid_catalog_name: the database does not exist
];

/// Whether a failed connection attempt is final for this `get`: authentication failed
/// (on the server, or refused by the client's `require_auth` / `channel_binding` policy),
/// the database does not exist, or the configuration is invalid or unsupported. These
/// are returned to the caller at once and do not feed the backoff (the server is up).
pub(crate) fn retry_cannot_help(e: &Error) -> bool {
    e.is_auth()
        || e.is_config()
        || e.is_unsupported()
        || e.code().is_some_and(|c| NOT_RETRYABLE_CODES.contains(&c))
}

/// Consecutive failed connection attempts and the earliest time for the next one.
///
/// Driving it: before connecting, ask [`wait_until`](Self::wait_until); if it says to
/// wait, sleep until then (or until a connection turns up). Report each attempt's result
/// with [`on_failure`](Self::on_failure) (retryable failures only) or
/// [`on_success`](Self::on_success).
///
/// ```text
///            on_failure (n += 1, retry_at = max(retry_at, now + delay(n)))
///            ┌────┐
///            ▼    │
///   Ready ──► Backing off { n, retry_at } ──on_success──► Ready
///     ▲                                                    │
///     └──────────────────── on_success ◄───────────────────┘
/// ```
///
/// `delay(n)` is `initial · 2^(n-1)`, capped at `max`, of which a random part of up to
/// half is taken off (jitter, so many clients do not reconnect in lockstep).
#[derive(Debug)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    /// Consecutive retryable failures since the last success.
    failures: u32,
    /// No attempt before this. `None` before any failure and after a success.
    retry_at: Option<Instant>,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            failures: 0,
            retry_at: None,
        }
    }

    /// The delay after the `n`-th consecutive failure (`n >= 1`), before jitter.
    pub(crate) fn nominal(&self, n: u32) -> Duration {
        self.initial
            .saturating_mul(1u32 << n.saturating_sub(1).min(20))
            .min(self.max)
    }

    /// Records a retryable failure at `now`; `random` draws the jitter. Returns the
    /// earliest time for the next attempt. Concurrent attempts that fail together only
    /// ever push that time later.
    pub(crate) fn on_failure(&mut self, now: Instant, random: u64) -> Instant {
        self.failures = self.failures.saturating_add(1);
        let nominal = self.nominal(self.failures);
        let half = nominal / 2;
        let half_ns = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        let jitter = Duration::from_nanos(random % half_ns.saturating_add(1));
        let at = later(now, nominal.saturating_sub(half).saturating_add(jitter));
        let at = self.retry_at.map_or(at, |old| old.max(at));
        self.retry_at = Some(at);
        at
    }

    /// A connection was made: the server is reachable, start again from zero.
    pub(crate) fn on_success(&mut self) {
        self.failures = 0;
        self.retry_at = None;
    }

    /// `Some(t)` if no attempt should be made before `t` (which is after `now`).
    pub(crate) fn wait_until(&self, now: Instant) -> Option<Instant> {
        self.retry_at.filter(|&t| t > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn backoff() -> Backoff {
        Backoff::new(MS * 50, MS * 1000)
    }

    #[test]
    fn a_new_backoff_lets_the_first_attempt_go_at_once() {
        let b = backoff();
        assert_eq!(b.wait_until(Instant::now()), None);
        assert_eq!(b.failures, 0);
    }

    #[test]
    fn the_nominal_delay_doubles_per_failure_up_to_the_cap() {
        let b = backoff();
        let got: Vec<_> = (1..=7).map(|n| b.nominal(n)).collect();
        assert_eq!(got, [50, 100, 200, 400, 800, 1000, 1000].map(|m| MS * m));
        // Huge counts neither overflow nor panic.
        assert_eq!(b.nominal(u32::MAX), MS * 1000);
        let huge = Backoff::new(Duration::MAX, Duration::MAX);
        assert_eq!(huge.nominal(40), Duration::MAX);
    }

    #[test]
    fn consecutive_failures_keep_growing_the_delay_until_a_success_resets_it() {
        let mut b = backoff();
        let now = Instant::now();
        // random = 0: the shortest draw, half the nominal delay.
        assert_eq!(b.on_failure(now, 0), now + MS * 25);
        assert_eq!(b.wait_until(now), Some(now + MS * 25));
        let later = now + MS * 25;
        assert_eq!(b.wait_until(later), None, "the pause is over");
        assert_eq!(b.on_failure(later, 0), later + MS * 50);
        assert_eq!(b.on_failure(later, 0), later + MS * 100);
        assert_eq!(b.failures, 3);
        b.on_success();
        assert_eq!(b.failures, 0);
        assert_eq!(b.wait_until(later), None);
        assert_eq!(b.on_failure(later, 0), later + MS * 25, "from zero again");
    }

    #[test]
    fn jitter_stays_between_half_and_all_of_the_nominal_delay() {
        let now = Instant::now();
        for random in [0, 1, 12_345_678, u64::MAX / 3, u64::MAX] {
            let mut b = backoff();
            let d = b.on_failure(now, random) - now;
            assert!(d >= MS * 25 && d <= MS * 50, "{random}: {d:?}");
        }
    }

    #[test]
    fn a_failure_never_moves_the_next_attempt_earlier() {
        let mut b = backoff();
        let t0 = Instant::now();
        for _ in 0..6 {
            // The longest draw at the cap: all of the second's other half.
            b.on_failure(t0, 500_000_000);
        }
        // The sixth failure reached the cap: the next attempt is a full second away.
        let far = b.wait_until(t0).unwrap();
        assert_eq!(far, t0 + MS * 1000);
        // A concurrent attempt fails a moment later with the shortest draw (t0 + 501 ms):
        // the pool keeps the later time.
        assert_eq!(b.on_failure(t0 + MS, 0), far);
        assert_eq!(b.wait_until(t0 + MS), Some(far));
    }

    #[test]
    fn a_huge_backoff_saturates_instead_of_panicking() {
        let mut b = Backoff::new(Duration::MAX, Duration::MAX);
        let now = Instant::now();
        assert!(b.on_failure(now, u64::MAX) > now);
        assert!(b.on_failure(now, 0) > now);
    }

    #[test]
    fn auth_config_and_unsupported_errors_are_not_retried() {
        assert!(retry_cannot_help(&Error::auth("require_auth refused md5")));
        assert!(retry_cannot_help(&Error::config("bad")));
        assert!(retry_cannot_help(&Error::unsupported("no")));
        assert!(!retry_cannot_help(&Error::timeout("connect timed out")));
        assert!(!retry_cannot_help(&Error::closed("eof")));
    }
}
