//! The builder's tree and the definition format, both ways. A tree gives the shortest JSON that
//! says the same (defaults left out), or the list of what is still missing, each named by the
//! condition's number as the page shows it ("Condition 2.1"); a valid definition gives a tree
//! that gives it back.

use serde_json::{Map, Value, json};

use super::{EventNode, FilterNode, Join, Node};

/// The definition a tree stands for, or what is missing before it stands for one.
pub fn to_json(root: &Node) -> Result<Value, Vec<String>> {
    let mut problems = Vec::new();
    let value = node_json(root, "", &mut problems);
    if problems.is_empty() {
        Ok(value)
    } else {
        Err(problems)
    }
}

/// How the page numbers a condition: `""` is the whole definition, `"2.1"` the first condition
/// of the second.
fn label(number: &str) -> String {
    if number.is_empty() {
        "The definition".to_owned()
    } else {
        format!("Condition {number}")
    }
}

fn child_number(parent: &str, index: usize) -> String {
    if parent.is_empty() {
        (index + 1).to_string()
    } else {
        format!("{parent}.{}", index + 1)
    }
}

fn node_json(node: &Node, number: &str, problems: &mut Vec<String>) -> Value {
    match node {
        Node::Group { join, children } => {
            if children.is_empty() {
                problems.push(format!("{}: add a condition", label(number)));
            }
            let items: Vec<Value> = children
                .iter()
                .enumerate()
                .map(|(index, child)| node_json(child, &child_number(number, index), problems))
                .collect();
            let key = match join {
                Join::All => "and",
                Join::Any => "or",
            };
            json!({ key: items })
        }
        Node::Not(child) => json!({"not": node_json(child, number, problems)}),
        Node::Segment(id) => match id {
            Some(id) => json!({"segment": {"id": id}}),
            None => {
                problems.push(format!("{}: choose a segment", label(number)));
                Value::Null
            }
        },
        Node::Attribute(filter) => {
            json!({"attribute": filter_json(filter, &label(number), "an attribute", problems)})
        }
        Node::Event(event) => json!({"event": event_json(event, &label(number), problems)}),
    }
}

pub(crate) fn whole(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

fn event_json(event: &EventNode, label: &str, problems: &mut Vec<String>) -> Value {
    let mut object = Map::new();
    let name = event.name.trim();
    if name.is_empty() {
        problems.push(format!("{label}: choose an event name"));
    }
    object.insert("name".into(), Value::String(name.to_owned()));
    if event.kind != "event" {
        object.insert("type".into(), Value::String(event.kind.clone()));
    }
    if event.performed {
        match whole(&event.count) {
            Some(1) if event.count_op == "at_least" => {}
            Some(count) => {
                object.insert("count".into(), json!({ event.count_op.as_str(): count }));
            }
            None => problems.push(format!("{label}: the number of times is a whole number")),
        }
    } else {
        object.insert("performed".into(), Value::Bool(false));
    }
    match event.when.as_str() {
        "within" => match whole(&event.within).filter(|n| *n >= 1) {
            Some(amount) => {
                object.insert(
                    "within".into(),
                    json!({ event.within_unit.as_str(): amount }),
                );
            }
            None => problems.push(format!(
                "{label}: the timeframe is a whole number of {}, at least 1",
                event.within_unit
            )),
        },
        "between" => match (seconds_of(&event.from), seconds_of(&event.to)) {
            (Some(from), Some(to)) => {
                object.insert("between".into(), json!({"from": from, "to": to}));
            }
            _ => problems.push(format!("{label}: choose both dates of the timeframe")),
        },
        _ => {}
    }
    if !event.filters.is_empty() {
        let filters: Vec<Value> = event
            .filters
            .iter()
            .enumerate()
            .map(|(index, filter)| {
                filter_json(
                    filter,
                    &format!("{label}, data filter {}", index + 1),
                    "a data field",
                    problems,
                )
            })
            .collect();
        object.insert("where".into(), Value::Array(filters));
    }
    if event.profile_age && !event.performed {
        object.insert("require_profile_age".into(), Value::Bool(true));
    }
    Value::Object(object)
}

pub(crate) fn filter_json(
    filter: &FilterNode,
    label: &str,
    what: &str,
    problems: &mut Vec<String>,
) -> Value {
    let mut object = Map::new();
    let field = filter.field.trim();
    if field.is_empty() {
        problems.push(format!("{label}: choose {what}"));
    }
    object.insert("field".into(), Value::String(field.to_owned()));
    object.insert("op".into(), Value::String(filter.op.clone()));
    let value = match filter.op.as_str() {
        "exists" | "not_exists" => None,
        "before" | "after" => match seconds_of(&filter.at) {
            Some(seconds) => Some(json!(seconds)),
            None => {
                problems.push(format!("{label}: enter a date"));
                None
            }
        },
        "before_ago" | "after_ago" => match whole(&filter.ago).filter(|n| *n >= 1) {
            Some(amount) => Some(json!({ filter.ago_unit.as_str(): amount })),
            None => {
                problems.push(format!(
                    "{label}: how long ago is a whole number of {}, at least 1",
                    filter.ago_unit
                ));
                None
            }
        },
        _ if filter.value.is_empty() => {
            problems.push(format!("{label}: enter a value"));
            None
        }
        "in" => Some(list_of(&filter.value)),
        "starts_with" => Some(match value_of(&filter.value) {
            text @ Value::String(_) => text,
            _ => Value::String(filter.value.clone()),
        }),
        _ => Some(value_of(&filter.value)),
    };
    if let Some(value) = value {
        object.insert("value".into(), value);
    }
    Value::Object(object)
}

/// A value as typed: JSON where it reads as JSON (`12`, `true`, `"12"`), else the text itself.
pub fn value_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// How a value is shown for typing: a string as itself unless it would read as something else
/// (then quoted), anything else as JSON. `value_of` gives it back.
pub fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) if serde_json::from_str::<Value>(text).is_err() && !text.is_empty() => {
            text.clone()
        }
        other => other.to_string(),
    }
}

