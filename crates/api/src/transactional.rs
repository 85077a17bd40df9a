//! Transactional messages over the App API: `POST /v1/send/email`, `POST /v1/send/push`,
//! `GET /v1/transactional` and `GET /v1/transactional/{id}` (customerio-compat.md §3, and the
//! request fields Customer.io's clients send).
//!
//! A transactional message is a campaign with the trigger `{"transactional": {}}` and one email
//! or push step (`herald_dispatch`). A request names it, names the person (found, or created as
//! an identify would), gives `message_data` to Liquid and may override the step's fields.
//! Fields Herald cannot honour (attachments, cc, custom headers, …) are refused with a 400 that
//! names them, never dropped.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use herald_campaigns::Channel;
use herald_dispatch::{MessageRef, TransactionalSend};
use herald_domain::{CampaignId, IdType, Identifier};
use herald_ingest::validate::{self, ValidationError};
use herald_ingest::{Operation, PathIdentifier};
use herald_store::CampaignRow;
use serde_json::{Map, Value, json};

use crate::auth::AppWorkspace;
use crate::openapi::docs;
use crate::{ApiError, AppState};

type Answer = Result<Json<Value>, ApiError>;

/// The request fields that replace a step's own, by channel: (request field, step field).
const EMAIL_OVERRIDES: &[(&str, &str)] = &[
    ("to", "to"),
    ("from", "from"),
    ("subject", "subject"),
    ("body", "html"),
    ("body_plain", "text"),
];
const PUSH_OVERRIDES: &[(&str, &str)] = &[
    ("title", "title"),
    ("message", "body"),
    ("image_url", "data.image_url"),
    ("link", "data.link"),
];

/// Fields a request may send that change nothing Herald does: they are flags whose default is
/// what Herald does, or ids Herald does not need.
const ACCEPTED: &[&str] = &[
    "transactional_message_id",
    "identifiers",
    "message_data",
    "send_at",
    "disable_message_retention",
    "send_to_unsubscribed",
    "queue_draft",
    "tracked",
    "disable_css_preprocessing",
    "language",
    "auto_create",
    "fake_bcc",
    "sound",
];

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid(ValidationError::new(
        "invalid",
        Some(field.to_owned()),
        message,
    ))
}

/// `transactional_message_id`: the message's id, or its name.
fn message_ref(body: &Map<String, Value>, channel: &Channel) -> Result<MessageRef, ApiError> {
    let given = |field: &str| {
        body.get(field)
            .and_then(Value::as_str)
            .is_some_and(|text| !text.trim().is_empty())
    };
    match body.get("transactional_message_id") {
        None | Some(Value::Null) if *channel == Channel::Email => {
            // Customer.io sends an email without a template when the request writes it whole.
            for field in ["to", "from", "subject"] {
                if !given(field) {
                    return Err(invalid(
                        field,
                        format!(
                            "{field} is required for an email without transactional_message_id"
                        ),
                    ));
                }
            }
            if !given("body") && !given("body_plain") {
                return Err(invalid(
                    "body",
                    "body (or body_plain) is required for an email without transactional_message_id",
                ));
            }
            Ok(MessageRef::Inline)
        }
        Some(Value::Number(number)) => number
            .as_i64()
            .map(|id| MessageRef::Id(CampaignId::new(id)))
            .ok_or_else(|| invalid("transactional_message_id", "not a message id")),
        Some(Value::String(text)) if !text.trim().is_empty() => Ok(match text.trim().parse() {
            Ok(id) => MessageRef::Id(CampaignId::new(id)),
            Err(_) => MessageRef::Name(text.trim().to_owned()),
        }),
        _ => Err(invalid(
            "transactional_message_id",
            "transactional_message_id is required: the message's id or name",
        )),
    }
}

