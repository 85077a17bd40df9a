//! People, their devices and the suppressed identifiers: reads and writes the `people`,
//! `devices` and `suppressions` tables (and drops a deleted person's `anonymous_links`).

use std::collections::{HashMap, HashSet};

use herald_domain::{Identifier, PersonSeq, UnixSeconds, WorkspaceId};
use herald_store::{Device, NewPerson, Person, StoreError};

use herald_store::codec::{corrupt_row, parse_object, prefix_end, to_json};

use crate::pg::Pg;

/// The columns [`person_from_row`] reads, in its order.
pub(crate) const PERSON_COLUMNS: &str =
    "seq, workspace_id, cio_id, id, email, attributes, created_at, updated_at";

/// A person selected as [`PERSON_COLUMNS`]; attributes that cannot be decoded make the row
/// corrupt (see `herald_store::codec`).
pub(crate) fn person_from_row(row: &postgres::Row) -> Result<Person, StoreError> {
    let seq: i64 = row.get(0);
    let attributes: String = row.get(5);
    Ok(Person {
        seq: PersonSeq::new(seq),
        workspace_id: row.get(1),
        cio_id: row.get(2),
        id: row.get(3),
        email: row.get(4),
        attributes: parse_object(&attributes).map_err(|error| corrupt_row("people", seq, error))?,
        created_at: row.get(6),
        updated_at: row.get(7),
    })
}

/// A person's number from the writer's cache when it has them (a cluster's nodes keep none),
/// else from their row.
pub(crate) fn person_seq(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    identifier: &Identifier,
) -> Result<Option<PersonSeq>, StoreError> {
    if let Some(seq) = pg
        .cache()
        .and_then(|cache| cache.seq_of(workspace_id, identifier))
    {
        return Ok(Some(seq));
    }
    Ok(person(pg, workspace_id, identifier)?.map(|person| person.seq))
}

pub(crate) fn person(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    identifier: &Identifier,
) -> Result<Option<Person>, StoreError> {
    let column = match identifier {
        Identifier::Id(_) => "id",
        Identifier::Email(_) => "email_lower",
        Identifier::CioId(_) => "cio_id",
    };
    if let Some(person) = pg
        .cache()
        .and_then(|cache| cache.person(workspace_id, identifier))
    {
        return Ok(Some(person));
    }
    let sql = format!(
        "SELECT {PERSON_COLUMNS} FROM people
         WHERE workspace_id = $1 AND {column} = $2 AND deleted_at IS NULL"
    );
    let found = pg.one(&sql, &[&workspace_id, &identifier.value()], person_from_row)?;
    if let (Some(person), Some(cache)) = (&found, pg.cache()) {
        cache.put(person);
    }
    Ok(found)
}

pub(crate) fn person_by_seq(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    seq: PersonSeq,
) -> Result<Option<Person>, StoreError> {
    let sql = format!(
        "SELECT {PERSON_COLUMNS} FROM people
         WHERE workspace_id = $1 AND seq = $2 AND deleted_at IS NULL"
    );
    pg.one(&sql, &[&workspace_id, &seq], person_from_row)
}

pub(crate) fn person_ids(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    seqs: &[PersonSeq],
) -> Result<Vec<Option<String>>, StoreError> {
    let rows = pg.query(
        "SELECT seq, id FROM people
         WHERE workspace_id = $1 AND seq = ANY($2) AND deleted_at IS NULL",
        &[&workspace_id, &seqs],
    )?;
    let ids: HashMap<PersonSeq, Option<String>> =
        rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    Ok(seqs
        .iter()
        .map(|seq| ids.get(seq).cloned().flatten())
        .collect())
}

pub(crate) fn devices(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    person_seq: PersonSeq,
) -> Result<Vec<Device>, StoreError> {
    pg.all(
        "SELECT token, platform, last_used, attributes FROM devices
         WHERE workspace_id = $1 AND person_seq = $2 ORDER BY token",
        &[&workspace_id, &person_seq],
        |row| {
            let token: String = row.get(0);
            let attributes: String = row.get(3);
            let attributes = parse_object(&attributes)
                .map_err(|error| corrupt_row("devices", format!("{person_seq}/{token}"), error))?;
            Ok(Device {
                token,
                platform: row.get(1),
                last_used: row.get(2),
                attributes,
            })
        },
    )
}

