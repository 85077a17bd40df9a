//! Campaigns over the App API, and template previews.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_dispatch::relationships;
use herald_domain::{CampaignId, Identifier};
use herald_store::CampaignRow;
use serde_json::{Map, Value, json};

use crate::auth::AppWorkspace;
use crate::error::parse_id_type;
use crate::openapi::docs;
use crate::{ApiError, AppState};

type Answer = Result<Json<Value>, ApiError>;

/// The public form of a campaign: the definition as sent, with id, state and times.
fn campaign_json(row: &CampaignRow) -> Value {
    let mut object = row.definition.as_object().cloned().unwrap_or_default();
    object.insert("id".into(), json!(row.id));
    object.insert("state".into(), json!(row.state));
    object.insert("created_at".into(), json!(row.created_at));
    object.insert("updated_at".into(), json!(row.updated_at));
    Value::Object(object)
}

/// The `campaign` object of `{"campaign": {...}}`.
fn campaign_of(body: &Bytes) -> Result<Value, ApiError> {
    let mut body = herald_ingest::decode::decode_json(body)?;
    match body.get_mut("campaign") {
        Some(campaign) => Ok(campaign.take()),
        None => Err(ApiError::bad_request(
            "send {\"campaign\": {\"name\": …, \"trigger\": …, \"steps\": […]}}",
        )),
    }
}

fn answer(row: &CampaignRow) -> Answer {
    Ok(Json(json!({"campaign": campaign_json(row)})))
}

/// Creates a campaign
///
/// Stores a valid campaign as a draft: a `trigger` (an event, a segment change or
/// `transactional`), optional `filter`, `frequency` and `enrollment`, and `steps` of
/// webhooks, emails, pushes and delays, with Liquid in every message field.
#[utoipa::path(
    post,
    path = "/v1/campaigns",
    tag = docs::APP_CAMPAIGNS,
    request_body(content = Value, description = "`campaign`: the definition.", example = json!({"campaign": {"name": "Receipt", "trigger": {"event": {"name": "purchased"}}, "steps": [{"webhook": {"url": "https://example.com/hooks/{{ customer.id }}", "body": "{\"total\": {{ event.total }}}"}}]}})),
    responses(
        (status = 200, description = "The campaign, a draft.", body = Value, example = json!({"campaign": {"name": "Receipt", "trigger": {"event": {"name": "purchased"}}, "steps": [{"webhook": {"url": "https://example.com/hooks/{{ customer.id }}", "body": "{\"total\": {{ event.total }}}"}}], "id": 7, "state": "draft", "created_at": 1700000000, "updated_at": 1700000000}})),
        (status = 400, description = "The definition is invalid (`invalid_campaign` names the place).", body = docs::Error),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    body: Bytes,
) -> Answer {
    let definition = campaign_of(&body)?;
    let row = state
        .campaigns()
        .service
        .create(workspace_id, definition)
        .await?;
    answer(&row)
}

/// Replaces a campaign's definition
///
/// A change to a running campaign applies at once: new runs take it, and runs in flight go on
/// from the step they are at.
#[utoipa::path(
    put,
    path = "/v1/campaigns/{id}",
    tag = docs::APP_CAMPAIGNS,
    params(("id" = u64, Path, description = docs::CAMPAIGN_ID)),
    request_body(content = Value, description = "`campaign`: the whole new definition.", example = json!({"campaign": {"name": "Receipt", "trigger": {"event": {"name": "purchased"}}, "steps": [{"webhook": {"url": "https://example.com/hooks/{{ customer.id }}", "body": "{\"total\": {{ event.total }}}"}}]}})),
    responses(
        (status = 200, description = "The campaign.", body = Value, example = json!({"campaign": {"name": "Receipt", "trigger": {"event": {"name": "purchased"}}, "steps": [{"webhook": {"url": "https://example.com/hooks/{{ customer.id }}", "body": "{\"total\": {{ event.total }}}"}}], "id": 7, "state": "draft", "created_at": 1700000000, "updated_at": 1700000000}})),
        (status = 400, description = "The definition is invalid (`invalid_campaign` names the place).", body = docs::Error),
        (status = 404, description = docs::NO_CAMPAIGN, body = docs::Error),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<CampaignId>,
    body: Bytes,
) -> Answer {
    // A campaign that does not exist is a 404 before its body is judged.
    state.campaigns().service.get(workspace_id, id).await?;
    let definition = campaign_of(&body)?;
    let row = state
        .campaigns()
        .service
        .update(workspace_id, id, definition)
        .await?;
    answer(&row)
}

