//! The public definition format (issue 3) and its validation.
//!
//! Errors name the offending path, e.g. `and[1].event.count`, so that the API can answer a 400 a
//! user can act on.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::history::EventKind;
use crate::{SegmentId, UnixSeconds};

/// A validated segment definition.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Definition {
    pub root: Condition,
    /// The original JSON, kept to answer `GET /v1/segments/{id}` exactly as it was sent.
    #[serde(with = "crate::json_text")]
    pub source: Value,
}

/// A condition tree.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Condition {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    Event(EventCondition),
    Attribute(Filter),
    Segment(SegmentId),
    /// Related to an object of a type whose attributes pass filters (`relationship.rs`).
    Relationship(crate::relationship::RelationshipCondition),
}

/// How many matching events an event condition asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Count {
    AtLeast(u64),
    AtMost(u64),
    Exactly(u64),
}

impl Count {
    /// Tells whether `count` satisfies this requirement.
    pub fn holds(self, count: u64) -> bool {
        match self {
            Self::AtLeast(n) => count >= n,
            Self::AtMost(n) => count <= n,
            Self::Exactly(n) => count == n,
        }
    }
}

/// Which events of the past count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Window {
    /// Every event up to now.
    Ever,
    /// Events with `now − seconds < timestamp ≤ now`.
    Within(i64),
    /// Events with `from ≤ timestamp ≤ to` (and `timestamp ≤ now`).
    Between { from: UnixSeconds, to: UnixSeconds },
}

/// An event condition.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EventCondition {
    pub name: String,
    pub kind: EventKind,
    pub performed: bool,
    pub count: Count,
    pub window: Window,
    pub filters: Vec<Filter>,
    pub require_profile_age: bool,
}

/// A filter operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Op {
    Eq,
    Neq,
    Exists,
    NotExists,
    Contains,
    NotContains,
    StartsWith,
    In,
    Gt,
    Gte,
    Lt,
    Lte,
    Before,
    After,
    BeforeAgo,
    AfterAgo,
}

impl Op {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "eq" => Self::Eq,
            "neq" => Self::Neq,
            "exists" => Self::Exists,
            "not_exists" => Self::NotExists,
            "contains" => Self::Contains,
            "not_contains" => Self::NotContains,
            "starts_with" => Self::StartsWith,
            "in" => Self::In,
            "gt" => Self::Gt,
            "gte" => Self::Gte,
            "lt" => Self::Lt,
            "lte" => Self::Lte,
            "before" => Self::Before,
            "after" => Self::After,
            "before_ago" => Self::BeforeAgo,
            "after_ago" => Self::AfterAgo,
            _ => return None,
        })
    }

    /// Tells whether the filter's truth depends on the current time.
    pub fn is_relative(self) -> bool {
        matches!(self, Self::BeforeAgo | Self::AfterAgo)
    }
}

/// The value a filter compares with, prepared once.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Operand {
    None,
    Json(#[serde(with = "crate::json_text")] Value),
    Number(f64),
    List(#[serde(with = "crate::json_text")] Vec<Value>),
    Seconds(i64),
}

/// A filter on a person attribute or on event data.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Filter {
    /// The field path, split at dots: `plan.tier` is `["plan", "tier"]`.
    pub path: Vec<String>,
    pub op: Op,
    pub operand: Operand,
}

/// An invalid definition: where and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct DefinitionError {
    pub path: String,
    pub message: String,
}

