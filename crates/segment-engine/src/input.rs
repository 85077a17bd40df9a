//! What the rest of Herald tells the engine: one value per committed change to a person.

use serde_json::{Map, Value};

use crate::engine::{Change, Engine};
use crate::history::EventRecord;
use crate::{PersonId, UnixSeconds};

/// A committed change to a person that the engine must see.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Input {
    /// The person was created or their attributes changed; `attributes` is the full new set.
    Person {
        person: PersonId,
        #[serde(with = "crate::json_text")]
        attributes: Map<String, Value>,
        first_seen: UnixSeconds,
    },
    /// New events of the person (one event, or anonymous history attached to them).
    Events {
        person: PersonId,
        events: Vec<EventRecord>,
    },
    /// The person was deleted or suppressed.
    Delete { person: PersonId },
    /// `secondary` was merged into `primary`.
    Merge {
        primary: PersonId,
        secondary: PersonId,
        moved: Vec<EventRecord>,
        #[serde(with = "crate::json_text")]
        attributes: Map<String, Value>,
    },
    /// Marks the inputs of a commit as history being imported (`herald import`): the
    /// membership changes they cause are stored with origin `Build`, so they start no campaign,
    /// as imported events are backfill by definition. It changes nothing in the engine. It is
    /// the last variant so that log entries written before it existed still decode.
    Backfill,
    /// The store dropped the person's events stamped before `before` (the retention setting);
    /// `earliest_event` is the earliest of the events it keeps, of any name.
    Forget {
        person: PersonId,
        before: UnixSeconds,
        earliest_event: Option<UnixSeconds>,
    },
}

/// Encodes a commit's inputs for the engine log.
pub fn encode(inputs: &[Input]) -> Vec<u8> {
    // Encoding plain values into memory cannot fail.
    postcard::to_stdvec(inputs).unwrap_or_default()
}

/// Decodes what `encode` made.
pub fn decode(bytes: &[u8]) -> Result<Vec<Input>, postcard::Error> {
    postcard::from_bytes(bytes)
}

impl Input {
    /// Applies this input to an engine at `now`.
    pub fn apply(&self, engine: &mut Engine, now: UnixSeconds) -> Vec<Change> {
        match self {
            Self::Person {
                person,
                attributes,
                first_seen,
            } => engine.upsert_person(*person, attributes.clone(), *first_seen, now),
            Self::Events { person, events } => {
                let mut changes = Vec::new();
                for event in events {
                    changes.extend(engine.add_event(*person, event, now));
                }
                changes
            }
            Self::Delete { person } => engine.remove_person(*person, now),
            Self::Merge {
                primary,
                secondary,
                moved,
                attributes,
            } => engine.merge(*primary, *secondary, moved, attributes.clone(), now),
            Self::Backfill => Vec::new(),
            Self::Forget {
                person,
                before,
                earliest_event,
            } => engine.forget_events_before(*person, *before, *earliest_event, now),
        }
    }
}

/// Applies one commit's inputs in order and returns the membership changes they cause; those
/// of a commit marked [`Input::Backfill`] carry origin `Build`.
pub fn apply_commit(inputs: &[Input], engine: &mut Engine, now: UnixSeconds) -> Vec<Change> {
    apply_commit_of(inputs, engine, now, &|_| true)
}

/// Applies what one commit's inputs do to the people `holds` says the engine holds, as
/// [`apply_commit`] does: an engine that holds only some people (a node's partitions) skips the
/// others. Of a merge whose primary it does not hold, it applies the secondary's half.
pub fn apply_commit_of(
    inputs: &[Input],
    engine: &mut Engine,
    now: UnixSeconds,
    holds: &dyn Fn(PersonId) -> bool,
) -> Vec<Change> {
    let mut changes = Vec::new();
    for input in inputs {
        match input {
            Input::Person { person, .. }
            | Input::Events { person, .. }
            | Input::Delete { person }
            | Input::Forget { person, .. } => {
                if holds(*person) {
                    changes.extend(input.apply(engine, now));
                }
            }
            Input::Merge {
                primary, secondary, ..
            } => {
                if holds(*primary) {
                    // A secondary the engine does not hold is not in it: its half does nothing.
                    changes.extend(input.apply(engine, now));
                } else if holds(*secondary) {
                    changes.extend(engine.merged_away(*secondary, now));
                }
            }
            Input::Backfill => {}
        }
    }
    if inputs.iter().any(|input| matches!(input, Input::Backfill)) {
        for change in &mut changes {
            change.origin = crate::Origin::Build;
        }
    }
    changes
}
