//! Filters on person attributes and event data.
//!
//! `neq` and `not_contains` are the negations of `eq` and `contains`, so they hold when the field
//! is missing. Number comparisons read numeric strings as numbers (`"23.45" > 20`).

use serde_json::{Map, Value};

use crate::UnixSeconds;
use crate::definition::{Filter, Op, Operand};
use crate::history::timestamp_of;

/// Reads a number from a JSON number or a numeric string.
pub fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// Finds the value at a dotted path.
pub fn lookup<'v>(object: &'v Map<String, Value>, path: &[String]) -> Option<&'v Value> {
    let (first, rest) = path.split_first()?;
    lookup_below(object.get(first)?, rest)
}

/// Finds the value at a dotted path below `value` (`value` itself for an empty path).
pub fn lookup_below<'v>(value: &'v Value, path: &[String]) -> Option<&'v Value> {
    let mut current = value;
    for part in path {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

fn loosely_equal(field: &Value, operand: &Value) -> bool {
    if field == operand {
        return true;
    }
    match (number_of(field), number_of(operand)) {
        (Some(a), Some(b)) => a == b && !(field.is_string() && operand.is_string()),
        _ => false,
    }
}

fn contains(field: &Value, operand: &Value) -> bool {
    match field {
        Value::String(text) => match operand {
            Value::String(needle) => text.contains(needle.as_str()),
            Value::Number(number) => text.contains(&number.to_string()),
            _ => false,
        },
        Value::Array(items) => items.iter().any(|item| loosely_equal(item, operand)),
        _ => false,
    }
}

/// Tells whether a filter holds on `object` at time `now`.
pub fn holds(filter: &Filter, object: &Map<String, Value>, now: UnixSeconds) -> bool {
    holds_on(filter, lookup(object, &filter.path), now)
}

/// Tells whether a filter holds at time `now` on the value found at its path (`None`: there is
/// none). A null is a missing value.
pub fn holds_on(filter: &Filter, field: Option<&Value>, now: UnixSeconds) -> bool {
    let field = field.filter(|value| !value.is_null());
    match (filter.op, &filter.operand) {
        (Op::Exists, _) => field.is_some(),
        (Op::NotExists, _) => field.is_none(),
        (Op::Eq, Operand::Json(operand)) => field.is_some_and(|f| loosely_equal(f, operand)),
        (Op::Neq, Operand::Json(operand)) => !field.is_some_and(|f| loosely_equal(f, operand)),
        (Op::Contains, Operand::Json(operand)) => field.is_some_and(|f| contains(f, operand)),
        (Op::NotContains, Operand::Json(operand)) => !field.is_some_and(|f| contains(f, operand)),
        (Op::StartsWith, Operand::Json(Value::String(prefix))) => field
            .and_then(Value::as_str)
            .is_some_and(|text| text.starts_with(prefix.as_str())),
        (Op::In, Operand::List(items)) => {
            field.is_some_and(|f| items.iter().any(|item| loosely_equal(f, item)))
        }
        (Op::Gt | Op::Gte | Op::Lt | Op::Lte, Operand::Number(bound)) => {
            let Some(number) = field.and_then(number_of) else {
                return false;
            };
            match filter.op {
                Op::Gt => number > *bound,
                Op::Gte => number >= *bound,
                Op::Lt => number < *bound,
                _ => number <= *bound,
            }
        }
        (Op::Before, Operand::Seconds(bound)) => {
            field.and_then(timestamp_of).is_some_and(|t| t < *bound)
        }
        (Op::After, Operand::Seconds(bound)) => {
            field.and_then(timestamp_of).is_some_and(|t| t > *bound)
        }
        (Op::BeforeAgo, Operand::Seconds(span)) => {
            field.and_then(timestamp_of).is_some_and(|t| t < now - span)
        }
        (Op::AfterAgo, Operand::Seconds(span)) => {
            field.and_then(timestamp_of).is_some_and(|t| t > now - span)
        }
        // The parser pairs every op with its operand kind, so other pairs cannot occur.
        _ => false,
    }
}

/// Returns the first time after `now` at which the filter's truth on `object` changes by time
/// alone, if it ever does.
pub fn next_change(
    filter: &Filter,
    object: &Map<String, Value>,
    now: UnixSeconds,
) -> Option<UnixSeconds> {
    next_change_on(filter, lookup(object, &filter.path), now)
}

/// `next_change` on the value found at the filter's path.
pub fn next_change_on(
    filter: &Filter,
    field: Option<&Value>,
    now: UnixSeconds,
) -> Option<UnixSeconds> {
    let Operand::Seconds(span) = filter.operand else {
        return None;
    };
    let timestamp = field.and_then(timestamp_of)?;
    let change = match filter.op {
        // `t < now − span` turns true once now > t + span.
        Op::BeforeAgo => timestamp.checked_add(span)?.checked_add(1)?,
        // `t > now − span` turns false once now ≥ t + span.
        Op::AfterAgo => timestamp.checked_add(span)?,
        _ => return None,
    };
    (change > now).then_some(change)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::definition::Definition;

    fn filter(value: serde_json::Value) -> Filter {
        match Definition::parse(&json!({"attribute": value}))
            .unwrap()
            .root
        {
            crate::Condition::Attribute(filter) => filter,
            _ => unreachable!(),
        }
    }

    fn check(f: serde_json::Value, object: serde_json::Value, now: i64) -> bool {
        holds(&filter(f), object.as_object().unwrap(), now)
    }

    #[test]
    fn operators() {
        let person = json!({"price": "23.45", "plan": {"tier": "pro"}, "tags": ["a", 2], "seen": 1000, "name": "Ann"});
        assert!(check(
            json!({"field": "price", "op": "gt", "value": 20}),
            person.clone(),
            0
        ));
        assert!(!check(
            json!({"field": "price", "op": "lte", "value": 20}),
            person.clone(),
            0
        ));
        assert!(check(
            json!({"field": "plan.tier", "op": "eq", "value": "pro"}),
            person.clone(),
            0
        ));
        assert!(check(
            json!({"field": "plan.nope", "op": "neq", "value": "pro"}),
            person.clone(),
            0
        ));
        assert!(check(
            json!({"field": "tags", "op": "contains", "value": 2}),
            person.clone(),
            0
        ));
        assert!(check(
            json!({"field": "name", "op": "starts_with", "value": "An"}),
            person.clone(),
            0
        ));
        assert!(check(
            json!({"field": "name", "op": "in", "value": ["Bob", "Ann"]}),
            person.clone(),
            0
        ));
        assert!(check(
            json!({"field": "missing", "op": "not_exists"}),
            person.clone(),
            0
        ));
        assert!(check(
            json!({"field": "seen", "op": "before", "value": 1001}),
            person.clone(),
            0
        ));
        let ago = json!({"field": "seen", "op": "before_ago", "value": {"minutes": 1}});
        assert!(!check(ago.clone(), person.clone(), 1060));
        assert!(check(ago.clone(), person.clone(), 1061));
        assert_eq!(
            next_change(&filter(ago), person.as_object().unwrap(), 1000),
            Some(1061)
        );
        let after = json!({"field": "seen", "op": "after_ago", "value": {"minutes": 1}});
        assert!(check(after.clone(), person.clone(), 1059));
        assert!(!check(after.clone(), person.clone(), 1060));
        assert_eq!(
            next_change(&filter(after), person.as_object().unwrap(), 1000),
            Some(1060)
        );
    }
}
