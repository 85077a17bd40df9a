//! The derived rows of one transaction, written once each at commit: the data index's updates
//! ([`herald_store::data_index`]), once per name (and day), and the activity log's blocks
//! ([`crate::activity_blocks`]), once per block and kind or name.

use herald_domain::WorkspaceId;
use std::collections::BTreeSet;

use herald_store::StoreError;
use herald_store::data_index::{DataIndexBuffer, merge_keys};
use rusqlite::{Connection, OptionalExtension, params};

use crate::activity_blocks::BlockBuffer;
use crate::queries::backend;

/// Pending derived rows of the writer's transaction.
#[derive(Debug, Default)]
pub(crate) struct IndexBuffer {
    data: DataIndexBuffer,
    blocks: BlockBuffer,
}

impl IndexBuffer {
    pub(crate) fn note<'a>(
        &mut self,
        workspace_id: WorkspaceId,
        kind: &str,
        name: &str,
        timestamp: i64,
        keys: impl Iterator<Item = &'a String>,
    ) {
        self.data.note(workspace_id, kind, name, timestamp, keys);
    }

    /// Notes the block of an appended activity.
    pub(crate) fn note_block(
        &mut self,
        workspace_id: WorkspaceId,
        seq: i64,
        kind: &'static str,
        name: Option<&str>,
    ) {
        self.blocks.note(workspace_id, seq, kind, name);
    }

    /// Adds a finished job's updates to the transaction's.
    pub(crate) fn absorb(&mut self, other: IndexBuffer) {
        self.data.absorb(other.data);
        self.blocks.absorb(other.blocks);
    }

    pub(crate) fn flush(self, connection: &Connection) -> Result<(), StoreError> {
        self.blocks.flush(connection)?;
        let (days, entries) = self.data.into_parts();
        for ((workspace_id, kind, name, day), count) in days {
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
        for ((workspace_id, kind, name), entry) in entries {
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
            merge_keys(&mut keys, entry.keys);
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
