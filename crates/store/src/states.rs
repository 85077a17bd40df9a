//! The states a stored row moves through, as types: each is written and read by its name, and
//! only here are the names listed, so that a backend's SQL and the code that acts on a state
//! cannot disagree about them.

use serde::Serialize;

/// Where a run (one person going through one campaign) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Waiting for its next step, due at `due_at`.
    Active,
    /// Every step ran.
    Done,
    /// The person did not match the campaign's filter when the first step came due.
    Filtered,
    /// Ended from outside: the campaign was deleted or archived, or the person deleted or
    /// merged away.
    Cancelled,
    /// A message could not be rendered, or the dispatcher failed on the run.
    Failed,
}

impl RunState {
    pub const ALL: [RunState; 5] = [
        Self::Active,
        Self::Done,
        Self::Filtered,
        Self::Cancelled,
        Self::Failed,
    ];

    /// The name stored and shown for this state.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Done => "done",
            Self::Filtered => "filtered",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }

    /// The state of a stored name; `None` for a name no version wrote.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == name)
    }
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a campaign stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignState {
    /// Saved, never started: its triggers start nothing.
    Draft,
    /// Its triggers start runs and its runs move on.
    Running,
    /// Stopped for now: triggers start nothing and runs wait where they are.
    Paused,
    /// Put away: it starts nothing, its runs were ended, and it cannot be started until restored.
    Archived,
}

impl CampaignState {
    pub const ALL: [CampaignState; 4] = [Self::Draft, Self::Running, Self::Paused, Self::Archived];

    /// The name stored and shown for this state.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Archived => "archived",
        }
    }

    /// The state of a stored name; `None` for a name no version wrote.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == name)
    }
}

impl std::fmt::Display for CampaignState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a delivery (one message of one step of a run) stands: sent or not, then how far its
/// metrics took it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Recorded with its rendered content, not sent yet (or waiting for a retry).
    Queued,
    /// Accepted by the receiver, the SMTP server or the push service.
    Sent,
    Delivered,
    /// Bounced, dropped or reported as spam.
    Bounced,
    Opened,
    Clicked,
    Converted,
    /// Given up on: its last attempt failed, or the message could not be sent at all.
    Failed,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 8] = [
        Self::Queued,
        Self::Sent,
        Self::Delivered,
        Self::Bounced,
        Self::Opened,
        Self::Clicked,
        Self::Converted,
        Self::Failed,
    ];

    /// The name stored and shown for this status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Bounced => "bounced",
            Self::Opened => "opened",
            Self::Clicked => "clicked",
            Self::Converted => "converted",
            Self::Failed => "failed",
        }
    }

    /// The status of a stored name; `None` for a name no version wrote.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == name)
    }
}

impl std::fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a segment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentState {
    /// Its definition changed and its memberships are being built or stored.
    Build,
    /// Its memberships are stored and kept live (a manual segment is always finished).
    Finished,
}

impl SegmentState {
    pub const ALL: [SegmentState; 2] = [Self::Build, Self::Finished];

    /// The name stored and shown for this state.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Build => "build",
            Self::Finished => "finished",
        }
    }

    /// The state of a stored name; `None` for a name no version wrote.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == name)
    }
}

impl std::fmt::Display for SegmentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::{CampaignState, DeliveryStatus, RunState, SegmentState};

    #[test]
    fn run_states_round_trip_by_name_and_serialize_as_it() {
        for state in RunState::ALL {
            assert_eq!(RunState::parse(state.as_str()), Some(state));
            assert_eq!(
                serde_json::to_value(state).expect("serializes"),
                serde_json::Value::String(state.as_str().into())
            );
        }
        assert_eq!(RunState::parse("Active"), None);
    }

    #[test]
    fn campaign_states_round_trip_by_name_and_serialize_as_it() {
        for state in CampaignState::ALL {
            assert_eq!(CampaignState::parse(state.as_str()), Some(state));
            assert_eq!(
                serde_json::to_value(state).expect("serializes"),
                serde_json::Value::String(state.as_str().into())
            );
        }
        assert_eq!(CampaignState::parse("stopped"), None);
    }

    #[test]
    fn delivery_statuses_round_trip_by_name_and_serialize_as_it() {
        for status in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(status.as_str()), Some(status));
            assert_eq!(
                serde_json::to_value(status).expect("serializes"),
                serde_json::Value::String(status.as_str().into())
            );
        }
        assert_eq!(
            DeliveryStatus::parse("dropped"),
            None,
            "a metric that bounces it"
        );
    }

    #[test]
    fn segment_states_round_trip_by_name_and_serialize_as_it() {
        for state in SegmentState::ALL {
            assert_eq!(SegmentState::parse(state.as_str()), Some(state));
            assert_eq!(
                serde_json::to_value(state).expect("serializes"),
                serde_json::Value::String(state.as_str().into())
            );
        }
        assert_eq!(SegmentState::parse("building"), None);
    }
}
