//! Bugs found in index builds (by the differential tests or in review), each kept as a named
//! case. In debug builds the engine also asserts, whenever it completes a person's state after a
//! build, that the person's own evaluation agrees with the build; several of these failed there.

use herald_segment_engine::definition::Definition;
use herald_segment_engine::history::{EventKind, EventRecord, PersonHistory};
use herald_segment_engine::{Engine, SegmentId};
use serde_json::{Map, Value, json};

const NOW: i64 = 1_000_000;

fn definition(value: Value) -> Option<Definition> {
    Some(Definition::parse(&value).unwrap())
}

fn event(name: &str, kind: EventKind, timestamp: i64) -> EventRecord {
    EventRecord {
        name: name.to_owned(),
        kind,
        timestamp,
        data: Map::new(),
    }
}

fn history(events: Vec<EventRecord>) -> PersonHistory {
    PersonHistory {
        attributes: Map::new(),
        first_seen: NOW - 600,
        events,
        earliest_event: None,
    }
}

fn set(engine: &mut Engine, id: SegmentId, value: Value, histories: &[(i64, PersonHistory)]) {
    engine.set_segment(id, definition(value), histories.to_vec(), NOW);
}

/// Redefining a segment over a name whose events were left out at load: the histories are read
/// for it, and the people touched while reading must not be completed with the new definition
/// for the old build.
#[test]
fn redefining_a_segment_while_history_is_read_keeps_definitions_apart() {
    let mut engine = Engine::new();
    set(
        &mut engine,
        SegmentId::new(3),
        json!({"event": {"name": "a", "performed": false}}),
        &[],
    );
    let full = history(vec![event("a", EventKind::Event, NOW)]);
    let mut partial = full.clone();
    partial.earliest_event = Some(NOW);
    engine.load_person(1, &partial, NOW);
    let histories = [(1, full)];
    set(
        &mut engine,
        SegmentId::new(1),
        json!({"attribute": {"field": "plan", "op": "contains", "value": "pro"}}),
        &histories,
    );
    set(
        &mut engine,
        SegmentId::new(1),
        json!({"or": [{"segment": {"id": 3}}, {"event": {"name": "a", "type": "page", "performed": false}}]}),
        &histories,
    );
    assert!(!engine.is_member(SegmentId::new(3), 1));
    assert!(
        engine.is_member(SegmentId::new(1), 1),
        "no page event, so not performed"
    );
}

/// Rebuilding a segment changes the members its dependents read: a dependent's pending state
/// from its own earlier build must not be completed against the new members.
#[test]
fn rebuilding_a_referenced_segment_drops_its_dependents_pending_state() {
    let mut engine = Engine::new();
    let not_a = json!({"event": {"name": "a", "performed": false}});
    set(&mut engine, SegmentId::new(1), not_a.clone(), &[]);
    set(
        &mut engine,
        SegmentId::new(2),
        json!({"or": [{"segment": {"id": 1}}, {"event": {"name": "a", "performed": false, "require_profile_age": true}}]}),
        &[],
    );
    set(
        &mut engine,
        SegmentId::new(3),
        json!({"and": [{"segment": {"id": 1}}]}),
        &[],
    );
    engine.upsert_person(1, Map::new(), NOW, NOW);
    let young = json!({"event": {"name": "a", "performed": false, "within": {"minutes": 2}, "require_profile_age": true}});
    set(
        &mut engine,
        SegmentId::new(1),
        young,
        &[(1, history(Vec::new()))],
    );
    assert!(!engine.is_member(SegmentId::new(1), 1) && !engine.is_member(SegmentId::new(3), 1));
    set(
        &mut engine,
        SegmentId::new(1),
        not_a,
        &[(1, history(Vec::new()))],
    );
    assert!(
        engine.is_member(SegmentId::new(1), 1)
            && engine.is_member(SegmentId::new(2), 1)
            && engine.is_member(SegmentId::new(3), 1)
    );
}

/// Resetting a manual segment does not rebuild the segments that refer to it, so their pending
/// deadlines must survive it.
#[test]
fn resetting_a_manual_segment_keeps_its_dependents_deadlines() {
    let mut engine = Engine::new();
    engine.set_segment(SegmentId::new(9), None, Vec::new(), NOW);
    engine.upsert_person(1, Map::new(), NOW - 600, NOW - 600);
    engine.add_event(1, &event("a", EventKind::Event, NOW - 60), NOW - 60);
    set(
        &mut engine,
        SegmentId::new(2),
        json!({"or": [{"segment": {"id": 9}}, {"event": {"name": "a", "within": {"minutes": 2}}}]}),
        &[],
    );
    assert!(engine.is_member(SegmentId::new(2), 1));
    engine.set_segment(SegmentId::new(9), None, Vec::new(), NOW);
    assert_eq!(engine.earliest_due(), Some(NOW + 60));
    let (changes, _) = engine.advance(NOW + 60, 10);
    assert_eq!(changes.len(), 1);
    assert!(!engine.is_member(SegmentId::new(2), 1));
}

/// Found in review: completing people's states from a build's hints was not counted toward
/// `advance`'s batch, so hints due at the same second made one unbounded call. With ten hints
/// due and a batch of four, the first call completes four people (their hints become their own
/// deadlines, still pending) and applies nothing yet.
#[test]
fn hints_count_toward_the_batch_of_advance() {
    let mut engine = Engine::new();
    for person in 0..10 {
        engine.upsert_person(person, Map::new(), NOW - 600, NOW - 600);
        engine.add_event(person, &event("a", EventKind::Event, NOW - 60), NOW - 60);
    }
    set(
        &mut engine,
        SegmentId::new(1),
        json!({"event": {"name": "a", "within": {"minutes": 2}}}),
        &[],
    );
    assert_eq!(engine.count(SegmentId::new(1)), 10);
    assert_eq!(engine.pending_deadlines(), 10);
    let (changes, more) = engine.advance(NOW + 60, 4);
    assert!(more && changes.is_empty());
    assert_eq!(engine.pending_deadlines(), 10);
    let mut calls = 1;
    loop {
        calls += 1;
        if !engine.advance(NOW + 60, 4).1 {
            break;
        }
    }
    assert_eq!(engine.count(SegmentId::new(1)), 0);
    assert_eq!(calls, 5, "ten completions and ten exits, four per call");
}