fn error(path: &str, message: impl Into<String>) -> DefinitionError {
    DefinitionError {
        path: if path.is_empty() {
            "definition".to_owned()
        } else {
            path.to_owned()
        },
        message: message.into(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The deepest nesting accepted, so that a hostile definition cannot exhaust the stack.
const MAX_DEPTH: usize = 32;

impl Definition {
    /// What a new definition may not hold though `parse` takes it, so that definitions stored
    /// before this check still load: a value given to `exists` or `not_exists`, which take
    /// none. Whoever wrote one most likely meant `eq`, and would get everyone who has the field.
    pub fn refuse_in_new(value: &Value) -> Result<(), DefinitionError> {
        fn walk(value: &Value, path: &str, depth: usize) -> Result<(), DefinitionError> {
            if depth > MAX_DEPTH {
                return Ok(());
            }
            match value {
                Value::Object(object) => {
                    let op = object.get("op").and_then(Value::as_str);
                    if let Some(op @ ("exists" | "not_exists")) = op
                        && object.get("value").is_some_and(|v| !v.is_null())
                    {
                        return Err(error(
                            &join(path, "value"),
                            format!(
                                "{op} takes no value: it holds when the field is {}; to compare the field with a value, use eq or neq",
                                if op == "exists" { "present" } else { "absent" }
                            ),
                        ));
                    }
                    for (key, child) in object {
                        walk(child, &join(path, key), depth + 1)?;
                    }
                    Ok(())
                }
                Value::Array(items) => items.iter().enumerate().try_for_each(|(index, item)| {
                    walk(item, &format!("{path}[{index}]"), depth + 1)
                }),
                _ => Ok(()),
            }
        }
        walk(value, "", 0)
    }

    /// Parses and validates a definition.
    pub fn parse(value: &Value) -> Result<Self, DefinitionError> {
        let root = parse_condition(value, "", 0)?;
        Ok(Self {
            root,
            source: value.clone(),
        })
    }

    /// Returns the names of the events this definition's conditions look at.
    pub fn event_names(&self) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        collect_event_names(&self.root, &mut found);
        found
    }

    /// Returns the ids of the segments this definition refers to.
    pub fn references(&self) -> BTreeSet<SegmentId> {
        self.root.references()
    }
}

impl Condition {
    /// Returns the ids of the segments this condition refers to.
    pub fn references(&self) -> BTreeSet<SegmentId> {
        let mut found = BTreeSet::new();
        collect_references(self, &mut found);
        found
    }
}

fn collect_event_names(condition: &Condition, found: &mut BTreeSet<String>) {
    match condition {
        Condition::And(children) | Condition::Or(children) => {
            for child in children {
                collect_event_names(child, found);
            }
        }
        Condition::Not(child) => collect_event_names(child, found),
        Condition::Event(event) => {
            found.insert(event.name.clone());
        }
        Condition::Segment(_) | Condition::Attribute(_) | Condition::Relationship(_) => {}
    }
}

fn collect_references(condition: &Condition, found: &mut BTreeSet<SegmentId>) {
    match condition {
        Condition::And(children) | Condition::Or(children) => {
            for child in children {
                collect_references(child, found);
            }
        }
        Condition::Not(child) => collect_references(child, found),
        Condition::Segment(id) => {
            found.insert(*id);
        }
        Condition::Event(_) | Condition::Attribute(_) | Condition::Relationship(_) => {}
    }
}

fn single_key<'v>(
    object: &'v Map<String, Value>,
    path: &str,
) -> Result<(&'v str, &'v Value), DefinitionError> {
    if object.len() != 1 {
        return Err(error(
            path,
            "a condition is an object with exactly one of and, or, not, event, attribute, segment, relationship",
        ));
    }
    let (key, value) = object
        .iter()
        .next()
        .ok_or_else(|| error(path, "empty condition"))?;
    Ok((key.as_str(), value))
}

fn parse_condition(value: &Value, path: &str, depth: usize) -> Result<Condition, DefinitionError> {
    if depth > MAX_DEPTH {
        return Err(error(
            path,
            format!("conditions nest deeper than {MAX_DEPTH} levels"),
        ));
    }
    let Value::Object(object) = value else {
        return Err(error(
            path,
            format!("a condition must be an object, not {}", describe(value)),
        ));
    };
    let (key, inner) = single_key(object, path)?;
    let here = join(path, key);
    match key {
        "and" | "or" => {
            let Value::Array(items) = inner else {
                return Err(error(&here, format!("{key} takes an array of conditions")));
            };
            if items.is_empty() {
                return Err(error(&here, format!("{key} needs at least one condition")));
            }
            let mut children = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                children.push(parse_condition(
                    item,
                    &format!("{here}[{index}]"),
                    depth + 1,
                )?);
            }
            Ok(if key == "and" {
                Condition::And(children)
            } else {
                Condition::Or(children)
            })
        }
        "not" => Ok(Condition::Not(Box::new(parse_condition(
            inner,
            &here,
            depth + 1,
        )?))),
        "event" => parse_event(inner, &here).map(Condition::Event),
        "attribute" => parse_filter(inner, &here).map(Condition::Attribute),
        "relationship" => parse_relationship(inner, &here).map(Condition::Relationship),
        "segment" => {
            let id = inner
                .get("id")
                .and_then(Value::as_i64)
                .filter(|_| inner.as_object().is_some_and(|o| o.len() == 1))
                .ok_or_else(|| {
                    error(
                        &format!("{here}.id"),
                        "segment takes {\"id\": <segment id>}",
                    )
                })?;
            Ok(Condition::Segment(SegmentId::new(id)))
        }
        other => Err(error(
            path,
            format!(
                "unknown condition {other:?}: use and, or, not, event, attribute, relationship or segment"
            ),
        )),
    }
}

