//! Plain row types passed across the store boundary.

use herald_domain::{
    ActivityKind, CampaignId, PersonSeq, RunId, SegmentId, UnixSeconds, WorkspaceId,
};

use crate::{CampaignState, DeliveryStatus, RunState, SegmentState};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A workspace: one customer's isolated set of people, events and keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    pub site_id: String,
    pub created_at: UnixSeconds,
}

/// What creating a workspace stores. Keys are stored only as SHA-256 hashes.
#[derive(Debug, Clone)]
pub struct NewWorkspace {
    pub name: String,
    pub site_id: String,
    pub api_key_hash: String,
    pub app_api_key_hash: String,
    pub created_at: UnixSeconds,
}

/// A workspace together with the hash of its Track API key, for Basic authentication.
#[derive(Debug, Clone)]
pub struct WorkspaceCredentials {
    pub workspace: Workspace,
    pub api_key_hash: String,
}

/// A person's profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    /// The store's dense internal number for this person; never reused.
    pub seq: PersonSeq,
    pub workspace_id: WorkspaceId,
    /// Generated at creation, immutable, without the `cio_` prefix.
    pub cio_id: String,
    pub id: Option<String>,
    /// As last sent; lookups use its lowercase form.
    pub email: Option<String>,
    pub attributes: Map<String, Value>,
    pub created_at: UnixSeconds,
    pub updated_at: UnixSeconds,
}

impl Person {
    /// Returns the attributes segment conditions see: the stored ones plus the identifiers
    /// (`id`, `email`, `cio_id`).
    pub fn attributes_with_identifiers(&self) -> Map<String, Value> {
        let mut attributes = self.attributes.clone();
        attributes.insert("cio_id".into(), Value::String(self.cio_id.clone()));
        if let Some(id) = &self.id {
            attributes.insert("id".into(), Value::String(id.clone()));
        }
        if let Some(email) = &self.email {
            attributes.insert("email".into(), Value::String(email.clone()));
        }
        attributes
    }
}

/// What creating a person stores.
#[derive(Debug, Clone)]
pub struct NewPerson {
    pub workspace_id: WorkspaceId,
    pub cio_id: String,
    pub id: Option<String>,
    pub email: Option<String>,
    pub attributes: Map<String, Value>,
    pub created_at: UnixSeconds,
}

/// One entry to append to the activity log. Events are activities of kind event, page or screen.
#[derive(Debug, Clone)]
pub struct NewActivity {
    pub workspace_id: WorkspaceId,
    pub person_seq: Option<PersonSeq>,
    /// Set for anonymous events until they attach to a person.
    pub anonymous_id: Option<String>,
    pub kind: ActivityKind,
    pub name: Option<String>,
    pub data: Value,
    pub timestamp: UnixSeconds,
    pub received_at: UnixSeconds,
    /// The client's deduplication id (a ULID), for events.
    pub event_id: Option<String>,
    /// Whether this event may trigger campaigns (the 72-hour rule).
    pub may_trigger: bool,
}

/// What appending an activity did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// A new row with this sequence number.
    New(i64),
    /// An event with the same id was stored before; nothing changed.
    Duplicate,
}

/// A stored activity log entry with the identifiers of its person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Activity {
    pub seq: i64,
    pub person_seq: Option<PersonSeq>,
    pub anonymous_id: Option<String>,
    pub kind: String,
    pub name: Option<String>,
    pub data: Value,
    pub timestamp: UnixSeconds,
    pub received_at: UnixSeconds,
    pub event_id: Option<String>,
    pub may_trigger: bool,
    pub customer: Option<CustomerIdentifiers>,
}

/// The identifiers of a person as shown in API responses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerIdentifiers {
    pub id: Option<String>,
    pub email: Option<String>,
    pub cio_id: String,
}

/// A filter over the activity log, newest first.
#[derive(Debug, Clone)]
pub struct ActivityQuery {
    pub workspace_id: WorkspaceId,
    pub person_seq: Option<PersonSeq>,
    pub kind: Option<String>,
    pub name: Option<String>,
    /// Only entries with a smaller sequence number (the pagination cursor).
    pub before_seq: Option<i64>,
    /// Only entries stamped at or after this time.
    pub since: UnixSeconds,
    pub limit: usize,
}

/// A push device registered to a person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    /// The push token (`id` in v1, `token` in v2).
    pub token: String,
    pub platform: String,
    pub last_used: Option<UnixSeconds>,
    pub attributes: Map<String, Value>,
}

