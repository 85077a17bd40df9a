//! The browser endpoints: `POST /api/v1/browser/{site_id}/identify` and `…/events`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use herald_domain::{WorkspaceId, limits};
use herald_ingest::Operation;
use serde_json::{Map, Value, json};

use super::{input, site};
use crate::body::decode;
use crate::{ApiError, AppState};

type Answer = Result<Json<Value>, ApiError>;

/// Resolves the site id and takes a token of its workspace's rate limit, before the body is
/// even decoded.
async fn admit(state: &AppState, site_id: &str) -> Result<WorkspaceId, ApiError> {
    let workspace_id = site::workspace(state, site_id).await?;
    state
        .browser()
        .admit_site(workspace_id, state.clock().now())?;
    Ok(workspace_id)
}

/// Decodes a body like the Track API v1 does. The tracker sends JSON as `text/plain`, which
/// browsers send without a preflight; any type but a form is read as JSON.
fn read(headers: &HeaderMap, body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    Ok(decode(
        headers,
        body,
        limits::MAX_V1_BODY_BYTES,
        "the browser API",
    )?)
}

async fn submit(state: &AppState, workspace_id: WorkspaceId, operation: Operation) -> Answer {
    state.ingest().submit(workspace_id, vec![operation]).await?;
    Ok(Json(json!({})))
}

/// `POST /api/v1/browser/{site_id}/identify`.
pub async fn identify(
    State(state): State<AppState>,
    Path(site_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let workspace_id = admit(&state, &site_id).await?;
    let operation = input::identify(read(&headers, &body)?)?;
    submit(&state, workspace_id, operation).await
}

/// `POST /api/v1/browser/{site_id}/events`: events and page views.
pub async fn events(
    State(state): State<AppState>,
    Path(site_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let workspace_id = admit(&state, &site_id).await?;
    let operation = input::event(read(&headers, &body)?, state.clock().now())?;
    submit(&state, workspace_id, operation).await
}