pub(crate) fn is_suppressed(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    identifier: &Identifier,
) -> Result<bool, StoreError> {
    // The writer knows which workspaces have any suppression, and asks only about those.
    if pg
        .cache()
        .is_some_and(|cache| !cache.suppressed_workspaces_loaded())
    {
        let workspaces: HashSet<WorkspaceId> = pg
            .query("SELECT DISTINCT workspace_id FROM suppressions", &[])?
            .iter()
            .map(|row| row.get(0))
            .collect();
        if let Some(cache) = pg.cache() {
            cache.load_suppressed_workspaces(workspaces);
        }
    }
    if pg
        .cache()
        .is_some_and(|cache| cache.surely_unsuppressed(workspace_id))
    {
        return Ok(false);
    }
    let found = pg.query_opt(
        "SELECT 1 FROM suppressions WHERE workspace_id = $1 AND id_type = $2 AND value = $3",
        &[
            &workspace_id,
            &identifier.id_type().as_str(),
            &identifier.value(),
        ],
    )?;
    Ok(found.is_some())
}

pub(crate) fn live_people(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
) -> Result<Vec<Person>, StoreError> {
    let sql = format!(
        "SELECT {PERSON_COLUMNS} FROM people
         WHERE workspace_id = $1 AND deleted_at IS NULL ORDER BY seq"
    );
    pg.all(&sql, &[&workspace_id], person_from_row)
}

pub(crate) fn people_page(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    before: Option<PersonSeq>,
    limit: usize,
) -> Result<Vec<Person>, StoreError> {
    let sql = format!(
        "SELECT {PERSON_COLUMNS} FROM people
         WHERE workspace_id = $1 AND deleted_at IS NULL AND seq < $2
         ORDER BY seq DESC LIMIT $3"
    );
    let rows = pg.query(
        &sql,
        &[
            &workspace_id,
            &before.map_or(i64::MAX, PersonSeq::get),
            &i64::try_from(limit).unwrap_or(i64::MAX),
        ],
    )?;
    // As on SQLite, a corrupt person fails the page rather than leaving a hole in it.
    rows.iter().map(person_from_row).collect()
}

pub(crate) fn people_after(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    after: Option<PersonSeq>,
    limit: usize,
) -> Result<Vec<Person>, StoreError> {
    let sql = format!(
        "SELECT {PERSON_COLUMNS} FROM people
         WHERE workspace_id = $1 AND deleted_at IS NULL AND seq > $2
         ORDER BY seq LIMIT $3"
    );
    let rows = pg.query(
        &sql,
        &[
            &workspace_id,
            &after.map_or(i64::MIN, PersonSeq::get),
            &i64::try_from(limit).unwrap_or(i64::MAX),
        ],
    )?;
    // As on SQLite, a corrupt person fails the page rather than leaving a hole in it.
    rows.iter().map(person_from_row).collect()
}

pub(crate) fn search_people(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    prefix: &str,
    limit: usize,
) -> Result<Vec<Person>, StoreError> {
    // PostgreSQL text cannot hold NUL, so no id or email starts with a prefix that has one (and
    // the server would refuse it as a parameter).
    if prefix.contains('\0') {
        return Ok(Vec::new());
    }
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut found: Vec<Person> = Vec::new();
    let lower = prefix.to_lowercase();
    for (column, start) in [("id", prefix.to_owned()), ("email_lower", lower)] {
        // The text_pattern_ops operators compare bytes, as SQLite's BINARY collation does, and
        // take the range's bounds from parameters in a generic plan too (a `LIKE $2` would not).
        let rows = match prefix_end(&start) {
            Some(end) => {
                let sql = format!(
                    "SELECT {PERSON_COLUMNS} FROM people
                     WHERE workspace_id = $1 AND deleted_at IS NULL
                       AND {column} ~>=~ $2 AND {column} ~<~ $3
                     ORDER BY {column} USING ~<~ LIMIT $4"
                );
                pg.query(&sql, &[&workspace_id, &start, &end, &limit])?
            }
            None => {
                let sql = format!(
                    "SELECT {PERSON_COLUMNS} FROM people
                     WHERE workspace_id = $1 AND deleted_at IS NULL AND {column} ~>=~ $2
                     ORDER BY {column} USING ~<~ LIMIT $3"
                );
                pg.query(&sql, &[&workspace_id, &start, &limit])?
            }
        };
        for row in &rows {
            let person = person_from_row(row)?;
            if !found.iter().any(|p| p.seq == person.seq) {
                found.push(person);
            }
        }
    }
    found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(found)
}

