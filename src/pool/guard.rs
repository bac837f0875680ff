//! [`PooledConnection`]: the guard `get` returns.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use super::inner::{Live, Shared};
use crate::Connection;

/// A connection checked out of a [`Pool`](super::Pool). Derefs to [`Connection`]; dropping
/// it returns the connection, also when the holder panics or its future is dropped in the
/// middle of a query (see "What happens on return" in the [module docs](super)).
pub struct PooledConnection {
    /// `Some` from checkout until `drop` takes it.
    live: Option<Live>,
    permit: Option<OwnedSemaphorePermit>,
    shared: Arc<Shared>,
    checked_out: Instant,
}

impl std::fmt::Debug for PooledConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledConnection")
            .field("conn", &self.live.as_ref().map(|l| &l.conn))
            .finish_non_exhaustive()
    }
}

impl PooledConnection {
    pub(crate) fn new(live: Live, permit: OwnedSemaphorePermit, shared: Arc<Shared>) -> Self {
        Self {
            live: Some(live),
            permit: Some(permit),
            shared,
            checked_out: Instant::now(),
        }
    }

    fn live(&self) -> &Live {
        // Invariant: `live` is only taken in `drop`, so it is present for every other use.
        #[allow(clippy::expect_used)]
        self.live
            .as_ref()
            .expect("a PooledConnection holds its connection until dropped")
    }

    fn live_mut(&mut self) -> &mut Live {
        #[allow(clippy::expect_used)]
        self.live
            .as_mut()
            .expect("a PooledConnection holds its connection until dropped")
    }

    /// How long this connection has been checked out.
    pub fn held_for(&self) -> Duration {
        self.checked_out.elapsed()
    }
}

impl Deref for PooledConnection {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.live().conn
    }
}

impl DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.live_mut().conn
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        if let (Some(live), Some(permit)) = (self.live.take(), self.permit.take()) {
            self.shared.put_back(live, permit);
        }
    }
}
