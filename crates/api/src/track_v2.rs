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
use crate::{ApiError, AppState};

/// The most errors a 207 lists: a batch of many small bad operations would otherwise get an
/// answer many times its own size. The rest are counted in `errors_omitted`.
pub const MAX_LISTED_ERRORS: usize = 100;

fn v2_error(error: ValidationError) -> ApiError {
    ApiError::invalid(error).with_shape(Shape::V2)
}

/// `POST /api/v2/entity`.
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

/// `POST /api/v2/batch`: every valid operation is applied (in one transaction); invalid ones are
/// reported with their index in a 207.
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
    let now = state.clock().now();
    let mut operations = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    let mut omitted = 0_usize;
    for (index, item) in items.into_iter().enumerate() {
        match validate_v2::operation(&item, now) {
            Ok(Some(operation)) => operations.push(operation),
            Ok(None) => {}
            Err(_) if errors.len() >= MAX_LISTED_ERRORS => omitted += 1,
            Err(error) => errors.push(V2ErrorItem::from_validation(&error, Some(index))),
        }
    }
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
