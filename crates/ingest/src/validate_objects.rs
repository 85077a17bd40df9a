//! Objects and relationships in Track API input: v2 `type: "object"` operations, the person
//! operations `add_relationships` and `delete_relationships`, and `cio_relationships` on an
//! identify (an object `{action, relationships}` in v1, a list in v2).

use herald_domain::IdType;
use serde_json::{Map, Value};

use crate::decode::{describe, shorten};
use crate::operation::{ObjectRef, Operation, PathIdentifier, Related, RelationshipChange};
use crate::validate::{self, ValidationError};

type Result<T> = std::result::Result<T, ValidationError>;

/// The most relationships one operation may name: each is a write, and a request should not
/// be able to ask for an unbounded number of them.
pub const MAX_RELATIONSHIPS_PER_OPERATION: usize = 1000;

/// Reads an object's identifiers: `{object_type_id, object_id}` or `{cio_object_id}`.
pub fn object_ref(value: Option<&Value>, field: &str) -> Result<ObjectRef> {
    let Some(Value::Object(identifiers)) = value else {
        return Err(ValidationError::required(
            field,
            format!(
                "{field} is required: send {{\"object_type_id\":\"1\",\"object_id\":\"…\"}} or {{\"cio_object_id\":\"…\"}}"
            ),
        ));
    };
    if let Some(cio) = identifiers.get("cio_object_id").filter(|v| !v.is_null()) {
        let cio = validate::id_value(cio, &format!("{field}.cio_object_id"))?;
        return Ok(ObjectRef::CioId(cio));
    }
    let type_field = format!("{field}.object_type_id");
    let object_type_id = match identifiers.get("object_type_id") {
        Some(Value::String(text)) => text.trim().to_owned(),
        Some(Value::Number(number)) => number.to_string(),
        None | Some(Value::Null) => {
            return Err(ValidationError::required(
                &type_field,
                "object_type_id is required with object_id: the object type's number, e.g. \"1\"",
            ));
        }
        Some(other) => {
            return Err(ValidationError::field(
                &type_field,
                format!("object_type_id must be a string, not {}", describe(other)),
            ));
        }
    };
    if object_type_id.is_empty()
        || object_type_id.len() > 10
        || !object_type_id.bytes().all(|byte| byte.is_ascii_digit())
        || object_type_id.starts_with('0')
    {
        return Err(ValidationError::field(
            &type_field,
            format!(
                "object_type_id {:?} is not an object type: object types are numbered 1, 2, 3, …",
                shorten(&object_type_id)
            ),
        ));
    }
    let object_id = match identifiers.get("object_id") {
        None | Some(Value::Null) => {
            return Err(ValidationError::required(
                &format!("{field}.object_id"),
                "object_id is required (or cio_object_id)",
            ));
        }
        Some(value) => validate::id_value(value, &format!("{field}.object_id"))?,
    };
    if object_id.is_empty() {
        return Err(ValidationError::required(
            &format!("{field}.object_id"),
            "object_id must not be empty",
        ));
    }
    Ok(ObjectRef::Id {
        object_type_id,
        object_id,
    })
}

/// Reads `relationship_attributes` (absent means none), checked like a person's attributes.
fn relationship_attributes(item: &Map<String, Value>, field: &str) -> Result<Map<String, Value>> {
    match item.get("relationship_attributes") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(attributes)) => {
            validate::attributes(attributes)?;
            Ok(attributes.clone())
        }
        Some(other) => Err(ValidationError::field(
            &format!("{field}.relationship_attributes"),
            format!(
                "relationship_attributes must be an object, not {}",
                describe(other)
            ),
        )),
    }
}

