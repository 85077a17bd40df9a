//! Validation of Track API input with Customer.io's documented messages
//! (customerio-compat.md §1.2). Every function returns a typed value or the first problem found;
//! nothing is written before validation passes, so a rejected request changes nothing.

use herald_domain::{ActivityKind, Identifier, UnixSeconds, limits};
use herald_store::{DeliveryMetric, Device};
use serde_json::{Map, Value};

use crate::decode::{describe, shorten};
use crate::operation::{EventInput, IdentifyInput, Operation, PathIdentifier};

/// A rejected input: a message a user can act on and, where known, the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    pub message: String,
    pub field: Option<String>,
    /// A short machine-readable reason, used by v2 error items.
    pub reason: &'static str,
}

impl ValidationError {
    pub fn new(
        reason: &'static str,
        field: impl Into<Option<String>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            message: message.into(),
            field: field.into(),
            reason,
        }
    }

    /// A problem with the body as a whole (encoding, shape).
    pub fn body(message: impl Into<String>) -> Self {
        Self::new("malformed", None, message)
    }

    pub(crate) fn field(field: &str, message: impl Into<String>) -> Self {
        Self::new("invalid", Some(field.to_owned()), message)
    }

    pub(crate) fn required(field: &str, message: impl Into<String>) -> Self {
        Self::new("required", Some(field.to_owned()), message)
    }
}

type Result<T> = std::result::Result<T, ValidationError>;

/// Refuses a NUL character in an identifier or a name: other tools (and C strings) end the text
/// there, so two different identifiers could be read as one.
pub fn no_nul(field: &str, text: &str) -> Result<()> {
    if text.contains('\0') {
        return Err(ValidationError::field(
            field,
            format!(
                "{field} contains a NUL character (\\u0000), which identifiers and names may not contain"
            ),
        ));
    }
    Ok(())
}

/// Validates a person identifier taken from a URL path.
pub fn path_identifier(raw: &str) -> Result<PathIdentifier> {
    no_nul("id", raw)?;
    if raw.trim().is_empty() {
        return Err(ValidationError::required(
            "id",
            "id attribute must be present",
        ));
    }
    if raw.len() > limits::MAX_ID_BYTES {
        return Err(ValidationError::field(
            "id",
            format!("id cannot be longer than {} bytes", limits::MAX_ID_BYTES),
        ));
    }
    Ok(PathIdentifier::inferred(raw))
}

/// Reads an `id` value, which clients send as a string or sometimes a number.
pub fn id_value(value: &Value, field: &str) -> Result<String> {
    let id = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) if number.is_i64() || number.is_u64() => number.to_string(),
        _ => {
            return Err(ValidationError::field(
                field,
                "id attribute must be a string value",
            ));
        }
    };
    if id.is_empty() {
        return Err(ValidationError::field(
            field,
            "id attribute cannot be an empty string",
        ));
    }
    no_nul(field, &id)?;
    if id.len() > limits::MAX_ID_BYTES {
        return Err(ValidationError::field(
            field,
            format!("id cannot be longer than {} bytes", limits::MAX_ID_BYTES),
        ));
    }
    Ok(id)
}

fn optional_string(value: Option<&Value>, field: &str) -> Result<Option<String>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => {
            no_nul(field, text)?;
            Ok(Some(text.clone()))
        }
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(other) => Err(ValidationError::field(
            field,
            format!("{field} must be a string, not {}", describe(other)),
        )),
    }
}

/// Validates an identify (v1 `PUT /customers/{id}` body or v2 `attributes`).
pub fn identify(target: PathIdentifier, mut body: Map<String, Value>) -> Result<Operation> {
    let update_only = match body.shift_remove("_update") {
        Some(Value::Bool(flag)) => flag,
        // Form-encoded bodies carry booleans as strings.
        Some(Value::String(text)) => text == "true",
        _ => false,
    };
    let relationships = match body.shift_remove("cio_relationships") {
        None | Some(Value::Null) => None,
        Some(value) => Some(crate::validate_objects::identify_relationships(&value)?),
    };
    let id = match body.shift_remove("id") {
        None | Some(Value::Null) => None,
        Some(value) => Some(id_value(&value, "id")?),
    };
    let email = optional_string(body.shift_remove("email").as_ref(), "email")?;
    if email
        .as_ref()
        .is_some_and(|email| email.len() > limits::MAX_ATTRIBUTE_VALUE_BYTES)
    {
        return Err(ValidationError::field(
            "email",
            format!(
                "value for attribute 'email' cannot be longer than {} bytes",
                limits::MAX_ATTRIBUTE_VALUE_BYTES
            ),
        ));
    }
    let anonymous_id = optional_string(body.get("anonymous_id"), "anonymous_id")?;
    attributes(&body)?;
    if let Some(created_at) = body.get("created_at")
        && !created_at.is_null()
    {
        timestamp_value(created_at, "created_at")?;
    }
    Ok(Operation::Identify(IdentifyInput {
        target,
        id,
        email,
        anonymous_id,
        attributes: body,
        update_only,
        relationships,
    }))
}

