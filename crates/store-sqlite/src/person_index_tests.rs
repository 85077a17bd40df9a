//! Reads by person over activities spread across several blocks of the person index
//! (person_index.rs): every read that finds a person's activities finds all of them, in order,
//! whichever blocks they lie in.

use herald_domain::{ActivityKind, PersonSeq, WorkspaceId};
use herald_store::{ActivityQuery, NewActivity, NewPerson, PartitionSet, StoreHandle};
use serde_json::{Map, json};

const NOW: i64 = 1_800_000_000;
const BLOCK: i64 = 1 << 16;

/// One stored event, as the test remembers it.
#[derive(Debug, Clone, PartialEq)]
struct Sent {
    seq: i64,
    person: PersonSeq,
    timestamp: i64,
    name: String,
}

fn person(store: &StoreHandle, workspace: WorkspaceId, id: &str) -> PersonSeq {
    let new = NewPerson {
        workspace_id: workspace,
        cio_id: format!("cio-{id}"),
        id: Some(id.into()),
        email: None,
        attributes: Map::new(),
        created_at: NOW,
    };
    store
        .write_blocking(move |tx| tx.insert_person(&new))
        .expect("the store works")
        .expect("inserted")
        .seq
}

fn event(
    store: &StoreHandle,
    workspace: WorkspaceId,
    person: PersonSeq,
    timestamp: i64,
    name: &str,
) -> Sent {
    let new = NewActivity {
        workspace_id: workspace,
        person_seq: Some(person),
        anonymous_id: None,
        kind: ActivityKind::Event,
        name: Some(name.into()),
        data: json!({"n": name}),
        timestamp,
        received_at: NOW,
        event_id: None,
        may_trigger: false,
    };
    let appended = store
        .write_blocking(move |tx| tx.append_activity(&new))
        .expect("the store works")
        .expect("appended");
    let herald_store::Appended::New(seq) = appended else {
        panic!("a new event was taken for a duplicate");
    };
    Sent {
        seq,
        person,
        timestamp,
        name: name.into(),
    }
}

/// Moves the log's next activity number into a later block, as a long history would: an
/// anonymous page view is written there with its number chosen, and SQLite numbers the next
/// rows after it.
fn jump_to_block(path: &std::path::Path, block: i64) {
    let connection = rusqlite::Connection::open(path).expect("the file opens");
    connection
        .execute(
            "INSERT INTO activities (seq, workspace_id, anonymous_id, kind, name, data, timestamp, received_at)
             VALUES (?1, 1, 'filler', 'page', 'filler', '{}', 0, 0)",
            [block * BLOCK + 7],
        )
        .expect("the filler row is written");
}

