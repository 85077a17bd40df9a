//! Track API v1 handlers (customerio-compat.md §1.5).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_domain::{WorkspaceId, limits};
use herald_ingest::{Operation, validate};
use serde_json::{Value, json};

use crate::auth::TrackWorkspace;
use crate::body::decode;
use crate::error::Shape;
use crate::openapi::docs;
use crate::{ApiError, AppState};

type Answer = Result<Json<Value>, ApiError>;

fn ok() -> Json<Value> {
    Json(json!({}))
}

async fn submit(state: &AppState, workspace_id: WorkspaceId, operation: Operation) -> Answer {
    state.ingest().submit(workspace_id, vec![operation]).await?;
    Ok(ok())
}

fn v1_body(headers: &HeaderMap, body: &Bytes) -> Result<serde_json::Map<String, Value>, ApiError> {
    Ok(decode(
        headers,
        body,
        limits::MAX_V1_BODY_BYTES,
        "the Track API v1",
    )?)
}

/// Creates or updates a person
///
/// Sets the attributes in the body on the person the path names, creating them if they do not
/// exist. A `null` attribute removes it; `cio_relationships` relates the person to objects.
#[utoipa::path(
    put,
    path = "/api/v1/customers/{identifier}",
    tag = docs::TRACK_V1,
    params(("identifier" = String, Path, description = docs::IDENTIFIER)),
    request_body(
        description = "The attributes, as JSON or a form (`application/x-www-form-urlencoded`).",
        content = Value,
        example = json!({"email": "ann@example.com", "plan": "pro", "created_at": 1700000000}),
    ),
    responses(
        (status = 200, description = docs::STORED, body = Value, example = json!({})),
        (status = 400, description = docs::INVALID, body = docs::Error),
    ),
)]
pub async fn identify(
    State(state): State<AppState>,
    TrackWorkspace(workspace_id): TrackWorkspace,
    Path(identifier): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let target = validate::path_identifier(&identifier)?;
    let attributes = v1_body(&headers, &body)?;
    let operation = validate::identify(target, attributes)?;
    submit(&state, workspace_id, operation).await
}

/// Deletes a person
///
/// Deletes the person the path names with their attributes, devices and memberships; a person
/// who does not exist is no error.
#[utoipa::path(
    delete,
    path = "/api/v1/customers/{identifier}",
    tag = docs::TRACK_V1,
    params(("identifier" = String, Path, description = docs::IDENTIFIER)),
    responses(
        (status = 200, description = docs::STORED, body = Value, example = json!({})),
        (status = 400, description = docs::INVALID, body = docs::Error),
    ),
)]
pub async fn delete_customer(
    State(state): State<AppState>,
    TrackWorkspace(workspace_id): TrackWorkspace,
    Path(identifier): Path<String>,
) -> Answer {
    let target = validate::path_identifier(&identifier)?;
    submit(&state, workspace_id, Operation::Delete { target }).await
}

/// Tracks an event of a person
///
/// Records an event (or, with `"type": "page"` or `"screen"`, a page or screen view) for the
/// person the path names. An `id` (a ULID) makes a retried event count once.
#[utoipa::path(
    post,
    path = "/api/v1/customers/{identifier}/events",
    tag = docs::TRACK_V1,
    params(("identifier" = String, Path, description = docs::IDENTIFIER)),
    request_body(
        description = "The event, as JSON or a form.",
        content = Value,
        example = json!({"name": "purchased", "data": {"total": 42}, "timestamp": 1700000000}),
    ),
    responses(
        (status = 200, description = docs::STORED, body = Value, example = json!({})),
        (status = 400, description = docs::INVALID, body = docs::Error),
    ),
)]
pub async fn track(
    State(state): State<AppState>,
    TrackWorkspace(workspace_id): TrackWorkspace,
    Path(identifier): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    // A bad identifier is reported before a bad body, as it always was.
    validate::path_identifier(&identifier)?;
    let body = v1_body(&headers, &body)?;
    let operation = validate::track(&identifier, &body)?;
    submit(&state, workspace_id, operation).await
}

