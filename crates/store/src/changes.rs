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
    /// A node asked the other nodes' engines a question (`StoreTx::ask_engines`).
    Question {
        id: i64,
    },
    /// A node answered question `question` (`StoreTx::answer_engines`).
    Answer {
        question: i64,
    },
    Resync,
}

impl StoreChange {
    /// The change as a notification's payload.
    pub fn encode(&self) -> String {
        match self {
            Self::Campaign { workspace_id, id } => format!("campaign {workspace_id} {id}"),
            Self::Segment { workspace_id, id } => format!("segment {workspace_id} {id}"),
            Self::Question { id } => format!("question {id}"),
            Self::Answer { question } => format!("answer {question}"),
            Self::Resync => "resync".to_owned(),
        }
    }

    /// Reads a payload `encode` made; anything else (a later version's kind) is a `Resync`, so
    /// a subscriber never misses a change it cannot name.
    pub fn decode(payload: &str) -> Self {
        let parts: Vec<&str> = payload.split(' ').collect();
        let number = |text: &str| text.parse::<i64>().ok();
        let decoded = match parts.as_slice() {
            ["campaign", workspace_id, id] => {
                workspace_id
                    .parse()
                    .ok()
                    .zip(number(id))
                    .map(|(workspace_id, id)| Self::Campaign {
                        workspace_id,
                        id: CampaignId::new(id),
                    })
            }
            ["segment", workspace_id, id] => {
                workspace_id
                    .parse()
                    .ok()
                    .zip(number(id))
                    .map(|(workspace_id, id)| Self::Segment {
                        workspace_id,
                        id: SegmentId::new(id),
                    })
            }
            ["question", id] => number(id).map(|id| Self::Question { id }),
            ["answer", question] => number(question).map(|question| Self::Answer { question }),
            _ => None,
        };
        decoded.unwrap_or(Self::Resync)
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
            StoreChange::Question { id: 12 },
            StoreChange::Answer { question: 12 },
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
            "question",
            "question x",
            "answer 1 2",
        ] {
            assert_eq!(StoreChange::decode(other), StoreChange::Resync, "{other:?}");
        }
    }
}