/// Checks Customer.io's attribute limits: how many, name length, value length.
pub fn attributes(attributes: &Map<String, Value>) -> Result<()> {
    if attributes.len() > limits::MAX_ATTRIBUTES_PER_CALL {
        return Err(ValidationError::new(
            "too_many",
            None,
            format!(
                "cannot identify more than {} attributes in one request",
                limits::MAX_ATTRIBUTES_PER_CALL
            ),
        ));
    }
    for (name, value) in attributes {
        if name.len() > limits::MAX_ATTRIBUTE_NAME_BYTES {
            return Err(ValidationError::field(
                &shorten(name),
                format!(
                    "attribute name cannot be longer than {} bytes",
                    limits::MAX_ATTRIBUTE_NAME_BYTES
                ),
            ));
        }
        let size = match value {
            Value::String(text) => text.len(),
            other => other.to_string().len(),
        };
        if size > limits::MAX_ATTRIBUTE_VALUE_BYTES {
            return Err(ValidationError::field(
                name,
                format!(
                    "value for attribute '{name}' cannot be longer than {} bytes",
                    limits::MAX_ATTRIBUTE_VALUE_BYTES
                ),
            ));
        }
    }
    Ok(())
}

/// Validates a timestamp: a non-negative whole number of unix seconds. Numeric strings are
/// accepted because form-encoded bodies carry only strings.
pub fn timestamp_value(value: &Value, field: &str) -> Result<UnixSeconds> {
    let explain = "send whole seconds since the unix epoch, e.g. 1700000000";
    let seconds = match value {
        Value::Number(number) => {
            if let Some(integer) = number.as_i64() {
                integer
            } else if number.is_u64() {
                return Err(ValidationError::field(
                    field,
                    format!("{field} {number} is too large: {explain}"),
                ));
            } else {
                let float = number.as_f64().unwrap_or(f64::NAN);
                if float.fract() != 0.0 || !float.is_finite() {
                    return Err(ValidationError::field(
                        field,
                        format!(
                            "{field} must be a whole number of seconds, but {number} has a fractional part: {explain}"
                        ),
                    ));
                }
                // The float is integral and finite, so the cast only drops a `.0`.
                #[allow(clippy::cast_possible_truncation)]
                let integral = float as i64;
                integral
            }
        }
        Value::String(text) => match text.trim().parse::<i64>() {
            Ok(integer) => integer,
            Err(_) => {
                if text.trim().parse::<f64>().is_ok_and(|f| f.fract() != 0.0) {
                    return Err(ValidationError::field(
                        field,
                        format!(
                            "{field} must be a whole number of seconds, but {:?} has a fractional part: {explain}",
                            shorten(text)
                        ),
                    ));
                }
                return Err(ValidationError::field(
                    field,
                    format!(
                        "{field} must be a number of seconds, not {:?}: {explain}",
                        shorten(text)
                    ),
                ));
            }
        },
        other => {
            return Err(ValidationError::field(
                field,
                format!(
                    "{field} must be a number of seconds, not {}: {explain}",
                    describe(other)
                ),
            ));
        }
    };
    if seconds < 0 {
        return Err(ValidationError::field(
            field,
            format!("{field} must not be negative ({seconds}): {explain}"),
        ));
    }
    if seconds >= limits::MILLISECOND_TIMESTAMP_THRESHOLD {
        return Err(ValidationError::field(
            field,
            format!(
                "{field} {seconds} looks like milliseconds: send whole seconds since the unix epoch ({})",
                seconds / 1000
            ),
        ));
    }
    Ok(seconds)
}

