//! Which people an engine holds: those of every partition, or, for a node that loads only the
//! partitions it owns (`FollowOptions::own_partitions_only`), those of its partitions, each
//! loaded from the store at some engine-log position.

use std::collections::HashMap;

use herald_domain::WorkspaceId;
use herald_segment_engine::{Change, Engine, Input};
use herald_store::{PartitionSet, partition_of};

/// The partitions whose people the engine holds, for the renewals of the node's leases to
/// report (`PartitionLeases::renew`): the runner sets it when they change.
#[derive(Debug, Clone)]
pub(crate) struct HeldNow(std::sync::Arc<std::sync::Mutex<PartitionSet>>);

impl HeldNow {
    pub(crate) fn new(partitions: PartitionSet) -> Self {
        Self(std::sync::Arc::new(std::sync::Mutex::new(partitions)))
    }

    pub(crate) fn get(&self) -> PartitionSet {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn set(&self, partitions: PartitionSet) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = partitions;
    }
}

#[derive(Debug)]
pub(crate) struct Held {
    partitions: PartitionSet,
    /// The log position each partition was loaded at: its history held every input up to
    /// there, so the log's entries up to there are not applied to its people again.
    loaded_at: HashMap<u16, i64>,
}

impl Held {
    /// Every person, from the first entry on: an engine that loads everything.
    pub(crate) fn all() -> Self {
        Self {
            partitions: PartitionSet::all(),
            loaded_at: HashMap::new(),
        }
    }

    /// Nobody yet: a node that loads its partitions as it comes to own them.
    pub(crate) fn none() -> Self {
        Self {
            partitions: PartitionSet::default(),
            loaded_at: HashMap::new(),
        }
    }

    pub(crate) fn partitions(&self) -> PartitionSet {
        self.partitions
    }

    /// Each partition held with the position it was loaded at, in order: what an image keeps.
    pub(crate) fn entries(&self) -> Vec<(u16, i64)> {
        let mut entries: Vec<(u16, i64)> = self
            .partitions
            .iter()
            .map(|partition| {
                (
                    partition,
                    self.loaded_at.get(&partition).copied().unwrap_or(0),
                )
            })
            .collect();
        entries.sort_unstable();
        entries
    }

    /// What `entries` gave.
    pub(crate) fn from_entries(entries: &[(u16, i64)]) -> Self {
        let mut held = Self::none();
        for (partition, position) in entries {
            held.partitions.insert(*partition);
            held.loaded_at.insert(*partition, *position);
        }
        held
    }

    /// Records partitions whose people were loaded from a history read at `position`.
    pub(crate) fn add(&mut self, partitions: &PartitionSet, position: i64) {
        for partition in partitions.iter() {
            self.partitions.insert(partition);
            self.loaded_at.insert(partition, position);
        }
    }

    /// Drops `partitions` and their people from `engines`, with no membership change: another
    /// node owns them now.
    pub(crate) fn remove(
        &mut self,
        partitions: &PartitionSet,
        engines: &mut HashMap<WorkspaceId, Engine>,
    ) {
        if partitions.is_empty() {
            return;
        }
        for partition in partitions.iter() {
            self.partitions.remove(partition);
        }
        self.loaded_at
            .retain(|partition, _| !partitions.contains(*partition));
        for (workspace_id, engine) in engines.iter_mut() {
            let gone: Vec<i64> = engine
                .people()
                .filter(|person| partitions.holds(*workspace_id, *person))
                .collect();
            if gone.is_empty() {
                continue;
            }
            for person in gone {
                engine.unload_person(person);
            }
            // Their rows go from the index now, not at the next build, so that evaluations
            // stop passing over them and the memory is free for the next partitions.
            engine.settle_index();
        }
    }

    /// Whether the log entry at `position` is to be applied to `person`: the engine holds their
    /// partition, and loaded it before that entry.
    fn applies(&self, workspace_id: WorkspaceId, person: i64, position: i64) -> bool {
        if self.partitions.is_all() && self.loaded_at.is_empty() {
            return true;
        }
        let partition = partition_of(workspace_id, person);
        self.partitions.contains(partition)
            && self
                .loaded_at
                .get(&partition)
                .is_none_or(|loaded| *loaded < position)
    }

    /// Applies the inputs of the log entry at `position` to the people they are to be applied
    /// to; returns the membership changes.
    pub(crate) fn apply(
        &self,
        workspace_id: WorkspaceId,
        inputs: &[Input],
        position: i64,
        engine: &mut Engine,
        now: i64,
    ) -> Vec<Change> {
        herald_segment_engine::input::apply_commit_of(inputs, engine, now, &|person| {
            self.applies(workspace_id, person, position)
        })
    }
}

#[cfg(test)]
mod tests {
    use herald_domain::WorkspaceId;
    use herald_store::{PartitionSet, partition_of};

    use super::Held;

    #[test]
    fn an_entry_applies_to_the_people_of_partitions_loaded_before_it() {
        let workspace = WorkspaceId::new(1);
        let person = 5;
        let partition = partition_of(workspace, person);
        let other = (1..)
            .find(|candidate| partition_of(workspace, *candidate) != partition)
            .expect("people of another partition");
        assert!(Held::all().applies(workspace, person, 1));
        let mut held = Held::none();
        assert!(!held.applies(workspace, person, 1));
        held.add(&[partition].into_iter().collect::<PartitionSet>(), 10);
        assert!(
            !held.applies(workspace, person, 10),
            "in the loaded history"
        );
        assert!(held.applies(workspace, person, 11));
        assert!(!held.applies(workspace, other, 11), "another partition");
        let again = Held::from_entries(&held.entries());
        assert_eq!(again.entries(), vec![(partition, 10)]);
        assert!(!again.applies(workspace, person, 10) && again.applies(workspace, person, 11));
        held.remove(
            &[partition].into_iter().collect::<PartitionSet>(),
            &mut Default::default(),
        );
        assert!(!held.applies(workspace, person, 11));
        assert!(held.partitions().is_empty());
    }

    #[test]
    fn the_people_of_a_partition_given_up_leave_the_index_at_once() {
        let workspace = WorkspaceId::new(1);
        let kept = 5;
        let given_up = (1..)
            .find(|candidate| partition_of(workspace, *candidate) != partition_of(workspace, kept))
            .expect("people of another partition");
        let mut engine = herald_segment_engine::Engine::new();
        for person in [kept, given_up] {
            let history = herald_segment_engine::PersonHistory {
                first_seen: 1,
                events: vec![herald_segment_engine::EventRecord::from_parts(
                    "purchased".into(),
                    "event",
                    10,
                    serde_json::Value::Null,
                )],
                ..Default::default()
            };
            engine.load_person(person, &history, 100);
        }
        let mut engines = std::collections::HashMap::from([(workspace, engine)]);
        let mut held = Held::all();
        let partition = partition_of(workspace, given_up);
        held.remove(
            &[partition].into_iter().collect::<PartitionSet>(),
            &mut engines,
        );
        assert_eq!(engines[&workspace].size(), (1, 1), "one person, one row");
    }
}
