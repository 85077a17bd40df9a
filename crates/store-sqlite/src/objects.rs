//! Objects and relationships (`herald_store::ObjectRow`): the queries, shared by readers and
//! the writer's transactions.

use herald_domain::{ObjectSeq, PersonSeq, UnixSeconds, WorkspaceId};
use herald_store::{
    NewObject, ObjectRelationship, ObjectRow, ObjectTypeCount, PersonRelationship, StoreError,
};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Map, Value};

use crate::queries::{
    PERSON_COLUMNS, backend, corrupt_row, finish_person, parse_object, person_from_row,
    skip_corrupt, to_json,
};

/// The object columns as `object_from_row` reads them; a macro, so that the relationships
/// statement every message runs is a literal rather than a string formatted each time.
macro_rules! object_columns {
    () => {
        "o.seq, o.workspace_id, o.object_type_id, o.object_id, o.cio_object_id, o.attributes, o.created_at, o.updated_at"
    };
}
const OBJECT_COLUMNS: &str = object_columns!();

/// The statement of [`relationships`], for the rows a `WHERE` clause (and its order) picks.
macro_rules! relationships_where {
    ($condition:literal) => {
        concat!(
            "SELECT ",
            object_columns!(),
            ", r.attributes, r.created_at, r.updated_at, r.person_seq
             FROM relationships r JOIN objects o ON o.seq = r.object_seq
             WHERE ",
            $condition
        )
    };
}

/// Reads the object columns starting at `at`, its attributes still as text.
fn object_from_row(row: &Row<'_>, at: usize) -> rusqlite::Result<(ObjectRow, String)> {
    Ok((
        ObjectRow {
            seq: row.get(at)?,
            workspace_id: row.get(at + 1)?,
            object_type_id: row.get(at + 2)?,
            object_id: row.get(at + 3)?,
            cio_object_id: row.get(at + 4)?,
            attributes: Map::new(),
            created_at: row.get(at + 6)?,
            updated_at: row.get(at + 7)?,
        },
        row.get(at + 5)?,
    ))
}

fn finish_object((mut object, attributes): (ObjectRow, String)) -> Result<ObjectRow, StoreError> {
    object.attributes =
        parse_object(&attributes).map_err(|error| corrupt_row("objects", object.seq, error))?;
    Ok(object)
}

fn one_object(
    connection: &Connection,
    sql: &str,
    values: impl rusqlite::Params,
) -> Result<Option<ObjectRow>, StoreError> {
    let found = connection
        .prepare_cached(sql)
        .and_then(|mut statement| {
            statement
                .query_row(values, |row| object_from_row(row, 0))
                .optional()
        })
        .map_err(backend)?;
    found.map(finish_object).transpose()
}

pub(crate) fn object(
    connection: &Connection,
    workspace_id: WorkspaceId,
    object_type_id: &str,
    object_id: &str,
) -> Result<Option<ObjectRow>, StoreError> {
    one_object(
        connection,
        &format!(
            "SELECT {OBJECT_COLUMNS} FROM objects o
             WHERE o.workspace_id = ?1 AND o.object_type_id = ?2 AND o.object_id = ?3"
        ),
        params![workspace_id, object_type_id, object_id],
    )
}

pub(crate) fn object_by_cio_id(
    connection: &Connection,
    workspace_id: WorkspaceId,
    cio_object_id: &str,
) -> Result<Option<ObjectRow>, StoreError> {
    one_object(
        connection,
        &format!(
            "SELECT {OBJECT_COLUMNS} FROM objects o
             WHERE o.workspace_id = ?1 AND o.cio_object_id = ?2"
        ),
        params![workspace_id, cio_object_id],
    )
}

