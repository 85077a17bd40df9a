//! The traits a storage backend implements.

use herald_domain::{
    CampaignId, Identifier, ObjectSeq, PersonSeq, RunId, SegmentId, UnixSeconds, WorkspaceId,
};
use serde_json::{Map, Value};

use crate::{
    Activity, ActivityQuery, Appended, CampaignRow, CorruptRow, DeliveryMetric, DeliveryQuery,
    DeliveryRow, DeliveryStatus, Device, DroppedEvents, DueRun, EventDayCount, EventIndexEntry,
    MembershipChange, NewActivity, NewObject, NewPerson, NewSegment, NewUser, NewWorkspace,
    ObjectRelationship, ObjectRow, ObjectTypeCount, PartitionSet, Person, PersonDeliveryQuery,
    PersonRelationship, RetiredKey, RunRow, SegmentRow, SessionRow, StoreError, StoredEvent, User,
    Workspace, WorkspaceCredentials, WorkspaceKey, WorkspacePurge,
};

/// A write job: runs inside the backend's current transaction and tells whether to keep its
/// changes and whom to tell once the transaction's fate is known.
pub enum WriteJob {
    /// A job run once, in a savepoint of its own.
    Once(OnceJob),
    /// A job that may be run again (see [`RepeatableJob`]).
    Repeatable(Box<dyn RepeatableJob>),
}

impl WriteJob {
    /// A job run once.
    pub fn once(job: impl FnOnce(&mut dyn StoreTx) -> JobOutcome + Send + 'static) -> Self {
        Self::Once(Box::new(job))
    }
}

/// A job that runs once: it tells whether to keep its changes and whom to tell of the commit.
pub type OnceJob = Box<dyn FnOnce(&mut dyn StoreTx) -> JobOutcome + Send>;

/// A write job that may be run more than once, so that the writer can run consecutive such
/// jobs in one savepoint instead of one each: SQLite copies every page a savepoint's jobs
/// change into that savepoint's journal, and the jobs of one transaction change the same few
/// pages (the log's last page, the queue's), so one savepoint per job copied them once per
/// job. When one job of such a group fails, the writer rolls the group back and runs each of
/// its jobs again in a savepoint of its own, so that the failure stays the failing job's.
///
/// A run may therefore be undone and repeated: it has no effect but on the transaction and on
/// what the job keeps for [`RepeatableJob::finish`] (which the next run replaces).
pub trait RepeatableJob: Send {
    /// Whether anybody still waits for the job; one nobody waits for is dropped unrun.
    fn wanted(&self) -> bool;
    /// Runs the job's writes and tells whether to keep them.
    fn run(&mut self, tx: &mut dyn StoreTx) -> bool;
    /// Called exactly once, after the transaction of the job's last run committed (`Ok`) or
    /// failed (`Err`).
    fn finish(self: Box<Self>, committed: Result<(), StoreError>);
}

/// A read job: runs against one read connection.
pub type ReadJob = Box<dyn FnOnce(&mut dyn StoreRead) + Send>;

/// What a write job returns to the backend.
pub struct JobOutcome {
    /// Keep the job's changes (true) or roll them back (false) while keeping the other jobs of
    /// the same transaction.
    pub keep: bool,
    /// Called exactly once, after the transaction committed (`Ok`) or failed (`Err`).
    pub on_commit: Box<dyn FnOnce(Result<(), StoreError>) + Send>,
}

/// A storage backend.
pub trait Store: Send + Sync {
    /// The queues of the store's one writer, which every backend runs (`group_commit`): what
    /// they promise about order, transactions and background work is stated there, once.
    fn write_queue(&self) -> &crate::group_commit::WriteQueue;

    /// Runs a read job on a reader; the job itself delivers its result.
    fn submit_read(&self, job: ReadJob) -> Result<(), StoreError>;

    /// Pins a read transaction on what is committed at the time of the call (every transaction
    /// that committed before it, none that commits after) and runs `job` on it, on a thread of
    /// its own, for long reads that must be ordered exactly against commits: called inside a
    /// write job, the read sees every transaction before that job's and none after, so whatever
    /// the write job tells others before it returns is ordered against every commit's hooks.
    /// The read holds no lock the writer waits for.
    fn pin_read(&self, job: ReadJob) -> Result<(), StoreError>;

    /// The claims on campaign runs this process makes (see [`crate::RunClaims`]): a store
    /// that several processes share overrides it; one that a single process owns need not.
    fn run_claims(&self) -> std::sync::Arc<dyn crate::RunClaims> {
        std::sync::Arc::new(crate::LocalClaims)
    }