/// `identifiers`: exactly one of `id`, `email` or `cio_id`.
/// A boolean field: `default` when absent or null, a 400 when it is not a boolean.
fn flag(body: &Map<String, Value>, field: &str, default: bool) -> Result<bool, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(value)) => Ok(*value),
        Some(_) => Err(invalid(field, format!("{field} must be true or false"))),
    }
}

fn person(body: &Map<String, Value>) -> Result<PathIdentifier, ApiError> {
    Ok(herald_ingest::validate_objects::person_identifiers(
        body.get("identifiers"),
        "identifiers",
    )?)
}

/// The step fields the request overrides, refusing what Herald cannot send.
fn overrides(
    body: &Map<String, Value>,
    channel: &Channel,
) -> Result<BTreeMap<String, String>, ApiError> {
    let (fields, extra): (&[(&str, &str)], &[&str]) = match channel {
        Channel::Push => (PUSH_OVERRIDES, &["to", "custom_data", "custom_device"]),
        _ => (EMAIL_OVERRIDES, &["headers"]),
    };
    let mut overrides = BTreeMap::new();
    for (key, value) in body {
        if ACCEPTED.contains(&key.as_str()) || value.is_null() {
            continue;
        }
        if let Some((_, field)) = fields.iter().find(|(name, _)| name == key) {
            let Value::String(source) = value else {
                return Err(invalid(key, format!("{key} must be a string")));
            };
            overrides.insert((*field).to_owned(), source.clone());
            continue;
        }
        let empty = match value {
            Value::Object(map) => map.is_empty(),
            Value::Array(list) => list.is_empty(),
            Value::String(text) => text.is_empty(),
            _ => false,
        };
        if extra.contains(&key.as_str()) || empty {
            continue;
        }
        return Err(invalid(
            key,
            format!("{key} is not supported by Herald's transactional messages yet; leave it out"),
        ));
    }
    if let Channel::Push = channel {
        match body.get("to") {
            None | Some(Value::Null) => {}
            Some(Value::String(to)) if to == "all" => {}
            Some(_) => {
                return Err(invalid(
                    "to",
                    "Herald sends a push to all of the person's devices: leave to out or send \"all\"",
                ));
            }
        }
        if let Some(data) = body.get("custom_data").filter(|data| !data.is_null()) {
            let Value::Object(data) = data else {
                return Err(invalid("custom_data", "custom_data must be an object"));
            };
            for (key, value) in data {
                let text = match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                // Literal data, not Liquid: it is escaped by rendering it raw.
                overrides.insert(
                    format!("data.{key}"),
                    format!("{{% raw %}}{text}{{% endraw %}}"),
                );
            }
        }
    }
    Ok(overrides)
}

/// The device a push request brings (`custom_device`), upserted before the send.
fn custom_device(body: &Map<String, Value>) -> Result<Option<herald_store::Device>, ApiError> {
    let Some(device) = body.get("custom_device").filter(|d| !d.is_null()) else {
        return Ok(None);
    };
    let mut wrapped = Map::new();
    wrapped.insert("device".into(), device.clone());
    Ok(Some(validate::device(&wrapped, "token")?))
}