/// Validates an event name: trimmed, not blank, at most 100 bytes, no `*`, `+` or `|`.
pub fn event_name(value: Option<&Value>) -> Result<String> {
    let name = match value {
        None | Some(Value::Null) => "",
        Some(Value::String(text)) => text.trim(),
        Some(other) => {
            return Err(ValidationError::field(
                "name",
                format!("event name must be a string, not {}", describe(other)),
            ));
        }
    };
    if name.is_empty() {
        return Err(ValidationError::required(
            "name",
            "event name must not be blank",
        ));
    }
    no_nul("name", name)?;
    if name.len() > limits::MAX_EVENT_NAME_BYTES {
        return Err(ValidationError::field(
            "name",
            format!(
                "event name cannot be longer than {} bytes",
                limits::MAX_EVENT_NAME_BYTES
            ),
        ));
    }
    if let Some(bad) = name.chars().find(|c| matches!(c, '*' | '+' | '|')) {
        return Err(ValidationError::field(
            "name",
            format!(
                "event name cannot contain '{bad}': the characters '*', '+' and '|' are not supported in event names"
            ),
        ));
    }
    Ok(name.to_owned())
}

/// Names a page view. Clients name it by its URL (the official ones' `pageview` and
/// `trackPageView` send the URL as the name), and URLs are often longer than an event name may
/// be, or hold `+` or `*` in their query; such a URL names the view by its address without the
/// query and fragment, cut to 100 bytes, and is returned whole for the event's `url`, as the
/// browser snippet does.
fn page_name(value: Option<&Value>) -> Result<(String, Option<String>)> {
    let Some(Value::String(text)) = value else {
        return Ok((event_name(value)?, None));
    };
    if event_name(value).is_ok() {
        return Ok((text.trim().to_owned(), None));
    }
    let url = text.trim();
    no_nul("name", url)?;
    let address = url.split(['?', '#']).next().unwrap_or_default();
    let mut end = address.len().min(limits::MAX_EVENT_NAME_BYTES);
    while !address.is_char_boundary(end) {
        end -= 1;
    }
    let name = event_name(Some(&Value::String(address[..end].to_owned())))?;
    Ok((name, Some(url.to_owned())))
}

/// Validates an event body. `data_field` is `data` in v1 and `attributes` in v2.
/// `POST /api/v1/customers/{identifier}/events` from its path's identifier and its body: the
/// one check the Track API and the web UI's Send Event share.
pub fn track(raw_identifier: &str, body: &Map<String, Value>) -> Result<Operation> {
    let target = path_identifier(raw_identifier)?;
    let event = event(body, "data", None)?;
    Ok(Operation::Track { target, event })
}

pub fn event(
    body: &Map<String, Value>,
    data_field: &str,
    kind_override: Option<ActivityKind>,
) -> Result<EventInput> {
    let kind = kind_override.unwrap_or(match body.get("type").and_then(Value::as_str) {
        Some("page") => ActivityKind::Page,
        Some("screen") => ActivityKind::Screen,
        _ => ActivityKind::Event,
    });
    let (name, page_url) = match kind {
        ActivityKind::Page => page_name(body.get("name"))?,
        _ => (event_name(body.get("name"))?, None),
    };
    let mut data = match body.get(data_field) {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => {
            return Err(ValidationError::field(
                data_field,
                format!(
                    "event {data_field} must be a hash (e.g., send \"{data_field}\":{{}} instead of \"{data_field}\":\"\")"
                ),
            ));
        }
    };
    if let Some(url) = page_url {
        data.entry("url").or_insert(Value::String(url));
    }
    let data_size = serde_json::to_vec(&data).map_or(usize::MAX, |bytes| bytes.len());
    if data_size > limits::MAX_EVENT_DATA_BYTES {
        return Err(ValidationError::field(
            data_field,
            format!(
                "event {data_field} cannot be longer than {} bytes",
                limits::MAX_EVENT_DATA_BYTES
            ),
        ));
    }
    let timestamp = match body.get("timestamp") {
        None | Some(Value::Null) => None,
        Some(value) => Some(timestamp_value(value, "timestamp")?),
    };
    let event_id = match body.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.is_empty() => None,
        // A ULID is 128 bits, so 26 base32 characters hold two bits too many: its first
        // character is at most `7`. The parser lets a larger one wrap around, which would store
        // (and deduplicate) the event under another id, so it is refused here.
        Some(Value::String(text))
            if !text.starts_with(|first: char| ('0'..='7').contains(&first))
                && text.len() == 26 =>
        {
            return Err(ValidationError::field(
                "id",
                format!(
                    "event id {:?} is not a ULID: its first character must be 0 to 7 (the largest ULID is 7ZZZZZZZZZZZZZZZZZZZZZZZZZ)",
                    shorten(text)
                ),
            ));
        }
        Some(Value::String(text)) => match ulid::Ulid::from_string(text) {
            Ok(ulid) => Some(ulid.to_string()),
            Err(_) => {
                return Err(ValidationError::field(
                    "id",
                    format!(
                        "event id {:?} is not a ULID: send 26 characters of Crockford base32, e.g. 01ARZ3NDEKTSV4RRFFQ69G5FAV",
                        shorten(text)
                    ),
                ));
            }
        },
        Some(other) => {
            return Err(ValidationError::field(
                "id",
                format!("event id must be a ULID string, not {}", describe(other)),
            ));
        }
    };
    Ok(EventInput {
        name,
        kind,
        event_id,
        timestamp,
        data,
    })
}

