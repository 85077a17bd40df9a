//! The audience filter of Customer.io's customer search (`POST /v1/customers`): `and`, `or` and
//! `not` over segment memberships and attribute conditions, parsed with messages that name the
//! place at fault, and evaluated for one person at a time. Its object search
//! (`POST /v1/objects`) takes the same filter with `object_attribute` conditions instead
//! ([`PeopleFilter::parse_for_objects`], [`PeopleFilter::matches_object`]).
//!
//! ```text
//! {"and": [F…]} | {"or": [F…]} | {"not": F}
//!   | {"segment": {"id": 4}}
//!   | {"attribute": {"field": "plan", "operator": "eq" | "exists", "value": "pro", "inverse": false}}
//! ```

use std::borrow::Cow;
use std::collections::BTreeSet;

use herald_domain::SegmentId;
use herald_segment_engine::filter::number_of;
use herald_store::Person;
use serde_json::{Map, Value};

use super::SegmentsError;

/// The most conditions one filter may hold: each is evaluated for every person scanned, so a
/// huge filter would make one request scan the workspace for a long time.
pub const MAX_CONDITIONS: usize = 1000;

/// A parsed audience filter.
#[derive(Debug, Clone, PartialEq)]
pub enum PeopleFilter {
    And(Vec<PeopleFilter>),
    Or(Vec<PeopleFilter>),
    Not(Box<PeopleFilter>),
    Segment(SegmentId),
    Attribute(AttributeCondition),
}

/// `{"attribute": {"field", "operator", "value", "inverse"}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeCondition {
    /// A top-level attribute, or one of the identifiers `id`, `email` and `cio_id`.
    pub field: String,
    pub test: AttributeTest,
    /// Customer.io's "is not equal" and "does not exist".
    pub inverse: bool,
}

/// What an attribute condition checks.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeTest {
    /// The attribute is set (to anything but null).
    Exists,
    /// The attribute is set to this value; Customer.io keeps attributes as strings, so `true`,
    /// `"true"`, `30` and `"30"` are compared by their text (numbers also by value).
    Eq(Value),
}

/// What a filter is parsed for: people (segment and attribute conditions) or the objects of
/// one type (`object_attribute` conditions, whose `type_id` must be that type).
#[derive(Clone, Copy)]
enum Leaves<'t> {
    People,
    Objects(&'t str),
}

impl Leaves<'_> {
    fn kinds(self) -> &'static str {
        match self {
            Self::People => "and, or, not, segment, attribute",
            Self::Objects(_) => "and, or, not, object_attribute",
        }
    }
}

fn invalid(message: String) -> SegmentsError {
    SegmentsError::Invalid(message)
}

impl PeopleFilter {
    /// Parses the value of a request's `filter`; the error names the path at fault, starting
    /// with `filter`.
    pub fn parse(value: &Value) -> Result<Self, SegmentsError> {
        let mut conditions = 0;
        parse_at(value, "filter", &mut conditions, Leaves::People)
    }

    /// Parses the `filter` of an object search over the objects of `object_type_id`.
    pub fn parse_for_objects(value: &Value, object_type_id: &str) -> Result<Self, SegmentsError> {
        let mut conditions = 0;
        parse_at(
            value,
            "filter",
            &mut conditions,
            Leaves::Objects(object_type_id),
        )
    }

    /// Whether an object matches a filter parsed for objects.
    pub fn matches_object(&self, object: &herald_store::ObjectRow) -> bool {
        match self {
            Self::And(children) => children.iter().all(|c| c.matches_object(object)),
            Self::Or(children) => children.iter().any(|c| c.matches_object(object)),
            Self::Not(child) => !child.matches_object(object),
            Self::Segment(_) => false,
            Self::Attribute(condition) => {
                condition.holds_for(object.attributes.get(&condition.field).map(Cow::Borrowed))
            }
        }
    }

    /// The segments the filter names anywhere.
    pub fn segments(&self) -> BTreeSet<SegmentId> {
        let mut found = BTreeSet::new();
        self.collect_segments(&mut found);
        found
    }

