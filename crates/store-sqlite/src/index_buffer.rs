//! The derived rows of one transaction, written once each at commit: the data index's updates
//! ([`herald_store::data_index`]), once per name (and day), the activity log's blocks
//! ([`crate::activity_blocks`]), once per block and kind or name, and the engine log's entries.
//!
//! The engine log's entries wait for the commit too, in the order their jobs ran, which is
//! commit order. Appended inside each job, every entry made SQLite copy the log's last pages
//! (the table's and `sqlite_sequence`'s) into the job's savepoint journal first: 12% of the
//! writer's time under single-event requests. Written after the last job, outside any
//! savepoint, they copy nothing; a job that fails drops its entries with its buffer, as its
//! savepoint drops its rows. Their positions are known at commit, as on PostgreSQL
//! ([`LogPosition`]), which is when the feed reads them.

use herald_domain::WorkspaceId;
use std::collections::BTreeSet;

use herald_store::data_index::{DataIndexBuffer, merge_keys};
use herald_store::{LogPosition, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

use crate::activity_blocks::BlockBuffer;
use crate::queries::backend;

/// Pending derived rows of the writer's transaction.
#[derive(Debug, Default)]
pub(crate) struct IndexBuffer {
    data: DataIndexBuffer,
    blocks: BlockBuffer,
    log: Vec<LogEntry>,
}

/// An engine log entry waiting for the commit, and where its position goes.
#[derive(Debug)]
struct LogEntry {
    workspace_id: WorkspaceId,
    inputs: Vec<u8>,
    position: LogPosition,
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

    /// Queues an engine log entry; its position is known once the transaction committed.
    pub(crate) fn append_log(&mut self, workspace_id: WorkspaceId, inputs: &[u8]) -> LogPosition {
        let position = LogPosition::default();
        self.log.push(LogEntry {
            workspace_id,
            inputs: inputs.to_vec(),
            position: position.clone(),
        });
        position
    }

    /// Adds a finished job's updates to the transaction's.
    pub(crate) fn absorb(&mut self, other: IndexBuffer) {
        self.data.absorb(other.data);
        self.blocks.absorb(other.blocks);
        self.log.extend(other.log);
    }

    pub(crate) fn flush(self, connection: &Connection) -> Result<(), StoreError> {
        self.blocks.flush(connection)?;
        if !self.log.is_empty() {
            let mut statement = connection
                .prepare_cached("INSERT INTO engine_log (workspace_id, inputs) VALUES (?1, ?2)")
                .map_err(backend)?;
            for entry in self.log {
                statement
                    .execute(params![entry.workspace_id, entry.inputs])
                    .map_err(backend)?;
                // Set before the commit: read only after it, and a failed commit's callers
                // hear that it failed instead.
                entry.position.set(connection.last_insert_rowid());
            }
        }
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
