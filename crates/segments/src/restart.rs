//! Assembling one workspace's engine from what the load reads, and finding what changed while
//! the server was down.

use herald_domain::{SegmentId, WorkspaceId};
use std::collections::{BTreeSet, HashMap};

use herald_segment_engine::{Cause, Change, Definition, Engine, Origin, PersonHistory, PersonId};
use herald_store::{SegmentRow, SegmentState};

/// A workspace whose engine is being loaded.
pub(crate) struct Restart {
    pub(crate) workspace_id: WorkspaceId,
    engine: Engine,
    segments: Vec<SegmentRow>,
    /// The stored memberships, as `(segment, person)`.
    stored: BTreeSet<(SegmentId, i64)>,
    /// Manual memberships live only in the store; they are put back once the person is loaded.
    manual_of: HashMap<i64, Vec<SegmentId>>,
    pub(crate) people: usize,
}

/// A loaded workspace: its engine, the membership changes to store, and the segments whose
/// interrupted build the load completed.
pub(crate) struct Restarted {
    pub(crate) workspace_id: WorkspaceId,
    pub(crate) engine: Engine,
    pub(crate) changes: Vec<Change>,
    pub(crate) unfinished: Vec<SegmentRow>,
    pub(crate) segments: usize,
    pub(crate) people: usize,
}

impl Restart {
    pub(crate) fn new(
        workspace_id: WorkspaceId,
        segments: Vec<SegmentRow>,
        members: Vec<(SegmentId, i64)>,
        now: i64,
    ) -> Self {
        let mut engine = Engine::new();
        for segment in &segments {
            engine.set_segment(segment.id, parse_stored(segment), Vec::new(), now);
        }
        Self::extend(workspace_id, engine, segments, members)
    }

    /// More people for an engine that holds some already (a node that took partitions over):
    /// `load` adds them with their manual memberships, and `into_engine` hands it back.
    pub(crate) fn extend(
        workspace_id: WorkspaceId,
        engine: Engine,
        segments: Vec<SegmentRow>,
        members: Vec<(SegmentId, i64)>,
    ) -> Self {
        let manual: BTreeSet<SegmentId> = segments
            .iter()
            .filter(|segment| segment.definition.is_none())
            .map(|segment| segment.id)
            .collect();
        let stored: BTreeSet<(SegmentId, i64)> = members.into_iter().collect();
        let mut manual_of: HashMap<i64, Vec<SegmentId>> = HashMap::new();
        for (segment_id, person) in &stored {
            if manual.contains(segment_id) {
                manual_of.entry(*person).or_default().push(*segment_id);
            }
        }
        Self {
            workspace_id,
            engine,
            segments,
            stored,
            manual_of,
            people: 0,
        }
    }

    /// A workspace whose engine comes from an image and has caught up from the engine log:
    /// the segments created or edited since the image are built, those deleted since removed,
    /// and manual memberships set to what is stored (they are written before they reach the
    /// engine, so the store is their truth).
    pub(crate) fn resume(
        workspace_id: WorkspaceId,
        mut engine: Engine,
        segments: Vec<SegmentRow>,
        members: Vec<(SegmentId, i64)>,
        now: i64,
    ) -> Self {
        let held: HashMap<SegmentId, Option<serde_json::Value>> = engine
            .segments()
            .map(|(id, source)| (id, source.cloned()))
            .collect();
        for segment in &segments {
            if held.get(&segment.id) != Some(&segment.definition) {
                engine.set_segment(segment.id, parse_stored(segment), Vec::new(), now);
            }
        }
        let stored_ids: BTreeSet<SegmentId> = segments.iter().map(|segment| segment.id).collect();
        for id in held.keys().filter(|id| !stored_ids.contains(id)) {
            engine.remove_segment(*id);
        }
        let stored: BTreeSet<(SegmentId, i64)> = members.into_iter().collect();
        for segment in segments.iter().filter(|s| s.definition.is_none()) {
            let current: BTreeSet<i64> = engine.members(segment.id).collect();
            let wanted: BTreeSet<i64> = stored
                .range((segment.id, i64::MIN)..=(segment.id, i64::MAX))
                .map(|(_, person)| *person)
                .collect();
            for person in wanted.difference(&current) {
                engine.add_to_manual(segment.id, *person, now);
            }
            for person in current.difference(&wanted) {
                engine.remove_from_manual(segment.id, *person, now);
            }
        }
        let (people, _) = engine.size();
        Self {
            workspace_id,
            engine,
            segments,
            stored,
            manual_of: HashMap::new(),
            people,
        }
    }