/// Reads a list of `{identifiers, relationship_attributes}`, each read by `read`.
fn related<T>(
    value: Option<&Value>,
    field: &str,
    read: impl Fn(&Map<String, Value>, &str) -> Result<T>,
) -> Result<Vec<Related<T>>> {
    let items = match value {
        Some(Value::Array(items)) => items,
        None | Some(Value::Null) => {
            return Err(ValidationError::required(
                field,
                format!("{field} is required: a list of {{\"identifiers\":{{…}}}}"),
            ));
        }
        Some(other) => {
            return Err(ValidationError::field(
                field,
                format!("{field} must be a list, not {}", describe(other)),
            ));
        }
    };
    if items.len() > MAX_RELATIONSHIPS_PER_OPERATION {
        return Err(ValidationError::new(
            "too_many",
            Some(field.to_owned()),
            format!(
                "{field} names {} relationships; one operation takes at most {MAX_RELATIONSHIPS_PER_OPERATION}",
                items.len()
            ),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let at = format!("{field}[{index}]");
            let Value::Object(item) = item else {
                return Err(ValidationError::field(
                    &at,
                    format!(
                        "each relationship must be an object, not {}",
                        describe(item)
                    ),
                ));
            };
            Ok(Related {
                other: read(item, &at)?,
                attributes: relationship_attributes(item, &at)?,
            })
        })
        .collect()
}

/// A list of objects a person relates to.
pub fn objects(value: Option<&Value>, field: &str) -> Result<Vec<Related<ObjectRef>>> {
    related(value, field, |item, at| {
        object_ref(item.get("identifiers"), &format!("{at}.identifiers"))
    })
}

/// A list of people an object relates to.
pub fn people(value: Option<&Value>, field: &str) -> Result<Vec<Related<PathIdentifier>>> {
    related(value, field, |item, at| {
        person_identifiers(item.get("identifiers"), &format!("{at}.identifiers"))
    })
}

/// A list of anonymous visitors an object relates to: `{"identifiers": {"anonymous_id": …}}`.
pub fn visitors(value: Option<&Value>, field: &str) -> Result<Vec<Related<String>>> {
    related(value, field, |item, at| {
        let field = format!("{at}.identifiers.anonymous_id");
        match item
            .get("identifiers")
            .and_then(|ids| ids.get("anonymous_id"))
        {
            Some(Value::String(id)) if !id.is_empty() => {
                validate::anonymous_id(id, &field)?;
                Ok(id.clone())
            }
            _ => Err(ValidationError::required(
                &field,
                format!(
                    "{field} is required: identify_anonymous relates visitors by their anonymous_id"
                ),
            )),
        }
    })
}

/// Exactly one of `id`, `email` or `cio_id`.
pub fn person_identifiers(value: Option<&Value>, field: &str) -> Result<PathIdentifier> {
    let Some(Value::Object(identifiers)) = value else {
        return Err(ValidationError::required(
            field,
            format!("{field} is required: send exactly one of id, email or cio_id"),
        ));
    };
    if identifiers.contains_key("anonymous_id") {
        return Err(ValidationError::field(
            field,
            "an anonymous_id names a visitor, not a person: relate visitors with the object action identify_anonymous",
        ));
    }
    let mut known = identifiers
        .iter()
        .filter(|(_, value)| !value.is_null())
        .filter_map(|(key, value)| IdType::parse(key).map(|id_type| (key, id_type, value)));
    let (key, id_type, value) = match (known.next(), known.next()) {
        (Some(only), None) => only,
        (None, _) => {
            return Err(ValidationError::field(
                field,
                "no identifier given: send exactly one of id, email or cio_id",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(ValidationError::field(
                field,
                "You cannot pass multiple identifiers: send exactly one of id, email or cio_id",
            ));
        }
    };
    let raw = validate::id_value(value, &format!("{field}.{key}"))?;
    validate::path_identifier(&raw)?;
    Ok(PathIdentifier::explicit(id_type, raw))
}

/// `cio_relationships` on an identify: v1's `{"action": "add_relationships" |
/// "delete_relationships", "relationships": [...]}`, or a list, which adds.
pub fn identify_relationships(value: &Value) -> Result<RelationshipChange<ObjectRef>> {
    match value {
        Value::Array(_) => Ok(RelationshipChange {
            add: true,
            with: objects(Some(value), "cio_relationships")?,
        }),
        Value::Object(change) => {
            let add = match change.get("action").and_then(Value::as_str) {
                Some("add_relationships") | None => true,
                Some("delete_relationships") => false,
                Some(other) => {
                    return Err(ValidationError::field(
                        "cio_relationships.action",
                        format!(
                            "action {:?} is not add_relationships or delete_relationships",
                            shorten(other)
                        ),
                    ));
                }
            };
            Ok(RelationshipChange {
                add,
                with: objects(
                    change.get("relationships"),
                    "cio_relationships.relationships",
                )?,
            })
        }
        other => Err(ValidationError::field(
            "cio_relationships",
            format!(
                "cio_relationships must be an object or a list, not {}",
                describe(other)
            ),
        )),
    }
}

/// Object attributes as an identify sends them: `null` or `""` removes one.
fn object_attributes(body: &Map<String, Value>) -> Result<Map<String, Value>> {
    match body.get("attributes") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(attributes)) => {
            validate::attributes(attributes)?;
            Ok(attributes.clone())
        }
        Some(other) => Err(ValidationError::field(
            "attributes",
            format!("attributes must be an object, not {}", describe(other)),
        )),
    }
}

/// A Track API v2 operation of `type: "object"`.
pub fn object_operation(body: &Map<String, Value>, action: &str) -> Result<Operation> {
    let object = object_ref(body.get("identifiers"), "identifiers")?;
    match action {
        "identify" => {
            let people = match body.get("cio_relationships") {
                None | Some(Value::Null) => Vec::new(),
                value => people(value, "cio_relationships")?,
            };
            Ok(Operation::ObjectIdentify {
                object,
                attributes: object_attributes(body)?,
                people,
            })
        }
        "delete" => Ok(Operation::ObjectDelete { object }),
        "add_relationships" | "delete_relationships" => Ok(Operation::ObjectRelationships {
            object,
            change: RelationshipChange {
                add: action == "add_relationships",
                with: people(body.get("cio_relationships"), "cio_relationships")?,
            },
        }),
        "identify_anonymous" => Ok(Operation::ObjectIdentifyAnonymous {
            object,
            attributes: object_attributes(body)?,
            visitors: visitors(body.get("cio_relationships"), "cio_relationships")?,
        }),
        "" => Err(ValidationError::required("action", "action is required")),
        other => Err(ValidationError::field(
            "action",
            format!(
                "action {:?} is not supported for type object: identify, delete, add_relationships or delete_relationships",
                shorten(other)
            ),
        )),
    }
}

#[cfg(test)]
#[path = "validate_objects_tests.rs"]
mod tests;
