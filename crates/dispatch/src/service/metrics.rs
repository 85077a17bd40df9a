//! A campaign's outcome counts, as the App API and the web UI show them.

use super::{Campaigns, CampaignsError};
use herald_domain::{CampaignId, WorkspaceId};

/// The outcomes every answer names, even at zero, so a campaign that has not sent yet needs no
/// special case. `triggered` counts the runs started (a person going through the campaign once).
pub const METRIC_KEYS: [&str; 9] = [
    "triggered",
    "queued",
    "sent",
    "delivered",
    "opened",
    "clicked",
    "converted",
    "bounced",
    "failed",
];

/// Lays the store's counts out with every usual outcome present, in `METRIC_KEYS` order, then
/// any other the store knows.
pub fn metrics_of(counts: Vec<(String, i64)>) -> Vec<(String, i64)> {
    let mut metrics: Vec<(String, i64)> = METRIC_KEYS
        .iter()
        .map(|key| ((*key).to_owned(), 0))
        .collect();
    for (name, count) in counts {
        // `failed` can come twice: as the status of deliveries Herald gave up on and as a
        // metric a client reported. Both may describe the same delivery, so adding them would
        // count it twice; the larger of the two is the closest honest figure.
        match metrics.iter_mut().find(|(known, _)| *known == name) {
            Some((_, known)) => *known = (*known).max(count),
            None => metrics.push((name, count)),
        }
    }
    metrics
}

impl Campaigns {
    /// A campaign's outcome counts.
    pub async fn metrics(
        &self,
        workspace_id: WorkspaceId,
        id: CampaignId,
    ) -> Result<Vec<(String, i64)>, CampaignsError> {
        let counts = self
            .store
            .read(move |reader| {
                if reader.campaign(workspace_id, id)?.is_none() {
                    return Ok(None);
                }
                reader.campaign_metrics(workspace_id, id).map(Some)
            })
            .await?
            .ok_or(CampaignsError::NotFound)?;
        Ok(metrics_of(counts))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_usual_outcome_is_named_and_failed_is_never_counted_twice() {
        let laid = super::metrics_of(vec![
            ("failed".into(), 2),
            ("sent".into(), 5),
            ("failed".into(), 3),
            ("custom".into(), 1),
        ]);
        assert_eq!(laid.len(), 10);
        assert_eq!(laid[2], ("sent".into(), 5));
        assert_eq!(laid[8], ("failed".into(), 3));
        assert_eq!(laid[9], ("custom".into(), 1));
    }
}
