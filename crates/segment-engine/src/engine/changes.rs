//! What `set_segment` returns: membership changes, with a build's entries and exits in bulk.

use std::sync::Arc;

use super::bitset::Bitset;
use super::{Cause, Change, Origin};
use crate::{PersonId, SegmentId, UnixSeconds};

/// The membership changes of one `Engine::set_segment` call, in the order they happened.
///
/// A build from the index can change everyone's membership at once. Its entries and exits are
/// kept as sets over the engine's person ordinals, with a shared handle on the ordinals' ids,
/// and become `Change`s only when the caller reads them: a `Change` apiece written during the
/// build would be 64 bytes of fresh memory per member (8 MB for a segment of 125,000 people),
/// and looking up each member's id a read across the whole id table, both more than
/// evaluating the segment costs. Callers that store the changes pay for that as they go.
#[derive(Debug, Default, Clone)]
pub struct Changes {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Single(Vec<Change>),
    Build(BuildChanges),
}

/// One segment's entries and exits from a build: all at the same time, with cause `Build` and
/// origin `Build`.
#[derive(Debug, Clone)]
pub struct BuildChanges {
    segment: SegmentId,
    at: UnixSeconds,
    entered: Bitset,
    exited: Bitset,
    ids: Arc<Vec<PersonId>>,
}

impl BuildChanges {
    pub(super) fn new(
        segment: SegmentId,
        at: UnixSeconds,
        new: &Bitset,
        old: &Bitset,
        ids: Arc<Vec<PersonId>>,
    ) -> Self {
        let mut entered = new.clone();
        entered.difference_with(old);
        let mut exited = old.clone();
        exited.difference_with(new);
        Self {
            segment,
            at,
            entered,
            exited,
            ids,
        }
    }

    pub fn segment(&self) -> SegmentId {
        self.segment
    }

    /// The people who entered, in ordinal order.
    pub fn entered(&self) -> impl Iterator<Item = PersonId> + '_ {
        self.entered
            .iter()
            .map(|ordinal| self.ids[ordinal as usize])
    }

    /// The people who left, in ordinal order.
    pub fn exited(&self) -> impl Iterator<Item = PersonId> + '_ {
        self.exited.iter().map(|ordinal| self.ids[ordinal as usize])
    }

    fn len(&self) -> usize {
        self.entered.len() + self.exited.len()
    }

    fn change(&self, person: PersonId, entered: bool) -> Change {
        Change {
            segment: self.segment,
            person,
            entered,
            at: self.at,
            cause: Cause::Build,
            origin: Origin::Build,
        }
    }

    fn changes(&self) -> impl Iterator<Item = Change> + '_ {
        self.entered()
            .map(|person| self.change(person, true))
            .chain(self.exited().map(|person| self.change(person, false)))
    }
}

impl Changes {
    /// How many membership changes there are.
    pub fn len(&self) -> usize {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Single(changes) => changes.len(),
                Part::Build(build) => build.len(),
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every change, one `Change` at a time, in order.
    pub fn iter(&self) -> impl Iterator<Item = Change> + '_ {
        self.parts
            .iter()
            .flat_map(|part| -> Box<dyn Iterator<Item = Change> + '_> {
                match part {
                    Part::Single(changes) => Box::new(changes.iter().cloned()),
                    Part::Build(build) => Box::new(build.changes()),
                }
            })
    }

    /// The builds' changes, one entry per segment built.
    pub fn builds(&self) -> impl Iterator<Item = &BuildChanges> {
        self.parts.iter().filter_map(|part| match part {
            Part::Build(build) => Some(build),
            Part::Single(_) => None,
        })
    }

    /// Every change as a `Change`, in order.
    pub fn into_vec(self) -> Vec<Change> {
        let mut all = Vec::with_capacity(self.len());
        all.extend(self.iter());
        all
    }

    pub(super) fn push_singles(&mut self, changes: Vec<Change>) {
        if !changes.is_empty() {
            self.parts.push(Part::Single(changes));
        }
    }

    pub(super) fn push_build(&mut self, build: BuildChanges) {
        if build.len() > 0 {
            self.parts.push(Part::Build(build));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(values: &[u32]) -> Bitset {
        values.iter().copied().collect()
    }

    #[test]
    fn changes_keep_their_order_and_name_the_people_of_builds() {
        let single = |person, entered| Change {
            segment: SegmentId::new(1),
            person,
            entered,
            at: 5,
            cause: Cause::Deadline,
            origin: Origin::Live,
        };
        let ids = Arc::new(vec![10, 11, 12, 13, 14]);
        let mut changes = Changes::default();
        changes.push_singles(vec![single(7, false)]);
        changes.push_singles(Vec::new());
        // Ordinals 1 and 3 entered, 4 left, 2 stayed.
        let build = BuildChanges::new(
            SegmentId::new(2),
            9,
            &set(&[1, 2, 3]),
            &set(&[2, 4]),
            ids.clone(),
        );
        assert_eq!(build.entered().collect::<Vec<_>>(), vec![11, 13]);
        assert_eq!(build.exited().collect::<Vec<_>>(), vec![14]);
        changes.push_build(build);
        changes.push_build(BuildChanges::new(
            SegmentId::new(3),
            9,
            &set(&[2]),
            &set(&[2]),
            ids,
        ));
        assert_eq!(changes.len(), 4);
        assert_eq!(changes.builds().count(), 1);
        let all = changes.into_vec();
        assert_eq!(all[0], single(7, false));
        let built: Vec<_> = all[1..]
            .iter()
            .map(|c| {
                (
                    c.segment,
                    c.person,
                    c.entered,
                    c.at,
                    c.cause.clone(),
                    c.origin,
                )
            })
            .collect();
        assert_eq!(
            built,
            vec![
                (SegmentId::new(2), 11, true, 9, Cause::Build, Origin::Build),
                (SegmentId::new(2), 13, true, 9, Cause::Build, Origin::Build),
                (SegmentId::new(2), 14, false, 9, Cause::Build, Origin::Build),
            ]
        );
        assert!(Changes::default().is_empty());
    }
}
