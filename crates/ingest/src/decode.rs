//! Request body decoding: JSON, or `application/x-www-form-urlencoded` with Rails-style bracket
//! nesting (`data[price]=23.45` becomes `{"data":{"price":"23.45"}}`), as Customer.io's own
//! curl examples send.
//!
//! Every decoded value passes [`check_structure`]: at most
//! [`MAX_NESTING_DEPTH`](herald_domain::limits::MAX_NESTING_DEPTH) levels of objects and arrays,
//! and no NUL character in any key. The form decoder refuses a field name nested deeper before
//! it builds anything, so no input can make decoding recurse deeper than that either.

use herald_domain::limits::MAX_NESTING_DEPTH;
use serde_json::{Map, Value};

use crate::ValidationError;

/// The body encodings the Track API accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Form,
}

impl Encoding {
    /// Chooses the encoding from a `Content-Type` header; anything but a form is read as JSON.
    pub fn from_content_type(content_type: Option<&str>) -> Self {
        match content_type {
            Some(value)
                if value
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded") =>
            {
                Self::Form
            }
            _ => Self::Json,
        }
    }
}

/// Decodes a body into a JSON object. An empty body is an empty object, because some clients
/// send no body on deletes.
pub fn decode_object(
    body: &[u8],
    encoding: Encoding,
) -> Result<Map<String, Value>, ValidationError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let value = match encoding {
        Encoding::Json => decode_json(body)?,
        Encoding::Form => {
            // `curl -d '{…}'` without a Content-Type sends JSON labelled as a form, which would
            // decode to one attribute named by the whole JSON text.
            let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
            if matches!(first, Some(b'{' | b'[')) {
                return Err(ValidationError::body(
                    "request body is JSON sent as a form (Content-Type: application/x-www-form-urlencoded, what curl -d sends by default): send it with Content-Type: application/json",
                ));
            }
            let value = Value::Object(decode_form(body)?);
            check_structure(&value)?;
            value
        }
    };
    match value {
        Value::Object(map) => Ok(map),
        other => Err(ValidationError::body(format!(
            "request body must be a JSON object, not {}",
            describe(&other)
        ))),
    }
}

/// Parses JSON, explaining where it is malformed, and checks its structure
/// ([`check_structure`]).
pub fn decode_json(body: &[u8]) -> Result<Value, ValidationError> {
    // serde_json stops at 128 levels on its own, so parsing never recurses deeper than that;
    // the tighter limit is checked on the parsed value.
    let value: Value = serde_json::from_slice(body).map_err(|error| {
        let message = error.to_string();
        if message.starts_with("recursion limit exceeded") {
            return too_deep();
        }
        ValidationError::body(format!(
            "request body is not valid JSON: {} at line {} column {}",
            strip_position(&message),
            error.line(),
            error.column()
        ))
    })?;
    check_structure(&value)?;
    Ok(value)
}

fn too_deep() -> ValidationError {
    ValidationError::new(
        "too_deep",
        None,
        format!(
            "request body nests objects and arrays more than {MAX_NESTING_DEPTH} levels deep; \
             flatten the data"
        ),
    )
}

/// Checks what every decoder's output must satisfy before it goes anywhere: at most
/// [`MAX_NESTING_DEPTH`] levels of objects and arrays, and no NUL character in any object key
/// (keys become attribute and field names, which other tools cut at a NUL).
///
/// The walk keeps its own stack rather than recursing, so it is safe on any value.
pub fn check_structure(value: &Value) -> Result<(), ValidationError> {
    // Only containers go on the stack: scalars, most of a body, cost nothing more than a look.
    let mut pending: Vec<(&Value, usize)> = vec![(value, 1)];
    while let Some((container, depth)) = pending.pop() {
        if depth > MAX_NESTING_DEPTH {
            return Err(too_deep());
        }
        let children: &mut dyn Iterator<Item = &Value> = match container {
            Value::Object(map) => {
                if let Some(key) = map.keys().find(|key| key.contains('\0')) {
                    return Err(ValidationError::new(
                        "invalid",
                        Some(shorten(key)),
                        format!(
                            "the field name {:?} contains a NUL character (\\u0000), which names \
                             may not contain",
                            shorten(key)
                        ),
                    ));
                }
                &mut map.values()
            }
            Value::Array(items) => &mut items.iter(),
            _ => continue,
        };
        pending.extend(
            children
                .filter(|child| child.is_object() || child.is_array())
                .map(|child| (child, depth + 1)),
        );
    }
    Ok(())
}