    fn collect_segments(&self, found: &mut BTreeSet<SegmentId>) {
        match self {
            Self::And(children) | Self::Or(children) => {
                for child in children {
                    child.collect_segments(found);
                }
            }
            Self::Not(child) => child.collect_segments(found),
            Self::Segment(id) => {
                found.insert(*id);
            }
            Self::Attribute(_) => {}
        }
    }

    /// The segments every person the filter matches is in (those named at the top or through
    /// nested `and`s only): the members of any one of them are all the candidates there are.
    pub fn required_segments(&self) -> Vec<SegmentId> {
        match self {
            Self::Segment(id) => vec![*id],
            Self::And(children) => children
                .iter()
                .flat_map(PeopleFilter::required_segments)
                .collect(),
            Self::Or(_) | Self::Not(_) | Self::Attribute(_) => Vec::new(),
        }
    }

    /// Whether a person matches, given their memberships of the segments the filter names.
    pub fn matches(&self, person: &Person, in_segment: &dyn Fn(SegmentId) -> bool) -> bool {
        match self {
            Self::And(children) => children.iter().all(|c| c.matches(person, in_segment)),
            Self::Or(children) => children.iter().any(|c| c.matches(person, in_segment)),
            Self::Not(child) => !child.matches(person, in_segment),
            Self::Segment(id) => in_segment(*id),
            Self::Attribute(condition) => condition.holds(person),
        }
    }
}

impl AttributeCondition {
    fn holds(&self, person: &Person) -> bool {
        self.holds_for(attribute_of(person, &self.field))
    }

    /// Whether the condition holds for the value of its field (`None`: not set).
    fn holds_for(&self, field: Option<Cow<'_, Value>>) -> bool {
        let field = field.filter(|value| !value.is_null());
        let field = field.as_deref();
        let held = match &self.test {
            AttributeTest::Exists => field.is_some(),
            AttributeTest::Eq(wanted) => field.is_some_and(|value| {
                // Emails are identifiers, which Customer.io compares without case.
                if self.field == "email" {
                    text_of(value).map(|text| text.to_lowercase())
                        == text_of(wanted).map(|text| text.to_lowercase())
                } else {
                    loosely_equal(value, wanted)
                }
            }),
        };
        held != self.inverse
    }
}

/// A person's attribute by name, the identifiers included, as segment conditions see them
/// (`Person::attributes_with_identifiers`), without copying the profile for every condition.
fn attribute_of<'p>(person: &'p Person, field: &str) -> Option<Cow<'p, Value>> {
    let identifier = match field {
        "id" => person.id.as_ref(),
        "email" => person.email.as_ref(),
        "cio_id" => Some(&person.cio_id),
        _ => None,
    };
    match identifier {
        Some(text) => Some(Cow::Owned(Value::String(text.clone()))),
        None => person.attributes.get(field).map(Cow::Borrowed),
    }
}

/// The text Customer.io keeps a scalar as; `None` for arrays and objects.
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

fn loosely_equal(value: &Value, wanted: &Value) -> bool {
    if value == wanted {
        return true;
    }
    if let (Some(a), Some(b)) = (text_of(value), text_of(wanted))
        && a == b
    {
        return true;
    }
    // A number and a numeric string are the same number however it is written (`30`, "30.0"),
    // while two strings are compared as written.
    (value.is_number() || wanted.is_number())
        && matches!((number_of(value), number_of(wanted)), (Some(a), Some(b)) if a == b)
}