/// Lists the campaigns
#[utoipa::path(
    get,
    path = "/v1/campaigns",
    tag = docs::APP_CAMPAIGNS,
    responses(
        (status = 200, description = "`campaigns`: every campaign of the workspace, archived ones included.", body = Value),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
) -> Answer {
    let rows = state.campaigns().service.list(workspace_id).await?;
    Ok(Json(
        json!({"campaigns": rows.iter().map(campaign_json).collect::<Vec<_>>()}),
    ))
}

/// Reads a campaign
#[utoipa::path(
    get,
    path = "/v1/campaigns/{id}",
    tag = docs::APP_CAMPAIGNS,
    params(("id" = u64, Path, description = docs::CAMPAIGN_ID)),
    responses(
        (status = 200, description = "The campaign.", body = Value, example = json!({"campaign": {"name": "Receipt", "trigger": {"event": {"name": "purchased"}}, "steps": [{"webhook": {"url": "https://example.com/hooks/{{ customer.id }}", "body": "{\"total\": {{ event.total }}}"}}], "id": 7, "state": "draft", "created_at": 1700000000, "updated_at": 1700000000}})),
        (status = 404, description = docs::NO_CAMPAIGN, body = docs::Error),
    ),
)]
pub async fn get_one(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<CampaignId>,
) -> Answer {
    answer(&state.campaigns().service.get(workspace_id, id).await?)
}

/// Deletes a campaign
#[utoipa::path(
    delete,
    path = "/v1/campaigns/{id}",
    tag = docs::APP_CAMPAIGNS,
    params(("id" = u64, Path, description = docs::CAMPAIGN_ID)),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "The campaign cannot be deleted in its state (`invalid_campaign`).", body = docs::Error),
        (status = 404, description = docs::NO_CAMPAIGN, body = docs::Error),
    ),
)]
pub async fn remove(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<CampaignId>,
) -> Result<Response, ApiError> {
    state.campaigns().service.delete(workspace_id, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Starts a campaign
///
/// A campaign with `enrollment: current_and_future` takes the people already in its segment
/// when it first starts.
#[utoipa::path(
    post,
    path = "/v1/campaigns/{id}/start",
    tag = docs::APP_CAMPAIGNS,
    params(("id" = u64, Path, description = docs::CAMPAIGN_ID)),
    responses(
        (status = 200, description = "The campaign in its new state.", body = Value),
        (status = 400, description = "The campaign cannot go to that state from the one it is in (`invalid_campaign`).", body = docs::Error),
        (status = 404, description = docs::NO_CAMPAIGN, body = docs::Error),
    ),
)]
pub async fn start(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<CampaignId>,
) -> Answer {
    answer(&state.campaigns().service.start(workspace_id, id).await?)
}

/// Pauses a campaign
///
/// Holds its runs where they are until it starts again.
#[utoipa::path(
    post,
    path = "/v1/campaigns/{id}/pause",
    tag = docs::APP_CAMPAIGNS,
    params(("id" = u64, Path, description = docs::CAMPAIGN_ID)),
    responses(
        (status = 200, description = "The campaign in its new state.", body = Value),
        (status = 400, description = "The campaign cannot go to that state from the one it is in (`invalid_campaign`).", body = docs::Error),
        (status = 404, description = docs::NO_CAMPAIGN, body = docs::Error),
    ),
)]
pub async fn pause(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<CampaignId>,
) -> Answer {
    answer(&state.campaigns().service.pause(workspace_id, id).await?)
}

