//! The draft and the campaign format (`herald_campaigns`), both ways, and each send step as
//! the message a preview renders.

use herald_domain::CampaignId;
use std::collections::BTreeMap;

use herald_campaigns::Channel;
use herald_dispatch::MessageDraft;
use serde_json::{Map, Value, json};

use super::{Draft, StepDraft};
use crate::builder::json::{duration_of, filter_json, filter_of, whole};
use crate::view::pretty;

/// The trigger's filters in the campaign format, each problem named by its label.
fn wheres_json(draft: &Draft, label: &str, field: &str, problems: &mut Vec<String>) -> Value {
    let wheres: Vec<Value> = draft
        .wheres
        .iter()
        .enumerate()
        .map(|(index, filter)| {
            let label = format!("{label} {}", index + 1);
            filter_json(filter, &label, field, problems)
        })
        .collect();
    Value::Array(wheres)
}

/// The campaign the draft stands for, or what must be filled in first, in the page's order.
pub fn to_definition(draft: &Draft) -> Result<Value, Vec<String>> {
    let mut problems = Vec::new();
    let mut campaign = Map::new();
    let name = draft.name.trim();
    if name.is_empty() {
        problems.push("Name: name the campaign".to_owned());
    }
    campaign.insert("name".into(), json!(name));
    let transactional = draft.trigger == "transactional";
    let trigger = if transactional {
        json!({"transactional": {}})
    } else if draft.trigger == "segment" {
        let id = draft.segment_id.trim().parse::<i64>().ok();
        if id.is_none() {
            problems.push("Trigger: choose a segment".to_owned());
        }
        json!({"segment": {"id": id, "on": draft.segment_on}})
    } else if draft.trigger == "object" {
        let object_type_id = draft.object_type_id.trim();
        if object_type_id.is_empty() {
            problems.push("Trigger: give the object type's number".to_owned());
        }
        let mut trigger = json!({"object_type_id": object_type_id, "on": draft.object_on});
        if !draft.wheres.is_empty() {
            trigger["where"] = wheres_json(
                draft,
                "Object attribute filter",
                "an attribute",
                &mut problems,
            );
        }
        json!({ "object": trigger })
    } else {
        let event = draft.event_name.trim();
        if event.is_empty() {
            problems.push("Trigger: name the event".to_owned());
        }
        let mut trigger = json!({"name": event});
        if !draft.wheres.is_empty() {
            trigger["where"] =
                wheres_json(draft, "Trigger data filter", "a data field", &mut problems);
        }
        json!({ "event": trigger })
    };
    campaign.insert("trigger".into(), trigger);
    // A transactional message is sent every time an app asks for it, to whom it names.
    if !transactional {
        campaign.insert("frequency".into(), json!(draft.frequency));
    }
    // Only a campaign started by entering a segment can take the people already in it.
    if draft.trigger == "segment" && draft.segment_on == "enter" {
        campaign.insert("enrollment".into(), json!(draft.enrollment));
    }
    if let Some(filter) = filter_of_draft(draft, &mut problems) {
        if transactional {
            problems.push(
                "Filter: a transactional message has no filter (it goes to the person each request names)"
                    .to_owned(),
            );
        }
        campaign.insert("filter".into(), filter);
    }
    let steps: Vec<Value> = draft
        .steps
        .iter()
        .enumerate()
        .map(|(index, step)| step_json(step, index + 1, &mut problems))
        .collect();
    if steps.is_empty() {
        problems.push("Steps: add a webhook, email or push step".to_owned());
    }
    campaign.insert("steps".into(), Value::Array(steps));
    if problems.is_empty() {
        Ok(Value::Object(campaign))
    } else {
        Err(problems)
    }
}

fn filter_of_draft(draft: &Draft, problems: &mut Vec<String>) -> Option<Value> {
    let segment = || draft.filter_segment.trim().parse::<i64>().ok();
    match draft.filter.as_str() {
        "in" | "not_in" => {
            let Some(id) = segment() else {
                problems.push("Filter: choose a segment".to_owned());
                return None;
            };
            let member = json!({"segment": {"id": id}});
            Some(if draft.filter == "in" {
                member
            } else {
                json!({ "not": member })
            })
        }
        "json" => match serde_json::from_str::<Value>(&draft.filter_json) {
            Ok(value) => Some(value),
            Err(error) => {
                problems.push(format!("Filter: the JSON does not parse: {error}"));
                None
            }
        },
        _ => None,
    }
}

/// `Name: template` lines as an object; a line without a colon is a problem.
fn pairs_of(text: &str, label: &str, problems: &mut Vec<String>) -> Map<String, Value> {
    let mut pairs = Map::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        match line.split_once(':') {
            Some((name, value)) if !name.trim().is_empty() => {
                pairs.insert(name.trim().to_owned(), json!(value.trim()));
            }
            _ => problems.push(format!("{label}: write each line as Name: value")),
        }
    }
    pairs
}

