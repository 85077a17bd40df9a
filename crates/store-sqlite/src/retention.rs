//! One step of the retention setting on SQLite: the old events of a range of activities.

use herald_domain::{PersonSeq, UnixSeconds, WorkspaceId};
use herald_store::{DroppedEvents, StoreError};
use rusqlite::{Connection, params};

use crate::activity_blocks::{holds_after, ranges_within};
use crate::person_index::person_rows;
use crate::queries::{backend, execute};

/// The kinds of activity that are events, the ones retention drops.
const EVENT_KINDS: &str = "kind IN ('event', 'page', 'screen')";

pub(crate) fn drop_events_before(
    connection: &Connection,
    workspace_id: WorkspaceId,
    before: UnixSeconds,
    after_seq: i64,
    until_seq: i64,
) -> Result<DroppedEvents, StoreError> {
    // Each step reads the ranges of the table its workspace's blocks cover: a plain range would
    // read every other workspace's activities in it too, at every step of every workspace.
    let range = format!(
        "seq > ?2 AND seq <= ?3 AND workspace_id = ?1 AND {EVENT_KINDS} AND timestamp < ?4"
    );
    let mut select = connection
        .prepare_cached(&format!(
            "SELECT DISTINCT person_seq FROM activities NOT INDEXED
             WHERE {range} AND person_seq IS NOT NULL"
        ))
        .map_err(backend)?;
    let mut people: Vec<PersonSeq> = Vec::new();
    let mut deleted = 0;
    for (from, to) in ranges_within(connection, workspace_id, after_seq, until_seq)? {
        let rows = select
            .query_map(params![workspace_id, from, to, before], |row| {
                row.get::<_, PersonSeq>(0)
            })
            .map_err(backend)?;
        for row in rows {
            people.push(row.map_err(backend)?);
        }
        deleted += execute(
            connection,
            &format!("DELETE FROM activities NOT INDEXED WHERE {range}"),
            params![workspace_id, from, to, before],
        )? as u64;
    }
    people.sort_unstable();
    people.dedup();
    let mut earliest = connection
        .prepare_cached(&format!(
            "SELECT MIN(timestamp) FROM activities INDEXED BY activities_by_person
             WHERE workspace_id = ?1 AND {}
               AND {EVENT_KINDS}",
            person_rows("", "?2")
        ))
        .map_err(backend)?;
    let mut kept = Vec::with_capacity(people.len());
    for person in people {
        let first: Option<UnixSeconds> = earliest
            .query_row(params![workspace_id, person], |row| row.get(0))
            .map_err(backend)?;
        kept.push((person, first));
    }
    let more = holds_after(connection, workspace_id, until_seq)?;
    Ok(DroppedEvents {
        deleted,
        people: kept,
        more,
    })
}
