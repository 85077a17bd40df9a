//! Reading what the engine needs from the store.

use herald_domain::{PersonSeq, WorkspaceId};
use herald_segment_engine::{EventRecord, PersonHistory, PersonId};
use herald_store::{StoreError, StoreRead, StoredEvent};

pub(crate) fn engine_event(event: StoredEvent) -> EventRecord {
    EventRecord::from_parts(event.name, &event.kind, event.timestamp, event.data)
}

/// Reads one live person's full history, or `None` if the person is not live.
pub fn history_of(
    reader: &mut dyn StoreRead,
    workspace_id: WorkspaceId,
    person_seq: PersonId,
) -> Result<Option<PersonHistory>, StoreError> {
    let person_seq = PersonSeq::new(person_seq);
    let Some(person) = reader.person_by_seq(workspace_id, person_seq)? else {
        return Ok(None);
    };
    let events = reader
        .events_of_person(workspace_id, person_seq)?
        .into_iter()
        .map(engine_event)
        .collect();
    let relationships = herald_store::all_relationships(reader, workspace_id, person_seq)?;
    Ok(Some(PersonHistory {
        attributes: person.engine_attributes(&relationships),
        first_seen: person.created_at,
        events,
        earliest_event: None,
    }))
}