/// A list as typed: a JSON array, or values separated by commas.
fn list_of(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(list @ Value::Array(_)) => list,
        _ => Value::Array(text.split(',').map(|item| value_of(item.trim())).collect()),
    }
}

/// Unix seconds of a date typed in UTC (`2026-12-03T10:00` or with seconds).
fn seconds_of(text: &str) -> Option<i64> {
    let civil: jiff::civil::DateTime = text.trim().parse().ok()?;
    Some(jiff::tz::Offset::UTC.to_timestamp(civil).ok()?.as_second())
}

/// A date for `<input type="datetime-local">`, in UTC, with seconds only when it has some.
pub fn date_of(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds).map_or_else(
        |_| String::new(),
        |at| {
            let format = if seconds % 60 == 0 {
                "%Y-%m-%dT%H:%M"
            } else {
                "%Y-%m-%dT%H:%M:%S"
            };
            at.strftime(format).to_string()
        },
    )
}

/// The tree of a definition; the definition must be valid (`Definition::parse` accepts it).
pub fn from_json(value: &Value) -> Result<Node, String> {
    let object = value
        .as_object()
        .filter(|object| object.len() == 1)
        .ok_or("a condition is an object with one key")?;
    let (key, inner) = object.iter().next().ok_or("an empty condition")?;
    Ok(match key.as_str() {
        "and" | "or" => Node::Group {
            join: if key == "and" { Join::All } else { Join::Any },
            children: inner
                .as_array()
                .ok_or("a group takes a list")?
                .iter()
                .map(from_json)
                .collect::<Result<_, _>>()?,
        },
        "not" => Node::Not(Box::new(from_json(inner)?)),
        "segment" => Node::Segment(inner["id"].as_i64()),
        "attribute" => Node::Attribute(filter_of(inner)),
        "event" => Node::Event(event_of(inner)),
        "relationship" => {
            return Err(
                "This definition has a relationship condition (on objects), which the builder \
                 cannot show yet: change it through the App API (PUT /v1/segments/{id})."
                    .into(),
            );
        }
        other => return Err(format!("unknown condition {other}")),
    })
}

pub(crate) fn duration_of(value: &Value) -> (String, String) {
    value
        .as_object()
        .and_then(|object| object.iter().next())
        .map(|(unit, amount)| (amount.to_string(), unit.clone()))
        .unwrap_or_else(|| ("30".into(), "days".into()))
}

pub(crate) fn filter_of(value: &Value) -> FilterNode {
    let op = value["op"].as_str().unwrap_or("eq").to_owned();
    let mut filter = FilterNode {
        field: value["field"].as_str().unwrap_or_default().to_owned(),
        op: op.clone(),
        ..FilterNode::default()
    };
    match op.as_str() {
        "exists" | "not_exists" => {}
        "before" | "after" => filter.at = value["value"].as_i64().map(date_of).unwrap_or_default(),
        "before_ago" | "after_ago" => {
            (filter.ago, filter.ago_unit) = duration_of(&value["value"]);
        }
        "in" => filter.value = value["value"].to_string(),
        _ => filter.value = text_of(&value["value"]),
    }
    filter
}

