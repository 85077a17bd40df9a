//! Segments and their memberships: reads and writes `segments`, `segment_members`,
//! `segment_history`, `segment_days` and `segment_purges`.

use herald_domain::{PersonSeq, SegmentId, WorkspaceId};
use std::collections::BTreeMap;

use herald_store::codec::{corrupt_row, membership_change, parse_json, skip_corrupt, to_json};
use herald_store::{MembershipChange, NewSegment, SegmentRow, StoreChange, StoreError};

use crate::changes::notify;
use crate::pg::Pg;

const SEGMENT_COLUMNS: &str =
    "id, workspace_id, name, description, definition, state, progress, created_at, updated_at";

/// A segment selected as [`SEGMENT_COLUMNS`]; a definition that cannot be decoded or a state no
/// version wrote makes the row corrupt.
fn segment_from_row(row: &postgres::Row) -> Result<SegmentRow, StoreError> {
    let id: i64 = row.get(0);
    let definition: Option<String> = row.get(4);
    let state: String = row.get(5);
    let definition = definition
        .as_deref()
        .map(parse_json)
        .transpose()
        .map_err(|error| corrupt_row("segments", id, error))?;
    let state = herald_store::codec::stored_state("segments", id, &state)?;
    Ok(SegmentRow {
        id: SegmentId::new(id),
        workspace_id: row.get(1),
        name: row.get(2),
        description: row.get(3),
        definition,
        state,
        progress: row.get(6),
        created_at: row.get(7),
        updated_at: row.get(8),
    })
}

pub(crate) fn segments(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
) -> Result<Vec<SegmentRow>, StoreError> {
    let sql = format!("SELECT {SEGMENT_COLUMNS} FROM segments WHERE workspace_id = $1 ORDER BY id");
    pg.all(&sql, &[&workspace_id], segment_from_row)
}

pub(crate) fn segment(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    id: SegmentId,
) -> Result<Option<SegmentRow>, StoreError> {
    let sql = format!("SELECT {SEGMENT_COLUMNS} FROM segments WHERE workspace_id = $1 AND id = $2");
    pg.one(&sql, &[&workspace_id, &id], segment_from_row)
}

