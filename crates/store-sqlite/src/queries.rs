//! The read queries, shared by reader threads and the writer's transactions.

use herald_domain::{
    CampaignId, Identifier, ObjectSeq, PersonSeq, RunId, SegmentId, UnixSeconds, WorkspaceId,
};
use herald_store::codec::membership_change;
use herald_store::{
    Activity, ActivityQuery, CampaignRow, CampaignState, CorruptRow, CustomerIdentifiers,
    DeliveryMetric, DeliveryQuery, DeliveryRow, DeliveryStatus, Device, DueRun, EventDayCount,
    EventIndexEntry, MembershipChange, ObjectRelationship, ObjectRow, ObjectTypeCount,
    PartitionSet, Person, PersonDeliveryQuery, PersonRelationship, RetiredKey, RunRow, SegmentRow,
    SegmentState, SessionRow, StoreError, StoreRead, StoredEvent, User, Workspace,
    WorkspaceCredentials, WorkspaceKey,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::activity_blocks::{Filter, block_of, blocks_down, range_of};
use crate::person_index::person_rows;
use serde_json::{Map, Value};

pub(crate) use herald_store::codec::{
    corrupt_row, parse_json, parse_object, skip_corrupt, stored_state, to_json,
};

/// Converts a SQLite error into the store's error type.
pub(crate) fn backend(error: rusqlite::Error) -> StoreError {
    match error {
        rusqlite::Error::SqliteFailure(code, message)
            if code.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Conflict(message.unwrap_or_else(|| code.to_string()))
        }
        other => StoreError::Backend(other.to_string()),
    }
}

/// The setting that keeps the position the engine log is trimmed to.
pub(crate) const ENGINE_LOG_TRIMMED: &str = "engine_log_trimmed";

/// The columns of a person as `person_from_row` reads them; a macro, so that the statements
/// run for every message (and every read of one person) are literals rather than strings
/// formatted each time.
macro_rules! person_columns {
    () => {
        "seq, workspace_id, cio_id, id, email, attributes, created_at, updated_at"
    };
}
pub(crate) const PERSON_COLUMNS: &str = person_columns!();

pub(crate) fn person_from_row(row: &Row<'_>) -> rusqlite::Result<(Person, String)> {
    let attributes: String = row.get(5)?;
    Ok((
        Person {
            seq: row.get(0)?,
            workspace_id: row.get(1)?,
            cio_id: row.get(2)?,
            id: row.get(3)?,
            email: row.get(4)?,
            attributes: Map::new(),
            created_at: row.get(6)?,
            updated_at: row.get(7)?,
        },
        attributes,
    ))
}

pub(crate) fn finish_person(found: Option<(Person, String)>) -> Result<Option<Person>, StoreError> {
    match found {
        None => Ok(None),
        Some((mut person, attributes)) => {
            person.attributes = parse_object(&attributes)
                .map_err(|error| corrupt_row("people", person.seq, error))?;
            Ok(Some(person))
        }
    }
}

pub(crate) fn workspace_from_row(row: &Row<'_>) -> rusqlite::Result<Workspace> {
    Ok(Workspace {
        id: row.get(0)?,
        name: row.get(1)?,
        site_id: row.get(2)?,
        created_at: row.get(3)?,
    })
}

/// Read queries over one connection.
pub(crate) struct Queries<'c> {
    pub(crate) connection: &'c Connection,
}

impl<'c> Queries<'c> {
    pub(crate) fn new(connection: &'c Connection) -> Self {
        Self { connection }
    }
}

/// Runs a cached statement that writes; returns the number of rows it changed.
pub(crate) fn execute(
    connection: &Connection,
    sql: &str,
    values: impl rusqlite::Params,
) -> Result<usize, StoreError> {
    connection
        .prepare_cached(sql)
        .and_then(|mut statement| statement.execute(values))
        .map_err(backend)
}

const CAMPAIGN_COLUMNS: &str = "id, workspace_id, name, definition, state, created_at, updated_at";

/// A campaign as read, with its definition's JSON and its state's name, both checked by
/// `finish_campaign`.
type StoredCampaign = (CampaignRow, String, String);

fn campaign_from_row(row: &Row<'_>) -> rusqlite::Result<StoredCampaign> {
    Ok((
        CampaignRow {
            id: row.get(0)?,
            workspace_id: row.get(1)?,
            name: row.get(2)?,
            definition: Value::Null,
            state: CampaignState::Draft,
            created_at: row.get(5)?,
            updated_at: row.get(6)?,
        },
        row.get(3)?,
        row.get(4)?,
    ))
}

