//! Data Pipelines API handlers (customerio-compat.md §6.4): `POST /v1/identify`, `/v1/track`,
//! `/v1/page`, `/v1/screen`, `/v1/alias`, `/v1/group` and `/v1/batch`, with Basic auth
//! `write_key:`.
//!
//! Customer.io answers 200 to a call it cannot process and drops it, unless the request says
//! `X-Strict-Mode: 1`, which turns every such drop into an error. Herald does the same, and
//! says in the 200's body what it dropped and why (`dropped`), so that a developer reading the
//! answer, or the server's log, can see it. In strict mode a request with any bad call is
//! refused whole (400) and nothing of it is stored.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_domain::{WorkspaceId, limits};
use herald_ingest::{Operation, ValidationError, validate_pipelines};
use serde_json::{Value, json};

use crate::auth::PipelinesWorkspace;
use crate::body::decode;
use crate::error::{Shape, V2ErrorItem};
use crate::openapi::docs;
use crate::track_v2::MAX_LISTED_ERRORS;
use crate::{ApiError, AppState};

/// Whether the request asks for real errors instead of silent drops.
fn strict(headers: &HeaderMap) -> bool {
    headers
        .get("x-strict-mode")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| matches!(value.trim(), "1" | "true"))
}

fn pipelines_error(error: ValidationError) -> ApiError {
    ApiError::invalid(error).with_shape(Shape::Pipelines)
}

/// Checks the size of one call of a batch, as its JSON text.
fn call_size(call: &Value) -> Result<(), ValidationError> {
    let size = serde_json::to_vec(call).map_or(usize::MAX, |bytes| bytes.len());
    if size > limits::MAX_PIPELINES_CALL_BYTES {
        return Err(ValidationError::new(
            "too_large",
            None,
            format!(
                "the call is {size} bytes; a call takes at most {} bytes",
                limits::MAX_PIPELINES_CALL_BYTES
            ),
        ));
    }
    Ok(())
}

/// Stores what was valid and answers: 200 `{}`, or 200 listing what was dropped; in strict
/// mode, any problem is a 400 and nothing is stored.
async fn finish(
    state: &AppState,
    workspace_id: WorkspaceId,
    strict: bool,
    operations: Vec<Operation>,
    problems: Vec<V2ErrorItem>,
    omitted: usize,
) -> Result<Response, ApiError> {
    if strict && !problems.is_empty() {
        let count = problems.len() + omitted;
        let first = problems[0].message.clone();
        let message = if count == 1 {
            first
        } else {
            format!("{count} calls were invalid; the first: {first}")
        };
        return Err(ApiError {
            items: problems,
            ..ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
                .with_shape(Shape::Pipelines)
        });
    }
    if !operations.is_empty() {
        state
            .ingest()
            .submit(workspace_id, operations)
            .await
            .map_err(|error| ApiError::from(error).with_shape(Shape::Pipelines))?;
    }
    if problems.is_empty() {
        return Ok(Json(json!({})).into_response());
    }
    tracing::warn!(
        workspace = %workspace_id,
        dropped = problems.len() + omitted,
        first = %problems[0].message,
        "Data Pipelines calls dropped (send X-Strict-Mode: 1 to have them refused)"
    );
    let mut answer = json!({"dropped": problems});
    if omitted > 0 {
        answer["dropped_omitted"] = json!(omitted);
    }
    Ok(Json(answer).into_response())
}

/// One call of the type its path names.
async fn single(
    state: &AppState,
    workspace_id: WorkspaceId,
    kind: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let strict = strict(headers);
    let problem = |error: &ValidationError| vec![V2ErrorItem::from_validation(error, None)];
    // A call over the limit is a drop, as at Customer.io, not a malformed request.
    if body.len() > limits::MAX_PIPELINES_CALL_BYTES {
        let error = ValidationError::new(
            "too_large",
            None,
            format!(
                "request body is {} bytes; a Data Pipelines call takes at most {} bytes",
                body.len(),
                limits::MAX_PIPELINES_CALL_BYTES
            ),
        );
        return finish(state, workspace_id, strict, Vec::new(), problem(&error), 0).await;
    }
    let call = decode(headers, body, usize::MAX, "/v1/").map_err(pipelines_error)?;
    match validate_pipelines::call(Some(kind), &Value::Object(call), None, state.clock().now()) {
        Ok(operation) => finish(state, workspace_id, strict, vec![operation], Vec::new(), 0).await,
        Err(error) => finish(state, workspace_id, strict, Vec::new(), problem(&error), 0).await,
    }
}

/// What the answer of a call says, for the OpenAPI document.
const CALL_ANSWER: &str = "Taken: `{}` when it was stored, or `{\"dropped\": [{reason, field, \
                           message}]}` when Herald could not take it (nothing stored), as \
                           Customer.io answers 200 to a call it drops.";
const STRICT_ANSWER: &str = "With `X-Strict-Mode: 1`, a call Herald cannot take; nothing was \
                             stored. Without it, only a body that is not JSON.";

