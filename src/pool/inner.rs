//! The shared state of a pool and everything that moves connections in and out of it:
//! checkout (liveness check, ping, connect with backoff), return (fast path or a spawned
//! reset), the background reaper, and close.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::backoff::{retry_cannot_help, Backoff};
use super::config::{PoolConfig, SessionReset};
use super::metrics::{Counters, Reason, Status};
use crate::conn::TargetSessionAttrs;
use crate::error::Error;
use crate::protocol::backend::TransactionStatus;
use crate::Connection;

/// What a reset on return with [`SessionReset::Clean`] sends (PostgreSQL only). It keeps
/// prepared statements, so the statement cache stays valid.
const CLEAN_SQL: &str = "CLOSE ALL; RESET ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); \
                         DISCARD TEMP; DISCARD SEQUENCES";

/// How long an abandoned operation may run on after its connection came back before the
/// pool cancels it.
const CANCEL_GRACE: Duration = Duration::from_millis(50);

/// The query of the health-check ping.
const PING_SQL: &str = "SELECT 1";

/// Counts one open connection (or a slot reserved for one being opened), so the pool
/// never holds more than `max_size`. Dropping it (however the connection goes away:
/// retired, lost with a cancelled future, dropped with the pool) decrements the size and,
/// for an opened connection, records why it closed.
#[derive(Debug)]
pub(crate) struct SizeToken {
    shared: Weak<Shared>,
    /// `None` while only reserved: a failed attempt is not a closed connection.
    pub(crate) reason: Option<Reason>,
}

impl Drop for SizeToken {
    fn drop(&mut self) {
        if let Some(s) = self.shared.upgrade() {
            s.size.fetch_sub(1, Ordering::AcqRel);
            if let Some(r) = self.reason {
                s.counters.closed(r);
            }
        }
    }
}

/// An open connection with its bookkeeping.
#[derive(Debug)]
pub(crate) struct Live {
    pub(crate) conn: Connection,
    pub(crate) expires: Option<Instant>,
    pub(crate) idle_since: Instant,
    pub(crate) token: SizeToken,
}

impl Live {
    fn expired(&self, now: Instant) -> bool {
        self.expires.is_some_and(|e| now >= e)
    }

    /// Closes the connection, counting it under `reason`. A healthy one gets a Terminate
    /// (in a spawned task, bounded by the connection's close deadline); a broken one is
    /// just dropped.
    pub(crate) fn retire(self, reason: Reason) {
        let Self {
            conn, mut token, ..
        } = self;
        token.reason = Some(reason);
        drop(token);
        if conn.is_broken() {
            return;
        }
        if let Ok(h) = tokio::runtime::Handle::try_current() {
            h.spawn(async move {
                let _ = conn.close().await;
            });
        }
    }
}

/// Decrements the waiter gauge when a waiting `get` ends, however it ends.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Counts a `get` that may sleep waiting for a connection (backoff, or a full pool) while
/// it holds a slot, so that returning or creating a connection knows to wake it.
struct Sleeping<'a>(&'a AtomicUsize);

impl<'a> Sleeping<'a> {
    fn new(n: &'a AtomicUsize) -> Self {
        // SeqCst pairs with `wake_sleepers`: either this task's next look at the idle
        // queue sees the connection, or the task that queued it sees this count.
        n.fetch_add(1, Ordering::SeqCst);
        Self(n)
    }
}

