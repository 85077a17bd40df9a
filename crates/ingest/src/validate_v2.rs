//! Track API v2 operations (`/api/v2/entity` and each item of `/api/v2/batch`).

use herald_domain::{ActivityKind, IdType, UnixSeconds};
use serde_json::{Map, Value};

use crate::decode::{describe, shorten};
use crate::operation::{Operation, PathIdentifier};
use crate::validate::{self, ValidationError};

/// Validates one v2 operation. `Ok(None)` means an operation that changes nothing.
pub fn operation(value: &Value, now: UnixSeconds) -> Result<Option<Operation>, ValidationError> {
    let Value::Object(body) = value else {
        return Err(ValidationError::body(format!(
            "each operation must be an object, not {}",
            describe(value)
        )));
    };
    let kind = body.get("type").and_then(Value::as_str).unwrap_or("");
    let action = body.get("action").and_then(Value::as_str).unwrap_or("");
    match kind {
        "person" => person(body, action),
        "delivery" => delivery(body, action, now),
        "object" => crate::validate_objects::object_operation(body, action).map(Some),
        "" => Err(ValidationError::new(
            "required",
            Some("type".to_owned()),
            "type is required: person, object or delivery",
        )),
        other => Err(ValidationError::new(
            "invalid",
            Some("type".to_owned()),
            format!(
                "type {:?} is not one of person, object or delivery",
                shorten(other)
            ),
        )),
    }
}

fn person_target(body: &Map<String, Value>) -> Result<PathIdentifier, ValidationError> {
    let Some(Value::Object(identifiers)) = body.get("identifiers") else {
        return Err(ValidationError::new(
            "required",
            Some("identifiers".to_owned()),
            "identifiers is required: send exactly one of id, email or cio_id",
        ));
    };
    if identifiers.is_empty() {
        return Err(ValidationError::new(
            "required",
            Some("identifiers".to_owned()),
            "identifiers is empty: send exactly one of id, email or cio_id",
        ));
    }
    if identifiers.len() != 1 {
        return Err(ValidationError::new(
            "invalid",
            Some("identifiers".to_owned()),
            "You cannot pass multiple identifiers: send exactly one of id, email or cio_id",
        ));
    }
    let (key, value) = identifiers.iter().next().ok_or_else(|| {
        ValidationError::new(
            "required",
            Some("identifiers".to_owned()),
            "identifiers is empty",
        )
    })?;
    let id_type = IdType::parse(key).ok_or_else(|| {
        ValidationError::new(
            "invalid",
            Some(format!("identifiers.{}", shorten(key))),
            format!(
                "identifier {:?} is not one of id, email or cio_id",
                shorten(key)
            ),
        )
    })?;
    let raw = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        other => {
            return Err(ValidationError::new(
                "invalid",
                Some(format!("identifiers.{key}")),
                format!("identifier {key} must be a string, not {}", describe(other)),
            ));
        }
    };
    validate::path_identifier(&raw)?;
    Ok(PathIdentifier::explicit(id_type, raw))
}