/// Reads a list of filters (`where`); absent is none.
fn parse_filters(value: Option<&Value>, path: &str) -> Result<Vec<Filter>, DefinitionError> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(index, item)| parse_filter(item, &format!("{path}[{index}]")))
            .collect(),
        Some(_) => Err(error(path, "this takes an array of filters")),
    }
}

/// `{"relationship": {"object_type_id": "1", "where": [filters on the object's attributes],
/// "relationship_where": [filters on the relationship's]}}`. Filters relative to now are
/// refused: a related object's attributes are not watched for time to pass.
fn parse_relationship(
    value: &Value,
    path: &str,
) -> Result<crate::relationship::RelationshipCondition, DefinitionError> {
    let Value::Object(object) = value else {
        return Err(error(
            path,
            "relationship takes {\"object_type_id\": \"1\", \"where\": [filters]}",
        ));
    };
    for key in object.keys() {
        if !matches!(
            key.as_str(),
            "object_type_id" | "where" | "relationship_where"
        ) {
            return Err(error(
                &join(path, key),
                "unknown field of a relationship condition: use object_type_id, where and relationship_where",
            ));
        }
    }
    let type_path = join(path, "object_type_id");
    let object_type_id = match object.get("object_type_id") {
        Some(Value::String(text)) => text.trim().to_owned(),
        Some(Value::Number(number)) => number.to_string(),
        _ => {
            return Err(error(
                &type_path,
                "a relationship condition needs the object_type_id, e.g. \"1\"",
            ));
        }
    };
    if object_type_id.is_empty() || !object_type_id.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(error(
            &type_path,
            "object_type_id is an object type's number, e.g. \"1\"",
        ));
    }
    let read = |key: &str| -> Result<Vec<Filter>, DefinitionError> {
        let here = join(path, key);
        let filters = parse_filters(object.get(key), &here)?;
        if let Some(index) = filters.iter().position(|filter| filter.op.is_relative()) {
            return Err(error(
                &format!("{here}[{index}].op"),
                "before_ago and after_ago are not supported on objects: compare with before or after",
            ));
        }
        Ok(filters)
    };
    Ok(crate::relationship::RelationshipCondition {
        object_type_id,
        filters: read("where")?,
        relationship_filters: read("relationship_where")?,
    })
}

fn positive_integer(value: &Value, path: &str) -> Result<u64, DefinitionError> {
    value
        .as_u64()
        .ok_or_else(|| error(path, format!("must be a whole number ≥ 0, not {value}")))
}

/// Parses a duration such as `{"days": 7}` into seconds; `path` names it in errors.
pub fn parse_duration(value: &Value, path: &str) -> Result<i64, DefinitionError> {
    let Value::Object(object) = value else {
        return Err(error(
            path,
            "a duration is {\"minutes\"|\"hours\"|\"days\"|\"weeks\": N}",
        ));
    };
    if object.len() != 1 {
        return Err(error(
            path,
            "a duration has exactly one unit: minutes, hours, days or weeks",
        ));
    }
    let (unit, amount) = object
        .iter()
        .next()
        .ok_or_else(|| error(path, "empty duration"))?;
    let unit_seconds = match unit.as_str() {
        "minutes" => 60,
        "hours" => 3600,
        "days" => 86_400,
        "weeks" => 7 * 86_400,
        other => {
            return Err(error(
                &join(path, other),
                "unknown unit: use minutes, hours, days or weeks",
            ));
        }
    };
    let amount_path = join(path, unit);
    let amount = amount
        .as_u64()
        .filter(|amount| *amount >= 1)
        .ok_or_else(|| {
            error(
                &amount_path,
                format!("must be a whole number ≥ 1, not {amount}"),
            )
        })?;
    i64::try_from(amount)
        .ok()
        .and_then(|amount| amount.checked_mul(unit_seconds))
        .filter(|seconds| *seconds <= 100 * 366 * 86_400)
        .ok_or_else(|| error(&amount_path, "a window may be at most 100 years"))
}