impl Drop for Sleeping<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The state shared by the [`Pool`](super::Pool) handles, the guards and the reaper.
pub(crate) struct Shared {
    pub(crate) cfg: PoolConfig,
    /// One permit per connection slot. tokio's semaphore is FIFO-fair: waiters are served
    /// in arrival order. Guards and reset tasks hold a permit until the connection is back
    /// in `idle` or closed.
    sem: Arc<Semaphore>,
    /// Idle connections; checkout takes the most recently returned (so surplus
    /// connections age out through the idle timeout). Never locked across an await.
    idle: Mutex<VecDeque<Live>>,
    closed: AtomicBool,
    size: AtomicUsize,
    in_use: AtomicUsize,
    waiters: AtomicUsize,
    /// Signalled whenever a permit is given back (close waits on it).
    released: Notify,
    /// Signalled when a connection is queued idle or created, or the pool closes, if a
    /// `get` is sleeping (`sleepers > 0`): it looks at the idle queue again at once rather
    /// than waiting out its backoff.
    available: Notify,
    sleepers: AtomicUsize,
    /// Reconnection backoff for the whole pool: every `get` and the reaper. Never locked
    /// across an await.
    backoff: Mutex<Backoff>,
    rng: AtomicU64,
    pub(crate) counters: Counters,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("cfg", &self.cfg)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(mut cfg: PoolConfig) -> Self {
        cfg.max_size = cfg.max_size.max(1);
        cfg.min_idle = cfg.min_idle.min(cfg.max_size);
        let sem = Arc::new(Semaphore::new(cfg.max_size));
        let backoff = Mutex::new(Backoff::new(cfg.backoff_initial, cfg.backoff_max));
        Self {
            cfg,
            sem,
            idle: Mutex::new(VecDeque::new()),
            closed: AtomicBool::new(false),
            size: AtomicUsize::new(0),
            in_use: AtomicUsize::new(0),
            waiters: AtomicUsize::new(0),
            released: Notify::new(),
            available: Notify::new(),
            sleepers: AtomicUsize::new(0),
            backoff,
            rng: AtomicU64::new(seed()),
            counters: Counters::default(),
        }
    }

    fn idle(&self) -> MutexGuard<'_, VecDeque<Live>> {
        // The lock is never held across user code, so a poisoned lock still holds a
        // consistent queue.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn backoff(&self) -> MutexGuard<'_, Backoff> {
        // Plain data, never locked across user code or an await.
        self.backoff.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes every `get` sleeping in `checkout`, if there is one. Costs one atomic load
    /// when none is.
    fn wake_sleepers(&self) {
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            self.available.notify_waiters();
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn status(&self) -> Status {
        let mut s = Status {
            max_size: self.cfg.max_size,
            size: self.size.load(Ordering::Acquire),
            idle: self.idle().len(),
            in_use: self.in_use.load(Ordering::Acquire),
            waiters: self.waiters.load(Ordering::Acquire),
            ..Status::default()
        };
        self.counters.snapshot_into(&mut s);
        s
    }

    // ----- randomness ---------------------------------------------------------------------

    /// xorshift64*: jitter only, not security.
    fn random(&self) -> u64 {
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.store(x, Ordering::Relaxed);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A random duration in `[0, max]`.
    fn random_upto(&self, max: Duration) -> Duration {
        let ns = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        if ns == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.random() % ns.saturating_add(1))
    }

    // ----- checkout -----------------------------------------------------------------------

    /// Waits for a slot (FIFO), then hands out a checked idle connection or a new one, all
    /// within the acquire deadline.
    pub(crate) async fn get(self: &Arc<Self>) -> Result<(Live, OwnedSemaphorePermit), Error> {
        let start = Instant::now();
        let deadline = later(start, self.cfg.acquire_timeout);
        if self.is_closed() {
            return Err(Error::pool_closed());
        }
        let permit = {
            self.waiters.fetch_add(1, Ordering::AcqRel);
            let _waiting = Waiting(&self.waiters);
            match tokio::time::timeout_at(deadline, Arc::clone(&self.sem).acquire_owned()).await {
                Ok(Ok(p)) => p,
                Ok(Err(_)) => return Err(Error::pool_closed()),
                Err(_) => {
                    self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                    return Err(Error::pool_timeout(None));
                }
            }
        };
        let mut last_err = None;
        let r = tokio::time::timeout_at(deadline, self.checkout(deadline, &mut last_err)).await;
        let live = match r {
            Ok(Ok(live)) => live,
            Ok(Err(e)) => {
                if e.is_pool_timeout() {
                    self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                }
                return Err(e);
            }
            Err(_) => {
                self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                return Err(Error::pool_timeout(last_err));
            }
        };
        if self.is_closed() {
            live.retire(Reason::PoolClosed);
            return Err(Error::pool_closed());
        }
        self.in_use.fetch_add(1, Ordering::AcqRel);
        self.counters.waited(start.elapsed());
        Ok((live, permit))
    }

    /// Finds or makes a connection for a `get` that holds a slot. While the pool is
    /// backing off (the server did not answer the last attempts, whichever `get` or the
    /// reaper made them), it sleeps until the next attempt is due, and wakes early when a
    /// connection is returned or created.
    async fn checkout(
        self: &Arc<Self>,
        deadline: Instant,
        last_err: &mut Option<Error>,
    ) -> Result<Live, Error> {
        loop {
            // Registered before looking at the idle queue, so a connection queued after
            // the look still wakes this task.
            let _sleeping = Sleeping::new(&self.sleepers);
            let wake = self.available.notified();
            tokio::pin!(wake);
            wake.as_mut().enable();
            if let Some(live) = self.checked_idle(deadline).await {
                return Ok(live);
            }
            if self.is_closed() {
                return Err(Error::pool_closed());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::pool_timeout(last_err.take()));
            }
            let pause = self.backoff().wait_until(now);
            if let Some(at) = pause {
                let _ = tokio::time::timeout_at(at.min(deadline), wake).await;
                continue;
            }
            match self.open(deadline).await {
                Ok(Some(live)) => return Ok(live),
                // Full: a connection is between states (being retired, or returned by
                // a reset task); look at the idle queue again shortly.
                Ok(None) => {
                    let _ = tokio::time::timeout(Duration::from_millis(1), wake).await;
                }
                Err(e) => {
                    self.counters
                        .connect_failures
                        .fetch_add(1, Ordering::Relaxed);
                    // Retrying cannot fix these: the caller gets the error now.
                    if retry_cannot_help(&e) {
                        return Err(e);
                    }
                    // `open` recorded the failure: the next pass waits out the backoff.
                    *last_err = Some(e);
                }
            }
        }
    }