fn finish_campaign(
    (mut campaign, definition, state): StoredCampaign,
) -> Result<CampaignRow, StoreError> {
    campaign.definition =
        parse_json(&definition).map_err(|error| corrupt_row("campaigns", campaign.id, error))?;
    campaign.state = stored_state("campaigns", campaign.id, &state)?;
    Ok(campaign)
}

const SEGMENT_COLUMNS: &str =
    "id, workspace_id, name, description, definition, state, progress, created_at, updated_at";

/// A segment as read, with its definition's JSON and its state's name, both checked by
/// `finish_segment`.
type StoredSegment = (SegmentRow, Option<String>, String);

fn segment_from_row(row: &Row<'_>) -> rusqlite::Result<StoredSegment> {
    Ok((
        SegmentRow {
            id: row.get(0)?,
            workspace_id: row.get(1)?,
            name: row.get(2)?,
            description: row.get(3)?,
            definition: None,
            state: SegmentState::Finished,
            progress: row.get(6)?,
            created_at: row.get(7)?,
            updated_at: row.get(8)?,
        },
        row.get(4)?,
        row.get(5)?,
    ))
}

fn finish_segment(
    (mut segment, definition, state): StoredSegment,
) -> Result<SegmentRow, StoreError> {
    segment.definition = definition
        .as_deref()
        .map(parse_json)
        .transpose()
        .map_err(|error| corrupt_row("segments", segment.id, error))?;
    segment.state = stored_state("segments", segment.id, &state)?;
    Ok(segment)
}

/// One event row as selected: `person_seq, kind, name, timestamp, data, seq`.
pub(crate) type EventRow = (PersonSeq, String, String, i64, String, i64);

