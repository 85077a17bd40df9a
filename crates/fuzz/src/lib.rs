//! Fuzz targets: functions of arbitrary bytes that must never panic, hang or blow up, and must
//! keep the properties the rest of Herald relies on.
//!
//! `fuzz/` (a cargo-fuzz package outside the workspace) runs them under libFuzzer; the tests of
//! this crate replay every input in `regressions/`, each one a crash a fuzz run found (or an
//! input worth keeping), so a fixed bug stays fixed on stable Rust without the fuzzer.
//!
//! Each target returns nothing and asserts its properties: an assertion failure is a crash to
//! the fuzzer, like a panic in the code under test.

use herald_domain::limits::MAX_NESTING_DEPTH;
use herald_ingest::decode::{Encoding, decode_json, decode_object};
use herald_ingest::validate_v2;
use herald_segment_engine::reference::matches;
use herald_segment_engine::{Definition, Engine, EventRecord, PersonHistory, SegmentId};
use serde_json::{Map, Value, json};

/// A fuzz target: any bytes in, a panic out when a property breaks.
pub type Target = fn(&[u8]);

/// The targets by name, as cargo-fuzz and the regression folders name them.
pub const TARGETS: [(&str, Target); 5] = [
    ("decode_json", decode_json_target),
    ("decode_form", decode_form_target),
    ("validate_v2", validate_v2_target),
    ("segment_definition", segment_definition_target),
    ("liquid", liquid_target),
];

/// A fixed "now" for everything time-dependent: targets must be deterministic.
const NOW: i64 = 1_800_000_000;

/// How deep a value nests; iterative, so it is safe on anything.
fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(value, 0)];
    while let Some((value, level)) = pending.pop() {
        let children: Vec<&Value> = match value {
            Value::Object(map) => map.values().collect(),
            Value::Array(items) => items.iter().collect(),
            _ => continue,
        };
        deepest = deepest.max(level + 1);
        pending.extend(children.into_iter().map(|child| (child, level + 1)));
    }
    deepest
}

/// What every accepted body must satisfy: within the nesting limit, no NUL in any key, and
/// readable back after it is stored (serialized, then parsed as every read parses it).
fn assert_storable(value: &Value) {
    assert!(
        depth(value) <= MAX_NESTING_DEPTH,
        "accepted a value nested {} deep",
        depth(value)
    );
    let text = serde_json::to_string(value).expect("a decoded value serializes");
    let back: Value = serde_json::from_str(&text).expect("a stored value reads back");
    assert_eq!(&back, value, "a value changed through storage");
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::Object(map) => {
                assert!(
                    map.keys().all(|key| !key.contains('\0')),
                    "accepted a NUL in a key"
                );
                pending.extend(map.values());
            }
            Value::Array(items) => pending.extend(items),
            _ => {}
        }
    }
}

/// JSON bodies: whatever `decode_object` accepts can be stored and read back.
pub fn decode_json_target(data: &[u8]) {
    if let Ok(map) = decode_object(data, Encoding::Json) {
        assert_storable(&Value::Object(map));
    }
}

/// Form bodies (`a[b][]=c`): the same property, with input that once overflowed the stack.
pub fn decode_form_target(data: &[u8]) {
    if let Ok(map) = decode_object(data, Encoding::Form) {
        assert_storable(&Value::Object(map));
    }
}

/// Track API v2 operations: validation never panics, and whatever it accepts was a decoded
/// value, so it is storable. Each batch item is validated as `/api/v2/batch` does.
pub fn validate_v2_target(data: &[u8]) {
    let Ok(value) = decode_json(data) else {
        return;
    };
    let items = match value.get("batch") {
        Some(Value::Array(items)) => items.clone(),
        _ => vec![value],
    };
    for item in &items {
        // The error's text is what a client reads; building it must not panic either.
        match validate_v2::operation(item, NOW) {
            Ok(_) => {}
            Err(error) => assert!(!error.message.is_empty()),
        }
    }
}

