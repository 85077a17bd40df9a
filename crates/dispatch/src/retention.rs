//! Transactional sends that asked for `disable_message_retention`: once the message went, or
//! failed for good, its delivery keeps only where it went, and its run's trigger only what
//! identifies the send, so neither the rendered message nor the request's `message_data` and
//! overrides stay stored.

use herald_store::RunRow;
use serde_json::{Map, Value, json};

use crate::service::{TRANSACTIONAL, transactional_of_run};

/// Whether the run is a transactional send whose message is not to be retained.
pub(crate) fn forgets(run: &RunRow) -> bool {
    transactional_of_run(run)
        .and_then(|sent| sent.get("disable_message_retention"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// What a delivery keeps of its content: the recipient (an email's `to`, a push's device
/// tokens), marked as not retained.
pub(crate) fn kept_content(content: &Value) -> Value {
    let mut kept = Map::new();
    if let Some(to) = content.get("to") {
        kept.insert("to".into(), to.clone());
    }
    if let Some(devices) = content.get("devices").and_then(Value::as_array) {
        let tokens: Vec<Value> = devices
            .iter()
            .filter_map(|device| device.get("token").cloned())
            .map(|token| json!({"token": token}))
            .collect();
        kept.insert("devices".into(), Value::Array(tokens));
    }
    kept.insert("retained".into(), json!(false));
    Value::Object(kept)
}

/// What the run's trigger keeps: the delivery id and the flag, without `message_data` or
/// overrides.
pub(crate) fn kept_trigger(trigger: &Value) -> Value {
    let sent = trigger.get(TRANSACTIONAL);
    let field = |name: &str| sent.and_then(|sent| sent.get(name)).cloned();
    json!({TRANSACTIONAL: {
        "delivery_id": field("delivery_id"),
        "disable_message_retention": true,
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_recipient_and_the_send_s_identity_stay() {
        let email =
            json!({"to": "ann@example.com", "subject": "Reset", "html": "<p>code 1234</p>"});
        assert_eq!(
            kept_content(&email),
            json!({"to": "ann@example.com", "retained": false})
        );
        let push = json!({"title": "Code", "body": "1234",
                          "devices": [{"token": "t1", "platform": "ios"}]});
        assert_eq!(
            kept_content(&push),
            json!({"devices": [{"token": "t1"}], "retained": false})
        );
        let trigger = json!({TRANSACTIONAL: {"message_data": {"code": 1234},
            "overrides": {"subject": "x"}, "delivery_id": "d1",
            "send_to_unsubscribed": true, "disable_message_retention": true}});
        assert_eq!(
            kept_trigger(&trigger),
            json!({TRANSACTIONAL: {"delivery_id": "d1", "disable_message_retention": true}})
        );
    }
}
