//! The campaign format (issue 4) and its validation.
//!
//! ```text
//! {"name": "Receipt",
//!  "trigger": {"event": {"name": "purchased", "where": [Filter…]}}
//!           | {"segment": {"id": 7, "on": "enter" | "exit"}}
//!           | {"object": {"object_type_id": "1", "on": "updated" | "added" | "changed" | "removed",
//!                       "where": [Filter…]}}
//!           | {"transactional": {}},
//!  "filter": Condition?,
//!  "frequency": "once" | "every_time",
//!  "enrollment": "future" | "current_and_future",
//!  "steps": [{"delay": {"minutes": 30}}, {"webhook": {…}}, {"email": {…}}, {"push": {…}}]}
//! ```

use std::collections::{BTreeMap, BTreeSet};

use herald_domain::SegmentId;
use herald_segment_engine::definition::{
    Condition, Definition, Filter, parse_duration, parse_filter,
};
use serde_json::Value;

pub use crate::object_trigger::ObjectChange;

/// What starts a campaign for a person.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// An event of this name whose data passes every filter.
    Event { name: String, filters: Vec<Filter> },
    /// Entering or leaving a segment.
    Segment { id: SegmentId, on_enter: bool },
    /// A transactional message: sent by `POST /v1/send/email` or `/v1/send/push`, to the person
    /// the request names, with the request's `message_data`. It has one step, an email or a
    /// push.
    Transactional,
    /// A change of an object of this type, or of a person's relationship to one, whose object
    /// attributes pass every filter (`object_trigger.rs`).
    Object {
        object_type_id: String,
        on: ObjectChange,
        filters: Vec<Filter>,
    },
}

/// How often one person may go through a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    Once,
    EveryTime,
}

/// Whether a segment-triggered campaign also takes the people already in the segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enrollment {
    Future,
    CurrentAndFuture,
}

/// A channel and its Liquid templates, by field name.
#[derive(Debug, Clone, PartialEq)]
pub enum Channel {
    Webhook,
    Email,
    Push,
}

/// One step of a campaign.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Waits this many seconds.
    Delay(i64),
    /// Sends a message; `templates` maps each field (e.g. `body`, `headers.X-Sig`) to its source.
    Send {
        channel: Channel,
        method: Option<String>,
        templates: BTreeMap<String, String>,
    },
}

/// A validated campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    pub name: String,
    pub trigger: Trigger,
    pub filter: Option<Condition>,
    pub frequency: Frequency,
    pub enrollment: Enrollment,
    pub steps: Vec<Step>,
}

/// An invalid campaign: the field at fault and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CampaignError {
    pub field: String,
    pub message: String,
}

pub(crate) fn error(field: impl Into<String>, message: impl Into<String>) -> CampaignError {
    CampaignError {
        field: field.into(),
        message: message.into(),
    }
}

fn from_definition(prefix: &str, error: herald_segment_engine::DefinitionError) -> CampaignError {
    let field = if error.path == "definition" {
        prefix.to_owned()
    } else if error.path.starts_with(prefix) {
        error.path
    } else {
        format!("{prefix}.{}", error.path)
    };
    CampaignError {
        field,
        message: error.message,
    }
}

/// The fields each channel takes, and whether each is required.
fn channel_fields(channel: &Channel) -> &'static [(&'static str, bool)] {
    match channel {
        Channel::Webhook => &[("url", true), ("body", false)],
        Channel::Email => &[
            ("to", true),
            ("from", true),
            ("subject", true),
            ("html", false),
            ("text", false),
        ],
        Channel::Push => &[("title", true), ("body", true)],
    }
}

impl Campaign {
    /// Checks, when a campaign is saved, what the fixed text of its webhooks' addresses says
    /// of where they go, and that an event trigger names an event that can arrive (event names
    /// hold at most 100 bytes). Campaigns stored before these checks still load.
    pub fn check_addresses(&self) -> Result<(), CampaignError> {
        if let Trigger::Event { name, .. } = &self.trigger
            && name.len() > herald_domain::limits::MAX_EVENT_NAME_BYTES
        {
            return Err(error(
                "campaign.trigger.event.name",
                format!(
                    "no event can have this name: event names hold at most {} bytes",
                    herald_domain::limits::MAX_EVENT_NAME_BYTES
                ),
            ));
        }
        for (index, step) in self.steps.iter().enumerate() {
            if let Step::Send {
                channel: Channel::Webhook,
                templates,
                ..
            } = step
                && let Some(url) = templates.get("url")
            {
                webhook_url(url).map_err(|message| {
                    error(format!("campaign.steps[{index}].webhook.url"), message)
                })?;
            }
        }
        Ok(())
    }

