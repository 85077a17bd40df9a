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
        // A transactional send's `message_data` is its trigger (`{{ trigger.order_id }}`, as
        // Customer.io documents it), `message_data` itself, and, like an event's data, `event`.
        if let Some(sent) = crate::service::transactional_of_run(self.run) {
            let data = sent
                .get("message_data")
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new()));
            return json!({
                "customer": crate::relationships::customer(self.person, self.relationships),
                "event": data,
                "event_name": Value::Null,
                "event_timestamp": Value::Null,
                "trigger": data,
                "message_data": data,
                "campaign": {"id": self.campaign_id, "name": self.campaign_name},
                "transactional_message_id": self.campaign_id,
                "delivery_id": self.delivery_id,
                "delivery_token": self.delivery_token,
                "unsubscribe_url": unsubscribe_url(self.public_url, self.delivery_id),
            });
        }
        let event = self.run.trigger.get("event");
        let data = event
            .and_then(|event| event.get("data"))
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()));
        json!({
            "customer": crate::relationships::customer(self.person, self.relationships),
            "event": data,
            "event_name": event.and_then(|event| event.get("name")).cloned().unwrap_or(Value::Null),
            "event_timestamp": event.and_then(|event| event.get("timestamp")).cloned().unwrap_or(Value::Null),
            "trigger": self.run.trigger,
            "campaign": {"id": self.campaign_id, "name": self.campaign_name},
            "delivery_id": self.delivery_id,
            "delivery_token": self.delivery_token,
            "unsubscribe_url": unsubscribe_url(self.public_url, self.delivery_id),
        })
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
