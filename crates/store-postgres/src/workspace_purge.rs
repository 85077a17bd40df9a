//! Deleting a workspace: it is marked first, which hides it from every lookup, then its rows are
//! removed a bounded step at a time (`herald workspace delete` runs one transaction per step, so
//! that the servers writing beside it never wait long), and its row goes last.
//!
//! Every table of a workspace's data has `workspace_id` (migration 0003), and on Citus it is
//! the distribution column, so each step's statements run on the one worker that holds the
//! workspace. Delivery metrics alone are found through their delivery, and go with it. The test
//! below fails for a table that is neither in `PARTS` nor known to hold no workspace's rows.

use herald_domain::{UnixSeconds, WorkspaceId};
use herald_store::{StoreError, WorkspacePurge, import_settings_prefix};

use crate::pg::Pg;
use crate::workspace_keys::bump_credentials_version;

/// One part of a workspace's removal.
#[derive(Debug, Clone, Copy)]
enum Part {
    /// Deliveries, with their metrics.
    Deliveries,
    /// Rows with a `workspace_id` column: the table and its key within the workspace.
    Own(&'static str, &'static str),
}

const PARTS: &[Part] = &[
    Part::Own("segment_members", "segment_id, person_seq"),
    Part::Own("segment_history", "seq"),
    Part::Own("segment_days", "segment_id, day"),
    Part::Own("segment_purges", "segment_id"),
    Part::Own("enrollments", "campaign_id, person_seq"),
    Part::Own("runs", "id"),
    Part::Deliveries,
    Part::Own("activities", "seq"),
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
    "schema_migrations",
    "nodes",
    "partition_leases",
    // Questions to the engines name a workspace inside their bodies only, and are removed a
    // minute after they were asked.
    "engine_questions",
    "engine_answers",
];

/// Whether the workspace exists and is marked deleted; `None` when it does not exist.
fn marked(pg: &mut Pg<'_>, workspace_id: WorkspaceId) -> Result<Option<bool>, StoreError> {
    Ok(pg
        .query_opt(
            "SELECT deleted_at IS NOT NULL FROM workspaces WHERE id = $1",
            &[&workspace_id],
        )?
        .map(|row| row.get(0)))
}

fn not_marked(workspace_id: WorkspaceId) -> StoreError {
    StoreError::Conflict(format!(
        "workspace {workspace_id} is not marked deleted: its rows are removed only after it is"
    ))
}

pub(crate) fn mark_deleted(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    now: UnixSeconds,
) -> Result<bool, StoreError> {
    let found = pg.execute(
        "UPDATE workspaces SET deleted_at = coalesce(deleted_at, $2) WHERE id = $1",
        &[&workspace_id, &now],
    )?;
    if found > 0 {
        bump_credentials_version(pg)?;
    }
    Ok(found > 0)
}

pub(crate) fn purge(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    from: usize,
    limit: usize,
) -> Result<Option<WorkspacePurge>, StoreError> {
    if marked(pg, workspace_id)? != Some(true) {
        return Err(not_marked(workspace_id));
    }
    // The writer's cached people may be among the rows removed.
    if let Some(cache) = pg.cache() {
        cache.clear();
    }
    let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
    for (index, part) in PARTS.iter().enumerate().skip(from) {
        let removed = purge_part(pg, *part, workspace_id, limit)?;
        if removed.iter().any(|(_, rows)| *rows > 0) {
            return Ok(Some(WorkspacePurge {
                next: index,
                removed,
            }));
        }
    }
    Ok(None)
}

