//! The engine's history read scoped to some partitions: what a node that owns only those
//! loads.

use herald_domain::PersonSeq;
use serde_json::Map;

use super::{append, event, new_workspace};
use crate::{NewPerson, PARTITIONS, PartitionSet, StoreHandle, StoredEvent, partition_of};

/// More people than a PostgreSQL read asks for in one statement (1,024), so that the read
/// crosses from one statement to the next.
const PEOPLE: usize = 2_500;

pub fn a_history_read_of_some_partitions_holds_just_their_people(store: &StoreHandle) {
    let ws = new_workspace(store, "partitioned-histories");
    let other = new_workspace(store, "partitioned-histories-other");
    let people: Vec<PersonSeq> = store
        .write_blocking(move |tx| {
            let mut people = Vec::new();
            for (index, workspace_id) in (0..PEOPLE)
                .map(|index| (index, ws))
                .chain((0..10).map(|index| (index, other)))
            {
                let new = NewPerson {
                    workspace_id,
                    cio_id: format!("cio-{workspace_id}-{index}"),
                    id: Some(format!("p{index}")),
                    email: None,
                    attributes: Map::new(),
                    created_at: 10,
                };
                let person = tx.insert_person(&new)?;
                if workspace_id == ws {
                    people.push(person.seq);
                }
            }
            Ok::<_, crate::StoreError>(people)
        })
        .expect("store works")
        .expect("people created");
    // Every tenth person has events (two, stored out of time order), and one is deleted.
    for person in people.iter().step_by(10) {
        append(store, event(ws, Some(*person), "late", 50));
        append(store, event(ws, Some(*person), "early", 20));
    }
    let gone = people[20];
    store
        .write_blocking(move |tx| tx.delete_person(ws, gone, 60))
        .expect("store works")
        .expect("deleted");
    let read = |partitions: PartitionSet| {
        store
            .read_blocking(move |r| {
                let mut seen = Vec::new();
                r.for_each_history(ws, &partitions, &mut |person, events| {
                    seen.push((person.seq, events));
                    true
                })?;
                Ok(seen)
            })
            .expect("read")
    };
    let whole = read(PartitionSet::all());
    assert_eq!(whole.len(), PEOPLE - 1, "every live person once");
    assert!(whole.iter().all(|(person, _)| *person != gone));
    let names = |events: &[StoredEvent]| events.iter().map(|e| e.name.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&whole[0].1),
        ["early", "late"],
        "events in time order"
    );
    // A third of the partitions, spread out, and then a single one.
    let third: PartitionSet = (0..PARTITIONS).filter(|p| p % 3 == 1).collect();
    let one: PartitionSet = [partition_of(ws, people[10].get())].into_iter().collect();
    for partitions in [third, one, PartitionSet::default()] {
        let expected: Vec<_> = whole
            .iter()
            .filter(|(person, _)| partitions.contains(partition_of(ws, person.get())))
            .cloned()
            .collect();
        assert_eq!(
            read(partitions),
            expected,
            "{} partitions",
            partitions.len()
        );
    }
    assert!(read(one).iter().any(|(person, _)| *person == people[10]));
    // A read that stops early stops, in the middle of a chunk as at its end.
    let first_two = store
        .read_blocking(move |r| {
            let mut seen = 0;
            r.for_each_history(ws, &third, &mut |_, _| {
                seen += 1;
                seen < 2
            })?;
            Ok(seen)
        })
        .expect("read");
    assert_eq!(first_two, 2);
}
