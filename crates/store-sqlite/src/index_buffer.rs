//! The data index (event names with counts, first/last seen and attribute keys, and their
//! counts per UTC day), aggregated in memory for the length of one transaction and written once
//! per name (and day) at commit.

use std::collections::{BTreeSet, HashMap};

use herald_store::StoreError;
use rusqlite::{Connection, OptionalExtension, params};

use crate::queries::backend;

/// The most attribute keys remembered per event name.
const MAX_KEYS: usize = 200;

#[derive(Debug)]
struct Entry {
    count: i64,
    first_seen: i64,
    last_seen: i64,
    keys: BTreeSet<String>,
}

const DAY: i64 = 86_400;

/// Pending data-index updates, keyed by (workspace, kind, name).
#[derive(Debug, Default)]
pub(crate) struct IndexBuffer {
    entries: HashMap<(i64, String, String), Entry>,
    /// Events per (workspace, kind, name, UTC day number).
    days: HashMap<(i64, String, String, i64), i64>,
}

impl IndexBuffer {
    pub(crate) fn note<'a>(
        &mut self,
        workspace_id: i64,
        kind: &str,
        name: &str,
        timestamp: i64,
        keys: impl Iterator<Item = &'a String>,
    ) {
        let entry = self
            .entries
            .entry((workspace_id, kind.to_owned(), name.to_owned()))
            .or_insert_with(|| Entry {
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

    /// Adds a finished job's updates to the transaction's.
    pub(crate) fn absorb(&mut self, other: IndexBuffer) {
        for (key, count) in other.days {
            *self.days.entry(key).or_insert(0) += count;
        }
        for ((workspace_id, kind, name), entry) in other.entries {
            let target = self
                .entries
                .entry((workspace_id, kind, name))
                .or_insert_with(|| Entry {
                    count: 0,
                    first_seen: entry.first_seen,
                    last_seen: entry.last_seen,
                    keys: BTreeSet::new(),
                });
            target.count += entry.count;
            target.first_seen = target.first_seen.min(entry.first_seen);
            target.last_seen = target.last_seen.max(entry.last_seen);
            for key in entry.keys {
                if target.keys.len() >= MAX_KEYS {
                    break;
                }
                target.keys.insert(key);
            }
        }
    }

    pub(crate) fn flush(self, connection: &Connection) -> Result<(), StoreError> {
        for ((workspace_id, kind, name, day), count) in self.days {
            connection
                .prepare_cached(
                    "INSERT INTO event_days (workspace_id, kind, name, day, count)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (workspace_id, day, kind, name) DO UPDATE SET
                       count = count + excluded.count",
                )
                .and_then(|mut statement| {
                    statement.execute(params![workspace_id, kind, name, day, count])
                })
                .map_err(backend)?;
        }
        for ((workspace_id, kind, name), entry) in self.entries {
            let existing: Option<(i64, i64, i64, String)> = connection
                .prepare_cached(
                    "SELECT count, first_seen, last_seen, attribute_keys FROM event_index
                     WHERE workspace_id = ?1 AND kind = ?2 AND name = ?3",
                )
                .and_then(|mut statement| {
                    statement
                        .query_row(params![workspace_id, kind, name], |row| {
                            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                        })
                        .optional()
                })
                .map_err(backend)?;
            let (count, first_seen, last_seen, mut keys) = match existing {
                Some((count, first, last, keys_json)) => {
                    let keys: BTreeSet<String> =
                        serde_json::from_str(&keys_json).unwrap_or_default();
                    (
                        count + entry.count,
                        first.min(entry.first_seen),
                        last.max(entry.last_seen),
                        keys,
                    )
                }
                None => (
                    entry.count,
                    entry.first_seen,
                    entry.last_seen,
                    BTreeSet::new(),
                ),
            };
            for key in entry.keys {
                if keys.len() >= MAX_KEYS {
                    break;
                }
                keys.insert(key);
            }
            let keys_json = serde_json::to_string(&keys).unwrap_or_else(|_| "[]".into());
            connection
                .prepare_cached(
                    "INSERT INTO event_index (workspace_id, kind, name, count, first_seen, last_seen, attribute_keys)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (workspace_id, kind, name) DO UPDATE SET
                       count = excluded.count, first_seen = excluded.first_seen,
                       last_seen = excluded.last_seen, attribute_keys = excluded.attribute_keys",
                )
                .and_then(|mut statement| {
                    statement.execute(params![
                        workspace_id, kind, name, count, first_seen, last_seen, keys_json
                    ])
                })
                .map_err(backend)?;
        }
        Ok(())
    }
}