async fn send(
    state: &AppState,
    workspace_id: herald_domain::WorkspaceId,
    channel: Channel,
    body: &Bytes,
) -> Answer {
    let body = herald_ingest::decode::decode_json(body)?;
    let Value::Object(body) = body else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    };
    let message = message_ref(&body, &channel)?;
    let disable_message_retention = flag(&body, "disable_message_retention", false)?;
    let send_to_unsubscribed = flag(&body, "send_to_unsubscribed", true)?;
    let target = person(&body)?;
    let overrides = overrides(&body, &channel)?;
    let message_data = match body.get("message_data") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(data)) => data.clone(),
        Some(_) => return Err(invalid("message_data", "message_data must be an object")),
    };
    let send_at = match body.get("send_at") {
        None | Some(Value::Null) => None,
        Some(value) => Some(validate::timestamp_value(value, "send_at")?),
    };
    // The person is found or created as an identify would, and a push's device is saved,
    // before the send: both are ordinary writes, which the segment engine hears of.
    let mut operations = vec![Operation::Identify(
        herald_ingest::operation::IdentifyInput {
            target: target.clone(),
            id: None,
            email: None,
            anonymous_id: None,
            attributes: Map::new(),
            update_only: false,
            relationships: None,
        },
    )];
    if let Some(device) = custom_device(&body)? {
        operations.push(Operation::AddDevice {
            target: target.clone(),
            device,
        });
    }
    state.ingest().submit(workspace_id, operations).await?;
    let identifier = target
        .candidates()
        .into_iter()
        .next()
        .unwrap_or_else(|| Identifier::of_type(IdType::Id, &target.raw));
    let person = state
        .store()
        .read(move |reader| reader.person(workspace_id, &identifier))
        .await?
        .ok_or_else(|| {
            if target.is_cio() {
                // A cio id is Herald's own: one no person has cannot make a new person.
                ApiError::not_found(format!(
                    "no person has the cio_id {:?}: nothing was sent",
                    target.raw.trim_start_matches("cio_")
                ))
            } else {
                ApiError::bad_request(
                    "the person the identifiers name is suppressed: nothing was sent",
                )
            }
        })?;
    let queued = state
        .campaigns()
        .service
        .send_transactional(
            workspace_id,
            TransactionalSend {
                message,
                channel,
                person: person.seq,
                message_data,
                overrides,
                send_at,
                send_to_unsubscribed,
                disable_message_retention,
            },
        )
        .await
        .map_err(|error| match error {
            herald_dispatch::CampaignsError::NotFound => ApiError::not_found(
                "no transactional message has this transactional_message_id: create one with POST /v1/campaigns and the trigger {\"transactional\": {}}",
            ),
            other => other.into(),
        })?;
    let mut answer = json!({"delivery_id": queued.delivery_id, "queued_at": queued.queued_at});
    if let Some(send_at) = queued.send_at {
        answer["send_at"] = json!(send_at);
    }
    Ok(Json(answer))
}

/// Sends a transactional email
///
/// Sends the transactional message `transactional_message_id` (its id or name; it must be
/// started), or without one an email written whole by the request (`to`, `from`, `subject`,
/// `body`), to the person `identifiers` names, created if they do not exist yet.
/// `message_data` is Liquid's `trigger`; `send_at` (unix seconds) sends later. What Herald
/// cannot honour (attachments, `cc`, `bcc`, …) is refused with a 400 and nothing is sent.
#[utoipa::path(
    post,
    path = "/v1/send/email",
    tag = docs::APP_TRANSACTIONAL,
    request_body(content = Value, description = "The send request.", example = json!({"transactional_message_id": 3, "identifiers": {"email": "ann@example.com"}, "message_data": {"order_id": 42}})),
    responses(
        (status = 200, description = "Queued: the delivery's id at once.", body = Value,
         example = json!({"delivery_id": "01J8ZQ3V9YH0C5XW7M2D4K6F1B", "queued_at": 1700000000})),
        (status = 400, description = "The request is invalid or asks for what Herald cannot send; the message names the field. Nothing was sent.", body = docs::Error),
        (status = 404, description = "No transactional message has this `transactional_message_id`.", body = docs::Error),
    ),
)]
pub async fn send_email(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    body: Bytes,
) -> Answer {
    send(&state, workspace_id, Channel::Email, &body).await
}

