//! Campaigns started by objects and relationships, as Customer.io's object-triggered
//! campaigns are:
//!
//! ```text
//! {"object": {"object_type_id": "1", "on": "updated" | "added" | "changed" | "removed",
//!             "where": [Filter…]}}
//! ```
//!
//! `updated`: an object of the type had its attributes changed, and every person related to it
//! starts a run. `added`, `changed`, `removed`: a person's relationship to such an object was
//! made, had its attributes changed, or ended, and that person starts a run. `where` filters the
//! object's attributes (as they are after the change).

use serde_json::{Map, Value};

use crate::model::{CampaignError, Trigger, error, parse_wheres};

/// Which change of an object or of a relationship starts a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectChange {
    /// The object's attributes changed; the people related to it start runs.
    Updated,
    /// A person was related to the object.
    Added,
    /// A person's relationship to the object had its attributes changed.
    Changed,
    /// A person's relationship to the object ended.
    Removed,
}

impl ObjectChange {
    pub const ALL: [ObjectChange; 4] = [Self::Updated, Self::Added, Self::Changed, Self::Removed];

    /// The name the campaign format and the run's trigger use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Updated => "updated",
            Self::Added => "added",
            Self::Changed => "changed",
            Self::Removed => "removed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|change| change.as_str() == text)
    }
}

/// Reads `object_type_id` as objects are named in the Track API: a positive number, written as
/// a string (a JSON number is taken too).
fn object_type_id(value: Option<&Value>) -> Result<String, CampaignError> {
    const FIELD: &str = "campaign.trigger.object.object_type_id";
    let text = match value {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        _ => {
            return Err(error(
                FIELD,
                "an object trigger needs the object type's number, e.g. \"1\"",
            ));
        }
    };
    let valid = !text.is_empty()
        && text.len() <= 10
        && text.bytes().all(|byte| byte.is_ascii_digit())
        && !text.starts_with('0');
    if valid {
        Ok(text)
    } else {
        Err(error(
            FIELD,
            format!("object_type_id {text:?} is not an object type's number, e.g. \"1\""),
        ))
    }
}

pub(crate) fn parse(value: &Value) -> Result<Trigger, CampaignError> {
    let Value::Object(object) = value else {
        return Err(error(
            "campaign.trigger.object",
            "an object trigger is an object: {\"object_type_id\": \"1\", \"on\": \"updated\"}",
        ));
    };
    const KNOWN: [&str; 3] = ["object_type_id", "on", "where"];
    if let Some(unknown) = object.keys().find(|key| !KNOWN.contains(&key.as_str())) {
        return Err(error(
            format!("campaign.trigger.object.{unknown}"),
            "an object trigger has object_type_id, on and where",
        ));
    }
    let object_type_id = object_type_id(object.get("object_type_id"))?;
    let on = match object.get("on") {
        Some(Value::String(text)) => ObjectChange::parse(text),
        _ => None,
    }
    .ok_or_else(|| {
        error(
            "campaign.trigger.object.on",
            "on is updated (the object's attributes changed), added, changed or removed (a \
             person's relationship to it)",
        )
    })?;
    let filters = parse_wheres(object.get("where"), "campaign.trigger.object.where")?;
    Ok(Trigger::Object {
        object_type_id,
        on,
        filters,
    })
}

/// What changed, as ingest reports it: the object (its type, id and attributes after the
/// change) and the kind of change.
#[derive(Debug, Clone, Copy)]
pub struct ObjectEvent<'a> {
    pub object_type_id: &'a str,
    pub change: ObjectChange,
    pub attributes: &'a Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn object_triggers_parse_and_name_what_is_wrong() {
        let trigger = parse(&json!({"object_type_id": "2", "on": "added",
                                    "where": [{"field": "plan", "op": "eq", "value": "pro"}]}))
        .unwrap();
        let Trigger::Object {
            object_type_id,
            on,
            filters,
        } = trigger
        else {
            panic!("an object trigger");
        };
        assert_eq!((object_type_id.as_str(), on), ("2", ObjectChange::Added));
        assert_eq!(filters.len(), 1);
        assert!(matches!(
            parse(&json!({"object_type_id": 1, "on": "updated"})),
            Ok(Trigger::Object { .. })
        ));
        let field = |value: Value| parse(&value).unwrap_err().field;
        assert_eq!(
            field(json!({"on": "updated"})),
            "campaign.trigger.object.object_type_id"
        );
        assert_eq!(
            field(json!({"object_type_id": "01", "on": "updated"})),
            "campaign.trigger.object.object_type_id"
        );
        assert_eq!(
            field(json!({"object_type_id": "1", "on": "created"})),
            "campaign.trigger.object.on"
        );
        assert_eq!(
            field(json!({"object_type_id": "1", "on": "added", "where": {}})),
            "campaign.trigger.object.where"
        );
        assert_eq!(
            field(json!({"object_type_id": "1", "on": "added", "audience": "all"})),
            "campaign.trigger.object.audience"
        );
        assert_eq!(field(json!("1")), "campaign.trigger.object");
    }

    #[test]
    fn changes_read_back_their_names() {
        for change in ObjectChange::ALL {
            assert_eq!(ObjectChange::parse(change.as_str()), Some(change));
        }
        assert_eq!(ObjectChange::parse("Updated"), None);
    }
}