/// Tracks an anonymous or invite event
///
/// An event with an `anonymous_id` is kept until an identify names that id, and then belongs
/// to the person; one without is an invite event (`data.recipient`).
#[utoipa::path(
    post,
    path = "/api/v1/events",
    tag = docs::TRACK_V1,
    request_body(
        description = "The event, as JSON or a form.",
        content = Value,
        example = json!({"name": "viewed_pricing", "anonymous_id": "a4e1c2", "data": {"plan": "pro"}}),
    ),
    responses(
        (status = 200, description = docs::STORED, body = Value, example = json!({})),
        (status = 400, description = docs::INVALID, body = docs::Error),
    ),
)]
pub async fn track_anonymous(
    State(state): State<AppState>,
    TrackWorkspace(workspace_id): TrackWorkspace,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let body = v1_body(&headers, &body)?;
    let operation = validate::anonymous_event(&body)?;
    submit(&state, workspace_id, operation).await
}

/// Adds or updates a device of a person
///
/// Errors of this path list their messages in `meta.errors`, as Customer.io's do.
#[utoipa::path(
    put,
    path = "/api/v1/customers/{identifier}/devices",
    tag = docs::TRACK_V1,
    params(("identifier" = String, Path, description = docs::IDENTIFIER)),
    request_body(
        description = "The device, as JSON or a form.",
        content = Value,
        example = json!({"device": {"id": "f3c0a1b2", "platform": "ios", "last_used": 1700000000}}),
    ),
    responses(
        (status = 200, description = docs::STORED, body = Value, example = json!({})),
        (status = 400, description = docs::INVALID, body = docs::Error),
    ),
)]
pub async fn add_device(
    State(state): State<AppState>,
    TrackWorkspace(workspace_id): TrackWorkspace,
    Path(identifier): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let devices_error = |error: herald_ingest::ValidationError| {
        ApiError::invalid(error).with_shape(Shape::MetaErrors)
    };
    let target = validate::path_identifier(&identifier).map_err(devices_error)?;
    let body = decode(
        &headers,
        &body,
        limits::MAX_V1_BODY_BYTES,
        "the Track API v1",
    )
    .map_err(devices_error)?;
    let device = validate::device(&body, "id").map_err(devices_error)?;
    submit(
        &state,
        workspace_id,
        Operation::AddDevice { target, device },
    )
    .await
}

/// Deletes a device of a person
#[utoipa::path(
    delete,
    path = "/api/v1/customers/{identifier}/devices/{device_id}",
    tag = docs::TRACK_V1,
    params(
        ("identifier" = String, Path, description = docs::IDENTIFIER),
        ("device_id" = String, Path, description = "The device's token."),
    ),
    responses(
        (status = 200, description = docs::STORED, body = Value, example = json!({})),
        (status = 400, description = docs::INVALID, body = docs::Error),
    ),
)]
pub async fn delete_device(
    State(state): State<AppState>,
    TrackWorkspace(workspace_id): TrackWorkspace,
    Path((identifier, device_id)): Path<(String, String)>,
) -> Answer {
    let devices_error = |error| ApiError::invalid(error).with_shape(Shape::MetaErrors);
    let target = validate::path_identifier(&identifier).map_err(devices_error)?;
    validate::no_nul("device_id", &device_id).map_err(devices_error)?;
    let operation = Operation::DeleteDevice {
        target,
        token: device_id,
    };
    submit(&state, workspace_id, operation).await
}

/// Suppresses a person
///
/// Deletes the person and refuses later identifies of the same identifier until it is
/// unsuppressed.
#[utoipa::path(
    post,
    path = "/api/v1/customers/{identifier}/suppress",
    tag = docs::TRACK_V1,
    params(("identifier" = String, Path, description = docs::IDENTIFIER)),
    responses(
        (status = 200, description = docs::STORED, body = Value, example = json!({})),
        (status = 400, description = docs::INVALID, body = docs::Error),
    ),
)]
pub async fn suppress(
    State(state): State<AppState>,
    TrackWorkspace(workspace_id): TrackWorkspace,
    Path(identifier): Path<String>,
) -> Answer {
    let target = validate::path_identifier(&identifier)?;
    submit(&state, workspace_id, Operation::Suppress { target }).await
}

/// Unsuppresses a person
///
/// Lets the identifier be identified again; the person's data deleted at suppression stays
/// gone.
#[utoipa::path(
    post,
    path = "/api/v1/customers/{identifier}/unsuppress",
    tag = docs::TRACK_V1,
    params(("identifier" = String, Path, description = docs::IDENTIFIER)),
    responses(
        (status = 200, description = docs::STORED, body = Value, example = json!({})),
        (status = 400, description = docs::INVALID, body = docs::Error),
    ),
)]
pub async fn unsuppress(
    State(state): State<AppState>,
    TrackWorkspace(workspace_id): TrackWorkspace,
    Path(identifier): Path<String>,
) -> Answer {
    let target = validate::path_identifier(&identifier)?;
    submit(&state, workspace_id, Operation::Unsuppress { target }).await
}

