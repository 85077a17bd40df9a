//! Data Pipelines API calls (Segment's spec, as Customer.io's `POST /v1/identify`, `/v1/track`,
//! `/v1/page`, `/v1/screen`, `/v1/alias`, `/v1/group` and each call of `/v1/batch`) as the
//! Track operations they ask for (customerio-compat.md §6.4).
//!
//! A call names its person by `userId` (a person's `id`) or `anonymousId`; times are ISO-8601
//! strings; `messageId` is the event's deduplication key. Customer.io's semantic events
//! (`Device Created or Updated`, `User Deleted`, …) are track calls whose name asks for an
//! action, and become that action.

use herald_domain::{ActivityKind, IdType, Identifier, UnixSeconds, limits};
use serde_json::{Map, Value};

use crate::decode::{describe, shorten};
use crate::operation::{ObjectRef, Operation, PathIdentifier, Related, RelationshipChange};
use crate::validate::{self, ValidationError};

type Result<T> = std::result::Result<T, ValidationError>;

/// The call types of the Data Pipelines API.
const TYPES: &[&str] = &["identify", "track", "page", "screen", "alias", "group"];

/// Validates one call. `path_type` is the type its endpoint names (`None` inside a batch,
/// where each call says its `type`); `batch_context` is a batch's top-level `context`, which
/// applies to every call that has none of its own.
pub fn call(
    path_type: Option<&str>,
    value: &Value,
    batch_context: Option<&Value>,
    now: UnixSeconds,
) -> Result<Operation> {
    let Value::Object(body) = value else {
        return Err(ValidationError::body(format!(
            "each call must be an object, not {}",
            describe(value)
        )));
    };
    let kind = match path_type {
        Some(kind) => kind,
        None => match body.get("type") {
            Some(Value::String(kind)) => kind.as_str(),
            None | Some(Value::Null) => {
                return Err(ValidationError::required(
                    "type",
                    "type is required in a batch: identify, track, page, screen, alias or group",
                ));
            }
            Some(other) => {
                return Err(ValidationError::field(
                    "type",
                    format!("type must be a string, not {}", describe(other)),
                ));
            }
        },
    };
    let call = Call {
        body,
        context: body
            .get("context")
            .filter(|context| context.is_object())
            .or(batch_context),
        now,
    };
    match kind {
        "identify" => call.identify(),
        "track" => call.track(),
        "page" => call.page(),
        "screen" => call.screen(),
        "alias" => call.alias(),
        "group" => call.group(),
        other => Err(ValidationError::field(
            "type",
            format!(
                "type {:?} is not one of {}",
                shorten(other),
                TYPES.join(", ")
            ),
        )),
    }
}

/// One call being read.
struct Call<'a> {
    body: &'a Map<String, Value>,
    context: Option<&'a Value>,
    now: UnixSeconds,
}