/// One row of the data index: an event name seen in a workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventIndexEntry {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub count: i64,
    pub first_seen: UnixSeconds,
    pub last_seen: UnixSeconds,
    pub attribute_keys: Vec<String>,
}

/// How many events of a name arrived with their time on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventDayCount {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Seconds since the epoch divided by 86,400.
    pub day: i64,
    pub count: i64,
}

/// A delivery metric or legacy push event reported to `/api/v1/metrics` or `/api/v1/push/events`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryMetric {
    /// `metrics` or `push_events`: which endpoint reported it.
    pub source: String,
    pub delivery_id: String,
    pub metric: String,
    pub timestamp: UnixSeconds,
    pub received_at: UnixSeconds,
    pub data: Value,
}

/// What one step of the retention setting dropped (`StoreTx::drop_events_before`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DroppedEvents {
    /// Events, page views and screen views deleted, of people and anonymous alike.
    pub deleted: u64,
    /// Each person who lost events, with the earliest timestamp of the events they keep.
    pub people: Vec<(PersonSeq, Option<UnixSeconds>)>,
    /// Whether the workspace holds activities past the step's range, for a next step.
    pub more: bool,
}

/// An event as the segment engine reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub person_seq: PersonSeq,
    /// `event`, `page` or `screen`.
    pub kind: String,
    pub name: String,
    pub timestamp: UnixSeconds,
    pub data: Value,
}

/// A stored segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentRow {
    pub id: SegmentId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub description: String,
    /// The definition as sent; `None` for a manual segment.
    pub definition: Option<Value>,
    pub state: SegmentState,
    pub progress: Option<i64>,
    pub created_at: UnixSeconds,
    pub updated_at: UnixSeconds,
}

/// What creating a segment stores.
#[derive(Debug, Clone)]
pub struct NewSegment {
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub description: String,
    pub definition: Option<Value>,
    pub state: SegmentState,
    pub now: UnixSeconds,
}

/// One entry into or exit from a segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MembershipChange {
    pub segment_id: SegmentId,
    pub person_seq: PersonSeq,
    pub entered: bool,
    pub at: UnixSeconds,
    pub cause: MembershipCause,
    /// Only live changes may trigger campaigns.
    pub origin: MembershipOrigin,
}

/// Why a membership changed. It serializes as the JSON that is stored and shown by the history
/// API and campaign triggers: `{"type":"event","name":…,"timestamp":…}`, `{"type":"deadline"}`, …
///
/// It is a plain enum rather than a JSON value because a storm of a million deadlines makes a
/// million of them on the segment engine's thread: as `serde_json` maps, allocated there and
/// freed on the writer's thread, they took more than half of that thread's time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MembershipCause {
    Event {
        name: String,
        timestamp: UnixSeconds,
    },
    AttributeChange,
    Deadline,
    Merge,
    Delete,
    Manual,
    Build,
}

/// Whether a membership change happened live or while a segment was built over history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MembershipOrigin {
    Live,
    Build,
}

impl MembershipOrigin {
    /// The stored name, the same as the serialized one.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Build => "build",
        }
    }

    /// Reads a stored name back.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "live" => Some(Self::Live),
            "build" => Some(Self::Build),
            _ => None,
        }
    }
}

/// A stored campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CampaignRow {
    pub id: CampaignId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    /// The validated campaign as sent.
    pub definition: Value,
    pub state: CampaignState,
    pub created_at: UnixSeconds,
    pub updated_at: UnixSeconds,
}

/// A run found due: what the dispatcher needs to claim it and to count it by its next step.
/// The run itself is read afresh when it is worked on, so a listing of hundreds of due runs
/// does not read and decode their triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueRun {
    pub id: RunId,
    pub campaign_id: CampaignId,
    /// The index of the run's next step.
    pub step: i64,
    /// When the run became due: with the id, its place in the queue, where a listing that
    /// goes on after it starts.
    pub due_at: UnixSeconds,
}

/// One person going through one campaign: the durable queue entry of the dispatcher.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRow {
    pub id: RunId,
    pub workspace_id: WorkspaceId,
    pub campaign_id: CampaignId,
    pub person_seq: PersonSeq,
    /// Unique per campaign, person and trigger; the idempotency keys of the run's messages
    /// derive from it.
    pub run_key: String,
    /// What started the run: `{"event": {…}}` or `{"segment": {…}}`.
    pub trigger: Value,
    /// The index of the next step to run.
    pub step: i64,
    /// When the next step is due.
    pub due_at: UnixSeconds,
    pub state: RunState,
    /// Failed attempts at the current step.
    pub attempts: i64,
    pub created_at: UnixSeconds,
    pub updated_at: UnixSeconds,
}

