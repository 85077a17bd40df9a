//! Deleting a workspace: it is marked first, which hides it from every lookup, then its rows are
//! removed a bounded step at a time (`herald workspace delete` runs one transaction per step, so
//! that a server writing beside it never waits long for the lock), and its row goes last.
//!
//! `PARTS` is the order of the removal: rows found through another table (a segment's members
//! through the segment, a run's enrollment through the run, a delivery's metrics through the
//! delivery) go before the rows they are found through. The test below fails for a table that is
//! neither in it nor known to hold no workspace's rows.

use herald_domain::{UnixSeconds, WorkspaceId};
use herald_store::{StoreError, WorkspacePurge, import_settings_prefix};
use rusqlite::{Connection, OptionalExtension, params};

use crate::queries::{backend, execute};
use crate::workspace_keys::bump_credentials_version;

/// The setting that keeps the largest id of a workspace removed: SQLite gives a new row of a
/// table without AUTOINCREMENT the largest id plus one, which would hand a removed workspace's
/// id (which engine images and running servers may still name) to the next one created.
pub const REMOVED_WORKSPACE_ID: &str = "workspace_removed_id";

/// One part of a workspace's removal.
#[derive(Debug, Clone, Copy)]
enum Part {
    /// Rows of segments deleted earlier, which wait for the background purge and name no
    /// workspace: all of them are finished, whichever workspace they were of.
    PendingSegmentPurges,
    /// Rows of the workspace's segments: the table and its key.
    OfSegments(&'static str, &'static str),
    /// Enrollments in the workspace's campaigns.
    CampaignEnrollments,
    /// Runs, with the enrollments they made (which find no campaign once it was deleted).
    Runs,
    /// Deliveries, with their metrics.
    Deliveries,
    /// The activity log's rows, found through the blocks that list the workspace's.
    Activities,
    /// Rows with a `workspace_id` column: the table and its key.
    Own(&'static str, &'static str),
}

const PARTS: &[Part] = &[
    Part::PendingSegmentPurges,
    Part::OfSegments("segment_members", "segment_id, person_seq"),
    Part::OfSegments("segment_history", "seq"),
    Part::OfSegments("segment_days", "segment_id, day"),
    Part::CampaignEnrollments,
    Part::Runs,
    Part::Deliveries,
    Part::Activities,
    Part::Own("activity_blocks", "block"),
    Part::Own("activity_blocks_by_kind", "kind, block"),
    Part::Own("activity_blocks_by_name", "name, block"),
    Part::Own("devices", "token"),
    Part::Own("suppressions", "id_type, value"),
    Part::Own("anonymous_links", "anonymous_id"),
    Part::Own("event_index", "kind, name"),
    Part::Own("event_days", "day, kind, name"),
    Part::Own("relationships", "person_seq, object_seq"),
    Part::Own("anonymous_relationships", "anonymous_id, object_seq"),
    Part::Own("objects", "seq"),
    Part::Own("engine_log", "seq"),
    Part::Own("segments", "id"),
    Part::Own("campaigns", "id"),
    Part::Own("people", "seq"),
    Part::Own("user_workspaces", "user_id"),
    Part::Own("retired_keys", "kind"),
];

/// Tables that hold no workspace's rows, or whose rows go another way (`workspaces`, last).
#[cfg(test)]
const NOT_OF_A_WORKSPACE: &[&str] = &[
    "workspaces",
    "settings",
    "users",
    "sessions",
    "backfills",
    "schema_migrations",
    "sqlite_sequence",
];

const SEGMENTS_OF: &str = "SELECT id FROM segments WHERE workspace_id = ?1";

/// Whether the workspace exists and is marked deleted; `None` when it does not exist.
fn marked(connection: &Connection, workspace_id: WorkspaceId) -> Result<Option<bool>, StoreError> {
    connection
        .prepare_cached("SELECT deleted_at IS NOT NULL FROM workspaces WHERE id = ?1")
        .and_then(|mut statement| {
            statement
                .query_row([workspace_id], |row| row.get(0))
                .optional()
        })
        .map_err(backend)
}

fn not_marked(workspace_id: WorkspaceId) -> StoreError {
    StoreError::Conflict(format!(
        "workspace {workspace_id} is not marked deleted: its rows are removed only after it is"
    ))
}

pub(crate) fn mark_deleted(
    connection: &Connection,
    workspace_id: WorkspaceId,
    now: UnixSeconds,
) -> Result<bool, StoreError> {
    let found = execute(
        connection,
        "UPDATE workspaces SET deleted_at = coalesce(deleted_at, ?2) WHERE id = ?1",
        params![workspace_id, now],
    )?;
    if found > 0 {
        bump_credentials_version(connection)?;
    }
    Ok(found > 0)
}

