//! The order of an import's steps on this server. `herald import` keeps several steps in
//! flight, sent in order on several connections, so that the server decodes and checks one
//! while its writer applies another; their handlers may still finish in another order. A step
//! is registered as soon as its request arrives (its import and first line are in the query),
//! and after its checks it waits, before the writer, while a step of the same import that
//! starts earlier is here and not yet in the writer's queue, instead of reaching the writer
//! first and being refused with a `409` that would make the importer send it again. It need
//! not wait for the earlier step's commit: the writer's queue is first in, first out, so the
//! steps queued in order are applied in order, several of them to one transaction, and the
//! writer never idles between them. The store's check in the write job stays what decides;
//! this only spares the wasted work, and a step whose request ends (answered, failed or
//! dropped) leaves the set at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herald_domain::WorkspaceId;
use tokio::sync::Notify;

/// The longest a step waits for its turn before it goes to the writer anyway.
const MOST_WAIT: Duration = Duration::from_secs(30);

type Key = (WorkspaceId, String);

#[derive(Debug, Default)]
pub(crate) struct ImportTurns {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The first lines of the steps in flight, per import, and whether each is in the
    /// writer's queue yet.
    pending: Mutex<HashMap<Key, BTreeMap<u64, bool>>>,
    changed: Notify,
}

/// A step in flight; dropping it takes the step out of the set.
pub(crate) struct Turn {
    inner: Arc<Inner>,
    key: Key,
    first_line: u64,
}

impl ImportTurns {
    /// Registers a step that just arrived.
    pub(crate) fn enter(
        &self,
        workspace_id: WorkspaceId,
        import_id: &str,
        first_line: u64,
    ) -> Turn {
        let key = (workspace_id, import_id.to_owned());
        if let Ok(mut pending) = self.inner.pending.lock() {
            pending
                .entry(key.clone())
                .or_default()
                .insert(first_line, false);
        }
        Turn {
            inner: self.inner.clone(),
            key,
            first_line,
        }
    }
}

impl Turn {
    /// Waits while a step of the same import that starts earlier is here and not yet in the
    /// writer's queue.
    pub(crate) async fn wait(&self) {
        let give_up = tokio::time::Instant::now() + MOST_WAIT;
        loop {
            let changed = self.inner.changed.notified();
            let ahead = self.inner.pending.lock().is_ok_and(|pending| {
                pending
                    .get(&self.key)
                    .is_some_and(|lines| lines.range(..self.first_line).any(|(_, queued)| !*queued))
            });
            if !ahead || tokio::time::timeout_at(give_up, changed).await.is_err() {
                return;
            }
        }
    }
}

impl Turn {
    /// Marks the step as in the writer's queue: the steps after it may follow it there.
    pub(crate) fn queued(&self) {
        if let Ok(mut pending) = self.inner.pending.lock()
            && let Some(queued) = pending
                .get_mut(&self.key)
                .and_then(|lines| lines.get_mut(&self.first_line))
        {
            *queued = true;
        }
        self.inner.changed.notify_waiters();
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Ok(mut pending) = self.inner.pending.lock()
            && let Some(lines) = pending.get_mut(&self.key)
        {
            lines.remove(&self.first_line);
            if lines.is_empty() {
                pending.remove(&self.key);
            }
        }
        self.inner.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `turn` is still waiting after the tasks that could free it have run.
    async fn still_waiting(turn: &Turn) -> bool {
        tokio::time::timeout(Duration::from_millis(50), turn.wait())
            .await
            .is_err()
    }

    #[tokio::test]
    async fn a_step_follows_the_one_before_it_into_the_queue_not_to_its_commit() {
        let turns = ImportTurns::default();
        let workspace = WorkspaceId::new(1);
        let first = turns.enter(workspace, "a", 0);
        let second = turns.enter(workspace, "a", 2000);
        let other_import = turns.enter(workspace, "b", 4000);
        // The first step of an import never waits, nor does a step of another import.
        assert!(!still_waiting(&first).await);
        assert!(!still_waiting(&other_import).await);
        // The second waits while the first is decoded, and goes on once the first is queued,
        // though the first is still in flight (its commit not yet known).
        assert!(still_waiting(&second).await);
        first.queued();
        assert!(!still_waiting(&second).await);
        // A step that left without being queued (refused, or its client gone) frees the next.
        second.queued();
        let third = turns.enter(workspace, "a", 4000);
        let fourth = turns.enter(workspace, "a", 6000);
        assert!(still_waiting(&fourth).await);
        drop(third);
        assert!(!still_waiting(&fourth).await);
    }
}