#[test]
fn every_read_by_person_finds_the_activities_of_every_block() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("herald.db");
    let store = crate::SqliteStore::open_handle(&crate::SqliteOptions::new(&path))
        .expect("the store opens");
    let workspace = herald_store::conformance::new_workspace(&store, "blocks");
    let other = herald_store::conformance::new_workspace(&store, "other");
    let [ann, bob, cy] = ["ann", "bob", "cy"].map(|id| person(&store, workspace, id));
    let stranger = person(&store, other, "stranger");
    let mut sent = Vec::new();
    // Four blocks, the first and third far apart, each with events of every person out of
    // time order, and of a person of another workspace.
    for (round, block) in [0_i64, 1, 5, 6].into_iter().enumerate() {
        if block > 0 {
            jump_to_block(&path, block);
        }
        let round = round as i64;
        for (index, who) in [ann, bob, cy, ann, stranger].into_iter().enumerate() {
            let index = index as i64;
            let timestamp = NOW - 1000 + (3 - round) * 100 + index;
            let workspace = if who == stranger { other } else { workspace };
            sent.push(event(
                &store,
                workspace,
                who,
                timestamp,
                &format!("e{round}{index}"),
            ));
        }
    }
    let blocks: std::collections::BTreeSet<i64> =
        sent.iter().map(|event| event.seq >> 16).collect();
    assert_eq!(blocks.len(), 4, "{sent:?}");
    let of = |person: PersonSeq| -> Vec<Sent> {
        sent.iter()
            .filter(|event| event.person == person)
            .cloned()
            .collect()
    };

    // A person's events, in time order.
    for who in [ann, bob, cy] {
        let events = store
            .read_blocking(move |r| r.events_of_person(workspace, who))
            .expect("read");
        let mut expected = of(who);
        expected.sort_by_key(|event| (event.timestamp, event.seq));
        let names: Vec<&str> = events.iter().map(|event| event.name.as_str()).collect();
        let wanted: Vec<&str> = expected.iter().map(|event| event.name.as_str()).collect();
        assert_eq!(names, wanted);
    }

    // The activity log of a person, newest first, a page at a time.
    let page = |before: Option<i64>| {
        store
            .read_blocking(move |r| {
                r.activities(&ActivityQuery {
                    workspace_id: workspace,
                    person_seq: Some(ann),
                    kind: Some("event".into()),
                    name: None,
                    before_seq: before,
                    since: 0,
                    limit: 3,
                })
            })
            .expect("read")
    };
    let mut expected: Vec<i64> = of(ann).iter().map(|event| event.seq).collect();
    expected.reverse();
    let first = page(None);
    let second = page(first.last().map(|activity| activity.seq));
    let seqs: Vec<i64> = first.iter().chain(&second).map(|a| a.seq).collect();
    assert_eq!(seqs, expected[..6]);

    // Every live person's history, people in order, each in time order.
    let histories = store
        .read_blocking(move |r| {
            let mut all = Vec::new();
            r.for_each_history(workspace, &PartitionSet::all(), &mut |person, events| {
                all.push((
                    person.seq,
                    events.into_iter().map(|e| e.name).collect::<Vec<_>>(),
                ));
                true
            })?;
            Ok(all)
        })
        .expect("read");
    let mut expected = Vec::new();
    for who in [ann, bob, cy] {
        let mut events = of(who);
        events.sort_by_key(|event| (event.timestamp, event.seq));
        expected.push((who, events.into_iter().map(|e| e.name).collect::<Vec<_>>()));
    }
    assert_eq!(histories, expected);

    // A merge moves bob's recent events, from every block, to cy.
    let since = NOW - 1000 + 100;
    let moved = store
        .write_blocking(move |tx| tx.move_events(workspace, bob, cy, since))
        .expect("the store works")
        .expect("moved");
    let wanted: Vec<String> = of(bob)
        .into_iter()
        .filter(|event| event.timestamp >= since)
        .map(|event| event.name)
        .collect();
    assert_eq!(wanted.len(), 3);
    let mut names: Vec<String> = moved.into_iter().map(|event| event.name).collect();
    names.sort();
    let mut sorted = wanted.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let cy_now = store
        .read_blocking(move |r| r.events_of_person(workspace, cy))
        .expect("read");
    assert_eq!(cy_now.len(), of(cy).len() + 3);
    let bob_now = store
        .read_blocking(move |r| r.events_of_person(workspace, bob))
        .expect("read");
    assert_eq!(bob_now.len(), of(bob).len() - 3);

    // The retention drops ann's oldest events, in the later blocks: what she keeps starts at
    // the earliest event left, found through every block.
    let cutoff = NOW - 1000 + 150;
    let dropped = store
        .write_blocking(move |tx| tx.drop_events_before(workspace, cutoff, 0, i64::MAX))
        .expect("the store works")
        .expect("dropped");
    let kept = dropped
        .people
        .iter()
        .find(|(person, _)| *person == ann)
        .map(|(_, earliest)| *earliest)
        .expect("ann lost events");
    let earliest = of(ann)
        .iter()
        .map(|event| event.timestamp)
        .filter(|timestamp| *timestamp >= cutoff)
        .min();
    assert_eq!(kept, earliest);
}