/// Sends a transactional push
///
/// Sends the push message `transactional_message_id` to the devices of the person
/// `identifiers` names; `title`, `message`, `image_url`, `link` and `custom_data` replace the
/// message's own, and `custom_device` saves a device first.
#[utoipa::path(
    post,
    path = "/v1/send/push",
    tag = docs::APP_TRANSACTIONAL,
    request_body(content = Value, description = "The send request.", example = json!({"transactional_message_id": 3, "identifiers": {"email": "ann@example.com"}, "message_data": {"order_id": 42}})),
    responses(
        (status = 200, description = "Queued: the delivery's id at once.", body = Value,
         example = json!({"delivery_id": "01J8ZQ3V9YH0C5XW7M2D4K6F1B", "queued_at": 1700000000})),
        (status = 400, description = "The request is invalid or asks for what Herald cannot send; the message names the field. Nothing was sent.", body = docs::Error),
        (status = 404, description = "No transactional message has this `transactional_message_id`.", body = docs::Error),
    ),
)]
pub async fn send_push(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    body: Bytes,
) -> Answer {
    send(&state, workspace_id, Channel::Push, &body).await
}

fn is_transactional(row: &CampaignRow) -> bool {
    row.definition
        .get("trigger")
        .is_some_and(|trigger| trigger.get("transactional").is_some())
}

/// Customer.io's shape of a transactional message.
fn message_json(row: &CampaignRow) -> Value {
    json!({
        "id": row.id,
        "name": row.name,
        "description": "",
        "state": row.state,
        "send_to_unsubscribed": true,
        "link_tracking": true,
        "open_tracking": true,
        "hide_message_body": false,
        "queue_drafts": false,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    })
}

/// Lists the transactional messages
#[utoipa::path(
    get,
    path = "/v1/transactional",
    tag = docs::APP_TRANSACTIONAL,
    responses(
        (status = 200, description = "`messages`: the campaigns with the trigger `{\"transactional\": {}}`.", body = Value),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
) -> Answer {
    let rows = state.campaigns().service.list(workspace_id).await?;
    let messages: Vec<Value> = rows
        .iter()
        .filter(|row| is_transactional(row))
        .map(message_json)
        .collect();
    Ok(Json(json!({"messages": messages})))
}

/// Reads a transactional message
#[utoipa::path(
    get,
    path = "/v1/transactional/{id}",
    tag = docs::APP_TRANSACTIONAL,
    params(("id" = String, Path, description = docs::TRANSACTIONAL_ID)),
    responses(
        (status = 200, description = "`message`.", body = Value),
        (status = 404, description = "No transactional message has this id in the key's workspace.", body = docs::Error),
    ),
)]
pub async fn get_one(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<String>,
) -> Answer {
    let row = transactional_row(&state, workspace_id, &id).await?;
    Ok(Json(json!({"message": message_json(&row)})))
}

/// A transactional message's one step: its channel (`email` or `push`) and its fields.
fn step_of(row: &CampaignRow) -> Option<(&str, &Map<String, Value>)> {
    let step = row.definition.get("steps")?.get(0)?.as_object()?;
    let (kind, fields) = step.iter().next()?;
    Some((kind.as_str(), fields.as_object()?))
}

/// Customer.io's content shape of a message's step: one content, in the default language.
fn content_json(row: &CampaignRow) -> Value {
    let none = Map::new();
    let (kind, fields) = step_of(row).unwrap_or(("email", &none));
    let field = |name: &str| {
        fields
            .get(name)
            .cloned()
            .unwrap_or(Value::String(String::new()))
    };
    let (body, subject, recipient) = if kind == "push" {
        (field("body"), field("title"), Value::String(String::new()))
    } else {
        let body = match fields.get("html") {
            Some(Value::String(html)) if !html.is_empty() => field("html"),
            _ => field("text"),
        };
        (body, field("subject"), field("to"))
    };
    json!({
        "id": CONTENT_ID,
        "name": row.name,
        "created": row.created_at,
        "updated": row.updated_at,
        "language": "",
        "type": kind,
        "body": body,
        "subject": subject,
        "recipient": recipient,
        "from": field("from"),
        "from_id": null,
        "reply_to": "",
        "reply_to_id": null,
        "preprocessor": "premailer",
        "cc": "",
        "bcc": "",
        "fake_bcc": false,
        "preheader_text": "",
        "body_amp": "",
        "headers": "[]",
    })
}