pub(crate) fn event_row(row: &Row<'_>) -> rusqlite::Result<EventRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

/// Decodes an event row; `None` (reported) when its data cannot be decoded.
pub(crate) fn decode_event(
    (person_seq, kind, name, timestamp, data, seq): EventRow,
) -> Result<Option<StoredEvent>, StoreError> {
    let data = parse_json(&data).map_err(|error| corrupt_row("activities", seq, error));
    Ok(skip_corrupt(data)?.map(|data| StoredEvent {
        person_seq,
        kind,
        name,
        timestamp,
        data,
    }))
}

/// Reads events selected as `person_seq, kind, name, timestamp, data, seq`, skipping (and
/// reporting) those whose data cannot be decoded.
pub(crate) fn read_events(
    statement: &mut rusqlite::CachedStatement<'_>,
    values: impl rusqlite::Params,
) -> Result<Vec<StoredEvent>, StoreError> {
    let rows = statement.query_map(values, event_row).map_err(backend)?;
    let mut events = Vec::new();
    for row in rows {
        events.extend(decode_event(row.map_err(backend)?)?);
    }
    Ok(events)
}

impl Queries<'_> {
    /// The activities `query` selects, newest first, from activity number `first` on.
    fn activities_from(
        &mut self,
        query: &ActivityQuery,
        first: Option<i64>,
    ) -> Result<Vec<Activity>, StoreError> {
        // A block is read as one range of the table itself: through an index each of its rows
        // would cost a seek of the table (2 s for a page of a rare name, when an index listed
        // the workspace's activities).
        let index = if query.person_seq.is_some() {
            " INDEXED BY activities_by_person"
        } else {
            " NOT INDEXED"
        };
        let mut sql = format!(
            "SELECT a.seq, a.person_seq, a.anonymous_id, a.kind, a.name, a.data, a.timestamp,
                    a.received_at, a.event_id, a.may_trigger, p.id, p.email, p.cio_id
             FROM activities a{index} LEFT JOIN people p ON p.seq = a.person_seq
             WHERE a.workspace_id = ?1 AND a.timestamp >= ?2",
        );
        let mut values: Vec<rusqlite::types::Value> =
            vec![query.workspace_id.get().into(), query.since.into()];
        if let Some(person_seq) = query.person_seq {
            values.push(person_seq.get().into());
            let condition = person_rows("a.", &format!("?{}", values.len()));
            sql.push_str(&format!(" AND {condition}"));
        }
        if let Some(kind) = &query.kind {
            values.push(kind.clone().into());
            sql.push_str(&format!(" AND a.kind = ?{}", values.len()));
        }
        if let Some(name) = &query.name {
            values.push(name.clone().into());
            sql.push_str(&format!(" AND a.name = ?{}", values.len()));
        }
        if let Some(before) = query.before_seq {
            values.push(before.into());
            sql.push_str(&format!(" AND a.seq < ?{}", values.len()));
        }
        if let Some(first) = first {
            values.push(first.into());
            sql.push_str(&format!(" AND a.seq >= ?{}", values.len()));
        }
        values.push(i64::try_from(query.limit).unwrap_or(i64::MAX).into());
        sql.push_str(&format!(" ORDER BY a.seq DESC LIMIT ?{}", values.len()));
        let mut statement = self.connection.prepare_cached(&sql).map_err(backend)?;
        let rows = statement
            .query_map(rusqlite::params_from_iter(values), |row| {
                let cio_id: Option<String> = row.get(12)?;
                Ok((
                    Activity {
                        seq: row.get(0)?,
                        person_seq: row.get(1)?,
                        anonymous_id: row.get(2)?,
                        kind: row.get(3)?,
                        name: row.get(4)?,
                        data: Value::Null,
                        timestamp: row.get(6)?,
                        received_at: row.get(7)?,
                        event_id: row.get(8)?,
                        may_trigger: row.get(9)?,
                        customer: cio_id.map(|cio_id| CustomerIdentifiers {
                            id: row.get(10).unwrap_or(None),
                            email: row.get(11).unwrap_or(None),
                            cio_id,
                        }),
                    },
                    row.get::<_, String>(5)?,
                ))
            })
            .map_err(backend)?;
        let mut activities = Vec::new();
        for row in rows {
            let (mut activity, data) = row.map_err(backend)?;
            let data =
                parse_json(&data).map_err(|error| corrupt_row("activities", activity.seq, error));
            if let Some(data) = skip_corrupt(data)? {
                activity.data = data;
                activities.push(activity);
            }
        }
        Ok(activities)
    }

    /// Runs a cached query and finishes every row (parsing its JSON columns); a row that cannot
    /// be decoded is skipped and reported.
    pub(crate) fn all<R, T>(
        &self,
        sql: &str,
        values: impl rusqlite::Params,
        from_row: impl FnMut(&Row<'_>) -> rusqlite::Result<R>,
        finish: impl Fn(R) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut statement = self.connection.prepare_cached(sql).map_err(backend)?;
        let rows = statement.query_map(values, from_row).map_err(backend)?;
        let mut found = Vec::new();
        for row in rows {
            if let Some(value) = skip_corrupt(finish(row.map_err(backend)?))? {
                found.push(value);
            }
        }
        Ok(found)
    }

    /// Runs a cached query for at most one row and finishes it.
    pub(crate) fn one<R, T>(
        &self,
        sql: &str,
        values: impl rusqlite::Params,
        from_row: impl FnOnce(&Row<'_>) -> rusqlite::Result<R>,
        finish: impl Fn(R) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let found = self
            .connection
            .prepare_cached(sql)
            .and_then(|mut statement| statement.query_row(values, from_row).optional())
            .map_err(backend)?;
        found.map(finish).transpose()
    }

    /// Returns the workspaces that have any suppressed identifier.
    pub(crate) fn suppressed_workspaces(
        &self,
    ) -> Result<std::collections::HashSet<WorkspaceId>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT DISTINCT workspace_id FROM suppressions")
            .map_err(backend)?;
        let rows = statement.query_map([], |row| row.get(0)).map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }
}

impl StoreRead for Queries<'_> {
    fn workspaces(&mut self) -> Result<Vec<Workspace>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT id, name, site_id, created_at FROM workspaces WHERE deleted_at IS NULL ORDER BY id")
            .map_err(backend)?;
        let rows = statement
            .query_map([], workspace_from_row)
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    }

    fn workspace_by_site_id(
        &mut self,
        site_id: &str,
    ) -> Result<Option<WorkspaceCredentials>, StoreError> {
        self.connection
            .prepare_cached(
                "SELECT id, name, site_id, created_at, api_key_hash FROM workspaces WHERE site_id = ?1 AND deleted_at IS NULL",
            )
            .and_then(|mut statement| {
                statement
                    .query_row([site_id], |row| {
                        Ok(WorkspaceCredentials {
                            workspace: workspace_from_row(row)?,
                            api_key_hash: row.get(4)?,
                        })
                    })
                    .optional()
            })
            .map_err(backend)
    }

    fn workspace_by_app_key_hash(&mut self, hash: &str) -> Result<Option<Workspace>, StoreError> {
        self.connection
            .prepare_cached(
                "SELECT id, name, site_id, created_at FROM workspaces WHERE app_api_key_hash = ?1 AND deleted_at IS NULL",
            )
            .and_then(|mut statement| statement.query_row([hash], workspace_from_row).optional())
            .map_err(backend)
    }

    fn workspace_by_write_key_hash(&mut self, hash: &str) -> Result<Option<Workspace>, StoreError> {
        self.connection
            .prepare_cached(
                "SELECT id, name, site_id, created_at FROM workspaces WHERE write_key_hash = ?1 AND deleted_at IS NULL",
            )
            .and_then(|mut statement| statement.query_row([hash], workspace_from_row).optional())
            .map_err(backend)
    }

    fn retired_key(
        &mut self,
        key: WorkspaceKey,
        hash: &str,
    ) -> Result<Option<RetiredKey>, StoreError> {
        crate::workspace_keys::retired_key(self.connection, key, hash)
    }

    fn deleted_workspaces(&mut self) -> Result<Vec<Workspace>, StoreError> {
        crate::workspace_keys::deleted_workspaces(self.connection)
    }

    fn workspace_rows(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<(&'static str, u64)>, StoreError> {
        crate::workspace_purge::rows(self.connection, workspace_id)
    }

    fn person(
        &mut self,
        workspace_id: WorkspaceId,
        identifier: &Identifier,
    ) -> Result<Option<Person>, StoreError> {
        let sql = match identifier {
            Identifier::Id(_) => concat!(
                "SELECT ",
                person_columns!(),
                " FROM people WHERE workspace_id = ?1 AND id = ?2 AND deleted_at IS NULL"
            ),
            Identifier::Email(_) => concat!(
                "SELECT ",
                person_columns!(),
                " FROM people WHERE workspace_id = ?1 AND email_lower = ?2 AND deleted_at IS NULL"
            ),
            Identifier::CioId(_) => concat!(
                "SELECT ",
                person_columns!(),
                " FROM people WHERE workspace_id = ?1 AND cio_id = ?2 AND deleted_at IS NULL"
            ),
        };
        let found = self
            .connection
            .prepare_cached(sql)
            .and_then(|mut statement| {
                statement
                    .query_row(params![workspace_id, identifier.value()], person_from_row)
                    .optional()
            })
            .map_err(backend)?;
        finish_person(found)
    }

    fn person_by_seq(
        &mut self,
        workspace_id: WorkspaceId,
        seq: PersonSeq,
    ) -> Result<Option<Person>, StoreError> {
        let sql = concat!(
            "SELECT ",
            person_columns!(),
            " FROM people WHERE workspace_id = ?1 AND seq = ?2 AND deleted_at IS NULL"
        );
        let found = self
            .connection
            .prepare_cached(sql)
            .and_then(|mut statement| {
                statement
                    .query_row(params![workspace_id, seq], person_from_row)
                    .optional()
            })
            .map_err(backend)?;
        finish_person(found)
    }

    fn person_ids(
        &mut self,
        workspace_id: WorkspaceId,
        seqs: &[PersonSeq],
    ) -> Result<Vec<Option<String>>, StoreError> {
        // One statement for every seq: outside a transaction each statement takes and drops the
        // WAL's read locks (a few `fcntl` calls), which cost a preview's sample of ten more than
        // the ten lookups by rowid. `CROSS JOIN` keeps the list as the outer loop.
        let mut ids = vec![None; seqs.len()];
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT j.key, p.id FROM json_each(?2) AS j CROSS JOIN people AS p ON p.seq = j.value
                 WHERE p.workspace_id = ?1 AND p.deleted_at IS NULL",
            )
            .map_err(backend)?;
        let mut rows = statement
            .query(params![workspace_id, to_json(&seqs)?])
            .map_err(backend)?;
        while let Some(row) = rows.next().map_err(backend)? {
            let position: i64 = row.get(0).map_err(backend)?;
            if let Some(slot) = usize::try_from(position).ok().and_then(|p| ids.get_mut(p)) {
                *slot = row.get(1).map_err(backend)?;
            }
        }
        Ok(ids)
    }

    fn devices(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
    ) -> Result<Vec<Device>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT token, platform, last_used, attributes FROM devices
                 WHERE workspace_id = ?1 AND person_seq = ?2 ORDER BY token",
            )
            .map_err(backend)?;
        let rows = statement
            .query_map(params![workspace_id, person_seq], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<i64>>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })
            .map_err(backend)?;
        let mut devices = Vec::new();
        for row in rows {
            let (token, platform, last_used, attributes) = row.map_err(backend)?;
            let attributes = parse_object(&attributes)
                .map_err(|error| corrupt_row("devices", format!("{person_seq}/{token}"), error));
            if let Some(attributes) = skip_corrupt(attributes)? {
                devices.push(Device {
                    token,
                    platform,
                    last_used,
                    attributes,
                });
            }
        }
        Ok(devices)
    }

    fn object(
        &mut self,
        workspace_id: WorkspaceId,
        object_type_id: &str,
        object_id: &str,
    ) -> Result<Option<ObjectRow>, StoreError> {
        crate::objects::object(self.connection, workspace_id, object_type_id, object_id)
    }

    fn object_by_cio_id(
        &mut self,
        workspace_id: WorkspaceId,
        cio_object_id: &str,
    ) -> Result<Option<ObjectRow>, StoreError> {
        crate::objects::object_by_cio_id(self.connection, workspace_id, cio_object_id)
    }

    fn objects_of_type(
        &mut self,
        workspace_id: WorkspaceId,
        object_type_id: &str,
        after: Option<ObjectSeq>,
        limit: usize,
    ) -> Result<Vec<ObjectRow>, StoreError> {
        crate::objects::objects_of_type(self.connection, workspace_id, object_type_id, after, limit)
    }

    fn object_types(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<ObjectTypeCount>, StoreError> {
        crate::objects::object_types(self.connection, workspace_id)
    }

    fn person_relationships(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
        after: Option<ObjectSeq>,
        limit: usize,
    ) -> Result<Vec<PersonRelationship>, StoreError> {
        crate::objects::person_relationships(
            self.connection,
            workspace_id,
            person_seq,
            after,
            limit,
        )
    }

    fn workspace_relationships(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<(PersonSeq, PersonRelationship)>, StoreError> {
        crate::objects::workspace_relationships(self.connection, workspace_id)
    }

    fn object_relationships(
        &mut self,
        workspace_id: WorkspaceId,
        object_seq: ObjectSeq,
        after: Option<PersonSeq>,
        limit: usize,
    ) -> Result<Vec<ObjectRelationship>, StoreError> {
        crate::objects::object_relationships(
            self.connection,
            workspace_id,
            object_seq,
            after,
            limit,
        )
    }

    fn activities(&mut self, query: &ActivityQuery) -> Result<Vec<Activity>, StoreError> {
        // One person's activities are read through the person index; the workspace's log,
        // whole or filtered by name or kind, is read through the blocks that hold what the list
        // shows, newest first, until the page is full.
        let filter = match (&query.name, &query.kind) {
            _ if query.person_seq.is_some() => None,
            (Some(name), _) => Some(Filter::Name(name)),
            (None, Some(kind)) => Some(Filter::Kind(kind)),
            (None, None) => Some(Filter::Any),
        };
        let Some(filter) = filter else {
            return self.activities_from(query, None);
        };
        let mut found = Vec::new();
        let mut below = query.before_seq.unwrap_or(i64::MAX);
        if query.limit == 0 || below <= 0 {
            return Ok(found);
        }
        for block in blocks_down(
            self.connection,
            query.workspace_id,
            &filter,
            block_of(below - 1),
        ) {
            let (first, end) = range_of(block?, below);
            let page = ActivityQuery {
                before_seq: Some(end),
                limit: query.limit - found.len(),
                ..query.clone()
            };
            found.extend(self.activities_from(&page, Some(first))?);
            below = first;
            if found.len() >= query.limit {
                break;
            }
        }
        Ok(found)
    }

    fn event_days(
        &mut self,
        workspace_id: WorkspaceId,
        from_day: i64,
        to_day: i64,
    ) -> Result<Vec<EventDayCount>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT name, kind, day, count FROM event_days
                 WHERE workspace_id = ?1 AND day BETWEEN ?2 AND ?3 ORDER BY day, name, kind",
            )
            .map_err(backend)?;
        let rows = statement
            .query_map(params![workspace_id, from_day, to_day], |row| {
                Ok(EventDayCount {
                    name: row.get(0)?,
                    kind: row.get(1)?,
                    day: row.get(2)?,
                    count: row.get(3)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    }

    fn event_index(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<EventIndexEntry>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT name, kind, count, first_seen, last_seen, attribute_keys FROM event_index
                 WHERE workspace_id = ?1 ORDER BY name, kind",
            )
            .map_err(backend)?;
        let rows = statement
            .query_map([workspace_id], |row| {
                Ok((
                    EventIndexEntry {
                        name: row.get(0)?,
                        kind: row.get(1)?,
                        count: row.get(2)?,
                        first_seen: row.get(3)?,
                        last_seen: row.get(4)?,
                        attribute_keys: Vec::new(),
                    },
                    row.get::<_, String>(5)?,
                ))
            })
            .map_err(backend)?;
        let mut entries = Vec::new();
        for row in rows {
            let (mut entry, keys) = row.map_err(backend)?;
            let keys = serde_json::from_str(&keys).map_err(|error| {
                corrupt_row(
                    "event_index",
                    format!("{}/{}", entry.kind, entry.name),
                    error,
                )
            });
            if let Some(keys) = skip_corrupt(keys)? {
                entry.attribute_keys = keys;
                entries.push(entry);
            }
        }
        Ok(entries)
    }

    fn is_suppressed(
        &mut self,
        workspace_id: WorkspaceId,
        identifier: &Identifier,
    ) -> Result<bool, StoreError> {
        self.connection
            .prepare_cached(
                "SELECT 1 FROM suppressions WHERE workspace_id = ?1 AND id_type = ?2 AND value = ?3",
            )
            .and_then(|mut statement| {
                statement
                    .query_row(
                        params![workspace_id, identifier.id_type().as_str(), identifier.value()],
                        |_| Ok(()),
                    )
                    .optional()
            })
            .map(|found| found.is_some())
            .map_err(backend)
    }

    fn anonymous_link(
        &mut self,
        workspace_id: WorkspaceId,
        anonymous_id: &str,
    ) -> Result<Option<(PersonSeq, UnixSeconds)>, StoreError> {
        self.connection
            .prepare_cached(
                "SELECT person_seq, linked_at FROM anonymous_links
                 WHERE workspace_id = ?1 AND anonymous_id = ?2",
            )
            .and_then(|mut statement| {
                statement
                    .query_row(params![workspace_id, anonymous_id], |row| {
                        Ok((row.get(0)?, row.get(1)?))
                    })
                    .optional()
            })
            .map_err(backend)
    }

    fn delivery_metrics(&mut self, delivery_id: &str) -> Result<Vec<DeliveryMetric>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT source, delivery_id, metric, timestamp, received_at, data
                 FROM delivery_metrics WHERE delivery_id = ?1 ORDER BY seq",
            )
            .map_err(backend)?;
        let rows = statement
            .query_map([delivery_id], |row| {
                Ok((
                    DeliveryMetric {
                        source: row.get(0)?,
                        delivery_id: row.get(1)?,
                        metric: row.get(2)?,
                        timestamp: row.get(3)?,
                        received_at: row.get(4)?,
                        data: Value::Null,
                    },
                    row.get::<_, String>(5)?,
                ))
            })
            .map_err(backend)?;
        let mut metrics = Vec::new();
        for row in rows {
            let (mut metric, data) = row.map_err(backend)?;
            let data = parse_json(&data).map_err(|error| {
                corrupt_row(
                    "delivery_metrics",
                    format!("of {}", metric.delivery_id),
                    error,
                )
            });
            if let Some(data) = skip_corrupt(data)? {
                metric.data = data;
                metrics.push(metric);
            }
        }
        Ok(metrics)
    }

    fn setting(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        self.connection
            .prepare_cached("SELECT value FROM settings WHERE key = ?1")
            .and_then(|mut statement| statement.query_row([key], |row| row.get(0)).optional())
            .map_err(backend)
    }

    fn live_people(&mut self, workspace_id: WorkspaceId) -> Result<Vec<Person>, StoreError> {
        let sql = format!(
            "SELECT {PERSON_COLUMNS} FROM people WHERE workspace_id = ?1 AND deleted_at IS NULL ORDER BY seq"
        );
        let mut statement = self.connection.prepare_cached(&sql).map_err(backend)?;
        let rows = statement
            .query_map([workspace_id], person_from_row)
            .map_err(backend)?;
        let mut people = Vec::new();
        for row in rows {
            if let Some(Some(person)) = skip_corrupt(finish_person(Some(row.map_err(backend)?)))? {
                people.push(person);
            }
        }
        Ok(people)
    }

    fn for_each_history(
        &mut self,
        workspace_id: WorkspaceId,
        partitions: &PartitionSet,
        each: &mut dyn FnMut(Person, Vec<StoredEvent>) -> bool,
    ) -> Result<(), StoreError> {
        crate::histories::for_each_history(self.connection, workspace_id, partitions, each)
    }

    fn engine_log_after(
        &mut self,
        after: i64,
        each: &mut dyn FnMut(i64, WorkspaceId, Vec<u8>) -> bool,
    ) -> Result<(), StoreError> {
        let mut statement = self
            .connection
            .prepare("SELECT seq, workspace_id, inputs FROM engine_log WHERE seq > ?1 ORDER BY seq")
            .map_err(backend)?;
        let mut rows = statement.query([after]).map_err(backend)?;
        while let Some(row) = rows.next().map_err(backend)? {
            let entry = (
                row.get(0).map_err(backend)?,
                row.get(1).map_err(backend)?,
                row.get(2).map_err(backend)?,
            );
            if !each(entry.0, entry.1, entry.2) {
                break;
            }
        }
        Ok(())
    }

    fn engine_log_trimmed(&mut self) -> Result<i64, StoreError> {
        Ok(self
            .setting(ENGINE_LOG_TRIMMED)?
            .and_then(|value| value.parse().ok())
            .unwrap_or(0))
    }

    fn engine_log_end(&mut self) -> Result<i64, StoreError> {
        // AUTOINCREMENT keeps the last position given in sqlite_sequence, which survives trims.
        self.connection
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'engine_log'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(backend)
    }

    fn events_of_live_people(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT a.person_seq, a.kind, a.name, a.timestamp, a.data, a.seq
                 FROM activities a JOIN people p ON p.seq = a.person_seq
                 WHERE a.workspace_id = ?1 AND p.deleted_at IS NULL
                   AND a.kind IN ('event', 'page', 'screen')
                 ORDER BY a.person_seq, a.timestamp",
            )
            .map_err(backend)?;
        read_events(&mut statement, [workspace_id])
    }

    fn events_of_person(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached(&format!(
                "SELECT person_seq, kind, name, timestamp, data, seq
                 FROM activities INDEXED BY activities_by_person
                 WHERE workspace_id = ?1 AND {}
                   AND kind IN ('event', 'page', 'screen')
                 ORDER BY timestamp, seq",
                person_rows("", "?2")
            ))
            .map_err(backend)?;
        read_events(&mut statement, params![workspace_id, person_seq])
    }

    fn campaigns(&mut self, workspace_id: WorkspaceId) -> Result<Vec<CampaignRow>, StoreError> {
        let sql =
            format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE workspace_id = ?1 ORDER BY id");
        self.all(&sql, [workspace_id], campaign_from_row, finish_campaign)
    }

    fn campaign(
        &mut self,
        workspace_id: WorkspaceId,
        id: CampaignId,
    ) -> Result<Option<CampaignRow>, StoreError> {
        let sql =
            format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE workspace_id = ?1 AND id = ?2");
        self.one(
            &sql,
            params![workspace_id, id],
            campaign_from_row,
            finish_campaign,
        )
    }

    fn segments(&mut self, workspace_id: WorkspaceId) -> Result<Vec<SegmentRow>, StoreError> {
        let sql =
            format!("SELECT {SEGMENT_COLUMNS} FROM segments WHERE workspace_id = ?1 ORDER BY id");
        self.all(&sql, [workspace_id], segment_from_row, finish_segment)
    }

    fn segment(
        &mut self,
        workspace_id: WorkspaceId,
        id: SegmentId,
    ) -> Result<Option<SegmentRow>, StoreError> {
        let sql =
            format!("SELECT {SEGMENT_COLUMNS} FROM segments WHERE workspace_id = ?1 AND id = ?2");
        self.one(
            &sql,
            params![workspace_id, id],
            segment_from_row,
            finish_segment,
        )
    }

    fn segment_members(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<(SegmentId, PersonSeq)>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT m.segment_id, m.person_seq FROM segment_members m
                 JOIN segments s ON s.id = m.segment_id
                 WHERE s.workspace_id = ?1 ORDER BY m.segment_id, m.person_seq",
            )
            .map_err(backend)?;
        let rows = statement
            .query_map([workspace_id], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    }

    fn people_page(
        &mut self,
        workspace_id: WorkspaceId,
        before: Option<PersonSeq>,
        limit: usize,
    ) -> Result<Vec<Person>, StoreError> {
        crate::people_pages::people_page(self.connection, workspace_id, before, limit)
    }
    fn people_after(
        &mut self,
        workspace_id: WorkspaceId,
        after: Option<PersonSeq>,
        limit: usize,
    ) -> Result<Vec<Person>, StoreError> {
        crate::people_pages::people_after(self.connection, workspace_id, after, limit)
    }
    fn search_people(
        &mut self,
        workspace_id: WorkspaceId,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Person>, StoreError> {
        crate::people_pages::search_people(self.connection, workspace_id, prefix, limit)
    }
    fn users_count(&mut self) -> Result<i64, StoreError> {
        crate::users::users_count(self.connection)
    }
    fn user_by_email(&mut self, email: &str) -> Result<Option<(User, String)>, StoreError> {
        crate::users::user_by_email(self.connection, email)
    }
    fn session(
        &mut self,
        token_hash: &str,
        now: UnixSeconds,
    ) -> Result<Option<(SessionRow, User)>, StoreError> {
        crate::users::session(self.connection, token_hash, now)
    }
    fn user_workspaces(&mut self, user_id: i64) -> Result<Vec<Workspace>, StoreError> {
        crate::users::user_workspaces(self.connection, user_id)
    }

    fn segment_purges(&mut self) -> Result<Vec<SegmentId>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT segment_id FROM segment_purges ORDER BY segment_id")
            .map_err(backend)?;
        let rows = statement.query_map([], |row| row.get(0)).map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    }

    fn workspace_keys_sealed(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Option<String>, StoreError> {
        self.connection
            .prepare_cached("SELECT keys_sealed FROM workspaces WHERE id = ?1")
            .and_then(|mut statement| {
                statement
                    .query_row([workspace_id], |row| row.get(0))
                    .optional()
            })
            .map(Option::flatten)
            .map_err(backend)
    }

    fn segment_days(
        &mut self,
        segment_id: SegmentId,
        from_day: i64,
    ) -> Result<Vec<(i64, i64, i64)>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT day, entered, exited FROM segment_days
                 WHERE segment_id = ?1 AND day >= ?2 ORDER BY day",
            )
            .map_err(backend)?;
        let rows = statement
            .query_map(params![segment_id, from_day], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    }

    fn campaign_days(
        &mut self,
        workspace_id: WorkspaceId,
        campaign_id: CampaignId,
        since: UnixSeconds,
    ) -> Result<Vec<(i64, String, i64)>, StoreError> {
        self.campaign_days_query(workspace_id, campaign_id, since)
    }

    fn campaign_sent_since(
        &mut self,
        workspace_id: WorkspaceId,
        campaign_id: CampaignId,
        since: UnixSeconds,
    ) -> Result<i64, StoreError> {
        // A delivery is created when it is queued and sent within moments, or within the retries'
        // few hours: its creation time bounds the index range, its send time decides.
        self.connection
            .prepare_cached(
                "SELECT COUNT(*) FROM deliveries
                 WHERE workspace_id = ?1 AND campaign_id = ?2 AND created_at >= ?3 - 7 * 86400
                   AND sent_at >= ?3",
            )
            .and_then(|mut statement| {
                statement.query_row(params![workspace_id, campaign_id, since], |row| row.get(0))
            })
            .map_err(backend)
    }

    fn is_enrolled(
        &mut self,
        campaign_id: CampaignId,
        person_seq: PersonSeq,
    ) -> Result<bool, StoreError> {
        self.connection
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM enrollments WHERE campaign_id = ?1 AND person_seq = ?2)",
            )
            .and_then(|mut statement| {
                statement.query_row(params![campaign_id, person_seq], |row| row.get(0))
            })
            .map_err(backend)
    }

    fn segment_history(
        &mut self,
        segment_id: SegmentId,
        person_seq: PersonSeq,
    ) -> Result<Vec<MembershipChange>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT entered, at, cause, origin FROM segment_history
                 WHERE segment_id = ?1 AND person_seq = ?2 ORDER BY seq",
            )
            .map_err(backend)?;
        let rows = statement
            .query_map(params![segment_id, person_seq], |row| {
                Ok((
                    row.get::<_, bool>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })
            .map_err(backend)?;
        let mut changes = Vec::new();
        for row in rows {
            let (entered, at, cause, origin) = row.map_err(backend)?;
            let decoded = membership_change(segment_id, person_seq, entered, at, &cause, &origin);
            if let Some(change) = skip_corrupt(decoded)? {
                changes.push(change);
            }
        }
        Ok(changes)
    }
    fn due_runs(
        &mut self,
        now: UnixSeconds,
        limit: i64,
        skip: &[RunId],
        after: Option<DueRun>,
    ) -> Result<Vec<DueRun>, StoreError> {
        self.due_runs_query(now, limit, skip, after)
    }
    fn run(&mut self, id: RunId) -> Result<Option<RunRow>, StoreError> {
        self.run_query(id)
    }
    fn runs_of_campaign(
        &mut self,
        workspace_id: WorkspaceId,
        campaign_id: CampaignId,
    ) -> Result<Vec<RunRow>, StoreError> {
        self.runs_of_campaign_query(workspace_id, campaign_id)
    }
    fn delivery(&mut self, id: &str) -> Result<Option<DeliveryRow>, StoreError> {
        self.delivery_query(id)
    }
    fn delivery_status(&mut self, id: &str) -> Result<Option<DeliveryStatus>, StoreError> {
        self.delivery_status_query(id)
    }
    fn delivery_of_step(
        &mut self,
        run_id: RunId,
        step: i64,
    ) -> Result<Option<DeliveryRow>, StoreError> {
        self.delivery_of_step_query(run_id, step)
    }
    fn deliveries(&mut self, query: &DeliveryQuery) -> Result<Vec<DeliveryRow>, StoreError> {
        self.deliveries_query(query)
    }
    fn person_deliveries(
        &mut self,
        query: &PersonDeliveryQuery,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        self.person_deliveries_query(query)
    }
    fn campaign_metrics(
        &mut self,
        workspace_id: WorkspaceId,
        campaign_id: CampaignId,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        self.campaign_metrics_query(workspace_id, campaign_id)
    }
    fn corrupt_rows(&mut self, limit: usize) -> Result<Vec<CorruptRow>, StoreError> {
        crate::doctor::corrupt_rows(self.connection, limit)
    }
}
