//! What a browser may send: the Track API's identify and events, validated by the Track API's
//! own rules, with the few things a public site id must not allow refused on top.
//!
//! Anyone who can read a page can read its site id, so a browser call may only say what a
//! visitor did and who they are: it cannot address people by cio id (which would let a page
//! change another person's id), send an invite event without a person, set the data keys
//! that redirect a campaign's message (`recipient`, `from_address`, `reply_to`), set Herald's
//! own `cio_` attributes, or subscribe a person again.

use herald_domain::{UnixSeconds, limits};
use herald_ingest::{Operation, ValidationError, validate};
use serde_json::{Map, Value, json};

type Result<T> = std::result::Result<T, ValidationError>;

/// Event data keys that choose where a triggered message goes.
const MESSAGE_ROUTING_KEYS: [&str; 3] = ["recipient", "from_address", "reply_to"];

/// Reads a person id (`id` of an identify, `customer_id` of an event) into a path identifier.
fn person(value: Option<&Value>, field: &str) -> Result<herald_ingest::PathIdentifier> {
    let id = match value {
        None | Some(Value::Null) => String::new(),
        Some(value) => validate::id_value(value, field)?,
    };
    let target = validate::path_identifier(&id)?;
    if target.is_cio() {
        return Err(ValidationError::new(
            "invalid",
            Some(field.to_owned()),
            format!(
                "{field} {id:?} names a person by cio id, which the browser may not do: identify people by id or email"
            ),
        ));
    }
    Ok(target)
}

/// `POST /api/v1/browser/{site_id}/identify`: `{id, email?, anonymous_id?, …attributes}`.
///
/// Attributes named `cio_…` (relationships, subscription preferences) are Herald's own and
/// refused, and `unsubscribed` may only be set to true: a page may let a person unsubscribe,
/// but whoever reads the site id must not be able to subscribe anyone back.
pub fn identify(body: Map<String, Value>) -> Result<Operation> {
    let target = person(body.get("id"), "id")?;
    if let Some(key) = body.keys().find(|key| key.starts_with("cio_")) {
        return Err(ValidationError::new(
            "invalid",
            Some(key.clone()),
            format!(
                "{key} cannot be set from the browser: send it from your server with the Track API"
            ),
        ));
    }
    if let Some(value) = body.get("unsubscribed")
        && value != &Value::Bool(true)
        && value != "true"
    {
        return Err(ValidationError::new(
            "invalid",
            Some("unsubscribed".to_owned()),
            "unsubscribed can only be set to true from the browser: subscribe a person again from your server with the Track API",
        ));
    }
    validate::identify(target, body)
}

/// `POST /api/v1/browser/{site_id}/events`: a Track API event body with exactly one of
/// `customer_id` (an identified visitor) or `anonymous_id`, and optionally `age`.
pub fn event(mut body: Map<String, Value>, now: UnixSeconds) -> Result<Operation> {
    apply_age(&mut body, now)?;
    if let Some(Value::Object(data)) = body.get("data")
        && let Some(key) = MESSAGE_ROUTING_KEYS
            .iter()
            .find(|key| data.contains_key(**key))
    {
        return Err(ValidationError::new(
            "invalid",
            Some(format!("data.{key}")),
            format!(
                "data.{key} chooses where a campaign's message goes and cannot be set from the browser; send such events from your server"
            ),
        ));
    }
    let present = |field: &str| {
        body.get(field)
            .is_some_and(|value| !value.is_null() && value.as_str() != Some(""))
    };
    match (present("customer_id"), present("anonymous_id")) {
        (true, true) => Err(ValidationError::new(
            "invalid",
            Some("customer_id".to_owned()),
            "send customer_id or anonymous_id, not both",
        )),
        (true, false) => {
            let target = person(body.get("customer_id"), "customer_id")?;
            let event = validate::event(&body, "data", None)?;
            Ok(Operation::Track { target, event })
        }
        (false, true) => validate::anonymous_event(&body),
        (false, false) => Err(ValidationError::new(
            "required",
            Some("anonymous_id".to_owned()),
            "a browser event needs the visitor's anonymous_id, or customer_id once they are identified",
        )),
    }
}

