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

/// `PUT /api/v1/customers/{identifier}`.
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

/// `DELETE /api/v1/customers/{identifier}`.
pub async fn delete_customer(
    State(state): State<AppState>,
    TrackWorkspace(workspace_id): TrackWorkspace,
    Path(identifier): Path<String>,
) -> Answer {
    let target = validate::path_identifier(&identifier)?;
    submit(&state, workspace_id, Operation::Delete { target }).await
}

/// `POST /api/v1/customers/{identifier}/events`.
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

/// `POST /api/v1/events`: anonymous and invite events.
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

/// `PUT /api/v1/customers/{identifier}/devices`.
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

/// `DELETE /api/v1/customers/{identifier}/devices/{device_id}`.
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

/// `POST /api/v1/customers/{identifier}/suppress`.
pub async fn suppress(
    State(state): State<AppState>,
    TrackWorkspace(workspace_id): TrackWorkspace,
    Path(identifier): Path<String>,
) -> Answer {
    let target = validate::path_identifier(&identifier)?;
    submit(&state, workspace_id, Operation::Suppress { target }).await
}

/// `POST /api/v1/customers/{identifier}/unsuppress`.
pub async fn unsuppress(
    State(state): State<AppState>,
    TrackWorkspace(workspace_id): TrackWorkspace,
    Path(identifier): Path<String>,
) -> Answer {
    let target = validate::path_identifier(&identifier)?;
    submit(&state, workspace_id, Operation::Unsuppress { target }).await
}

/// `POST /api/v1/merge_customers`.
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

/// `POST /api/v1/metrics`: Track API credentials or the delivery's token.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    let body = v1_body(&headers, &body)?;
    let operation = validate::metric(&body, state.clock().now())?;
    report_metric(&state, &headers, &body, operation).await
}

/// `POST /api/v1/push/events` (deprecated by Customer.io, still used by mobile SDKs, which send
/// the push's `CIO-Delivery-Token` as `device_id`).
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

/// `GET /api/v1/accounts/region`: this server's own base URL, so clients that look their region
/// up keep talking to Herald.
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

/// `POST /api/v1/forms/{form_id}/submit`: 204, errors as `{"meta":{"errors":[…]}}`.
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
