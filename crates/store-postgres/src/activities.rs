//! The activity log and what hangs off it: reads and writes `activities`, `anonymous_links`,
//! the data index (`event_index`, `event_days`), `delivery_metrics` and the engine log
//! (`engine_log`, with its positions kept in `settings`); reads `people` for histories.

use std::collections::BTreeSet;

use herald_domain::{PersonSeq, UnixSeconds, WorkspaceId};
use herald_store::codec::{corrupt_row, parse_json, skip_corrupt, to_json};
use herald_store::data_index::{DataIndexBuffer, merge_keys};
use herald_store::{
    Activity, ActivityQuery, Appended, CustomerIdentifiers, DeliveryMetric, EventDayCount,
    EventIndexEntry, LogPosition, NewActivity, PartitionSet, Person, StoreError, StoredEvent,
};
use postgres::Row;
use postgres::types::ToSql;
use serde_json::{Map, Value};

use crate::people::{PERSON_COLUMNS, person_from_row};
use crate::pg::{PendingLogEntry, Pg};

/// The setting that keeps the position the engine log is trimmed to (the SQLite store's name).
const ENGINE_LOG_TRIMMED: &str = "engine_log_trimmed";

/// The setting that keeps the last position the engine log handed out (`flush_log`), inside the
/// transactions, as SQLite's `sqlite_sequence` does: a PostgreSQL sequence is outside them (it
/// counts rolled-back and uncommitted entries too, which a pinned read must not see, and its
/// values do not follow commit order).
const ENGINE_LOG_END: &str = "engine_log_end";

/// Decodes an event from its parts; its data that cannot be decoded makes it corrupt.
fn stored_event(
    person_seq: PersonSeq,
    kind: String,
    name: Option<String>,
    timestamp: i64,
    data: &str,
    seq: i64,
) -> Result<StoredEvent, StoreError> {
    // SQLite cannot read a nameless event row into an event either, and stops the read.
    let name = name.ok_or_else(|| {
        StoreError::Backend(format!("activities row {seq}: an event without a name"))
    })?;
    Ok(StoredEvent {
        person_seq,
        kind,
        name,
        timestamp,
        data: parse_json(data).map_err(|error| corrupt_row("activities", seq, error))?,
    })
}

/// An event selected as `person_seq, kind, name, timestamp, data, seq`.
fn event_from_row(row: &Row) -> Result<StoredEvent, StoreError> {
    let data: String = row.get(4);
    stored_event(
        row.get(0),
        row.get(1),
        row.get(2),
        row.get(3),
        &data,
        row.get(5),
    )
}

/// A number kept in `settings`, 0 when missing or unreadable.
fn numeric_setting(pg: &mut Pg<'_>, key: &str) -> Result<i64, StoreError> {
    let value: Option<String> = pg
        .query_opt("SELECT value FROM settings WHERE key = $1", &[&key])?
        .map(|row| row.get(0));
    Ok(value.and_then(|value| value.parse().ok()).unwrap_or(0))
}

fn set_numeric_setting(pg: &mut Pg<'_>, key: &str, value: i64) -> Result<(), StoreError> {
    pg.execute(
        "INSERT INTO settings (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&key, &value.to_string()],
    )?;
    Ok(())
}

pub(crate) fn activities(
    pg: &mut Pg<'_>,
    query: &ActivityQuery,
) -> Result<Vec<Activity>, StoreError> {
    let mut sql = String::from(
        "SELECT a.seq, a.person_seq, a.anonymous_id, a.kind, a.name, a.data, a.timestamp,
                a.received_at, a.event_id, a.may_trigger, p.id, p.email, p.cio_id
         FROM activities a LEFT JOIN people p ON p.workspace_id = a.workspace_id AND p.seq = a.person_seq
         WHERE a.workspace_id = $1 AND a.timestamp >= $2",
    );
    let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&query.workspace_id, &query.since];
    if let Some(person_seq) = &query.person_seq {
        params.push(person_seq);
        sql.push_str(&format!(" AND a.person_seq = ${}", params.len()));
    }
    if let Some(kind) = &query.kind {
        params.push(kind);
        sql.push_str(&format!(" AND a.kind = ${}", params.len()));
    }
    if let Some(name) = &query.name {
        params.push(name);
        sql.push_str(&format!(" AND a.name = ${}", params.len()));
    }
    if let Some(before) = &query.before_seq {
        params.push(before);
        sql.push_str(&format!(" AND a.seq < ${}", params.len()));
    }
    params.push(&limit);
    sql.push_str(&format!(" ORDER BY a.seq DESC LIMIT ${}", params.len()));
    pg.all(&sql, &params, |row| {
        let seq: i64 = row.get(0);
        let data: String = row.get(5);
        let cio_id: Option<String> = row.get(12);
        Ok(Activity {
            seq,
            person_seq: row.get(1),
            anonymous_id: row.get(2),
            kind: row.get(3),
            name: row.get(4),
            data: parse_json(&data).map_err(|error| corrupt_row("activities", seq, error))?,
            timestamp: row.get(6),
            received_at: row.get(7),
            event_id: row.get(8),
            may_trigger: row.get(9),
            customer: cio_id.map(|cio_id| CustomerIdentifiers {
                id: row.get(10),
                email: row.get(11),
                cio_id,
            }),
        })
    })
}

