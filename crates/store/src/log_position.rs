//! Where an entry appended to the engine log went.
//!
//! Both stores hand positions out at commit, in commit order: SQLite writes a transaction's
//! entries after its last job, outside the jobs' savepoints, and PostgreSQL, which several
//! writers may share, takes them under a lock held until the commit (see
//! `herald-store-postgres`). Either way the appender learns the position once its transaction
//! committed, which is when it needs it (the segment engine's feed runs after the commit).

use std::sync::{Arc, OnceLock};

/// A position in the engine log, known once the transaction that appended the entry committed.
#[derive(Debug, Clone, Default)]
pub struct LogPosition(Arc<OnceLock<i64>>);

impl LogPosition {
    /// Records the position the entry was given (once; later calls change nothing).
    pub fn set(&self, position: i64) {
        let _ = self.0.set(position);
    }

    /// The position, once handed out: after the appending transaction committed.
    pub fn get(&self) -> Option<i64> {
        self.0.get().copied()
    }
}
