//! Starting, pausing and archiving campaigns.

use herald_campaigns::{Enrollment, Trigger};
use herald_domain::{CampaignId, PersonSeq, SegmentId, WorkspaceId};
use herald_store::{CampaignRow, CampaignState, StoreError};
use tokio::sync::oneshot;

use super::{Campaigns, CampaignsError};
use crate::enroll_current;

impl Campaigns {
    /// Starts a campaign. The first start of one with `enrollment: current_and_future` takes
    /// the people already in its segment, in the same write that makes it `running`: the
    /// campaign never runs without them, and a failed write leaves it a draft with nobody
    /// enrolled.
    pub async fn start(
        &self,
        workspace_id: WorkspaceId,
        id: CampaignId,
    ) -> Result<CampaignRow, CampaignsError> {
        let mut row = self.get(workspace_id, id).await?;
        if row.state == CampaignState::Archived {
            return Err(CampaignsError::Invalid(
                "an archived campaign does not start: restore it first".into(),
            ));
        }
        let first = row.state == CampaignState::Draft;
        row.state = CampaignState::Running;
        row.updated_at = self.clock.now().max(row.updated_at);
        let enrolling = self
            .registry
            .get(id)
            .filter(|loaded| first && loaded.campaign.enrollment == Enrollment::CurrentAndFuture);
        match enrolling.as_ref().map(|loaded| &loaded.campaign.trigger) {
            Some(Trigger::Segment { id: segment, .. }) => {
                let segment = *segment;
                let loaded = enrolling.clone().expect("matched above");
                self.start_enrolling(workspace_id, segment, row.clone(), loaded)
                    .await?;
            }
            _ => {
                let row = self.save(row).await?;
                self.wake();
                return Ok(row);
            }
        }
        self.wake();
        Ok(row)
    }

    /// Makes a campaign `running` and enrolls its segment's members in one write, ordered
    /// exactly against the segment's own changes: the members are read on the engine's thread
    /// and the write is queued from there, behind the stored changes of everyone who entered
    /// before and ahead of those who enter after; the registry learns of the start right
    /// after the commit, on the writer's thread, so the live trigger takes everyone after.
    async fn start_enrolling(
        &self,
        workspace_id: WorkspaceId,
        segment: SegmentId,
        row: CampaignRow,
        loaded: std::sync::Arc<crate::Loaded>,
    ) -> Result<(), CampaignsError> {
        let (reply, committed) = oneshot::channel();
        let registry = self.registry.clone();
        let now = self.clock.now();
        if !self.segments.holds_everyone() {
            // The engines of several servers hold the members: they are gathered from all of
            // them, then enrolled in one write. A member stored by another server between the
            // two is taken by the live trigger once that server hears of the start, as any
            // change of another server is (docs/scaling.md).
            let members: Vec<PersonSeq> = self
                .segments
                .all_members(workspace_id, segment)
                .await?
                .into_iter()
                .map(PersonSeq::new)
                .collect();
            let saved = row.clone();
            self.store
                .write_with_hook(
                    move |tx| {
                        tx.update_campaign(&saved)?;
                        enroll_current(tx, &loaded, &members, now)
                    },
                    // Called once the write committed.
                    move |_enrolled: &mut usize| registry.upsert(&row),
                )
                .await??;
            return Ok(());
        }
        let queued = self
            .segments
            .query(move |view| {
                let members: Vec<PersonSeq> = view
                    .engines
                    .get(&workspace_id)
                    .map(|engine| engine.members(segment).map(PersonSeq::new).collect())
                    .unwrap_or_default();
                let saved = row.clone();
                view.store.submit_background_with_hook(
                    move |tx| {
                        tx.update_campaign(&saved)?;
                        enroll_current(tx, &loaded, &members, now)
                    },
                    move |result| {
                        if result.is_ok() {
                            registry.upsert(&row);
                        }
                        let _ = reply.send(result);
                    },
                )
            })
            .await?;
        queued?;
        committed.await.map_err(|_| StoreError::Closed)??;
        Ok(())
    }

    /// Pauses a campaign: its runs wait where they are until it starts again.
    pub async fn pause(
        &self,
        workspace_id: WorkspaceId,
        id: CampaignId,
    ) -> Result<CampaignRow, CampaignsError> {
        let mut row = self.get(workspace_id, id).await?;
        if row.state == CampaignState::Archived {
            return Err(CampaignsError::Invalid(
                "an archived campaign is already stopped".into(),
            ));
        }
        row.state = CampaignState::Paused;
        self.save(row).await
    }

    /// Archives a campaign: it stops for good, its runs in flight end (`cancelled`) in the
    /// same write, and it keeps its deliveries and metrics, unlike a deletion.
    pub async fn archive(
        &self,
        workspace_id: WorkspaceId,
        id: CampaignId,
    ) -> Result<CampaignRow, CampaignsError> {
        let mut row = self.get(workspace_id, id).await?;
        row.state = CampaignState::Archived;
        row.updated_at = self.clock.now().max(row.updated_at);
        let (saved, now) = (row.clone(), self.clock.now());
        self.store
            .write(move |tx| {
                tx.update_campaign(&saved)?;
                tx.cancel_runs(saved.id, now)
            })
            .await??;
        self.registry.upsert(&row);
        Ok(row)
    }

    /// Brings an archived campaign back, paused: it starts again only when asked to.
    pub async fn restore(
        &self,
        workspace_id: WorkspaceId,
        id: CampaignId,
    ) -> Result<CampaignRow, CampaignsError> {
        let mut row = self.get(workspace_id, id).await?;
        if row.state != CampaignState::Archived {
            return Ok(row);
        }
        row.state = CampaignState::Paused;
        self.save(row).await
    }
}