pub(crate) fn event_index(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
) -> Result<Vec<EventIndexEntry>, StoreError> {
    // The "C" collation orders by bytes, as SQLite does, whatever the database's collation.
    pg.all(
        r#"SELECT name, kind, count, first_seen, last_seen, attribute_keys FROM event_index
           WHERE workspace_id = $1 ORDER BY name COLLATE "C", kind COLLATE "C""#,
        &[&workspace_id],
        |row| {
            let name: String = row.get(0);
            let kind: String = row.get(1);
            let keys: String = row.get(5);
            let attribute_keys = serde_json::from_str(&keys)
                .map_err(|error| corrupt_row("event_index", format!("{kind}/{name}"), error))?;
            Ok(EventIndexEntry {
                name,
                kind,
                count: row.get(2),
                first_seen: row.get(3),
                last_seen: row.get(4),
                attribute_keys,
            })
        },
    )
}

pub(crate) fn event_days(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    from_day: i64,
    to_day: i64,
) -> Result<Vec<EventDayCount>, StoreError> {
    pg.all(
        r#"SELECT name, kind, day, count FROM event_days
           WHERE workspace_id = $1 AND day BETWEEN $2 AND $3
           ORDER BY day, name COLLATE "C", kind COLLATE "C""#,
        &[&workspace_id, &from_day, &to_day],
        |row| {
            Ok(EventDayCount {
                name: row.get(0),
                kind: row.get(1),
                day: row.get(2),
                count: row.get(3),
            })
        },
    )
}

pub(crate) fn anonymous_link(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    anonymous_id: &str,
) -> Result<Option<(PersonSeq, UnixSeconds)>, StoreError> {
    pg.one(
        "SELECT person_seq, linked_at FROM anonymous_links
         WHERE workspace_id = $1 AND anonymous_id = $2",
        &[&workspace_id, &anonymous_id],
        |row| Ok((row.get(0), row.get(1))),
    )
}

pub(crate) fn delivery_metrics(
    pg: &mut Pg<'_>,
    delivery_id: &str,
) -> Result<Vec<DeliveryMetric>, StoreError> {
    pg.all(
        "SELECT source, delivery_id, metric, timestamp, received_at, data
         FROM delivery_metrics WHERE delivery_id = $1 ORDER BY seq",
        &[&delivery_id],
        |row| {
            let delivery_id: String = row.get(1);
            let data: String = row.get(5);
            let data = parse_json(&data).map_err(|error| {
                corrupt_row("delivery_metrics", format!("of {delivery_id}"), error)
            })?;
            Ok(DeliveryMetric {
                source: row.get(0),
                delivery_id,
                metric: row.get(2),
                timestamp: row.get(3),
                received_at: row.get(4),
                data,
            })
        },
    )
}

pub(crate) fn events_of_live_people(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
) -> Result<Vec<StoredEvent>, StoreError> {
    // Events of the same second stay in the order they were stored, as in the histories.
    pg.all(
        "SELECT a.person_seq, a.kind, a.name, a.timestamp, a.data, a.seq
         FROM activities a JOIN people p ON p.workspace_id = a.workspace_id AND p.seq = a.person_seq
         WHERE a.workspace_id = $1 AND p.deleted_at IS NULL
           AND a.kind IN ('event', 'page', 'screen')
         ORDER BY a.person_seq, a.timestamp, a.seq",
        &[&workspace_id],
        event_from_row,
    )
}

