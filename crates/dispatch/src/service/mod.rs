//! What the App API and the web UI do with campaigns, below HTTP: validation against the
//! workspace's segments and the template compiler, storage, and telling the registry (so the
//! triggers see a change at once) and the dispatcher. `lifecycle.rs` starts, pauses and archives
//! them; `preview.rs` renders a message being edited and sends it as a test; `what_if.rs` tells
//! what an event would do before it is sent; `usage.rs` which campaigns use a segment.

mod error;
mod lifecycle;
mod metrics;
mod preview;
#[cfg(test)]
mod preview_tests;
#[cfg(test)]
mod tests;
mod transactional;
mod usage;
mod what_if;

use std::collections::BTreeSet;
use std::sync::Arc;

use herald_campaigns::Campaign;
use herald_domain::{CampaignId, Clock, SegmentId, WorkspaceId};
use herald_segments::Segments;
use herald_store::{CampaignRow, CampaignState, StoreHandle};
use serde_json::Value;

pub use error::CampaignsError;
pub use metrics::{METRIC_KEYS, metrics_of};
pub use preview::{
    FieldError, MessageDraft, MessagePreview, PreviewRequest, SampleEvent, SampleOf,
};
pub use transactional::{MessageRef, Queued, TransactionalSend};
pub(crate) use transactional::{TRANSACTIONAL, of_run as transactional_of_run};
pub use what_if::{CampaignOutcome, WhatIf};

use crate::{Dispatcher, Registry};

/// The campaign calls. Cheap to clone.
#[derive(Clone)]
pub struct Campaigns {
    store: StoreHandle,
    clock: Arc<dyn Clock>,
    registry: Arc<Registry>,
    dispatcher: Dispatcher,
    segments: Segments,
}

impl std::fmt::Debug for Campaigns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Campaigns")
    }
}

impl Campaigns {
    pub fn new(
        store: StoreHandle,
        clock: Arc<dyn Clock>,
        registry: Arc<Registry>,
        dispatcher: Dispatcher,
        segments: Segments,
    ) -> Self {
        Self {
            store,
            clock,
            registry,
            dispatcher,
            segments,
        }
    }

    /// Makes the dispatcher look for due runs now.
    pub fn wake(&self) {
        self.dispatcher.wake();
    }

    /// Forgets the campaigns of a workspace another process deleted (`herald workspace delete`):
    /// no event or segment change starts them any more, and the dispatcher ends their runs that
    /// come due before the deletion removed them, sending nothing.
    pub fn forget_workspace(&self, workspace_id: WorkspaceId) {
        self.registry.forget_workspace(workspace_id);
    }

    /// Every campaign of a workspace, oldest first.
    pub async fn list(
        &self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<CampaignRow>, CampaignsError> {
        Ok(self.store.read(move |r| r.campaigns(workspace_id)).await?)
    }

    /// One campaign of a workspace.
    pub async fn get(
        &self,
        workspace_id: WorkspaceId,
        id: CampaignId,
    ) -> Result<CampaignRow, CampaignsError> {
        self.store
            .read(move |r| r.campaign(workspace_id, id))
            .await?
            .ok_or(CampaignsError::NotFound)
    }

    /// Checks a campaign definition: its fields, its templates (they compile) and the segment
    /// its trigger names (it exists). Returns its name.
    pub async fn validate(
        &self,
        workspace_id: WorkspaceId,
        definition: &Value,
    ) -> Result<String, CampaignsError> {
        let segments: BTreeSet<SegmentId> = self
            .store
            .read(move |r| r.segments(workspace_id))
            .await?
            .iter()
            .map(|s| s.id)
            .collect();
        let templates = self.registry.templates();
        let check = |source: &str| {
            templates
                .compile(source)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let exists = |id: SegmentId| segments.contains(&id);
        let parsed = Campaign::parse(definition, &check, &exists)
            .and_then(|parsed| parsed.check_addresses().map(|()| parsed))
            .map_err(|error| CampaignsError::Invalid(error.to_string()))?;
        Ok(parsed.name)
    }

    /// Stores a valid campaign as a draft.
    pub async fn create(
        &self,
        workspace_id: WorkspaceId,
        definition: Value,
    ) -> Result<CampaignRow, CampaignsError> {
        let name = self.validate(workspace_id, &definition).await?;
        let now = self.clock.now();
        let row = CampaignRow {
            id: CampaignId::new(0),
            workspace_id,
            name,
            definition,
            state: CampaignState::Draft,
            created_at: now,
            updated_at: now,
        };
        let row = self
            .store
            .write(move |tx| tx.insert_campaign(&row))
            .await??;
        self.registry.upsert(&row);
        Ok(row)
    }

    /// Replaces a campaign's definition; its state stays.
    pub async fn update(
        &self,
        workspace_id: WorkspaceId,
        id: CampaignId,
        definition: Value,
    ) -> Result<CampaignRow, CampaignsError> {
        let mut row = self.get(workspace_id, id).await?;
        row.name = self.validate(workspace_id, &definition).await?;
        row.definition = definition;
        self.save(row).await
    }

    /// Stores a changed campaign with a new `updated_at` and tells the registry.
    async fn save(&self, mut row: CampaignRow) -> Result<CampaignRow, CampaignsError> {
        row.updated_at = self.clock.now().max(row.updated_at);
        let saved = row.clone();
        self.store
            .write(move |tx| tx.update_campaign(&saved))
            .await??;
        self.registry.upsert(&row);
        Ok(row)
    }

    /// Deletes a campaign and ends its runs in the same write: it sends nothing more.
    pub async fn delete(
        &self,
        workspace_id: WorkspaceId,
        id: CampaignId,
    ) -> Result<(), CampaignsError> {
        let now = self.clock.now();
        let deleted = self
            .store
            .write(move |tx| {
                let deleted = tx.delete_campaign(workspace_id, id)?;
                if deleted {
                    tx.cancel_runs(id, now)?;
                }
                Ok::<_, herald_store::StoreError>(deleted)
            })
            .await??;
        if !deleted {
            return Err(CampaignsError::NotFound);
        }
        self.registry.remove(id);
        Ok(())
    }
}
