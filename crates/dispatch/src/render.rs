//! Rendering a send step for one person: the Liquid globals and each channel's content.

use herald_domain::CampaignId;
use std::collections::BTreeMap;

use herald_campaigns::Channel;
use herald_store::{Device, Person, PersonRelationship, RunRow};
use herald_templates::Template;
use serde_json::{Map, Value, json};

/// What every template of a run sees.
pub struct Context<'a> {
    pub person: &'a Person,
    /// The person's relationships to objects (see `relationships::read`).
    pub relationships: &'a [PersonRelationship],
    pub run: &'a RunRow,
    pub campaign_id: CampaignId,
    pub campaign_name: &'a str,
    pub delivery_id: &'a str,
    /// Proof of having received this message, for metrics reported about it (see
    /// `herald_delivery::delivery_token`).
    pub delivery_token: &'a str,
    /// Where people reach this server (tracking links and unsubscribe).
    pub public_url: &'a str,
}

impl Context<'_> {
    /// The globals, shaped as Customer.io's: `customer` is the profile (with the person's
    /// relationships as `customer.cio_relationships`), `event` the triggering event's data (so
    /// `{{ event.price }}` works), plus the trigger and the delivery.
    pub fn globals(&self) -> Value {
        // Built member by member, moving what is made here: `json!` serializes every value it
        // is given into a new one, so the profile and the trigger were copied twice per
        // message (7% of the async threads' time in a burst of deliveries).
        let transactional = crate::service::transactional_of_run(self.run);
        let mut globals = Map::with_capacity(11);
        let mut put = |key: &str, value: Value| {
            globals.insert(key.to_owned(), value);
        };
        put(
            "customer",
            Value::Object(crate::relationships::customer(
                self.person,
                self.relationships,
            )),
        );
        if let Some(sent) = transactional {
            // A transactional send's `message_data` is its trigger (`{{ trigger.order_id }}`,
            // as Customer.io documents it), `message_data` itself, and, like an event's data,
            // `event`.
            let data = sent
                .get("message_data")
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new()));
            put("event", data.clone());
            put("event_name", Value::Null);
            put("event_timestamp", Value::Null);
            put("trigger", data.clone());
            put("message_data", data);
        } else {
            let event = self.run.trigger.get("event");
            let field = |name: &str| event.and_then(|event| event.get(name)).cloned();
            put(
                "event",
                field("data").unwrap_or_else(|| Value::Object(Map::new())),
            );
            put("event_name", field("name").unwrap_or(Value::Null));
            put("event_timestamp", field("timestamp").unwrap_or(Value::Null));
            put("trigger", self.run.trigger.clone());
        }
        put(
            "campaign",
            json!({"id": self.campaign_id, "name": self.campaign_name}),
        );
        if transactional.is_some() {
            put("transactional_message_id", json!(self.campaign_id));
        }
        put("delivery_id", Value::String(self.delivery_id.to_owned()));
        put(
            "delivery_token",
            Value::String(self.delivery_token.to_owned()),
        );
        put(
            "unsubscribe_url",
            Value::String(unsubscribe_url(self.public_url, self.delivery_id)),
        );
        Value::Object(globals)
    }
}

pub fn unsubscribe_url(public_url: &str, delivery_id: &str) -> String {
    format!(
        "{}/unsubscribe/{delivery_id}",
        public_url.trim_end_matches('/')
    )
}

/// A rendering failure: the field and the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RenderError {
    pub field: String,
    pub message: String,
}

/// Compiles a transactional send's overrides (Liquid sources by field), which take the place
/// of the step's own templates of the same fields.
pub fn compile_overrides(
    overrides: Option<&Value>,
    compiler: &herald_templates::Templates,
) -> Result<BTreeMap<String, Template>, RenderError> {
    let mut compiled = BTreeMap::new();
    for (field, source) in overrides.and_then(Value::as_object).into_iter().flatten() {
        let source = source.as_str().unwrap_or_default();
        let template = compiler.compile(source).map_err(|error| RenderError {
            field: field.clone(),
            message: error.to_string(),
        })?;
        compiled.insert(field.clone(), template);
    }
    Ok(compiled)
}

