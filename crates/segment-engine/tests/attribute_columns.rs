//! The engine keeps people's attributes only in columns, and a key with more distinct values
//! than a dictionary holds (ids, emails, timestamps) keeps each person's value itself, as an
//! integer, a text or a JSON value. With enough people for every such kind, builds from the
//! columns and each person's live evaluation must agree with the reference evaluator, through
//! changes that widen a column, remove keys, delete people and move the clock.

use std::collections::BTreeMap;

use herald_segment_engine::definition::Definition;
use herald_segment_engine::history::PersonHistory;
use herald_segment_engine::reference::matches;
use herald_segment_engine::{Engine, SegmentId};
use serde_json::{Map, Value, json};

const NOW: i64 = 1_000_000_000;
/// More than the 65,536 distinct values a column's dictionary holds.
const PEOPLE: i64 = 70_000;

fn attributes(person: i64) -> Map<String, Value> {
    let plan = if person % 2 == 0 { "free" } else { "pro" };
    json!({
        "n": person,
        "email": format!("p{person}@example.com"),
        "score": person as f64 + 0.5,
        "plan": plan,
        "created_at": NOW - person * 60,
    })
    .as_object()
    .cloned()
    .unwrap()
}

fn segments() -> Vec<(SegmentId, Definition)> {
    [
        json!({"attribute": {"field": "n", "op": "gt", "value": 69_990}}),
        json!({"attribute": {"field": "email", "op": "starts_with", "value": "p6999"}}),
        json!({"and": [{"attribute": {"field": "score", "op": "lt", "value": 10}},
                       {"attribute": {"field": "plan", "op": "eq", "value": "pro"}}]}),
        json!({"attribute": {"field": "created_at", "op": "after_ago", "value": {"minutes": 30}}}),
        json!({"attribute": {"field": "email", "op": "not_exists"}}),
        json!({"attribute": {"field": "n", "op": "eq", "value": "12"}}),
        json!({"attribute": {"field": "n", "op": "gt", "value": 30_000}}),
        json!({"attribute": {"field": "email", "op": "starts_with", "value": "p1"}}),
        json!({"attribute": {"field": "created_at", "op": "before", "value": NOW - 20_000 * 60}}),
    ]
    .into_iter()
    .enumerate()
    .map(|(index, value)| {
        (
            SegmentId::new(index as i64 + 1),
            Definition::parse(&value).unwrap(),
        )
    })
    .collect()
}

/// Each segment's members by the reference evaluator over the people's attributes at `now`.
fn expected(
    people: &BTreeMap<i64, Map<String, Value>>,
    segments: &[(SegmentId, Definition)],
    now: i64,
) -> Vec<Vec<i64>> {
    segments
        .iter()
        .map(|(_, definition)| {
            people
                .iter()
                .filter(|(_, attributes)| {
                    let history = PersonHistory {
                        attributes: (*attributes).clone(),
                        first_seen: NOW - PEOPLE * 60,
                        events: Vec::new(),
                        earliest_event: None,
                    };
                    matches(&definition.root, &history, &|_| false, now)
                })
                .map(|(person, _)| *person)
                .collect()
        })
        .collect()
}

fn actual(engine: &Engine, segments: &[(SegmentId, Definition)]) -> Vec<Vec<i64>> {
    segments
        .iter()
        .map(|(id, _)| engine.members(*id).collect())
        .collect()
}

/// Builds every segment again from the engine's columns.
fn rebuild(engine: &mut Engine, segments: &[(SegmentId, Definition)]) {
    for (id, definition) in segments {
        engine.set_segment(*id, Some(definition.clone()), Vec::new(), NOW);
    }
}

fn check(
    engine: &Engine,
    people: &BTreeMap<i64, Map<String, Value>>,
    segments: &[(SegmentId, Definition)],
    now: i64,
) {
    assert_eq!(actual(engine, segments), expected(people, segments, now));
}

#[test]
fn plain_columns_answer_like_the_reference() {
    let segments = segments();
    let mut people: BTreeMap<i64, Map<String, Value>> = BTreeMap::new();
    let mut engine = Engine::new();
    // Half the people exist before the segments (built from the columns), half arrive after
    // (each evaluated live).
    for person in 0..PEOPLE / 2 {
        people.insert(person, attributes(person));
        engine.upsert_person(person, attributes(person), NOW - PEOPLE * 60, NOW);
    }
    rebuild(&mut engine, &segments);
    for person in PEOPLE / 2..PEOPLE {
        people.insert(person, attributes(person));
        engine.upsert_person(person, attributes(person), NOW - PEOPLE * 60, NOW);
    }
    check(&engine, &people, &segments, NOW);
    // Built again, from columns that now hold integers and texts plainly.
    rebuild(&mut engine, &segments);
    check(&engine, &people, &segments, NOW);

    // A text where integers were, a number where texts were, an explicit null, a key removed,
    // a person deleted.
    let changes: [(i64, Value); 4] = [
        (
            12,
            json!({"n": "12", "email": 12, "plan": "pro", "score": 1}),
        ),
        (69_995, json!({"n": null, "plan": "pro"})),
        (3, json!({"n": 3, "score": 3.5, "plan": "pro"})),
        (69_999, json!({"email": "p69999@example.com"})),
    ];
    for (person, value) in changes {
        let map = value.as_object().cloned().unwrap();
        people.insert(person, map.clone());
        engine.upsert_person(person, map, NOW - PEOPLE * 60, NOW);
    }
    people.remove(&69_991);
    engine.remove_person(69_991, NOW);
    check(&engine, &people, &segments, NOW);

    // Built again from the widened columns.
    rebuild(&mut engine, &segments);
    check(&engine, &people, &segments, NOW);

    // Ten minutes on, ten more people were created over 30 minutes ago: of people 0 to 29
    // (less 3 and 12, who have no `created_at` now), only 0 to 19 are left.
    assert_eq!(engine.count(SegmentId::new(4)), 28);
    let later = NOW + 600;
    while engine.advance(later, 10_000).1 {}
    check(&engine, &people, &segments, later);
    assert_eq!(engine.count(SegmentId::new(4)), 18);
}
