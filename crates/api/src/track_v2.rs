//! Track API v2 handlers: `/api/v2/entity` (one operation) and `/api/v2/batch` (many).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_domain::limits;
use herald_ingest::{ValidationError, validate_v2};
use serde_json::{Value, json};

use crate::auth::TrackWorkspace;
use crate::body::decode;
use crate::error::{Shape, V2ErrorItem};
use crate::openapi::docs;
use crate::{ApiError, AppState};

/// The most errors a 207 lists: a batch of many small bad operations would otherwise get an
/// answer many times its own size. The rest are counted in `errors_omitted`.
pub const MAX_LISTED_ERRORS: usize = 100;

fn v2_error(error: ValidationError) -> ApiError {
    ApiError::invalid(error).with_shape(Shape::V2)
}

/// Applies one entity operation
///
/// One operation on a person or an object: `identify`, `delete`, `event`, `page`, `screen`,
/// `add_device`, `delete_device`, `merge`, `suppress`, `unsuppress`, `add_relationships`,
/// `delete_relationships`, as Customer.io's Track API v2 takes them.
#[utoipa::path(
    post,
    path = "/api/v2/entity",
    tag = docs::TRACK_V2,
    request_body(
        description = "The operation.",
        content = Value,
        example = json!({"type": "person", "action": "identify", "identifiers": {"id": "42"}, "attributes": {"plan": "pro"}}),
    ),
    responses(
        (status = 200, description = docs::STORED, body = Value, example = json!({})),
        (status = 400, description = "The operation is invalid: `errors` says where and why; nothing was stored.", body = docs::Error),
    ),
)]
pub async fn entity(
    State(state): State<AppState>,
    TrackWorkspace(workspace_id): TrackWorkspace,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = decode(
        &headers,
        &body,
        limits::MAX_V2_ENTITY_BYTES,
        "/api/v2/entity",
    )
    .map_err(v2_error)?;
    let operation =
        validate_v2::operation(&Value::Object(body), state.clock().now()).map_err(v2_error)?;
    if let Some(operation) = operation {
        state
            .ingest()
            .submit(workspace_id, vec![operation])
            .await
            .map_err(|error| ApiError::from(error).with_shape(Shape::V2))?;
    }
    Ok(Json(json!({})))
}

/// Applies a batch of entity operations
///
/// Every valid operation is applied, in one transaction; invalid ones are reported with their
/// index in a 207 (the first 100, the rest counted in `errors_omitted`).
#[utoipa::path(
    post,
    path = "/api/v2/batch",
    tag = docs::TRACK_V2,
    request_body(
        description = "`batch`: the operations, each as `/api/v2/entity` takes it.",
        content = Value,
        example = json!({"batch": [
            {"type": "person", "action": "identify", "identifiers": {"id": "42"}, "attributes": {"plan": "pro"}},
            {"type": "person", "action": "event", "identifiers": {"id": "42"}, "name": "purchased", "attributes": {"total": 42}},
        ]}),
    ),
    responses(
        (status = 200, description = "Every operation was stored: `{}`.", body = Value, example = json!({})),
        (status = 207, description = "The valid operations were stored; `errors` lists the invalid ones with their `batch_index`.", body = Value,
         example = json!({"errors": [{"reason": "required", "field": "identifiers", "message": "identifiers is required", "batch_index": 1}]})),
        (status = 400, description = "The batch itself is invalid (missing, empty, too large); nothing was stored.", body = docs::Error),
    ),
)]
pub async fn batch(
    State(state): State<AppState>,
    TrackWorkspace(workspace_id): TrackWorkspace,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    // What a batch holds in memory while it waits for the writer is only its operations: the
    // raw body and each decoded item are dropped as soon as they have been read.
    let raw = body;
    let mut body =
        decode(&headers, &raw, limits::MAX_V2_BATCH_BYTES, "/api/v2/batch").map_err(v2_error)?;
    drop(raw);
    let items = match body.shift_remove("batch") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(Value::Array(_)) => {
            return Err(v2_error(ValidationError::new(
                "required",
                Some("batch".to_owned()),
                "batch is empty: send at least one operation",
            )));
        }
        _ => {
            return Err(v2_error(ValidationError::new(
                "required",
                Some("batch".to_owned()),
                "batch is required: send {\"batch\":[operation, …]}",
            )));
        }
    };
    let (operations, errors, omitted) =
        validate_items(items, state.clock().now(), MAX_LISTED_ERRORS);
    if !operations.is_empty() {
        state
            .ingest()
            .submit(workspace_id, operations)
            .await
            .map_err(|error| ApiError::from(error).with_shape(Shape::V2))?;
    }
    if errors.is_empty() {
        return Ok(Json(json!({})).into_response());
    }
    let mut answer = json!({"errors": errors});
    if omitted > 0 {
        // The count lets a client tell a complete list from a cut one without a second request.
        answer["errors_omitted"] = json!(omitted);
        answer["meta"] = json!({"error": format!(
            "{} operations were invalid; the first {MAX_LISTED_ERRORS} are listed",
            errors.len() + omitted
        )});
    }
    Ok((StatusCode::MULTI_STATUS, Json(answer)).into_response())
}

/// Validates a batch's items: the valid operations, and the invalid items' errors by their
/// index, the first `listed` of them, with how many more were left out.
pub(crate) fn validate_items(
    items: Vec<Value>,
    now: herald_domain::UnixSeconds,
    listed: usize,
) -> (Vec<herald_ingest::Operation>, Vec<V2ErrorItem>, usize) {
    let mut operations = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    let mut omitted = 0_usize;
    for (index, item) in items.into_iter().enumerate() {
        match validate_v2::operation(&item, now) {
            Ok(Some(operation)) => operations.push(operation),
            Ok(None) => {}
            Err(_) if errors.len() >= listed => omitted += 1,
            Err(error) => errors.push(V2ErrorItem::from_validation(&error, Some(index))),
        }
    }
    (operations, errors, omitted)
}