fn parse_event(value: &Value, path: &str) -> Result<EventCondition, DefinitionError> {
    let Value::Object(object) = value else {
        return Err(error(
            path,
            format!("event takes an object, not {}", describe(value)),
        ));
    };
    for key in object.keys() {
        if !matches!(
            key.as_str(),
            "name"
                | "type"
                | "performed"
                | "count"
                | "within"
                | "between"
                | "where"
                | "require_profile_age"
        ) {
            return Err(error(
                &join(path, key),
                "unknown field of an event condition",
            ));
        }
    }
    let name = match object.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.trim().to_owned(),
        _ => {
            return Err(error(
                &join(path, "name"),
                "an event condition needs a name",
            ));
        }
    };
    let kind = match object.get("type") {
        None => EventKind::Event,
        Some(Value::String(text)) => EventKind::parse(text)
            .ok_or_else(|| error(&join(path, "type"), "type is event, page or screen"))?,
        Some(_) => return Err(error(&join(path, "type"), "type is event, page or screen")),
    };
    let performed = match object.get("performed") {
        None => true,
        Some(Value::Bool(flag)) => *flag,
        Some(_) => {
            return Err(error(
                &join(path, "performed"),
                "performed is true or false",
            ));
        }
    };
    let count = match object.get("count") {
        None => Count::AtLeast(1),
        Some(_) if !performed => {
            return Err(error(
                &join(path, "count"),
                "count cannot be combined with performed: false (use at_most or exactly 0 instead)",
            ));
        }
        Some(Value::Object(count)) if count.len() == 1 => {
            let (key, amount) = count
                .iter()
                .next()
                .ok_or_else(|| error(path, "empty count"))?;
            let count_path = join(&join(path, "count"), key);
            let amount = positive_integer(amount, &count_path)?;
            match key.as_str() {
                "at_least" => Count::AtLeast(amount),
                "at_most" => Count::AtMost(amount),
                "exactly" => Count::Exactly(amount),
                _ => return Err(error(&count_path, "count is at_least, at_most or exactly")),
            }
        }
        Some(_) => {
            return Err(error(
                &join(path, "count"),
                "count is {\"at_least\"|\"at_most\"|\"exactly\": N}",
            ));
        }
    };
    let window = match (object.get("within"), object.get("between")) {
        (Some(_), Some(_)) => {
            return Err(error(path, "give within or between, not both"));
        }
        (Some(within), None) => Window::Within(parse_duration(within, &join(path, "within"))?),
        (None, Some(between)) => {
            let between_path = join(path, "between");
            let bound = |key: &str| {
                between
                    .get(key)
                    .and_then(Value::as_i64)
                    .ok_or_else(|| error(&join(&between_path, key), "must be unix seconds"))
            };
            let (from, to) = (bound("from")?, bound("to")?);
            if from > to {
                return Err(error(&between_path, "from must not be after to"));
            }
            Window::Between { from, to }
        }
        (None, None) => Window::Ever,
    };
    let filters = parse_filters(object.get("where"), &join(path, "where"))?;
    let require_profile_age = match object.get("require_profile_age") {
        None => false,
        Some(Value::Bool(flag)) => *flag,
        Some(_) => {
            return Err(error(
                &join(path, "require_profile_age"),
                "require_profile_age is true or false",
            ));
        }
    };
    if require_profile_age && performed {
        return Err(error(
            &join(path, "require_profile_age"),
            "require_profile_age applies only to performed: false",
        ));
    }
    Ok(EventCondition {
        name,
        kind,
        performed,
        count,
        window,
        filters,
        require_profile_age,
    })
}