impl Call<'_> {
    /// `userId`, if the call has one.
    fn user_id(&self) -> Result<Option<String>> {
        self.optional_id("userId")
    }

    fn optional_id(&self, field: &str) -> Result<Option<String>> {
        match self.body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.is_empty() => Ok(None),
            Some(value) => validate::id_value(value, field).map(Some),
        }
    }

    /// The person a call that needs an identified person is for.
    fn person(&self, what: &str) -> Result<PathIdentifier> {
        match self.user_id()? {
            Some(id) => Ok(PathIdentifier::explicit(IdType::Id, id)),
            None => Err(ValidationError::required(
                "userId",
                format!("{what} needs a userId: the person it is for"),
            )),
        }
    }

    /// The call's time: `timestamp` as ISO-8601 (fractions of a second dropped) or unix
    /// seconds; `None` means the time it is received.
    fn timestamp(&self) -> Result<Option<UnixSeconds>> {
        match self.body.get("timestamp") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.trim().parse::<i64>().is_err() => {
                iso_seconds(text, "timestamp").map(Some)
            }
            Some(value) => validate::timestamp_value(value, "timestamp").map(Some),
        }
    }

    /// `messageId`, the event's deduplication key.
    fn message_id(&self) -> Result<Option<String>> {
        match self.body.get("messageId") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.is_empty() => Ok(None),
            Some(Value::String(text)) => {
                validate::no_nul("messageId", text)?;
                if text.len() > limits::MAX_MESSAGE_ID_BYTES {
                    return Err(ValidationError::field(
                        "messageId",
                        format!(
                            "messageId cannot be longer than {} bytes",
                            limits::MAX_MESSAGE_ID_BYTES
                        ),
                    ));
                }
                Ok(Some(text.clone()))
            }
            Some(other) => Err(ValidationError::field(
                "messageId",
                format!("messageId must be a string, not {}", describe(other)),
            )),
        }
    }

    fn object(&self, field: &str) -> Result<Map<String, Value>> {
        match self.body.get(field) {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(map)) => Ok(map.clone()),
            Some(other) => Err(ValidationError::field(
                field,
                format!("{field} must be an object, not {}", describe(other)),
            )),
        }
    }

    fn identify(&self) -> Result<Operation> {
        let mut traits = self.object("traits")?;
        let user_id = self.user_id()?;
        let anonymous_id = self.optional_id("anonymousId")?;
        let target = match (&user_id, traits.get("email")) {
            (Some(id), _) => {
                // The person's id is the userId; a trait of the same name would read as a
                // request to change it.
                traits.shift_remove("id");
                PathIdentifier::explicit(IdType::Id, id.clone())
            }
            (None, Some(Value::String(email))) if !email.is_empty() => {
                PathIdentifier::explicit(IdType::Email, email.clone())
            }
            _ if anonymous_id.is_some() => {
                return Err(ValidationError::required(
                    "userId",
                    "identify needs a userId or traits.email: Herald keeps no profile for an \
                     anonymousId alone (its events are kept, and join the person an identify \
                     with both userId and anonymousId names)",
                ));
            }
            _ => {
                return Err(ValidationError::required(
                    "userId",
                    "identify needs a userId or traits.email",
                ));
            }
        };
        if !traits.contains_key("created_at")
            && let Some(Value::String(text)) = traits.get("createdAt")
            && let Ok(seconds) = iso_seconds(text, "traits.createdAt")
        {
            // Segment's `createdAt` trait is Customer.io's `created_at`, in unix seconds.
            traits.shift_remove("createdAt");
            traits.insert("created_at".into(), Value::from(seconds));
        }
        if let Some(anonymous_id) = anonymous_id {
            traits.insert("anonymous_id".into(), Value::String(anonymous_id));
        }
        validate::identify(target, traits).map_err(|error| within("traits", error))
    }

    fn track(&self) -> Result<Operation> {
        let name = match self.body.get("event") {
            Some(Value::String(name)) => name.trim(),
            None | Some(Value::Null) => "",
            Some(other) => {
                return Err(ValidationError::field(
                    "event",
                    format!("event must be a string, not {}", describe(other)),
                ));
            }
        };
        match name {
            "Device Created or Updated" => self.add_device(),
            "Device Deleted" => {
                let token = self.device()?.1;
                Ok(Operation::DeleteDevice {
                    target: self.person("Device Deleted")?,
                    token,
                })
            }
            "User Deleted" => Ok(Operation::Delete {
                target: self.person("User Deleted")?,
            }),
            "User Suppressed" => Ok(Operation::Suppress {
                target: self.person("User Suppressed")?,
            }),
            "User Unsuppressed" => Ok(Operation::Unsuppress {
                target: self.person("User Unsuppressed")?,
            }),
            "Report Delivery Event" => self.delivery_event(),
            "Relationship Deleted" => Ok(Operation::PersonRelationships {
                target: self.person("Relationship Deleted")?,
                change: RelationshipChange {
                    add: false,
                    with: vec![Related {
                        other: self.group_object("properties")?,
                        attributes: Map::new(),
                    }],
                },
            }),
            "Object Deleted" | "Group Deleted" => Ok(Operation::ObjectDelete {
                object: self.group_object("properties")?,
            }),
            _ => self.event(self.body.get("event"), ActivityKind::Event),
        }
    }

    fn page(&self) -> Result<Operation> {
        // A page view is named by its URL, as the Track API's page events are.
        let properties = self.body.get("properties");
        let url = properties
            .and_then(|properties| properties.get("url"))
            .or_else(|| {
                self.context
                    .and_then(|context| context.get("page"))
                    .and_then(|page| page.get("url"))
            })
            .filter(|url| url.as_str().is_some_and(|url| !url.is_empty()));
        self.event(url.or_else(|| self.body.get("name")), ActivityKind::Page)
    }

    fn screen(&self) -> Result<Operation> {
        self.event(self.body.get("name"), ActivityKind::Screen)
    }

    /// An event of the person `userId` names, or of the visitor `anonymousId` names.
    fn event(&self, name: Option<&Value>, kind: ActivityKind) -> Result<Operation> {
        let mut body = Map::new();
        body.insert("name".into(), name.cloned().unwrap_or(Value::Null));
        if let Some(properties) = self.body.get("properties") {
            body.insert("data".into(), properties.clone());
        }
        let mut event = validate::event(&body, "data", Some(kind)).map_err(|error| {
            let field = match error.field.as_deref() {
                Some("name") if kind == ActivityKind::Event => "event",
                Some("data") => "properties",
                _ => return error,
            };
            ValidationError::new(
                error.reason,
                Some(field.to_owned()),
                error.message.replace("event data", "properties"),
            )
        })?;
        event.event_id = self.message_id()?;
        event.timestamp = self.timestamp()?;
        match (self.user_id()?, self.optional_id("anonymousId")?) {
            (Some(id), _) => Ok(Operation::Track {
                target: PathIdentifier::explicit(IdType::Id, id),
                event,
            }),
            (None, Some(anonymous_id)) => Ok(Operation::TrackAnonymous {
                anonymous_id: Some(anonymous_id),
                event,
            }),
            (None, None) => Err(ValidationError::required(
                "userId",
                "send a userId or an anonymousId: the person or visitor the event is for",
            )),
        }
    }

    /// The object a group call or a semantic event on objects names: `groupId`, of the type
    /// `objectTypeId` (default 1), read at the top level or in `within` (`traits` or
    /// `properties`).
    fn group_object(&self, within: &str) -> Result<ObjectRef> {
        let inner = self.body.get(within);
        let read = |key: &str| {
            self.body
                .get(key)
                .filter(|value| !value.is_null())
                .or_else(|| inner.and_then(|inner| inner.get(key)))
                .filter(|value| !value.is_null())
        };
        let mut identifiers = Map::new();
        identifiers.insert(
            "object_type_id".into(),
            read("objectTypeId").cloned().unwrap_or(Value::from("1")),
        );
        identifiers.insert(
            "object_id".into(),
            read("groupId").cloned().ok_or_else(|| {
                ValidationError::required("groupId", "groupId is required: the object's id")
            })?,
        );
        crate::validate_objects::object_ref(Some(&Value::Object(identifiers)), "groupId")
    }

    /// `group`: creates or updates the object `groupId` with `traits` as its attributes, and
    /// relates the user to it (with `traits.relationshipAttributes`).
    fn group(&self) -> Result<Operation> {
        let object = self.group_object("traits")?;
        let mut traits = self.object("traits")?;
        traits.shift_remove("objectTypeId");
        let relationship = match traits
            .shift_remove("relationshipAttributes")
            .or_else(|| self.body.get("relationshipAttributes").cloned())
        {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(attributes)) => attributes,
            Some(other) => {
                return Err(ValidationError::field(
                    "traits.relationshipAttributes",
                    format!(
                        "relationshipAttributes must be an object, not {}",
                        describe(&other)
                    ),
                ));
            }
        };
        validate::attributes(&traits).map_err(|error| within("traits", error))?;
        validate::attributes(&relationship)
            .map_err(|error| within("traits.relationshipAttributes", error))?;
        let people = match (self.user_id()?, self.optional_id("anonymousId")?) {
            (Some(id), _) => vec![Related {
                other: PathIdentifier::explicit(IdType::Id, id),
                attributes: relationship,
            }],
            (None, Some(anonymous_id)) => {
                return Ok(Operation::ObjectIdentifyAnonymous {
                    object,
                    attributes: traits,
                    visitors: vec![Related {
                        other: anonymous_id,
                        attributes: relationship,
                    }],
                });
            }
            (None, None) => Vec::new(),
        };
        Ok(Operation::ObjectIdentify {
            object,
            attributes: traits,
            people,
        })
    }

    fn alias(&self) -> Result<Operation> {
        let primary = self.person("alias")?;
        let previous = self.optional_id("previousId")?.ok_or_else(|| {
            ValidationError::required(
                "previousId",
                "alias needs a previousId: the id whose person is merged into userId's",
            )
        })?;
        if previous == primary.raw {
            return Err(ValidationError::field(
                "previousId",
                "previousId is the same as userId: there is nothing to merge",
            ));
        }
        Ok(Operation::Merge {
            primary: Identifier::Id(primary.raw),
            secondary: Identifier::Id(previous),
        })
    }

    /// The device of a device event: `context.device` (as mobile libraries send it) or
    /// `properties.device` (as Customer.io's examples do); returns it and its token.
    fn device(&self) -> Result<(Map<String, Value>, String)> {
        let device = self
            .context
            .and_then(|context| context.get("device"))
            .filter(|device| device.get("token").is_some())
            .or_else(|| {
                self.body
                    .get("properties")
                    .and_then(|properties| properties.get("device"))
            });
        let Some(Value::Object(device)) = device else {
            return Err(ValidationError::required(
                "context.device",
                "a device event needs context.device (or properties.device) with its token",
            ));
        };
        match device.get("token") {
            Some(Value::String(token)) if !token.is_empty() => {
                validate::no_nul("device.token", token)?;
                Ok((device.clone(), token.clone()))
            }
            _ => Err(ValidationError::required(
                "context.device.token",
                "a device event needs the device's token, a non-empty string",
            )),
        }
    }

    fn add_device(&self) -> Result<Operation> {
        let target = self.person("Device Created or Updated")?;
        let (found, token) = self.device()?;
        let mut device = Map::new();
        device.insert("token".into(), Value::String(token));
        device.insert(
            "platform".into(),
            found
                .get("type")
                .or_else(|| found.get("platform"))
                .cloned()
                .unwrap_or(Value::Null),
        );
        if let Some(seconds) = self.timestamp()? {
            device.insert("last_used".into(), Value::from(seconds));
        }
        let mut attributes = self.object("properties")?;
        attributes.shift_remove("device");
        device.insert("attributes".into(), Value::Object(attributes));
        let mut body = Map::new();
        body.insert("device".into(), Value::Object(device));
        let device = validate::device(&body, "token")?;
        Ok(Operation::AddDevice { target, device })
    }

    fn delivery_event(&self) -> Result<Operation> {
        let properties = self.object("properties")?;
        let mut body = Map::new();
        body.insert(
            "delivery_id".into(),
            properties.get("deliveryId").cloned().unwrap_or(Value::Null),
        );
        body.insert(
            "metric".into(),
            properties.get("metric").cloned().unwrap_or(Value::Null),
        );
        if let Some(seconds) = self.timestamp()? {
            body.insert("timestamp".into(), Value::from(seconds));
        }
        validate::metric(&body, self.now).map_err(|error| within("properties", error))
    }
}

/// Names a field inside `parent` (`traits.email` for `email`).
fn within(parent: &str, error: ValidationError) -> ValidationError {
    let field = error
        .field
        .as_ref()
        .map(|field| format!("{parent}.{field}"));
    ValidationError::new(error.reason, field, error.message)
}

/// Reads an ISO-8601 time (RFC 3339: `2026-12-04T10:00:00.123Z`) as whole unix seconds.
fn iso_seconds(text: &str, field: &str) -> Result<UnixSeconds> {
    let timestamp: jiff::Timestamp = text.trim().parse().map_err(|_| {
        ValidationError::field(
            field,
            format!(
                "{field} {:?} is not an ISO-8601 time: send e.g. 2026-12-04T10:00:00.000Z",
                shorten(text)
            ),
        )
    })?;
    let seconds = timestamp.as_second();
    if seconds < 0 {
        return Err(ValidationError::field(
            field,
            format!("{field} is before 1970, which Herald does not store"),
        ));
    }
    Ok(seconds)
}

#[cfg(test)]
#[path = "validate_pipelines_tests.rs"]
mod tests;