/// Merges two people
///
/// The secondary person's attributes, events, devices and relationships move to the primary
/// (whose own attributes win), and the secondary is deleted.
#[utoipa::path(
    post,
    path = "/api/v1/merge_customers",
    tag = docs::TRACK_V1,
    request_body(
        description = "The two people, each named by one of `id`, `email` or `cio_id`.",
        content = Value,
        example = json!({"primary": {"id": "42"}, "secondary": {"email": "ann@example.com"}}),
    ),
    responses(
        (status = 200, description = docs::STORED, body = Value, example = json!({})),
        (status = 400, description = docs::INVALID, body = docs::Error),
    ),
)]
pub async fn merge(
    State(state): State<AppState>,
    TrackWorkspace(workspace_id): TrackWorkspace,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let body = v1_body(&headers, &body)?;
    let operation = validate::merge(&body)?;
    submit(&state, workspace_id, operation).await
}

/// Reports a metric of a delivery
///
/// Records a delivery metric (`opened`, `clicked`, `converted`, `delivered`, …) of a message
/// Herald sent. The report takes the Track API credentials of the delivery's workspace, or,
/// without credentials, the delivery's token (the message's `CIO-Delivery-Token`) as
/// `delivery_token`.
#[utoipa::path(
    post,
    path = "/api/v1/metrics",
    tag = docs::TRACK_V1,
    security(("track_basic" = []), ()),
    request_body(
        description = "The metric, as JSON or a form.",
        content = Value,
        example = json!({"delivery_id": "01J8ZQ3V9YH0C5XW7M2D4K6F1B", "metric": "opened", "timestamp": 1700000000}),
    ),
    responses(
        (status = 200, description = docs::STORED, body = Value, example = json!({})),
        (status = 400, description = docs::INVALID, body = docs::Error),
        (status = 404, description = "No such delivery was sent from this workspace (`unknown_delivery`).", body = docs::Error),
        (status = 409, description = "The delivery was never sent (`delivery_not_sent`).", body = docs::Error),
    ),
)]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    let body = v1_body(&headers, &body)?;
    let operation = validate::metric(&body, state.clock().now())?;
    report_metric(&state, &headers, &body, operation).await
}

/// Reports a push metric
///
/// Deprecated by Customer.io and still used by its mobile SDKs, which send the push's
/// `CIO-Delivery-Token` as `device_id`: that token, or the Track API credentials of the
/// delivery's workspace, proves the report.
#[utoipa::path(
    post,
    path = "/api/v1/push/events",
    tag = docs::TRACK_V1,
    security(("track_basic" = []), ()),
    request_body(
        description = "The push event, as JSON or a form.",
        content = Value,
        example = json!({"delivery_id": "01J8ZQ3V9YH0C5XW7M2D4K6F1B", "event": "opened", "device_id": "<CIO-Delivery-Token>", "timestamp": 1700000000}),
    ),
    responses(
        (status = 200, description = docs::STORED, body = Value, example = json!({})),
        (status = 400, description = docs::INVALID, body = docs::Error),
        (status = 404, description = "No such delivery was sent from this workspace (`unknown_delivery`).", body = docs::Error),
        (status = 409, description = "The delivery was never sent (`delivery_not_sent`).", body = docs::Error),
    ),
)]
pub async fn push_events(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    let body = v1_body(&headers, &body)?;
    let operation = validate::push_event(&body, state.clock().now())?;
    report_metric(&state, &headers, &body, operation).await
}

/// The body fields a delivery token may come in: Herald's own name, and the one Customer.io's
/// mobile SDKs fill with the push's `CIO-Delivery-Token`.
const TOKEN_FIELDS: [&str; 2] = ["delivery_token", "device_id"];

