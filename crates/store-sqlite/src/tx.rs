//! The write queries, run by the writer inside its transaction.

use herald_domain::{
    CampaignId, Identifier, ObjectSeq, PersonSeq, RunId, SegmentId, UnixSeconds, WorkspaceId,
};
use herald_store::{
    Activity, ActivityQuery, Appended, CampaignRow, CorruptRow, DeliveryMetric, DeliveryQuery,
    DeliveryRow, DeliveryStatus, Device, DroppedEvents, DueRun, EventDayCount, EventIndexEntry,
    LogPosition, MembershipChange, NewActivity, NewObject, NewPerson, NewSegment, NewUser,
    NewWorkspace, ObjectRelationship, ObjectRow, ObjectTypeCount, PartitionSet, Person,
    PersonDeliveryQuery, PersonRelationship, RetiredKey, RunRow, SegmentRow, SessionRow,
    StoreError, StoreRead, StoreTx, StoredEvent, User, Workspace, WorkspaceCredentials,
    WorkspaceKey, WorkspacePurge,
};
use rusqlite::{Connection, params};
use serde_json::{Map, Value};

use crate::index_buffer::IndexBuffer;
use crate::person_index::person_rows;
use crate::queries::{Queries, backend, execute, read_events, to_json};
use herald_store::writer_cache::WriterCache;

/// One write job's view of the writer's transaction.
pub(crate) struct Tx<'c, 'i> {
    queries: Queries<'c>,
    index: &'i mut IndexBuffer,
    cache: &'i mut WriterCache,
}

impl<'c, 'i> Tx<'c, 'i> {
    pub(crate) fn new(
        connection: &'c Connection,
        index: &'i mut IndexBuffer,
        cache: &'i mut WriterCache,
    ) -> Self {
        Self {
            queries: Queries::new(connection),
            index,
            cache,
        }
    }

    fn connection(&self) -> &'c Connection {
        self.queries.connection
    }

    fn execute(&self, sql: &str, values: impl rusqlite::Params) -> Result<usize, StoreError> {
        execute(self.connection(), sql, values)
    }
}