fn event_of(value: &Value) -> EventNode {
    let mut event = EventNode {
        name: value["name"].as_str().unwrap_or_default().to_owned(),
        kind: value["type"].as_str().unwrap_or("event").to_owned(),
        performed: value["performed"].as_bool().unwrap_or(true),
        profile_age: value["require_profile_age"].as_bool().unwrap_or(false),
        ..EventNode::default()
    };
    if let Some((op, count)) = value["count"].as_object().and_then(|c| c.iter().next()) {
        event.count_op = op.clone();
        event.count = count.to_string();
    }
    if value.get("within").is_some() {
        event.when = "within".into();
        (event.within, event.within_unit) = duration_of(&value["within"]);
    } else if let Some(between) = value.get("between") {
        event.when = "between".into();
        event.from = between["from"].as_i64().map(date_of).unwrap_or_default();
        event.to = between["to"].as_i64().map(date_of).unwrap_or_default();
    }
    if let Some(filters) = value["where"].as_array() {
        event.filters = filters.iter().map(filter_of).collect();
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Definitions written in the shortest form come back exactly.
    #[test]
    fn definitions_round_trip_through_the_tree() {
        for definition in [
            json!({"and": [
                {"event": {"name": "purchased", "count": {"at_least": 3}, "within": {"days": 30},
                           "where": [{"field": "price", "op": "gt", "value": 10},
                                     {"field": "plan", "op": "in", "value": ["pro", "team"]},
                                     {"field": "code", "op": "eq", "value": "12"},
                                     {"field": "sku", "op": "starts_with", "value": "A-"}]}},
                {"not": {"event": {"name": "invited_friend", "performed": false,
                                   "within": {"weeks": 2}, "require_profile_age": true}}},
                {"or": [{"attribute": {"field": "plan", "op": "eq", "value": "pro"}},
                        {"attribute": {"field": "signed_up", "op": "before_ago", "value": {"days": 30}}},
                        {"attribute": {"field": "trial_end", "op": "after", "value": 1_796_256_000}},
                        {"attribute": {"field": "email", "op": "exists"}},
                        {"segment": {"id": 7}}]},
                {"event": {"name": "/pricing", "type": "page", "count": {"exactly": 2},
                           "between": {"from": 1_796_256_000, "to": 1_796_256_059}}},
                {"not": {"not": {"attribute": {"field": "empty", "op": "neq", "value": ""}}}}
            ]}),
            json!({"event": {"name": "login"}}),
        ] {
            herald_segment_engine::Definition::parse(&definition).expect("valid");
            let tree = from_json(&definition).expect("a tree");
            assert_eq!(to_json(&tree).expect("complete"), definition);
        }
    }

    #[test]
    fn what_is_missing_is_named_by_the_condition_number() {
        let mut tree = Node::starting();
        if let Node::Group { children, .. } = &mut tree {
            children.push(Node::Group {
                join: Join::Any,
                children: vec![Node::Segment(None), Node::Attribute(FilterNode::default())],
            });
        }
        assert_eq!(
            to_json(&tree).unwrap_err(),
            vec![
                "Condition 1: choose an event name".to_owned(),
                "Condition 2.1: choose a segment".to_owned(),
                "Condition 2.2: choose an attribute".to_owned(),
                "Condition 2.2: enter a value".to_owned(),
            ]
        );
        assert_eq!(
            to_json(&Node::Group {
                join: Join::All,
                children: vec![]
            })
            .unwrap_err(),
            vec!["The definition: add a condition".to_owned()]
        );
    }

    #[test]
    fn typed_values_read_as_json_where_they_can() {
        assert_eq!(value_of("12"), json!(12));
        assert_eq!(value_of("pro"), json!("pro"));
        assert_eq!(value_of("\"12\""), json!("12"));
        assert_eq!(text_of(&json!("12")), "\"12\"");
        assert_eq!(text_of(&json!("pro")), "pro");
        assert_eq!(list_of("pro, team"), json!(["pro", "team"]));
        assert_eq!(seconds_of("2026-12-03T00:00"), Some(1_796_256_000));
        assert_eq!(date_of(1_796_256_059), "2026-12-03T00:00:59");
    }
}