pub(crate) fn insert_person(pg: &mut Pg<'_>, new: &NewPerson) -> Result<Person, StoreError> {
    let email_lower = new.email.as_ref().map(|email| email.to_lowercase());
    let row = pg.query_one(
        "INSERT INTO people (workspace_id, cio_id, id, email, email_lower, attributes, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
         RETURNING seq",
        &[
            &new.workspace_id,
            &new.cio_id,
            &new.id,
            &new.email,
            &email_lower,
            &to_json(&new.attributes)?,
            &new.created_at,
        ],
    )?;
    let person = Person {
        seq: row.get(0),
        workspace_id: new.workspace_id,
        cio_id: new.cio_id.clone(),
        id: new.id.clone(),
        email: new.email.clone(),
        attributes: new.attributes.clone(),
        created_at: new.created_at,
        updated_at: new.created_at,
    };
    if let Some(cache) = pg.cache() {
        cache.put(&person);
    }
    Ok(person)
}

pub(crate) fn update_person(pg: &mut Pg<'_>, person: &Person) -> Result<(), StoreError> {
    let email_lower = person.email.as_ref().map(|email| email.to_lowercase());
    pg.execute(
        "UPDATE people SET id = $3, email = $4, email_lower = $5, attributes = $6, updated_at = $7
         WHERE workspace_id = $1 AND seq = $2",
        &[
            &person.workspace_id,
            &person.seq,
            &person.id,
            &person.email,
            &email_lower,
            &to_json(&person.attributes)?,
            &person.updated_at,
        ],
    )?;
    if let Some(cache) = pg.cache() {
        cache.put(person);
    }
    Ok(())
}

pub(crate) fn delete_person(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    seq: PersonSeq,
    now: UnixSeconds,
) -> Result<(), StoreError> {
    pg.execute(
        "UPDATE people SET deleted_at = $3
         WHERE workspace_id = $1 AND seq = $2 AND deleted_at IS NULL",
        &[&workspace_id, &seq, &now],
    )?;
    if let Some(cache) = pg.cache() {
        cache.forget(seq);
    }
    pg.execute(
        "DELETE FROM devices WHERE workspace_id = $1 AND person_seq = $2",
        &[&workspace_id, &seq],
    )?;
    pg.execute(
        "DELETE FROM anonymous_links WHERE workspace_id = $1 AND person_seq = $2",
        &[&workspace_id, &seq],
    )?;
    crate::objects::delete_person_relationships(pg, workspace_id, seq)
}

pub(crate) fn upsert_device(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    person_seq: PersonSeq,
    device: &Device,
) -> Result<(), StoreError> {
    pg.execute(
        "INSERT INTO devices (workspace_id, token, person_seq, platform, last_used, attributes)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (workspace_id, token) DO UPDATE SET
           person_seq = excluded.person_seq, platform = excluded.platform,
           last_used = excluded.last_used, attributes = excluded.attributes",
        &[
            &workspace_id,
            &device.token,
            &person_seq,
            &device.platform,
            &device.last_used,
            &to_json(&device.attributes)?,
        ],
    )?;
    Ok(())
}

pub(crate) fn delete_device(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    person_seq: PersonSeq,
    token: &str,
) -> Result<bool, StoreError> {
    let changed = pg.execute(
        "DELETE FROM devices WHERE workspace_id = $1 AND person_seq = $2 AND token = $3",
        &[&workspace_id, &person_seq, &token],
    )?;
    Ok(changed > 0)
}