/// Checks an anonymous id: at most `MAX_ID_BYTES`, without NUL.
pub fn anonymous_id(id: &str, field: &str) -> Result<()> {
    if id.len() > limits::MAX_ID_BYTES {
        return Err(ValidationError::field(
            field,
            format!(
                "{field} cannot be longer than {} bytes",
                limits::MAX_ID_BYTES
            ),
        ));
    }
    no_nul(field, id)
}

/// Validates `POST /api/v1/events`: an anonymous event, or an invite event without anonymous id.
pub fn anonymous_event(body: &Map<String, Value>) -> Result<Operation> {
    let event = event(body, "data", None)?;
    let anonymous_id = optional_string(body.get("anonymous_id"), "anonymous_id")?;
    if anonymous_id
        .as_ref()
        .is_some_and(|id| id.len() > limits::MAX_ID_BYTES)
    {
        return Err(ValidationError::field(
            "anonymous_id",
            format!(
                "anonymous_id cannot be longer than {} bytes",
                limits::MAX_ID_BYTES
            ),
        ));
    }
    Ok(Operation::TrackAnonymous {
        anonymous_id,
        event,
    })
}

/// Validates a device. v1 names the token `id`; v2 names it `token`. Fields other than the
/// known ones are attributes, because the Python client puts them beside `id`.
pub fn device(body: &Map<String, Value>, token_field: &str) -> Result<Device> {
    let Some(Value::Object(device)) = body.get("device") else {
        return Err(ValidationError::required(
            "device",
            "device is required: send {\"device\":{\"id\":\"<token>\",\"platform\":\"ios\"}}",
        ));
    };
    let token = match device.get(token_field) {
        Some(Value::String(token)) if !token.is_empty() => {
            no_nul(&format!("device.{token_field}"), token)?;
            token.clone()
        }
        _ => {
            return Err(ValidationError::required(
                &format!("device.{token_field}"),
                format!("device {token_field} is required and must be a non-empty string"),
            ));
        }
    };
    let platform = match device.get("platform") {
        Some(Value::String(platform)) if matches!(platform.as_str(), "ios" | "android") => {
            platform.clone()
        }
        Some(Value::String(platform)) => {
            return Err(ValidationError::field(
                "device.platform",
                format!(
                    "device platform must be \"ios\" or \"android\", not {:?}",
                    shorten(platform)
                ),
            ));
        }
        _ => {
            return Err(ValidationError::required(
                "device.platform",
                "device platform is required: \"ios\" or \"android\"",
            ));
        }
    };
    let last_used = match device.get("last_used") {
        None | Some(Value::Null) => None,
        Some(value) => Some(timestamp_value(value, "last_used")?),
    };
    let mut attributes = Map::new();
    for (key, value) in device {
        if !matches!(
            key.as_str(),
            "id" | "token" | "platform" | "last_used" | "attributes"
        ) {
            attributes.insert(key.clone(), value.clone());
        }
    }
    match device.get("attributes") {
        None | Some(Value::Null) => {}
        Some(Value::Object(extra)) => {
            for (key, value) in extra {
                attributes.insert(key.clone(), value.clone());
            }
        }
        Some(other) => {
            return Err(ValidationError::field(
                "device.attributes",
                format!(
                    "device attributes must be an object, not {}",
                    describe(other)
                ),
            ));
        }
    }
    self::attributes(&attributes)?;
    Ok(Device {
        token,
        platform,
        last_used,
        attributes,
    })
}

