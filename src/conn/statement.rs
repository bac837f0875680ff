//! Prepared statements and the per-connection LRU statement cache. No IO here: a
//! statement that is no longer used only queues its name (`CloseQueue`); the driver
//! sends the Close with its next write.
//!
//! # Who closes a statement
//!
//! A [`Statement`] is a shared handle (`Arc`); the connection's `StatementCache` holds
//! one clone of each statement it owns. The server-side statement is closed when the
//! **last** handle goes away: the cache evicting it while no caller holds a clone, or the
//! caller dropping a statement the cache never held (`prepare`). Dropping one clone while
//! another (the cache's, or the caller's) lives closes nothing. An explicit close marks
//! the statement closed, so that no second Close is queued when its handles drop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::row::Column;
use crate::protocol::Oid;

mod deallocate;

pub(crate) use deallocate::{deallocate_target, is_session_cleanup, Deallocated};

#[derive(Debug)]
struct Inner {
    name: String,
    sql: String,
    params: Vec<Oid>,
    /// Where the server binds placeholders by position and the SQL was renumbered: the
    /// caller's value for each wire parameter, and the wire parameter types.
    wire: Option<Wire>,
    columns: Arc<[Column]>,
    /// The connection's queue of statements to close; `None` for statements no
    /// connection cleans up after (tests).
    close_queue: Option<CloseQueue>,
    /// Closed explicitly ([`Statement::close`]): nothing to queue on drop.
    closed: AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(q) = &self.close_queue {
            if !self.closed.load(Ordering::Relaxed) {
                q.push(std::mem::take(&mut self.name));
            }
        }
    }
}

/// Names of statements to close on the server, shared by a connection and the statements
/// prepared on it: a statement's last handle queues its name on drop, and the connection
/// drains the queue into its next write (Close('S') in a sync window of its own).
#[derive(Debug, Clone, Default)]
pub(crate) struct CloseQueue(Arc<Mutex<Vec<String>>>);

impl CloseQueue {
    pub(crate) fn push(&self, name: String) {
        // A poisoned lock still holds a valid Vec: a panic elsewhere must not leak
        // statements (nor panic again in a destructor).
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(name);
    }

    /// The names queued so far, in order.
    pub(crate) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Whether `other` is this very queue (the same connection).
    fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

#[derive(Debug)]
struct Wire {
    order: Vec<u16>,
    params: Vec<Oid>,
}

/// A statement prepared on one connection (named on the server).
///
/// Clones share the server-side statement. It stays prepared while any clone (or the
/// connection's statement cache) holds it; when the last handle is dropped, a Close is
/// queued and sent with the connection's next operation, in the same write. To close it
/// at once, and learn whether that worked, call [`close`](Self::close).
#[derive(Debug, Clone)]
pub struct Statement(Arc<Inner>);

impl Statement {
    pub(crate) fn new(
        name: String,
        sql: String,
        params: Vec<Oid>,
        columns: Vec<Column>,
        close_queue: Option<CloseQueue>,
    ) -> Self {
        Self(Arc::new(Inner {
            name,
            sql,
            params,
            wire: None,
            columns: columns.into(),
            close_queue,
            closed: AtomicBool::new(false),
        }))
    }

    /// A statement whose SQL was sent renumbered: wire parameter `i` takes the caller's
    /// value `order[i]`; `wire_params` are its parameter types (wire order).
    pub(crate) fn renumbered(
        name: String,
        sql: String,
        order: Vec<u16>,
        wire_params: Vec<Oid>,
        columns: Vec<Column>,
        close_queue: Option<CloseQueue>,
    ) -> Self {
        let callers = order.iter().map(|&j| usize::from(j) + 1).max().unwrap_or(0);
        let params = (0..callers)
            .map(|j| {
                order
                    .iter()
                    .position(|&o| usize::from(o) == j)
                    .and_then(|i| wire_params.get(i).copied())
                    .unwrap_or(0)
            })
            .collect();
        Self(Arc::new(Inner {
            name,
            sql,
            params,
            wire: Some(Wire {
                order,
                params: wire_params,
            }),
            columns: columns.into(),
            close_queue,
            closed: AtomicBool::new(false),
        }))
    }

    /// Whether this statement was prepared on the connection that owns `queue`.
    pub(crate) fn belongs_to(&self, queue: &CloseQueue) -> bool {
        self.0.close_queue.as_ref().is_some_and(|q| q.same(queue))
    }

    /// Records that the statement is being closed explicitly: dropping its handles
    /// queues no further Close.
    pub(crate) fn mark_closed(&self) {
        self.0.closed.store(true, Ordering::Relaxed);
    }

    /// The parameter types in the order they are sent (differs from
    /// [`params`](Self::params) only for renumbered statements).
    pub(crate) fn wire_params(&self) -> &[Oid] {
        match &self.0.wire {
            Some(w) => &w.params,
            None => &self.0.params,
        }
    }