pub(crate) fn move_devices(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    from_seq: PersonSeq,
    to_seq: PersonSeq,
) -> Result<(), StoreError> {
    pg.execute(
        "UPDATE devices SET person_seq = $3 WHERE workspace_id = $1 AND person_seq = $2",
        &[&workspace_id, &from_seq, &to_seq],
    )?;
    Ok(())
}

pub(crate) fn suppress(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    identifier: &Identifier,
    now: UnixSeconds,
) -> Result<(), StoreError> {
    pg.execute(
        "INSERT INTO suppressions (workspace_id, id_type, value, created_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
        &[
            &workspace_id,
            &identifier.id_type().as_str(),
            &identifier.value(),
            &now,
        ],
    )?;
    if let Some(cache) = pg.cache() {
        cache.note_suppression(workspace_id);
    }
    Ok(())
}

pub(crate) fn unsuppress(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    identifier: &Identifier,
) -> Result<bool, StoreError> {
    let changed = pg.execute(
        "DELETE FROM suppressions WHERE workspace_id = $1 AND id_type = $2 AND value = $3",
        &[
            &workspace_id,
            &identifier.id_type().as_str(),
            &identifier.value(),
        ],
    )?;
    Ok(changed > 0)
}

#[cfg(test)]
mod tests {
    use herald_domain::PersonSeq;
    use herald_domain::WorkspaceId;
    use herald_store::StoreHandle;
    use herald_store::conformance::{new_person, new_workspace};

    fn make_store() -> (StoreHandle, crate::test_database::TestSchema) {
        let schema = crate::test_database::TestSchema::new();
        let store = crate::PostgresStore::open_handle(&schema.options()).expect("the store opens");
        (store, schema)
    }

    fn search(
        store: &StoreHandle,
        workspace_id: WorkspaceId,
        prefix: &'static str,
    ) -> Vec<PersonSeq> {
        store
            .read_blocking(move |r| r.search_people(workspace_id, prefix, 10))
            .expect("read")
            .iter()
            .map(|person| person.seq)
            .collect()
    }

    #[test]
    fn search_prefixes_match_literally_and_in_byte_order() {
        let (store, _schema) = make_store();
        let ws = new_workspace(&store, "people");
        let percent = new_person(&store, ws, "a%1", None);
        let underscore = new_person(&store, ws, "a_1", Some("X_Y@example.com"));
        let backslash = new_person(&store, ws, "a\\1", None);
        let plain = new_person(&store, ws, "ab1", Some("xzy@example.com"));
        let upper = new_person(&store, ws, "B", None);

        assert_eq!(search(&store, ws, "a%"), vec![percent]);
        assert_eq!(search(&store, ws, "a_"), vec![underscore]);
        assert_eq!(search(&store, ws, "a\\"), vec![backslash]);
        assert_eq!(search(&store, ws, "x_"), vec![underscore]);
        assert_eq!(search(&store, ws, "%"), Vec::<PersonSeq>::new());
        assert_eq!(search(&store, ws, "a\0"), Vec::<PersonSeq>::new());
        // Bytes order the matches whatever the database's collation: `%` (0x25) before `\`
        // (0x5C) before `_` (0x5F) before `b`; `B` before every lowercase id.
        assert_eq!(
            search(&store, ws, "a"),
            vec![percent, backslash, underscore, plain]
        );
        assert_eq!(
            search(&store, ws, ""),
            vec![upper, percent, backslash, underscore, plain]
        );
    }

    #[test]
    fn person_ids_answer_in_the_order_asked() {
        let (store, _schema) = make_store();
        let ws = new_workspace(&store, "people");
        let ann = new_person(&store, ws, "ann", None);
        let bob = new_person(&store, ws, "bob", None);
        let ids = store
            .read_blocking(move |r| {
                r.person_ids(ws, &[bob, PersonSeq::new(bob.get() + 100), ann, bob])
            })
            .expect("read");
        assert_eq!(
            ids,
            vec![
                Some("bob".into()),
                None,
                Some("ann".into()),
                Some("bob".into())
            ]
        );
    }
}