    /// Parses a campaign body (the object inside `{"campaign": …}`). `check_template` compiles
    /// one Liquid source and explains a syntax error; `segment_exists` says whether a segment id
    /// exists in the workspace.
    pub fn parse(
        value: &Value,
        check_template: &dyn Fn(&str) -> Result<(), String>,
        segment_exists: &dyn Fn(SegmentId) -> bool,
    ) -> Result<Self, CampaignError> {
        let Value::Object(object) = value else {
            return Err(error(
                "campaign",
                "send {\"campaign\": {\"name\": …, \"trigger\": …, \"steps\": […]}}",
            ));
        };
        for key in object.keys() {
            if !matches!(
                key.as_str(),
                "name" | "trigger" | "filter" | "frequency" | "enrollment" | "steps"
            ) {
                return Err(error(format!("campaign.{key}"), "unknown field"));
            }
        }
        let name = match object.get("name") {
            Some(Value::String(name)) if name.contains('\0') => {
                return Err(error(
                    "campaign.name",
                    "a campaign name may not contain a NUL character (\\u0000)",
                ));
            }
            Some(Value::String(name)) if !name.trim().is_empty() => name.trim().to_owned(),
            _ => return Err(error("campaign.name", "a campaign needs a name")),
        };
        let trigger = parse_trigger(object.get("trigger"), segment_exists)?;
        let filter = match object.get("filter") {
            None | Some(Value::Null) => None,
            Some(filter) => {
                let definition =
                    Definition::parse(filter).map_err(|e| from_definition("campaign.filter", e))?;
                for reference in definition.references() {
                    if !segment_exists(reference) {
                        return Err(error(
                            "campaign.filter",
                            format!("segment {reference} does not exist"),
                        ));
                    }
                }
                Some(definition.root)
            }
        };
        let frequency = match object.get("frequency").and_then(Value::as_str) {
            None if object.get("frequency").is_none() => match trigger {
                Trigger::Segment { .. } => Frequency::Once,
                Trigger::Event { .. } | Trigger::Transactional | Trigger::Object { .. } => {
                    Frequency::EveryTime
                }
            },
            Some("once") => Frequency::Once,
            Some("every_time") => Frequency::EveryTime,
            _ => {
                return Err(error(
                    "campaign.frequency",
                    "frequency is once or every_time",
                ));
            }
        };
        let enrollment = match object.get("enrollment").and_then(Value::as_str) {
            None if object.get("enrollment").is_none() => Enrollment::Future,
            Some("future") => Enrollment::Future,
            Some("current_and_future") => Enrollment::CurrentAndFuture,
            _ => {
                return Err(error(
                    "campaign.enrollment",
                    "enrollment is future or current_and_future",
                ));
            }
        };
        if enrollment == Enrollment::CurrentAndFuture
            && !matches!(trigger, Trigger::Segment { on_enter: true, .. })
        {
            return Err(error(
                "campaign.enrollment",
                "current_and_future applies only to campaigns triggered by entering a segment",
            ));
        }
        let steps = parse_steps(object.get("steps"), check_template)?;
        if trigger == Trigger::Transactional {
            check_transactional(filter.is_some(), frequency, &steps)?;
        }
        Ok(Self {
            name,
            trigger,
            filter,
            frequency,
            enrollment,
            steps,
        })
    }

    /// The segments the campaign refers to: the one its trigger names and those of its filter.
    pub fn segments(&self) -> BTreeSet<SegmentId> {
        let mut found = self
            .filter
            .as_ref()
            .map(Condition::references)
            .unwrap_or_default();
        if let Trigger::Segment { id, .. } = self.trigger {
            found.insert(id);
        }
        found
    }
}

