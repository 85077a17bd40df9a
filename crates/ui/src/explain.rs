//! A segment's explanation for one person (the engine's `explain` tree) as lines a person can
//! read: each condition with whether it holds and what was found, indented under its group.

use serde_json::Value;

use crate::view::moment;

/// One condition of the explanation.
pub struct ExplainLine {
    /// How deep in the definition's groups, from 0; the page indents by it (`depth-N` classes,
    /// at most 8).
    pub depth: usize,
    pub holds: bool,
    pub text: String,
}

/// Flattens an explanation tree into lines, each group before its conditions.
pub fn lines(tree: &Value) -> Vec<ExplainLine> {
    let mut out = Vec::new();
    walk(tree, 0, &mut out);
    out
}

fn walk(node: &Value, depth: usize, out: &mut Vec<ExplainLine>) {
    let holds = node["value"].as_bool().unwrap_or(false);
    let text = match node["type"].as_str().unwrap_or_default() {
        "and" => "All of these".to_owned(),
        "or" => "Any of these".to_owned(),
        "not" => "Not this".to_owned(),
        "segment" => format!("In segment {}", node["segment_id"]),
        "attribute" => {
            let field = node["field"].as_str().unwrap_or_default();
            match &node["actual"] {
                Value::Null => format!("Attribute “{field}”: the person does not have it"),
                actual => format!("Attribute “{field}” is {actual}"),
            }
        }
        "event" => event_text(node),
        other => other.to_owned(),
    };
    out.push(ExplainLine {
        depth: depth.min(8),
        holds,
        text,
    });
    if let Some(children) = node["conditions"].as_array() {
        for child in children {
            walk(child, depth + 1, out);
        }
    }
    if node["condition"].is_object() {
        walk(&node["condition"], depth + 1, out);
    }
}

fn event_text(node: &Value) -> String {
    let name = node["name"].as_str().unwrap_or_default();
    let count = node["count"].as_u64().unwrap_or(0);
    let matching = if count == 1 {
        "1 matching event".to_owned()
    } else {
        format!("{count} matching events")
    };
    let wanted = if node["performed"].as_bool().unwrap_or(true) {
        match node["required"].as_object().and_then(|r| r.iter().next()) {
            Some((kind, n)) => format!("Did “{name}” {} {n} times", kind.replace('_', " ")),
            None => format!("Did “{name}”"),
        }
    } else {
        format!("Did not do “{name}”")
    };
    let latest = node["latest_matching_timestamps"]
        .as_array()
        .and_then(|times| times.first())
        .and_then(Value::as_i64)
        .map(|at| format!(", the latest at {}", moment(at)))
        .unwrap_or_default();
    let age = match node["profile_age"]["old_enough"].as_bool() {
        Some(false) => "; the profile is not old enough to count".to_owned(),
        _ => String::new(),
    };
    format!("{wanted}: {matching}{latest}{age}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn an_explanation_reads_as_indented_lines() {
        let tree = json!({"path": "and", "type": "and", "value": false, "conditions": [
            {"path": "and[0].event", "type": "event", "name": "purchased", "value": true,
             "performed": true, "required": {"at_least": 2}, "count": 3,
             "latest_matching_timestamps": [1_800_000_000], "profile_age": null},
            {"path": "and[1].not", "type": "not", "value": false, "condition":
                {"path": "and[1].not.attribute", "type": "attribute", "value": true,
                 "field": "plan", "actual": "pro"}}
        ]});
        let lines = super::lines(&tree);
        let texts: Vec<(usize, bool, &str)> = lines
            .iter()
            .map(|l| (l.depth, l.holds, l.text.as_str()))
            .collect();
        assert_eq!(
            texts,
            vec![
                (0, false, "All of these"),
                (
                    1,
                    true,
                    "Did “purchased” at least 2 times: 3 matching events, the latest at 2027-01-15 08:00 UTC"
                ),
                (1, false, "Not this"),
                (2, true, "Attribute “plan” is \"pro\""),
            ]
        );
    }
}