    /// The leases on the segment engine's partitions (see [`crate::PartitionLeases`]): a
    /// store that several processes share overrides it; one that a single process owns need
    /// not (its process owns every partition).
    fn partition_leases(&self) -> std::sync::Arc<dyn crate::PartitionLeases> {
        std::sync::Arc::new(crate::LocalLeases)
    }

    /// What other processes on the same store changed (see [`crate::StoreChange`]); `None` for
    /// a store that one process owns, whose changes that process made itself.
    fn subscribe_changes(&self) -> Option<tokio::sync::broadcast::Receiver<crate::StoreChange>> {
        None
    }
}

/// Queries that read.
pub trait StoreRead {
    fn workspaces(&mut self) -> Result<Vec<Workspace>, StoreError>;
    fn workspace_by_site_id(
        &mut self,
        site_id: &str,
    ) -> Result<Option<WorkspaceCredentials>, StoreError>;
    fn workspace_by_app_key_hash(&mut self, hash: &str) -> Result<Option<Workspace>, StoreError>;
    /// Finds the workspace whose Data Pipelines write key has this SHA-256.
    fn workspace_by_write_key_hash(&mut self, hash: &str) -> Result<Option<Workspace>, StoreError>;
    /// Finds the key of this kind that a rotation replaced and whose SHA-256 is `hash`, of a
    /// workspace not marked deleted. It is kept until the next rotation of the same kind,
    /// expired or not, so that a server can say why it refuses it.
    fn retired_key(
        &mut self,
        key: WorkspaceKey,
        hash: &str,
    ) -> Result<Option<RetiredKey>, StoreError>;
    /// The workspaces marked deleted whose removal has not finished (`mark_workspace_deleted`),
    /// by id. `workspaces` and every lookup leave them out.
    fn deleted_workspaces(&mut self) -> Result<Vec<Workspace>, StoreError>;
    /// How many rows of a workspace each table holds, every table listed (with 0 when it holds
    /// none), in the order `purge_workspace` removes them: what deleting the workspace removes.
    fn workspace_rows(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<(&'static str, u64)>, StoreError>;

    /// Finds the live (not deleted) person with this identifier.
    fn person(
        &mut self,
        workspace_id: WorkspaceId,
        identifier: &Identifier,
    ) -> Result<Option<Person>, StoreError>;
    /// The number of the live person with this identifier, which is all an event needs of
    /// them. A writer that caches people answers it without copying the profile.
    fn person_seq(
        &mut self,
        workspace_id: WorkspaceId,
        identifier: &Identifier,
    ) -> Result<Option<PersonSeq>, StoreError> {
        Ok(self
            .person(workspace_id, identifier)?
            .map(|person| person.seq))
    }
    fn person_by_seq(
        &mut self,
        workspace_id: WorkspaceId,
        seq: PersonSeq,
    ) -> Result<Option<Person>, StoreError>;
    /// The `id` of each person in `seqs`, in order: `None` for one without an id, deleted or
    /// unknown. Reads only the id, for samples of people where the profile is not shown.
    fn person_ids(
        &mut self,
        workspace_id: WorkspaceId,
        seqs: &[PersonSeq],
    ) -> Result<Vec<Option<String>>, StoreError>;
    fn devices(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
    ) -> Result<Vec<Device>, StoreError>;
    /// Finds an object by its type and its `object_id`.
    fn object(
        &mut self,
        workspace_id: WorkspaceId,
        object_type_id: &str,
        object_id: &str,
    ) -> Result<Option<ObjectRow>, StoreError>;
    /// Finds an object by its `cio_object_id`, which is unique in its workspace.
    fn object_by_cio_id(
        &mut self,
        workspace_id: WorkspaceId,
        cio_object_id: &str,
    ) -> Result<Option<ObjectRow>, StoreError>;
    /// The objects of one type, in the order they were created, after the object `after`, at
    /// most `limit`.
    fn objects_of_type(
        &mut self,
        workspace_id: WorkspaceId,
        object_type_id: &str,
        after: Option<ObjectSeq>,
        limit: usize,
    ) -> Result<Vec<ObjectRow>, StoreError>;
    /// The object types a workspace has objects of, with their counts, by type id.
    fn object_types(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<ObjectTypeCount>, StoreError>;
    /// A person's relationships, in object order, after the object `after`, at most `limit`.
    fn person_relationships(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
        after: Option<ObjectSeq>,
        limit: usize,
    ) -> Result<Vec<PersonRelationship>, StoreError>;
    /// Every relationship of a workspace's people, by person and then object: what the
    /// segment engine loads at start.
    fn workspace_relationships(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<(PersonSeq, PersonRelationship)>, StoreError>;
    /// An object's relationships to live people, in person order, after the person `after`, at
    /// most `limit`.
    fn object_relationships(
        &mut self,
        workspace_id: WorkspaceId,
        object_seq: ObjectSeq,
        after: Option<PersonSeq>,
        limit: usize,
    ) -> Result<Vec<ObjectRelationship>, StoreError>;
    fn activities(&mut self, query: &ActivityQuery) -> Result<Vec<Activity>, StoreError>;
    fn event_index(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<EventIndexEntry>, StoreError>;
    /// Each event name's count per UTC day (by the event's own time) for the days `from_day`
    /// to `to_day` (day numbers: seconds since the epoch divided by 86,400), oldest first.
    fn event_days(
        &mut self,
        workspace_id: WorkspaceId,
        from_day: i64,
        to_day: i64,
    ) -> Result<Vec<EventDayCount>, StoreError>;
    fn is_suppressed(
        &mut self,
        workspace_id: WorkspaceId,
        identifier: &Identifier,
    ) -> Result<bool, StoreError>;
    /// Returns the person an anonymous id was last attached to, and when.
    fn anonymous_link(
        &mut self,
        workspace_id: WorkspaceId,
        anonymous_id: &str,
    ) -> Result<Option<(PersonSeq, UnixSeconds)>, StoreError>;
    fn delivery_metrics(&mut self, delivery_id: &str) -> Result<Vec<DeliveryMetric>, StoreError>;
    fn setting(&mut self, key: &str) -> Result<Option<String>, StoreError>;
    /// A question asked of the engines (`StoreTx::ask_engines`): the node that asked and the
    /// body; `None` once forgotten, and always for a store that one process owns.
    fn engine_question(&mut self, id: i64) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let _ = id;
        Ok(None)
    }
    /// The answers to a question so far, by node.
    fn engine_answers(&mut self, question: i64) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let _ = question;
        Ok(Vec::new())
    }

    /// Returns every live person of a workspace, by seq.
    fn live_people(&mut self, workspace_id: WorkspaceId) -> Result<Vec<Person>, StoreError>;
    /// Returns every event of the live people of a workspace, by person then time.
    fn events_of_live_people(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<StoredEvent>, StoreError>;
    /// Calls `each` with every live person of a workspace whose partition is in `partitions`
    /// and their events (`event`, `page`, `screen`) in time order (arrival order within a
    /// second), people by seq, one person at a time, so that a history larger than memory can
    /// be read; stops early when `each` returns false. A node that owns some partitions loads
    /// just their people.
    fn for_each_history(
        &mut self,
        workspace_id: WorkspaceId,
        partitions: &PartitionSet,
        each: &mut dyn FnMut(Person, Vec<StoredEvent>) -> bool,
    ) -> Result<(), StoreError>;
    /// Calls `each` with every engine log entry after `after` (position, workspace, encoded
    /// inputs), in order; stops early when `each` returns false.
    fn engine_log_after(
        &mut self,
        after: i64,
        each: &mut dyn FnMut(i64, WorkspaceId, Vec<u8>) -> bool,
    ) -> Result<(), StoreError>;
    /// The position the engine log was last trimmed to (0 if never): an image written before
    /// it cannot catch up from the log.
    fn engine_log_trimmed(&mut self) -> Result<i64, StoreError>;
    /// The last position ever given to an engine log entry (0 if none), trimmed or not.
    fn engine_log_end(&mut self) -> Result<i64, StoreError>;
    /// Returns every event of one person, by time.
    fn events_of_person(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
    ) -> Result<Vec<StoredEvent>, StoreError>;
    fn segments(&mut self, workspace_id: WorkspaceId) -> Result<Vec<SegmentRow>, StoreError>;
    fn campaigns(&mut self, workspace_id: WorkspaceId) -> Result<Vec<CampaignRow>, StoreError>;
    fn campaign(
        &mut self,
        workspace_id: WorkspaceId,
        id: CampaignId,
    ) -> Result<Option<CampaignRow>, StoreError>;
    fn segment(
        &mut self,
        workspace_id: WorkspaceId,
        id: SegmentId,
    ) -> Result<Option<SegmentRow>, StoreError>;
    /// Returns the stored members of every segment of a workspace as (segment, person) pairs.
    fn segment_members(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<(SegmentId, PersonSeq)>, StoreError>;
    /// Returns the deleted segments whose members and history are not all removed yet.
    fn segment_purges(&mut self) -> Result<Vec<SegmentId>, StoreError>;
    /// A workspace's keys as sealed by the server, if it keeps them (see `set_workspace_keys`).
    fn workspace_keys_sealed(
        &mut self,
        workspace_id: WorkspaceId,
    ) -> Result<Option<String>, StoreError>;
    /// A campaign's outcomes per UTC day (day numbers: seconds since the epoch divided by
    /// 86,400) from `since` on, as (day, outcome, count): `triggered` (runs started), `sent`,
    /// `failed` (deliveries given up on, by when) and the `delivered`, `opened` and `clicked`
    /// metrics (deliveries, each once a day, by the metric's time).
    fn campaign_days(
        &mut self,
        workspace_id: WorkspaceId,
        campaign_id: CampaignId,
        since: UnixSeconds,
    ) -> Result<Vec<(i64, String, i64)>, StoreError>;
    /// How many of a campaign's messages were sent from `since` on.
    fn campaign_sent_since(
        &mut self,
        workspace_id: WorkspaceId,
        campaign_id: CampaignId,
        since: UnixSeconds,
    ) -> Result<i64, StoreError>;
    /// Tells whether a person went through a campaign whose frequency is `once`.
    fn is_enrolled(
        &mut self,
        campaign_id: CampaignId,
        person_seq: PersonSeq,
    ) -> Result<bool, StoreError>;
    /// A segment's entries and exits per UTC day from day `from_day` on (day numbers: seconds
    /// since the epoch divided by 86,400), oldest first: `(day, entered, exited)`.
    fn segment_days(
        &mut self,
        segment_id: SegmentId,
        from_day: i64,
    ) -> Result<Vec<(i64, i64, i64)>, StoreError>;
    /// Returns a person's entries into and exits from a segment, oldest first.
    fn segment_history(
        &mut self,
        segment_id: SegmentId,
        person_seq: PersonSeq,
    ) -> Result<Vec<MembershipChange>, StoreError>;

    /// Returns up to `limit` active runs due at `now` whose campaign is running, oldest due
    /// first (by due time, then id), leaving out the runs in `skip` (those the caller is
    /// already working on) and, given `after`, every run up to and including it in that order:
    /// a dispatcher goes on from its last listing without reading again the runs it took then.
    fn due_runs(
        &mut self,
        now: UnixSeconds,
        limit: i64,
        skip: &[RunId],
        after: Option<DueRun>,
    ) -> Result<Vec<DueRun>, StoreError>;
    fn run(&mut self, id: RunId) -> Result<Option<RunRow>, StoreError>;
    /// Returns a workspace's runs of one campaign, oldest first.
    fn runs_of_campaign(
        &mut self,
        workspace_id: WorkspaceId,
        campaign_id: CampaignId,
    ) -> Result<Vec<RunRow>, StoreError>;
    fn delivery(&mut self, id: &str) -> Result<Option<DeliveryRow>, StoreError>;
    /// Returns a delivery's status, without reading (and decoding) its content.
    fn delivery_status(&mut self, id: &str) -> Result<Option<DeliveryStatus>, StoreError>;
    /// Returns the delivery a run made at one step, if it made one.
    fn delivery_of_step(
        &mut self,
        run_id: RunId,
        step: i64,
    ) -> Result<Option<DeliveryRow>, StoreError>;
    fn deliveries(&mut self, query: &DeliveryQuery) -> Result<Vec<DeliveryRow>, StoreError>;
    /// One person's deliveries, newest first by creation time then id, within the query's
    /// window and after its cursor.
    fn person_deliveries(
        &mut self,
        query: &PersonDeliveryQuery,
    ) -> Result<Vec<DeliveryRow>, StoreError>;
    /// Counts a campaign's deliveries by what happened to them: `sent`, `failed`, `queued`,
    /// and each reported metric (`opened`, `clicked`, …) as distinct deliveries.
    fn campaign_metrics(
        &mut self,
        workspace_id: WorkspaceId,
        campaign_id: CampaignId,
    ) -> Result<Vec<(String, i64)>, StoreError>;
    /// Up to `limit` live people of a workspace with an internal number below `before` (from
    /// the newest when `None`), newest first.
    fn people_page(
        &mut self,
        workspace_id: WorkspaceId,
        before: Option<PersonSeq>,
        limit: usize,
    ) -> Result<Vec<Person>, StoreError>;
    /// Up to `limit` live people of a workspace with an internal number above `after` (from
    /// the oldest when `None`), oldest first: a scan of a whole workspace, a page at a time.
    fn people_after(
        &mut self,
        workspace_id: WorkspaceId,
        after: Option<PersonSeq>,
        limit: usize,
    ) -> Result<Vec<Person>, StoreError>;
    /// Up to `limit` live people whose id, or email in lowercase, starts with `prefix`.
    fn search_people(
        &mut self,
        workspace_id: WorkspaceId,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Person>, StoreError>;
    /// How many web UI users exist (none: the first start offers to create one).
    fn users_count(&mut self) -> Result<i64, StoreError>;
    /// A user by email (compared in lowercase) with their password's argon2 hash.
    fn user_by_email(&mut self, email: &str) -> Result<Option<(User, String)>, StoreError>;
    /// The unexpired session with this token hash, and its user.
    fn session(
        &mut self,
        token_hash: &str,
        now: UnixSeconds,
    ) -> Result<Option<(SessionRow, User)>, StoreError>;
    /// The workspaces a user reaches: every one for an admin, else those granted.
    fn user_workspaces(&mut self, user_id: i64) -> Result<Vec<Workspace>, StoreError>;
    /// Lists stored rows whose JSON cannot be read back, at most `limit` (for `herald doctor`).
    /// Reads every row of every table that holds JSON, so it takes a while on a large store.
    fn corrupt_rows(&mut self, limit: usize) -> Result<Vec<CorruptRow>, StoreError>;
}

/// Queries that write, inside the writer's transaction.
pub trait StoreTx: StoreRead {
    /// Creates a workspace; a duplicate name or site id is a [`StoreError::Conflict`].
    fn create_workspace(&mut self, new: &NewWorkspace) -> Result<Workspace, StoreError>;

    /// Creates a web UI user; a duplicate email is a [`StoreError::Conflict`].
    fn insert_user(&mut self, new: &NewUser) -> Result<User, StoreError>;
    /// Lets a user reach a workspace.
    fn grant_workspace(
        &mut self,
        user_id: i64,
        workspace_id: WorkspaceId,
    ) -> Result<(), StoreError>;
    /// Stores a new session (and removes the expired ones).
    fn insert_session(&mut self, session: &SessionRow) -> Result<(), StoreError>;
    /// Ends a session; returns whether it existed.
    fn delete_session(&mut self, token_hash: &str) -> Result<bool, StoreError>;

    /// Removes a row [`StoreRead::corrupt_rows`] listed, if it still cannot be read: a person
    /// keeps their profile with empty attributes, a segment or campaign goes with what belongs
    /// to it, any other row is deleted. Returns whether anything changed.
    fn remove_corrupt_row(&mut self, row: &CorruptRow) -> Result<bool, StoreError>;

    fn insert_person(&mut self, new: &NewPerson) -> Result<Person, StoreError>;
    /// Saves a person's identifiers, attributes and `updated_at`.
    fn update_person(&mut self, person: &Person) -> Result<(), StoreError>;
    /// Marks a person deleted and frees their identifiers for a new profile; their devices,
    /// anonymous links and relationships go with them.
    fn delete_person(
        &mut self,
        workspace_id: WorkspaceId,
        seq: PersonSeq,
        now: UnixSeconds,
    ) -> Result<(), StoreError>;

    /// Appends an activity; an event whose id was seen before is not stored again.
    fn append_activity(&mut self, new: &NewActivity) -> Result<Appended, StoreError>;
    /// Attaches unattached anonymous events received since `since` to a person. An attached
    /// event keeps its permission to trigger only if `now` is within `trigger_window` of its
    /// timestamp. Returns the attached events.
    fn attach_anonymous(
        &mut self,
        workspace_id: WorkspaceId,
        anonymous_id: &str,
        person_seq: PersonSeq,
        since: UnixSeconds,
        now: UnixSeconds,
        trigger_window: i64,
    ) -> Result<Vec<StoredEvent>, StoreError>;
    fn set_anonymous_link(
        &mut self,
        workspace_id: WorkspaceId,
        anonymous_id: &str,
        person_seq: PersonSeq,
        now: UnixSeconds,
    ) -> Result<(), StoreError>;
    /// Moves a person's events stamped at or after `since` to another person; moved events may
    /// never trigger. Returns the moved events.
    fn move_events(
        &mut self,
        workspace_id: WorkspaceId,
        from_seq: PersonSeq,
        to_seq: PersonSeq,
        since: UnixSeconds,
    ) -> Result<Vec<StoredEvent>, StoreError>;
    /// Deletes anonymous events never attached and received before `before`.
    fn purge_anonymous(&mut self, before: UnixSeconds) -> Result<u64, StoreError>;
    /// Deletes the workspace's events, page views and screen views stamped before `before`
    /// among its activities with a sequence number in `(after_seq, until_seq]`, a range a step
    /// of the retention setting bounds so that no step reads much; says who lost events and
    /// what they keep, and whether activities lie past the range.
    fn drop_events_before(
        &mut self,
        workspace_id: WorkspaceId,
        before: UnixSeconds,
        after_seq: i64,
        until_seq: i64,
    ) -> Result<DroppedEvents, StoreError>;

    /// Adds or replaces a device; a token belongs to one person at a time.
    fn upsert_device(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
        device: &Device,
    ) -> Result<(), StoreError>;
    fn delete_device(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
        token: &str,
    ) -> Result<bool, StoreError>;
    fn insert_object(&mut self, new: &NewObject) -> Result<ObjectRow, StoreError>;
    /// Saves an object's attributes and `updated_at`.
    fn update_object(&mut self, object: &ObjectRow) -> Result<(), StoreError>;
    /// Keeps an anonymous visitor's relationship to an object (replacing its attributes) until
    /// an identify with the anonymous id takes it.
    fn save_anonymous_relationship(
        &mut self,
        workspace_id: WorkspaceId,
        anonymous_id: &str,
        object_seq: ObjectSeq,
        attributes: &Map<String, Value>,
        now: UnixSeconds,
    ) -> Result<(), StoreError>;
    /// Removes and returns the relationships kept for an anonymous id, with their objects, in
    /// object order.
    fn take_anonymous_relationships(
        &mut self,
        workspace_id: WorkspaceId,
        anonymous_id: &str,
    ) -> Result<Vec<PersonRelationship>, StoreError>;
    /// Deletes an object and its relationships, those kept for anonymous ids included.
    fn delete_object(
        &mut self,
        workspace_id: WorkspaceId,
        object_seq: ObjectSeq,
    ) -> Result<(), StoreError>;
    /// Creates a person's relationship to an object, or replaces its attributes.
    fn save_relationship(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
        object_seq: ObjectSeq,
        attributes: &Map<String, Value>,
        now: UnixSeconds,
    ) -> Result<(), StoreError>;
    /// Removes a person's relationship to an object; returns whether there was one.
    fn delete_relationship(
        &mut self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
        object_seq: ObjectSeq,
    ) -> Result<bool, StoreError>;
    /// Gives `to_seq` the relationships of `from_seq` it does not have (a merge); a
    /// relationship both have keeps `to_seq`'s attributes. `from_seq` keeps none.
    fn move_relationships(
        &mut self,
        workspace_id: WorkspaceId,
        from_seq: PersonSeq,
        to_seq: PersonSeq,
    ) -> Result<(), StoreError>;
    fn move_devices(
        &mut self,
        workspace_id: WorkspaceId,
        from_seq: PersonSeq,
        to_seq: PersonSeq,
    ) -> Result<(), StoreError>;

    fn suppress(
        &mut self,
        workspace_id: WorkspaceId,
        identifier: &Identifier,
        now: UnixSeconds,
    ) -> Result<(), StoreError>;
    /// Frees a suppressed identifier; returns whether it was suppressed.
    fn unsuppress(
        &mut self,
        workspace_id: WorkspaceId,
        identifier: &Identifier,
    ) -> Result<bool, StoreError>;

    fn insert_delivery_metric(&mut self, metric: &DeliveryMetric) -> Result<(), StoreError>;

    /// Counts an event in the data index.
    fn note_event(
        &mut self,
        workspace_id: WorkspaceId,
        kind: &str,
        name: &str,
        timestamp: UnixSeconds,
        data: &Map<String, Value>,
    ) -> Result<(), StoreError>;

    fn set_setting(&mut self, key: &str, value: &str) -> Result<(), StoreError>;
    /// Keeps a workspace's keys sealed (encrypted by the caller, with a key the store never
    /// holds) beside their hashes, so the web UI can show them.
    fn set_workspace_keys(
        &mut self,
        workspace_id: WorkspaceId,
        sealed: &str,
    ) -> Result<(), StoreError>;
    /// Gives a workspace its Data Pipelines write key (as its SHA-256), when it has none yet:
    /// returns `false`, changing nothing, when it already has one, which only `rotate_key`
    /// replaces (keeping the old one for its grace, and telling servers that cache keys).
    fn set_write_key_hash(
        &mut self,
        workspace_id: WorkspaceId,
        hash: &str,
    ) -> Result<bool, StoreError>;
    /// Replaces a workspace's key of kind `key` by the one whose SHA-256 is `hash`. The replaced
    /// key becomes the workspace's retired key of that kind, accepted until `expires_at`; one
    /// retired before is dropped at once. The credentials version changes, so that servers drop
    /// the keys they cached. Returns `false`, changing nothing, when the workspace is marked
    /// deleted or gone, or has no key of that kind (a write key never given).
    fn rotate_key(
        &mut self,
        workspace_id: WorkspaceId,
        key: WorkspaceKey,
        hash: &str,
        now: UnixSeconds,
        expires_at: UnixSeconds,
    ) -> Result<bool, StoreError>;
    /// Marks a workspace deleted: from this transaction on, `workspaces`, the `workspace_by_*`
    /// lookups, `retired_key` and `user_workspaces` leave it out, and the credentials version
    /// changes. Its rows are removed afterwards, a step at a time (`purge_workspace`), and the
    /// workspace itself last (`remove_workspace`). Returns whether the workspace exists (marked
    /// now or before).
    fn mark_workspace_deleted(
        &mut self,
        workspace_id: WorkspaceId,
        now: UnixSeconds,
    ) -> Result<bool, StoreError>;
    /// Removes up to about `limit` rows of a workspace marked deleted, from the first part of the
    /// purge at or after `from` that has any left; answers `None` once no part has any. The
    /// caller passes the answer's `next` as the following step's `from`, so that parts found
    /// empty are not looked at again. A workspace not marked deleted is a
    /// [`StoreError::Conflict`], changing nothing.
    fn purge_workspace(
        &mut self,
        workspace_id: WorkspaceId,
        from: usize,
        limit: usize,
    ) -> Result<Option<WorkspacePurge>, StoreError>;
    /// Removes a workspace marked deleted whose rows `purge_workspace` removed: its row and its
    /// retired keys. The credentials version changes. Returns whether it was there; one not
    /// marked deleted is a [`StoreError::Conflict`].
    fn remove_workspace(&mut self, workspace_id: WorkspaceId) -> Result<bool, StoreError>;

    fn insert_segment(&mut self, new: &NewSegment) -> Result<SegmentRow, StoreError>;
    /// Stores a new campaign; the row's `id` is ignored and the stored row is returned.
    fn insert_campaign(&mut self, campaign: &CampaignRow) -> Result<CampaignRow, StoreError>;
    /// Saves a campaign's name, definition, state and `updated_at`.
    fn update_campaign(&mut self, campaign: &CampaignRow) -> Result<(), StoreError>;
    fn delete_campaign(
        &mut self,
        workspace_id: WorkspaceId,
        id: CampaignId,
    ) -> Result<bool, StoreError>;
    /// Saves a segment's name, description, definition, state, progress and `updated_at`.
    fn update_segment(&mut self, segment: &SegmentRow) -> Result<(), StoreError>;
    /// Deletes a segment. Its members and history stop counting at once and are removed later,
    /// in steps, by `purge_segment` (the segment is listed by `segment_purges` until then).
    fn delete_segment(
        &mut self,
        workspace_id: WorkspaceId,
        id: SegmentId,
    ) -> Result<bool, StoreError>;
    /// Removes up to `limit` member rows and `limit` history rows of a deleted segment; returns
    /// whether any are left. Once none are, the segment leaves `segment_purges`.
    fn purge_segment(&mut self, id: SegmentId, limit: usize) -> Result<bool, StoreError>;
    /// Fills up to `limit` source rows' worth of derived tables (day counts) that a migration
    /// left to fill in the background; returns whether any of that work is left. A backend
    /// without such work answers `false`.
    fn backfill(&mut self, limit: usize) -> Result<bool, StoreError>;
    /// Appends what a commit tells the segment engine (encoded by the caller) to the engine log;
    /// returns its position, known once the transaction committed, which grows with commit
    /// order (across every writer on the store) and is never reused.
    fn append_engine_log(
        &mut self,
        workspace_id: WorkspaceId,
        inputs: &[u8],
    ) -> Result<crate::LogPosition, StoreError>;
    /// Removes up to `limit` engine log entries at or before `through`, and records `through`
    /// as the position the log is trimmed to; returns how many it removed.
    fn trim_engine_log(&mut self, through: i64, limit: usize) -> Result<usize, StoreError>;
    /// Tells the other processes sharing the store of `change` when this transaction commits
    /// (see [`crate::StoreChange`]); a store that one process owns has nobody to tell.
    fn announce(&mut self, change: crate::StoreChange) -> Result<(), StoreError> {
        let _ = change;
        Ok(())
    }
    /// Asks the other nodes' engines a question (`body`, the segments crate's encoding) on
    /// behalf of `node` at `now`, and announces it; returns its id. A store that one process
    /// owns has no other engine to ask.
    fn ask_engines(
        &mut self,
        node: &str,
        body: &[u8],
        now: UnixSeconds,
    ) -> Result<i64, StoreError> {
        let _ = (node, body, now);
        Err(StoreError::Backend(
            "a store that one process owns has no other engine to ask".into(),
        ))
    }
    /// Stores `node`'s answer to question `question` (a second answer of the same node is
    /// ignored), and announces it.
    fn answer_engines(&mut self, question: i64, node: &str, body: &[u8]) -> Result<(), StoreError> {
        let _ = (question, node, body);
        Err(StoreError::Backend(
            "a store that one process owns has no other engine to answer".into(),
        ))
    }
    /// Removes the questions asked before `before`, with their answers; returns how many.
    fn forget_engine_questions(&mut self, before: UnixSeconds) -> Result<usize, StoreError> {
        let _ = before;
        Ok(0)
    }
    /// Records that `node` needs no engine-log entry up to `position` any more (its image holds
    /// them), and answers up to where the log may be trimmed: the smallest such position of
    /// the nodes live at `now`. A store that one process owns answers `position`.
    fn log_trim_point(
        &mut self,
        node: &str,
        position: i64,
        now: UnixSeconds,
    ) -> Result<i64, StoreError> {
        let _ = (node, now);
        Ok(position)
    }
    /// Answers which of `leases` `node` still holds (same partition, same epoch), and keeps
    /// those from changing owner until this transaction ends: the fence on what an owner stores
    /// for its partitions, against one that lost them without noticing (see
    /// [`crate::PartitionLeases`]). A store that one process owns holds every lease.
    fn hold_leases(
        &mut self,
        node: &str,
        leases: &[crate::Lease],
    ) -> Result<Vec<crate::Lease>, StoreError> {
        let _ = node;
        Ok(leases.to_vec())
    }
    /// Stores membership changes of one workspace's segments: updates the members and appends
    /// to the history.
    fn record_membership_changes(
        &mut self,
        workspace_id: WorkspaceId,
        changes: &[MembershipChange],
    ) -> Result<(), StoreError>;

    /// Stores a new run; the row's `id` is ignored and the stored row is returned.
    fn insert_run(&mut self, run: &RunRow) -> Result<RunRow, StoreError>;
    /// Saves a run's step, due time, state, attempts and `updated_at`, if it is still active
    /// (a run cancelled meanwhile stays cancelled).
    fn update_run(&mut self, run: &RunRow) -> Result<(), StoreError>;
    /// Replaces a run's trigger and one of its deliveries' content, whatever their states: a
    /// transactional send that asked not to retain its message keeps only what identifies it
    /// once the message went.
    fn forget_message(
        &mut self,
        run_id: RunId,
        trigger: &Value,
        delivery_id: &str,
        content: &Value,
    ) -> Result<(), StoreError>;
    /// Records that a person entered a `once` campaign; returns false if they had before.
    fn enroll_once(
        &mut self,
        workspace_id: WorkspaceId,
        campaign_id: CampaignId,
        person_seq: PersonSeq,
        now: UnixSeconds,
    ) -> Result<bool, StoreError>;
    /// Cancels a campaign's active runs (the campaign was deleted or archived).
    fn cancel_runs(&mut self, campaign_id: CampaignId, now: UnixSeconds)
    -> Result<u64, StoreError>;
    fn insert_delivery(&mut self, delivery: &DeliveryRow) -> Result<(), StoreError>;
    /// Saves a delivery's status, attempts, error, `updated_at` and `sent_at`.
    fn update_delivery(&mut self, delivery: &DeliveryRow) -> Result<(), StoreError>;
}