    /// The most recently returned idle connection that passes the checks; failing ones
    /// are closed on the way.
    async fn checked_idle(&self, deadline: Instant) -> Option<Live> {
        loop {
            let mut live = self.idle().pop_back()?;
            let now = Instant::now();
            if !live.conn.poll_alive() {
                live.retire(Reason::Broken);
                continue;
            }
            if live.expired(now) {
                live.retire(Reason::Lifetime);
                continue;
            }
            let idle_for = now.saturating_duration_since(live.idle_since);
            // As the reaper does: never below min_idle (those are kept warm on purpose).
            if self.cfg.idle_timeout.is_some_and(|t| idle_for >= t)
                && self.size.load(Ordering::Acquire) > self.cfg.min_idle
            {
                live.retire(Reason::IdleTimeout);
                continue;
            }
            if self.cfg.ping_after_idle.is_some_and(|t| idle_for >= t) {
                let left = deadline.saturating_duration_since(now);
                if left.is_zero() {
                    // No time left to ping: a healthy connection must not be closed as
                    // failing its check; it goes back, and the caller times out.
                    self.idle().push_back(live);
                    return None;
                }
                // Counted as a failed health check if this future is dropped mid-ping.
                live.token.reason = Some(Reason::HealthCheck);
                let t = self.cfg.ping_timeout.min(left);
                let ok = matches!(
                    tokio::time::timeout(t, live.conn.simple_query(PING_SQL)).await,
                    Ok(Ok(_))
                );
                if !ok || !live.conn.is_idle() {
                    live.retire(Reason::HealthCheck);
                    continue;
                }
                live.token.reason = Some(Reason::Broken);
            }
            return Some(live);
        }
    }

