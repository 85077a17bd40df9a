//! The ingest service: validated operations in, committed writes out.

use std::sync::Arc;

use herald_domain::Clock;
use herald_segment_engine::Input;
use herald_store::{StoreError, StoreHandle};

use crate::apply::apply;
use crate::operation::Operation;

/// Receives, right after each commit and in commit order, what the segment engine must learn
/// of a workspace's committed changes.
pub type Feed = Arc<dyn Fn(i64, Vec<Input>) + Send + Sync>;

/// Applies operations to a store at the time its clock gives.
#[derive(Clone)]
pub struct Ingest {
    store: StoreHandle,
    clock: Arc<dyn Clock>,
    feed: Option<Feed>,
}

impl std::fmt::Debug for Ingest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest")
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl Ingest {
    /// Creates the service.
    pub fn new(store: StoreHandle, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            feed: None,
        }
    }

    /// Sends what commits change to `feed` (the segment engine).
    pub fn with_feed(mut self, feed: Feed) -> Self {
        self.feed = Some(feed);
        self
    }

    /// Returns the store this service writes to.
    pub fn store(&self) -> &StoreHandle {
        &self.store
    }

    /// Returns the clock this service reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Applies all `operations` for a workspace in one job of the writer's transaction: either
    /// all of them are committed when this returns `Ok`, or none.
    pub async fn submit(
        &self,
        workspace_id: i64,
        operations: Vec<Operation>,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let feed = self.feed.clone();
        let job = move |tx: &mut dyn herald_store::StoreTx| {
            let mut inputs = Vec::new();
            for operation in &operations {
                apply(tx, workspace_id, operation, now, &mut inputs)?;
            }
            Ok::<Vec<Input>, StoreError>(inputs)
        };
        // The hook takes the inputs: the caller only needs to know the write committed.
        let hook = move |inputs: &mut Vec<Input>| {
            if let Some(feed) = feed
                && !inputs.is_empty()
            {
                feed(workspace_id, std::mem::take(inputs));
            }
        };
        self.store.write_with_hook(job, hook).await?.map(|_| ())
    }
}
