//! Campaigns over the App API, and template previews.

use std::collections::BTreeSet;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_campaigns::Campaign;
use herald_domain::Identifier;
use herald_store::CampaignRow;
use serde_json::{Map, Value, json};

use crate::auth::AppWorkspace;
use crate::error::parse_id_type;
use crate::{ApiError, AppState};

type Answer = Result<Json<Value>, ApiError>;

fn campaign_not_found() -> ApiError {
    ApiError::not_found("Campaign not found")
}

/// The public form of a campaign: the definition as sent, with id, state and times.
fn campaign_json(row: &CampaignRow) -> Value {
    let mut object = row.definition.as_object().cloned().unwrap_or_default();
    object.insert("id".into(), json!(row.id));
    object.insert("state".into(), json!(row.state));
    object.insert("created_at".into(), json!(row.created_at));
    object.insert("updated_at".into(), json!(row.updated_at));
    Value::Object(object)
}

/// Reads `{"campaign": {...}}` and validates it: templates compile, segments exist.
async fn validated(
    state: &AppState,
    workspace_id: i64,
    body: &Bytes,
) -> Result<(String, Value), ApiError> {
    let body = herald_ingest::decode::decode_json(body)?;
    let Some(campaign) = body.get("campaign") else {
        return Err(ApiError::bad_request(
            "send {\"campaign\": {\"name\": …, \"trigger\": …, \"steps\": […]}}",
        ));
    };
    let segments: BTreeSet<i64> = state
        .store()
        .read(move |r| r.segments(workspace_id))
        .await?
        .iter()
        .map(|s| s.id)
        .collect();
    let templates = state.templates();
    let check = |source: &str| {
        templates
            .compile(source)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let exists = |id: i64| segments.contains(&id);
    let parsed = Campaign::parse(campaign, &check, &exists).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_campaign",
            error.to_string(),
        )
    })?;
    Ok((parsed.name, campaign.clone()))
}

/// `POST /v1/campaigns`: stores a valid campaign as a draft.
pub async fn create(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    body: Bytes,
) -> Answer {
    let (name, definition) = validated(&state, workspace_id, &body).await?;
    let now = state.clock().now();
    let row = CampaignRow {
        id: 0,
        workspace_id,
        name,
        definition,
        state: "draft".into(),
        created_at: now,
        updated_at: now,
    };
    let row = state
        .store()
        .write(move |tx| tx.insert_campaign(&row))
        .await??;
    state.campaigns().registry.upsert(&row);
    Ok(Json(json!({"campaign": campaign_json(&row)})))
}

async fn find(state: &AppState, workspace_id: i64, id: i64) -> Result<CampaignRow, ApiError> {
    state
        .store()
        .read(move |r| r.campaign(workspace_id, id))
        .await?
        .ok_or_else(campaign_not_found)
}

/// `PUT /v1/campaigns/{id}`: replaces the definition.
pub async fn update(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<i64>,
    body: Bytes,
) -> Answer {
    let mut row = find(&state, workspace_id, id).await?;
    let (name, definition) = validated(&state, workspace_id, &body).await?;
    row.name = name;
    row.definition = definition;
    row.updated_at = state.clock().now().max(row.updated_at);
    let saved = row.clone();
    state
        .store()
        .write(move |tx| tx.update_campaign(&saved))
        .await??;
    state.campaigns().registry.upsert(&row);
    Ok(Json(json!({"campaign": campaign_json(&row)})))
}

/// `GET /v1/campaigns`.
pub async fn list(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
) -> Answer {
    let rows = state
        .store()
        .read(move |r| r.campaigns(workspace_id))
        .await?;
    Ok(Json(
        json!({"campaigns": rows.iter().map(campaign_json).collect::<Vec<_>>()}),
    ))
}

/// `GET /v1/campaigns/{id}`.
pub async fn get_one(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<i64>,
) -> Answer {
    let row = find(&state, workspace_id, id).await?;
    Ok(Json(json!({"campaign": campaign_json(&row)})))
}

/// `DELETE /v1/campaigns/{id}`: 204.
pub async fn remove(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let now = state.clock().now();
    // Its runs end with it: a deleted campaign sends nothing more.
    let deleted = state
        .store()
        .write(move |tx| {
            let deleted = tx.delete_campaign(workspace_id, id)?;
            if deleted {
                tx.cancel_runs(id, now)?;
            }
            Ok::<_, herald_store::StoreError>(deleted)
        })
        .await??;
    if !deleted {
        return Err(campaign_not_found());
    }
    state.campaigns().registry.remove(id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn set_state(state: &AppState, workspace_id: i64, id: i64, to: &str) -> Answer {
    let mut row = find(state, workspace_id, id).await?;
    to.clone_into(&mut row.state);
    row.updated_at = state.clock().now().max(row.updated_at);
    let saved = row.clone();
    state
        .store()
        .write(move |tx| tx.update_campaign(&saved))
        .await??;
    state.campaigns().registry.upsert(&row);
    Ok(Json(json!({"campaign": campaign_json(&row)})))
}

/// `POST /v1/campaigns/{id}/start`. A campaign with `enrollment: current_and_future` takes the
/// people already in its segment when it first starts.
pub async fn start(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<i64>,
) -> Answer {
    let before = find(&state, workspace_id, id).await?;
    if before.state == "draft" {
        // The first start may enroll a segment's members: a start while the engine is still
        // loading is refused before anything changes, not started without them.
        state.segments().query(|_| ()).await?;
    }
    let answer = set_state(&state, workspace_id, id, "running").await?;
    let campaigns = state.campaigns();
    if before.state == "draft"
        && let Some(loaded) = campaigns.registry.get(id)
        && loaded.campaign.enrollment == herald_campaigns::Enrollment::CurrentAndFuture
        && let herald_campaigns::Trigger::Segment { id: segment_id, .. } = loaded.campaign.trigger
    {
        let members = state
            .segments()
            .query(move |view| {
                view.engines
                    .get(&workspace_id)
                    .map(|engine| engine.members(segment_id).collect::<Vec<_>>())
                    .unwrap_or_default()
            })
            .await?;
        let now = state.clock().now();
        state
            .store()
            .write(move |tx| herald_dispatch::enroll_current(tx, &loaded, &members, now))
            .await??;
    }
    campaigns.dispatcher.wake();
    Ok(answer)
}

/// `POST /v1/campaigns/{id}/pause`.
pub async fn pause(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<i64>,
) -> Answer {
    set_state(&state, workspace_id, id, "paused").await
}

/// `POST /v1/templates/render` `{"template", "customer_id"?, "id_type"?, "event"?}`: renders a
/// template for a person and an event, for previews.
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
            let person = state
                .store()
                .read(move |r| r.person(workspace_id, &identifier))
                .await?
                .ok_or_else(|| {
                    ApiError::not_found(format!("no customer with the identifier {id:?}"))
                })?;
            Value::Object(person.attributes_with_identifiers())
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