impl StoreRead for Tx<'_, '_> {
    fn workspaces(&mut self) -> Result<Vec<Workspace>, StoreError> {
        self.queries.workspaces()
    }
    fn workspace_by_site_id(
        &mut self,
        site_id: &str,
    ) -> Result<Option<WorkspaceCredentials>, StoreError> {
        self.queries.workspace_by_site_id(site_id)
    }
    fn workspace_by_app_key_hash(&mut self, hash: &str) -> Result<Option<Workspace>, StoreError> {
        self.queries.workspace_by_app_key_hash(hash)
    }
    fn workspace_by_write_key_hash(&mut self, hash: &str) -> Result<Option<Workspace>, StoreError> {
        self.queries.workspace_by_write_key_hash(hash)
    }
    fn retired_key(
        &mut self,
        key: WorkspaceKey,
        hash: &str,
    ) -> Result<Option<RetiredKey>, StoreError> {
        self.queries.retired_key(key, hash)
    }
    fn deleted_workspaces(&mut self) -> Result<Vec<Workspace>, StoreError> {
        self.queries.deleted_workspaces()
    }
    fn workspace_rows(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<(&'static str, u64)>, StoreError> {
        self.queries.workspace_rows(workspace_id)
    }
    fn person(
        &mut self,
        workspace_id: WorkspaceId,
        identifier: &Identifier,
    ) -> Result<Option<Person>, StoreError> {
        if let Some(person) = self.cache.person(workspace_id, identifier) {
            return Ok(Some(person));
        }
        let found = self.queries.person(workspace_id, identifier)?;
        if let Some(person) = &found {
            self.cache.put(person);
        }
        Ok(found)
    }
    fn person_seq(
        &mut self,
        workspace_id: WorkspaceId,
        identifier: &Identifier,
    ) -> Result<Option<PersonSeq>, StoreError> {
        if let Some(seq) = self.cache.seq_of(workspace_id, identifier) {
            return Ok(Some(seq));
        }
        Ok(self
            .person(workspace_id, identifier)?
            .map(|person| person.seq))
    }
    fn person_by_seq(
        &mut self,
        workspace_id: WorkspaceId,
        seq: PersonSeq,
    ) -> Result<Option<Person>, StoreError> {
        self.queries.person_by_seq(workspace_id, seq)
    }
    fn person_ids(
        &mut self,
        workspace_id: WorkspaceId,
        seqs: &[PersonSeq],
    ) -> Result<Vec<Option<String>>, StoreError> {
        self.queries.person_ids(workspace_id, seqs)
    }
    fn devices(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
    ) -> Result<Vec<Device>, StoreError> {
        self.queries.devices(workspace_id, person_seq)
    }
    fn object(
        &mut self,
        workspace_id: WorkspaceId,
        object_type_id: &str,
        object_id: &str,
    ) -> Result<Option<ObjectRow>, StoreError> {
        self.queries.object(workspace_id, object_type_id, object_id)
    }
    fn object_by_cio_id(
        &mut self,
        workspace_id: WorkspaceId,
        cio_object_id: &str,
    ) -> Result<Option<ObjectRow>, StoreError> {
        self.queries.object_by_cio_id(workspace_id, cio_object_id)
    }
    fn objects_of_type(
        &mut self,
        workspace_id: WorkspaceId,
        object_type_id: &str,
        after: Option<ObjectSeq>,
        limit: usize,
    ) -> Result<Vec<ObjectRow>, StoreError> {
        self.queries
            .objects_of_type(workspace_id, object_type_id, after, limit)
    }
    fn object_types(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<ObjectTypeCount>, StoreError> {
        self.queries.object_types(workspace_id)
    }
    fn person_relationships(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
        after: Option<ObjectSeq>,
        limit: usize,
    ) -> Result<Vec<PersonRelationship>, StoreError> {
        self.queries
            .person_relationships(workspace_id, person_seq, after, limit)
    }
    fn workspace_relationships(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<(PersonSeq, PersonRelationship)>, StoreError> {
        self.queries.workspace_relationships(workspace_id)
    }
    fn object_relationships(
        &mut self,
        workspace_id: WorkspaceId,
        object_seq: ObjectSeq,
        after: Option<PersonSeq>,
        limit: usize,
    ) -> Result<Vec<ObjectRelationship>, StoreError> {
        self.queries
            .object_relationships(workspace_id, object_seq, after, limit)
    }
    fn activities(&mut self, query: &ActivityQuery) -> Result<Vec<Activity>, StoreError> {
        self.queries.activities(query)
    }
    fn event_index(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<EventIndexEntry>, StoreError> {
        self.queries.event_index(workspace_id)
    }
    fn event_days(
        &mut self,
        workspace_id: WorkspaceId,
        from_day: i64,
        to_day: i64,
    ) -> Result<Vec<EventDayCount>, StoreError> {
        self.queries.event_days(workspace_id, from_day, to_day)
    }
    fn is_suppressed(
        &mut self,
        workspace_id: WorkspaceId,
        identifier: &Identifier,
    ) -> Result<bool, StoreError> {
        if !self.cache.suppressed_workspaces_loaded() {
            let workspaces = self.queries.suppressed_workspaces()?;
            self.cache.load_suppressed_workspaces(workspaces);
        }
        if self.cache.surely_unsuppressed(workspace_id) {
            return Ok(false);
        }
        self.queries.is_suppressed(workspace_id, identifier)
    }
    fn anonymous_link(
        &mut self,
        workspace_id: WorkspaceId,
        anonymous_id: &str,
    ) -> Result<Option<(PersonSeq, UnixSeconds)>, StoreError> {
        self.queries.anonymous_link(workspace_id, anonymous_id)
    }
    fn delivery_metrics(&mut self, delivery_id: &str) -> Result<Vec<DeliveryMetric>, StoreError> {
        self.queries.delivery_metrics(delivery_id)
    }
    fn setting(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        self.queries.setting(key)
    }
    fn live_people(&mut self, workspace_id: WorkspaceId) -> Result<Vec<Person>, StoreError> {
        self.queries.live_people(workspace_id)
    }
    fn for_each_history(
        &mut self,
        workspace_id: WorkspaceId,
        partitions: &PartitionSet,
        each: &mut dyn FnMut(Person, Vec<StoredEvent>) -> bool,
    ) -> Result<(), StoreError> {
        self.queries
            .for_each_history(workspace_id, partitions, each)
    }
    fn engine_log_after(
        &mut self,
        after: i64,
        each: &mut dyn FnMut(i64, WorkspaceId, Vec<u8>) -> bool,
    ) -> Result<(), StoreError> {
        self.queries.engine_log_after(after, each)
    }
    fn engine_log_trimmed(&mut self) -> Result<i64, StoreError> {
        self.queries.engine_log_trimmed()
    }
    fn engine_log_end(&mut self) -> Result<i64, StoreError> {
        self.queries.engine_log_end()
    }
    fn events_of_live_people(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.queries.events_of_live_people(workspace_id)
    }
    fn events_of_person(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.queries.events_of_person(workspace_id, person_seq)
    }
    fn segments(&mut self, workspace_id: WorkspaceId) -> Result<Vec<SegmentRow>, StoreError> {
        self.queries.segments(workspace_id)
    }
    fn campaigns(&mut self, workspace_id: WorkspaceId) -> Result<Vec<CampaignRow>, StoreError> {
        self.queries.campaigns(workspace_id)
    }
    fn campaign(
        &mut self,
        workspace_id: WorkspaceId,
        id: CampaignId,
    ) -> Result<Option<CampaignRow>, StoreError> {
        self.queries.campaign(workspace_id, id)
    }
    fn segment(
        &mut self,
        workspace_id: WorkspaceId,
        id: SegmentId,
    ) -> Result<Option<SegmentRow>, StoreError> {
        self.queries.segment(workspace_id, id)
    }
    fn segment_members(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<(SegmentId, PersonSeq)>, StoreError> {
        self.queries.segment_members(workspace_id)
    }
    fn segment_purges(&mut self) -> Result<Vec<SegmentId>, StoreError> {
        self.queries.segment_purges()
    }
    fn is_enrolled(
        &mut self,
        campaign_id: CampaignId,
        person_seq: PersonSeq,
    ) -> Result<bool, StoreError> {
        self.queries.is_enrolled(campaign_id, person_seq)
    }
    fn campaign_days(
        &mut self,
        workspace_id: WorkspaceId,
        campaign_id: CampaignId,
        since: UnixSeconds,
    ) -> Result<Vec<(i64, String, i64)>, StoreError> {
        self.queries.campaign_days(workspace_id, campaign_id, since)
    }
    fn campaign_sent_since(
        &mut self,
        workspace_id: WorkspaceId,
        campaign_id: CampaignId,
        since: UnixSeconds,
    ) -> Result<i64, StoreError> {
        self.queries
            .campaign_sent_since(workspace_id, campaign_id, since)
    }
    fn segment_days(
        &mut self,
        segment_id: SegmentId,
        from_day: i64,
    ) -> Result<Vec<(i64, i64, i64)>, StoreError> {
        self.queries.segment_days(segment_id, from_day)
    }
    fn workspace_keys_sealed(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Option<String>, StoreError> {
        self.queries.workspace_keys_sealed(workspace_id)
    }
    fn people_page(
        &mut self,
        workspace_id: WorkspaceId,
        before: Option<PersonSeq>,
        limit: usize,
    ) -> Result<Vec<Person>, StoreError> {
        self.queries.people_page(workspace_id, before, limit)
    }
    fn people_after(
        &mut self,
        workspace_id: WorkspaceId,
        after: Option<PersonSeq>,
        limit: usize,
    ) -> Result<Vec<Person>, StoreError> {
        self.queries.people_after(workspace_id, after, limit)
    }
    fn search_people(
        &mut self,
        workspace_id: WorkspaceId,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Person>, StoreError> {
        self.queries.search_people(workspace_id, prefix, limit)
    }
    fn users_count(&mut self) -> Result<i64, StoreError> {
        self.queries.users_count()
    }
    fn user_by_email(&mut self, email: &str) -> Result<Option<(User, String)>, StoreError> {
        self.queries.user_by_email(email)
    }
    fn session(
        &mut self,
        token_hash: &str,
        now: UnixSeconds,
    ) -> Result<Option<(SessionRow, User)>, StoreError> {
        self.queries.session(token_hash, now)
    }
    fn user_workspaces(&mut self, user_id: i64) -> Result<Vec<Workspace>, StoreError> {
        self.queries.user_workspaces(user_id)
    }
    fn segment_history(
        &mut self,
        segment_id: SegmentId,
        person_seq: PersonSeq,
    ) -> Result<Vec<MembershipChange>, StoreError> {
        self.queries.segment_history(segment_id, person_seq)
    }
    fn due_runs(
        &mut self,
        now: UnixSeconds,
        limit: i64,
        skip: &[RunId],
        after: Option<DueRun>,
    ) -> Result<Vec<DueRun>, StoreError> {
        self.queries.due_runs(now, limit, skip, after)
    }
    fn run(&mut self, id: RunId) -> Result<Option<RunRow>, StoreError> {
        self.queries.run(id)
    }
    fn runs_of_campaign(
        &mut self,
        workspace_id: WorkspaceId,
        campaign_id: CampaignId,
    ) -> Result<Vec<RunRow>, StoreError> {
        self.queries.runs_of_campaign(workspace_id, campaign_id)
    }
    fn delivery(&mut self, id: &str) -> Result<Option<DeliveryRow>, StoreError> {
        self.queries.delivery(id)
    }
    fn delivery_status(&mut self, id: &str) -> Result<Option<DeliveryStatus>, StoreError> {
        self.queries.delivery_status(id)
    }
    fn delivery_of_step(
        &mut self,
        run_id: RunId,
        step: i64,
    ) -> Result<Option<DeliveryRow>, StoreError> {
        self.queries.delivery_of_step(run_id, step)
    }
    fn deliveries(&mut self, query: &DeliveryQuery) -> Result<Vec<DeliveryRow>, StoreError> {
        self.queries.deliveries(query)
    }
    fn person_deliveries(
        &mut self,
        query: &PersonDeliveryQuery,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        self.queries.person_deliveries(query)
    }
    fn campaign_metrics(
        &mut self,
        workspace_id: WorkspaceId,
        campaign_id: CampaignId,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        self.queries.campaign_metrics(workspace_id, campaign_id)
    }
    fn corrupt_rows(&mut self, limit: usize) -> Result<Vec<CorruptRow>, StoreError> {
        self.queries.corrupt_rows(limit)
    }
}

impl StoreTx for Tx<'_, '_> {
    fn remove_corrupt_row(&mut self, row: &CorruptRow) -> Result<bool, StoreError> {
        let removed = crate::doctor::remove_corrupt_row(self.connection(), row)?;
        // Cached rows may be the ones just changed.
        self.cache.clear();
        Ok(removed)
    }

    fn create_workspace(&mut self, new: &NewWorkspace) -> Result<Workspace, StoreError> {
        // Never the id of a workspace removed before (see `REMOVED_WORKSPACE_ID`).
        self.execute(
            "INSERT INTO workspaces (id, name, site_id, api_key_hash, app_api_key_hash, created_at)
             VALUES (max(coalesce((SELECT max(id) FROM workspaces), 0),
                         coalesce((SELECT CAST(value AS INTEGER) FROM settings WHERE key = ?6), 0)) + 1,
                     ?1, ?2, ?3, ?4, ?5)",
            params![
                new.name,
                new.site_id,
                new.api_key_hash,
                new.app_api_key_hash,
                new.created_at,
                crate::workspace_purge::REMOVED_WORKSPACE_ID
            ],
        )
        .map_err(|error| match error {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("a workspace named {:?} already exists", new.name))
            }
            other => other,
        })?;
        Ok(Workspace {
            id: WorkspaceId::new(self.connection().last_insert_rowid()),
            name: new.name.clone(),
            site_id: new.site_id.clone(),
            created_at: new.created_at,
        })
    }

    fn insert_person(&mut self, new: &NewPerson) -> Result<Person, StoreError> {
        self.execute(
            "INSERT INTO people (workspace_id, cio_id, id, email, email_lower, attributes, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            params![
                new.workspace_id,
                new.cio_id,
                new.id,
                new.email,
                new.email.as_ref().map(|email| email.to_lowercase()),
                to_json(&new.attributes)?,
                new.created_at
            ],
        )?;
        let person = Person {
            seq: PersonSeq::new(self.connection().last_insert_rowid()),
            workspace_id: new.workspace_id,
            cio_id: new.cio_id.clone(),
            id: new.id.clone(),
            email: new.email.clone(),
            attributes: new.attributes.clone(),
            created_at: new.created_at,
            updated_at: new.created_at,
        };
        self.cache.put(&person);
        Ok(person)
    }

    fn update_person(&mut self, person: &Person) -> Result<(), StoreError> {
        self.execute(
            "UPDATE people SET id = ?3, email = ?4, email_lower = ?5, attributes = ?6, updated_at = ?7
             WHERE workspace_id = ?1 AND seq = ?2",
            params![
                person.workspace_id,
                person.seq,
                person.id,
                person.email,
                person.email.as_ref().map(|email| email.to_lowercase()),
                to_json(&person.attributes)?,
                person.updated_at
            ],
        )?;
        self.cache.put(person);
        Ok(())
    }

    fn delete_person(
        &mut self,
        workspace_id: WorkspaceId,
        seq: PersonSeq,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.execute(
            "UPDATE people SET deleted_at = ?3 WHERE workspace_id = ?1 AND seq = ?2 AND deleted_at IS NULL",
            params![workspace_id, seq, now],
        )?;
        self.cache.forget(seq);
        self.execute(
            "DELETE FROM devices WHERE workspace_id = ?1 AND person_seq = ?2",
            params![workspace_id, seq],
        )?;
        self.execute(
            "DELETE FROM anonymous_links WHERE workspace_id = ?1 AND person_seq = ?2",
            params![workspace_id, seq],
        )?;
        crate::objects::delete_person_relationships(self.connection(), workspace_id, seq)
    }

    fn append_activity(&mut self, new: &NewActivity) -> Result<Appended, StoreError> {
        let changed = self.execute(
            "INSERT INTO activities (workspace_id, person_seq, anonymous_id, kind, name, data, timestamp, received_at, event_id, may_trigger)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT DO NOTHING",
            params![
                new.workspace_id,
                new.person_seq,
                new.anonymous_id,
                new.kind.as_str(),
                new.name,
                to_json(&new.data)?,
                new.timestamp,
                new.received_at,
                new.event_id,
                new.may_trigger
            ],
        )?;
        if changed == 0 {
            return Ok(Appended::Duplicate);
        }
        let seq = self.connection().last_insert_rowid();
        self.index.note_block(
            new.workspace_id,
            seq,
            new.kind.as_str(),
            new.name.as_deref(),
        );
        Ok(Appended::New(seq))
    }

    fn attach_anonymous(
        &mut self,
        workspace_id: WorkspaceId,
        anonymous_id: &str,
        person_seq: PersonSeq,
        since: UnixSeconds,
        now: UnixSeconds,
        trigger_window: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut statement = self
            .connection()
            .prepare_cached(
                "SELECT ?3, kind, name, timestamp, data, seq FROM activities
                 WHERE workspace_id = ?1 AND anonymous_id = ?2 AND person_seq IS NULL AND received_at >= ?4
                 ORDER BY seq",
            )
            .map_err(backend)?;
        let attached = read_events(
            &mut statement,
            params![workspace_id, anonymous_id, person_seq, since],
        )?;
        self.execute(
            "UPDATE activities SET person_seq = ?3,
                 may_trigger = (may_trigger AND ?5 - timestamp <= ?6)
             WHERE workspace_id = ?1 AND anonymous_id = ?2 AND person_seq IS NULL AND received_at >= ?4",
            params![workspace_id, anonymous_id, person_seq, since, now, trigger_window],
        )?;
        Ok(attached)
    }

    fn set_anonymous_link(
        &mut self,
        workspace_id: WorkspaceId,
        anonymous_id: &str,
        person_seq: PersonSeq,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO anonymous_links (workspace_id, anonymous_id, person_seq, linked_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (workspace_id, anonymous_id) DO UPDATE SET
               person_seq = excluded.person_seq, linked_at = excluded.linked_at",
            params![workspace_id, anonymous_id, person_seq, now],
        )?;
        Ok(())
    }

    fn move_events(
        &mut self,
        workspace_id: WorkspaceId,
        from_seq: PersonSeq,
        to_seq: PersonSeq,
        since: UnixSeconds,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut statement = self
            .connection()
            .prepare_cached(&format!(
                "SELECT ?3, kind, name, timestamp, data, seq
                 FROM activities INDEXED BY activities_by_person
                 WHERE workspace_id = ?1 AND {}
                   AND timestamp >= ?4 AND kind IN ('event', 'page', 'screen')
                 ORDER BY seq",
                person_rows("", "?2")
            ))
            .map_err(backend)?;
        let moved = read_events(
            &mut statement,
            params![workspace_id, from_seq, to_seq, since],
        )?;
        self.execute(
            &format!(
                "UPDATE activities INDEXED BY activities_by_person
                 SET person_seq = ?3, may_trigger = 0
                 WHERE workspace_id = ?1 AND {}
                   AND timestamp >= ?4 AND kind IN ('event', 'page', 'screen')",
                person_rows("", "?2")
            ),
            params![workspace_id, from_seq, to_seq, since],
        )?;
        Ok(moved)
    }

    fn purge_anonymous(&mut self, before: UnixSeconds) -> Result<u64, StoreError> {
        let changed = self.execute(
            "DELETE FROM activities WHERE person_seq IS NULL AND anonymous_id IS NOT NULL AND received_at < ?1",
            params![before],
        )?;
        Ok(changed as u64)
    }

    fn drop_events_before(
        &mut self,
        workspace_id: WorkspaceId,
        before: UnixSeconds,
        after_seq: i64,
        until_seq: i64,
    ) -> Result<DroppedEvents, StoreError> {
        crate::retention::drop_events_before(
            self.queries.connection,
            workspace_id,
            before,
            after_seq,
            until_seq,
        )
    }

    fn upsert_device(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
        device: &Device,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO devices (workspace_id, token, person_seq, platform, last_used, attributes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (workspace_id, token) DO UPDATE SET
               person_seq = excluded.person_seq, platform = excluded.platform,
               last_used = excluded.last_used, attributes = excluded.attributes",
            params![
                workspace_id,
                device.token,
                person_seq,
                device.platform,
                device.last_used,
                to_json(&device.attributes)?
            ],
        )?;
        Ok(())
    }

    fn delete_device(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
        token: &str,
    ) -> Result<bool, StoreError> {
        let changed = self.execute(
            "DELETE FROM devices WHERE workspace_id = ?1 AND person_seq = ?2 AND token = ?3",
            params![workspace_id, person_seq, token],
        )?;
        Ok(changed > 0)
    }

    fn insert_object(&mut self, new: &NewObject) -> Result<ObjectRow, StoreError> {
        crate::objects::insert_object(self.connection(), new)
    }

    fn update_object(&mut self, object: &ObjectRow) -> Result<(), StoreError> {
        crate::objects::update_object(self.connection(), object)
    }

    fn delete_object(
        &mut self,
        workspace_id: WorkspaceId,
        object_seq: ObjectSeq,
    ) -> Result<(), StoreError> {
        crate::objects::delete_object(self.connection(), workspace_id, object_seq)
    }

    fn save_anonymous_relationship(
        &mut self,
        workspace_id: WorkspaceId,
        anonymous_id: &str,
        object_seq: ObjectSeq,
        attributes: &Map<String, Value>,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        crate::objects::save_anonymous_relationship(
            self.connection(),
            workspace_id,
            anonymous_id,
            object_seq,
            attributes,
            now,
        )
    }

    fn take_anonymous_relationships(
        &mut self,
        workspace_id: WorkspaceId,
        anonymous_id: &str,
    ) -> Result<Vec<PersonRelationship>, StoreError> {
        crate::objects::take_anonymous_relationships(self.connection(), workspace_id, anonymous_id)
    }

    fn save_relationship(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
        object_seq: ObjectSeq,
        attributes: &Map<String, Value>,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        crate::objects::save_relationship(
            self.connection(),
            workspace_id,
            person_seq,
            object_seq,
            attributes,
            now,
        )
    }

    fn delete_relationship(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
        object_seq: ObjectSeq,
    ) -> Result<bool, StoreError> {
        crate::objects::delete_relationship(self.connection(), workspace_id, person_seq, object_seq)
    }

    fn move_relationships(
        &mut self,
        workspace_id: WorkspaceId,
        from_seq: PersonSeq,
        to_seq: PersonSeq,
    ) -> Result<(), StoreError> {
        crate::objects::move_relationships(self.connection(), workspace_id, from_seq, to_seq)
    }

    fn move_devices(
        &mut self,
        workspace_id: WorkspaceId,
        from_seq: PersonSeq,
        to_seq: PersonSeq,
    ) -> Result<(), StoreError> {
        self.execute(
            "UPDATE devices SET person_seq = ?3 WHERE workspace_id = ?1 AND person_seq = ?2",
            params![workspace_id, from_seq, to_seq],
        )?;
        Ok(())
    }

    fn suppress(
        &mut self,
        workspace_id: WorkspaceId,
        identifier: &Identifier,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO suppressions (workspace_id, id_type, value, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
            params![workspace_id, identifier.id_type().as_str(), identifier.value(), now],
        )?;
        self.cache.note_suppression(workspace_id);
        Ok(())
    }

    fn unsuppress(
        &mut self,
        workspace_id: WorkspaceId,
        identifier: &Identifier,
    ) -> Result<bool, StoreError> {
        let changed = self.execute(
            "DELETE FROM suppressions WHERE workspace_id = ?1 AND id_type = ?2 AND value = ?3",
            params![
                workspace_id,
                identifier.id_type().as_str(),
                identifier.value()
            ],
        )?;
        Ok(changed > 0)
    }

    fn insert_delivery_metric(&mut self, metric: &DeliveryMetric) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO delivery_metrics (source, delivery_id, metric, timestamp, received_at, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                metric.source,
                metric.delivery_id,
                metric.metric,
                metric.timestamp,
                metric.received_at,
                to_json(&metric.data)?
            ],
        )?;
        Ok(())
    }

    fn note_event(
        &mut self,
        workspace_id: WorkspaceId,
        kind: &str,
        name: &str,
        timestamp: UnixSeconds,
        data: &Map<String, Value>,
    ) -> Result<(), StoreError> {
        self.index
            .note(workspace_id, kind, name, timestamp, data.keys());
        Ok(())
    }

    fn set_workspace_keys(
        &mut self,
        workspace_id: WorkspaceId,
        sealed: &str,
    ) -> Result<(), StoreError> {
        self.execute(
            "UPDATE workspaces SET keys_sealed = ?2 WHERE id = ?1",
            params![workspace_id, sealed],
        )?;
        Ok(())
    }

    fn set_write_key_hash(
        &mut self,
        workspace_id: WorkspaceId,
        hash: &str,
    ) -> Result<bool, StoreError> {
        let changed = self.execute(
            "UPDATE workspaces SET write_key_hash = ?2 WHERE id = ?1 AND write_key_hash IS NULL",
            params![workspace_id, hash],
        )?;
        Ok(changed == 1)
    }

    fn rotate_key(
        &mut self,
        workspace_id: WorkspaceId,
        key: WorkspaceKey,
        hash: &str,
        now: UnixSeconds,
        expires_at: UnixSeconds,
    ) -> Result<bool, StoreError> {
        crate::workspace_keys::rotate_key(
            self.connection(),
            workspace_id,
            key,
            hash,
            now,
            expires_at,
        )
    }

    fn mark_workspace_deleted(
        &mut self,
        workspace_id: WorkspaceId,
        now: UnixSeconds,
    ) -> Result<bool, StoreError> {
        crate::workspace_purge::mark_deleted(self.connection(), workspace_id, now)
    }

    fn purge_workspace(
        &mut self,
        workspace_id: WorkspaceId,
        from: usize,
        limit: usize,
    ) -> Result<Option<WorkspacePurge>, StoreError> {
        // Cached people may be among the rows removed.
        self.cache.clear();
        crate::workspace_purge::purge(self.connection(), workspace_id, from, limit)
    }

    fn remove_workspace(&mut self, workspace_id: WorkspaceId) -> Result<bool, StoreError> {
        self.cache.clear();
        crate::workspace_purge::remove(self.connection(), workspace_id)
    }

    fn set_setting(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    fn insert_segment(&mut self, new: &NewSegment) -> Result<SegmentRow, StoreError> {
        let definition = new.definition.as_ref().map(to_json).transpose()?;
        self.execute(
            "INSERT INTO segments (workspace_id, name, description, definition, state, progress, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, ?6)",
            params![
                new.workspace_id,
                new.name,
                new.description,
                definition,
                new.state.as_str(),
                new.now
            ],
        )?;
        Ok(SegmentRow {
            id: SegmentId::new(self.connection().last_insert_rowid()),
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

    fn insert_campaign(&mut self, campaign: &CampaignRow) -> Result<CampaignRow, StoreError> {
        self.execute(
            "INSERT INTO campaigns (workspace_id, name, definition, state, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                campaign.workspace_id,
                campaign.name,
                to_json(&campaign.definition)?,
                campaign.state.as_str(),
                campaign.created_at,
                campaign.updated_at
            ],
        )?;
        Ok(CampaignRow {
            id: CampaignId::new(self.connection().last_insert_rowid()),
            ..campaign.clone()
        })
    }

    fn update_campaign(&mut self, campaign: &CampaignRow) -> Result<(), StoreError> {
        self.execute(
            "UPDATE campaigns SET name = ?3, definition = ?4, state = ?5, updated_at = ?6
             WHERE workspace_id = ?1 AND id = ?2",
            params![
                campaign.workspace_id,
                campaign.id,
                campaign.name,
                to_json(&campaign.definition)?,
                campaign.state.as_str(),
                campaign.updated_at
            ],
        )?;
        Ok(())
    }

    fn delete_campaign(
        &mut self,
        workspace_id: WorkspaceId,
        id: CampaignId,
    ) -> Result<bool, StoreError> {
        let deleted = self.execute(
            "DELETE FROM campaigns WHERE workspace_id = ?1 AND id = ?2",
            params![workspace_id, id],
        )?;
        Ok(deleted > 0)
    }

    fn update_segment(&mut self, segment: &SegmentRow) -> Result<(), StoreError> {
        let definition = segment.definition.as_ref().map(to_json).transpose()?;
        self.execute(
            "UPDATE segments SET name = ?3, description = ?4, definition = ?5, state = ?6,
                 progress = ?7, updated_at = ?8
             WHERE workspace_id = ?1 AND id = ?2",
            params![
                segment.workspace_id,
                segment.id,
                segment.name,
                segment.description,
                definition,
                segment.state.as_str(),
                segment.progress,
                segment.updated_at
            ],
        )?;
        Ok(())
    }

    fn delete_segment(
        &mut self,
        workspace_id: WorkspaceId,
        id: SegmentId,
    ) -> Result<bool, StoreError> {
        let deleted = self.execute(
            "DELETE FROM segments WHERE workspace_id = ?1 AND id = ?2",
            params![workspace_id, id],
        )?;
        if deleted > 0 {
            self.execute(
                "INSERT INTO segment_purges (segment_id) VALUES (?1) ON CONFLICT DO NOTHING",
                [id],
            )?;
        }
        Ok(deleted > 0)
    }

    fn insert_user(&mut self, new: &NewUser) -> Result<User, StoreError> {
        crate::users::insert_user(self.connection(), new)
    }
    fn grant_workspace(
        &mut self,
        user_id: i64,
        workspace_id: WorkspaceId,
    ) -> Result<(), StoreError> {
        crate::users::grant_workspace(self.connection(), user_id, workspace_id)
    }
    fn insert_session(&mut self, session: &SessionRow) -> Result<(), StoreError> {
        crate::users::insert_session(self.connection(), session)
    }
    fn delete_session(&mut self, token_hash: &str) -> Result<bool, StoreError> {
        crate::users::delete_session(self.connection(), token_hash)
    }

    fn purge_segment(&mut self, id: SegmentId, limit: usize) -> Result<bool, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // Both deletions walk their table's index on the segment, so each step costs its
        // chunk, not the table.
        let members = self.execute(
            "DELETE FROM segment_members WHERE segment_id = ?1 AND person_seq IN
                 (SELECT person_seq FROM segment_members WHERE segment_id = ?1 LIMIT ?2)",
            params![id, limit],
        )?;
        let history = self.execute(
            "DELETE FROM segment_history WHERE seq IN
                 (SELECT seq FROM segment_history WHERE segment_id = ?1 LIMIT ?2)",
            params![id, limit],
        )?;
        if members > 0 || history > 0 {
            return Ok(true);
        }
        self.execute("DELETE FROM segment_days WHERE segment_id = ?1", [id])?;
        self.execute("DELETE FROM segment_purges WHERE segment_id = ?1", [id])?;
        Ok(false)
    }

    fn backfill(&mut self, limit: usize) -> Result<bool, StoreError> {
        crate::backfills::step(self.connection(), limit)
    }

    fn append_engine_log(
        &mut self,
        workspace_id: WorkspaceId,
        inputs: &[u8],
    ) -> Result<LogPosition, StoreError> {
        // Written at commit, in the order of the appends, which is commit order: one writer.
        Ok(self.index.append_log(workspace_id, inputs))
    }

    fn trim_engine_log(&mut self, through: i64, limit: usize) -> Result<usize, StoreError> {
        // The position is recorded first, in the same transaction: from then on an image older
        // than it is known to be unable to catch up.
        if self.queries.engine_log_trimmed()? < through {
            self.set_setting(crate::queries::ENGINE_LOG_TRIMMED, &through.to_string())?;
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.execute(
            "DELETE FROM engine_log WHERE seq IN
                 (SELECT seq FROM engine_log WHERE seq <= ?1 ORDER BY seq LIMIT ?2)",
            params![through, limit],
        )
    }

    fn record_membership_changes(
        &mut self,
        _workspace_id: WorkspaceId,
        changes: &[MembershipChange],
    ) -> Result<(), StoreError> {
        // The day counts, summed per (segment, day) first: a build's million entries are one
        // row's update.
        let mut days: std::collections::BTreeMap<(SegmentId, i64), (i64, i64)> = Default::default();
        for change in changes {
            let day = days
                .entry((change.segment_id, change.at.div_euclid(86_400)))
                .or_default();
            if change.entered {
                day.0 += 1;
            } else {
                day.1 += 1;
            }
        }
        for ((segment_id, day), (entered, exited)) in days {
            self.execute(
                "INSERT INTO segment_days (segment_id, day, entered, exited) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (segment_id, day) DO UPDATE SET
                   entered = entered + excluded.entered, exited = exited + excluded.exited",
                params![segment_id, day, entered, exited],
            )?;
        }
        for change in changes {
            if change.entered {
                self.execute(
                    "INSERT INTO segment_members (segment_id, person_seq, since) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO NOTHING",
                    params![change.segment_id, change.person_seq, change.at],
                )?;
            } else {
                self.execute(
                    "DELETE FROM segment_members WHERE segment_id = ?1 AND person_seq = ?2",
                    params![change.segment_id, change.person_seq],
                )?;
            }
            self.execute(
                "INSERT INTO segment_history (segment_id, person_seq, entered, at, cause, origin)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    change.segment_id,
                    change.person_seq,
                    change.entered,
                    change.at,
                    to_json(&change.cause)?,
                    change.origin.as_str()
                ],
            )?;
        }
        Ok(())
    }

    fn insert_run(&mut self, run: &RunRow) -> Result<RunRow, StoreError> {
        crate::runs::insert_run(self.connection(), run)
    }
    fn update_run(&mut self, run: &RunRow) -> Result<(), StoreError> {
        crate::runs::update_run(self.connection(), run)
    }
    fn forget_message(
        &mut self,
        run_id: RunId,
        trigger: &Value,
        delivery_id: &str,
        content: &Value,
    ) -> Result<(), StoreError> {
        crate::runs::forget_message(self.connection(), run_id, trigger, delivery_id, content)
    }
    fn enroll_once(
        &mut self,
        _workspace_id: WorkspaceId,
        campaign_id: CampaignId,
        person_seq: PersonSeq,
        now: UnixSeconds,
    ) -> Result<bool, StoreError> {
        crate::runs::enroll_once(self.connection(), campaign_id, person_seq, now)
    }
    fn cancel_runs(
        &mut self,
        campaign_id: CampaignId,
        now: UnixSeconds,
    ) -> Result<u64, StoreError> {
        crate::runs::cancel_runs(self.connection(), campaign_id, now)
    }
    fn insert_delivery(&mut self, delivery: &DeliveryRow) -> Result<(), StoreError> {
        crate::runs::insert_delivery(self.connection(), delivery)
    }
    fn update_delivery(&mut self, delivery: &DeliveryRow) -> Result<(), StoreError> {
        crate::runs::update_delivery(self.connection(), delivery)
    }
}
