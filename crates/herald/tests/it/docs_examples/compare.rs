//! Compares what an example printed with what its page says it prints.
//!
//! `…` is the placeholder for what differs from run to run (ids, keys, times of the real
//! clock) or what a page leaves out:
//!
//! - in text, and in a JSON string, `…` stands for any run of characters (`"01j…"`);
//! - a JSON value `"…"` stands for any value;
//! - a member `"…": "…"` lets the object have members the page does not show;
//! - `"…"` as the last item of an array lets the array have more items than the page shows.

use serde_json::Value;

const ANY: &str = "…";

/// Tells whether `text` matches `pattern`, where `…` matches any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split(ANY);
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Compares text line by line, ignoring trailing spaces and blank lines at the end.
pub fn text_matches(expected: &str, actual: &str) -> bool {
    glob(&normalize(expected), &normalize(actual))
}

fn normalize(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    lines.join("\n").trim_end().to_owned()
}

/// Reads a sequence of JSON values (what several commands print one after the other).
pub fn json_values(text: &str) -> Result<Vec<Value>, String> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .map_err(|error| format!("not JSON: {error}"))
}

/// Returns where `actual` differs from `expected` (a path such as `$[0].segment.state` and
/// what differs), or `None` when it matches.
pub fn json_difference(expected: &Value, actual: &Value, path: &str) -> Option<String> {
    match (expected, actual) {
        (Value::String(pattern), _) if pattern == ANY => None,
        (Value::String(pattern), Value::String(text)) if pattern.contains(ANY) => {
            (!glob(pattern, text)).then(|| format!("{path}: {text:?} is not {pattern:?}"))
        }
        (Value::Object(wanted), Value::Object(got)) => {
            for (key, value) in wanted {
                if key == ANY {
                    continue;
                }
                let here = format!("{path}.{key}");
                match got.get(key) {
                    Some(found) => {
                        if let Some(difference) = json_difference(value, found, &here) {
                            return Some(difference);
                        }
                    }
                    None => return Some(format!("{here} is missing")),
                }
            }
            if !wanted.contains_key(ANY)
                && let Some(extra) = got.keys().find(|key| !wanted.contains_key(*key))
            {
                return Some(format!("{path}.{extra} is not expected"));
            }
            None
        }
        (Value::Array(wanted), Value::Array(got)) => {
            let open = wanted.last() == Some(&Value::String(ANY.to_owned()));
            let listed = if open {
                &wanted[..wanted.len() - 1]
            } else {
                wanted
            };
            if got.len() < listed.len() || (!open && got.len() != listed.len()) {
                return Some(format!(
                    "{path} has {} items, not {}{}",
                    got.len(),
                    if open { "at least " } else { "" },
                    listed.len()
                ));
            }
            listed
                .iter()
                .zip(got)
                .enumerate()
                .find_map(|(index, (value, found))| {
                    json_difference(value, found, &format!("{path}[{index}]"))
                })
        }
        _ if expected == actual => None,
        _ => Some(format!("{path}: {actual} is not {expected}")),
    }
}

#[test]
fn placeholders_match_what_they_stand_for() {
    assert!(glob("01j…", "01jabc"));
    assert!(glob("a…c…e", "abcde"));
    assert!(!glob("a…c", "abd"));
    assert!(glob("…", ""));
    assert!(!glob("ab…ba", "aba"), "the parts may not overlap");
    assert!(text_matches(
        "one\ntwo …\n…",
        "one  \ntwo three\nfour\nfive\n\n"
    ));
    assert!(!text_matches("one", "one\ntwo"));
    let expected = serde_json::json!({"id": "…", "name": "Ann", "tags": ["a", "…"], "…": "…"});
    let actual = serde_json::json!({"id": 7, "name": "Ann", "tags": ["a", "b"], "extra": true});
    assert_eq!(json_difference(&expected, &actual, "$"), None);
    let closed = serde_json::json!({"id": "…", "name": "Ann"});
    assert_eq!(
        json_difference(&closed, &actual, "$").as_deref(),
        Some("$.tags is not expected")
    );
    assert_eq!(
        json_difference(&serde_json::json!([1, 2]), &serde_json::json!([1, 3]), "$").as_deref(),
        Some("$[1]: 3 is not 2")
    );
    assert_eq!(
        json_values("{}{\"a\": 1}\n207\n").unwrap(),
        vec![
            serde_json::json!({}),
            serde_json::json!({"a": 1}),
            serde_json::json!(207)
        ]
    );
}
