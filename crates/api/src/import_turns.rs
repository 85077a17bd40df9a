//! The order of an import's steps on this server. `herald import` keeps several steps in
//! flight, sent in order on several connections, so that the server decodes and checks one
//! while its writer applies another; their handlers may still finish in another order. A step
//! is registered as soon as its request arrives (its import and first line are in the query),
//! and after its checks it waits, before the writer, while a step of the same import that
//! starts earlier is still in flight here, instead of reaching the writer first and being
//! refused with a `409` that would make the importer send it again. The store's check in the
//! write job stays what decides; this only spares the wasted work, and a step whose request
//! ends (answered, failed or dropped) leaves the set at once.

use std::collections::{BTreeSet, HashMap};
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
    /// The first lines of the steps in flight, per import.
    pending: Mutex<HashMap<Key, BTreeSet<u64>>>,
    left: Notify,
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
            pending.entry(key.clone()).or_default().insert(first_line);
        }
        Turn {
            inner: self.inner.clone(),
            key,
            first_line,
        }
    }
}

impl Turn {
    /// Waits while a step of the same import that starts earlier is in flight here.
    pub(crate) async fn wait(&self) {
        let give_up = tokio::time::Instant::now() + MOST_WAIT;
        loop {
            let left = self.inner.left.notified();
            let ahead = self.inner.pending.lock().is_ok_and(|pending| {
                pending
                    .get(&self.key)
                    .is_some_and(|lines| lines.range(..self.first_line).next().is_some())
            });
            if !ahead || tokio::time::timeout_at(give_up, left).await.is_err() {
                return;
            }
        }
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
        self.inner.left.notify_waiters();
    }
}
