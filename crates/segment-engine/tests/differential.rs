//! The differential property test: random definitions using every node type and op, random
//! event streams with late, backfilled, future and repeated events, attribute changes, merges,
//! deletes, manual membership, segment rebuilds and clock advances. After every step, every
//! person's membership in every segment equals the reference evaluator's answer.

use std::collections::{BTreeMap, BTreeSet};

use herald_segment_engine::definition::Definition;
use herald_segment_engine::history::{EventKind, EventRecord, PersonHistory};
use herald_segment_engine::reference;
use herald_segment_engine::{Engine, PersonId, SegmentId};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const START: i64 = 1_000_000;
const MANUAL: SegmentId = 4;

fn duration() -> impl Strategy<Value = Value> {
    (prop_oneof![Just("minutes"), Just("hours")], 1_u64..6).prop_map(|(unit, n)| {
        let n = if unit == "hours" { n.min(2) } else { n * 2 };
        json!({ unit: n })
    })
}

fn filter(fields: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let field = prop::sample::select(fields);
    let op_and_value = prop_oneof![
        1 => Just(json!({"op": "exists"})),
        1 => Just(json!({"op": "not_exists"})),
        1 => prop::sample::select(vec![
            json!("pro"),
            json!("free"),
            json!(10),
            json!("10"),
            json!("p")
        ])
        .prop_flat_map(|value| {
            prop::sample::select(vec!["eq", "neq", "contains", "not_contains"])
                .prop_map(move |op| json!({"op": op, "value": value.clone()}))
        }),
        1 => Just(json!({"op": "starts_with", "value": "p"})),
        1 => Just(json!({"op": "in", "value": ["pro", 10, "x"]})),
        1 => (
            prop::sample::select(vec!["gt", "gte", "lt", "lte"]),
            0_i64..30
        )
            .prop_map(|(op, n)| json!({"op": op, "value": n})),
        1 => (prop::sample::select(vec!["before", "after"]), -10_i64..10)
            .prop_map(|(op, offset)| json!({"op": op, "value": START + offset * 60})),
        // Relative filters are weighted up: they make an event's match change with time, the
        // rarest and subtlest case for the engine's deadlines.
        3 => (
            prop::sample::select(vec!["before_ago", "after_ago"]),
            duration()
        )
            .prop_map(|(op, d)| json!({"op": op, "value": d})),
    ];
    (field, op_and_value).prop_map(|(field, mut op)| {
        op["field"] = json!(field);
        op
    })
}

fn window() -> impl Strategy<Value = Option<(&'static str, Value)>> {
    prop_oneof![
        Just(None),
        duration().prop_map(|d| Some(("within", d))),
        (-15_i64..10, 0_i64..15).prop_map(|(from, length)| Some((
            "between",
            json!({"from": START + from * 60, "to": START + (from + length) * 60})
        ))),
    ]
}

fn event_condition() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec!["a", "b", "c"]),
        prop::sample::select(vec!["event", "page"]),
        any::<bool>(),
        (
            prop::sample::select(vec!["at_least", "at_most", "exactly"]),
            0_u64..4,
        ),
        window(),
        prop::collection::vec(filter(&["price", "tag", "at"]), 0..3),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                name,
                kind,
                performed,
                (count_op, count),
                window,
                filters,
                profile_age,
                explicit_count,
            )| {
                let mut event = json!({"name": name, "type": kind, "performed": performed});
                if performed && explicit_count {
                    event["count"] = json!({ count_op: count });
                }
                if let Some((key, value)) = window {
                    event[key] = value;
                }
                if !filters.is_empty() {
                    event["where"] = Value::Array(filters);
                }
                if !performed && profile_age {
                    event["require_profile_age"] = json!(true);
                }
                json!({"event": event})
            },
        )
}

fn condition(references: Vec<SegmentId>) -> impl Strategy<Value = Value> {
    let mut leaves: Vec<BoxedStrategy<Value>> = vec![
        event_condition().boxed(),
        event_condition().boxed(),
        filter(&["plan", "score", "created_at", "seen"])
            .prop_map(|f| json!({"attribute": f}))
            .boxed(),
    ];
    if !references.is_empty() {
        leaves.push(
            prop::sample::select(references)
                .prop_map(|id| json!({"segment": {"id": id}}))
                .boxed(),
        );
    }
    let leaf = prop::strategy::Union::new(leaves);
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(|c| json!({"and": c})),
            prop::collection::vec(inner.clone(), 1..4).prop_map(|c| json!({"or": c})),
            inner.prop_map(|c| json!({"not": c})),
        ]
    })
}

