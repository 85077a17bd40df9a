//! The differential property test: random definitions using every node type and op, random
//! event streams with late, backfilled, future and repeated events, attribute changes, merges,
//! deletes, manual membership, segment rebuilds and clock advances. After every step, every
//! person's membership in every segment equals the reference evaluator's answer.
//!
//! A second test starts from loaded history instead (some of it partial, as at a server's
//! start), creates segments over it from the index, and compares the build, a preview and
//! every later step with the reference evaluator.

use std::collections::{BTreeMap, BTreeSet};

use herald_segment_engine::definition::Definition;
use herald_segment_engine::history::{EventKind, EventRecord, PersonHistory};
use herald_segment_engine::reference;
use herald_segment_engine::{Engine, PersonId, SegmentId};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const START: i64 = 1_000_000;
const MANUAL: SegmentId = SegmentId::new(4);

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

/// A relationship condition: a type, and filters on the object's and the relationship's
/// attributes (never relative to now, which relationship conditions refuse).
fn relationship_condition() -> impl Strategy<Value = Value> {
    let fixed = |fields| {
        filter(fields).prop_filter("relative filters are refused on objects", |f| {
            !matches!(f["op"].as_str(), Some("before_ago" | "after_ago"))
        })
    };
    (
        prop::sample::select(vec!["1", "2"]),
        prop::option::of(fixed(&["plan", "score"])),
        prop::option::of(fixed(&["role"])),
    )
        .prop_map(|(object_type_id, object, relationship)| {
            let mut condition = json!({"object_type_id": object_type_id});
            if let Some(filter) = object {
                condition["where"] = json!([filter]);
            }
            if let Some(filter) = relationship {
                condition["relationship_where"] = json!([filter]);
            }
            json!({"relationship": condition})
        })
}

