//! The ingest service: validated operations in, committed writes out.

use std::sync::Arc;

use herald_domain::Clock;
use herald_store::{StoreError, StoreHandle};

use crate::apply::apply;
use crate::operation::Operation;

/// Applies operations to a store at the time its clock gives.
#[derive(Clone, Debug)]
pub struct Ingest {
    store: StoreHandle,
    clock: Arc<dyn Clock>,
}

impl Ingest {
    /// Creates the service.
    pub fn new(store: StoreHandle, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
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
        self.store
            .write(move |tx| {
                for operation in &operations {
                    apply(tx, workspace_id, operation, now)?;
                }
                Ok::<(), StoreError>(())
            })
            .await?
    }
}
