//! Changes to what every node keeps in memory (campaigns, segment definitions), told to the
//! other nodes on one database.
//!
//! A backend that several processes share announces each such change with the transaction
//! that makes it (PostgreSQL: `NOTIFY`, delivered at commit and never for a rollback), and a
//! subscriber reads the changed row afresh, so notifications carry only what changed, never
//! its content, and several of them may be merged or repeated without harm.

use herald_domain::{CampaignId, SegmentId, WorkspaceId};

/// What changed. `Resync` means anything may have changed (the subscription was interrupted):
/// a subscriber reloads all it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreChange {
    Campaign {
        workspace_id: WorkspaceId,
        id: CampaignId,
    },
    Segment {
        workspace_id: WorkspaceId,
        id: SegmentId,
    },
    Resync,
}

impl StoreChange {
    /// The change as a notification's payload.
    pub fn encode(&self) -> String {
        match self {
            Self::Campaign { workspace_id, id } => format!("campaign {workspace_id} {id}"),
            Self::Segment { workspace_id, id } => format!("segment {workspace_id} {id}"),
            Self::Resync => "resync".to_owned(),
        }
    }

    /// Reads a payload `encode` made; anything else (a later version's kind) is a `Resync`, so
    /// a subscriber never misses a change it cannot name.
    pub fn decode(payload: &str) -> Self {
        let mut parts = payload.split(' ');
        let kind = parts.next();
        let workspace_id = parts.next().and_then(|part| part.parse().ok());
        let id = parts.next().and_then(|part| part.parse::<i64>().ok());
        match (kind, workspace_id, id, parts.next()) {
            (Some("campaign"), Some(workspace_id), Some(id), None) => Self::Campaign {
                workspace_id,
                id: CampaignId::new(id),
            },
            (Some("segment"), Some(workspace_id), Some(id), None) => Self::Segment {
                workspace_id,
                id: SegmentId::new(id),
            },
            _ => Self::Resync,
        }
    }
}

#[cfg(test)]
mod tests {
    use herald_domain::{CampaignId, SegmentId, WorkspaceId};

    use super::StoreChange;

    #[test]
    fn a_change_reads_back_and_anything_else_is_a_resync() {
        for change in [
            StoreChange::Campaign {
                workspace_id: WorkspaceId::new(3),
                id: CampaignId::new(41),
            },
            StoreChange::Segment {
                workspace_id: WorkspaceId::new(1),
                id: SegmentId::new(7),
            },
            StoreChange::Resync,
        ] {
            assert_eq!(StoreChange::decode(&change.encode()), change);
        }
        for other in [
            "",
            "campaign 1",
            "campaign x 2",
            "object 1 2",
            "segment 1 2 3",
        ] {
            assert_eq!(StoreChange::decode(other), StoreChange::Resync, "{other:?}");
        }
    }
}