/// Cuts user text quoted in an error message, so that a huge field name cannot make a huge
/// answer.
pub fn shorten(text: &str) -> String {
    const MAX_CHARS: usize = 64;
    match text.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

fn strip_position(message: &str) -> &str {
    message.split(" at line ").next().unwrap_or(message)
}

/// Names a JSON value's type for error messages.
pub fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One step of a bracketed form key: `a[b][]` is `a`, `b`, then an array append.
#[derive(Debug, PartialEq)]
enum Segment {
    Key(String),
    Append,
}

fn parse_key(key: &str) -> Result<Vec<Segment>, ValidationError> {
    let malformed = || {
        ValidationError::body(format!(
            "form body is malformed: the field name {:?} has unbalanced brackets",
            shorten(key)
        ))
    };
    let (head, mut rest) = match key.find('[') {
        Some(position) => (&key[..position], &key[position..]),
        None => (key, ""),
    };
    if head.is_empty() {
        return Err(ValidationError::body(format!(
            "form body is malformed: the field name {:?} has no name before its brackets",
            shorten(key)
        )));
    }
    let mut segments = vec![Segment::Key(head.to_owned())];
    while !rest.is_empty() {
        // Each segment is one level of the value built from this field, so the nesting limit
        // is checked here, before anything is built.
        if segments.len() >= MAX_NESTING_DEPTH {
            return Err(too_deep());
        }
        if !rest.starts_with('[') {
            return Err(malformed());
        }
        let close = rest.find(']').ok_or_else(malformed)?;
        let inner = &rest[1..close];
        if inner.contains('[') {
            return Err(malformed());
        }
        segments.push(if inner.is_empty() {
            Segment::Append
        } else {
            Segment::Key(inner.to_owned())
        });
        rest = &rest[close + 1..];
    }
    Ok(segments)
}

fn decode_form(body: &[u8]) -> Result<Map<String, Value>, ValidationError> {
    let mut root = Value::Object(Map::new());
    for (key, value) in form_urlencoded::parse(body) {
        let segments = parse_key(&key)?;
        insert(
            &mut root,
            &segments,
            Value::String(value.into_owned()),
            &key,
        )?;
    }
    match root {
        Value::Object(map) => Ok(map),
        _ => Ok(Map::new()),
    }
}

/// Puts `value` at the place `segments` name; recursion is bounded by the number of segments,
/// which [`parse_key`] limits.
fn insert(
    target: &mut Value,
    segments: &[Segment],
    value: Value,
    full_key: &str,
) -> Result<(), ValidationError> {
    let conflict = || {
        ValidationError::body(format!(
            "form body is malformed: the field {:?} is used both as a value and as a group",
            shorten(full_key)
        ))
    };
    let Some((first, rest)) = segments.split_first() else {
        return Ok(());
    };
    match first {
        Segment::Key(name) => {
            let Value::Object(map) = target else {
                return Err(conflict());
            };
            if rest.is_empty() {
                if map.get(name).is_some_and(|existing| !existing.is_string()) {
                    return Err(conflict());
                }
                map.insert(name.clone(), value);
                return Ok(());
            }
            let child = map.entry(name.clone()).or_insert_with(|| match rest[0] {
                Segment::Append => Value::Array(Vec::new()),
                Segment::Key(_) => Value::Object(Map::new()),
            });
            insert(child, rest, value, full_key)
        }
        Segment::Append => {
            let Value::Array(items) = target else {
                return Err(conflict());
            };
            if rest.is_empty() {
                items.push(value);
                return Ok(());
            }
            let mut child = match rest[0] {
                Segment::Append => Value::Array(Vec::new()),
                Segment::Key(_) => Value::Object(Map::new()),
            };
            insert(&mut child, rest, value, full_key)?;
            items.push(child);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn customer_io_curl_example_decodes_to_nested_json() {
        let body = b"name=purchased&data%5Bprice%5D=23.45&data[items][]=a&data[items][]=b&timestamp=1359389415";
        let decoded = decode_object(body, Encoding::Form).unwrap();
        assert_eq!(
            Value::Object(decoded),
            json!({"name":"purchased","data":{"price":"23.45","items":["a","b"]},"timestamp":"1359389415"})
        );
    }

    #[test]
    fn malformed_forms_are_explained() {
        let error = decode_object(b" {\"plan\": \"pro\"}", Encoding::Form).unwrap_err();
        assert!(
            error
                .message
                .contains("send it with Content-Type: application/json"),
            "{}",
            error.message
        );
        let error = decode_object(b"data[price=1", Encoding::Form).unwrap_err();
        assert!(
            error.message.contains("unbalanced brackets"),
            "{}",
            error.message
        );
        let error = decode_object(b"a=1&a[b]=2", Encoding::Form).unwrap_err();
        assert!(
            error.message.contains("both as a value and as a group"),
            "{}",
            error.message
        );
    }

    #[test]
    fn malformed_json_names_the_position() {
        let error = decode_object(b"{\"name\": ", Encoding::Json).unwrap_err();
        assert!(
            error.message.starts_with("request body is not valid JSON"),
            "{}",
            error.message
        );
        assert!(error.message.contains("line 1"), "{}", error.message);
        let error = decode_object(b"[1]", Encoding::Json).unwrap_err();
        assert_eq!(
            error.message,
            "request body must be a JSON object, not an array"
        );
    }

    #[test]
    fn deeply_nested_forms_are_refused_before_anything_is_built() {
        // Thousands of levels once overflowed the stack of the thread decoding them.
        let key = format!("a{}", "[b]".repeat(7_000));
        let error = decode_object(format!("{key}=1").as_bytes(), Encoding::Form).unwrap_err();
        assert_eq!(error.reason, "too_deep", "{}", error.message);
        assert!(error.message.len() < 200, "{}", error.message);
        let at_limit = format!("a{}", "[b]".repeat(MAX_NESTING_DEPTH - 1));
        assert!(decode_object(format!("{at_limit}=1").as_bytes(), Encoding::Form).is_ok());
        let over = format!("a{}", "[b]".repeat(MAX_NESTING_DEPTH));
        assert!(decode_object(format!("{over}=1").as_bytes(), Encoding::Form).is_err());
        let appended = format!("a{}", "[]".repeat(MAX_NESTING_DEPTH));
        assert!(decode_object(format!("{appended}=1").as_bytes(), Encoding::Form).is_err());
    }

    #[test]
    fn json_nesting_is_limited_to_the_same_depth_as_forms() {
        let nested = |depth: usize| format!("{}1{}", "[".repeat(depth - 1), "]".repeat(depth - 1));
        let body = format!("{{\"a\":{}}}", nested(MAX_NESTING_DEPTH));
        assert!(decode_object(body.as_bytes(), Encoding::Json).is_ok());
        let body = format!("{{\"a\":{}}}", nested(MAX_NESTING_DEPTH + 1));
        let error = decode_object(body.as_bytes(), Encoding::Json).unwrap_err();
        assert_eq!(error.reason, "too_deep", "{}", error.message);
        // Past serde_json's own limit the answer is the same.
        let body = format!("{{\"a\":{}}}", nested(10_000));
        let error = decode_object(body.as_bytes(), Encoding::Json).unwrap_err();
        assert_eq!(error.reason, "too_deep", "{}", error.message);
    }

    #[test]
    fn nul_in_field_names_is_refused_at_any_depth() {
        let error = decode_object(br#"{"data":{"a\u0000b":1}}"#, Encoding::Json).unwrap_err();
        assert!(error.message.contains("NUL"), "{}", error.message);
        let error = decode_object(b"data[a%00b]=1", Encoding::Form).unwrap_err();
        assert!(error.message.contains("NUL"), "{}", error.message);
        // NUL inside a value is data, not a name.
        assert!(decode_object(br#"{"data":{"a":"x\u0000y"}}"#, Encoding::Json).is_ok());
    }

    #[test]
    fn empty_bodies_are_empty_objects() {
        assert!(decode_object(b"", Encoding::Json).unwrap().is_empty());
    }
}
