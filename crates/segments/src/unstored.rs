//! The build changes a node computed for its own partitions but could not store, so that the
//! comparison at takeover stores them as what they were.
//!
//! A node stores nothing while its leases have run out by its clock (it stalled, or the dev
//! clock jumped) or while a partition it took over is not yet compared with the store. Changes
//! it computes then are stored later by that comparison, as differences, and a difference is a
//! live change unless the segment is still building. But a change that came from a build or
//! from the retention setting forgetting old events is nothing a person did: stored as live, it
//! started campaigns (an exit campaign fired when the retention dropped a person's only
//! event, found by the retention test in cluster mode under CI load). This keeps the last build
//! change of each (segment, person) that went unstored, so the comparison can tell them apart.

use std::collections::HashMap;

use herald_domain::{SegmentId, WorkspaceId};
use herald_segment_engine::{Change, Origin};
use herald_store::partition_of;

/// The unstored build changes, by workspace, segment and person: whether the person entered.
#[derive(Debug, Default)]
pub(crate) struct UnstoredBuilds(HashMap<(WorkspaceId, SegmentId, i64), bool>);

impl UnstoredBuilds {
    /// Notes a change that was not stored. A live change after a build change of the same
    /// membership makes the net difference live again, so it removes the note.
    pub(crate) fn note(&mut self, workspace_id: WorkspaceId, change: &Change) {
        let key = (workspace_id, change.segment, change.person);
        match change.origin {
            Origin::Build => {
                self.0.insert(key, change.entered);
            }
            Origin::Live => {
                self.0.remove(&key);
            }
        }
    }

    /// The origin a difference found at takeover is stored with: a build's when the last
    /// unstored change of that membership was a build change to the same side.
    pub(crate) fn origin_of(
        &self,
        workspace_id: WorkspaceId,
        segment: SegmentId,
        person: i64,
        entered: bool,
    ) -> Origin {
        if self.0.get(&(workspace_id, segment, person)) == Some(&entered) {
            Origin::Build
        } else {
            Origin::Live
        }
    }

    /// Forgets the notes of people whose partition `drop` names: it was compared with the
    /// store, or another node owns it now.
    pub(crate) fn forget(&mut self, drop: impl Fn(u16) -> bool) {
        self.0
            .retain(|(workspace_id, _, person), _| !drop(partition_of(*workspace_id, *person)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_segment_engine::Cause;

    fn change(person: i64, entered: bool, origin: Origin) -> Change {
        Change {
            segment: SegmentId::new(3),
            person,
            entered,
            at: 10,
            cause: Cause::Deadline,
            origin,
        }
    }

    #[test]
    fn the_last_unstored_change_of_a_membership_decides_its_origin() {
        let workspace = WorkspaceId::new(1);
        let segment = SegmentId::new(3);
        let mut unstored = UnstoredBuilds::default();
        // Nothing noted: a difference is live.
        assert_eq!(
            unstored.origin_of(workspace, segment, 7, false),
            Origin::Live
        );
        // The retention's exit went unstored: the difference is that exit, a build's.
        unstored.note(workspace, &change(7, false, Origin::Build));
        assert_eq!(
            unstored.origin_of(workspace, segment, 7, false),
            Origin::Build
        );
        // A difference to the other side, or of another person or workspace, is not it.
        assert_eq!(
            unstored.origin_of(workspace, segment, 7, true),
            Origin::Live
        );
        assert_eq!(
            unstored.origin_of(workspace, segment, 8, false),
            Origin::Live
        );
        assert_eq!(
            unstored.origin_of(WorkspaceId::new(2), segment, 7, false),
            Origin::Live
        );
        // The person then entered by an event and left again by one: live.
        unstored.note(workspace, &change(7, true, Origin::Live));
        assert_eq!(
            unstored.origin_of(workspace, segment, 7, false),
            Origin::Live
        );
        // Forgetting a partition forgets its people only.
        unstored.note(workspace, &change(7, false, Origin::Build));
        unstored.note(workspace, &change(8, false, Origin::Build));
        let seven = partition_of(workspace, 7);
        unstored.forget(|partition| partition == seven);
        assert_eq!(
            unstored.origin_of(workspace, segment, 7, false),
            Origin::Live
        );
        let eight_kept = partition_of(workspace, 8) != seven;
        assert_eq!(
            unstored.origin_of(workspace, segment, 8, false) == Origin::Build,
            eight_kept
        );
    }
}
