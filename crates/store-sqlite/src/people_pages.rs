//! People listed a page at a time, newest first, and found by the start of their id or email:
//! what the web UI's People page and person search read; and oldest first from a cursor, what
//! the App API's customer search scans.

use herald_domain::{PersonSeq, WorkspaceId};
use herald_store::codec::prefix_end;
use herald_store::{Person, StoreError};
use rusqlite::{Connection, params};

use crate::queries::{PERSON_COLUMNS, backend, finish_person, person_from_row};

/// Up to `limit` live people of a workspace with `seq < before` (all when `None`), newest first.
pub(crate) fn people_page(
    connection: &Connection,
    workspace_id: WorkspaceId,
    before: Option<PersonSeq>,
    limit: usize,
) -> Result<Vec<Person>, StoreError> {
    let sql = format!(
        "SELECT {PERSON_COLUMNS} FROM people
         WHERE workspace_id = ?1 AND deleted_at IS NULL AND seq < ?2
         ORDER BY seq DESC LIMIT ?3"
    );
    let mut statement = connection.prepare_cached(&sql).map_err(backend)?;
    let rows = statement
        .query_map(
            params![
                workspace_id,
                before.map_or(i64::MAX, PersonSeq::get),
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            person_from_row,
        )
        .map_err(backend)?;
    let mut people = Vec::new();
    for row in rows {
        people.extend(finish_person(Some(row.map_err(backend)?))?);
    }
    Ok(people)
}

/// Up to `limit` live people of a workspace with `seq > after` (all when `None`), oldest first.
pub(crate) fn people_after(
    connection: &Connection,
    workspace_id: WorkspaceId,
    after: Option<PersonSeq>,
    limit: usize,
) -> Result<Vec<Person>, StoreError> {
    let sql = format!(
        "SELECT {PERSON_COLUMNS} FROM people
         WHERE workspace_id = ?1 AND deleted_at IS NULL AND seq > ?2
         ORDER BY seq LIMIT ?3"
    );
    let mut statement = connection.prepare_cached(&sql).map_err(backend)?;
    let rows = statement
        .query_map(
            params![
                workspace_id,
                after.map_or(i64::MIN, PersonSeq::get),
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            person_from_row,
        )
        .map_err(backend)?;
    // As in `people_page`, a person who cannot be read fails the page rather than leaving a
    // hole in it: a scan that skipped them could not tell a short page from the end.
    let mut people = Vec::new();
    for row in rows {
        people.extend(finish_person(Some(row.map_err(backend)?))?);
    }
    Ok(people)
}

/// Up to `limit` live people whose id or email starts with `prefix` (the email in lowercase),
/// ordered by what matched; each person once. Both reads walk a range of an index.
pub(crate) fn search_people(
    connection: &Connection,
    workspace_id: WorkspaceId,
    prefix: &str,
    limit: usize,
) -> Result<Vec<Person>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut found: Vec<Person> = Vec::new();
    let lower = prefix.to_lowercase();
    for (column, start) in [("id", prefix.to_owned()), ("email_lower", lower)] {
        let end = prefix_end(&start);
        let sql = format!(
            "SELECT {PERSON_COLUMNS} FROM people
             WHERE workspace_id = ?1 AND deleted_at IS NULL AND {column} IS NOT NULL
               AND {column} >= ?2 AND (?3 IS NULL OR {column} < ?3)
             ORDER BY {column} LIMIT ?4"
        );
        let mut statement = connection.prepare_cached(&sql).map_err(backend)?;
        let rows = statement
            .query_map(params![workspace_id, start, end, limit], person_from_row)
            .map_err(backend)?;
        for row in rows {
            if let Some(person) = finish_person(Some(row.map_err(backend)?))?
                && !found.iter().any(|p| p.seq == person.seq)
            {
                found.push(person);
            }
        }
    }
    found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(found)
}