/// Parses one filter; `path` names it in errors.
pub fn parse_filter(value: &Value, path: &str) -> Result<Filter, DefinitionError> {
    let Value::Object(object) = value else {
        return Err(error(
            path,
            format!("a filter is an object, not {}", describe(value)),
        ));
    };
    for key in object.keys() {
        if !matches!(key.as_str(), "field" | "op" | "value") {
            return Err(error(
                &join(path, key),
                "unknown field of a filter (field, op, value)",
            ));
        }
    }
    let field = match object.get("field") {
        Some(Value::String(field)) if !field.is_empty() => field,
        _ => return Err(error(&join(path, "field"), "a filter needs a field name")),
    };
    let path_parts: Vec<String> = field.split('.').map(str::to_owned).collect();
    if path_parts.iter().any(String::is_empty) {
        return Err(error(
            &join(path, "field"),
            "a field path has no empty parts",
        ));
    }
    let op_path = join(path, "op");
    let op = object
        .get("op")
        .and_then(Value::as_str)
        .and_then(Op::parse)
        .ok_or_else(|| {
            error(
                &op_path,
                "op is one of eq, neq, exists, not_exists, contains, not_contains, starts_with, in, gt, gte, lt, lte, before, after, before_ago, after_ago",
            )
        })?;
    let value_path = join(path, "value");
    let value = object.get("value");
    let operand = match op {
        Op::Exists | Op::NotExists => Operand::None,
        Op::Eq | Op::Neq | Op::Contains | Op::NotContains => Operand::Json(
            value
                .cloned()
                .ok_or_else(|| error(&value_path, "this op needs a value"))?,
        ),
        Op::StartsWith => match value {
            Some(Value::String(text)) => Operand::Json(Value::String(text.clone())),
            _ => return Err(error(&value_path, "starts_with takes a string")),
        },
        Op::In => match value {
            Some(Value::Array(items)) => Operand::List(items.clone()),
            _ => return Err(error(&value_path, "in takes an array of values")),
        },
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
            let number = value
                .and_then(crate::filter::number_of)
                .ok_or_else(|| error(&value_path, "this op compares numbers: give a number"))?;
            Operand::Number(number)
        }
        Op::Before | Op::After => {
            let seconds = value
                .and_then(Value::as_i64)
                .ok_or_else(|| error(&value_path, "this op takes unix seconds"))?;
            Operand::Seconds(seconds)
        }
        Op::BeforeAgo | Op::AfterAgo => {
            let value = value.ok_or_else(|| {
                error(
                    &value_path,
                    "this op takes a duration such as {\"days\": 7}",
                )
            })?;
            Operand::Seconds(parse_duration(value, &value_path)?)
        }
    };
    Ok(Filter {
        path: path_parts,
        op,
        operand,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn error_of(value: Value) -> String {
        Definition::parse(&value).unwrap_err().to_string()
    }

    /// A window of 0 or less is refused with the bound it must meet, whichever it was.
    #[test]
    fn windows_are_whole_numbers_from_one() {
        for days in [json!(0), json!(-1), json!(1.5)] {
            let message = error_of(json!({"event": {"name": "a", "within": {"days": days}}}));
            assert!(
                message.starts_with("event.within.days: must be a whole number ≥ 1, not"),
                "{message}"
            );
        }
        assert!(
            error_of(json!({})).ends_with("segment, relationship"),
            "the keys listed are every key a condition takes"
        );
    }

    #[test]
    fn a_new_definition_gives_exists_no_value() {
        let loose = json!({"and": [
            {"event": {"name": "a"}},
            {"event": {"name": "b", "where": [{"field": "plan", "op": "exists", "value": "pro"}]}}
        ]});
        assert!(Definition::parse(&loose).is_ok(), "stored ones still load");
        let error = Definition::refuse_in_new(&loose).unwrap_err();
        assert_eq!(error.path, "and[1].event.where[0].value");
        assert!(
            error.message.starts_with("exists takes no value"),
            "{error}"
        );
        for fine in [
            json!({"attribute": {"field": "plan", "op": "not_exists"}}),
            json!({"attribute": {"field": "plan", "op": "exists", "value": null}}),
            json!({"attribute": {"field": "plan", "op": "eq", "value": "pro"}}),
        ] {
            assert!(Definition::refuse_in_new(&fine).is_ok(), "{fine}");
        }
        let error = Definition::refuse_in_new(
            &json!({"attribute": {"field": "p", "op": "not_exists", "value": 1}}),
        )
        .unwrap_err();
        assert_eq!(error.path, "attribute.value");
    }

    #[test]
    fn errors_name_the_offending_path() {
        assert_eq!(
            error_of(
                json!({"and": [{"event": {"name": "a"}}, {"event": {"name": "b", "performed": false, "count": {"at_least": 2}}}]})
            ),
            "and[1].event.count: count cannot be combined with performed: false (use at_most or exactly 0 instead)"
        );
        assert!(error_of(json!({"or": []})).starts_with("or: "));
        assert!(
            error_of(json!({"event": {"name": "a", "within": {"fortnights": 1}}}))
                .starts_with("event.within.fortnights: ")
        );
        assert!(
            error_of(json!({"attribute": {"field": "x", "op": "gt", "value": "abc"}}))
                .starts_with("attribute.value: ")
        );
        assert!(
            error_of(json!({"event": {"name": "a", "where": [{"field": "p", "op": "zz"}]}}))
                .starts_with("event.where[0].op: ")
        );
        assert!(error_of(json!({"nope": 1})).starts_with("definition: "));
    }

    #[test]
    fn defaults_and_references() {
        let definition = Definition::parse(
            &json!({"and": [{"event": {"name": " purchased "}}, {"not": {"segment": {"id": 7}}}]}),
        )
        .unwrap();
        let Condition::And(children) = &definition.root else {
            panic!()
        };
        let Condition::Event(event) = &children[0] else {
            panic!()
        };
        assert_eq!(event.name, "purchased");
        assert_eq!(event.count, Count::AtLeast(1));
        assert_eq!(event.window, Window::Ever);
        assert_eq!(
            definition.references().into_iter().collect::<Vec<_>>(),
            vec![SegmentId::new(7)]
        );
    }
}
