//! Forgetting a person's events older than a cutoff (the store's retention setting dropped
//! them): the person is reloaded from the events kept, so that every segment answers as it
//! would over the history that remains.

use super::{Change, Engine, Origin};
use crate::history::{EventRecord, PersonHistory};
use crate::{PersonId, UnixSeconds};

impl Engine {
    /// Forgets the person's events stamped before `before` and evaluates them again over the
    /// rest. `earliest_event` is the earliest timestamp among all of the person's events the
    /// store keeps, names no segment reads included (the profile's age counts them); it is
    /// used only when this engine was loaded from partial histories, since a complete engine
    /// knows every event itself. The changes carry origin `Build`: dropping old data is not
    /// something a person did, so it starts no campaign.
    pub fn forget_events_before(
        &mut self,
        person: PersonId,
        before: UnixSeconds,
        earliest_event: Option<UnixSeconds>,
        now: UnixSeconds,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        self.catch_up(person, now, &mut changes);
        let Some(state) = self.people.get(person) else {
            return changes;
        };
        // Nothing to do only when no event the engine holds is older, and neither is the
        // earliest it knows of: a partial history may count older events it does not hold.
        let older_held = state
            .events
            .all()
            .iter()
            .any(|event| event.timestamp < before);
        let older_counted = state
            .earliest_event
            .get()
            .is_some_and(|earliest| earliest < before);
        if !older_held && !older_counted {
            return changes;
        }
        let keys = self.events.keys();
        let events: Vec<EventRecord> = state
            .events
            .all()
            .iter()
            .filter(|event| event.timestamp >= before)
            .map(|event| {
                let (name, kind) = &keys[event.table as usize];
                EventRecord {
                    name: name.clone(),
                    kind: *kind,
                    timestamp: event.timestamp,
                    data: self.events.table(event.table).dict.get(event.data).clone(),
                }
            })
            .collect();
        let history = PersonHistory {
            attributes: self.attributes.person(state.ordinal),
            first_seen: state.first_seen,
            events,
            earliest_event: if self.partial { earliest_event } else { None },
        };
        let mut reloaded = Vec::new();
        self.load(person, &history, now, &mut reloaded);
        // A reload records its changes as a build's; they are what the forgetting changed.
        for change in &mut reloaded {
            change.origin = Origin::Build;
        }
        changes.extend(reloaded);
        changes
    }
}
