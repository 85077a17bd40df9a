//! Where an entry appended to the engine log went.
//!
//! A store with one writer hands a position out as it appends. A store that several writers
//! share (PostgreSQL with several nodes) cannot: the positions must follow commit order, which
//! is known only at commit, so it hands them out then, under a lock held until the commit
//! (see `herald-store-postgres`). Either way the appender learns the position once its
//! transaction committed, which is when it needs it (the segment engine's feed runs after the
//! commit).

use std::sync::{Arc, OnceLock};

/// A position in the engine log, known once the transaction that appended the entry committed.
#[derive(Debug, Clone, Default)]
pub struct LogPosition(Arc<OnceLock<i64>>);

impl LogPosition {
    /// A position already handed out.
    pub fn at(position: i64) -> Self {
        let known = Self::default();
        known.set(position);
        known
    }

    /// Records the position the entry was given (once; later calls change nothing).
    pub fn set(&self, position: i64) {
        let _ = self.0.set(position);
    }

    /// The position, once handed out: after the appending transaction committed.
    pub fn get(&self) -> Option<i64> {
        self.0.get().copied()
    }
}
