//! Objects and relationships (`herald_store::ObjectRow`): reads and writes the `objects` and
//! `relationships` tables.

use herald_domain::{ObjectSeq, PersonSeq, UnixSeconds, WorkspaceId};
use herald_store::codec::{corrupt_row, parse_object, to_json};
use herald_store::{
    NewObject, ObjectRelationship, ObjectRow, ObjectTypeCount, PersonRelationship, StoreError,
};
use serde_json::{Map, Value};

use crate::people::{PERSON_COLUMNS, person_from_row};
use crate::pg::Pg;

const OBJECT_COLUMNS: &str = "o.seq, o.workspace_id, o.object_type_id, o.object_id, o.cio_object_id, o.attributes, o.created_at, o.updated_at";

/// The object columns starting at `at`.
fn object_from_row(row: &postgres::Row, at: usize) -> Result<ObjectRow, StoreError> {
    let seq: ObjectSeq = row.get(at);
    let attributes: String = row.get(at + 5);
    Ok(ObjectRow {
        seq,
        workspace_id: row.get(at + 1),
        object_type_id: row.get(at + 2),
        object_id: row.get(at + 3),
        cio_object_id: row.get(at + 4),
        attributes: parse_object(&attributes)
            .map_err(|error| corrupt_row("objects", seq, error))?,
        created_at: row.get(at + 6),
        updated_at: row.get(at + 7),
    })
}