fn step_json(step: &StepDraft, number: usize, problems: &mut Vec<String>) -> Value {
    let label = format!("Step {number}");
    let mut require = |value: &str, what: &str| {
        if value.trim().is_empty() {
            problems.push(format!("{label}: enter {what}"));
        }
    };
    match step.kind.as_str() {
        "delay" => {
            let amount = whole(&step.amount).filter(|amount| *amount >= 1);
            if amount.is_none() {
                problems.push(format!(
                    "{label}: a delay is a whole number of {}, at least 1",
                    step.unit
                ));
            }
            json!({"delay": { step.unit.as_str(): amount.unwrap_or(1) }})
        }
        "webhook" => {
            require(&step.url, "the URL");
            let mut webhook = json!({"url": step.url.trim(), "method": step.method});
            let headers = pairs_of(&step.pairs, &format!("{label} headers"), problems);
            if !headers.is_empty() {
                webhook["headers"] = Value::Object(headers);
            }
            if !step.body.is_empty() {
                webhook["body"] = json!(step.body);
            }
            json!({ "webhook": webhook })
        }
        "email" => {
            require(&step.to, "whom it goes to");
            require(&step.from, "whom it is from");
            require(&step.subject, "a subject");
            if step.html.trim().is_empty() && step.text.trim().is_empty() {
                problems.push(format!("{label}: write the HTML body or the text body"));
            }
            let mut email =
                json!({"to": step.to.trim(), "from": step.from.trim(), "subject": step.subject});
            for (name, value) in [("html", &step.html), ("text", &step.text)] {
                if !value.trim().is_empty() {
                    email[name] = json!(value);
                }
            }
            json!({ "email": email })
        }
        _ => {
            require(&step.title, "a title");
            require(&step.body, "a body");
            let mut push = json!({"title": step.title, "body": step.body});
            let data = pairs_of(&step.pairs, &format!("{label} data"), problems);
            if !data.is_empty() {
                push["data"] = Value::Object(data);
            }
            json!({ "push": push })
        }
    }
}

/// The message a send step would render, as typed (templates that do not compile yet
/// included: the preview names them); `None` for a delay.
pub fn message_of(step: &StepDraft) -> Option<MessageDraft> {
    let mut templates = BTreeMap::new();
    let mut put = |name: &str, value: &str, always: bool| {
        if always || !value.trim().is_empty() {
            templates.insert(name.to_owned(), value.to_owned());
        }
    };
    let (channel, prefix) = match step.kind.as_str() {
        "webhook" => {
            put("url", &step.url, true);
            put("body", &step.body, false);
            (Channel::Webhook, "headers.")
        }
        "email" => {
            put("to", &step.to, true);
            put("from", &step.from, true);
            put("subject", &step.subject, true);
            put("html", &step.html, false);
            put("text", &step.text, false);
            (Channel::Email, "")
        }
        "push" => {
            put("title", &step.title, true);
            put("body", &step.body, true);
            (Channel::Push, "data.")
        }
        _ => return None,
    };
    if !prefix.is_empty() {
        for (name, value) in pairs_of(&step.pairs, "", &mut Vec::new()) {
            templates.insert(
                format!("{prefix}{name}"),
                value.as_str().unwrap_or_default().to_owned(),
            );
        }
    }
    Some(MessageDraft {
        channel,
        method: (step.kind == "webhook").then(|| step.method.clone()),
        templates,
    })
}

