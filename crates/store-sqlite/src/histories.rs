//! Streaming every live person's history, for the segment engine's load.
//!
//! A workspace's whole history may be larger than memory, so it is read one person at a time:
//! two cursors, people by seq and events by person, walked side by side. The events are read in
//! the order of the `activities_by_person` index, which SQLite can follow without sorting the
//! whole log first (sorting twenty million rows took most of a restart).

use herald_domain::WorkspaceId;
use herald_store::{Person, StoreError, StoredEvent};
use rusqlite::Connection;

use crate::queries::skip_corrupt;
use crate::queries::{
    EventRow, PERSON_COLUMNS, backend, decode_event, event_row, finish_person, person_from_row,
};

pub(crate) fn for_each_history(
    connection: &Connection,
    workspace_id: WorkspaceId,
    each: &mut dyn FnMut(Person, Vec<StoredEvent>) -> bool,
) -> Result<(), StoreError> {
    let people_sql = format!(
        "SELECT {PERSON_COLUMNS} FROM people WHERE workspace_id = ?1 AND deleted_at IS NULL ORDER BY seq"
    );
    let mut people_statement = connection.prepare(&people_sql).map_err(backend)?;
    let mut people = people_statement
        .query_map([workspace_id], person_from_row)
        .map_err(backend)?;
    // `person_seq IS NOT NULL` lets SQLite use the partial index, which is in this order.
    let mut events_statement = connection
        .prepare(
            "SELECT person_seq, kind, name, timestamp, data, seq FROM activities
             WHERE workspace_id = ?1 AND person_seq IS NOT NULL
               AND kind IN ('event', 'page', 'screen')
             ORDER BY person_seq, seq",
        )
        .map_err(backend)?;
    let mut events = events_statement
        .query_map([workspace_id], event_row)
        .map_err(backend)?;
    let mut pending: Option<EventRow> = next_event(&mut events)?;
    for row in &mut people {
        let Some(person) = skip_corrupt(finish_person(Some(row.map_err(backend)?)))?.flatten()
        else {
            continue;
        };
        // Events of people before this one are of deleted people (or of a row skipped as
        // unreadable): they are passed over.
        while pending.as_ref().is_some_and(|event| event.0 < person.seq) {
            pending = next_event(&mut events)?;
        }
        let mut history = Vec::new();
        while let Some(event) = pending.take_if(|event| event.0 == person.seq) {
            history.extend(decode_event(event)?);
            pending = next_event(&mut events)?;
        }
        // Stored order is arrival order; the engine takes a history in time order (a stable
        // sort keeps arrival order between events of the same second).
        history.sort_by_key(|event| event.timestamp);
        if !each(person, history) {
            break;
        }
    }
    Ok(())
}

fn next_event(
    events: &mut impl Iterator<Item = rusqlite::Result<EventRow>>,
) -> Result<Option<EventRow>, StoreError> {
    events.next().transpose().map_err(backend)
}