pub(crate) fn purge(
    connection: &Connection,
    workspace_id: WorkspaceId,
    from: usize,
    limit: usize,
) -> Result<Option<WorkspacePurge>, StoreError> {
    if marked(connection, workspace_id)? != Some(true) {
        return Err(not_marked(workspace_id));
    }
    let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
    for (index, part) in PARTS.iter().enumerate().skip(from) {
        let removed = purge_part(connection, *part, workspace_id, limit)?;
        if let Some(removed) = removed {
            return Ok(Some(WorkspacePurge {
                next: index,
                removed,
            }));
        }
    }
    Ok(None)
}

/// Removes up to `limit` rows of one part; `None` when it had none left.
fn purge_part(
    connection: &Connection,
    part: Part,
    workspace_id: WorkspaceId,
    limit: i64,
) -> Result<Option<Vec<(&'static str, u64)>>, StoreError> {
    let found = |removed: Vec<(&'static str, u64)>| {
        Ok((removed.iter().any(|(_, rows)| *rows > 0)).then_some(removed))
    };
    // Table and column names come from `PARTS`, never from input.
    match part {
        Part::PendingSegmentPurges => {
            let pending: Option<i64> = connection
                .query_row("SELECT segment_id FROM segment_purges LIMIT 1", [], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(backend)?;
            let Some(segment_id) = pending else {
                return Ok(None);
            };
            let members = execute(
                connection,
                "DELETE FROM segment_members WHERE segment_id = ?1 AND person_seq IN
                     (SELECT person_seq FROM segment_members WHERE segment_id = ?1 LIMIT ?2)",
                params![segment_id, limit],
            )?;
            let history = execute(
                connection,
                "DELETE FROM segment_history WHERE seq IN
                     (SELECT seq FROM segment_history WHERE segment_id = ?1 LIMIT ?2)",
                params![segment_id, limit],
            )?;
            if members == 0 && history == 0 {
                execute(
                    connection,
                    "DELETE FROM segment_days WHERE segment_id = ?1",
                    [segment_id],
                )?;
                execute(
                    connection,
                    "DELETE FROM segment_purges WHERE segment_id = ?1",
                    [segment_id],
                )?;
            }
            // Progress, though of rows no workspace is named for.
            Ok(Some(Vec::new()))
        }
        Part::OfSegments(table, key) => {
            let rows = execute(
                connection,
                &format!(
                    "DELETE FROM {table} WHERE ({key}) IN
                         (SELECT {key} FROM {table} WHERE segment_id IN ({SEGMENTS_OF}) LIMIT ?2)"
                ),
                params![workspace_id, limit],
            )?;
            found(vec![(table, rows as u64)])
        }
        Part::CampaignEnrollments => {
            let rows = execute(
                connection,
                "DELETE FROM enrollments WHERE (campaign_id, person_seq) IN
                     (SELECT campaign_id, person_seq FROM enrollments
                      WHERE campaign_id IN (SELECT id FROM campaigns WHERE workspace_id = ?1)
                      LIMIT ?2)",
                params![workspace_id, limit],
            )?;
            found(vec![("enrollments", rows as u64)])
        }
        Part::Runs => {
            let runs: Vec<(i64, i64, i64)> = select(
                connection,
                "SELECT id, campaign_id, person_seq FROM runs WHERE workspace_id = ?1 LIMIT ?2",
                params![workspace_id, limit],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )?;
            let mut enrollments = 0;
            for (id, campaign_id, person_seq) in &runs {
                enrollments += execute(
                    connection,
                    "DELETE FROM enrollments WHERE campaign_id = ?1 AND person_seq = ?2",
                    params![campaign_id, person_seq],
                )? as u64;
                execute(connection, "DELETE FROM runs WHERE id = ?1", [id])?;
            }
            found(vec![
                ("runs", runs.len() as u64),
                ("enrollments", enrollments),
            ])
        }
        Part::Deliveries => {
            let deliveries: Vec<String> = select(
                connection,
                "SELECT id FROM deliveries WHERE workspace_id = ?1 LIMIT ?2",
                params![workspace_id, limit],
                |row| row.get(0),
            )?;
            let mut metrics = 0;
            for id in &deliveries {
                metrics += execute(
                    connection,
                    "DELETE FROM delivery_metrics WHERE delivery_id = ?1",
                    [id],
                )? as u64;
                execute(connection, "DELETE FROM deliveries WHERE id = ?1", [id])?;
            }
            found(vec![
                ("deliveries", deliveries.len() as u64),
                ("delivery_metrics", metrics),
            ])
        }
        Part::Activities => {
            let (rows, blocks) =
                crate::activity_blocks::remove_newest(connection, workspace_id, limit)?;
            found(vec![("activities", rows), ("activity_blocks", blocks)])
        }
        Part::Own(table, key) => {
            let rows = execute(
                connection,
                &format!(
                    "DELETE FROM {table} WHERE workspace_id = ?1 AND ({key}) IN
                         (SELECT {key} FROM {table} WHERE workspace_id = ?1 LIMIT ?2)"
                ),
                params![workspace_id, limit],
            )?;
            found(vec![(table, rows as u64)])
        }
    }
}

fn select<T>(
    connection: &Connection,
    sql: &str,
    values: impl rusqlite::Params,
    map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = connection.prepare_cached(sql).map_err(backend)?;
    let rows = statement.query_map(values, map).map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

pub(crate) fn rows(
    connection: &Connection,
    workspace_id: WorkspaceId,
) -> Result<Vec<(&'static str, u64)>, StoreError> {
    let count = |sql: &str| -> Result<u64, StoreError> {
        connection
            .query_row(sql, [workspace_id], |row| row.get::<_, i64>(0))
            .map(|count| count as u64)
            .map_err(backend)
    };
    let mut counts = Vec::new();
    for part in PARTS {
        match part {
            // Rows of deleted segments name no workspace.
            Part::PendingSegmentPurges => {}
            Part::OfSegments(table, _) => counts.push((
                *table,
                count(&format!(
                    "SELECT count(*) FROM {table} WHERE segment_id IN ({SEGMENTS_OF})"
                ))?,
            )),
            Part::CampaignEnrollments => counts.push((
                "enrollments",
                count(
                    "SELECT count(*) FROM enrollments e
                     WHERE e.campaign_id IN (SELECT id FROM campaigns WHERE workspace_id = ?1)
                        OR (e.campaign_id, e.person_seq) IN
                           (SELECT campaign_id, person_seq FROM runs WHERE workspace_id = ?1)",
                )?,
            )),
            Part::Runs => counts.push((
                "runs",
                count("SELECT count(*) FROM runs WHERE workspace_id = ?1")?,
            )),
            Part::Deliveries => {
                counts.push((
                    "deliveries",
                    count("SELECT count(*) FROM deliveries WHERE workspace_id = ?1")?,
                ));
                counts.push((
                    "delivery_metrics",
                    count(
                        "SELECT count(*) FROM delivery_metrics WHERE delivery_id IN
                             (SELECT id FROM deliveries WHERE workspace_id = ?1)",
                    )?,
                ));
            }
            Part::Activities => counts.push((
                "activities",
                count("SELECT count(*) FROM activities WHERE workspace_id = ?1")?,
            )),
            Part::Own(table, _) => counts.push((
                *table,
                count(&format!(
                    "SELECT count(*) FROM {table} WHERE workspace_id = ?1"
                ))?,
            )),
        }
    }
    Ok(counts)
}

pub(crate) fn remove(
    connection: &Connection,
    workspace_id: WorkspaceId,
) -> Result<bool, StoreError> {
    match marked(connection, workspace_id)? {
        None => return Ok(false),
        Some(false) => return Err(not_marked(workspace_id)),
        Some(true) => {}
    }
    execute(
        connection,
        "DELETE FROM retired_keys WHERE workspace_id = ?1",
        [workspace_id],
    )?;
    execute(
        connection,
        "DELETE FROM workspaces WHERE id = ?1",
        [workspace_id],
    )?;
    execute(
        connection,
        "DELETE FROM settings WHERE substr(key, 1, length(?1)) = ?1",
        [import_settings_prefix(workspace_id)],
    )?;
    execute(
        connection,
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE
         SET value = CAST(max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)",
        params![REMOVED_WORKSPACE_ID, workspace_id.get().to_string()],
    )?;
    bump_credentials_version(connection)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::{NOT_OF_A_WORKSPACE, PARTS, Part};

    /// Every table of the schema is removed with a workspace or holds no workspace's rows, so
    /// that a table a later migration adds cannot be left behind by a deletion without this
    /// test saying so.
    #[test]
    fn every_table_is_removed_with_its_workspace_or_of_none() {
        let dir = tempfile::tempdir().expect("a temporary dir");
        let store = crate::SqliteStore::open(&crate::SqliteOptions::new(dir.path().join("h.db")))
            .expect("the store opens");
        drop(store);
        let connection =
            rusqlite::Connection::open(dir.path().join("h.db")).expect("the file opens");
        let mut statement = connection
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .unwrap();
        let tables: BTreeSet<String> = statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut covered: BTreeSet<String> = NOT_OF_A_WORKSPACE
            .iter()
            .map(|table| (*table).to_owned())
            .collect();
        for part in PARTS {
            let names = match part {
                Part::PendingSegmentPurges => vec!["segment_purges"],
                Part::OfSegments(table, _) | Part::Own(table, _) => vec![*table],
                Part::CampaignEnrollments => vec!["enrollments"],
                Part::Runs => vec!["runs", "enrollments"],
                Part::Deliveries => vec!["deliveries", "delivery_metrics"],
                Part::Activities => vec!["activities"],
            };
            covered.extend(names.iter().map(|table| (*table).to_owned()));
        }
        assert_eq!(tables, covered, "tables a deletion leaves behind, or gone");
    }
}
