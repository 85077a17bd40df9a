//! The store's queries as the traits name them: each delegates to the module of its tables.

use herald_domain::{
    CampaignId, Identifier, ObjectSeq, PersonSeq, RunId, SegmentId, UnixSeconds, WorkspaceId,
};
use herald_store::{
    Activity, ActivityQuery, Appended, CampaignRow, CorruptRow, DeliveryMetric, DeliveryQuery,
    DeliveryRow, DeliveryStatus, Device, DroppedEvents, DueRun, EventDayCount, EventIndexEntry,
    MembershipChange, NewActivity, NewObject, NewPerson, NewSegment, NewUser, NewWorkspace,
    ObjectRelationship, ObjectRow, ObjectTypeCount, PartitionSet, Person, PersonDeliveryQuery,
    PersonRelationship, RetiredKey, RunRow, SegmentRow, SessionRow, StoreError, StoreRead, StoreTx,
    StoredEvent, User, Workspace, WorkspaceCredentials, WorkspaceKey, WorkspacePurge,
};
use serde_json::{Map, Value};

use crate::pg::Pg;
use crate::{
    activities, campaigns, objects, people, segments, workspace_keys, workspace_purge, workspaces,
};

impl StoreRead for Pg<'_> {
    fn workspaces(&mut self) -> Result<Vec<Workspace>, StoreError> {
        workspaces::workspaces(self)
    }
    fn workspace_by_site_id(
        &mut self,
        site_id: &str,
    ) -> Result<Option<WorkspaceCredentials>, StoreError> {
        workspaces::workspace_by_site_id(self, site_id)
    }
    fn workspace_by_app_key_hash(&mut self, hash: &str) -> Result<Option<Workspace>, StoreError> {
        workspaces::workspace_by_app_key_hash(self, hash)
    }
    fn workspace_by_write_key_hash(&mut self, hash: &str) -> Result<Option<Workspace>, StoreError> {
        workspaces::workspace_by_write_key_hash(self, hash)
    }
    fn retired_key(
        &mut self,
        key: WorkspaceKey,
        hash: &str,
    ) -> Result<Option<RetiredKey>, StoreError> {
        workspace_keys::retired_key(self, key, hash)
    }
    fn deleted_workspaces(&mut self) -> Result<Vec<Workspace>, StoreError> {
        workspace_keys::deleted_workspaces(self)
    }
    fn workspace_rows(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<(&'static str, u64)>, StoreError> {
        workspace_purge::rows(self, workspace_id)
    }
    fn person(
        &mut self,
        workspace_id: WorkspaceId,
        identifier: &Identifier,
    ) -> Result<Option<Person>, StoreError> {
        people::person(self, workspace_id, identifier)
    }
    fn person_seq(
        &mut self,
        workspace_id: WorkspaceId,
        identifier: &Identifier,
    ) -> Result<Option<PersonSeq>, StoreError> {
        people::person_seq(self, workspace_id, identifier)
    }
    fn person_by_seq(
        &mut self,
        workspace_id: WorkspaceId,
        seq: PersonSeq,
    ) -> Result<Option<Person>, StoreError> {
        people::person_by_seq(self, workspace_id, seq)
    }
    fn person_ids(
        &mut self,
        workspace_id: WorkspaceId,
        seqs: &[PersonSeq],
    ) -> Result<Vec<Option<String>>, StoreError> {
        people::person_ids(self, workspace_id, seqs)
    }
    fn devices(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
    ) -> Result<Vec<Device>, StoreError> {
        people::devices(self, workspace_id, person_seq)
    }
    fn object(
        &mut self,
        workspace_id: WorkspaceId,
        object_type_id: &str,
        object_id: &str,
    ) -> Result<Option<ObjectRow>, StoreError> {
        objects::object(self, workspace_id, object_type_id, object_id)
    }
    fn object_by_cio_id(
        &mut self,
        workspace_id: WorkspaceId,
        cio_object_id: &str,
    ) -> Result<Option<ObjectRow>, StoreError> {
        objects::object_by_cio_id(self, workspace_id, cio_object_id)
    }
    fn objects_of_type(
        &mut self,
        workspace_id: WorkspaceId,
        object_type_id: &str,
        after: Option<ObjectSeq>,
        limit: usize,
    ) -> Result<Vec<ObjectRow>, StoreError> {
        objects::objects_of_type(self, workspace_id, object_type_id, after, limit)
    }
    fn object_types(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<ObjectTypeCount>, StoreError> {
        objects::object_types(self, workspace_id)
    }
    fn person_relationships(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
        after: Option<ObjectSeq>,
        limit: usize,
    ) -> Result<Vec<PersonRelationship>, StoreError> {
        objects::person_relationships(self, workspace_id, person_seq, after, limit)
    }
    fn workspace_relationships(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<(PersonSeq, PersonRelationship)>, StoreError> {
        objects::workspace_relationships(self, workspace_id)
    }
    fn object_relationships(
        &mut self,
        workspace_id: WorkspaceId,
        object_seq: ObjectSeq,
        after: Option<PersonSeq>,
        limit: usize,
    ) -> Result<Vec<ObjectRelationship>, StoreError> {
        objects::object_relationships(self, workspace_id, object_seq, after, limit)
    }
    fn activities(&mut self, query: &ActivityQuery) -> Result<Vec<Activity>, StoreError> {
        activities::activities(self, query)
    }
    fn event_index(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<EventIndexEntry>, StoreError> {
        activities::event_index(self, workspace_id)
    }
    fn event_days(
        &mut self,
        workspace_id: WorkspaceId,
        from_day: i64,
        to_day: i64,
    ) -> Result<Vec<EventDayCount>, StoreError> {
        activities::event_days(self, workspace_id, from_day, to_day)
    }
    fn is_suppressed(
        &mut self,
        workspace_id: WorkspaceId,
        identifier: &Identifier,
    ) -> Result<bool, StoreError> {
        people::is_suppressed(self, workspace_id, identifier)
    }
    fn anonymous_link(
        &mut self,
        workspace_id: WorkspaceId,
        anonymous_id: &str,
    ) -> Result<Option<(PersonSeq, UnixSeconds)>, StoreError> {
        activities::anonymous_link(self, workspace_id, anonymous_id)
    }
    fn delivery_metrics(&mut self, delivery_id: &str) -> Result<Vec<DeliveryMetric>, StoreError> {
        activities::delivery_metrics(self, delivery_id)
    }
    fn setting(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        workspaces::setting(self, key)
    }
    fn engine_question(&mut self, id: i64) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        crate::questions::question(self, id)
    }
    fn engine_answers(&mut self, question: i64) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        crate::questions::answers(self, question)
    }
    fn live_people(&mut self, workspace_id: WorkspaceId) -> Result<Vec<Person>, StoreError> {
        people::live_people(self, workspace_id)
    }
    fn events_of_live_people(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        activities::events_of_live_people(self, workspace_id)
    }
    fn for_each_history(
        &mut self,
        workspace_id: WorkspaceId,
        partitions: &PartitionSet,
        each: &mut dyn FnMut(Person, Vec<StoredEvent>) -> bool,
    ) -> Result<(), StoreError> {
        activities::for_each_history(self, workspace_id, partitions, each)
    }
    fn engine_log_after(
        &mut self,
        after: i64,
        each: &mut dyn FnMut(i64, WorkspaceId, Vec<u8>) -> bool,
    ) -> Result<(), StoreError> {
        activities::engine_log_after(self, after, each)
    }
    fn engine_log_trimmed(&mut self) -> Result<i64, StoreError> {
        activities::engine_log_trimmed(self)
    }
    fn engine_log_end(&mut self) -> Result<i64, StoreError> {
        activities::engine_log_end(self)
    }
    fn events_of_person(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        activities::events_of_person(self, workspace_id, person_seq)
    }
    fn segments(&mut self, workspace_id: WorkspaceId) -> Result<Vec<SegmentRow>, StoreError> {
        segments::segments(self, workspace_id)
    }
    fn campaigns(&mut self, workspace_id: WorkspaceId) -> Result<Vec<CampaignRow>, StoreError> {
        campaigns::campaigns(self, workspace_id)
    }
    fn campaign(
        &mut self,
        workspace_id: WorkspaceId,
        id: CampaignId,
    ) -> Result<Option<CampaignRow>, StoreError> {
        campaigns::campaign(self, workspace_id, id)
    }
    fn segment(
        &mut self,
        workspace_id: WorkspaceId,
        id: SegmentId,
    ) -> Result<Option<SegmentRow>, StoreError> {
        segments::segment(self, workspace_id, id)
    }
    fn segment_members(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<(SegmentId, PersonSeq)>, StoreError> {
        segments::segment_members(self, workspace_id)
    }
    fn segment_purges(&mut self) -> Result<Vec<SegmentId>, StoreError> {
        segments::segment_purges(self)
    }
    fn workspace_keys_sealed(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Option<String>, StoreError> {
        workspaces::workspace_keys_sealed(self, workspace_id)
    }
    fn campaign_days(
        &mut self,
        workspace_id: WorkspaceId,
        campaign_id: CampaignId,
        since: UnixSeconds,
    ) -> Result<Vec<(i64, String, i64)>, StoreError> {
        campaigns::campaign_days(self, workspace_id, campaign_id, since)
    }
    fn campaign_sent_since(
        &mut self,
        workspace_id: WorkspaceId,
        campaign_id: CampaignId,
        since: UnixSeconds,
    ) -> Result<i64, StoreError> {
        campaigns::campaign_sent_since(self, workspace_id, campaign_id, since)
    }
    fn is_enrolled(
        &mut self,
        campaign_id: CampaignId,
        person_seq: PersonSeq,
    ) -> Result<bool, StoreError> {
        campaigns::is_enrolled(self, campaign_id, person_seq)
    }
    fn segment_days(
        &mut self,
        segment_id: SegmentId,
        from_day: i64,
    ) -> Result<Vec<(i64, i64, i64)>, StoreError> {
        segments::segment_days(self, segment_id, from_day)
    }
    fn segment_history(
        &mut self,
        segment_id: SegmentId,
        person_seq: PersonSeq,
    ) -> Result<Vec<MembershipChange>, StoreError> {
        segments::segment_history(self, segment_id, person_seq)
    }
    fn due_runs(
        &mut self,
        now: UnixSeconds,
        limit: i64,
        skip: &[RunId],
        after: Option<DueRun>,
    ) -> Result<Vec<DueRun>, StoreError> {
        campaigns::due_runs(self, now, limit, skip, after)
    }
    fn run(&mut self, id: RunId) -> Result<Option<RunRow>, StoreError> {
        campaigns::run(self, id)
    }
    fn runs_of_campaign(
        &mut self,
        workspace_id: WorkspaceId,
        campaign_id: CampaignId,
    ) -> Result<Vec<RunRow>, StoreError> {
        campaigns::runs_of_campaign(self, workspace_id, campaign_id)
    }
    fn delivery(&mut self, id: &str) -> Result<Option<DeliveryRow>, StoreError> {
        campaigns::delivery(self, id)
    }
    fn delivery_status(&mut self, id: &str) -> Result<Option<DeliveryStatus>, StoreError> {
        campaigns::delivery_status(self, id)
    }
    fn delivery_of_step(
        &mut self,
        run_id: RunId,
        step: i64,
    ) -> Result<Option<DeliveryRow>, StoreError> {
        campaigns::delivery_of_step(self, run_id, step)
    }
    fn deliveries(&mut self, query: &DeliveryQuery) -> Result<Vec<DeliveryRow>, StoreError> {
        campaigns::deliveries(self, query)
    }
    fn person_deliveries(
        &mut self,
        query: &PersonDeliveryQuery,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        campaigns::person_deliveries(self, query)
    }
    fn campaign_metrics(
        &mut self,
        workspace_id: WorkspaceId,
        campaign_id: CampaignId,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        campaigns::campaign_metrics(self, workspace_id, campaign_id)
    }
    fn people_page(
        &mut self,
        workspace_id: WorkspaceId,
        before: Option<PersonSeq>,
        limit: usize,
    ) -> Result<Vec<Person>, StoreError> {
        people::people_page(self, workspace_id, before, limit)
    }
    fn people_after(
        &mut self,
        workspace_id: WorkspaceId,
        after: Option<PersonSeq>,
        limit: usize,
    ) -> Result<Vec<Person>, StoreError> {
        people::people_after(self, workspace_id, after, limit)
    }
    fn search_people(
        &mut self,
        workspace_id: WorkspaceId,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Person>, StoreError> {
        people::search_people(self, workspace_id, prefix, limit)
    }
    fn users_count(&mut self) -> Result<i64, StoreError> {
        workspaces::users_count(self)
    }
    fn user_by_email(&mut self, email: &str) -> Result<Option<(User, String)>, StoreError> {
        workspaces::user_by_email(self, email)
    }
    fn session(
        &mut self,
        token_hash: &str,
        now: UnixSeconds,
    ) -> Result<Option<(SessionRow, User)>, StoreError> {
        workspaces::session(self, token_hash, now)
    }
    fn user_workspaces(&mut self, user_id: i64) -> Result<Vec<Workspace>, StoreError> {
        workspaces::user_workspaces(self, user_id)
    }
    fn corrupt_rows(&mut self, limit: usize) -> Result<Vec<CorruptRow>, StoreError> {
        workspaces::corrupt_rows(self, limit)
    }
}

impl StoreTx for Pg<'_> {
    fn create_workspace(&mut self, new: &NewWorkspace) -> Result<Workspace, StoreError> {
        workspaces::create_workspace(self, new)
    }
    fn insert_user(&mut self, new: &NewUser) -> Result<User, StoreError> {
        workspaces::insert_user(self, new)
    }
    fn grant_workspace(
        &mut self,
        user_id: i64,
        workspace_id: WorkspaceId,
    ) -> Result<(), StoreError> {
        workspaces::grant_workspace(self, user_id, workspace_id)
    }
    fn insert_session(&mut self, session: &SessionRow) -> Result<(), StoreError> {
        workspaces::insert_session(self, session)
    }
    fn delete_session(&mut self, token_hash: &str) -> Result<bool, StoreError> {
        workspaces::delete_session(self, token_hash)
    }
    fn remove_corrupt_row(&mut self, row: &CorruptRow) -> Result<bool, StoreError> {
        workspaces::remove_corrupt_row(self, row)
    }
    fn insert_person(&mut self, new: &NewPerson) -> Result<Person, StoreError> {
        people::insert_person(self, new)
    }
    fn update_person(&mut self, person: &Person) -> Result<(), StoreError> {
        people::update_person(self, person)
    }
    fn delete_person(
        &mut self,
        workspace_id: WorkspaceId,
        seq: PersonSeq,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        people::delete_person(self, workspace_id, seq, now)
    }
    fn append_activity(&mut self, new: &NewActivity) -> Result<Appended, StoreError> {
        activities::append_activity(self, new)
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
        activities::attach_anonymous(
            self,
            workspace_id,
            anonymous_id,
            person_seq,
            since,
            now,
            trigger_window,
        )
    }
    fn set_anonymous_link(
        &mut self,
        workspace_id: WorkspaceId,
        anonymous_id: &str,
        person_seq: PersonSeq,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        activities::set_anonymous_link(self, workspace_id, anonymous_id, person_seq, now)
    }
    fn move_events(
        &mut self,
        workspace_id: WorkspaceId,
        from_seq: PersonSeq,
        to_seq: PersonSeq,
        since: UnixSeconds,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        activities::move_events(self, workspace_id, from_seq, to_seq, since)
    }
    fn purge_anonymous(&mut self, before: UnixSeconds) -> Result<u64, StoreError> {
        activities::purge_anonymous(self, before)
    }
    fn drop_events_before(
        &mut self,
        workspace_id: WorkspaceId,
        before: UnixSeconds,
        after_seq: i64,
        until_seq: i64,
    ) -> Result<DroppedEvents, StoreError> {
        crate::retention::drop_events_before(self, workspace_id, before, after_seq, until_seq)
    }
    fn upsert_device(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
        device: &Device,
    ) -> Result<(), StoreError> {
        people::upsert_device(self, workspace_id, person_seq, device)
    }
    fn delete_device(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
        token: &str,
    ) -> Result<bool, StoreError> {
        people::delete_device(self, workspace_id, person_seq, token)
    }
    fn insert_object(&mut self, new: &NewObject) -> Result<ObjectRow, StoreError> {
        objects::insert_object(self, new)
    }
    fn update_object(&mut self, object: &ObjectRow) -> Result<(), StoreError> {
        objects::update_object(self, object)
    }
    fn delete_object(
        &mut self,
        workspace_id: WorkspaceId,
        object_seq: ObjectSeq,
    ) -> Result<(), StoreError> {
        objects::delete_object(self, workspace_id, object_seq)
    }
    fn save_anonymous_relationship(
        &mut self,
        workspace_id: WorkspaceId,
        anonymous_id: &str,
        object_seq: ObjectSeq,
        attributes: &Map<String, Value>,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        objects::save_anonymous_relationship(
            self,
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
        objects::take_anonymous_relationships(self, workspace_id, anonymous_id)
    }
    fn save_relationship(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
        object_seq: ObjectSeq,
        attributes: &Map<String, Value>,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        objects::save_relationship(self, workspace_id, person_seq, object_seq, attributes, now)
    }
    fn delete_relationship(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
        object_seq: ObjectSeq,
    ) -> Result<bool, StoreError> {
        objects::delete_relationship(self, workspace_id, person_seq, object_seq)
    }
    fn move_relationships(
        &mut self,
        workspace_id: WorkspaceId,
        from_seq: PersonSeq,
        to_seq: PersonSeq,
    ) -> Result<(), StoreError> {
        objects::move_relationships(self, workspace_id, from_seq, to_seq)
    }
    fn move_devices(
        &mut self,
        workspace_id: WorkspaceId,
        from_seq: PersonSeq,
        to_seq: PersonSeq,
    ) -> Result<(), StoreError> {
        people::move_devices(self, workspace_id, from_seq, to_seq)
    }
    fn suppress(
        &mut self,
        workspace_id: WorkspaceId,
        identifier: &Identifier,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        people::suppress(self, workspace_id, identifier, now)
    }
    fn unsuppress(
        &mut self,
        workspace_id: WorkspaceId,
        identifier: &Identifier,
    ) -> Result<bool, StoreError> {
        people::unsuppress(self, workspace_id, identifier)
    }
    fn insert_delivery_metric(&mut self, metric: &DeliveryMetric) -> Result<(), StoreError> {
        activities::insert_delivery_metric(self, metric)
    }
    fn note_event(
        &mut self,
        workspace_id: WorkspaceId,
        kind: &str,
        name: &str,
        timestamp: UnixSeconds,
        data: &Map<String, Value>,
    ) -> Result<(), StoreError> {
        activities::note_event(self, workspace_id, kind, name, timestamp, data)
    }
    fn set_setting(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        workspaces::set_setting(self, key, value)
    }
    fn set_workspace_keys(
        &mut self,
        workspace_id: WorkspaceId,
        sealed: &str,
    ) -> Result<(), StoreError> {
        workspaces::set_workspace_keys(self, workspace_id, sealed)
    }
    fn set_write_key_hash(
        &mut self,
        workspace_id: WorkspaceId,
        hash: &str,
    ) -> Result<bool, StoreError> {
        workspaces::set_write_key_hash(self, workspace_id, hash)
    }
    fn rotate_key(
        &mut self,
        workspace_id: WorkspaceId,
        key: WorkspaceKey,
        hash: &str,
        now: UnixSeconds,
        expires_at: UnixSeconds,
    ) -> Result<bool, StoreError> {
        workspace_keys::rotate_key(self, workspace_id, key, hash, now, expires_at)
    }
    fn mark_workspace_deleted(
        &mut self,
        workspace_id: WorkspaceId,
        now: UnixSeconds,
    ) -> Result<bool, StoreError> {
        workspace_purge::mark_deleted(self, workspace_id, now)
    }
    fn purge_workspace(
        &mut self,
        workspace_id: WorkspaceId,
        from: usize,
        limit: usize,
    ) -> Result<Option<WorkspacePurge>, StoreError> {
        workspace_purge::purge(self, workspace_id, from, limit)
    }
    fn remove_workspace(&mut self, workspace_id: WorkspaceId) -> Result<bool, StoreError> {
        workspace_purge::remove(self, workspace_id)
    }
    fn insert_segment(&mut self, new: &NewSegment) -> Result<SegmentRow, StoreError> {
        segments::insert_segment(self, new)
    }
    fn insert_campaign(&mut self, campaign: &CampaignRow) -> Result<CampaignRow, StoreError> {
        campaigns::insert_campaign(self, campaign)
    }
    fn update_campaign(&mut self, campaign: &CampaignRow) -> Result<(), StoreError> {
        campaigns::update_campaign(self, campaign)
    }
    fn delete_campaign(
        &mut self,
        workspace_id: WorkspaceId,
        id: CampaignId,
    ) -> Result<bool, StoreError> {
        campaigns::delete_campaign(self, workspace_id, id)
    }
    fn update_segment(&mut self, segment: &SegmentRow) -> Result<(), StoreError> {
        segments::update_segment(self, segment)
    }
    fn delete_segment(
        &mut self,
        workspace_id: WorkspaceId,
        id: SegmentId,
    ) -> Result<bool, StoreError> {
        segments::delete_segment(self, workspace_id, id)
    }
    fn purge_segment(&mut self, id: SegmentId, limit: usize) -> Result<bool, StoreError> {
        segments::purge_segment(self, id, limit)
    }
    fn backfill(&mut self, limit: usize) -> Result<bool, StoreError> {
        activities::backfill(self, limit)
    }
    fn append_engine_log(
        &mut self,
        workspace_id: WorkspaceId,
        inputs: &[u8],
    ) -> Result<herald_store::LogPosition, StoreError> {
        activities::append_engine_log(self, workspace_id, inputs)
    }
    fn trim_engine_log(&mut self, through: i64, limit: usize) -> Result<usize, StoreError> {
        activities::trim_engine_log(self, through, limit)
    }
    fn record_membership_changes(
        &mut self,
        workspace_id: WorkspaceId,
        changes: &[MembershipChange],
    ) -> Result<(), StoreError> {
        segments::record_membership_changes(self, workspace_id, changes)
    }
    fn announce(&mut self, change: herald_store::StoreChange) -> Result<(), StoreError> {
        crate::changes::notify(self, change)
    }
    fn ask_engines(
        &mut self,
        node: &str,
        body: &[u8],
        now: herald_domain::UnixSeconds,
    ) -> Result<i64, StoreError> {
        crate::questions::ask(self, node, body, now)
    }
    fn answer_engines(&mut self, question: i64, node: &str, body: &[u8]) -> Result<(), StoreError> {
        crate::questions::answer(self, question, node, body)
    }
    fn forget_engine_questions(
        &mut self,
        before: herald_domain::UnixSeconds,
    ) -> Result<usize, StoreError> {
        crate::questions::forget(self, before)
    }
    fn log_trim_point(
        &mut self,
        node: &str,
        position: i64,
        now: herald_domain::UnixSeconds,
    ) -> Result<i64, StoreError> {
        crate::leases::log_trim_point(self, node, position, now)
    }
    fn hold_leases(
        &mut self,
        node: &str,
        leases: &[herald_store::Lease],
    ) -> Result<Vec<herald_store::Lease>, StoreError> {
        crate::leases::hold(self, node, leases)
    }
    fn insert_run(&mut self, run: &RunRow) -> Result<RunRow, StoreError> {
        campaigns::insert_run(self, run)
    }
    fn update_run(&mut self, run: &RunRow) -> Result<(), StoreError> {
        campaigns::update_run(self, run)
    }
    fn forget_message(
        &mut self,
        run_id: RunId,
        trigger: &Value,
        delivery_id: &str,
        content: &Value,
    ) -> Result<(), StoreError> {
        campaigns::forget_message(self, run_id, trigger, delivery_id, content)
    }
    fn enroll_once(
        &mut self,
        workspace_id: WorkspaceId,
        campaign_id: CampaignId,
        person_seq: PersonSeq,
        now: UnixSeconds,
    ) -> Result<bool, StoreError> {
        campaigns::enroll_once(self, workspace_id, campaign_id, person_seq, now)
    }
    fn cancel_runs(
        &mut self,
        campaign_id: CampaignId,
        now: UnixSeconds,
    ) -> Result<u64, StoreError> {
        campaigns::cancel_runs(self, campaign_id, now)
    }
    fn insert_delivery(&mut self, delivery: &DeliveryRow) -> Result<(), StoreError> {
        campaigns::insert_delivery(self, delivery)
    }
    fn update_delivery(&mut self, delivery: &DeliveryRow) -> Result<(), StoreError> {
        campaigns::update_delivery(self, delivery)
    }
}
