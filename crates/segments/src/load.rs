//! Reading what the engine needs from the store.

use std::collections::BTreeMap;

use herald_segment_engine::history::EventKind;
use herald_segment_engine::{EventRecord, PersonHistory, PersonId};
use herald_store::{StoreError, StoreRead, StoredEvent};
use serde_json::{Map, Value};

fn engine_event(event: StoredEvent) -> EventRecord {
    EventRecord {
        name: event.name,
        kind: EventKind::parse(&event.kind).unwrap_or(EventKind::Event),
        timestamp: event.timestamp,
        data: match event.data {
            Value::Object(map) => map,
            _ => Map::new(),
        },
    }
}

/// Reads the full history of every live person of a workspace.
pub fn histories(
    reader: &mut dyn StoreRead,
    workspace_id: i64,
) -> Result<Vec<(PersonId, PersonHistory)>, StoreError> {
    let mut by_person: BTreeMap<PersonId, PersonHistory> = BTreeMap::new();
    for person in reader.live_people(workspace_id)? {
        by_person.insert(
            person.seq,
            PersonHistory {
                attributes: person.attributes_with_identifiers(),
                first_seen: person.created_at,
                events: Vec::new(),
            },
        );
    }
    for event in reader.events_of_live_people(workspace_id)? {
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
    }))
}
