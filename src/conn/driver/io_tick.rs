//! The tick of a polled bulk load (see `socket`), adapted to the server.
//!
//! A longer tick costs the client fewer wakeups, but the server must not run out of rows
//! while the client sleeps. The evidence is direct: after a tick, the rows still
//! unanswered are the server's backlog. A backlog of at most a quarter of the row window
//! means the server came close to running dry, so the tick is halved; any more and the
//! tick grows by a quarter, up to the load's maximum. With the default window (16,384
//! rows) and maximum (10 ms) a server doing 431k rows/s (the anchors' ceiling) answers
//! ~4,300 rows per tick while the window refills whenever the backlog is at most 8,192,
//! so it always has rows queued; a smaller window or a faster server makes the tick
//! shrink until it does.

use std::time::{Duration, Instant};

/// The tick a polled load starts with (unless its maximum is shorter).
pub(crate) const START_TICK: Duration = Duration::from_millis(4);
/// The shortest tick the controller goes down to (unless the maximum is shorter).
pub(crate) const MIN_TICK: Duration = Duration::from_millis(1);

/// Chooses the tick of one polled load.
#[derive(Debug, Clone)]
pub(crate) struct TickControl {
    tick: Duration,
    min: Duration,
    max: Duration,
    /// When the tick was last reconsidered.
    last: Instant,
}

impl TickControl {
    /// A load whose tick may go up to `max`, starting at `now`.
    pub(crate) fn new(max: Duration, now: Instant) -> Self {
        Self {
            tick: START_TICK.min(max),
            min: MIN_TICK.min(max),
            max,
            last: now,
        }
    }

    /// The tick in force.
    pub(crate) fn tick(&self) -> Duration {
        self.tick
    }

    /// Reconsiders the tick once at least a tick has passed since the last time: with
    /// `unanswered` rows in flight out of a window of `window_rows`. Returns the new tick
    /// when it changed.
    pub(crate) fn observe(
        &mut self,
        now: Instant,
        unanswered: usize,
        window_rows: usize,
    ) -> Option<Duration> {
        if now.saturating_duration_since(self.last) < self.tick {
            return None;
        }
        self.last = now;
        let next = if unanswered <= window_rows / 4 {
            (self.tick / 2).max(self.min)
        } else {
            (self.tick + self.tick / 4).min(self.max)
        };
        if next == self.tick {
            return None;
        }
        self.tick = next;
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const WINDOW: usize = 16 * 1024;

    /// Observes every `tick` with the same backlog, `n` times; returns the final tick.
    fn run(c: &mut TickControl, start: Instant, backlog: usize, n: u32) -> (Instant, Duration) {
        let mut now = start;
        for _ in 0..n {
            now += c.tick();
            c.observe(now, backlog, WINDOW);
        }
        (now, c.tick())
    }

    #[test]
    fn a_busy_server_lets_the_tick_grow_to_the_maximum_and_no_further() {
        let t0 = Instant::now();
        let mut c = TickControl::new(10 * MS, t0);
        assert_eq!(c.tick(), START_TICK);
        let (_, tick) = run(&mut c, t0, WINDOW / 2, 50);
        assert_eq!(tick, 10 * MS);
    }

    #[test]
    fn a_server_close_to_running_dry_halves_the_tick_down_to_the_minimum() {
        let t0 = Instant::now();
        let mut c = TickControl::new(10 * MS, t0);
        let (now, _) = run(&mut c, t0, WINDOW, 50);
        assert_eq!(c.observe(now + 10 * MS, WINDOW / 4, WINDOW), Some(5 * MS));
        let (_, tick) = run(&mut c, now + 10 * MS, 0, 50);
        assert_eq!(tick, MIN_TICK);
    }

    #[test]
    fn the_tick_is_reconsidered_at_most_once_per_tick() {
        let t0 = Instant::now();
        let mut c = TickControl::new(10 * MS, t0);
        assert_eq!(
            c.observe(t0 + MS, 0, WINDOW),
            None,
            "before a tick has passed"
        );
        assert_eq!(c.observe(t0 + START_TICK, 0, WINDOW), Some(2 * MS));
        assert_eq!(c.observe(t0 + START_TICK + MS, 0, WINDOW), None);
    }

    #[test]
    fn a_maximum_below_the_usual_bounds_is_kept_even_when_zero() {
        let t0 = Instant::now();
        let mut c = TickControl::new(Duration::ZERO, t0);
        assert_eq!(c.tick(), Duration::ZERO);
        let (_, tick) = run(&mut c, t0, WINDOW, 10);
        assert_eq!(tick, Duration::ZERO);
        let mut c = TickControl::new(MS / 2, t0);
        let (_, tick) = run(&mut c, t0, 0, 10);
        assert_eq!(tick, MS / 2);
    }

    /// Simulates a server answering `rate` rows per ms against a window of `window`
    /// rows refilled (at a wake) whenever at most half is unanswered, for 2,000 ticks.
    /// Returns the share of ticks in which the server ran out of rows, the mean tick over
    /// the last 1,000 (once settled) and the last one.
    fn simulate(window: usize, rate: u128) -> (f64, Duration, Duration) {
        let t0 = Instant::now();
        let mut c = TickControl::new(10 * MS, t0);
        let (mut now, mut backlog, mut dry) = (t0, window, 0u32);
        let mut halfway = t0;
        for i in 0..2000 {
            if i == 1000 {
                halfway = now;
            }
            let tick = c.tick();
            now += tick;
            let answered = usize::try_from(tick.as_micros() * rate / 1000).unwrap_or(usize::MAX);
            if answered >= backlog {
                dry += 1;
            }
            backlog = backlog.saturating_sub(answered);
            c.observe(now, backlog, window);
            if backlog <= window / 2 {
                backlog = window;
            }
        }
        (f64::from(dry) / 2000.0, (now - halfway) / 1000, c.tick())
    }

    #[test]
    fn the_default_window_keeps_a_server_at_the_anchors_ceiling_busy_at_the_longest_tick() {
        let (dry, _, last) = simulate(WINDOW, 431);
        assert_eq!(dry, 0.0);
        assert_eq!(last, 10 * MS);
    }

    #[test]
    fn a_window_small_for_the_servers_pace_shortens_the_tick_so_the_server_rarely_runs_dry() {
        for rate in [431, 1000, 4000] {
            let (dry, mean, _) = simulate(4096, rate);
            assert!(dry < 0.1, "{rate} rows/ms: dry in {dry} of ticks");
            // Ticks are on average no longer than the refill threshold (half a window) of
            // server work, or the shortest tick.
            let half_window = Duration::from_micros(u64::try_from(2048 * 1000 / rate).unwrap());
            assert!(
                mean <= half_window.max(MIN_TICK),
                "{rate} rows/ms: mean tick {mean:?}"
            );
        }
    }
}