pub(crate) fn objects_of_type(
    connection: &Connection,
    workspace_id: WorkspaceId,
    object_type_id: &str,
    after: Option<ObjectSeq>,
    limit: usize,
) -> Result<Vec<ObjectRow>, StoreError> {
    let mut statement = connection
        .prepare_cached(&format!(
            "SELECT {OBJECT_COLUMNS} FROM objects o
             WHERE o.workspace_id = ?1 AND o.object_type_id = ?2 AND o.seq > ?3
             ORDER BY o.seq LIMIT ?4"
        ))
        .map_err(backend)?;
    let rows = statement
        .query_map(
            params![
                workspace_id,
                object_type_id,
                after.map_or(0, ObjectSeq::get),
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            |row| object_from_row(row, 0),
        )
        .map_err(backend)?;
    let mut objects = Vec::new();
    for row in rows {
        objects.extend(skip_corrupt(finish_object(row.map_err(backend)?))?);
    }
    Ok(objects)
}

pub(crate) fn object_types(
    connection: &Connection,
    workspace_id: WorkspaceId,
) -> Result<Vec<ObjectTypeCount>, StoreError> {
    let mut statement = connection
        .prepare_cached(
            "SELECT object_type_id, count(*) FROM objects WHERE workspace_id = ?1
             GROUP BY object_type_id ORDER BY length(object_type_id), object_type_id",
        )
        .map_err(backend)?;
    let rows = statement
        .query_map([workspace_id], |row| {
            Ok(ObjectTypeCount {
                object_type_id: row.get(0)?,
                objects: row.get::<_, i64>(1)?.unsigned_abs(),
            })
        })
        .map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

pub(crate) fn person_relationships(
    connection: &Connection,
    workspace_id: WorkspaceId,
    person_seq: PersonSeq,
    after: Option<ObjectSeq>,
    limit: usize,
) -> Result<Vec<PersonRelationship>, StoreError> {
    let found = relationships(
        connection,
        relationships_where!(
            "r.workspace_id = ?1 AND r.person_seq = ?2 AND r.object_seq > ?3 ORDER BY r.object_seq LIMIT ?4"
        ),
        params![
            workspace_id,
            person_seq,
            after.map_or(0, ObjectSeq::get),
            i64::try_from(limit).unwrap_or(i64::MAX)
        ],
    )?;
    Ok(found
        .into_iter()
        .map(|(_, relationship)| relationship)
        .collect())
}

pub(crate) fn workspace_relationships(
    connection: &Connection,
    workspace_id: WorkspaceId,
) -> Result<Vec<(PersonSeq, PersonRelationship)>, StoreError> {
    relationships(
        connection,
        relationships_where!("r.workspace_id = ?1 ORDER BY r.person_seq, r.object_seq"),
        params![workspace_id],
    )
}

/// Relationships with their objects, the rows `sql` (made by `relationships_where!`) picks.
fn relationships(
    connection: &Connection,
    sql: &str,
    values: impl rusqlite::Params,
) -> Result<Vec<(PersonSeq, PersonRelationship)>, StoreError> {
    let mut statement = connection.prepare_cached(sql).map_err(backend)?;
    let rows = statement
        .query_map(values, |row| {
            Ok((
                object_from_row(row, 0)?,
                row.get::<_, String>(8)?,
                row.get::<_, i64>(9)?,
                row.get::<_, i64>(10)?,
                row.get::<_, PersonSeq>(11)?,
            ))
        })
        .map_err(backend)?;
    let mut relationships = Vec::new();
    for row in rows {
        let (object, attributes, created_at, updated_at, person_seq) = row.map_err(backend)?;
        let seq = object.0.seq;
        let decoded = finish_object(object).and_then(|object| {
            let attributes = parse_object(&attributes).map_err(|error| {
                corrupt_row("relationships", format!("{person_seq}/{seq}"), error)
            })?;
            Ok(PersonRelationship {
                object,
                attributes,
                created_at,
                updated_at,
            })
        });
        relationships.extend(skip_corrupt(decoded)?.map(|relationship| (person_seq, relationship)));
    }
    Ok(relationships)
}

pub(crate) fn object_relationships(
    connection: &Connection,
    workspace_id: WorkspaceId,
    object_seq: ObjectSeq,
    after: Option<PersonSeq>,
    limit: usize,
) -> Result<Vec<ObjectRelationship>, StoreError> {
    let columns = PERSON_COLUMNS
        .split(", ")
        .map(|column| format!("p.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut statement = connection
        .prepare_cached(&format!(
            "SELECT {columns}, r.attributes
             FROM relationships r JOIN people p ON p.workspace_id = r.workspace_id AND p.seq = r.person_seq
             WHERE r.workspace_id = ?1 AND r.object_seq = ?2 AND r.person_seq > ?3
               AND p.deleted_at IS NULL
             ORDER BY r.person_seq LIMIT ?4"
        ))
        .map_err(backend)?;
    let rows = statement
        .query_map(
            params![
                workspace_id,
                object_seq,
                after.map_or(0, PersonSeq::get),
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            |row| Ok((person_from_row(row)?, row.get::<_, String>(8)?)),
        )
        .map_err(backend)?;
    let mut relationships = Vec::new();
    for row in rows {
        let (person, attributes) = row.map_err(backend)?;
        let seq = person.0.seq;
        let decoded = finish_person(Some(person)).and_then(|person| {
            let attributes = parse_object(&attributes).map_err(|error| {
                corrupt_row("relationships", format!("{seq}/{object_seq}"), error)
            })?;
            Ok(person.map(|person| ObjectRelationship { person, attributes }))
        });
        relationships.extend(skip_corrupt(decoded)?.flatten());
    }
    Ok(relationships)
}

pub(crate) fn insert_object(
    connection: &Connection,
    new: &NewObject,
) -> Result<ObjectRow, StoreError> {
    execute(
        connection,
        "INSERT INTO objects (workspace_id, object_type_id, object_id, cio_object_id, attributes, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![
            new.workspace_id,
            new.object_type_id,
            new.object_id,
            new.cio_object_id,
            to_json(&new.attributes)?,
            new.created_at
        ],
    )?;
    Ok(ObjectRow {
        seq: ObjectSeq::new(connection.last_insert_rowid()),
        workspace_id: new.workspace_id,
        object_type_id: new.object_type_id.clone(),
        object_id: new.object_id.clone(),
        cio_object_id: new.cio_object_id.clone(),
        attributes: new.attributes.clone(),
        created_at: new.created_at,
        updated_at: new.created_at,
    })
}

pub(crate) fn update_object(connection: &Connection, object: &ObjectRow) -> Result<(), StoreError> {
    execute(
        connection,
        "UPDATE objects SET attributes = ?3, updated_at = ?4 WHERE workspace_id = ?1 AND seq = ?2",
        params![
            object.workspace_id,
            object.seq,
            to_json(&object.attributes)?,
            object.updated_at
        ],
    )?;
    Ok(())
}

fn execute(
    connection: &Connection,
    sql: &str,
    values: impl rusqlite::Params,
) -> Result<usize, StoreError> {
    connection
        .prepare_cached(sql)
        .and_then(|mut statement| statement.execute(values))
        .map_err(backend)
}

pub(crate) fn delete_object(
    connection: &Connection,
    workspace_id: WorkspaceId,
    object_seq: ObjectSeq,
) -> Result<(), StoreError> {
    execute(
        connection,
        "DELETE FROM relationships WHERE workspace_id = ?1 AND object_seq = ?2",
        params![workspace_id, object_seq],
    )?;
    execute(
        connection,
        "DELETE FROM anonymous_relationships WHERE workspace_id = ?1 AND object_seq = ?2",
        params![workspace_id, object_seq],
    )?;
    execute(
        connection,
        "DELETE FROM objects WHERE workspace_id = ?1 AND seq = ?2",
        params![workspace_id, object_seq],
    )?;
    Ok(())
}

pub(crate) fn save_relationship(
    connection: &Connection,
    workspace_id: WorkspaceId,
    person_seq: PersonSeq,
    object_seq: ObjectSeq,
    attributes: &Map<String, Value>,
    now: UnixSeconds,
) -> Result<(), StoreError> {
    execute(
        connection,
        "INSERT INTO relationships (workspace_id, person_seq, object_seq, attributes, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (workspace_id, person_seq, object_seq) DO UPDATE SET
           attributes = excluded.attributes, updated_at = excluded.updated_at",
        params![workspace_id, person_seq, object_seq, to_json(attributes)?, now],
    )?;
    Ok(())
}

pub(crate) fn save_anonymous_relationship(
    connection: &Connection,
    workspace_id: WorkspaceId,
    anonymous_id: &str,
    object_seq: ObjectSeq,
    attributes: &Map<String, Value>,
    now: UnixSeconds,
) -> Result<(), StoreError> {
    execute(
        connection,
        "INSERT INTO anonymous_relationships (workspace_id, anonymous_id, object_seq, attributes, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (workspace_id, anonymous_id, object_seq) DO UPDATE SET
           attributes = excluded.attributes, updated_at = excluded.updated_at",
        params![workspace_id, anonymous_id, object_seq, to_json(attributes)?, now],
    )?;
    Ok(())
}

pub(crate) fn take_anonymous_relationships(
    connection: &Connection,
    workspace_id: WorkspaceId,
    anonymous_id: &str,
) -> Result<Vec<PersonRelationship>, StoreError> {
    let mut statement = connection
        .prepare_cached(&format!(
            "SELECT {OBJECT_COLUMNS}, r.attributes, r.created_at, r.updated_at
             FROM anonymous_relationships r JOIN objects o ON o.seq = r.object_seq
             WHERE r.workspace_id = ?1 AND r.anonymous_id = ?2 ORDER BY r.object_seq"
        ))
        .map_err(backend)?;
    let rows = statement
        .query_map(params![workspace_id, anonymous_id], |row| {
            Ok((
                object_from_row(row, 0)?,
                row.get::<_, String>(8)?,
                row.get::<_, i64>(9)?,
                row.get::<_, i64>(10)?,
            ))
        })
        .map_err(backend)?;
    let mut taken = Vec::new();
    for row in rows {
        let (object, attributes, created_at, updated_at) = row.map_err(backend)?;
        let seq = object.0.seq;
        let decoded = finish_object(object).and_then(|object| {
            let attributes = parse_object(&attributes).map_err(|error| {
                corrupt_row(
                    "anonymous_relationships",
                    format!("{anonymous_id}/{seq}"),
                    error,
                )
            })?;
            Ok(PersonRelationship {
                object,
                attributes,
                created_at,
                updated_at,
            })
        });
        taken.extend(skip_corrupt(decoded)?);
    }
    execute(
        connection,
        "DELETE FROM anonymous_relationships WHERE workspace_id = ?1 AND anonymous_id = ?2",
        params![workspace_id, anonymous_id],
    )?;
    Ok(taken)
}

pub(crate) fn delete_relationship(
    connection: &Connection,
    workspace_id: WorkspaceId,
    person_seq: PersonSeq,
    object_seq: ObjectSeq,
) -> Result<bool, StoreError> {
    let changed = execute(
        connection,
        "DELETE FROM relationships WHERE workspace_id = ?1 AND person_seq = ?2 AND object_seq = ?3",
        params![workspace_id, person_seq, object_seq],
    )?;
    Ok(changed > 0)
}

pub(crate) fn move_relationships(
    connection: &Connection,
    workspace_id: WorkspaceId,
    from_seq: PersonSeq,
    to_seq: PersonSeq,
) -> Result<(), StoreError> {
    execute(
        connection,
        "INSERT INTO relationships (workspace_id, person_seq, object_seq, attributes, created_at, updated_at)
         SELECT workspace_id, ?3, object_seq, attributes, created_at, updated_at FROM relationships
         WHERE workspace_id = ?1 AND person_seq = ?2
         ON CONFLICT (workspace_id, person_seq, object_seq) DO NOTHING",
        params![workspace_id, from_seq, to_seq],
    )?;
    delete_person_relationships(connection, workspace_id, from_seq)
}

pub(crate) fn delete_person_relationships(
    connection: &Connection,
    workspace_id: WorkspaceId,
    person_seq: PersonSeq,
) -> Result<(), StoreError> {
    execute(
        connection,
        "DELETE FROM relationships WHERE workspace_id = ?1 AND person_seq = ?2",
        params![workspace_id, person_seq],
    )?;
    Ok(())
}
