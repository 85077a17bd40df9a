//! The data index (event names with counts, first/last seen and attribute keys, and their
//! counts per UTC day), added up in memory for the length of one transaction, so that a backend
//! writes each name (and day) once at commit instead of once per event: a thousand events of one
//! name in a transaction would otherwise update one row a thousand times (on PostgreSQL, each
//! update walks the versions the transaction left before it).

use herald_domain::WorkspaceId;
use std::collections::{BTreeSet, HashMap};

/// The most attribute keys remembered per event name.
pub const MAX_KEYS: usize = 200;

const DAY: i64 = 86_400;

/// One name's part of a transaction's updates.
#[derive(Debug)]
pub struct IndexEntry {
    pub count: i64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub keys: BTreeSet<String>,
}

/// (workspace, kind, name)
pub type NameKey = (WorkspaceId, String, String);

/// (workspace, kind, name, UTC day number)
pub type DayKey = (WorkspaceId, String, String, i64);

/// Pending data-index updates.
#[derive(Debug, Default)]
pub struct DataIndexBuffer {
    entries: HashMap<NameKey, IndexEntry>,
    days: HashMap<DayKey, i64>,
}

impl DataIndexBuffer {
    /// Counts one event (or page, screen) at `timestamp` with its data's keys.
    pub fn note<'a>(
        &mut self,
        workspace_id: WorkspaceId,
        kind: &str,
        name: &str,
        timestamp: i64,
        keys: impl Iterator<Item = &'a String>,
    ) {
        let entry = self
            .entries
            .entry((workspace_id, kind.to_owned(), name.to_owned()))
            .or_insert_with(|| IndexEntry {
                count: 0,
                first_seen: timestamp,
                last_seen: timestamp,
                keys: BTreeSet::new(),
            });
        entry.count += 1;
        *self
            .days
            .entry((
                workspace_id,
                kind.to_owned(),
                name.to_owned(),
                timestamp.div_euclid(DAY),
            ))
            .or_insert(0) += 1;
        entry.first_seen = entry.first_seen.min(timestamp);
        entry.last_seen = entry.last_seen.max(timestamp);
        for key in keys {
            if entry.keys.len() >= MAX_KEYS {
                break;
            }
            if !entry.keys.contains(key) {
                entry.keys.insert(key.clone());
            }
        }
    }

    /// Adds a finished job's updates to the transaction's (a job rolled back is dropped instead).
    pub fn absorb(&mut self, other: DataIndexBuffer) {
        for (key, count) in other.days {
            *self.days.entry(key).or_insert(0) += count;
        }
        for (key, entry) in other.entries {
            let target = self.entries.entry(key).or_insert_with(|| IndexEntry {
                count: 0,
                first_seen: entry.first_seen,
                last_seen: entry.last_seen,
                keys: BTreeSet::new(),
            });
            target.count += entry.count;
            target.first_seen = target.first_seen.min(entry.first_seen);
            target.last_seen = target.last_seen.max(entry.last_seen);
            merge_keys(&mut target.keys, entry.keys);
        }
    }

    /// Whether nothing was noted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.days.is_empty()
    }

    /// The counts per day, and the names' entries, to write.
    pub fn into_parts(self) -> (HashMap<DayKey, i64>, HashMap<NameKey, IndexEntry>) {
        (self.days, self.entries)
    }
}

/// Adds `new` keys to a stored set in order, up to [`MAX_KEYS`].
pub fn merge_keys(stored: &mut BTreeSet<String>, new: BTreeSet<String>) {
    for key in new {
        if stored.len() >= MAX_KEYS {
            break;
        }
        stored.insert(key);
    }
}