#[derive(Debug, Clone)]
enum Step {
    Event {
        person: u8,
        name: &'static str,
        kind: EventKind,
        offset: i64,
        price: Value,
        tag: Option<&'static str>,
        at: Option<i64>,
    },
    Repeat {
        index: usize,
    },
    Attribute {
        person: u8,
        key: &'static str,
        value: Option<Value>,
    },
    Delete {
        person: u8,
    },
    Merge {
        primary: u8,
        secondary: u8,
    },
    Manual {
        person: u8,
        add: bool,
    },
    Rebuild {
        alternative: bool,
    },
    Advance {
        seconds: i64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let person = 0_u8..4;
    prop_oneof![
        6 => (person.clone(), prop::sample::select(vec!["a", "b", "c"]), any::<bool>(), -25_i64..4,
              prop::sample::select(vec![json!(5), json!(15), json!("25"), json!(null)]),
              prop::option::of(prop::sample::select(vec!["pro", "free", "px"])),
              prop::option::of(-15_i64..5))
            .prop_map(|(person, name, page, offset, price, tag, at)| Step::Event {
                person, name, kind: if page { EventKind::Page } else { EventKind::Event }, offset: offset * 60, price, tag,
                at: at.map(|a| START + a * 60),
            }),
        1 => (0_usize..1000).prop_map(|index| Step::Repeat { index }),
        3 => (person.clone(), prop::sample::select(vec!["plan", "score", "created_at", "seen"]),
              prop::option::of(prop::sample::select(vec![json!("pro"), json!("free"), json!(12), json!("20"), json!(START - 420), json!(START + 120)])))
            .prop_map(|(person, key, value)| Step::Attribute { person, key, value }),
        1 => person.clone().prop_map(|person| Step::Delete { person }),
        1 => (person.clone(), person.clone()).prop_map(|(primary, secondary)| Step::Merge { primary, secondary }),
        1 => (person.clone(), any::<bool>()).prop_map(|(person, add)| Step::Manual { person, add }),
        1 => any::<bool>().prop_map(|alternative| Step::Rebuild { alternative }),
        // Time moves on a minute grid, so that it often lands exactly on window boundaries, and
        // sometimes by one second, so that off-by-one deadlines show.
        4 => prop::sample::select(vec![0_i64, 1, 59, 60, 60, 120, 180, 300, 600]).prop_map(|seconds| Step::Advance { seconds }),
    ]
}

/// The model the reference evaluator reads: each live person's full history.
struct World {
    now: i64,
    /// Slot (the test's person number) to the live person id in that slot.
    slots: BTreeMap<u8, PersonId>,
    people: BTreeMap<PersonId, PersonHistory>,
    manual: BTreeSet<PersonId>,
    next_id: PersonId,
    sent: Vec<(u8, EventRecord)>,
}

impl World {
    fn person(&mut self, engine: &mut Engine, slot: u8) -> PersonId {
        if let Some(id) = self.slots.get(&slot) {
            return *id;
        }
        self.next_id += 1;
        let id = self.next_id;
        self.slots.insert(slot, id);
        self.people.insert(
            id,
            PersonHistory {
                attributes: Map::new(),
                first_seen: self.now,
                events: Vec::new(),
                earliest_event: None,
            },
        );
        engine.upsert_person(id, Map::new(), self.now, self.now);
        id
    }
}

fn reference_member(
    segment: SegmentId,
    person: &PersonHistory,
    id: PersonId,
    definitions: &BTreeMap<SegmentId, Definition>,
    world: &World,
) -> bool {
    if segment == MANUAL {
        return world.manual.contains(&id);
    }
    let definition = &definitions[&segment];
    let in_segment = |other: SegmentId| reference_member(other, person, id, definitions, world);
    reference::matches(&definition.root, person, &in_segment, world.now)
}

fn check(
    engine: &Engine,
    definitions: &BTreeMap<SegmentId, Definition>,
    world: &World,
    context: &str,
) -> Result<(), TestCaseError> {
    for (id, person) in &world.people {
        for segment in [MANUAL, 1, 2, 3] {
            let expected = reference_member(segment, person, *id, definitions, world);
            prop_assert_eq!(
                engine.is_member(segment, *id),
                expected,
                "segment {} person {} at {} after {}\ndefinition {:?}\nhistory {:?}",
                segment,
                id,
                world.now,
                context,
                definitions.get(&segment).map(|d| d.source.to_string()),
                person
            );
        }
    }
    for segment in [MANUAL, 1, 2, 3] {
        for member in engine.members(segment) {
            prop_assert!(
                world.people.contains_key(&member),
                "deleted person {} is still in segment {}",
                member,
                segment
            );
        }
    }
    Ok(())
}

fn histories(world: &World) -> Vec<(PersonId, PersonHistory)> {
    world
        .people
        .iter()
        .map(|(id, p)| (*id, p.clone()))
        .collect()
}

fn run(definitions: [Value; 4], steps: Vec<Step>) -> Result<(), TestCaseError> {
    let mut parsed = BTreeMap::new();
    for (index, value) in definitions.iter().take(3).enumerate() {
        parsed.insert(
            index as SegmentId + 1,
            Definition::parse(value).map_err(|e| TestCaseError::fail(format!("{e}: {value}")))?,
        );
    }
    let alternative =
        Definition::parse(&definitions[3]).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let original = parsed[&1].clone();
    let mut engine = Engine::new();
    let mut world = World {
        now: START,
        slots: BTreeMap::new(),
        people: BTreeMap::new(),
        manual: BTreeSet::new(),
        next_id: 0,
        sent: Vec::new(),
    };
    engine.set_segment(MANUAL, None, Vec::new(), START);
    for (id, definition) in &parsed {
        engine.set_segment(*id, Some(definition.clone()), Vec::new(), START);
    }
    for (number, step) in steps.into_iter().enumerate() {
        let context = format!("step {number}: {step:?}");
        match step {
            Step::Event {
                person,
                name,
                kind,
                offset,
                price,
                tag,
                at,
            } => {
                let id = world.person(&mut engine, person);
                let mut data = Map::new();
                if !price.is_null() {
                    data.insert("price".into(), price);
                }
                if let Some(tag) = tag {
                    data.insert("tag".into(), json!(tag));
                }
                if let Some(at) = at {
                    data.insert("at".into(), json!(at));
                }
                let event = EventRecord {
                    name: name.to_owned(),
                    kind,
                    timestamp: world.now + offset,
                    data,
                };
                world
                    .people
                    .get_mut(&id)
                    .unwrap()
                    .events
                    .push(event.clone());
                world.sent.push((person, event.clone()));
                engine.add_event(id, &event, world.now);
            }
            Step::Repeat { index } => {
                if world.sent.is_empty() {
                    continue;
                }
                let (person, event) = world.sent[index % world.sent.len()].clone();
                let id = world.person(&mut engine, person);
                world
                    .people
                    .get_mut(&id)
                    .unwrap()
                    .events
                    .push(event.clone());
                engine.add_event(id, &event, world.now);
            }
            Step::Attribute { person, key, value } => {
                let id = world.person(&mut engine, person);
                let history = world.people.get_mut(&id).unwrap();
                match value {
                    Some(value) => history.attributes.insert(key.to_owned(), value),
                    None => history.attributes.remove(key),
                };
                let attributes = history.attributes.clone();
                engine.upsert_person(id, attributes, history.first_seen, world.now);
            }
            Step::Delete { person } => {
                if let Some(id) = world.slots.remove(&person) {
                    world.people.remove(&id);
                    world.manual.remove(&id);
                    engine.remove_person(id, world.now);
                }
            }
            Step::Merge { primary, secondary } => {
                if primary == secondary || !world.slots.contains_key(&secondary) {
                    continue;
                }
                let primary_id = world.person(&mut engine, primary);
                let secondary_id = world.slots.remove(&secondary).unwrap();
                let gone = world.people.remove(&secondary_id).unwrap();
                world.manual.remove(&secondary_id);
                let target = world.people.get_mut(&primary_id).unwrap();
                for (key, value) in gone.attributes {
                    target.attributes.entry(key).or_insert(value);
                }
                target.events.extend(gone.events.iter().cloned());
                let attributes = target.attributes.clone();
                engine.merge(
                    primary_id,
                    secondary_id,
                    &gone.events,
                    attributes,
                    world.now,
                );
            }
            Step::Manual { person, add } => {
                let id = world.person(&mut engine, person);
                if add {
                    world.manual.insert(id);
                    engine.add_to_manual(MANUAL, id, world.now);
                } else {
                    world.manual.remove(&id);
                    engine.remove_from_manual(MANUAL, id, world.now);
                }
            }
            Step::Rebuild {
                alternative: use_alternative,
            } => {
                let definition = if use_alternative {
                    alternative.clone()
                } else {
                    original.clone()
                };
                parsed.insert(1, definition.clone());
                engine.set_segment(1, Some(definition), histories(&world), world.now);
            }
            Step::Advance { seconds } => world.now += seconds,
        }
        // Deadlines are applied in small batches, as the server does between requests.
        loop {
            let (_, more) = engine.advance(world.now, 3);
            if !more {
                break;
            }
        }
        check(&engine, &parsed, &world, &context)?;
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn engine_equals_reference(
        first in condition(vec![MANUAL]),
        second in condition(vec![1, MANUAL]),
        third in condition(vec![1, 2, MANUAL]),
        alternative in condition(vec![MANUAL]),
        steps in prop::collection::vec(step(), 1..40),
    ) {
        run([first, second, third, alternative], steps)?;
    }
}