    /// For renumbered statements: the caller's value index for each wire parameter.
    pub(crate) fn wire_order(&self) -> Option<&[u16]> {
        self.0.wire.as_ref().map(|w| w.order.as_slice())
    }

    /// The server-side name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The SQL text.
    pub fn sql(&self) -> &str {
        &self.0.sql
    }

    /// Parameter type OIDs: as the server described them, or, for statements prepared
    /// to run without a Describe (iris-pgwire), the types declared in Parse.
    pub fn params(&self) -> &[Oid] {
        &self.0.params
    }

    /// Result columns (empty for statements that return no rows).
    pub fn columns(&self) -> &[Column] {
        &self.0.columns
    }

    pub(crate) fn columns_arc(&self) -> Arc<[Column]> {
        self.0.columns.clone()
    }
}

/// LRU cache of named statements keyed by SQL. An evicted statement is closed with a
/// protocol Close('S') (never SQL `DEALLOCATE`) once no caller holds it either (see the
/// module docs); the cache also owns the connection's [`CloseQueue`].
#[derive(Debug, Default)]
pub(crate) struct StatementCache {
    capacity: usize,
    tick: u64,
    map: HashMap<String, (Statement, u64)>,
    to_close: CloseQueue,
}

impl StatementCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            ..Self::default()
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0
    }

    pub(crate) fn get(&mut self, sql: &str) -> Option<Statement> {
        self.tick += 1;
        let tick = self.tick;
        self.map.get_mut(sql).map(|(s, t)| {
            *t = tick;
            s.clone()
        })
    }

    /// Inserts, evicting the least recently used entry when full.
    pub(crate) fn insert(&mut self, stmt: Statement) {
        if !self.enabled() {
            return;
        }
        if self.map.len() >= self.capacity {
            if let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| k.clone())
            {
                // Dropping the cache's handle queues the Close, unless a caller still
                // holds the statement (then its last drop does).
                self.map.remove(&oldest);
            }
        }
        self.tick += 1;
        self.map.insert(stmt.sql().to_string(), (stmt, self.tick));
    }

    /// Names of statements whose last handle went away since the last call (evicted from
    /// the cache or dropped by their owner), to be closed on the server.
    pub(crate) fn take_evicted(&mut self) -> Vec<String> {
        self.to_close.take()
    }

    /// The queue the connection's statements put their names in when dropped.
    pub(crate) fn close_queue(&self) -> &CloseQueue {
        &self.to_close
    }

    /// Whether the cache holds this very statement (same SQL and server-side name).
    pub(crate) fn holds(&self, stmt: &Statement) -> bool {
        self.map
            .get(stmt.sql())
            .is_some_and(|(s, _)| s.name() == stmt.name())
    }

    /// Forgets `stmt` if the cache holds this very statement (it is being closed).
    pub(crate) fn remove(&mut self, stmt: &Statement) {
        if self
            .map
            .get(stmt.sql())
            .is_some_and(|(s, _)| s.name() == stmt.name())
        {
            self.map.remove(stmt.sql());
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Forgets the statements a command already removed on the server (see
    /// [`Deallocated`]), queueing no Close for them: they are gone, so a Close would only
    /// be traffic. Handles callers still hold are marked closed too, so dropping them
    /// sends nothing either. [`Deallocated::Unknown`] (some statement, name unknown)
    /// forgets everything like [`clear`](Self::clear), Close included, because the others
    /// may still exist.
    pub(crate) fn forget(&mut self, what: &Deallocated) {
        match what {
            Deallocated::All => {
                for (s, _) in self.map.values() {
                    s.mark_closed();
                }
                self.map.clear();
            }
            Deallocated::Named(name) => self.forget_named(name),
            Deallocated::Unknown => self.clear(),
        }
    }

    /// Forgets the cached statement named `name`, if any, without queueing a Close (the
    /// server no longer has it).
    pub(crate) fn forget_named(&mut self, name: &str) {
        let sql = self
            .map
            .iter()
            .find(|(_, (s, _))| s.name() == name)
            .map(|(k, _)| k.clone());
        if let Some((s, _)) = sql.and_then(|k| self.map.remove(&k)) {
            s.mark_closed();
        }
    }

    /// Forgets everything when some server-side statements may be gone and others not
    /// (a `DEALLOCATE` whose name is unknown, a cached statement missing on the server).
    /// Their names are queued for Close like any dropped statement's: closing a statement
    /// that no longer exists is not an error ("It is not an error to issue Close against
    /// a nonexistent statement or portal name", Protocol, *Extended Query*; iris-pgwire answers
    /// CloseComplete too), and any that do still exist must not be left behind.
    pub(crate) fn clear(&mut self) {
        self.map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(c: &StatementCache, n: u32) -> Statement {
        Statement::new(
            format!("s{n}"),
            format!("select {n}"),
            vec![],
            vec![],
            Some(c.close_queue().clone()),
        )
    }

    #[test]
    fn lru_cache_evicts_the_least_recently_used_statement() {
        let mut c = StatementCache::new(2);
        c.insert(stmt(&c, 1));
        c.insert(stmt(&c, 2));
        assert!(c.get("select 1").is_some());
        c.insert(stmt(&c, 3));
        assert!(c.get("select 2").is_none());
        assert!(c.get("select 1").is_some());
        assert_eq!(c.take_evicted(), vec!["s2".to_string()]);
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn disabled_cache_stores_nothing() {
        let mut c = StatementCache::new(0);
        c.insert(stmt(&c, 1));
        assert!(c.get("select 1").is_none());
    }

    #[test]
    fn dropping_the_last_handle_of_an_uncached_statement_queues_its_close() {
        let mut c = StatementCache::new(2);
        let s = stmt(&c, 1);
        let clone = s.clone();
        drop(s);
        assert!(c.take_evicted().is_empty(), "a clone still holds it");
        drop(clone);
        assert_eq!(c.take_evicted(), vec!["s1".to_string()]);
        assert!(c.take_evicted().is_empty(), "queued once");
    }

    #[test]
    fn dropping_a_callers_clone_of_a_cached_statement_closes_nothing() {
        let mut c = StatementCache::new(2);
        c.insert(stmt(&c, 1));
        let mine = c.get("select 1").unwrap();
        drop(mine);
        assert!(c.take_evicted().is_empty());
        assert!(c.get("select 1").is_some(), "still cached, still prepared");
    }

    #[test]
    fn an_evicted_statement_a_caller_still_holds_is_closed_when_the_caller_drops_it() {
        let mut c = StatementCache::new(1);
        c.insert(stmt(&c, 1));
        let mine = c.get("select 1").unwrap();
        c.insert(stmt(&c, 2));
        assert!(
            c.take_evicted().is_empty(),
            "the caller may still run it: it stays prepared"
        );
        drop(mine);
        assert_eq!(c.take_evicted(), vec!["s1".to_string()]);
    }

    #[test]
    fn a_statement_closed_explicitly_queues_no_close_when_dropped() {
        let mut c = StatementCache::new(2);
        c.insert(stmt(&c, 1));
        let s = c.get("select 1").unwrap();
        s.mark_closed();
        c.remove(&s);
        assert_eq!(c.len(), 0);
        drop(s);
        assert!(c.take_evicted().is_empty());
    }

    #[test]
    fn removing_a_statement_the_cache_does_not_hold_keeps_the_cached_one() {
        let mut c = StatementCache::new(2);
        c.insert(stmt(&c, 1));
        // Same SQL, another server-side statement (e.g. from `prepare`).
        let other = Statement::new("s9".into(), "select 1".into(), vec![], vec![], None);
        c.remove(&other);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn forgetting_every_statement_queues_no_close_even_for_handles_callers_hold() {
        let mut c = StatementCache::new(4);
        c.insert(stmt(&c, 1));
        c.insert(stmt(&c, 2));
        let held = c.get("select 1").unwrap();
        c.forget(&Deallocated::All);
        assert_eq!(c.len(), 0);
        drop(held);
        assert!(c.take_evicted().is_empty());
    }

    #[test]
    fn forgetting_one_name_keeps_the_others_and_queues_no_close() {
        let mut c = StatementCache::new(4);
        c.insert(stmt(&c, 1));
        c.insert(stmt(&c, 2));
        c.forget(&Deallocated::Named("s1".into()));
        assert!(c.get("select 1").is_none());
        assert!(c.get("select 2").is_some());
        c.forget(&Deallocated::Named("not_ours".into()));
        assert_eq!(c.len(), 1);
        assert!(c.take_evicted().is_empty());
    }

    #[test]
    fn an_unknown_deallocation_forgets_everything_and_closes_what_may_remain() {
        let mut c = StatementCache::new(4);
        c.insert(stmt(&c, 1));
        c.insert(stmt(&c, 2));
        c.forget(&Deallocated::Unknown);
        assert_eq!(c.len(), 0);
        let mut closed = c.take_evicted();
        closed.sort();
        assert_eq!(closed, vec!["s1".to_string(), "s2".to_string()]);
    }

    #[test]
    fn a_statement_belongs_only_to_the_connection_whose_queue_it_uses() {
        let a = StatementCache::new(2);
        let b = StatementCache::new(2);
        let s = stmt(&a, 1);
        assert!(s.belongs_to(a.close_queue()));
        assert!(!s.belongs_to(b.close_queue()));
    }
}