    /// Reserves a slot in the size count, if the pool is below `max_size`.
    fn reserve(self: &Arc<Self>) -> Option<SizeToken> {
        let max = self.cfg.max_size;
        self.size
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                (s < max).then_some(s + 1)
            })
            .ok()?;
        Some(SizeToken {
            shared: Arc::downgrade(self),
            reason: None,
        })
    }

    /// Opens one connection and runs the `after_connect` hook, within the connect
    /// timeout and `deadline`, and reports the outcome to the pool's backoff (a success
    /// also wakes sleeping `get`s: the server is back). `Ok(None)`: the pool is already
    /// at `max_size`.
    async fn open(self: &Arc<Self>, deadline: Instant) -> Result<Option<Live>, Error> {
        let Some(mut token) = self.reserve() else {
            return Ok(None);
        };
        let t = self
            .cfg
            .connect_timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        let fut = async {
            let mut conn = Connection::connect(&self.cfg.conn).await?;
            if let Some(hook) = &self.cfg.after_connect {
                hook(&mut conn).await?;
            }
            Ok::<_, Error>(conn)
        };
        let r = match tokio::time::timeout(t, fut).await {
            Ok(r) => r,
            Err(_) => Err(Error::timeout("connect timed out")),
        };
        let now = Instant::now();
        let conn = match r {
            Ok(conn) => {
                self.backoff().on_success();
                self.wake_sleepers();
                conn
            }
            Err(e) => {
                // Not for errors returned at once: those do not mean the server is down,
                // and a backoff would only delay the next caller's copy of the error.
                if !retry_cannot_help(&e) {
                    let random = self.random();
                    self.backoff().on_failure(now, random);
                }
                return Err(e);
            }
        };
        let expires = self.cfg.max_lifetime.map(|l| {
            let jitter = self.random_upto(self.cfg.lifetime_jitter.min(l / 2));
            later(now, l.saturating_sub(jitter))
        });
        self.counters.created.fetch_add(1, Ordering::Relaxed);
        token.reason = Some(Reason::Broken);
        Ok(Some(Live {
            conn,
            expires,
            idle_since: now,
            token,
        }))
    }

    // ----- return -------------------------------------------------------------------------

    /// Takes a connection back from a guard. Never blocks: a connection that needs
    /// draining or a rollback is reset in a spawned task that keeps the slot's permit
    /// until it is done.
    pub(crate) fn put_back(self: &Arc<Self>, live: Live, permit: OwnedSemaphorePermit) {
        self.in_use.fetch_sub(1, Ordering::AcqRel);
        let now = Instant::now();
        if let Some(reason) = self.refuse(&live, now) {
            live.retire(reason);
            self.release(permit);
            return;
        }
        let clean = live.conn.is_idle()
            && live.conn.transaction_status() == TransactionStatus::Idle
            && self.cleanup_sql(&live).is_none();
        if clean {
            self.push_idle(live, now);
            self.release(permit);
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            live.retire(Reason::ResetFailed);
            self.release(permit);
            return;
        };
        let shared = Arc::clone(self);
        let mut live = live;
        live.token.reason = Some(Reason::ResetFailed);
        handle.spawn(async move {
            let sql = shared.cleanup_sql(&live);
            let budget = shared.cfg.reset_timeout;
            let reset = async {
                if live.conn.is_idle() {
                    live.conn.reset_for_reuse().await?;
                } else {
                    // An abandoned operation: let it finish by itself for a moment, else
                    // cancel it rather than wait it out. cancel_query returns once the
                    // server closed the cancel connection, i.e. after it signalled the
                    // backend, so the signal cannot hit a later query (checklist I1).
                    let grace = (budget / 4).min(CANCEL_GRACE);
                    if tokio::time::timeout(grace, live.conn.reset_for_reuse())
                        .await
                        .is_err()
                    {
                        if let Some(token) = live.conn.cancel_token() {
                            let _ = token.cancel_query(budget).await;
                        }
                    }
                    live.conn.reset_for_reuse().await?;
                }
                if let Some(sql) = sql {
                    live.conn.batch_execute(sql).await?;
                }
                Ok::<_, Error>(())
            };
            let ok = matches!(
                tokio::time::timeout(shared.cfg.reset_timeout, reset).await,
                Ok(Ok(()))
            );
            let now = Instant::now();
            if !ok
                || !live.conn.is_idle()
                || live.conn.transaction_status() != TransactionStatus::Idle
            {
                live.retire(Reason::ResetFailed);
            } else if let Some(reason) = shared.refuse(&live, now) {
                live.retire(reason);
            } else {
                live.token.reason = Some(Reason::Broken);
                shared.push_idle(live, now);
            }
            shared.release(permit);
        });
    }

    /// Why a returned connection cannot go back to the idle queue, if it cannot.
    fn refuse(&self, live: &Live, now: Instant) -> Option<Reason> {
        if self.is_closed() {
            Some(Reason::PoolClosed)
        } else if live.conn.is_broken()
            || (live.conn.saw_failover_error() && !self.meant_for_standbys())
        {
            // A failover sign (25006, 57P01, 57P03) counts as broken: reusing it would
            // keep sending writes to a server that can no longer take them.
            Some(Reason::Broken)
        } else if live.expired(now) {
            Some(Reason::Lifetime)
        } else {
            None
        }
    }

    /// Whether this pool asks for standbys or read-only servers
    /// (`target_session_attrs=read-only`, `standby` or `prefer-standby`). There, SQLSTATE
    /// 25006 (read_only_sql_transaction) is the server being what was asked for, not a
    /// failover: only 57P01 and 57P03 retire a connection. Those two come as FATAL errors
    /// (the server ends the session), which break the connection, so `is_broken` alone
    /// retires it; `saw_failover_error` cannot tell the three codes apart.
    fn meant_for_standbys(&self) -> bool {
        matches!(
            self.cfg.conn.target_session_attrs,
            TargetSessionAttrs::ReadOnly
                | TargetSessionAttrs::Standby
                | TargetSessionAttrs::PreferStandby
        )
    }

    /// The extra cleanup statement for a returned connection, if the policy asks for one
    /// and the server allows SQL cleanup at all.
    fn cleanup_sql(&self, live: &Live) -> Option<&'static str> {
        match self.cfg.session_reset {
            SessionReset::Clean if !live.conn.quirks().no_sql_cleanup => Some(CLEAN_SQL),
            _ => None,
        }
    }

    fn push_idle(&self, mut live: Live, now: Instant) {
        live.idle_since = now;
        self.idle().push_back(live);
        self.wake_sleepers();
    }

    fn release(&self, permit: OwnedSemaphorePermit) {
        drop(permit);
        // Only close() listens; notify_waiters takes a lock, so keep it off the hot path.
        // SeqCst pairs with close(): either it sees this permit back, or this sees
        // `closed` and wakes it.
        if self.closed.load(Ordering::SeqCst) {
            self.released.notify_waiters();
        }
    }

    // ----- background ---------------------------------------------------------------------

    /// One pass of the reaper: closes idle connections that are dead, too old, or idle
    /// too long (down to `min_idle`).
    pub(crate) fn reap(&self) {
        let now = Instant::now();
        let mut doomed = Vec::new();
        // Checked outside the lock: poll_alive may run the user's notice handler.
        let mut queue = std::mem::take(&mut *self.idle());
        let mut keep = VecDeque::with_capacity(queue.len());
        {
            let mut size = self.size.load(Ordering::Acquire);
            // Oldest-returned first, so the idle timeout shrinks from the cold end.
            while let Some(mut live) = queue.pop_front() {
                let idle_for = now.saturating_duration_since(live.idle_since);
                let reason = if !live.conn.poll_alive() {
                    Some(Reason::Broken)
                } else if live.expired(now) {
                    Some(Reason::Lifetime)
                } else if self.cfg.idle_timeout.is_some_and(|t| idle_for >= t)
                    && size > self.cfg.min_idle
                {
                    Some(Reason::IdleTimeout)
                } else {
                    None
                };
                match reason {
                    Some(r) => {
                        size = size.saturating_sub(1);
                        doomed.push((live, r));
                    }
                    None => keep.push_back(live),
                }
            }
        }
        {
            // Connections returned meanwhile are newer: the kept ones go in front.
            let mut idle = self.idle();
            keep.append(&mut idle);
            *idle = keep;
        }
        for (live, r) in doomed {
            live.retire(r);
        }
    }

    /// Opens connections until `min_idle` are idle (or the pool is full). Stops at the
    /// first failure, and makes no attempt while the pool is backing off; a later pass
    /// retries.
    pub(crate) async fn refill(self: &Arc<Self>) -> Result<(), Error> {
        while !self.is_closed() && self.idle().len() < self.cfg.min_idle {
            if self.backoff().wait_until(Instant::now()).is_some() {
                return Ok(());
            }
            let Ok(permit) = Arc::clone(&self.sem).try_acquire_owned() else {
                return Ok(());
            };
            let deadline = later(Instant::now(), self.cfg.connect_timeout);
            match self.open(deadline).await {
                Ok(None) => {
                    self.release(permit);
                    return Ok(());
                }
                Ok(Some(live)) => {
                    if self.is_closed() {
                        live.retire(Reason::PoolClosed);
                    } else {
                        self.push_idle(live, Instant::now());
                    }
                    self.release(permit);
                }
                Err(e) => {
                    self.counters
                        .connect_failures
                        .fetch_add(1, Ordering::Relaxed);
                    self.release(permit);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    // ----- close --------------------------------------------------------------------------

    pub(crate) async fn close(&self) -> Result<(), Error> {
        let deadline = later(Instant::now(), self.cfg.close_timeout);
        self.closed.store(true, Ordering::SeqCst);
        self.sem.close();
        self.wake_sleepers();
        loop {
            self.close_idle(deadline).await;
            // A Notified created before the check sees every later notify_waiters; the
            // periodic re-check covers a release that raced with setting `closed`.
            let released = self.released.notified();
            if self.sem.available_permits() >= self.cfg.max_size {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::timeout(
                    "pool close timed out with connections still checked out",
                ));
            }
            let wake = deadline.min(now + Duration::from_millis(20));
            let _ = tokio::time::timeout_at(wake, released).await;
        }
        self.close_idle(deadline).await;
        Ok(())
    }

    /// Closes every idle connection (Terminate, bounded by `deadline`).
    async fn close_idle(&self, deadline: Instant) {
        let idle: Vec<Live> = self.idle().drain(..).collect();
        let closes = idle.into_iter().map(|live| {
            let Live {
                conn, mut token, ..
            } = live;
            token.reason = Some(Reason::PoolClosed);
            async move {
                let _ = tokio::time::timeout_at(deadline, conn.close()).await;
                drop(token);
            }
        });
        futures::future::join_all(closes).await;
    }
}

/// The reaper: wakes every `reaper_interval` while the pool exists (it holds only a weak
/// reference, so dropping the last [`Pool`](super::Pool) stops it).
/// While the pool backs off, it wakes when the next connection attempt is due, if that
/// comes sooner.
pub(crate) async fn reaper(weak: Weak<Shared>) {
    loop {
        let delay = {
            let Some(shared) = weak.upgrade() else { return };
            if shared.is_closed() {
                return;
            }
            shared.reap();
            // A failure is recorded in the pool's backoff by `open`.
            let _ = shared.refill().await;
            let now = Instant::now();
            let interval = shared.cfg.reaper_interval;
            let pause = shared.backoff().wait_until(now);
            pause.map_or(interval, |at| {
                at.saturating_duration_since(now).min(interval)
            })
        };
        tokio::time::sleep(delay).await;
    }
}

/// A seed for the jitter generator: OS randomness, else the clock. Never zero.
fn seed() -> u64 {
    let mut b = [0u8; 8];
    let s = match getrandom::fill(&mut b) {
        Ok(()) => u64::from_le_bytes(b),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos() & u128::from(u64::MAX)).unwrap_or(1))
            .unwrap_or(1),
    };
    s | 1
}

/// `at + d`, or a time decades away when that overflows (a `Duration::MAX` timeout means
/// "no limit", not a panic).
pub(crate) fn later(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .unwrap_or_else(|| at + Duration::from_secs(30 * 365 * 86_400))
}