fn parse_at(
    value: &Value,
    path: &str,
    conditions: &mut usize,
    leaves: Leaves<'_>,
) -> Result<PeopleFilter, SegmentsError> {
    let kinds = leaves.kinds();
    *conditions += 1;
    if *conditions > MAX_CONDITIONS {
        return Err(invalid(format!(
            "the filter has more than {MAX_CONDITIONS} conditions; split the search into several"
        )));
    }
    let Value::Object(object) = value else {
        return Err(invalid(format!(
            "{path} must be an object with one of {kinds}"
        )));
    };
    let mut keys = object.keys();
    let (Some(kind), None) = (keys.next(), keys.next()) else {
        let found: Vec<&str> = object.keys().map(String::as_str).collect();
        return Err(invalid(if found.is_empty() {
            format!("{path} is empty: give it one of {kinds}")
        } else {
            format!(
                "{path} has {}: a filter object takes exactly one of {kinds}; put several in an \"and\" to combine them",
                found.join(", ")
            )
        }));
    };
    let inner = &object[kind];
    let inner_path = format!("{path}.{kind}");
    match kind.as_str() {
        "and" | "or" => {
            let Some(items) = inner.as_array().filter(|items| !items.is_empty()) else {
                return Err(invalid(format!(
                    "{inner_path} must be a non-empty array of filters"
                )));
            };
            let children = items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    parse_at(item, &format!("{inner_path}[{index}]"), conditions, leaves)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if kind == "and" {
                PeopleFilter::And(children)
            } else {
                PeopleFilter::Or(children)
            })
        }
        "not" => {
            if inner.is_array() {
                return Err(invalid(format!(
                    "{inner_path} takes one filter object, not an array; wrap several in an \"and\" or an \"or\""
                )));
            }
            Ok(PeopleFilter::Not(Box::new(parse_at(
                inner,
                &inner_path,
                conditions,
                leaves,
            )?)))
        }
        "segment" if matches!(leaves, Leaves::People) => parse_segment(inner, &inner_path),
        "attribute" if matches!(leaves, Leaves::People) => {
            parse_attribute(inner, &inner_path, None)
        }
        "object_attribute" => match leaves {
            Leaves::Objects(object_type_id) => {
                parse_attribute(inner, &inner_path, Some(object_type_id))
            }
            Leaves::People => Err(invalid(format!(
                "{inner_path} is for object searches (POST /v1/objects); use attribute"
            ))),
        },
        other => Err(invalid(format!(
            "{path}.{other} is not a filter; use one of {kinds}"
        ))),
    }
}

fn parse_segment(value: &Value, path: &str) -> Result<PeopleFilter, SegmentsError> {
    let usage = || invalid(format!("{path} must be {{\"id\": <segment id>}}"));
    let object = value.as_object().ok_or_else(usage)?;
    if let Some(key) = object.keys().find(|key| *key != "id") {
        return Err(invalid(format!(
            "{path}.{key} is not a field of a segment condition; it takes only id"
        )));
    }
    let id = match object.get("id") {
        Some(Value::Number(number)) => number.as_i64(),
        // Ids in URLs are strings; one sent as a string of digits means the same segment.
        Some(Value::String(text)) => text.trim().parse::<i64>().ok(),
        None => return Err(usage()),
        Some(_) => None,
    }
    .filter(|id| *id > 0)
    .ok_or_else(|| {
        invalid(format!(
            "{path}.id must be a segment id (a positive whole number)"
        ))
    })?;
    Ok(PeopleFilter::Segment(SegmentId::new(id)))
}

