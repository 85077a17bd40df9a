//! What ingest tells campaigns: the events of identified people that may start a run.
//!
//! Campaigns come after ingest in the pipeline, so ingest only defines the seam: an
//! [`EventTriggers`] given to [`crate::Ingest`] runs inside the same write job as the events,
//! which makes a started run commit (or roll back) together with the event that started it.

use herald_domain::{PersonSeq, UnixSeconds, WorkspaceId};
use herald_store::{StoreError, StoreTx};
use serde_json::{Map, Value};

/// Why an event may not start anything although it is stored and counted by segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoTrigger {
    /// Stamped more than 72 hours before it was received (a backfill).
    Backfilled,
    /// An anonymous event attached to its person more than 72 hours after its timestamp.
    AttachedLate,
}

impl NoTrigger {
    /// The reason, as the activity log shows it.
    pub fn message(self) -> &'static str {
        match self {
            Self::Backfilled => {
                "the event is stamped more than 72 hours before it was received, so it starts no campaign"
            }
            Self::AttachedLate => {
                "the anonymous event was attached to the person more than 72 hours after its timestamp, so it starts no campaign"
            }
        }
    }
}

/// The [`TriggerEvent::kind`] of a change of an object or of a person's relationship to one.
/// Its name is the change (`updated`, `added`, `changed`, `removed`) and its data says what
/// changed: `object_type_id`, `object_id`, `cio_object_id`, `object` (the object's attributes
/// after the change) and `relationship` (the relationship's attributes; those it had when it
/// ended, for `removed`).
pub const OBJECT_CHANGE: &str = "object";

/// A new event of an identified person, or a change of an object or relationship that
/// concerns them. Events merged in from another profile are never listed: they may not
/// trigger and need no explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerEvent {
    pub person_seq: PersonSeq,
    /// `event`, `page` or `screen`, or [`OBJECT_CHANGE`].
    pub kind: &'static str,
    pub name: String,
    pub timestamp: UnixSeconds,
    pub data: Map<String, Value>,
    /// `None` when the event may trigger (the 72-hour rule), else why not.
    pub blocked: Option<NoTrigger>,
}

/// Starts campaign runs for new events.
pub trait EventTriggers: Send + Sync {
    /// Runs inside the ingest write job, after the operations were applied; answers whether
    /// it started a run.
    fn on_events(
        &self,
        tx: &mut dyn StoreTx,
        workspace_id: WorkspaceId,
        events: &[TriggerEvent],
        now: UnixSeconds,
    ) -> Result<bool, StoreError>;

    /// Called once the transaction of a job whose `on_events` started a run committed, so that
    /// the new runs start at once. (Waking the dispatcher after every event made it read the
    /// due runs hundreds of times a second under ingest with no campaign running.)
    fn committed(&self);
}