/// The one content a Herald transactional message has: Herald keeps no languages.
const CONTENT_ID: i64 = 1;

pub(crate) async fn transactional_row(
    state: &AppState,
    workspace_id: herald_domain::WorkspaceId,
    id: &str,
) -> Result<CampaignRow, ApiError> {
    let not_found = || ApiError::not_found(format!("no transactional message has the id {id:?}"));
    let campaign_id = id.parse::<CampaignId>().map_err(|_| not_found())?;
    let row = state
        .campaigns()
        .service
        .get(workspace_id, campaign_id)
        .await
        .map_err(|_| not_found())?;
    if is_transactional(&row) {
        Ok(row)
    } else {
        Err(not_found())
    }
}

/// Reads a transactional message's content
///
/// Its one content (Herald keeps no languages).
#[utoipa::path(
    get,
    path = "/v1/transactional/{id}/contents",
    tag = docs::APP_TRANSACTIONAL,
    params(("id" = String, Path, description = docs::TRANSACTIONAL_ID)),
    responses(
        (status = 200, description = "`contents`: one content.", body = Value),
        (status = 404, description = "No transactional message has this id in the key's workspace.", body = docs::Error),
    ),
)]
pub async fn contents(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<String>,
) -> Answer {
    let row = transactional_row(&state, workspace_id, &id).await?;
    Ok(Json(json!({"contents": [content_json(&row)]})))
}

/// Changes a transactional message's content
///
/// Replaces the step's `body`, `subject` and `recipient` (`to`); the fields Herald does not
/// keep are refused when they say something.
#[utoipa::path(
    put,
    path = "/v1/transactional/{id}/content/{content_id}",
    tag = docs::APP_TRANSACTIONAL,
    params(("id" = String, Path, description = docs::TRANSACTIONAL_ID), ("content_id" = String, Path, description = "The content's id: `1`, the one content.")),
    request_body(content = Value, description = "The fields to change.",
        example = json!({"subject": "Your receipt", "body": "<p>Thanks, {{ customer.first_name }}</p>"})),
    responses(
        (status = 200, description = "The content as changed.", body = Value),
        (status = 400, description = "A field is invalid or one Herald does not keep; the message names it.", body = docs::Error),
        (status = 404, description = "No such message, or no such content.", body = docs::Error),
    ),
)]
pub async fn update_content(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path((id, content_id)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let mut row = transactional_row(&state, workspace_id, &id).await?;
    if content_id.parse::<i64>().ok() != Some(CONTENT_ID) {
        return Err(ApiError::not_found(format!(
            "transactional message {id} has one content, {CONTENT_ID}"
        )));
    }
    let changes = crate::body::json_object(&body)?;
    let Some((kind, _)) = step_of(&row) else {
        return Err(ApiError::not_found("the message has no step"));
    };
    let kind = kind.to_owned();
    let mut definition = row.definition.clone();
    let fields = definition
        .pointer_mut(&format!("/steps/0/{kind}"))
        .and_then(Value::as_object_mut)
        .ok_or_else(|| ApiError::not_found("the message has no step"))?;
    for (key, value) in &changes {
        let target = match (kind.as_str(), key.as_str()) {
            ("email", "body") => "html",
            ("email", "subject") => "subject",
            ("email", "recipient") => "to",
            ("push", "body") => "body",
            ("push", "subject") => "title",
            _ if value.is_null() || value.as_str() == Some("") => continue,
            (_, other) => {
                return Err(invalid(
                    other,
                    format!(
                        "{other} is not kept by Herald's transactional messages; body, subject and recipient are"
                    ),
                ));
            }
        };
        let Value::String(source) = value else {
            return Err(invalid(key, format!("{key} must be a string")));
        };
        fields.insert(target.to_owned(), Value::String(source.clone()));
    }
    row = state
        .campaigns()
        .service
        .update(workspace_id, row.id, definition)
        .await?;
    Ok(Json(json!({"content": content_json(&row)})))
}