/// How many people one statement of a partition-scoped history read asks for.
const HISTORY_CHUNK: usize = 1024;

pub(crate) fn for_each_history(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    partitions: &PartitionSet,
    each: &mut dyn FnMut(Person, Vec<StoredEvent>) -> bool,
) -> Result<(), StoreError> {
    // A workspace's whole history may be larger than memory, so it arrives one person a row:
    // each person with their events gathered into arrays. PostgreSQL walks the people in order
    // and each one's events through `activities_by_person`, neither sorting the whole log nor
    // repeating a person's attributes on every event, and one statement reads one snapshot.
    let history_sql = |people: &str| {
        format!(
            "SELECT {PERSON_COLUMNS}, e.seqs, e.kinds, e.names, e.timestamps, e.data_texts
             FROM people p CROSS JOIN LATERAL (
                 SELECT array_agg(a.seq ORDER BY a.seq) AS seqs,
                        array_agg(a.kind ORDER BY a.seq) AS kinds,
                        array_agg(a.name ORDER BY a.seq) AS names,
                        array_agg(a.timestamp ORDER BY a.seq) AS timestamps,
                        array_agg(a.data ORDER BY a.seq) AS data_texts
                 FROM activities a
                 WHERE a.workspace_id = p.workspace_id AND a.person_seq = p.seq
                   AND a.kind IN ('event', 'page', 'screen')
             ) e
             WHERE p.workspace_id = $1 AND p.deleted_at IS NULL {people}
             ORDER BY p.seq"
        )
    };
    // Whether `each` wants more, for the chunk after the one it stopped in.
    let go_on = std::cell::Cell::new(true);
    let mut row_each = |row: Row| -> Result<bool, StoreError> {
        let Some(person) = skip_corrupt(person_from_row(&row))? else {
            return Ok(true);
        };
        let history = history_of_row(person.seq, &row)?;
        go_on.set(each(person, history));
        Ok(go_on.get())
    };
    if partitions.is_all() {
        return pg.for_each_row(&history_sql(""), &[&workspace_id], &mut row_each);
    }
    // The partition is a hash of the person's number that SQL does not compute, so the people
    // are listed by number (in the read's one snapshot: a pinned read's, or that of the one
    // statement of a plain read) and those of the partitions read a chunk at a time.
    let mut chosen = Vec::new();
    pg.for_each_row(
        "SELECT seq FROM people WHERE workspace_id = $1 AND deleted_at IS NULL ORDER BY seq",
        &[&workspace_id],
        &mut |row| {
            let seq: i64 = row.get(0);
            if partitions.holds(workspace_id, seq) {
                chosen.push(seq);
            }
            Ok(true)
        },
    )?;
    let sql = history_sql("AND p.seq = ANY($2)");
    for chunk in chosen.chunks(HISTORY_CHUNK) {
        let chunk = chunk.to_vec();
        pg.for_each_row(&sql, &[&workspace_id, &chunk], &mut row_each)?;
        if !go_on.get() {
            break;
        }
    }
    Ok(())
}

/// The events of a history row: arrays of their columns, in stored order (`for_each_history`).
fn history_of_row(person: PersonSeq, row: &Row) -> Result<Vec<StoredEvent>, StoreError> {
    let seqs: Vec<i64> = row.get::<_, Option<_>>(8).unwrap_or_default();
    let kinds: Vec<String> = row.get::<_, Option<_>>(9).unwrap_or_default();
    let names: Vec<Option<String>> = row.get::<_, Option<_>>(10).unwrap_or_default();
    let timestamps: Vec<i64> = row.get::<_, Option<_>>(11).unwrap_or_default();
    let data: Vec<String> = row.get::<_, Option<_>>(12).unwrap_or_default();
    let mut history = Vec::with_capacity(seqs.len());
    for ((((seq, kind), name), timestamp), data) in seqs
        .into_iter()
        .zip(kinds)
        .zip(names)
        .zip(timestamps)
        .zip(data)
    {
        history.extend(skip_corrupt(stored_event(
            person, kind, name, timestamp, &data, seq,
        ))?);
    }
    // Stored order is arrival order; the engine takes a history in time order (a stable sort
    // keeps arrival order between events of the same second).
    history.sort_by_key(|event| event.timestamp);
    Ok(history)
}

