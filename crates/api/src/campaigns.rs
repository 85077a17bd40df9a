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

/// `POST /v1/campaigns`: stores a valid campaign as a draft.
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

/// `PUT /v1/campaigns/{id}`: replaces the definition.
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

/// `GET /v1/campaigns`.
pub async fn list(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
) -> Answer {
    let rows = state.campaigns().service.list(workspace_id).await?;
    Ok(Json(
        json!({"campaigns": rows.iter().map(campaign_json).collect::<Vec<_>>()}),
    ))
}

/// `GET /v1/campaigns/{id}`.
pub async fn get_one(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<CampaignId>,
) -> Answer {
    answer(&state.campaigns().service.get(workspace_id, id).await?)
}

/// `DELETE /v1/campaigns/{id}`: 204.
pub async fn remove(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<CampaignId>,
) -> Result<Response, ApiError> {
    state.campaigns().service.delete(workspace_id, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /v1/campaigns/{id}/start`. A campaign with `enrollment: current_and_future` takes the
/// people already in its segment when it first starts.
pub async fn start(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<CampaignId>,
) -> Answer {
    answer(&state.campaigns().service.start(workspace_id, id).await?)
}

/// `POST /v1/campaigns/{id}/pause`.
pub async fn pause(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<CampaignId>,
) -> Answer {
    answer(&state.campaigns().service.pause(workspace_id, id).await?)
}

/// `POST /v1/campaigns/{id}/archive`: stops it for good and ends its runs in flight; its
/// deliveries and metrics stay.
pub async fn archive(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<CampaignId>,
) -> Answer {
    answer(&state.campaigns().service.archive(workspace_id, id).await?)
}

/// `POST /v1/campaigns/{id}/restore`: an archived campaign back, paused.
pub async fn restore(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<CampaignId>,
) -> Answer {
    answer(&state.campaigns().service.restore(workspace_id, id).await?)
}

/// `POST /v1/templates/render` `{"template", "customer_id"?, "id_type"?, "event"?}`: renders a
/// template for a person (with `customer.cio_relationships`, as campaigns' messages see them)
/// and an event, for previews.
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