pub(crate) fn segment_members(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
) -> Result<Vec<(SegmentId, PersonSeq)>, StoreError> {
    let rows = pg.query(
        "SELECT m.segment_id, m.person_seq FROM segment_members m
         JOIN segments s ON s.id = m.segment_id
         WHERE m.workspace_id = $1 AND s.workspace_id = $1 ORDER BY m.segment_id, m.person_seq",
        &[&workspace_id],
    )?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

pub(crate) fn segment_purges(pg: &mut Pg<'_>) -> Result<Vec<SegmentId>, StoreError> {
    let rows = pg.query(
        "SELECT segment_id FROM segment_purges ORDER BY segment_id",
        &[],
    )?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

pub(crate) fn segment_days(
    pg: &mut Pg<'_>,
    segment_id: SegmentId,
    from_day: i64,
) -> Result<Vec<(i64, i64, i64)>, StoreError> {
    let rows = pg.query(
        "SELECT day, entered, exited FROM segment_days
         WHERE segment_id = $1 AND day >= $2 ORDER BY day",
        &[&segment_id, &from_day],
    )?;
    Ok(rows
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect())
}

pub(crate) fn segment_history(
    pg: &mut Pg<'_>,
    segment_id: SegmentId,
    person_seq: PersonSeq,
) -> Result<Vec<MembershipChange>, StoreError> {
    let rows = pg.query(
        "SELECT entered, at, cause, origin FROM segment_history
         WHERE segment_id = $1 AND person_seq = $2 ORDER BY seq",
        &[&segment_id, &person_seq],
    )?;
    let mut changes = Vec::new();
    for row in rows {
        let cause: String = row.get(2);
        let origin: String = row.get(3);
        let decoded = membership_change(
            segment_id,
            person_seq,
            row.get(0),
            row.get(1),
            &cause,
            &origin,
        );
        if let Some(change) = skip_corrupt(decoded)? {
            changes.push(change);
        }
    }
    Ok(changes)
}

pub(crate) fn insert_segment(pg: &mut Pg<'_>, new: &NewSegment) -> Result<SegmentRow, StoreError> {
    let definition = new.definition.as_ref().map(to_json).transpose()?;
    let row = pg.query_one(
        "INSERT INTO segments (workspace_id, name, description, definition, state, progress, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, NULL, $6, $6)
         RETURNING id",
        &[
            &new.workspace_id,
            &new.name,
            &new.description,
            &definition,
            &new.state.as_str(),
            &new.now,
        ],
    )?;
    let id = row.get(0);
    notify(
        pg,
        StoreChange::Segment {
            workspace_id: new.workspace_id,
            id,
        },
    )?;
    Ok(SegmentRow {
        id,
        workspace_id: new.workspace_id,
        name: new.name.clone(),
        description: new.description.clone(),
        definition: new.definition.clone(),
        state: new.state,
        progress: None,
        created_at: new.now,
        updated_at: new.now,
    })
}

pub(crate) fn update_segment(pg: &mut Pg<'_>, segment: &SegmentRow) -> Result<(), StoreError> {
    let definition = segment.definition.as_ref().map(to_json).transpose()?;
    pg.execute(
        "UPDATE segments SET name = $3, description = $4, definition = $5, state = $6,
             progress = $7, updated_at = $8
         WHERE workspace_id = $1 AND id = $2",
        &[
            &segment.workspace_id,
            &segment.id,
            &segment.name,
            &segment.description,
            &definition,
            &segment.state.as_str(),
            &segment.progress,
            &segment.updated_at,
        ],
    )?;
    notify(
        pg,
        StoreChange::Segment {
            workspace_id: segment.workspace_id,
            id: segment.id,
        },
    )
}

pub(crate) fn delete_segment(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    id: SegmentId,
) -> Result<bool, StoreError> {
    let deleted = pg.execute(
        "DELETE FROM segments WHERE workspace_id = $1 AND id = $2",
        &[&workspace_id, &id],
    )?;
    if deleted > 0 {
        pg.execute(
            "INSERT INTO segment_purges (segment_id, workspace_id) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
            &[&id, &workspace_id],
        )?;
        notify(pg, StoreChange::Segment { workspace_id, id })?;
    }
    Ok(deleted > 0)
}

pub(crate) fn purge_segment(
    pg: &mut Pg<'_>,
    id: SegmentId,
    limit: usize,
) -> Result<bool, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let Some(workspace_id) = pg.one(
        "SELECT workspace_id FROM segment_purges WHERE segment_id = $1",
        &[&id],
        |row| Ok(row.get::<_, i64>(0)),
    )?
    else {
        return Ok(false);
    };
    // PostgreSQL's DELETE takes no LIMIT: each chunk's keys are selected first, walking the
    // table's index on the segment, so each step costs its chunk, not the table. With the
    // workspace in every condition, each statement stays on one shard on Citus.
    let members = pg.execute(
        "DELETE FROM segment_members WHERE workspace_id = $1 AND segment_id = $2 AND person_seq = ANY(ARRAY(
             SELECT person_seq FROM segment_members WHERE workspace_id = $1 AND segment_id = $2 LIMIT $3))",
        &[&workspace_id, &id, &limit],
    )?;
    let history = pg.execute(
        "DELETE FROM segment_history WHERE workspace_id = $1 AND seq = ANY(ARRAY(
             SELECT seq FROM segment_history WHERE workspace_id = $1 AND segment_id = $2 LIMIT $3))",
        &[&workspace_id, &id, &limit],
    )?;
    if members > 0 || history > 0 {
        return Ok(true);
    }
    pg.execute(
        "DELETE FROM segment_days WHERE workspace_id = $1 AND segment_id = $2",
        &[&workspace_id, &id],
    )?;
    pg.execute("DELETE FROM segment_purges WHERE segment_id = $1", &[&id])?;
    Ok(false)
}

/// What a batch of changes leaves of one membership, applied in order: whether any exit removed
/// the stored row, and when the membership that remains began.
#[derive(Default)]
struct NetMembership {
    exited: bool,
    since: Option<i64>,
}