/// Records a delivery metric for whoever may report it. The delivery id alone is not enough,
/// because it travels in places (webhook bodies, links) others can read: the report must carry
/// the Track API credentials of the workspace that sent the delivery, or the delivery's token,
/// which only the message itself carries. A metric also needs a delivery that was sent.
async fn report_metric(
    state: &AppState,
    headers: &HeaderMap,
    body: &serde_json::Map<String, Value>,
    operation: Operation,
) -> Answer {
    let Operation::Metric(mut metric) = operation else {
        return Err(ApiError::bad_request("not a delivery metric"));
    };
    // A wrong Authorization header is tolerated when the token proves the report: clients send
    // whatever credentials they were built with to these endpoints.
    let workspace = match crate::auth::authorization(headers) {
        Some(_) => match crate::auth::track_workspace(headers, state).await {
            Ok(workspace) => Some(workspace),
            Err(error) if error.status == StatusCode::TOO_MANY_REQUESTS => return Err(error),
            Err(_) => None,
        },
        None => None,
    };
    let key = &state.campaigns().tracking_key;
    let signed = TOKEN_FIELDS.iter().any(|field| {
        body.get(*field)
            .and_then(Value::as_str)
            .is_some_and(|token| {
                herald_delivery::verify_delivery_token(key, &metric.delivery_id, token)
            })
    });
    if workspace.is_none() && !signed {
        return Err(ApiError::unauthorized(
            "reporting a delivery metric takes your Track API credentials (HTTP Basic auth) or the \
             delivery's token (the message's CIO-Delivery-Token, sent as delivery_token)",
        ));
    }
    let delivery_id = metric.delivery_id.clone();
    let delivery = state
        .store()
        .read(move |reader| reader.delivery(&delivery_id))
        .await?
        .filter(|delivery| signed || workspace == Some(delivery.workspace_id))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_delivery",
                format!(
                    "no delivery {:?} was sent from this workspace",
                    metric.delivery_id
                ),
            )
        })?;
    if !herald_ingest::metrics::reportable(&delivery) {
        let why = if delivery.status == herald_store::DeliveryStatus::Queued {
            "waits for a retry after a failed attempt"
        } else {
            "failed"
        };
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "delivery_not_sent",
            format!(
                "delivery {} was never sent (it {why}): metrics apply to messages that were sent",
                delivery.id
            ),
        ));
    }
    // The token proved the report; it is not part of what was reported.
    if let Value::Object(data) = &mut metric.data {
        data.shift_remove("delivery_token");
    }
    submit(state, delivery.workspace_id, Operation::Metric(metric)).await
}

/// This server's region
///
/// Answers this server's own base URL, so that clients that look their region up keep
/// talking to Herald.
#[utoipa::path(
    get,
    path = "/api/v1/accounts/region",
    tag = docs::TRACK_V1,
    responses(
        (status = 200, description = "The region and this server's URLs.", body = Value,
         example = json!({"url": "http://127.0.0.1:8080", "region": "us", "environment_id": 1})),
    ),
)]
pub async fn region(
    State(state): State<AppState>,
    TrackWorkspace(workspace_id): TrackWorkspace,
    headers: HeaderMap,
) -> Answer {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("127.0.0.1");
    let scheme = if state.info().tls { "https" } else { "http" };
    Ok(Json(json!({
        "url": format!("{scheme}://{host}"),
        "region": "us",
        "environment_id": workspace_id,
    })))
}

/// Submits a form
///
/// Records a form submission: `data` identifies the person (by `email` or `id`) and sets the
/// attributes it holds. Errors list their messages in `meta.errors`.
#[utoipa::path(
    post,
    path = "/api/v1/forms/{form_id}/submit",
    tag = docs::TRACK_V1,
    params(("form_id" = String, Path, description = "The form's id, of your choosing.")),
    request_body(
        description = "The form's fields, as JSON or a form.",
        content = Value,
        example = json!({"data": {"email": "ann@example.com", "first_name": "Ann"}}),
    ),
    responses(
        (status = 204, description = "Stored."),
        (status = 400, description = docs::INVALID, body = docs::Error),
    ),
)]
pub async fn submit_form(
    State(state): State<AppState>,
    TrackWorkspace(workspace_id): TrackWorkspace,
    Path(form_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let forms_error = |error: herald_ingest::ValidationError| {
        ApiError::invalid(error).with_shape(Shape::MetaErrors)
    };
    let body = decode(
        &headers,
        &body,
        limits::MAX_V1_BODY_BYTES,
        "the Track API v1",
    )
    .map_err(forms_error)?;
    let operation = validate::form_submit(&form_id, &body).map_err(forms_error)?;
    state.ingest().submit(workspace_id, vec![operation]).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