/// A small fixed population for evaluating definitions: each person's history is simple, but
/// together they cover events with data, attributes of several types and profile ages.
fn people() -> Vec<(i64, PersonHistory)> {
    let event = |name: &str, ago: i64, data: Value| {
        EventRecord::from_parts(name.to_owned(), "event", NOW - ago, data)
    };
    let attributes = |value: Value| match value {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    vec![
        (1, PersonHistory::default()),
        (
            2,
            PersonHistory {
                attributes: attributes(json!({"id": "ann", "plan": "pro", "age": 31, "vip": true})),
                first_seen: NOW - 90 * 86_400,
                events: vec![
                    event("purchased", 86_400, json!({"price": 12.5, "sku": "a1"})),
                    event("purchased", 3 * 86_400, json!({"price": 99, "sku": "b2"})),
                    event("login", 3_600, json!({})),
                ],
                earliest_event: None,
            },
        ),
        (
            3,
            PersonHistory {
                attributes: attributes(json!({"id": "bob", "plan": "free", "tags": ["a", "b"]})),
                first_seen: NOW - 86_400,
                events: vec![event("login", 40 * 86_400, json!({"device": "ios"}))],
                earliest_event: None,
            },
        ),
    ]
}

/// Segment definitions: parsing never panics, and for a definition that refers to no other
/// segment, the engine's build agrees with the reference evaluator on a small population.
pub fn segment_definition_target(data: &[u8]) {
    let Ok(value) = decode_json(data) else {
        return;
    };
    let Ok(definition) = Definition::parse(&value) else {
        return;
    };
    if !definition.references().is_empty() {
        return;
    }
    let population = people();
    let mut engine = Engine::new();
    let _ = engine.set_segment(
        SegmentId::new(1),
        Some(definition.clone()),
        population.clone(),
        NOW,
    );
    for (person, history) in &population {
        let expected = matches(&definition.root, history, &|_| false, NOW);
        assert_eq!(
            engine.is_member(SegmentId::new(1), *person),
            expected,
            "the engine and the reference disagree on person {person} for {}",
            definition.source
        );
    }
}

/// Liquid: the input's first line is the globals (a JSON object, or nothing), the rest the
/// template. Compiling and rendering never panic, whatever the template and the data.
pub fn liquid_target(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (first, source) = text.split_once('\n').unwrap_or(("", text));
    let globals = match decode_json(first.as_bytes()) {
        Ok(Value::Object(map)) => json!({"customer": map.clone(), "event": map}),
        _ => json!({"customer": {"id": "ann", "n": i64::MIN, "f": 1.5, "s": "x"}}),
    };
    let templates = herald_templates::Templates::new();
    if let Ok(template) = templates.compile(source) {
        // An error is an answer; only a panic, a hang or unbounded output would be a bug.
        if let Ok(output) = template.render(&globals, NOW) {
            assert!(
                output.len() <= 1 << 20,
                "a render made {} bytes",
                output.len()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// Replays every kept input of every target.
    #[test]
    fn regressions_still_pass() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("regressions");
        let mut replayed = 0;
        for (name, target) in TARGETS {
            let folder = root.join(name);
            let Ok(entries) = std::fs::read_dir(&folder) else {
                continue;
            };
            for entry in entries {
                let path = entry.expect("a readable folder").path();
                let input = std::fs::read(&path).expect("a readable input");
                target(&input);
                replayed += 1;
            }
        }
        assert!(
            replayed > 0,
            "no regression inputs under {}",
            root.display()
        );
    }

    #[test]
    fn the_inputs_of_issue_11_are_handled() {
        decode_form_target(format!("a{}=1", "[b]".repeat(7_000)).as_bytes());
        decode_form_target(format!("a{}=1", "[b]".repeat(127)).as_bytes());
        decode_json_target(format!("{{\"a\":{}1{}}}", "[".repeat(127), "]".repeat(127)).as_bytes());
        liquid_target(b"\n{{ -9223372036854775808 | divided_by: -1 }}");
        liquid_target(
            b"{\"n\": -9223372036854775808}\n{{ event.n | modulo: -1 }}{{ event.n | abs }}",
        );
        segment_definition_target(br#"{"event": {"name": "purchased", "count": {"at_least": 2}}}"#);
        validate_v2_target(br#"{"batch": [{}, {"type": "person"}, 1, null]}"#);
    }
}