macro_rules! call_handler {
    ($name:ident, $kind:literal, $summary:literal, $description:literal, $example:tt) => {
        #[doc = $summary]
        #[doc = ""]
        #[doc = $description]
        #[utoipa::path(
            post,
            path = concat!("/v1/", $kind),
            tag = docs::PIPELINES,
            params(("X-Strict-Mode" = Option<String>, Header, description = "`1` or `true`: refuse, with a 400, a request with any call Herald cannot take, instead of dropping it.")),
            request_body(content = Value, description = "The call, in Segment's spec.", example = json!($example)),
            responses(
                (status = 200, description = CALL_ANSWER, body = Value, example = json!({})),
                (status = 400, description = STRICT_ANSWER, body = docs::Error),
            ),
        )]
        pub async fn $name(
            State(state): State<AppState>,
            PipelinesWorkspace(workspace_id): PipelinesWorkspace,
            headers: HeaderMap,
            body: Bytes,
        ) -> Result<Response, ApiError> {
            single(&state, workspace_id, $kind, &headers, &body).await
        }
    };
}

call_handler!(
    identify,
    "identify",
    "Identifies a person",
    "Sets `traits` on the person named by `userId` (or, without one, on the anonymous \
     `anonymousId`, kept until an identify names both).",
    {"userId": "42", "traits": {"email": "ann@example.com", "plan": "pro"}}
);
call_handler!(
    track,
    "track",
    "Tracks an event",
    "Records the event `event` with its `properties` for `userId` or `anonymousId`.",
    {"userId": "42", "event": "purchased", "properties": {"total": 42}}
);
call_handler!(
    page,
    "page",
    "Tracks a page view",
    "Records a page view named `name` (or the page's URL) with its `properties`.",
    {"userId": "42", "name": "/pricing", "properties": {"url": "https://example.com/pricing"}}
);
call_handler!(
    screen,
    "screen",
    "Tracks a screen view",
    "Records a mobile screen view named `name` with its `properties`.",
    {"userId": "42", "name": "Settings"}
);
call_handler!(
    alias,
    "alias",
    "Merges two identities",
    "Merges the person `previousId` into the person `userId`.",
    {"userId": "42", "previousId": "ann@example.com"}
);
call_handler!(
    group,
    "group",
    "Relates a person to an object",
    "Relates `userId` to the object `groupId` (of `objectTypeId`, `1` by default), setting the \
     object's `traits`.",
    {"userId": "42", "groupId": "acme", "traits": {"name": "Acme"}}
);

/// Sends several calls at once
///
/// `{"batch":[call, …], "context"?, "integrations"?}`, each call with its `type`; the top-level
/// `context` applies to every call without one. Valid calls are stored in one transaction;
/// those Herald cannot take are listed in `dropped` with their `batch_index`.
#[utoipa::path(
    post,
    path = "/v1/batch",
    tag = docs::PIPELINES,
    params(("X-Strict-Mode" = Option<String>, Header, description = "`1` or `true`: refuse, with a 400, a request with any call Herald cannot take, instead of dropping it.")),
    request_body(content = Value, description = "The calls.", example = json!({"batch": [
        {"type": "identify", "userId": "42", "traits": {"plan": "pro"}},
        {"type": "track", "userId": "42", "event": "purchased", "properties": {"total": 42}},
    ]})),
    responses(
        (status = 200, description = CALL_ANSWER, body = Value, example = json!({})),
        (status = 400, description = STRICT_ANSWER, body = docs::Error),
    ),
)]
pub async fn batch(
    State(state): State<AppState>,
    PipelinesWorkspace(workspace_id): PipelinesWorkspace,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let strict = strict(&headers);
    let raw = body;
    if raw.len() > limits::MAX_PIPELINES_BATCH_BYTES {
        let error = ValidationError::new(
            "too_large",
            None,
            format!(
                "request body is {} bytes; a batch takes at most {} bytes",
                raw.len(),
                limits::MAX_PIPELINES_BATCH_BYTES
            ),
        );
        let problems = vec![V2ErrorItem::from_validation(&error, None)];
        return finish(&state, workspace_id, strict, Vec::new(), problems, 0).await;
    }
    let mut body = decode(&headers, &raw, usize::MAX, "/v1/batch").map_err(pipelines_error)?;
    drop(raw);
    let calls = match body.shift_remove("batch") {
        Some(Value::Array(calls)) => calls,
        _ => {
            return Err(pipelines_error(ValidationError::new(
                "required",
                Some("batch".to_owned()),
                "batch is required: send {\"batch\":[{\"type\":\"track\", …}, …]}",
            )));
        }
    };
    let context = body.get("context").filter(|context| context.is_object());
    let now = state.clock().now();
    let mut operations = Vec::with_capacity(calls.len());
    let mut problems = Vec::new();
    let mut omitted = 0_usize;
    for (index, call) in calls.iter().enumerate() {
        let checked =
            call_size(call).and_then(|()| validate_pipelines::call(None, call, context, now));
        match checked {
            Ok(operation) => operations.push(operation),
            Err(_) if problems.len() >= MAX_LISTED_ERRORS => omitted += 1,
            Err(error) => problems.push(V2ErrorItem::from_validation(&error, Some(index))),
        }
    }
    finish(&state, workspace_id, strict, operations, problems, omitted).await
}