/// Turns `age` (seconds since the call, which a queued event gains while the browser is
/// offline) into the event's `timestamp` on the server's clock, so a browser's wrong clock
/// cannot misdate it.
fn apply_age(body: &mut Map<String, Value>, now: UnixSeconds) -> Result<()> {
    let Some(age) = body.shift_remove("age") else {
        return Ok(());
    };
    if age.is_null() {
        return Ok(());
    }
    if body.get("timestamp").is_some_and(|value| !value.is_null()) {
        return Err(ValidationError::new(
            "invalid",
            Some("age".to_owned()),
            "send timestamp or age, not both",
        ));
    }
    let max = limits::ACTIVITY_RETENTION_SECONDS;
    let seconds = age.as_i64().filter(|seconds| (0..=max).contains(seconds));
    let Some(seconds) = seconds else {
        return Err(ValidationError::new(
            "invalid",
            Some("age".to_owned()),
            format!(
                "age must be a whole number of seconds from 0 to {max} (how long ago the event happened), not {age}"
            ),
        ));
    };
    body.insert("timestamp".to_owned(), json!((now - seconds).max(0)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use herald_domain::ActivityKind;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn anonymous_and_identified_events() {
        let anonymous = event(object(json!({"name": "viewed", "anonymous_id": "a1"})), 100);
        assert!(matches!(
            anonymous,
            Ok(Operation::TrackAnonymous { anonymous_id: Some(ref id), .. }) if id == "a1"
        ));
        let page = event(
            object(json!({"name": "https://x.test/", "type": "page", "customer_id": 42})),
            100,
        );
        match page {
            Ok(Operation::Track { target, event }) => {
                assert_eq!(target.raw, "42");
                assert_eq!(event.kind, ActivityKind::Page);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refusals_name_the_field() {
        let cases = [
            (json!({"name": "x"}), "anonymous_id"),
            (json!({"name": "x", "anonymous_id": ""}), "anonymous_id"),
            (
                json!({"name": "x", "anonymous_id": "a", "customer_id": "b"}),
                "customer_id",
            ),
            (
                json!({"name": "x", "customer_id": "cio_abc"}),
                "customer_id",
            ),
            (
                json!({"name": "x", "anonymous_id": "a", "data": {"recipient": "v@x.test"}}),
                "data.recipient",
            ),
            (json!({"name": "x", "anonymous_id": "a", "age": -1}), "age"),
            (json!({"name": "x", "anonymous_id": "a", "age": 1.5}), "age"),
            (
                json!({"name": "x", "anonymous_id": "a", "age": 1, "timestamp": 5}),
                "age",
            ),
            (json!({"name": "", "anonymous_id": "a"}), "name"),
        ];
        for (body, field) in cases {
            let error = event(object(body.clone()), 1000).expect_err(&body.to_string());
            assert_eq!(error.field.as_deref(), Some(field), "{body}: {error}");
        }
        let error = identify(object(json!({"email": "a@x.test"}))).unwrap_err();
        assert_eq!(error.message, "id attribute must be present");
        let error = identify(object(json!({"id": "cio_123"}))).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("id"));
        for (body, field) in [
            (
                json!({"id": "42", "cio_relationships": []}),
                "cio_relationships",
            ),
            (
                json!({"id": "42", "cio_subscription_preferences": {}}),
                "cio_subscription_preferences",
            ),
            (json!({"id": "42", "unsubscribed": false}), "unsubscribed"),
            (json!({"id": "42", "unsubscribed": null}), "unsubscribed"),
        ] {
            let error = identify(object(body.clone())).expect_err(&body.to_string());
            assert_eq!(error.field.as_deref(), Some(field), "{body}: {error}");
        }
        assert!(identify(object(json!({"id": "42", "unsubscribed": true}))).is_ok());
    }

    #[test]
    fn age_dates_the_event_on_the_server_clock() {
        let body = object(json!({"name": "x", "anonymous_id": "a", "age": 60}));
        let Ok(Operation::TrackAnonymous { event, .. }) = event(body, 1000) else {
            panic!("valid");
        };
        assert_eq!(event.timestamp, Some(940));
    }
}