/// Reads one side of a merge: exactly one of `id`, `email` or `cio_id`.
pub fn merge_side(body: &Map<String, Value>, side: &str) -> Result<Identifier> {
    let Some(Value::Object(identifiers)) = body.get(side) else {
        return Err(ValidationError::required(
            side,
            format!(
                "{side} is required: send {{\"{side}\":{{\"id\":\"…\"}}}} with one of id, email or cio_id"
            ),
        ));
    };
    let known: Vec<_> = identifiers
        .iter()
        .filter(|(key, _)| matches!(key.as_str(), "id" | "email" | "cio_id"))
        .collect();
    if known.len() != 1 || identifiers.len() != 1 {
        return Err(ValidationError::field(
            side,
            format!("{side} must have exactly one identifier: id, email or cio_id"),
        ));
    }
    let (kind, value) = known[0];
    let value = id_value(value, side)?;
    Ok(match kind.as_str() {
        "email" => Identifier::Email(value.to_lowercase()),
        "cio_id" => Identifier::CioId(value.strip_prefix("cio_").unwrap_or(&value).to_owned()),
        _ => Identifier::Id(value),
    })
}

/// Validates `POST /api/v1/merge_customers`.
pub fn merge(body: &Map<String, Value>) -> Result<Operation> {
    let primary = merge_side(body, "primary")?;
    let secondary = merge_side(body, "secondary")?;
    Ok(Operation::Merge { primary, secondary })
}

/// Validates `POST /api/v1/forms/{form_id}/submit`: `{"data": {id or email, …fields}}`.
pub fn form_submit(form_id: &str, body: &Map<String, Value>) -> Result<Operation> {
    no_nul("form_id", form_id)?;
    if form_id.trim().is_empty() || form_id.len() > limits::MAX_ID_BYTES {
        return Err(ValidationError::field(
            "form_id",
            format!("the form id must be 1 to {} bytes", limits::MAX_ID_BYTES),
        ));
    }
    let Some(Value::Object(data)) = body.get("data") else {
        return Err(ValidationError::required(
            "data",
            "data is required: send {\"data\": {\"email\": \"…\", …fields}}",
        ));
    };
    let mut fields = Map::new();
    for (key, value) in data {
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            Value::Bool(flag) => flag.to_string(),
            _ => {
                return Err(ValidationError::field(
                    key,
                    format!("form field '{}' must be a string", shorten(key)),
                ));
            }
        };
        fields.insert(key.clone(), Value::String(text));
    }
    let target = match (fields.get("id"), fields.get("email")) {
        (Some(Value::String(id)), _) if !id.is_empty() => {
            PathIdentifier::explicit(herald_domain::IdType::Id, id.clone())
        }
        (_, Some(Value::String(email))) if !email.is_empty() => {
            PathIdentifier::explicit(herald_domain::IdType::Email, email.clone())
        }
        _ => {
            return Err(ValidationError::required(
                "data",
                "a form submission needs an id or an email field to identify the person",
            ));
        }
    };
    validate_path_length(&target.raw)?;
    let Operation::Identify(identify) = identify(target, fields)? else {
        return Err(ValidationError::body(
            "a form submission must identify a person",
        ));
    };
    Ok(Operation::FormSubmit {
        form_id: form_id.to_owned(),
        identify,
    })
}

fn validate_path_length(raw: &str) -> Result<()> {
    path_identifier(raw).map(|_| ())
}

/// Every metric name any channel accepts (customerio-compat.md §1.5, delivery metrics).
const METRICS: [&str; 9] = [
    "bounced",
    "clicked",
    "converted",
    "deferred",
    "delivered",
    "dropped",
    "opened",
    "spammed",
    "failed",
];