fn person(body: &Map<String, Value>, action: &str) -> Result<Option<Operation>, ValidationError> {
    if action == "merge" {
        return validate::merge(body).map(Some);
    }
    let target = person_target(body)?;
    match action {
        "identify" => {
            let attributes = match body.get("attributes") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(map)) => map.clone(),
                Some(other) => {
                    return Err(ValidationError::new(
                        "invalid",
                        Some("attributes".to_owned()),
                        format!("attributes must be an object, not {}", describe(other)),
                    ));
                }
            };
            let mut operation = validate::identify(target, attributes)?;
            // v2 sends `cio_relationships` beside `attributes`, as a list.
            if let (Operation::Identify(input), Some(value)) = (
                &mut operation,
                body.get("cio_relationships")
                    .filter(|value| !value.is_null()),
            ) {
                input.relationships = Some(crate::validate_objects::identify_relationships(value)?);
            }
            Ok(Some(operation))
        }
        "delete" => Ok(Some(Operation::Delete { target })),
        "suppress" => Ok(Some(Operation::Suppress { target })),
        "unsuppress" => Ok(Some(Operation::Unsuppress { target })),
        "event" | "page" | "screen" => {
            let kind = match action {
                "page" => ActivityKind::Page,
                "screen" => ActivityKind::Screen,
                _ => ActivityKind::Event,
            };
            // v2 carries an event's data in `attributes`; v1 calls it `data`, a slip easy to
            // make when moving a call to v2, and one that would drop the data without a word.
            // `data` is taken when `attributes` is absent.
            let data_field = if body.get("attributes").is_none_or(Value::is_null)
                && body.get("data").is_some_and(Value::is_object)
            {
                "data"
            } else {
                "attributes"
            };
            let event = validate::event(body, data_field, Some(kind))?;
            Ok(Some(Operation::Track { target, event }))
        }
        "add_device" => {
            let device = validate::device(body, "token")?;
            Ok(Some(Operation::AddDevice { target, device }))
        }
        "delete_device" => {
            let token = body
                .get("device")
                .and_then(|device| device.get("token"))
                .and_then(Value::as_str)
                .filter(|token| !token.is_empty())
                .ok_or_else(|| {
                    ValidationError::new(
                        "required",
                        Some("device.token".to_owned()),
                        "device token is required",
                    )
                })?;
            validate::no_nul("device.token", token)?;
            Ok(Some(Operation::DeleteDevice {
                target,
                token: token.to_owned(),
            }))
        }
        "add_relationships" | "delete_relationships" => Ok(Some(Operation::PersonRelationships {
            target,
            change: crate::operation::RelationshipChange {
                add: action == "add_relationships",
                with: crate::validate_objects::objects(
                    body.get("cio_relationships"),
                    "cio_relationships",
                )?,
            },
        })),
        "" => Err(ValidationError::new(
            "required",
            Some("action".to_owned()),
            "action is required",
        )),
        other => Err(ValidationError::new(
            "invalid",
            Some("action".to_owned()),
            format!(
                "action {:?} is not supported for type person",
                shorten(other)
            ),
        )),
    }
}

fn delivery(
    body: &Map<String, Value>,
    action: &str,
    now: UnixSeconds,
) -> Result<Option<Operation>, ValidationError> {
    if action != "event" {
        return Err(ValidationError::new(
            "invalid",
            Some("action".to_owned()),
            "deliveries only take the action \"event\"",
        ));
    }
    let delivery_id = body
        .get("identifiers")
        .and_then(|identifiers| identifiers.get("id"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ValidationError::new(
                "required",
                Some("identifiers.id".to_owned()),
                "identifiers.id (the delivery id) is required",
            )
        })?;
    let mut metric_body = Map::new();
    metric_body.insert("delivery_id".into(), Value::String(delivery_id.to_owned()));
    metric_body.insert(
        "metric".into(),
        body.get("name").cloned().unwrap_or(Value::Null),
    );
    if let Some(timestamp) = body.get("timestamp") {
        metric_body.insert("timestamp".into(), timestamp.clone());
    }
    if let Some(Value::Object(attributes)) = body.get("attributes") {
        for (key, value) in attributes {
            metric_body.insert(key.clone(), value.clone());
        }
    }
    validate::metric(&metric_body, now).map(Some)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_events_data_sent_as_v1_data_is_kept() {
        let data_of = |body: Value| match operation(&body, 0) {
            Ok(Some(Operation::Track { event, .. })) => Value::Object(event.data),
            other => panic!("{other:?}"),
        };
        let base = json!({"type":"person","action":"event","identifiers":{"id":"a"},"name":"x"});
        let with = |key: &str, value: Value| {
            let mut body = base.clone();
            body[key] = value;
            body
        };
        assert_eq!(data_of(with("data", json!({"k": 1}))), json!({"k": 1}));
        assert_eq!(
            data_of(with("attributes", json!({"k": 2}))),
            json!({"k": 2})
        );
        let mut both = with("attributes", json!({"k": 2}));
        both["data"] = json!({"k": 1});
        assert_eq!(data_of(both), json!({"k": 2}), "attributes win");
        assert_eq!(data_of(with("data", json!("text"))), json!({}));
    }

    #[test]
    fn person_operations_need_exactly_one_identifier() {
        let error = operation(
            &json!({"type":"person","action":"identify","identifiers":{"id":"1","email":"a@b.c"}}),
            0,
        )
        .unwrap_err();
        assert!(
            error
                .message
                .starts_with("You cannot pass multiple identifiers")
        );
        let ok = operation(&json!({"type":"person","action":"event","identifiers":{"id":"a@b"},"name":"x","attributes":{"k":1}}), 0)
            .unwrap()
            .unwrap();
        match ok {
            Operation::Track { target, event } => {
                assert_eq!(target.explicit, Some(IdType::Id));
                assert_eq!(event.data.get("k"), Some(&json!(1)));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