/// A transactional message sends one email or push, every time it is asked to, to whom the
/// request names.
fn check_transactional(
    filtered: bool,
    frequency: Frequency,
    steps: &[Step],
) -> Result<(), CampaignError> {
    if filtered {
        return Err(error(
            "campaign.filter",
            "a transactional message has no filter: it goes to the person each request names",
        ));
    }
    if frequency != Frequency::EveryTime {
        return Err(error(
            "campaign.frequency",
            "a transactional message is sent every time it is asked for: leave frequency out",
        ));
    }
    match steps {
        [
            Step::Send {
                channel: Channel::Email | Channel::Push,
                ..
            },
        ] => Ok(()),
        _ => Err(error(
            "campaign.steps",
            "a transactional message has exactly one step, an email or a push",
        )),
    }
}

/// A trigger's `where`: filters on the data that starts it (an event's, an object's).
pub(crate) fn parse_wheres(
    value: Option<&Value>,
    path: &str,
) -> Result<Vec<Filter>, CampaignError> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            let mut filters = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let path = format!("{path}[{index}]");
                filters.push(parse_filter(item, &path).map_err(|e| from_definition(&path, e))?);
            }
            Ok(filters)
        }
        Some(_) => Err(error(path, "where takes an array of filters")),
    }
}

fn parse_trigger(
    value: Option<&Value>,
    segment_exists: &dyn Fn(SegmentId) -> bool,
) -> Result<Trigger, CampaignError> {
    let Some(Value::Object(trigger)) = value else {
        return Err(error("campaign.trigger", TRIGGER_SHAPES));
    };
    if trigger.len() != 1 {
        return Err(error(
            "campaign.trigger",
            "a trigger has exactly one of event, segment, object or transactional",
        ));
    }
    if let Some(object) = trigger.get("object") {
        return crate::object_trigger::parse(object);
    }
    if let Some(event) = trigger.get("event") {
        let Value::Object(event) = event else {
            return Err(error(
                "campaign.trigger.event",
                "an event trigger is an object",
            ));
        };
        let name = match event.get("name") {
            Some(Value::String(name)) if !name.trim().is_empty() => name.trim().to_owned(),
            _ => {
                return Err(error(
                    "campaign.trigger.event.name",
                    "an event trigger needs a name",
                ));
            }
        };
        let filters = parse_wheres(event.get("where"), "campaign.trigger.event.where")?;
        return Ok(Trigger::Event { name, filters });
    }
    if let Some(transactional) = trigger.get("transactional") {
        if !transactional
            .as_object()
            .is_some_and(serde_json::Map::is_empty)
        {
            return Err(error(
                "campaign.trigger.transactional",
                "a transactional trigger is {\"transactional\": {}}",
            ));
        }
        return Ok(Trigger::Transactional);
    }
    if let Some(segment) = trigger.get("segment") {
        let id = segment
            .get("id")
            .and_then(Value::as_i64)
            .map(SegmentId::new)
            .ok_or_else(|| {
                error(
                    "campaign.trigger.segment.id",
                    "a segment trigger needs the segment's id",
                )
            })?;
        if !segment_exists(id) {
            return Err(error(
                "campaign.trigger.segment.id",
                format!("segment {id} does not exist"),
            ));
        }
        let on_enter = match segment.get("on").and_then(Value::as_str) {
            None | Some("enter") => true,
            Some("exit") => false,
            Some(_) => return Err(error("campaign.trigger.segment.on", "on is enter or exit")),
        };
        return Ok(Trigger::Segment { id, on_enter });
    }
    Err(error("campaign.trigger", TRIGGER_SHAPES))
}

const TRIGGER_SHAPES: &str = "a trigger is {\"event\": {…}}, {\"segment\": {…}}, {\"object\": {…}} or {\"transactional\": {}}";

