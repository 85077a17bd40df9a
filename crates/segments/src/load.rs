//! Reading what the engine needs from the store.

use std::collections::{BTreeMap, BTreeSet};

use herald_segment_engine::{EventRecord, PersonHistory, PersonId};
use herald_store::{StoreError, StoreRead, StoredEvent};

pub(crate) fn engine_event(event: StoredEvent) -> EventRecord {
    EventRecord::from_parts(event.name, &event.kind, event.timestamp, event.data)
}

/// Reads the history of every live person of a workspace. With `names`, only events of those
/// names are read, plus each person's earliest event time for the profile age: a segment build
/// needs no more, and reading every event of a large workspace into memory would not fit.
pub fn histories(
    reader: &mut dyn StoreRead,
    workspace_id: i64,
    names: Option<&BTreeSet<String>>,
) -> Result<Vec<(PersonId, PersonHistory)>, StoreError> {
    let mut by_person: BTreeMap<PersonId, PersonHistory> = BTreeMap::new();
    for person in reader.live_people(workspace_id)? {
        by_person.insert(
            person.seq,
            PersonHistory {
                attributes: person.attributes_with_identifiers(),
                first_seen: person.created_at,
                events: Vec::new(),
                earliest_event: None,
            },
        );
    }
    let events = match names {
        None => reader.events_of_live_people(workspace_id)?,
        Some(names) => {
            for (person, earliest) in reader.earliest_events(workspace_id)? {
                if let Some(history) = by_person.get_mut(&person) {
                    history.earliest_event = Some(earliest);
                }
            }
            let names: Vec<String> = names.iter().cloned().collect();
            reader.events_of_live_people_named(workspace_id, &names)?
        }
    };
    for event in events {
        if let Some(history) = by_person.get_mut(&event.person_seq) {
            history.events.push(engine_event(event));
        }
    }
    Ok(by_person.into_iter().collect())
}

/// Reads one live person's full history, or `None` if the person is not live.
pub fn history_of(
    reader: &mut dyn StoreRead,
    workspace_id: i64,
    person_seq: PersonId,
) -> Result<Option<PersonHistory>, StoreError> {
    let Some(person) = reader.person_by_seq(workspace_id, person_seq)? else {
        return Ok(None);
    };
    let events = reader
        .events_of_person(workspace_id, person_seq)?
        .into_iter()
        .map(engine_event)
        .collect();
    Ok(Some(PersonHistory {
        attributes: person.attributes_with_identifiers(),
        first_seen: person.created_at,
        events,
        earliest_event: None,
    }))
}