/// One message of one step of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryRow {
    pub id: String,
    pub workspace_id: WorkspaceId,
    pub campaign_id: CampaignId,
    pub run_id: RunId,
    pub person_seq: PersonSeq,
    pub step: i64,
    /// `webhook`, `email` or `push`.
    pub channel: String,
    pub status: DeliveryStatus,
    /// The rendered message.
    pub content: Value,
    pub idempotency_key: String,
    pub attempts: i64,
    pub error: Option<String>,
    pub created_at: UnixSeconds,
    pub updated_at: UnixSeconds,
    pub sent_at: Option<UnixSeconds>,
}

/// Which deliveries to list, newest first.
#[derive(Debug, Clone)]
pub struct DeliveryQuery {
    pub workspace_id: WorkspaceId,
    pub campaign_id: Option<CampaignId>,
    pub person_seq: Option<PersonSeq>,
    /// Only deliveries in this status.
    pub status: Option<DeliveryStatus>,
    /// The cursor: only deliveries that come after this one, given by its creation time and id,
    /// in the newest-first order.
    pub after: Option<(UnixSeconds, String)>,
    pub limit: i64,
}

/// A page of one person's deliveries, newest first (by creation time, then id): what
/// `GET /v1/customers/{id}/messages` lists.
#[derive(Debug, Clone)]
pub struct PersonDeliveryQuery {
    pub workspace_id: WorkspaceId,
    pub person_seq: PersonSeq,
    /// Only deliveries created at or after this time.
    pub created_from: Option<UnixSeconds>,
    /// Only deliveries created at or before this time.
    pub created_to: Option<UnixSeconds>,
    /// The cursor: only deliveries that come after this one, given by its creation time and id,
    /// in the newest-first order.
    pub after: Option<(UnixSeconds, String)>,
    pub limit: i64,
}

#[cfg(test)]
mod tests {
    use super::{MembershipCause, MembershipOrigin};
    use serde_json::json;

    /// The stored history and the history API show these shapes; rows written before causes
    /// were typed must still read back.
    #[test]
    fn membership_causes_keep_their_json() {
        let cases = [
            (
                MembershipCause::Event {
                    name: "purchased".into(),
                    timestamp: 1_700_000_000,
                },
                json!({"type": "event", "name": "purchased", "timestamp": 1_700_000_000}),
            ),
            (
                MembershipCause::AttributeChange,
                json!({"type": "attribute_change"}),
            ),
            (MembershipCause::Deadline, json!({"type": "deadline"})),
            (MembershipCause::Merge, json!({"type": "merge"})),
            (MembershipCause::Delete, json!({"type": "delete"})),
            (MembershipCause::Manual, json!({"type": "manual"})),
            (MembershipCause::Build, json!({"type": "build"})),
        ];
        for (cause, stored) in cases {
            assert_eq!(serde_json::to_value(&cause).expect("serializes"), stored);
            let read: MembershipCause = serde_json::from_value(stored).expect("parses");
            assert_eq!(read, cause);
        }
        for origin in [MembershipOrigin::Live, MembershipOrigin::Build] {
            assert_eq!(MembershipOrigin::parse(origin.as_str()), Some(origin));
            assert_eq!(
                serde_json::to_value(origin).expect("serializes"),
                json!(origin.as_str())
            );
        }
    }
}

/// A stored row whose JSON cannot be read back (`herald doctor`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CorruptRow {
    pub table: String,
    /// The row's key in its table (SQLite's rowid).
    pub row: i64,
    pub column: String,
    /// Why it cannot be read.
    pub error: String,
}

/// Someone who signs in to the web UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    /// Lowercase.
    pub email: String,
    /// Reaches every workspace.
    pub admin: bool,
    pub created_at: UnixSeconds,
}

/// What creating a user stores; the password only as an argon2 hash.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub password_hash: String,
    pub admin: bool,
    pub created_at: UnixSeconds,
}

/// A signed-in session, found by the SHA-256 of its cookie's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub token_hash: String,
    pub user_id: i64,
    /// The token every state-changing request of this session must carry.
    pub csrf_token: String,
    pub created_at: UnixSeconds,
    pub expires_at: UnixSeconds,
}
