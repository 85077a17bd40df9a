//! Membership changes as stored rows.

use herald_domain::PersonSeq;
use herald_segment_engine::{Cause, Change, Origin};
use herald_store::{MembershipCause, MembershipChange, MembershipOrigin};

/// Describes why a membership changed, as stored and as shown by the history API.
fn membership_cause(cause: &Cause) -> MembershipCause {
    match cause {
        Cause::Event { name, timestamp } => MembershipCause::Event {
            name: name.clone(),
            timestamp: *timestamp,
        },
        Cause::Attributes => MembershipCause::AttributeChange,
        Cause::Deadline => MembershipCause::Deadline,
        Cause::Merge => MembershipCause::Merge,
        Cause::Delete => MembershipCause::Delete,
        Cause::Manual => MembershipCause::Manual,
        Cause::Build => MembershipCause::Build,
    }
}

pub(crate) fn to_row(change: &Change) -> MembershipChange {
    MembershipChange {
        segment_id: change.segment,
        person_seq: PersonSeq::new(change.person),
        entered: change.entered,
        at: change.at,
        cause: membership_cause(&change.cause),
        origin: match change.origin {
            Origin::Live => MembershipOrigin::Live,
            Origin::Build => MembershipOrigin::Build,
        },
    }
}