/// An attribute condition; an `object_attribute` one (`object_type` given) also takes the
/// `type_id` Customer.io's clients send, which must be the searched type.
fn parse_attribute(
    value: &Value,
    path: &str,
    object_type: Option<&str>,
) -> Result<PeopleFilter, SegmentsError> {
    let object: &Map<String, Value> = value.as_object().ok_or_else(|| {
        invalid(format!(
            "{path} must be {{\"field\": …, \"operator\": \"eq\" or \"exists\", \"value\": …}}"
        ))
    })?;
    if let Some(wanted) = object_type {
        let given = match object.get("type_id") {
            Some(Value::String(text)) => Some(text.trim().to_owned()),
            Some(Value::Number(number)) => Some(number.to_string()),
            None | Some(Value::Null) => None,
            Some(_) => Some(String::new()),
        };
        if given.as_deref().is_some_and(|given| given != wanted) {
            return Err(invalid(format!(
                "{path}.type_id must be the object_type_id searched ({wanted})"
            )));
        }
    }
    let fields: &[&str] = if object_type.is_some() {
        &["field", "operator", "value", "inverse", "type_id"]
    } else {
        &["field", "operator", "value", "inverse"]
    };
    if let Some(key) = object.keys().find(|key| !fields.contains(&key.as_str())) {
        return Err(invalid(format!(
            "{path}.{key} is not a field of an attribute condition; it takes field, operator, value and inverse"
        )));
    }
    let field = match object.get("field") {
        Some(Value::String(field)) if !field.is_empty() => field.clone(),
        _ => {
            return Err(invalid(format!(
                "{path}.field must name an attribute (a non-empty string)"
            )));
        }
    };
    let test = match object.get("operator").and_then(Value::as_str) {
        Some("exists") => AttributeTest::Exists,
        Some("eq") => match object.get("value") {
            Some(value @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => {
                AttributeTest::Eq(value.clone())
            }
            None | Some(Value::Null) => {
                return Err(invalid(format!(
                    "{path}.value is required with the operator eq"
                )));
            }
            Some(_) => {
                return Err(invalid(format!(
                    "{path}.value must be a string, number or boolean"
                )));
            }
        },
        Some(other) => {
            return Err(invalid(format!(
                "{path}.operator {other:?} is not supported; use eq or exists"
            )));
        }
        None => {
            return Err(invalid(format!(
                "{path}.operator is required: eq or exists"
            )));
        }
    };
    let inverse = match object.get("inverse") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(inverse)) => *inverse,
        Some(_) => {
            return Err(invalid(format!("{path}.inverse must be true or false")));
        }
    };
    Ok(PeopleFilter::Attribute(AttributeCondition {
        field,
        test,
        inverse,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::{PersonSeq, WorkspaceId};
    use serde_json::json;

    fn person(attributes: Value) -> Person {
        Person {
            seq: PersonSeq::new(1),
            workspace_id: WorkspaceId::new(1),
            cio_id: "abc".into(),
            id: Some("42".into()),
            email: Some("Ann@Example.com".into()),
            attributes: attributes.as_object().cloned().unwrap_or_default(),
            created_at: 0,
            updated_at: 0,
        }
    }

    fn matches(filter: Value, attributes: Value, segments: &[i64]) -> bool {
        let filter = PeopleFilter::parse(&filter).expect("a valid filter");
        filter.matches(&person(attributes), &|id| segments.contains(&id.get()))
    }

    fn error(filter: Value) -> String {
        match PeopleFilter::parse(&filter) {
            Err(SegmentsError::Invalid(message)) => message,
            other => panic!("{filter} should be refused, got {other:?}"),
        }
    }

    #[test]
    fn attributes_compare_by_their_text_as_customer_io_keeps_them() {
        let eq =
            |value: Value| json!({"attribute": {"field": "x", "operator": "eq", "value": value}});
        assert!(matches(eq(json!(true)), json!({"x": "true"}), &[]));
        assert!(matches(eq(json!("true")), json!({"x": true}), &[]));
        assert!(matches(eq(json!("30")), json!({"x": 30}), &[]));
        assert!(matches(eq(json!(30)), json!({"x": "30.0"}), &[]));
        assert!(!matches(eq(json!("30")), json!({"x": "30.0"}), &[]));
        assert!(!matches(eq(json!("pro")), json!({"x": "Pro"}), &[]));
        assert!(!matches(eq(json!("pro")), json!({}), &[]));
        assert!(!matches(eq(json!("null")), json!({"x": null}), &[]));
        let exists = json!({"attribute": {"field": "x", "operator": "exists"}});
        assert!(matches(exists.clone(), json!({"x": ""}), &[]));
        assert!(!matches(exists, json!({"x": null}), &[]));
        let absent = json!({"attribute": {"field": "x", "operator": "exists", "inverse": true}});
        assert!(matches(absent, json!({}), &[]));
    }

    #[test]
    fn identifiers_are_attributes_and_emails_ignore_case() {
        let eq = |field: &str, value: &str| json!({"attribute": {"field": field, "operator": "eq", "value": value}});
        assert!(matches(eq("id", "42"), json!({}), &[]));
        assert!(matches(eq("email", "ann@example.COM"), json!({}), &[]));
        assert!(matches(eq("cio_id", "abc"), json!({}), &[]));
        assert!(!matches(eq("id", "43"), json!({"id": "43"}), &[]));
    }

    #[test]
    fn groups_combine_segments_and_attributes() {
        let filter = json!({"and": [
            {"segment": {"id": 4}},
            {"or": [{"attribute": {"field": "plan", "operator": "eq", "value": "pro"}},
                    {"segment": {"id": "5"}}]},
            {"not": {"attribute": {"field": "banned", "operator": "exists"}}}
        ]});
        assert!(matches(filter.clone(), json!({"plan": "pro"}), &[4]));
        assert!(matches(filter.clone(), json!({}), &[4, 5]));
        assert!(!matches(filter.clone(), json!({"plan": "pro"}), &[5]));
        assert!(!matches(
            filter.clone(),
            json!({"plan": "pro", "banned": 1}),
            &[4]
        ));
        let parsed = PeopleFilter::parse(&filter).expect("valid");
        let ids = |ids: Vec<SegmentId>| ids.iter().map(|id| id.get()).collect::<Vec<_>>();
        assert_eq!(ids(parsed.segments().into_iter().collect()), vec![4, 5]);
        assert_eq!(ids(parsed.required_segments()), vec![4]);
        let negated = PeopleFilter::parse(&json!({"not": {"segment": {"id": 4}}})).expect("valid");
        assert!(negated.required_segments().is_empty());
    }

    #[test]
    fn bad_filters_name_the_place_at_fault() {
        let cases = [
            (json!([]), "filter must be an object"),
            (json!({}), "filter is empty"),
            (
                json!({"segment": {"id": 1}, "not": {"segment": {"id": 2}}}),
                "filter has",
            ),
            (json!({"nor": []}), "filter.nor is not a filter"),
            (json!({"and": []}), "filter.and must be a non-empty array"),
            (
                json!({"or": {"segment": {"id": 1}}}),
                "filter.or must be a non-empty array",
            ),
            (
                json!({"not": [{"segment": {"id": 1}}]}),
                "filter.not takes one filter object",
            ),
            (
                json!({"and": [{"segment": {"id": 0}}]}),
                "filter.and[0].segment.id must be",
            ),
            (
                json!({"segment": {"id": "four"}}),
                "filter.segment.id must be",
            ),
            (json!({"segment": 4}), "filter.segment must be"),
            (
                json!({"segment": {"name": "x"}}),
                "filter.segment.name is not a field",
            ),
            (
                json!({"or": [{"segment": {"id": 1}}, {"attribute": {"field": "x", "operator": "gt", "value": 1}}]}),
                "filter.or[1].attribute.operator \"gt\" is not supported",
            ),
            (
                json!({"attribute": {"field": "x", "operator": "eq"}}),
                "filter.attribute.value is required",
            ),
            (
                json!({"attribute": {"field": "x", "operator": "eq", "value": [1]}}),
                "filter.attribute.value must be a string, number or boolean",
            ),
            (
                json!({"attribute": {"field": "", "operator": "exists"}}),
                "filter.attribute.field must name",
            ),
            (
                json!({"attribute": {"field": "x"}}),
                "filter.attribute.operator is required",
            ),
            (
                json!({"attribute": {"field": "x", "operator": "exists", "valeu": 1}}),
                "filter.attribute.valeu is not a field",
            ),
            (
                json!({"attribute": {"field": "x", "operator": "exists", "inverse": "yes"}}),
                "filter.attribute.inverse must be true or false",
            ),
        ];
        for (filter, expected) in cases {
            let message = error(filter.clone());
            assert!(message.contains(expected), "{filter}: {message}");
        }
        let many: Vec<Value> = (0..MAX_CONDITIONS)
            .map(|_| json!({"segment": {"id": 1}}))
            .collect();
        assert!(error(json!({"or": many})).contains("more than 1000 conditions"));
    }
}