pub(crate) fn record_membership_changes(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    changes: &[MembershipChange],
) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    // The day counts, summed per (segment, day) first: a build's million entries are one
    // row's update.
    let mut days: BTreeMap<(SegmentId, i64), (i64, i64)> = BTreeMap::new();
    // Each membership's changes reduced to their net effect, so that the members are written
    // by one deletion and one insertion whatever the batch holds. Applied one by one, an entry
    // adds a row unless there is one and an exit removes it: the row that remains is the one
    // added by the first entry after the last exit, or the stored one if nothing exited.
    let mut members: BTreeMap<(SegmentId, PersonSeq), NetMembership> = BTreeMap::new();
    for change in changes {
        let day = days
            .entry((change.segment_id, change.at.div_euclid(86_400)))
            .or_default();
        let member = members
            .entry((change.segment_id, change.person_seq))
            .or_default();
        if change.entered {
            day.0 += 1;
            member.since.get_or_insert(change.at);
        } else {
            day.1 += 1;
            member.exited = true;
            member.since = None;
        }
    }

    let (mut segment_ids, mut day_numbers, mut entered, mut exited) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((segment_id, day), (entries, exits)) in days {
        segment_ids.push(segment_id);
        day_numbers.push(day);
        entered.push(entries);
        exited.push(exits);
    }
    pg.execute(
        "INSERT INTO segment_days (workspace_id, segment_id, day, entered, exited)
         SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])
         ON CONFLICT (workspace_id, segment_id, day) DO UPDATE SET
           entered = segment_days.entered + excluded.entered,
           exited = segment_days.exited + excluded.exited",
        &[&workspace_id, &segment_ids, &day_numbers, &entered, &exited],
    )?;

    let (mut removed_segments, mut removed_people) = (Vec::new(), Vec::new());
    let (mut added_segments, mut added_people, mut added_since) =
        (Vec::new(), Vec::new(), Vec::new());
    for ((segment_id, person_seq), member) in members {
        if member.exited {
            removed_segments.push(segment_id);
            removed_people.push(person_seq);
        }
        if let Some(since) = member.since {
            added_segments.push(segment_id);
            added_people.push(person_seq);
            added_since.push(since);
        }
    }
    if !removed_segments.is_empty() {
        pg.execute(
            "DELETE FROM segment_members m
             USING unnest($2::bigint[], $3::bigint[]) AS r(segment_id, person_seq)
             WHERE m.workspace_id = $1 AND m.segment_id = r.segment_id
               AND m.person_seq = r.person_seq",
            &[&workspace_id, &removed_segments, &removed_people],
        )?;
    }
    if !added_segments.is_empty() {
        pg.execute(
            "INSERT INTO segment_members (workspace_id, segment_id, person_seq, since)
             SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[])
             ON CONFLICT DO NOTHING",
            &[&workspace_id, &added_segments, &added_people, &added_since],
        )?;
    }

    let mut causes = Vec::with_capacity(changes.len());
    for change in changes {
        causes.push(to_json(&change.cause)?);
    }
    let segment_ids: Vec<SegmentId> = changes.iter().map(|change| change.segment_id).collect();
    let people: Vec<PersonSeq> = changes.iter().map(|change| change.person_seq).collect();
    let entered: Vec<bool> = changes.iter().map(|change| change.entered).collect();
    let at: Vec<i64> = changes.iter().map(|change| change.at).collect();
    let origins: Vec<&str> = changes
        .iter()
        .map(|change| change.origin.as_str())
        .collect();
    // The history is read in `seq` order, so the rows take their seqs in the batch's order.
    pg.execute(
        "INSERT INTO segment_history (workspace_id, segment_id, person_seq, entered, at, cause, origin)
         SELECT $1, segment_id, person_seq, entered, at, cause, origin
         FROM unnest($2::bigint[], $3::bigint[], $4::boolean[], $5::bigint[], $6::text[], $7::text[])
              WITH ORDINALITY AS c(segment_id, person_seq, entered, at, cause, origin, position)
         ORDER BY position",
        &[&workspace_id, &segment_ids, &people, &entered, &at, &causes, &origins],
    )?;
    Ok(())
}
