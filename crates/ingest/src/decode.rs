//! Request body decoding: JSON, or `application/x-www-form-urlencoded` with Rails-style bracket
//! nesting (`data[price]=23.45` becomes `{"data":{"price":"23.45"}}`), as Customer.io's own
//! curl examples send.

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
        Encoding::Form => Value::Object(decode_form(body)?),
    };
    match value {
        Value::Object(map) => Ok(map),
        other => Err(ValidationError::body(format!(
            "request body must be a JSON object, not {}",
            describe(&other)
        ))),
    }
}

/// Parses JSON, explaining where it is malformed.
pub fn decode_json(body: &[u8]) -> Result<Value, ValidationError> {
    serde_json::from_slice(body).map_err(|error| {
        ValidationError::body(format!(
            "request body is not valid JSON: {} at line {} column {}",
            strip_position(&error.to_string()),
            error.line(),
            error.column()
        ))
    })
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
            "form body is malformed: the field name {key:?} has unbalanced brackets"
        ))
    };
    let (head, mut rest) = match key.find('[') {
        Some(position) => (&key[..position], &key[position..]),
        None => (key, ""),
    };
    if head.is_empty() {
        return Err(ValidationError::body(format!(
            "form body is malformed: the field name {key:?} has no name before its brackets"
        )));
    }
    let mut segments = vec![Segment::Key(head.to_owned())];
    while !rest.is_empty() {
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

fn insert(
    target: &mut Value,
    segments: &[Segment],
    value: Value,
    full_key: &str,
) -> Result<(), ValidationError> {
    let conflict = || {
        ValidationError::body(format!(
            "form body is malformed: the field {full_key:?} is used both as a value and as a group"
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
    fn empty_bodies_are_empty_objects() {
        assert!(decode_object(b"", Encoding::Json).unwrap().is_empty());
    }
}
