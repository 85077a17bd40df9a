//! "Why is this person in this segment?": each condition's value at `now`, with the matching
//! count and latest matching events for event conditions.

use serde_json::{Value, json};

use crate::definition::{Condition, Count, EventCondition, Window};
use crate::filter::holds;
use crate::history::{PersonHistory, profile_start};
use crate::{SegmentId, UnixSeconds};

/// How many of the latest matching events an explanation lists.
const LATEST: usize = 5;

/// Explains a condition for a person at `now`. Returns the value and a JSON tree with a `path`,
/// `value` and details at every node.
pub fn explain(
    condition: &Condition,
    person: &PersonHistory,
    in_segment: &dyn Fn(SegmentId) -> bool,
    now: UnixSeconds,
) -> (bool, Value) {
    node(condition, person, in_segment, now, "")
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn node(
    condition: &Condition,
    person: &PersonHistory,
    in_segment: &dyn Fn(SegmentId) -> bool,
    now: UnixSeconds,
    path: &str,
) -> (bool, Value) {
    match condition {
        Condition::And(children) | Condition::Or(children) => {
            let key = if matches!(condition, Condition::And(_)) {
                "and"
            } else {
                "or"
            };
            let here = join(path, key);
            let mut explained = Vec::new();
            let mut values = Vec::new();
            for (index, child) in children.iter().enumerate() {
                let (value, tree) =
                    node(child, person, in_segment, now, &format!("{here}[{index}]"));
                values.push(value);
                explained.push(tree);
            }
            let value = if key == "and" {
                values.iter().all(|v| *v)
            } else {
                values.iter().any(|v| *v)
            };
            (
                value,
                json!({"path": here, "type": key, "value": value, "conditions": explained}),
            )
        }
        Condition::Not(child) => {
            let here = join(path, "not");
            let (value, tree) = node(child, person, in_segment, now, &here);
            (
                !value,
                json!({"path": here, "type": "not", "value": !value, "condition": tree}),
            )
        }
        Condition::Attribute(filter) => {
            let here = join(path, "attribute");
            let value = holds(filter, &person.attributes, now);
            let field = filter.path.join(".");
            let actual = crate::filter::lookup(&person.attributes, &filter.path).cloned();
            (
                value,
                json!({"path": here, "type": "attribute", "value": value, "field": field, "actual": actual}),
            )
        }
        Condition::Relationship(condition) => {
            let here = join(path, "relationship");
            let matching: Vec<Value> =
                crate::relationship::matching(condition, &person.attributes, now)
                    .filter_map(|related| related.get("object_id").cloned())
                    .collect();
            let value = !matching.is_empty();
            (
                value,
                json!({"path": here, "type": "relationship", "value": value,
                       "object_type_id": condition.object_type_id, "matching_objects": matching}),
            )
        }
        Condition::Segment(id) => {
            let here = join(path, "segment");
            let value = in_segment(*id);
            (
                value,
                json!({"path": here, "type": "segment", "segment_id": id, "value": value}),
            )
        }
        Condition::Event(event) => event_node(event, person, now, &join(path, "event")),
    }
}

fn event_node(
    event: &EventCondition,
    person: &PersonHistory,
    now: UnixSeconds,
    path: &str,
) -> (bool, Value) {
    let mut matching: Vec<UnixSeconds> = person
        .events
        .iter()
        .filter(|e| e.name == event.name && e.kind == event.kind && e.timestamp <= now)
        .filter(|e| match event.window {
            Window::Ever => true,
            Window::Within(seconds) => now - seconds < e.timestamp,
            Window::Between { from, to } => from <= e.timestamp && e.timestamp <= to,
        })
        .filter(|e| event.filters.iter().all(|f| holds(f, &e.data, now)))
        .map(|e| e.timestamp)
        .collect();
    matching.sort_unstable();
    let count = matching.len() as u64;
    let latest: Vec<UnixSeconds> = matching.iter().rev().take(LATEST).copied().collect();
    let mut value = if event.performed {
        event.count.holds(count)
    } else {
        count == 0
    };
    let mut profile_age = Value::Null;
    if !event.performed && event.require_profile_age {
        let earliest = person.earliest_event();
        let start = profile_start(&person.attributes, person.first_seen, earliest);
        let old_enough = match event.window {
            Window::Ever => true,
            Window::Within(seconds) => now - start >= seconds,
            Window::Between { from, .. } => start <= from,
        };
        value &= old_enough;
        profile_age = json!({"profile_start": start, "old_enough": old_enough});
    }
    let required = match event.count {
        Count::AtLeast(n) => json!({"at_least": n}),
        Count::AtMost(n) => json!({"at_most": n}),
        Count::Exactly(n) => json!({"exactly": n}),
    };
    (
        value,
        json!({
            "path": path, "type": "event", "name": event.name, "value": value,
            "performed": event.performed, "required": required, "count": count,
            "latest_matching_timestamps": latest, "profile_age": profile_age,
        }),
    )
}