pub(crate) fn engine_log_after(
    pg: &mut Pg<'_>,
    after: i64,
    each: &mut dyn FnMut(i64, WorkspaceId, Vec<u8>) -> bool,
) -> Result<(), StoreError> {
    pg.for_each_row(
        "SELECT seq, workspace_id, inputs FROM engine_log WHERE seq > $1 ORDER BY seq",
        &[&after],
        &mut |row| Ok(each(row.get(0), row.get(1), row.get(2))),
    )
}

pub(crate) fn engine_log_trimmed(pg: &mut Pg<'_>) -> Result<i64, StoreError> {
    numeric_setting(pg, ENGINE_LOG_TRIMMED)
}

pub(crate) fn engine_log_end(pg: &mut Pg<'_>) -> Result<i64, StoreError> {
    let last: Option<i64> = pg.query_one("SELECT max(seq) FROM engine_log", &[])?.get(0);
    let trimmed_end = numeric_setting(pg, ENGINE_LOG_END)?;
    Ok(last.unwrap_or(0).max(trimmed_end))
}

pub(crate) fn events_of_person(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    person_seq: PersonSeq,
) -> Result<Vec<StoredEvent>, StoreError> {
    pg.all(
        "SELECT person_seq, kind, name, timestamp, data, seq FROM activities
         WHERE workspace_id = $1 AND person_seq = $2 AND kind IN ('event', 'page', 'screen')
         ORDER BY timestamp, seq",
        &[&workspace_id, &person_seq],
        event_from_row,
    )
}

pub(crate) fn append_activity(pg: &mut Pg<'_>, new: &NewActivity) -> Result<Appended, StoreError> {
    // A duplicate event id is skipped by the statement itself: a unique violation would abort
    // the writer's transaction up to the job's savepoint.
    let appended = pg.query_opt(
        "INSERT INTO activities (workspace_id, person_seq, anonymous_id, kind, name, data, timestamp, received_at, event_id, may_trigger)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT DO NOTHING
         RETURNING seq",
        &[
            &new.workspace_id,
            &new.person_seq,
            &new.anonymous_id,
            &new.kind.as_str(),
            &new.name,
            &to_json(&new.data)?,
            &new.timestamp,
            &new.received_at,
            &new.event_id,
            &new.may_trigger,
        ],
    )?;
    Ok(match appended {
        Some(row) => Appended::New(row.get(0)),
        None => Appended::Duplicate,
    })
}

pub(crate) fn attach_anonymous(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    anonymous_id: &str,
    person_seq: PersonSeq,
    since: UnixSeconds,
    now: UnixSeconds,
    trigger_window: i64,
) -> Result<Vec<StoredEvent>, StoreError> {
    pg.all(
        "WITH attached AS (
             UPDATE activities SET person_seq = $3,
                 may_trigger = (may_trigger AND $5 - timestamp <= $6)
             WHERE workspace_id = $1 AND anonymous_id = $2 AND person_seq IS NULL
               AND received_at >= $4
             RETURNING person_seq, kind, name, timestamp, data, seq
         )
         SELECT person_seq, kind, name, timestamp, data, seq FROM attached ORDER BY seq",
        &[
            &workspace_id,
            &anonymous_id,
            &person_seq,
            &since,
            &now,
            &trigger_window,
        ],
        event_from_row,
    )
}

pub(crate) fn set_anonymous_link(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    anonymous_id: &str,
    person_seq: PersonSeq,
    now: UnixSeconds,
) -> Result<(), StoreError> {
    pg.execute(
        "INSERT INTO anonymous_links (workspace_id, anonymous_id, person_seq, linked_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (workspace_id, anonymous_id) DO UPDATE SET
           person_seq = excluded.person_seq, linked_at = excluded.linked_at",
        &[&workspace_id, &anonymous_id, &person_seq, &now],
    )?;
    Ok(())
}

