//! The draft as the editor's form sends it: plain fields by name (`name`, `trigger`,
//! `event_name`…), each step's as `step.<n>.<field>` and each trigger data filter's as
//! `where.<n>.<field>`. Whatever is missing reads as empty; steps and filters come in their
//! numbers' order.

use std::collections::BTreeMap;

use super::{Draft, StepDraft};
use crate::builder::FilterNode;

/// The value of a plain field of a form (the segment builder's too).
pub fn field<'f>(fields: &'f [(String, String)], name: &str) -> &'f str {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map_or("", |(_, value)| value.as_str())
}

/// The fields of each numbered item under `prefix` (`step.`, `where.`), in number order.
fn numbered<'f>(fields: &'f [(String, String)], prefix: &str) -> Vec<BTreeMap<&'f str, &'f str>> {
    let mut items: BTreeMap<usize, BTreeMap<&str, &str>> = BTreeMap::new();
    for (name, value) in fields {
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        let Some((number, field)) = rest.split_once('.') else {
            continue;
        };
        // A number past any sensible campaign is a forged form: it is not an item.
        if let Ok(number) = number.parse::<usize>()
            && number < 1_000
        {
            items
                .entry(number)
                .or_default()
                .insert(field, value.as_str());
        }
    }
    items.into_values().collect()
}

fn text(item: &BTreeMap<&str, &str>, name: &str, default: &str) -> String {
    match item.get(name).copied() {
        None | Some("") if !default.is_empty() => default.to_owned(),
        value => value.unwrap_or_default().to_owned(),
    }
}

fn choice(fields: &[(String, String)], name: &str, choices: &[&str]) -> String {
    let value = field(fields, name);
    if choices.contains(&value) {
        value.to_owned()
    } else {
        choices[0].to_owned()
    }
}

/// Reads the draft from the form.
pub fn draft_of(fields: &[(String, String)]) -> Draft {
    let wheres = numbered(fields, "where.")
        .iter()
        .map(|item| FilterNode {
            field: text(item, "field", ""),
            op: text(item, "op", "eq"),
            value: text(item, "value", ""),
            ago: text(item, "ago", "30"),
            ago_unit: text(item, "ago_unit", "days"),
            at: text(item, "at", ""),
        })
        .collect();
    let steps = numbered(fields, "step.")
        .iter()
        .filter_map(|item| {
            let mut step = StepDraft::empty(item.get("kind").copied().unwrap_or_default())?;
            step.amount = text(item, "amount", "1");
            step.unit = text(item, "unit", "days");
            step.method = text(item, "method", "POST");
            for (name, slot) in [
                ("url", &mut step.url),
                ("pairs", &mut step.pairs),
                ("body", &mut step.body),
                ("to", &mut step.to),
                ("from", &mut step.from),
                ("subject", &mut step.subject),
                ("html", &mut step.html),
                ("text", &mut step.text),
                ("title", &mut step.title),
            ] {
                *slot = text(item, name, "");
            }
            Some(step)
        })
        .collect();
    Draft {
        campaign_id: field(fields, "campaign_id").parse().ok(),
        name: field(fields, "name").to_owned(),
        trigger: choice(
            fields,
            "trigger",
            &["event", "segment", "object", "transactional"],
        ),
        event_name: field(fields, "event_name").to_owned(),
        wheres,
        object_type_id: field(fields, "object_type_id").to_owned(),
        object_on: choice(
            fields,
            "object_on",
            &["added", "updated", "changed", "removed"],
        ),
        segment_id: field(fields, "segment_id").to_owned(),
        segment_on: choice(fields, "segment_on", &["enter", "exit"]),
        frequency: choice(fields, "frequency", &["every_time", "once"]),
        enrollment: choice(fields, "enrollment", &["future", "current_and_future"]),
        filter: choice(fields, "filter", &["none", "in", "not_in", "json"]),
        filter_segment: field(fields, "filter_segment").to_owned(),
        filter_json: field(fields, "filter_json").to_owned(),
        steps,
    }
}

/// The draft as form fields, the way the page names them (for tests and scripted clients).
pub fn fields_of(draft: &Draft) -> Vec<(String, String)> {
    let mut fields = vec![
        ("name".to_owned(), draft.name.clone()),
        ("trigger".to_owned(), draft.trigger.clone()),
        ("event_name".to_owned(), draft.event_name.clone()),
        ("object_type_id".to_owned(), draft.object_type_id.clone()),
        ("object_on".to_owned(), draft.object_on.clone()),
        ("segment_id".to_owned(), draft.segment_id.clone()),
        ("segment_on".to_owned(), draft.segment_on.clone()),
        ("frequency".to_owned(), draft.frequency.clone()),
        ("enrollment".to_owned(), draft.enrollment.clone()),
        ("filter".to_owned(), draft.filter.clone()),
        ("filter_segment".to_owned(), draft.filter_segment.clone()),
        ("filter_json".to_owned(), draft.filter_json.clone()),
    ];
    if let Some(id) = draft.campaign_id {
        fields.push(("campaign_id".to_owned(), id.to_string()));
    }
    for (index, filter) in draft.wheres.iter().enumerate() {
        for (name, value) in [
            ("field", &filter.field),
            ("op", &filter.op),
            ("value", &filter.value),
            ("ago", &filter.ago),
            ("ago_unit", &filter.ago_unit),
            ("at", &filter.at),
        ] {
            fields.push((format!("where.{index}.{name}"), value.clone()));
        }
    }
    for (index, step) in draft.steps.iter().enumerate() {
        for (name, value) in [
            ("kind", &step.kind),
            ("amount", &step.amount),
            ("unit", &step.unit),
            ("method", &step.method),
            ("url", &step.url),
            ("pairs", &step.pairs),
            ("body", &step.body),
            ("to", &step.to),
            ("from", &step.from),
            ("subject", &step.subject),
            ("html", &step.html),
            ("text", &step.text),
            ("title", &step.title),
        ] {
            fields.push((format!("step.{index}.{name}"), value.clone()));
        }
    }
    fields
}
