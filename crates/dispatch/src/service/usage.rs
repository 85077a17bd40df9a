//! Which campaigns use a segment (`GET /v1/segments/{id}/used_by`).

use herald_campaigns::Campaign;
use herald_domain::{CampaignId, SegmentId, WorkspaceId};

use super::{Campaigns, CampaignsError};

impl Campaigns {
    /// The campaigns of a workspace whose trigger or filter refers to a segment, by id; every
    /// stored campaign counts, drafts and archived ones included, since each would act on the
    /// segment once started or restored.
    pub async fn using_segment(
        &self,
        workspace_id: WorkspaceId,
        segment_id: SegmentId,
    ) -> Result<Vec<CampaignId>, CampaignsError> {
        let rows = self.list(workspace_id).await?;
        let mut users: Vec<CampaignId> = rows
            .iter()
            .filter(|row| {
                // Stored definitions were checked when saved; only what they refer to matters
                // here, so templates and segments are not checked again. One that no longer
                // parses refers to nothing the triggers would act on.
                Campaign::parse(&row.definition, &|_| Ok(()), &|_| true)
                    .is_ok_and(|campaign| campaign.segments().contains(&segment_id))
            })
            .map(|row| row.id)
            .collect();
        users.sort();
        Ok(users)
    }
}
