//! Derived tables filled in the background from data stored before their migration.
//!
//! A migration that adds a table derived from a large one (the day counts of the activity log
//! and of segment history) creates it empty and records a backfill: the source's keys in
//! `(position, boundary]`, `boundary` being the largest key when the migration ran. Every write
//! after the migration keeps the derived table itself, and only for rows with larger keys, so
//! counting the rows up to the boundary here, a chunk per writer job, makes each count exact
//! once with no row counted twice. The server starts these jobs when it starts; a restart goes
//! on from `position`.

use herald_store::StoreError;
use rusqlite::{Connection, OptionalExtension, params};

use crate::queries::backend;

/// Counts the events of activity keys `(?1, ?2]` into their day counts.
const EVENT_DAYS: &str = "INSERT INTO event_days (workspace_id, kind, name, day, count)
     SELECT workspace_id, kind, name, timestamp / 86400, count(*)
     FROM activities
     WHERE seq > ?1 AND seq <= ?2 AND kind IN ('event', 'page', 'screen') AND name IS NOT NULL
     GROUP BY workspace_id, kind, name, timestamp / 86400
     ON CONFLICT (workspace_id, day, kind, name) DO UPDATE SET count = count + excluded.count";

/// Lists the blocks, kinds and names of activity keys `(?1, ?2]` (see activity_blocks.rs, whose
/// shift of 10 bits these must use; its backfill test checks the blocks they write).
const ACTIVITY_BLOCKS: &[&str] = &[
    "INSERT OR IGNORE INTO activity_blocks (workspace_id, block)
     SELECT DISTINCT workspace_id, seq >> 10 FROM activities WHERE seq > ?1 AND seq <= ?2",
    "INSERT OR IGNORE INTO activity_blocks_by_kind (workspace_id, kind, block)
     SELECT DISTINCT workspace_id, kind, seq >> 10 FROM activities WHERE seq > ?1 AND seq <= ?2",
    "INSERT OR IGNORE INTO activity_blocks_by_name (workspace_id, name, block)
     SELECT DISTINCT workspace_id, name, seq >> 10 FROM activities
     WHERE seq > ?1 AND seq <= ?2 AND name IS NOT NULL",
];

/// Counts the history rows of keys `(?1, ?2]` into their segments' day counts; a deleted
/// segment's rows, which are being purged with its day counts, are left out.
const SEGMENT_DAYS: &str = "INSERT INTO segment_days (segment_id, day, entered, exited)
     SELECT segment_id, at / 86400, SUM(entered != 0), SUM(entered = 0)
     FROM segment_history
     WHERE seq > ?1 AND seq <= ?2 AND segment_id IN (SELECT id FROM segments)
     GROUP BY segment_id, at / 86400
     ON CONFLICT (segment_id, day) DO UPDATE SET
       entered = entered + excluded.entered, exited = exited + excluded.exited";

/// Counts up to `limit` source rows of the first pending backfill; returns whether any backfill
/// is left.
pub(crate) fn step(connection: &Connection, limit: usize) -> Result<bool, StoreError> {
    let pending: Option<(String, i64, i64)> = connection
        .prepare_cached("SELECT name, position, boundary FROM backfills ORDER BY name LIMIT 1")
        .and_then(|mut statement| {
            statement
                .query_row([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .optional()
        })
        .map_err(backend)?;
    let Some((name, position, boundary)) = pending else {
        return Ok(false);
    };
    let end = boundary.min(position.saturating_add(i64::try_from(limit).unwrap_or(i64::MAX)));
    let statements: &[&str] = match name.as_str() {
        "activity_blocks" => ACTIVITY_BLOCKS,
        "event_days" => &[EVENT_DAYS],
        "segment_days" => &[SEGMENT_DAYS],
        other => {
            return Err(StoreError::Corrupt(format!(
                "backfills lists {other:?}, which this version does not know"
            )));
        }
    };
    for sql in statements {
        connection
            .prepare_cached(sql)
            .and_then(|mut statement| statement.execute(params![position, end]))
            .map_err(backend)?;
    }
    if end >= boundary {
        connection.execute("DELETE FROM backfills WHERE name = ?1", [&name])
    } else {
        connection.execute(
            "UPDATE backfills SET position = ?1 WHERE name = ?2",
            params![end, name],
        )
    }
    .map_err(backend)?;
    connection
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM backfills)")
        .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
        .map_err(backend)
}