pub(crate) fn move_events(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    from_seq: PersonSeq,
    to_seq: PersonSeq,
    since: UnixSeconds,
) -> Result<Vec<StoredEvent>, StoreError> {
    pg.all(
        "WITH moved AS (
             UPDATE activities SET person_seq = $3, may_trigger = FALSE
             WHERE workspace_id = $1 AND person_seq = $2 AND timestamp >= $4
               AND kind IN ('event', 'page', 'screen')
             RETURNING person_seq, kind, name, timestamp, data, seq
         )
         SELECT person_seq, kind, name, timestamp, data, seq FROM moved ORDER BY seq",
        &[&workspace_id, &from_seq, &to_seq, &since],
        event_from_row,
    )
}

pub(crate) fn purge_anonymous(pg: &mut Pg<'_>, before: UnixSeconds) -> Result<u64, StoreError> {
    pg.execute(
        "DELETE FROM activities
         WHERE person_seq IS NULL AND anonymous_id IS NOT NULL AND received_at < $1",
        &[&before],
    )
}

pub(crate) fn insert_delivery_metric(
    pg: &mut Pg<'_>,
    metric: &DeliveryMetric,
) -> Result<(), StoreError> {
    pg.execute(
        "INSERT INTO delivery_metrics (source, delivery_id, metric, timestamp, received_at, data)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &metric.source,
            &metric.delivery_id,
            &metric.metric,
            &metric.timestamp,
            &metric.received_at,
            &to_json(&metric.data)?,
        ],
    )?;
    Ok(())
}

pub(crate) fn note_event(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    kind: &str,
    name: &str,
    timestamp: UnixSeconds,
    data: &Map<String, Value>,
) -> Result<(), StoreError> {
    pg.index()?
        .note(workspace_id, kind, name, timestamp, data.keys());
    Ok(())
}

/// Writes a transaction's data-index updates, once per name and day: the day counts in one
/// statement, then each name's entry, its attribute keys merged with the stored ones as SQLite
/// merges them.
pub(crate) fn flush_index(pg: &mut Pg<'_>, index: DataIndexBuffer) -> Result<(), StoreError> {
    if index.is_empty() {
        return Ok(());
    }
    let (days, entries) = index.into_parts();
    let mut workspaces = Vec::with_capacity(days.len());
    let mut kinds = Vec::with_capacity(days.len());
    let mut names = Vec::with_capacity(days.len());
    let mut day_numbers = Vec::with_capacity(days.len());
    let mut counts = Vec::with_capacity(days.len());
    for ((workspace_id, kind, name, day), count) in days {
        workspaces.push(workspace_id);
        kinds.push(kind);
        names.push(name);
        day_numbers.push(day);
        counts.push(count);
    }
    pg.execute(
        "INSERT INTO event_days (workspace_id, kind, name, day, count)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
         ON CONFLICT (workspace_id, day, kind, name) DO UPDATE SET
           count = event_days.count + excluded.count",
        &[&workspaces, &kinds, &names, &day_numbers, &counts],
    )?;
    for ((workspace_id, kind, name), entry) in entries {
        let noted_json = to_json(&entry.keys)?;
        let stored: String = pg
            .query_one(
                "INSERT INTO event_index (workspace_id, kind, name, count, first_seen, last_seen, attribute_keys)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (workspace_id, kind, name) DO UPDATE SET
                   count = event_index.count + excluded.count,
                   first_seen = LEAST(event_index.first_seen, excluded.first_seen),
                   last_seen = GREATEST(event_index.last_seen, excluded.last_seen)
                 RETURNING attribute_keys",
                &[
                    &workspace_id,
                    &kind,
                    &name,
                    &entry.count,
                    &entry.first_seen,
                    &entry.last_seen,
                    &noted_json,
                ],
            )?
            .get(0);
        // Most transactions bring no new key, and then the stored keys stay as they are.
        let mut keys: BTreeSet<String> = serde_json::from_str(&stored).unwrap_or_default();
        merge_keys(&mut keys, entry.keys);
        let keys_json = to_json(&keys)?;
        if keys_json != stored {
            pg.execute(
                "UPDATE event_index SET attribute_keys = $4
                 WHERE workspace_id = $1 AND kind = $2 AND name = $3",
                &[&workspace_id, &kind, &name, &keys_json],
            )?;
        }
    }
    Ok(())
}

pub(crate) fn backfill(_pg: &mut Pg<'_>, _limit: usize) -> Result<bool, StoreError> {
    // The backfills fill day counts from rows stored before the migration that added them; a
    // PostgreSQL store starts with every table, so every row was counted as it was written.
    Ok(false)
}

