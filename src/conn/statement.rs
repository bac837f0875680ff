//! Prepared statements and the per-connection LRU statement cache.

use std::collections::HashMap;
use std::sync::Arc;

use super::row::Column;
use crate::protocol::Oid;

#[derive(Debug)]
struct Inner {
    name: String,
    sql: String,
    params: Vec<Oid>,
    /// Where the server binds placeholders by position and the SQL was renumbered: the
    /// caller's value for each wire parameter, and the wire parameter types.
    wire: Option<Wire>,
    columns: Arc<[Column]>,
}

#[derive(Debug)]
struct Wire {
    order: Vec<u16>,
    params: Vec<Oid>,
}

/// A statement prepared on one connection (named on the server).
#[derive(Debug, Clone)]
pub struct Statement(Arc<Inner>);

impl Statement {
    pub(crate) fn new(name: String, sql: String, params: Vec<Oid>, columns: Vec<Column>) -> Self {
        Self(Arc::new(Inner {
            name,
            sql,
            params,
            wire: None,
            columns: columns.into(),
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
        }))
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

/// LRU cache of named statements keyed by SQL. Evicted names are queued for a protocol
/// Close('S') (never SQL `DEALLOCATE`).
#[derive(Debug, Default)]
pub(crate) struct StatementCache {
    capacity: usize,
    tick: u64,
    map: HashMap<String, (Statement, u64)>,
    to_close: Vec<String>,
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
                if let Some((s, _)) = self.map.remove(&oldest) {
                    self.to_close.push(s.name().to_string());
                }
            }
        }
        self.tick += 1;
        self.map.insert(stmt.sql().to_string(), (stmt, self.tick));
    }

    /// Names evicted since the last call, to be closed on the server.
    pub(crate) fn take_evicted(&mut self) -> Vec<String> {
        std::mem::take(&mut self.to_close)
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Forgets everything (the server-side statements are gone, e.g. after DISCARD).
    pub(crate) fn clear(&mut self) {
        self.map.clear();
        self.to_close.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(n: u32) -> Statement {
        Statement::new(format!("s{n}"), format!("select {n}"), vec![], vec![])
    }

    #[test]
    fn lru_cache_evicts_the_least_recently_used_statement() {
        let mut c = StatementCache::new(2);
        c.insert(stmt(1));
        c.insert(stmt(2));
        assert!(c.get("select 1").is_some());
        c.insert(stmt(3));
        assert!(c.get("select 2").is_none());
        assert!(c.get("select 1").is_some());
        assert_eq!(c.take_evicted(), vec!["s2".to_string()]);
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn disabled_cache_stores_nothing() {
        let mut c = StatementCache::new(0);
        c.insert(stmt(1));
        assert!(c.get("select 1").is_none());
    }
}