/// Archives a campaign
///
/// Stops it for good and ends its runs in flight; its deliveries and metrics stay.
#[utoipa::path(
    post,
    path = "/v1/campaigns/{id}/archive",
    tag = docs::APP_CAMPAIGNS,
    params(("id" = u64, Path, description = docs::CAMPAIGN_ID)),
    responses(
        (status = 200, description = "The campaign in its new state.", body = Value),
        (status = 400, description = "The campaign cannot go to that state from the one it is in (`invalid_campaign`).", body = docs::Error),
        (status = 404, description = docs::NO_CAMPAIGN, body = docs::Error),
    ),
)]
pub async fn archive(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<CampaignId>,
) -> Answer {
    answer(&state.campaigns().service.archive(workspace_id, id).await?)
}

/// Restores an archived campaign
///
/// Brings an archived campaign back, paused.
#[utoipa::path(
    post,
    path = "/v1/campaigns/{id}/restore",
    tag = docs::APP_CAMPAIGNS,
    params(("id" = u64, Path, description = docs::CAMPAIGN_ID)),
    responses(
        (status = 200, description = "The campaign in its new state.", body = Value),
        (status = 400, description = "The campaign cannot go to that state from the one it is in (`invalid_campaign`).", body = docs::Error),
        (status = 404, description = docs::NO_CAMPAIGN, body = docs::Error),
    ),
)]
pub async fn restore(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<CampaignId>,
) -> Answer {
    answer(&state.campaigns().service.restore(workspace_id, id).await?)
}

/// Renders a Liquid template
///
/// Renders a template for a person (with `customer.cio_relationships`, as campaigns' messages
/// see them) and an event, for previews.
#[utoipa::path(
    post,
    path = "/v1/templates/render",
    tag = docs::APP_CAMPAIGNS,
    request_body(content = Value, description = "`template` (required), `customer_id` and `id_type`, `event` (the event's data).",
        example = json!({"template": "Hi {{ customer.first_name }}, thanks for {{ event.total }}", "customer_id": "42", "event": {"total": 42}})),
    responses(
        (status = 200, description = "`output`: the rendered text.", body = Value, example = json!({"output": "Hi Ann, thanks for 42"})),
        (status = 400, description = "The template does not compile (`invalid_template`) or render (`render_failed`), or the body is invalid.", body = docs::Error),
        (status = 404, description = docs::NO_CUSTOMER, body = docs::Error),
    ),
)]
pub async fn render(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    body: Bytes,
) -> Answer {
    let body = herald_ingest::decode::decode_json(&body)?;
    let Some(Value::String(source)) = body.get("template") else {
        return Err(ApiError::bad_request(
            "template is required: send {\"template\": \"Hi {{ customer.first_name }}\"}",
        ));
    };
    let template = state.templates().compile(source).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_template",
            error.to_string(),
        )
    })?;
    let customer = match body.get("customer_id").and_then(Value::as_str) {
        None => Value::Object(Map::new()),
        Some(id) => {
            let id_type = parse_id_type(body.get("id_type").and_then(Value::as_str))?;
            let identifier = Identifier::of_type(id_type, id);
            // The person and their relationships, as a campaign's message reads them.
            let (person, relationships) = state
                .store()
                .read(move |r| {
                    let Some(person) = r.person(workspace_id, &identifier)? else {
                        return Ok(None);
                    };
                    let relationships = relationships::read(r, workspace_id, person.seq)?;
                    Ok(Some((person, relationships)))
                })
                .await?
                .ok_or_else(|| {
                    ApiError::not_found(format!("no customer with the identifier {id:?}"))
                })?;
            Value::Object(relationships::customer(&person, &relationships))
        }
    };
    let event = match body.get("event") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(Value::Object(event)) => Value::Object(event.clone()),
        Some(_) => {
            return Err(ApiError::bad_request(
                "event must be an object of event data",
            ));
        }
    };
    let output = template
        .render(
            &json!({"customer": customer, "event": event}),
            state.clock().now(),
        )
        .map_err(|error| {
            ApiError::new(StatusCode::BAD_REQUEST, "render_failed", error.to_string())
        })?;
    Ok(Json(json!({"output": output})))
}