/// Builds a delivery metric from a body: the parts both metric endpoints share.
fn delivery_metric(
    body: &Map<String, Value>,
    source: &str,
    metric: String,
    now: UnixSeconds,
) -> Result<Operation> {
    let delivery_id = match body.get("delivery_id") {
        Some(Value::String(id)) if !id.is_empty() => {
            no_nul("delivery_id", id)?;
            id.clone()
        }
        _ => {
            return Err(ValidationError::required(
                "delivery_id",
                "delivery_id is required",
            ));
        }
    };
    let timestamp = match body.get("timestamp") {
        None | Some(Value::Null) => now,
        Some(value) => timestamp_value(value, "timestamp")?,
    };
    Ok(Operation::Metric(DeliveryMetric {
        source: source.to_owned(),
        delivery_id,
        metric,
        timestamp,
        received_at: now,
        data: Value::Object(body.clone()),
    }))
}

/// Validates `POST /api/v1/metrics`.
pub fn metric(body: &Map<String, Value>, now: UnixSeconds) -> Result<Operation> {
    let metric = match body.get("metric") {
        Some(Value::String(metric)) if METRICS.contains(&metric.as_str()) => metric.clone(),
        Some(Value::String(metric)) => {
            return Err(ValidationError::field(
                "metric",
                format!(
                    "metric {:?} is not one of {}",
                    shorten(metric),
                    METRICS.join(", ")
                ),
            ));
        }
        _ => return Err(ValidationError::required("metric", "metric is required")),
    };
    delivery_metric(body, "metrics", metric, now)
}