    pub(crate) fn load(&mut self, people: Vec<(PersonId, PersonHistory)>, now: i64) {
        for (person, history) in &people {
            self.engine.load_person(*person, history, now);
            for segment_id in self.manual_of.get(person).into_iter().flatten() {
                self.engine.add_to_manual(*segment_id, *person, now);
            }
        }
        self.people += people.len();
    }

    /// The engine, without comparing its memberships with the stored ones (a takeover compares
    /// them once the engine caught up with the log). The people loaded person by person left
    /// their events out of time order in the index, which every preview would pass over
    /// apart until the next build: they are put in place now, as `finish` does.
    pub(crate) fn into_engine(mut self) -> Engine {
        self.engine.settle_index();
        self.engine
    }

    /// Compares the loaded memberships with the stored ones.
    pub(crate) fn finish(mut self, now: i64) -> Restarted {
        // Events that arrived out of time order are put in place now, not in the first build.
        self.engine.settle_index();
        let mut changes = Vec::new();
        let mut unfinished = Vec::new();
        for segment in &self.segments {
            // What an interrupted build had not stored yet is still the build's doing, and must
            // not trigger campaigns; anything else changed while the server was down.
            let origin = if segment.state == SegmentState::Finished {
                Origin::Live
            } else {
                unfinished.push(segment.clone());
                Origin::Build
            };
            let current: BTreeSet<i64> = self.engine.members(segment.id).collect();
            for person in &current {
                if !self.stored.contains(&(segment.id, *person)) {
                    changes.push(restart_change(segment.id, *person, true, now, origin));
                }
            }
            for (segment_id, person) in self
                .stored
                .range((segment.id, i64::MIN)..=(segment.id, i64::MAX))
            {
                if *segment_id == segment.id && !current.contains(person) {
                    changes.push(restart_change(segment.id, *person, false, now, origin));
                }
            }
        }
        Restarted {
            workspace_id: self.workspace_id,
            engine: self.engine,
            changes,
            unfinished,
            segments: self.segments.len(),
            people: self.people,
        }
    }
}

pub(crate) fn parse_stored(segment: &SegmentRow) -> Option<Definition> {
    let value = segment.definition.as_ref()?;
    match Definition::parse(value) {
        Ok(definition) => Some(definition),
        Err(error) => {
            tracing::error!(segment = segment.id.get(), error = %error, "a stored definition no longer parses; treating the segment as manual");
            None
        }
    }
}

fn restart_change(
    segment: SegmentId,
    person: i64,
    entered: bool,
    at: i64,
    origin: Origin,
) -> Change {
    Change {
        segment,
        person,
        entered,
        at,
        cause: Cause::Deadline,
        origin,
    }
}

#[cfg(test)]
mod tests {
    use herald_domain::WorkspaceId;
    use herald_segment_engine::{EventRecord, PersonHistory};
    use serde_json::Value;

    use super::Restart;

    fn bought_at(times: &[i64]) -> PersonHistory {
        PersonHistory {
            first_seen: 1,
            events: times
                .iter()
                .map(|time| {
                    EventRecord::from_parts("purchased".into(), "event", *time, Value::Null)
                })
                .collect(),
            ..PersonHistory::default()
        }
    }

    #[test]
    fn people_loaded_into_an_engine_leave_its_index_in_time_order() {
        let mut restart = Restart::new(WorkspaceId::new(1), Vec::new(), Vec::new(), 100);
        // Person by person, the second person's purchase falls between the first's two.
        restart.load(vec![(1, bought_at(&[10, 30])), (2, bought_at(&[20]))], 100);
        assert_eq!(restart.engine.unsettled_rows(), 1, "one row out of order");
        let engine = restart.into_engine();
        assert_eq!(engine.unsettled_rows(), 0);
        assert_eq!(engine.size(), (2, 3));
    }
}