/// The relationships a person may have, as the engine's feeders give them (the reserved
/// `cio_relationships` attribute).
fn relationships() -> impl Strategy<Value = Value> {
    let one = (
        prop::sample::select(vec!["1", "2"]),
        prop::sample::select(vec![json!("pro"), json!("free"), json!(12), json!(null)]),
        prop::sample::select(vec![json!("admin"), json!("p"), json!(null)]),
    )
        .prop_map(|(object_type_id, plan, role)| {
            json!({"object_type_id": object_type_id, "object_id": "o", "cio_object_id": "c",
                   "object_attributes": {"plan": plan}, "relationship_attributes": {"role": role}})
        });
    prop::collection::vec(one, 1..3).prop_map(Value::Array)
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
        relationship_condition().boxed(),
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
    /// The store's retention dropped the person's events older than `back` minutes ago.
    Forget {
        person: u8,
        back: i64,
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
    /// Deletes segment 1 and the segments that refer to it, then creates them again under the
    /// same ids: what a deleted segment leaves in people's states must not leak into the new one.
    Recreate {
        alternative: bool,
    },
    Advance {
        seconds: i64,
    },
    /// The engine is written to an image and read back, as a restart from a snapshot does,
    /// whatever deadlines, hints and builds are in flight.
    Image,
    /// The person is unloaded, as when their partition goes to another node, and loaded again
    /// from their history with their manual memberships, as when it comes back.
    Handover {
        person: u8,
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
        // A relationship or a related object changed: the person comes again with them all.
        1 => (person.clone(), prop::option::of(relationships()))
            .prop_map(|(person, value)| Step::Attribute { person, key: "cio_relationships", value }),
        1 => person.clone().prop_map(|person| Step::Delete { person }),
        1 => (person.clone(), 0_i64..30).prop_map(|(person, back)| Step::Forget { person, back }),
        1 => (person.clone(), person.clone()).prop_map(|(primary, secondary)| Step::Merge { primary, secondary }),
        1 => (person.clone(), any::<bool>()).prop_map(|(person, add)| Step::Manual { person, add }),
        1 => any::<bool>().prop_map(|alternative| Step::Rebuild { alternative }),
        1 => any::<bool>().prop_map(|alternative| Step::Recreate { alternative }),
        1 => Just(Step::Image),
        1 => person.clone().prop_map(|person| Step::Handover { person }),
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
        for segment in [
            MANUAL,
            SegmentId::new(1),
            SegmentId::new(2),
            SegmentId::new(3),
        ] {
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
    for segment in [
        MANUAL,
        SegmentId::new(1),
        SegmentId::new(2),
        SegmentId::new(3),
    ] {
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

/// What a run's steps act on: the engine, the model, and the definitions.
struct Run {
    engine: Engine,
    world: World,
    parsed: BTreeMap<SegmentId, Definition>,
    original: Definition,
    alternative: Definition,
}

/// Segment 1's definition for a rebuild or a re-creation.
fn pick(use_alternative: bool, original: &Definition, alternative: &Definition) -> Definition {
    if use_alternative {
        alternative.clone()
    } else {
        original.clone()
    }
}

fn parse(value: &Value) -> Result<Definition, TestCaseError> {
    Definition::parse(value).map_err(|e| TestCaseError::fail(format!("{e}: {value}")))
}

fn new_world() -> World {
    World {
        now: START,
        slots: BTreeMap::new(),
        people: BTreeMap::new(),
        manual: BTreeSet::new(),
        next_id: 0,
        sent: Vec::new(),
    }
}

fn event_record(
    name: &str,
    kind: EventKind,
    timestamp: i64,
    price: Value,
    tag: Option<&str>,
    at: Option<i64>,
) -> EventRecord {
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
    EventRecord {
        name: name.to_owned(),
        kind,
        timestamp,
        data,
    }
}

impl Run {
    fn apply(&mut self, step: Step) {
        let Self {
            engine,
            world,
            parsed,
            original,
            alternative,
        } = self;
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
                let id = world.person(engine, person);
                let event = event_record(name, kind, world.now + offset, price, tag, at);
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
                    return;
                }
                let (person, event) = world.sent[index % world.sent.len()].clone();
                let id = world.person(engine, person);
                world
                    .people
                    .get_mut(&id)
                    .unwrap()
                    .events
                    .push(event.clone());
                engine.add_event(id, &event, world.now);
            }
            Step::Attribute { person, key, value } => {
                let id = world.person(engine, person);
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
            Step::Forget { person, back } => {
                if let Some(id) = world.slots.get(&person).copied() {
                    let before = world.now - back * 60;
                    let history = world.people.get_mut(&id).unwrap();
                    history.events.retain(|event| event.timestamp >= before);
                    let earliest = history.earliest_event();
                    engine.forget_events_before(id, before, earliest, world.now);
                }
            }
            Step::Merge { primary, secondary } => {
                if primary == secondary || !world.slots.contains_key(&secondary) {
                    return;
                }
                let primary_id = world.person(engine, primary);
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
                let id = world.person(engine, person);
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
                let definition = pick(use_alternative, original, alternative);
                parsed.insert(SegmentId::new(1), definition.clone());
                engine.set_segment(
                    SegmentId::new(1),
                    Some(definition),
                    histories(world),
                    world.now,
                );
            }
            Step::Recreate {
                alternative: use_alternative,
            } => {
                parsed.insert(
                    SegmentId::new(1),
                    pick(use_alternative, original, alternative),
                );
                // Segment 1 and everything referring to it, directly or not...
                let mut affected = BTreeSet::from([SegmentId::new(1)]);
                while let Some((id, _)) = parsed.iter().find(|(id, definition)| {
                    !affected.contains(*id) && !definition.references().is_disjoint(&affected)
                }) {
                    affected.insert(*id);
                }
                // ...dependencies first.
                let mut order: Vec<SegmentId> = Vec::new();
                while order.len() < affected.len() {
                    let ready = affected.iter().copied().find(|id| {
                        !order.contains(id)
                            && parsed[id].references().iter().all(|referenced| {
                                !affected.contains(referenced) || order.contains(referenced)
                            })
                    });
                    order.push(ready.expect("references form no cycle"));
                }
                for id in order.iter().rev() {
                    engine.remove_segment(*id);
                }
                for id in &order {
                    engine.set_segment(*id, Some(parsed[id].clone()), histories(world), world.now);
                }
            }
            Step::Advance { seconds } => world.now += seconds,
            Step::Image => {
                let image = postcard::to_stdvec(&*engine).expect("an engine can be written");
                *engine = postcard::from_bytes(&image).expect("an image can be read back");
            }
            Step::Handover { person } => {
                if let Some(id) = world.slots.get(&person).copied() {
                    engine.unload_person(id);
                    assert!(!engine.knows(id), "an unloaded person is gone");
                    engine.load_person(id, &world.people[&id], world.now);
                    if world.manual.contains(&id) {
                        engine.add_to_manual(MANUAL, id, world.now);
                    }
                }
            }
        }
    }

    /// Applies the steps one by one, draining deadlines in small batches after each, as the
    /// server does between requests, and checks every membership after each.
    fn steps(&mut self, steps: Vec<Step>) -> Result<(), TestCaseError> {
        for (number, step) in steps.into_iter().enumerate() {
            let context = format!("step {number}: {step:?}");
            self.apply(step);
            loop {
                let (_, more) = self.engine.advance(self.world.now, 3);
                if !more {
                    break;
                }
            }
            check(&self.engine, &self.parsed, &self.world, &context)?;
            // The data index's attribute counts, kept as people change, equal a fresh count.
            let mut expected: BTreeMap<String, usize> = BTreeMap::new();
            for person in self.world.people.values() {
                // Relationships are no attribute of the data index.
                for key in person
                    .attributes
                    .keys()
                    .filter(|key| *key != "cio_relationships")
                {
                    *expected.entry(key.clone()).or_insert(0) += 1;
                }
            }
            let counted: BTreeMap<String, usize> =
                self.engine.attribute_counts().into_iter().collect();
            prop_assert_eq!(counted, expected, "attribute counts after {}", context);
        }
        Ok(())
    }
}

fn run(definitions: [Value; 4], steps: Vec<Step>) -> Result<(), TestCaseError> {
    let mut parsed = BTreeMap::new();
    for (index, value) in definitions.iter().take(3).enumerate() {
        parsed.insert(SegmentId::new(index as i64 + 1), parse(value)?);
    }
    let alternative = parse(&definitions[3])?;
    let original = parsed[&SegmentId::new(1)].clone();
    let mut engine = Engine::new();
    engine.set_segment(MANUAL, None, Vec::new(), START);
    for (id, definition) in &parsed {
        engine.set_segment(*id, Some(definition.clone()), Vec::new(), START);
    }
    let mut run = Run {
        engine,
        world: new_world(),
        parsed,
        original,
        alternative,
    };
    run.steps(steps)
}

/// One person's past for the build test: attribute values and events, relative to the build.
#[derive(Debug, Clone)]
struct Past {
    attributes: Vec<(&'static str, Value)>,
    events: Vec<Step>,
    /// Whether the person is loaded from a history that leaves out the names no segment defined
    /// at load time looks at, as the server does at start.
    partial: bool,
}

fn past() -> impl Strategy<Value = Past> {
    (
        prop::collection::vec(
            (
                prop::sample::select(vec!["plan", "score", "created_at", "seen"]),
                prop::sample::select(vec![
                    json!("pro"),
                    json!("free"),
                    json!(12),
                    json!("20"),
                    json!(START - 420),
                    json!(START + 120),
                ]),
            ),
            0..3,
        ),
        prop::collection::vec(step(), 0..12),
        any::<bool>(),
    )
        .prop_map(|(attributes, events, partial)| Past {
            attributes,
            events: events
                .into_iter()
                .filter(|step| matches!(step, Step::Event { .. }))
                .collect(),
            partial,
        })
}

/// The build path: people loaded with history (some of it partial, as at a server's start),
/// then segments created over it from the index, compared with the reference evaluator right
/// after the build, in a preview, and as time, events and rebuilds go on.
fn build_run(
    definitions: [Value; 4],
    pasts: Vec<Past>,
    steps: Vec<Step>,
) -> Result<(), TestCaseError> {
    let mut world = new_world();
    let mut engine = Engine::new();
    engine.set_segment(MANUAL, None, Vec::new(), START);
    let third = parse(&definitions[2])?;
    engine.set_segment(SegmentId::new(3), Some(third.clone()), Vec::new(), START);
    let mut partial = BTreeMap::new();
    for (slot, past) in pasts.into_iter().enumerate() {
        let slot = slot as u8;
        world.next_id += 1;
        let id = world.next_id;
        world.slots.insert(slot, id);
        let mut history = PersonHistory {
            attributes: past
                .attributes
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            first_seen: START - 600,
            events: Vec::new(),
            earliest_event: None,
        };
        for step in past.events {
            if let Step::Event {
                name,
                kind,
                offset,
                price,
                tag,
                at,
                ..
            } = step
            {
                // The past spans the 25 minutes before the build, and a few events are stamped in
                // the 3 minutes after it.
                let event = event_record(name, kind, START + 600 + offset, price, tag, at);
                world.sent.push((slot, event.clone()));
                history.events.push(event);
            }
        }
        world.people.insert(id, history);
        partial.insert(id, past.partial);
    }
    world.now = START + 600;
    for (id, history) in &world.people {
        let mut loaded = history.clone();
        if partial[id] && !loaded.events.is_empty() {
            let names = engine.event_names();
            loaded.earliest_event = loaded.earliest_event();
            loaded.events.retain(|event| names.contains(&event.name));
        }
        engine.load_person(*id, &loaded, world.now);
    }
    let first = parse(&definitions[0])?;
    let second = parse(&definitions[1])?;
    engine.set_segment(
        SegmentId::new(1),
        Some(first.clone()),
        histories(&world),
        world.now,
    );
    engine.set_segment(
        SegmentId::new(2),
        Some(second.clone()),
        histories(&world),
        world.now,
    );
    let parsed = BTreeMap::from([
        (SegmentId::new(1), first.clone()),
        (SegmentId::new(2), second),
        (SegmentId::new(3), third),
    ]);
    check(&engine, &parsed, &world, "the build")?;
    for (segment, definition) in &parsed {
        let Some(preview) = engine.preview(definition, world.now, 2) else {
            continue;
        };
        let expected: Vec<PersonId> = world
            .people
            .iter()
            .filter(|(id, person)| reference_member(*segment, person, **id, &parsed, &world))
            .map(|(id, _)| *id)
            .collect();
        prop_assert_eq!(
            preview.count,
            expected.len(),
            "preview of segment {}",
            segment
        );
        prop_assert_eq!(&preview.sample[..], &expected[..expected.len().min(2)]);
    }
    // Saving segment 2's definition over segment 1: who would enter and who would leave.
    if let Some(change) =
        engine.preview_change(&parsed[&SegmentId::new(2)], SegmentId::new(1), world.now, 2)
    {
        let member = |segment: SegmentId, id: PersonId, person: &PersonHistory| {
            reference_member(segment, person, id, &parsed, &world)
        };
        let entering = world
            .people
            .iter()
            .filter(|(id, p)| {
                member(SegmentId::new(2), **id, p) && !member(SegmentId::new(1), **id, p)
            })
            .count();
        let leaving = world
            .people
            .iter()
            .filter(|(id, p)| {
                member(SegmentId::new(1), **id, p) && !member(SegmentId::new(2), **id, p)
            })
            .count();
        prop_assert_eq!((change.entering, change.leaving), (entering, leaving));
    }
    let mut run = Run {
        engine,
        world,
        parsed,
        original: first,
        alternative: parse(&definitions[3])?,
    };
    run.steps(steps)
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
        second in condition(vec![SegmentId::new(1), MANUAL]),
        third in condition(vec![SegmentId::new(1), SegmentId::new(2), MANUAL]),
        alternative in condition(vec![MANUAL]),
        steps in prop::collection::vec(step(), 1..40),
    ) {
        run([first, second, third, alternative], steps)?;
    }

    #[test]
    fn index_builds_equal_reference(
        first in condition(vec![MANUAL, SegmentId::new(3)]),
        second in condition(vec![SegmentId::new(1), SegmentId::new(3), MANUAL]),
        third in condition(vec![MANUAL]),
        alternative in condition(vec![MANUAL, SegmentId::new(3)]),
        pasts in prop::collection::vec(past(), 1..6),
        steps in prop::collection::vec(step(), 0..25),
    ) {
        build_run([first, second, third, alternative], pasts, steps)?;
    }
}