fn parse_steps(
    value: Option<&Value>,
    check_template: &dyn Fn(&str) -> Result<(), String>,
) -> Result<Vec<Step>, CampaignError> {
    let Some(Value::Array(items)) = value else {
        return Err(error(
            "campaign.steps",
            "steps is an array of delay, webhook, email and push steps",
        ));
    };
    let mut steps = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let path = format!("campaign.steps[{index}]");
        let Some(object) = item.as_object().filter(|o| o.len() == 1) else {
            return Err(error(
                path,
                "a step is an object with one of delay, webhook, email, push",
            ));
        };
        let Some((kind, body)) = object.iter().next() else {
            return Err(error(path, "empty step"));
        };
        let here = format!("{path}.{kind}");
        let step = match kind.as_str() {
            "delay" => {
                Step::Delay(parse_duration(body, &here).map_err(|e| from_definition(&here, e))?)
            }
            "webhook" => parse_send(Channel::Webhook, body, &here, check_template)?,
            "email" => parse_send(Channel::Email, body, &here, check_template)?,
            "push" => parse_send(Channel::Push, body, &here, check_template)?,
            _ => {
                return Err(error(
                    path,
                    format!("unknown step {kind:?}: use delay, webhook, email or push"),
                ));
            }
        };
        steps.push(step);
    }
    if !steps.iter().any(|step| matches!(step, Step::Send { .. })) {
        return Err(error(
            "campaign.steps",
            "a campaign needs at least one webhook, email or push step",
        ));
    }
    Ok(steps)
}

fn parse_send(
    channel: Channel,
    body: &Value,
    path: &str,
    check_template: &dyn Fn(&str) -> Result<(), String>,
) -> Result<Step, CampaignError> {
    let Value::Object(fields) = body else {
        return Err(error(path, "a message step is an object of templates"));
    };
    let known = channel_fields(&channel);
    let mut templates = BTreeMap::new();
    let mut method = None;
    for (key, value) in fields {
        let field = format!("{path}.{key}");
        match (key.as_str(), &channel) {
            ("method", Channel::Webhook) => {
                let text = value.as_str().map(str::to_ascii_uppercase);
                match text.as_deref() {
                    Some("GET" | "POST" | "PUT" | "PATCH" | "DELETE") => method = text,
                    _ => return Err(error(field, "method is GET, POST, PUT, PATCH or DELETE")),
                }
            }
            ("headers", Channel::Webhook) | ("data", Channel::Push) => {
                let Value::Object(entries) = value else {
                    return Err(error(field, "an object of templates"));
                };
                for (name, source) in entries {
                    let entry = format!("{field}.{name}");
                    templates.insert(
                        format!("{key}.{name}"),
                        template(source, &entry, check_template)?,
                    );
                }
            }
            (name, _) if known.iter().any(|(known, _)| *known == name) => {
                templates.insert(name.to_owned(), template(value, &field, check_template)?);
            }
            _ => return Err(error(field, "unknown field of this step")),
        }
    }
    for (name, required) in known {
        if *required && !templates.contains_key(*name) {
            return Err(error(format!("{path}.{name}"), "required"));
        }
    }

    if channel == Channel::Email
        && !templates.contains_key("html")
        && !templates.contains_key("text")
    {
        return Err(error(path, "an email needs html or text"));
    }
    Ok(Step::Send {
        channel,
        method,
        templates,
    })
}

/// Checks what can be checked of a webhook's address before it is rendered: the text before
/// its first Liquid tag must start an `http://` or `https://` address with a host, so that
/// an empty one, `file://…` or a typo fails when the campaign is saved, not at every send.
fn webhook_url(source: &str) -> Result<(), String> {
    let source = source.trim();
    let literal = source.split("{{").next().unwrap_or_default();
    let literal = literal.split("{%").next().unwrap_or_default();
    let templated = literal.len() < source.len();
    if source.is_empty() {
        return Err("the address to send to is required".into());
    }
    let lower = literal.to_ascii_lowercase();
    let rest = ["https://", "http://"]
        .iter()
        .find_map(|scheme| lower.strip_prefix(scheme));
    let ok = match rest {
        Some(rest) => templated || !rest.is_empty() && !rest.starts_with('/'),
        // A tag may write the scheme itself; a literal start must lead to one.
        None => templated && ("https://".starts_with(&lower) || "http://".starts_with(&lower)),
    };
    if ok && !literal.contains(char::is_whitespace) {
        Ok(())
    } else {
        Err(format!(
            "the address must be an http:// or https:// URL with a host, not {source:?}"
        ))
    }
}

