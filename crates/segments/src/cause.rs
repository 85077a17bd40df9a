//! Membership changes as stored rows.

use herald_segment_engine::{Cause, Change, Origin};
use herald_store::MembershipChange;
use serde_json::{Value, json};

/// Describes why a membership changed, as stored and as shown by the history API.
pub fn cause_json(cause: &Cause) -> Value {
    match cause {
        Cause::Event { name, timestamp } => {
            json!({"type": "event", "name": name, "timestamp": timestamp})
        }
        Cause::Attributes => json!({"type": "attribute_change"}),
        Cause::Deadline => json!({"type": "deadline"}),
        Cause::Merge => json!({"type": "merge"}),
        Cause::Delete => json!({"type": "delete"}),
        Cause::Manual => json!({"type": "manual"}),
        Cause::Build => json!({"type": "build"}),
    }
}

pub(crate) fn to_row(change: &Change) -> MembershipChange {
    MembershipChange {
        segment_id: change.segment,
        person_seq: change.person,
        entered: change.entered,
        at: change.at,
        cause: cause_json(&change.cause),
        origin: match change.origin {
            Origin::Live => "live".into(),
            Origin::Build => "build".into(),
        },
    }
}
