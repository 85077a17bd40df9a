//! Relationship conditions: "is related to an object of type T whose attributes pass these
//! filters (and whose relationship's attributes pass those)".
//!
//! The engine sees a person's relationships as part of their attributes, under the reserved key
//! [`RELATIONSHIPS_KEY`]: a list of `{"object_type_id", "object_id", "object_attributes",
//! "relationship_attributes"}`, the object's attributes copied in. Whoever feeds the engine
//! (ingest, the loader) puts them there and sends the person again whenever a relationship or a
//! related object changes, so a relationship condition is a pure function of the attributes, as
//! an attribute condition is.

use serde_json::{Map, Value};

use crate::UnixSeconds;
use crate::definition::Filter;
use crate::filter::holds;

/// The attribute key a person's relationships are given to the engine under.
pub const RELATIONSHIPS_KEY: &str = herald_domain::RELATIONSHIPS_ATTRIBUTE;

/// A relationship condition.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RelationshipCondition {
    /// The object type, as Customer.io numbers them (`"1"`).
    pub object_type_id: String,
    /// Filters on the object's attributes; all must hold.
    pub filters: Vec<Filter>,
    /// Filters on the relationship's own attributes; all must hold.
    pub relationship_filters: Vec<Filter>,
}

/// The relationships in a person's attributes that satisfy the condition's type and filters.
pub fn matching<'a>(
    condition: &'a RelationshipCondition,
    attributes: &'a Map<String, Value>,
    now: UnixSeconds,
) -> impl Iterator<Item = &'a Map<String, Value>> + 'a {
    matching_in(condition, attributes.get(RELATIONSHIPS_KEY), now)
}

/// `matching`, given the value of the person's [`RELATIONSHIPS_KEY`] attribute.
fn matching_in<'a>(
    condition: &'a RelationshipCondition,
    relationships: Option<&'a Value>,
    now: UnixSeconds,
) -> impl Iterator<Item = &'a Map<String, Value>> + 'a {
    relationships
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .filter(move |related| {
            related.get("object_type_id").and_then(Value::as_str)
                == Some(condition.object_type_id.as_str())
                && passes(&condition.filters, related.get("object_attributes"), now)
                && passes(
                    &condition.relationship_filters,
                    related.get("relationship_attributes"),
                    now,
                )
        })
}

/// Tells whether the person has a relationship that satisfies the condition.
pub fn holds_for(
    condition: &RelationshipCondition,
    attributes: &Map<String, Value>,
    now: UnixSeconds,
) -> bool {
    holds_on(condition, attributes.get(RELATIONSHIPS_KEY), now)
}

/// `holds_for`, given the value of the person's [`RELATIONSHIPS_KEY`] attribute.
pub fn holds_on(
    condition: &RelationshipCondition,
    relationships: Option<&Value>,
    now: UnixSeconds,
) -> bool {
    matching_in(condition, relationships, now).next().is_some()
}

/// Whether every filter holds on an object (missing: on no attributes at all).
fn passes(filters: &[Filter], object: Option<&Value>, now: UnixSeconds) -> bool {
    let empty = Map::new();
    let object = object.and_then(Value::as_object).unwrap_or(&empty);
    filters.iter().all(|filter| holds(filter, object, now))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::definition::{Condition, Definition};

    fn condition(value: Value) -> RelationshipCondition {
        match Definition::parse(&json!({"relationship": value}))
            .unwrap()
            .root
        {
            Condition::Relationship(condition) => condition,
            other => panic!("not a relationship condition: {other:?}"),
        }
    }

    #[test]
    fn a_relationship_of_the_type_with_passing_attributes_matches() {
        let enterprise = condition(json!({"object_type_id": "1",
            "where": [{"field": "plan", "op": "eq", "value": "enterprise"}],
            "relationship_where": [{"field": "role", "op": "eq", "value": "admin"}]}));
        let person = |relationships: Value| {
            json!({"name": "x", "cio_relationships": relationships})
                .as_object()
                .cloned()
                .unwrap()
        };
        let admin_of_acme = person(json!([
            {"object_type_id": "2", "object_id": "c", "object_attributes": {"plan": "enterprise"},
             "relationship_attributes": {"role": "admin"}},
            {"object_type_id": "1", "object_id": "acme", "object_attributes": {"plan": "enterprise"},
             "relationship_attributes": {"role": "admin"}}
        ]));
        assert!(holds_for(&enterprise, &admin_of_acme, 0));
        let member = person(json!([{"object_type_id": "1", "object_id": "acme",
            "object_attributes": {"plan": "enterprise"}, "relationship_attributes": {"role": "member"}}]));
        assert!(!holds_for(&enterprise, &member, 0));
        let other_type = person(json!([{"object_type_id": "2", "object_id": "acme",
            "object_attributes": {"plan": "enterprise"}, "relationship_attributes": {"role": "admin"}}]));
        assert!(!holds_for(&enterprise, &other_type, 0));
        assert!(!holds_for(&enterprise, &Map::new(), 0));
        let any = condition(json!({"object_type_id": "1"}));
        assert!(holds_for(&any, &member, 0));
    }

    #[test]
    fn relationship_conditions_are_checked() {
        for (value, path) in [
            (json!({"where": []}), "relationship.object_type_id"),
            (
                json!({"object_type_id": "one"}),
                "relationship.object_type_id",
            ),
            (
                json!({"object_type_id": "1", "where": {}}),
                "relationship.where",
            ),
            (
                json!({"object_type_id": "1", "where": [{"field": "a", "op": "before_ago", "value": {"days": 1}}]}),
                "relationship.where[0].op",
            ),
            (
                json!({"object_type_id": "1", "plan": "x"}),
                "relationship.plan",
            ),
        ] {
            let error = Definition::parse(&json!({"relationship": value.clone()})).unwrap_err();
            assert_eq!(error.path, path, "{value}: {error}");
        }
    }
}