/// Validates the legacy `POST /api/v1/push/events`.
pub fn push_event(body: &Map<String, Value>, now: UnixSeconds) -> Result<Operation> {
    let metric = match body.get("event") {
        Some(Value::String(event))
            if matches!(event.as_str(), "opened" | "converted" | "delivered") =>
        {
            event.clone()
        }
        _ => {
            return Err(ValidationError::field(
                "event",
                "event is required and must be one of opened, converted, delivered",
            ));
        }
    };
    delivery_metric(body, "push_events", metric, now)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    fn event_error(value: Value) -> String {
        event(&object(value), "data", None).unwrap_err().message
    }

    #[test]
    fn event_names_follow_customer_io_rules() {
        assert_eq!(event_error(json!({})), "event name must not be blank");
        assert_eq!(
            event_error(json!({"name": "   "})),
            "event name must not be blank"
        );
        assert_eq!(
            event_error(json!({"name": "x".repeat(101)})),
            "event name cannot be longer than 100 bytes"
        );
        assert!(event_error(json!({"name": "a*b"})).contains("'*'"));
        assert!(event_error(json!({"name": "a|b"})).contains("'|'"));
        assert!(event_error(json!({"name": "a+b"})).contains("'+'"));
        let ok = event(&object(json!({"name": "  sign up "})), "data", None).unwrap();
        assert_eq!(ok.name, "sign up");
    }

    /// A 26-character id past the largest ULID would wrap around to another event's id.
    #[test]
    fn event_ids_past_the_largest_ulid_are_refused() {
        for id in [
            "81JQ0000000000000000000001",
            "ZZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "z1jq0000000000000000000001",
        ] {
            let message = event_error(json!({"name": "x", "id": id}));
            assert!(
                message.contains("first character must be 0 to 7"),
                "{id}: {message}"
            );
        }
        for id in ["7ZZZZZZZZZZZZZZZZZZZZZZZZZ", "01jq0000000000000000000001"] {
            let event = event(&object(json!({"name": "x", "id": id})), "data", None).unwrap();
            assert_eq!(event.event_id, Some(id.to_uppercase()));
        }
    }

    /// A page view named by a long URL, or one with `+` in its query, is named by its address
    /// and keeps the whole URL in `url`; an ordinary event name of the same kind is refused.
    #[test]
    fn page_views_named_by_long_urls_keep_the_url_whole() {
        let long = format!(
            "https://shop.example.com/{}/item?utm_source=news+letter&utm_campaign=x#top",
            "å".repeat(60)
        );
        let page = event(&object(json!({"name": long, "type": "page"})), "data", None).unwrap();
        assert!(page.name.len() <= 100, "{}", page.name);
        assert!(
            page.name.starts_with("https://shop.example.com/å"),
            "{}",
            page.name
        );
        assert!(!page.name.contains('?'));
        assert_eq!(page.data["url"], json!(long));
        let query = "/search?q=red+shoes";
        let page = event(
            &object(json!({"name": query, "type": "page", "data": {"url": "kept"}})),
            "data",
            None,
        )
        .unwrap();
        assert_eq!(page.name, "/search");
        assert_eq!(page.data["url"], "kept", "a url the client sent stays");
        let short = event(
            &object(json!({"name": "/pricing", "type": "page"})),
            "data",
            None,
        )
        .unwrap();
        assert_eq!(short.name, "/pricing");
        assert!(short.data.get("url").is_none());
        assert!(event_error(json!({"name": long})).contains("longer than 100 bytes"));
        assert!(
            event_error(json!({"name": "a+b", "type": "page"})).contains("'+'"),
            "the address itself must be a name"
        );
    }

    #[test]
    fn nul_is_refused_in_identifiers_and_names() {
        assert!(path_identifier("a\0b").unwrap_err().message.contains("NUL"));
        assert!(event_error(json!({"name": "a\u{0}b"})).contains("NUL"));
        let error = identify(
            PathIdentifier::inferred("p"),
            object(json!({"email": "a\u{0}@b.c"})),
        )
        .unwrap_err();
        assert_eq!(error.field.as_deref(), Some("email"));
        let error = identify(
            PathIdentifier::inferred("p"),
            object(json!({"id": "x\u{0}"})),
        )
        .unwrap_err();
        assert!(error.message.contains("NUL"), "{}", error.message);
        let device = object(json!({"device": {"id": "t\u{0}k", "platform": "ios"}}));
        assert!(
            self::device(&device, "id")
                .unwrap_err()
                .message
                .contains("NUL")
        );
    }

    #[test]
    fn timestamps_must_be_whole_seconds() {
        assert_eq!(
            timestamp_value(&json!(1359389415), "timestamp").unwrap(),
            1359389415
        );
        assert_eq!(
            timestamp_value(&json!("1359389415"), "timestamp").unwrap(),
            1359389415
        );
        let fractional = timestamp_value(&json!(1359389415.5), "timestamp")
            .unwrap_err()
            .message;
        assert!(fractional.contains("fractional part"), "{fractional}");
        let millis = timestamp_value(&json!(1359389415000_i64), "timestamp")
            .unwrap_err()
            .message;
        assert!(
            millis.contains("looks like milliseconds") && millis.contains("(1359389415)"),
            "{millis}"
        );
        let negative = timestamp_value(&json!(-1), "timestamp")
            .unwrap_err()
            .message;
        assert!(negative.contains("must not be negative"), "{negative}");
        let text = timestamp_value(&json!("yesterday"), "timestamp")
            .unwrap_err()
            .message;
        assert!(text.contains("\"yesterday\""), "{text}");
    }

    #[test]
    fn event_data_must_be_a_small_object() {
        assert_eq!(
            event_error(json!({"name": "x", "data": ""})),
            "event data must be a hash (e.g., send \"data\":{} instead of \"data\":\"\")"
        );
        assert_eq!(
            event_error(json!({"name": "x", "data": {"big": "y".repeat(100_000)}})),
            "event data cannot be longer than 100000 bytes"
        );
    }

    #[test]
    fn identify_limits_follow_customer_io() {
        let target = PathIdentifier::inferred("p");
        let mut many = Map::new();
        for index in 0..301 {
            many.insert(format!("a{index}"), json!(1));
        }
        assert_eq!(
            identify(target.clone(), many).unwrap_err().message,
            "cannot identify more than 300 attributes in one request"
        );
        assert_eq!(
            identify(target.clone(), object(json!({"x".repeat(151): 1})))
                .unwrap_err()
                .message,
            "attribute name cannot be longer than 150 bytes"
        );
        assert_eq!(
            identify(target.clone(), object(json!({"plan": "y".repeat(1001)})))
                .unwrap_err()
                .message,
            "value for attribute 'plan' cannot be longer than 1000 bytes"
        );
        assert_eq!(
            identify(target.clone(), object(json!({"id": true})))
                .unwrap_err()
                .message,
            "id attribute must be a string value"
        );
        assert_eq!(
            identify(target, object(json!({"id": ""})))
                .unwrap_err()
                .message,
            "id attribute cannot be an empty string"
        );
    }
}
