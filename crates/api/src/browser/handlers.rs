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
use crate::openapi::docs;
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

/// Identifies the visitor (track.js)
///
/// Sets attributes on a person from a web page, and attaches the visitor's anonymous events
/// to them. No credentials but the public site id; `cio_` identifiers and attributes,
/// message-routing data and `unsubscribed` other than true are refused. The body may be sent
/// as `text/plain` JSON, which needs no preflight.
#[utoipa::path(
    post,
    path = "/api/v1/browser/{site_id}/identify",
    tag = docs::BROWSER,
    params(("site_id" = String, Path, description = docs::SITE_ID)),
    request_body(content = Value, description = "`id`, optionally `email`, `anonymous_id` and the attributes.",
        example = json!({"id": "42", "anonymous_id": "a4e1c2", "email": "ann@example.com", "plan": "pro"})),
    responses(
        (status = 200, description = docs::STORED, body = Value, example = json!({})),
        (status = 400, description = docs::INVALID, body = docs::Error),
        (status = 403, description = "The page's origin is not one of the allowed origins; nothing was written.", body = docs::Error),
        (status = 401, description = "No workspace has this site id.", body = docs::Error),
        (status = 429, description = "Over the per-address or per-site limit; `Retry-After` says when to retry.", body = docs::Error),
    ),
)]
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

/// Tracks an event or a page view (track.js)
///
/// Records an event or a page view of a person or an anonymous visitor from a web page. An
/// event may say `"age": <seconds since the call>` instead of a timestamp, so a queued event
/// keeps its time without trusting the browser's clock; an `id` (a ULID) makes a retry count
/// once.
#[utoipa::path(
    post,
    path = "/api/v1/browser/{site_id}/events",
    tag = docs::BROWSER,
    params(("site_id" = String, Path, description = docs::SITE_ID)),
    request_body(content = Value, description = "The event: `customer_id` or `anonymous_id`, `name`, `type`, `data`, and `timestamp` or `age`.",
        example = json!({"anonymous_id": "a4e1c2", "type": "page", "name": "https://example.com/pricing", "age": 2, "id": "01J8ZQ3V9YH0C5XW7M2D4K6F1B"})),
    responses(
        (status = 200, description = docs::STORED, body = Value, example = json!({})),
        (status = 400, description = docs::INVALID, body = docs::Error),
        (status = 403, description = "The page's origin is not one of the allowed origins; nothing was written.", body = docs::Error),
        (status = 401, description = "No workspace has this site id.", body = docs::Error),
        (status = 429, description = "Over the per-address or per-site limit; `Retry-After` says when to retry.", body = docs::Error),
    ),
)]
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