/// Removes up to `limit` rows of one part; answers what it removed (nothing: none was left).
fn purge_part(
    pg: &mut Pg<'_>,
    part: Part,
    workspace_id: WorkspaceId,
    limit: i64,
) -> Result<Vec<(&'static str, u64)>, StoreError> {
    match part {
        Part::Deliveries => {
            let ids: Vec<String> = pg
                .query(
                    "SELECT id FROM deliveries WHERE workspace_id = $1 LIMIT $2",
                    &[&workspace_id, &limit],
                )?
                .iter()
                .map(|row| row.get(0))
                .collect();
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let metrics = pg.execute(
                "DELETE FROM delivery_metrics WHERE delivery_id = ANY($1)",
                &[&ids],
            )?;
            let deliveries = pg.execute(
                "DELETE FROM deliveries WHERE workspace_id = $1 AND id = ANY($2)",
                &[&workspace_id, &ids],
            )?;
            Ok(vec![
                ("deliveries", deliveries),
                ("delivery_metrics", metrics),
            ])
        }
        // Table and column names come from `PARTS`, never from input. Both the statement and
        // its subquery name the workspace, so that Citus routes them to its one worker.
        Part::Own(table, key) => {
            let rows = pg.execute(
                &format!(
                    "DELETE FROM {table} WHERE workspace_id = $1 AND ({key}) IN
                         (SELECT {key} FROM {table} WHERE workspace_id = $1 LIMIT $2)"
                ),
                &[&workspace_id, &limit],
            )?;
            Ok(vec![(table, rows)])
        }
    }
}

pub(crate) fn rows(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
) -> Result<Vec<(&'static str, u64)>, StoreError> {
    let mut count = |sql: &str| -> Result<u64, StoreError> {
        let count: i64 = pg.query_one(sql, &[&workspace_id])?.get(0);
        Ok(count as u64)
    };
    let mut counts = Vec::new();
    for part in PARTS {
        match part {
            Part::Deliveries => {
                counts.push((
                    "deliveries",
                    count("SELECT count(*) FROM deliveries WHERE workspace_id = $1")?,
                ));
                counts.push((
                    "delivery_metrics",
                    count(
                        "SELECT count(*) FROM delivery_metrics WHERE delivery_id IN
                             (SELECT id FROM deliveries WHERE workspace_id = $1)",
                    )?,
                ));
            }
            Part::Own(table, _) => counts.push((
                *table,
                count(&format!(
                    "SELECT count(*) FROM {table} WHERE workspace_id = $1"
                ))?,
            )),
        }
    }
    Ok(counts)
}

pub(crate) fn remove(pg: &mut Pg<'_>, workspace_id: WorkspaceId) -> Result<bool, StoreError> {
    match marked(pg, workspace_id)? {
        None => return Ok(false),
        Some(false) => return Err(not_marked(workspace_id)),
        Some(true) => {}
    }
    pg.execute(
        "DELETE FROM retired_keys WHERE workspace_id = $1",
        &[&workspace_id],
    )?;
    pg.execute("DELETE FROM workspaces WHERE id = $1", &[&workspace_id])?;
    pg.execute(
        "DELETE FROM settings WHERE left(key, length($1)) = $1",
        &[&import_settings_prefix(workspace_id)],
    )?;
    bump_credentials_version(pg)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::{NOT_OF_A_WORKSPACE, PARTS, Part};
    use crate::PostgresStore;
    use crate::test_database::TestSchema;

    /// Every table of the schema is removed with a workspace or holds no workspace's rows, so
    /// that a table a later migration adds cannot be left behind by a deletion without this
    /// test saying so.
    #[test]
    fn every_table_is_removed_with_its_workspace_or_of_none() {
        let schema = TestSchema::new();
        drop(PostgresStore::open(&schema.options()).expect("the store opens"));
        let mut client = crate::connection::connect(&schema.options()).expect("a connection");
        let tables: BTreeSet<String> = client
            .query(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()",
                &[],
            )
            .expect("the tables")
            .iter()
            .map(|row| row.get(0))
            .collect();
        let mut covered: BTreeSet<String> = NOT_OF_A_WORKSPACE
            .iter()
            .map(|table| (*table).to_owned())
            .collect();
        for part in PARTS {
            match part {
                Part::Deliveries => {
                    covered.insert("deliveries".to_owned());
                    covered.insert("delivery_metrics".to_owned());
                }
                Part::Own(table, _) => {
                    covered.insert((*table).to_owned());
                }
            }
        }
        assert_eq!(tables, covered, "tables a deletion leaves behind, or gone");
    }
}