/// Keeps the entry for the commit, where it gets its position (`flush_log`).
pub(crate) fn append_engine_log(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    inputs: &[u8],
) -> Result<LogPosition, StoreError> {
    let position = LogPosition::default();
    pg.at_commit()?.log.push(PendingLogEntry {
        workspace_id,
        inputs: inputs.to_vec(),
        position: position.clone(),
    });
    Ok(position)
}

/// Writes a transaction's engine-log entries, right before its `COMMIT`, at the positions that
/// follow the last one handed out, in the order they were appended.
///
/// The last position handed out is the `engine_log_end` settings row, and taking the next ones
/// updates it, which locks the row until the transaction ends. So the writers of every node
/// take positions one transaction at a time: one that locked the row after another committed
/// gets the positions after that one's, and one that found it locked waits until the other
/// committed (and then reads its update) or rolled back (and then reads the value before it,
/// so no position is skipped). Positions therefore follow commit order with no gap, and a
/// reader that has seen position `n` and reads the entries after it never misses one that
/// commits later, as it would with a sequence, whose values are taken before commit: an entry
/// not yet committed has a larger position than every committed one. PostgreSQL makes a
/// commit visible before it releases the transaction's locks, so the next holder of the row
/// commits after it, and every snapshot that sees the later entry sees the earlier one.
/// The row is locked last, so it is held for the commit itself and hardly longer.
pub(crate) fn flush_log(pg: &mut Pg<'_>, entries: Vec<PendingLogEntry>) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let count = i64::try_from(entries.len()).unwrap_or(i64::MAX);
    let end = match advance_log_end(pg, count)? {
        Some(end) => end,
        None => {
            // A store made before the end was kept there, or a copy that left it out: it
            // starts after every entry stored (two writers doing so at once insert it once).
            pg.execute(
                "INSERT INTO settings (key, value)
                 SELECT $1, COALESCE(max(seq), 0)::text FROM engine_log
                 ON CONFLICT (key) DO NOTHING",
                &[&ENGINE_LOG_END],
            )?;
            advance_log_end(pg, count)?
                .ok_or_else(|| StoreError::Backend("the engine log's end cannot be kept".into()))?
        }
    };
    let first = end - count + 1;
    let mut positions = Vec::with_capacity(entries.len());
    let mut workspaces = Vec::with_capacity(entries.len());
    let mut inputs = Vec::with_capacity(entries.len());
    for (at, entry) in (first..).zip(&entries) {
        positions.push(at);
        workspaces.push(entry.workspace_id);
        inputs.push(entry.inputs.as_slice());
    }
    pg.execute(
        "INSERT INTO engine_log (seq, workspace_id, inputs)
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[])",
        &[&positions, &workspaces, &inputs],
    )?;
    for (at, entry) in (first..).zip(entries) {
        entry.position.set(at);
    }
    Ok(())
}

/// Takes `count` positions after the last one handed out, locking the row that keeps it until
/// the transaction ends; `None` when there is no such row yet.
fn advance_log_end(pg: &mut Pg<'_>, count: i64) -> Result<Option<i64>, StoreError> {
    Ok(pg
        .query_opt(
            "UPDATE settings SET value = (value::bigint + $2)::text WHERE key = $1
             RETURNING value::bigint",
            &[&ENGINE_LOG_END, &count],
        )?
        .map(|row| row.get(0)))
}

pub(crate) fn trim_engine_log(
    pg: &mut Pg<'_>,
    through: i64,
    limit: usize,
) -> Result<usize, StoreError> {
    // The position is recorded first, in the same transaction: from then on an image older
    // than it is known to be unable to catch up.
    if engine_log_trimmed(pg)? < through {
        set_numeric_setting(pg, ENGINE_LOG_TRIMMED, through)?;
    }
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let row = pg.query_one(
        "WITH removed AS (
             DELETE FROM engine_log WHERE seq IN
                 (SELECT seq FROM engine_log WHERE seq <= $1 ORDER BY seq LIMIT $2)
             RETURNING seq
         )
         SELECT count(*) FROM removed",
        &[&through, &limit],
    )?;
    // The end is kept apart from the entries (`flush_log`), so it outlives them.
    let removed: i64 = row.get(0);
    Ok(usize::try_from(removed).unwrap_or(usize::MAX))
}
