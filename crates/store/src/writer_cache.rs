//! The writer's cache of people and suppressions, for both stores.
//!
//! Looking a person up is a fifth of the SQLite writer's time under load (docs/benchmarks.md),
//! and a statement of PostgreSQL's one writing connection; the writer is the only connection
//! that changes people (one writer per database), so it can keep the people it has seen without
//! ever reading a stale row: every change it makes goes through the cache too. A job that is
//! rolled back may have changed cached rows, so a rollback clears the cache.

use std::collections::{HashMap, HashSet};

use crate::Person;
use compact_str::CompactString;
use herald_domain::{IdType, Identifier, PersonSeq, WorkspaceId};

/// The most people kept; past it the cache starts over rather than track recency.
const MAX_PEOPLE: usize = 200_000;

/// The identifiers of one kind in one workspace, by value: looked up by `&str`, so that finding
/// a person, once per event, allocates no key. An identifier of up to 24 bytes is kept inside
/// the table's entry rather than behind a pointer: with a hundred thousand people a lookup
/// waited on memory twice, for the entry and then for its string (6% of the writer's time in a
/// batch).
type Keys = HashMap<CompactString, PersonSeq>;

#[derive(Debug, Default)]
pub struct WriterCache {
    by_seq: HashMap<PersonSeq, Person>,
    keys: HashMap<(WorkspaceId, IdType), Keys>,
    /// The workspaces that have any suppression, once loaded.
    suppressed_workspaces: Option<HashSet<WorkspaceId>>,
}

fn keys_of(person: &Person) -> Vec<(IdType, String)> {
    let mut keys = vec![(IdType::CioId, person.cio_id.clone())];
    if let Some(id) = &person.id {
        keys.push((IdType::Id, id.clone()));
    }
    if let Some(email) = &person.email {
        keys.push((IdType::Email, email.to_lowercase()));
    }
    keys
}

impl WriterCache {
    pub fn person(&self, workspace_id: WorkspaceId, identifier: &Identifier) -> Option<Person> {
        let seq = self.seq_of(workspace_id, identifier)?;
        self.by_seq.get(&seq).cloned()
    }

    /// The number of a cached person: one lookup fewer than [`Self::person`], and no copy of
    /// the profile, which were a tenth of the writer's time per event in a batch.
    pub fn seq_of(&self, workspace_id: WorkspaceId, identifier: &Identifier) -> Option<PersonSeq> {
        self.keys
            .get(&(workspace_id, identifier.id_type()))?
            .get(identifier.value())
            .copied()
    }

    /// Remembers a live person as now stored.
    pub fn put(&mut self, person: &Person) {
        self.forget(person.seq);
        if self.by_seq.len() >= MAX_PEOPLE {
            self.by_seq.clear();
            self.keys.clear();
        }
        for (id_type, value) in keys_of(person) {
            self.keys
                .entry((person.workspace_id, id_type))
                .or_default()
                .insert(CompactString::from(value), person.seq);
        }
        self.by_seq.insert(person.seq, person.clone());
    }

    /// Forgets a person, for example because they were deleted.
    pub fn forget(&mut self, seq: PersonSeq) {
        if let Some(old) = self.by_seq.remove(&seq) {
            for (id_type, value) in keys_of(&old) {
                if let Some(keys) = self.keys.get_mut(&(old.workspace_id, id_type))
                    && keys.get(value.as_str()) == Some(&seq)
                {
                    keys.remove(value.as_str());
                }
            }
        }
    }

    /// Tells whether a workspace certainly has no suppressions, without a query.
    pub fn surely_unsuppressed(&self, workspace_id: WorkspaceId) -> bool {
        self.suppressed_workspaces
            .as_ref()
            .is_some_and(|set| !set.contains(&workspace_id))
    }

    pub fn suppressed_workspaces_loaded(&self) -> bool {
        self.suppressed_workspaces.is_some()
    }

    pub fn load_suppressed_workspaces(&mut self, workspaces: HashSet<WorkspaceId>) {
        self.suppressed_workspaces = Some(workspaces);
    }

    pub fn note_suppression(&mut self, workspace_id: WorkspaceId) {
        if let Some(set) = &mut self.suppressed_workspaces {
            set.insert(workspace_id);
        }
    }

    /// Drops everything, after a rollback made the cached rows uncertain.
    pub fn clear(&mut self) {
        self.by_seq.clear();
        self.keys.clear();
        self.suppressed_workspaces = None;
    }
}