fn limit_of(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

pub(crate) fn object(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    object_type_id: &str,
    object_id: &str,
) -> Result<Option<ObjectRow>, StoreError> {
    pg.query_opt(
        &format!(
            "SELECT {OBJECT_COLUMNS} FROM objects o
             WHERE o.workspace_id = $1 AND o.object_type_id = $2 AND o.object_id = $3"
        ),
        &[&workspace_id, &object_type_id, &object_id],
    )?
    .map(|row| object_from_row(&row, 0))
    .transpose()
}

pub(crate) fn object_by_cio_id(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    cio_object_id: &str,
) -> Result<Option<ObjectRow>, StoreError> {
    pg.query_opt(
        &format!(
            "SELECT {OBJECT_COLUMNS} FROM objects o
             WHERE o.workspace_id = $1 AND o.cio_object_id = $2"
        ),
        &[&workspace_id, &cio_object_id],
    )?
    .map(|row| object_from_row(&row, 0))
    .transpose()
}

pub(crate) fn objects_of_type(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    object_type_id: &str,
    after: Option<ObjectSeq>,
    limit: usize,
) -> Result<Vec<ObjectRow>, StoreError> {
    pg.all(
        &format!(
            "SELECT {OBJECT_COLUMNS} FROM objects o
             WHERE o.workspace_id = $1 AND o.object_type_id = $2 AND o.seq > $3
             ORDER BY o.seq LIMIT $4"
        ),
        &[
            &workspace_id,
            &object_type_id,
            &after.map_or(0, ObjectSeq::get),
            &limit_of(limit),
        ],
        |row| object_from_row(row, 0),
    )
}

pub(crate) fn object_types(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
) -> Result<Vec<ObjectTypeCount>, StoreError> {
    let rows = pg.query(
        "SELECT object_type_id, count(*) FROM objects WHERE workspace_id = $1
         GROUP BY object_type_id ORDER BY length(object_type_id), object_type_id",
        &[&workspace_id],
    )?;
    Ok(rows
        .iter()
        .map(|row| ObjectTypeCount {
            object_type_id: row.get(0),
            objects: row.get::<_, i64>(1).unsigned_abs(),
        })
        .collect())
}

pub(crate) fn person_relationships(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    person_seq: PersonSeq,
    after: Option<ObjectSeq>,
    limit: usize,
) -> Result<Vec<PersonRelationship>, StoreError> {
    let found = relationships(
        pg,
        "r.workspace_id = $1 AND r.person_seq = $2 AND r.object_seq > $3 ORDER BY r.object_seq LIMIT $4",
        &[
            &workspace_id,
            &person_seq,
            &after.map_or(0, ObjectSeq::get),
            &limit_of(limit),
        ],
    )?;
    Ok(found
        .into_iter()
        .map(|(_, relationship)| relationship)
        .collect())
}

pub(crate) fn workspace_relationships(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
) -> Result<Vec<(PersonSeq, PersonRelationship)>, StoreError> {
    relationships(
        pg,
        "r.workspace_id = $1 ORDER BY r.person_seq, r.object_seq",
        &[&workspace_id],
    )
}

/// Relationships with their objects, the rows `condition` (a `WHERE` clause and its order)
/// picks.
fn relationships(
    pg: &mut Pg<'_>,
    condition: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> Result<Vec<(PersonSeq, PersonRelationship)>, StoreError> {
    pg.all(
        &format!(
            "SELECT {OBJECT_COLUMNS}, r.attributes, r.created_at, r.updated_at, r.person_seq
             FROM relationships r JOIN objects o ON o.workspace_id = r.workspace_id AND o.seq = r.object_seq
             WHERE {condition}"
        ),
        params,
        |row| {
            let object = object_from_row(row, 0)?;
            let person_seq: PersonSeq = row.get(11);
            let attributes: String = row.get(8);
            let attributes = parse_object(&attributes).map_err(|error| {
                corrupt_row("relationships", format!("{person_seq}/{}", object.seq), error)
            })?;
            Ok((
                person_seq,
                PersonRelationship {
                    object,
                    attributes,
                    created_at: row.get(9),
                    updated_at: row.get(10),
                },
            ))
        },
    )
}

pub(crate) fn object_relationships(
    pg: &mut Pg<'_>,
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
    pg.all(
        &format!(
            "SELECT {columns}, r.attributes
             FROM relationships r JOIN people p ON p.workspace_id = r.workspace_id AND p.seq = r.person_seq
             WHERE r.workspace_id = $1 AND r.object_seq = $2 AND r.person_seq > $3
               AND p.deleted_at IS NULL
             ORDER BY r.person_seq LIMIT $4"
        ),
        &[
            &workspace_id,
            &object_seq,
            &after.map_or(0, PersonSeq::get),
            &limit_of(limit),
        ],
        |row| {
            let person = person_from_row(row)?;
            let attributes: String = row.get(8);
            let attributes = parse_object(&attributes).map_err(|error| {
                corrupt_row("relationships", format!("{}/{object_seq}", person.seq), error)
            })?;
            Ok(ObjectRelationship { person, attributes })
        },
    )
}

pub(crate) fn insert_object(pg: &mut Pg<'_>, new: &NewObject) -> Result<ObjectRow, StoreError> {
    let row = pg.query_one(
        "INSERT INTO objects (workspace_id, object_type_id, object_id, cio_object_id, attributes, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)
         RETURNING seq",
        &[
            &new.workspace_id,
            &new.object_type_id,
            &new.object_id,
            &new.cio_object_id,
            &to_json(&new.attributes)?,
            &new.created_at,
        ],
    )?;
    Ok(ObjectRow {
        seq: row.get(0),
        workspace_id: new.workspace_id,
        object_type_id: new.object_type_id.clone(),
        object_id: new.object_id.clone(),
        cio_object_id: new.cio_object_id.clone(),
        attributes: new.attributes.clone(),
        created_at: new.created_at,
        updated_at: new.created_at,
    })
}

pub(crate) fn update_object(pg: &mut Pg<'_>, object: &ObjectRow) -> Result<(), StoreError> {
    pg.execute(
        "UPDATE objects SET attributes = $3, updated_at = $4 WHERE workspace_id = $1 AND seq = $2",
        &[
            &object.workspace_id,
            &object.seq,
            &to_json(&object.attributes)?,
            &object.updated_at,
        ],
    )?;
    Ok(())
}

pub(crate) fn delete_object(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    object_seq: ObjectSeq,
) -> Result<(), StoreError> {
    pg.execute(
        "DELETE FROM relationships WHERE workspace_id = $1 AND object_seq = $2",
        &[&workspace_id, &object_seq],
    )?;
    pg.execute(
        "DELETE FROM anonymous_relationships WHERE workspace_id = $1 AND object_seq = $2",
        &[&workspace_id, &object_seq],
    )?;
    pg.execute(
        "DELETE FROM objects WHERE workspace_id = $1 AND seq = $2",
        &[&workspace_id, &object_seq],
    )?;
    Ok(())
}

pub(crate) fn save_relationship(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    person_seq: PersonSeq,
    object_seq: ObjectSeq,
    attributes: &Map<String, Value>,
    now: UnixSeconds,
) -> Result<(), StoreError> {
    pg.execute(
        "INSERT INTO relationships (workspace_id, person_seq, object_seq, attributes, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (workspace_id, person_seq, object_seq) DO UPDATE SET
           attributes = excluded.attributes, updated_at = excluded.updated_at",
        &[
            &workspace_id,
            &person_seq,
            &object_seq,
            &to_json(attributes)?,
            &now,
        ],
    )?;
    Ok(())
}

pub(crate) fn save_anonymous_relationship(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    anonymous_id: &str,
    object_seq: ObjectSeq,
    attributes: &Map<String, Value>,
    now: UnixSeconds,
) -> Result<(), StoreError> {
    pg.execute(
        "INSERT INTO anonymous_relationships (workspace_id, anonymous_id, object_seq, attributes, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (workspace_id, anonymous_id, object_seq) DO UPDATE SET
           attributes = excluded.attributes, updated_at = excluded.updated_at",
        &[
            &workspace_id,
            &anonymous_id,
            &object_seq,
            &to_json(attributes)?,
            &now,
        ],
    )?;
    Ok(())
}

pub(crate) fn take_anonymous_relationships(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    anonymous_id: &str,
) -> Result<Vec<PersonRelationship>, StoreError> {
    let taken = pg.all(
        &format!(
            "SELECT {OBJECT_COLUMNS}, r.attributes, r.created_at, r.updated_at
             FROM anonymous_relationships r
             JOIN objects o ON o.workspace_id = r.workspace_id AND o.seq = r.object_seq
             WHERE r.workspace_id = $1 AND r.anonymous_id = $2 ORDER BY r.object_seq"
        ),
        &[&workspace_id, &anonymous_id],
        |row| {
            let object = object_from_row(row, 0)?;
            let attributes: String = row.get(8);
            let attributes = parse_object(&attributes).map_err(|error| {
                corrupt_row(
                    "anonymous_relationships",
                    format!("{anonymous_id}/{}", object.seq),
                    error,
                )
            })?;
            Ok(PersonRelationship {
                object,
                attributes,
                created_at: row.get(9),
                updated_at: row.get(10),
            })
        },
    )?;
    pg.execute(
        "DELETE FROM anonymous_relationships WHERE workspace_id = $1 AND anonymous_id = $2",
        &[&workspace_id, &anonymous_id],
    )?;
    Ok(taken)
}

pub(crate) fn delete_relationship(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    person_seq: PersonSeq,
    object_seq: ObjectSeq,
) -> Result<bool, StoreError> {
    let changed = pg.execute(
        "DELETE FROM relationships WHERE workspace_id = $1 AND person_seq = $2 AND object_seq = $3",
        &[&workspace_id, &person_seq, &object_seq],
    )?;
    Ok(changed > 0)
}

pub(crate) fn move_relationships(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    from_seq: PersonSeq,
    to_seq: PersonSeq,
) -> Result<(), StoreError> {
    pg.execute(
        "INSERT INTO relationships (workspace_id, person_seq, object_seq, attributes, created_at, updated_at)
         SELECT workspace_id, $3, object_seq, attributes, created_at, updated_at FROM relationships
         WHERE workspace_id = $1 AND person_seq = $2
         ON CONFLICT (workspace_id, person_seq, object_seq) DO NOTHING",
        &[&workspace_id, &from_seq, &to_seq],
    )?;
    delete_person_relationships(pg, workspace_id, from_seq)
}

pub(crate) fn delete_person_relationships(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    person_seq: PersonSeq,
) -> Result<(), StoreError> {
    pg.execute(
        "DELETE FROM relationships WHERE workspace_id = $1 AND person_seq = $2",
        &[&workspace_id, &person_seq],
    )?;
    Ok(())
}