/// The draft of a stored campaign (valid: the service checked it when it was saved).
pub fn from_definition(id: Option<CampaignId>, definition: &Value) -> Draft {
    let mut draft = Draft {
        campaign_id: id,
        name: definition["name"].as_str().unwrap_or_default().to_owned(),
        steps: Vec::new(),
        ..Draft::starting()
    };
    let trigger = &definition["trigger"];
    if trigger.get("transactional").is_some() {
        draft.trigger = "transactional".into();
    } else if let Some(segment) = trigger.get("segment") {
        draft.trigger = "segment".into();
        draft.segment_id = segment["id"]
            .as_i64()
            .map(|id| id.to_string())
            .unwrap_or_default();
        draft.segment_on = segment["on"].as_str().unwrap_or("enter").to_owned();
        draft.frequency = "once".into();
    } else if let Some(object) = trigger.get("object") {
        draft.trigger = "object".into();
        draft.object_type_id = match &object["object_type_id"] {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        draft.object_on = object["on"].as_str().unwrap_or("added").to_owned();
        draft.wheres = object["where"]
            .as_array()
            .map(|wheres| wheres.iter().map(filter_of).collect())
            .unwrap_or_default();
    } else {
        draft.event_name = trigger["event"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        draft.wheres = trigger["event"]["where"]
            .as_array()
            .map(|wheres| wheres.iter().map(filter_of).collect())
            .unwrap_or_default();
    }
    if let Some(frequency) = definition["frequency"].as_str() {
        frequency.clone_into(&mut draft.frequency);
    }
    if let Some(enrollment) = definition["enrollment"].as_str() {
        enrollment.clone_into(&mut draft.enrollment);
    }
    let filter = &definition["filter"];
    let segment_of = |value: &Value| {
        value["segment"]["id"]
            .as_i64()
            .filter(|_| value.as_object().is_some_and(|o| o.len() == 1))
    };
    if let Some(id) = segment_of(filter) {
        draft.filter = "in".into();
        draft.filter_segment = id.to_string();
    } else if let Some(id) = segment_of(&filter["not"]) {
        draft.filter = "not_in".into();
        draft.filter_segment = id.to_string();
    } else if !filter.is_null() {
        draft.filter = "json".into();
        draft.filter_json = pretty(filter);
    }
    for step in definition["steps"].as_array().into_iter().flatten() {
        if let Some(draft_step) = step_of(step) {
            draft.steps.push(draft_step);
        }
    }
    draft
}

fn lines_of(value: &Value) -> String {
    value
        .as_object()
        .map(|pairs| {
            pairs
                .iter()
                .map(|(name, value)| format!("{name}: {}", value.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn step_of(value: &Value) -> Option<StepDraft> {
    let (kind, body) = value.as_object()?.iter().next()?;
    let mut step = StepDraft::empty(kind)?;
    let text = |name: &str| body[name].as_str().unwrap_or_default().to_owned();
    match kind.as_str() {
        "delay" => {
            (step.amount, step.unit) = duration_of(body);
        }
        "webhook" => {
            step.url = text("url");
            step.method = body["method"]
                .as_str()
                .unwrap_or("POST")
                .to_ascii_uppercase();
            step.pairs = lines_of(&body["headers"]);
            step.body = text("body");
        }
        "email" => {
            step.to = text("to");
            step.from = text("from");
            step.subject = text("subject");
            step.html = text("html");
            step.text = text("text");
        }
        _ => {
            step.title = text("title");
            step.body = text("body");
            step.pairs = lines_of(&body["data"]);
        }
    }
    Some(step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::editor::form::{draft_of, fields_of};

    #[test]
    fn campaigns_round_trip_through_the_draft_and_the_form() {
        for definition in [
            json!({"name": "Welcome", "trigger": {"event": {"name": "signed up",
                    "where": [{"field": "plan", "op": "eq", "value": "pro"}]}},
                "frequency": "every_time",
                "filter": {"not": {"segment": {"id": 4}}},
                "steps": [{"delay": {"minutes": 30}},
                    {"webhook": {"url": "https://x.test/{{ customer.id }}", "method": "PUT",
                        "headers": {"X-Sig": "{{ customer.email }}"}, "body": "{{ event[\"sign up date\"] }}"}},
                    {"email": {"to": "{{ customer.email }}", "from": "a@x.test", "subject": "Hi", "html": "<p>Hi</p>"}},
                    {"push": {"title": "T", "body": "B", "data": {"k": "v"}}}]}),
            json!({"name": "Pro", "trigger": {"segment": {"id": 7, "on": "enter"}},
                "frequency": "once", "enrollment": "current_and_future",
                "filter": {"attribute": {"field": "plan", "op": "exists"}},
                "steps": [{"webhook": {"url": "https://x.test", "method": "POST"}}]}),
            json!({"name": "Upgraded", "trigger": {"object": {"object_type_id": "2", "on": "updated",
                    "where": [{"field": "plan", "op": "eq", "value": "enterprise"}]}},
                "frequency": "every_time",
                "steps": [{"webhook": {"url": "https://x.test/{{ trigger.object_id }}", "method": "POST"}}]}),
        ] {
            let draft = from_definition(Some(CampaignId::new(3)), &definition);
            let back = draft_of(&fields_of(&draft));
            assert_eq!(back, draft);
            let again = to_definition(&back).expect("complete");
            assert_eq!(
                from_definition(Some(CampaignId::new(3)), &again),
                draft,
                "{again}"
            );
            assert_eq!(again["trigger"], definition["trigger"]);
        }
    }

    #[test]
    fn what_is_missing_is_named_by_its_place() {
        let mut draft = Draft::starting();
        draft.steps.push(StepDraft::empty("email").expect("a kind"));
        draft.steps[0].pairs = "no colon here".into();
        let problems = to_definition(&draft).unwrap_err();
        assert_eq!(
            problems,
            [
                "Name: name the campaign",
                "Trigger: name the event",
                "Step 1: enter the URL",
                "Step 1 headers: write each line as Name: value",
                "Step 2: enter whom it is from",
                "Step 2: enter a subject",
                "Step 2: write the HTML body or the text body",
            ]
        );
    }

    #[test]
    fn a_send_step_is_the_message_a_preview_renders() {
        let mut step = StepDraft::empty("webhook").expect("a kind");
        step.url = "https://x.test".into();
        step.pairs = "X-A: {{ customer.id }}\n\n".into();
        let message = message_of(&step).expect("a message");
        assert_eq!(message.method.as_deref(), Some("POST"));
        assert_eq!(
            message.templates.keys().collect::<Vec<_>>(),
            ["headers.X-A", "url"]
        );
        assert!(message_of(&StepDraft::empty("delay").expect("a kind")).is_none());
    }
}