/// Renders every template of a send step; returns the content to store with the delivery.
pub fn render_step<T: std::borrow::Borrow<Template>>(
    channel: &Channel,
    method: Option<&str>,
    templates: &BTreeMap<String, T>,
    globals: &Value,
    devices: &[Device],
    now: i64,
) -> Result<Value, RenderError> {
    let mut rendered = BTreeMap::new();
    for (field, template) in templates {
        let output = template
            .borrow()
            .render(globals, now)
            .map_err(|error| RenderError {
                field: field.clone(),
                message: error.to_string(),
            })?;
        rendered.insert(field.as_str(), output);
    }
    let prefixed = |prefix: &str| -> Map<String, Value> {
        rendered
            .iter()
            .filter_map(|(field, value)| {
                field
                    .strip_prefix(prefix)
                    .map(|name| (name.to_owned(), Value::String(value.clone())))
            })
            .collect()
    };
    let text = |field: &str| rendered.get(field).cloned();
    Ok(match channel {
        Channel::Webhook => {
            // Without a body template, the receiver gets the person and the trigger as JSON,
            // with the delivery's id and the token that lets it report metrics about it.
            let body = text("body").unwrap_or_else(|| {
                json!({
                    "customer": globals["customer"],
                    "trigger": globals["trigger"],
                    "delivery_id": globals["delivery_id"],
                    "delivery_token": globals["delivery_token"],
                })
                .to_string()
            });
            json!({
                "url": text("url").unwrap_or_default().trim(),
                "method": method.unwrap_or("POST"),
                "headers": prefixed("headers."),
                "body": body,
            })
        }
        Channel::Email => json!({
            "to": text("to").unwrap_or_default().trim(),
            "from": text("from").unwrap_or_default().trim(),
            "subject": text("subject").unwrap_or_default(),
            "html": text("html"),
            "text": text("text"),
        }),
        Channel::Push => json!({
            "title": text("title").unwrap_or_default(),
            "body": text("body").unwrap_or_default(),
            "data": prefixed("data."),
            "devices": devices.iter().map(|device| json!({"token": device.token, "platform": device.platform})).collect::<Vec<_>>(),
        }),
    })
}

/// The channel's wire name.
pub fn channel_name(channel: &Channel) -> &'static str {
    match channel {
        Channel::Webhook => "webhook",
        Channel::Email => "email",
        Channel::Push => "push",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::{PersonSeq, RunId, WorkspaceId};
    use herald_store::RunState;

    fn run(trigger: Value) -> RunRow {
        RunRow {
            id: RunId::new(1),
            workspace_id: WorkspaceId::new(1),
            campaign_id: CampaignId::new(3),
            person_seq: PersonSeq::new(1),
            run_key: "k".into(),
            trigger,
            step: 0,
            due_at: 0,
            state: RunState::Active,
            attempts: 0,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn globals(trigger: Value) -> Value {
        let person = Person {
            seq: PersonSeq::new(1),
            workspace_id: WorkspaceId::new(1),
            cio_id: "c1".into(),
            id: Some("ann".into()),
            email: None,
            attributes: json!({"plan": "pro"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            created_at: 0,
            updated_at: 0,
        };
        let run = run(trigger);
        Context {
            person: &person,
            relationships: &[],
            run: &run,
            campaign_id: CampaignId::new(3),
            campaign_name: "Receipt",
            delivery_id: "d1",
            delivery_token: "t1",
            public_url: "http://herald.test/",
        }
        .globals()
    }

    /// Every member, in order, for a run an event started and for a transactional send (the
    /// order shows wherever the globals are listed, as in a preview).
    #[test]
    fn the_globals_hold_the_profile_the_trigger_and_the_delivery() {
        let customer = json!({"plan": "pro", "id": "ann", "cio_id": "c1", "cio_relationships": []});
        let event = json!({"event": {"name": "purchased", "timestamp": 5, "data": {"price": 12}}});
        let expected = json!({
            "customer": customer,
            "event": {"price": 12},
            "event_name": "purchased",
            "event_timestamp": 5,
            "trigger": event,
            "campaign": {"id": 3, "name": "Receipt"},
            "delivery_id": "d1",
            "delivery_token": "t1",
            "unsubscribe_url": "http://herald.test/unsubscribe/d1",
        });
        let got = globals(event.clone());
        assert_eq!(got, expected);
        let keys = |value: &Value| -> Vec<String> {
            value
                .as_object()
                .map(|map| map.keys().cloned().collect())
                .unwrap_or_default()
        };
        assert_eq!(keys(&got), keys(&expected));

        let sent = json!({"transactional": {"message_data": {"order": 7}}});
        let expected = json!({
            "customer": customer,
            "event": {"order": 7},
            "event_name": null,
            "event_timestamp": null,
            "trigger": {"order": 7},
            "message_data": {"order": 7},
            "campaign": {"id": 3, "name": "Receipt"},
            "transactional_message_id": 3,
            "delivery_id": "d1",
            "delivery_token": "t1",
            "unsubscribe_url": "http://herald.test/unsubscribe/d1",
        });
        let got = globals(sent);
        assert_eq!(got, expected);
        assert_eq!(keys(&got), keys(&expected));

        // A segment's entry has no event: its data is empty, its name and time null.
        let got = globals(json!({"segment": {"id": 2}}));
        assert_eq!(got["event"], json!({}));
        assert_eq!(got["event_name"], Value::Null);
    }
}