fn template(
    value: &Value,
    field: &str,
    check_template: &dyn Fn(&str) -> Result<(), String>,
) -> Result<String, CampaignError> {
    let Value::String(source) = value else {
        return Err(error(field, "a template is a string"));
    };
    check_template(source).map_err(|message| error(field, message))?;
    Ok(source.clone())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn webhook_addresses_are_checked_as_far_as_they_are_written() {
        for good in [
            "https://hooks.example.com/x",
            "http://127.0.0.1:9/{{ customer.id }}",
            "{{ customer.webhook_url }}",
            "https://{{ customer.host }}/in",
            "{% if customer.eu %}https://eu.example.com{% else %}https://us.example.com{% endif %}",
        ] {
            assert_eq!(webhook_url(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "  ",
            "not a url",
            "file:///etc/passwd",
            "gopher://x",
            "https://",
            "https:///x",
            "ftp://{{ x }}",
            "htps://x",
        ] {
            assert!(webhook_url(bad).is_err(), "{bad:?}");
        }
    }

    fn parse(value: Value) -> Result<Campaign, CampaignError> {
        let check = |source: &str| {
            if source.contains("{%") && !source.contains("%}") {
                Err("unclosed tag at line 1, column 1".to_owned())
            } else {
                Ok(())
            }
        };
        Campaign::parse(&value, &check, &|id| id == SegmentId::new(7))
    }

    #[test]
    fn a_receipt_campaign_parses_with_defaults() {
        let campaign = parse(json!({"name": "Receipt",
            "trigger": {"event": {"name": "purchased", "where": [{"field": "price", "op": "gt", "value": 10}]}},
            "steps": [{"delay": {"minutes": 30}}, {"webhook": {"url": "http://x/{{ customer.id }}", "headers": {"X-A": "b"}, "body": "{{ event.price }}"}}]}))
        .unwrap();
        assert_eq!(campaign.frequency, Frequency::EveryTime);
        assert_eq!(campaign.steps[0], Step::Delay(1800));
        let Step::Send { templates, .. } = &campaign.steps[1] else {
            panic!()
        };
        assert!(templates.contains_key("headers.X-A"));
    }

    #[test]
    fn the_segments_used_are_the_triggers_and_the_filters() {
        let exists = |_: SegmentId| true;
        let used = |value: Value| {
            Campaign::parse(&value, &|_| Ok(()), &exists)
                .unwrap()
                .segments()
                .into_iter()
                .map(SegmentId::get)
                .collect::<Vec<_>>()
        };
        let push = json!([{"push": {"title": "t", "body": "b"}}]);
        assert_eq!(
            used(
                json!({"name": "x", "trigger": {"segment": {"id": 7, "on": "exit"}}, "steps": push})
            ),
            vec![7]
        );
        assert_eq!(
            used(json!({"name": "x", "trigger": {"segment": {"id": 7}},
                "filter": {"or": [{"segment": {"id": 3}}, {"not": {"segment": {"id": 7}}}]}, "steps": push})),
            vec![3, 7]
        );
        assert_eq!(
            used(json!({"name": "x", "trigger": {"event": {"name": "e"}},
                "filter": {"attribute": {"field": "plan", "op": "eq", "value": "pro"}}, "steps": push})),
            Vec::<i64>::new()
        );
    }

    #[test]
    fn errors_name_the_field() {
        let field = |value: Value| parse(value).unwrap_err().field;
        let base =
            |steps: Value| json!({"name": "x", "trigger": {"segment": {"id": 7}}, "steps": steps});
        assert_eq!(
            field(json!({"name": "x", "trigger": {"segment": {"id": 8}}, "steps": []})),
            "campaign.trigger.segment.id"
        );
        assert_eq!(field(base(json!([]))), "campaign.steps");
        assert_eq!(
            field(base(json!([{"delay": {"minutes": 1}}]))),
            "campaign.steps"
        );
        assert_eq!(
            field(base(json!([{"webhook": {"body": "x"}}]))),
            "campaign.steps[0].webhook.url"
        );
        assert_eq!(
            field(base(
                json!([{"email": {"to": "a", "from": "b", "subject": "{% if", "text": "t"}}])
            )),
            "campaign.steps[0].email.subject"
        );
        assert_eq!(
            field(base(json!([{"delay": {"years": 1}}]))),
            "campaign.steps[0].delay.years"
        );
        assert_eq!(
            field(
                json!({"name": "x", "trigger": {"segment": {"id": 7}}, "filter": {"and": []}, "steps": [{"push": {"title": "t", "body": "b"}}]})
            ),
            "campaign.filter.and"
        );
    }
}
