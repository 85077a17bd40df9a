//! The admission middleware: bounded work in progress, then the body, read whole within its
//! size limit and deadline before the handler runs.
//!
//! A request is refused before any of its body is read when the server already holds as many
//! requests or as many body bytes as it allows, so a flood costs the server an answer per
//! request and nothing more, and the refused client learns at once when to retry. The permits
//! are held until the answer is ready: a body's bytes from when it starts to arrive, a
//! request's from when its body has arrived (so that slow senders cannot hold them all), which
//! covers the body's decoding, its validation and the wait for the writer's commit: the memory
//! and the queued writer work of requests in progress are bounded by the same budget.
//! `/healthz` passes without a permit, so a liveness probe answers however busy the server is.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::error::Shape;
use crate::intake::Intake;
use crate::{ApiError, AppState, MAX_BODY_BYTES};

/// Longest request target (path and query) served; longer ones are answered 414. Identifiers in
/// paths are at most 150 bytes, so this leaves ample room.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// How long a refused client is told to wait before it retries.
const RETRY_AFTER_SECONDS: u64 = 1;

/// Runs a request through the limits; see the module documentation.
pub(crate) async fn admit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let shape = shape_of(request.uri().path());
    let target_length = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if target_length > MAX_URI_BYTES {
        return refuse(
            ApiError::new(
                StatusCode::URI_TOO_LONG,
                "uri_too_long",
                format!(
                    "the request target is {target_length} bytes; Herald serves targets of at most {MAX_URI_BYTES} bytes"
                ),
            ),
            shape,
        );
    }
    // The liveness probe does no work to bound, and a probe refused under load would have the
    // server restarted just when it is busy.
    if request.uri().path() == "/healthz" {
        return next.run(request).await;
    }
    let intake = state.intake();
    let declared = match declared_length(request.headers()) {
        Ok(declared) => declared,
        Err(error) => return refuse(error, shape),
    };
    if declared == Some(0) {
        let Ok(_request_permit) = intake.requests.clone().try_acquire_owned() else {
            return refuse_overloaded(request, intake).await;
        };
        return next.run(request).await;
    }
    // A request's permit is held from when its body has arrived, not while it arrives: clients
    // that send their bodies slowly (or never finish them) would otherwise hold every permit
    // for the body's deadline and shut out everyone else. While bodies arrive they are bounded
    // by the body budget below. A server already at its limit still refuses at once.
    if intake.requests.available_permits() == 0 {
        return refuse_overloaded(request, intake).await;
    }
    if let Some(length) = declared
        && length > MAX_BODY_BYTES as u64
    {
        return refuse(too_large(length), shape);
    }
    // A body of unknown length is charged as the largest one allowed until it has been read.
    let budget = intake.settings.max_body_bytes.max(1);
    let charge = declared
        .map_or(MAX_BODY_BYTES, |length| length as usize)
        .min(budget);
    let Ok(mut body_permit) = intake
        .body_bytes
        .clone()
        .try_acquire_many_owned(u32::try_from(charge).unwrap_or(u32::MAX))
    else {
        return refuse(
            overloaded("the server holds as many request bodies as it allows"),
            shape,
        );
    };
    let (mut parts, body) = request.into_parts();
    let mut bytes = match read_body(body, intake.settings.body_read_timeout).await {
        Ok(bytes) => bytes,
        Err(error) => return refuse(error, shape),
    };
    let mut held = charge;
    if declared.is_none() {
        // Give back what the body turned out not to need.
        held = bytes.len().min(charge);
        drop(body_permit.split(charge - held));
    }
    match super::encoding::decoded(&parts.headers, &bytes) {
        Ok(None) => {}
        Ok(Some(plain)) => {
            // The decompressed body is what is held from here on: its bytes are charged too.
            let more = u32::try_from(plain.len().saturating_sub(held)).unwrap_or(u32::MAX);
            match intake.body_bytes.clone().try_acquire_many_owned(more) {
                Ok(extra) => body_permit.merge(extra),
                Err(_) => {
                    return refuse(
                        overloaded("the server holds as many request bodies as it allows"),
                        shape,
                    );
                }
            }
            parts.headers.remove(header::CONTENT_ENCODING);
            parts.headers.remove(header::CONTENT_LENGTH);
            bytes = plain;
        }
        Err(error) => return refuse(error, shape),
    }
    let Ok(_request_permit) = intake.requests.clone().try_acquire_owned() else {
        return refuse(
            overloaded("the server is handling as many requests as it allows"),
            shape,
        );
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

async fn refuse_overloaded(request: Request, intake: &Intake) -> Response {
    let shape = shape_of(request.uri().path());
    let error = overloaded("the server is handling as many requests as it allows");
    refuse_keeping_small(request, error, shape, intake.settings.body_read_timeout).await
}

/// Reads the `Content-Length` header: `None` when the body's length is not declared (chunked).
fn declared_length(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(header::CONTENT_LENGTH) else {
        let chunked = headers.contains_key(header::TRANSFER_ENCODING);
        return Ok(if chunked { None } else { Some(0) });
    };
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| ApiError::bad_request("the Content-Length header is not a number"))
}

async fn read_body(body: Body, deadline: Duration) -> Result<Bytes, ApiError> {
    let limited = Limited::new(body, MAX_BODY_BYTES);
    match tokio::time::timeout(deadline, limited.collect()).await {
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!(
                "the request body did not arrive within {} seconds",
                deadline.as_secs_f64()
            ),
        )),
        Ok(Err(error)) if error.downcast_ref::<LengthLimitError>().is_some() => {
            Err(too_large(MAX_BODY_BYTES as u64 + 1))
        }
        Ok(Err(error)) => Err(ApiError::bad_request(format!(
            "the request body could not be read: {error}"
        ))),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

fn too_large(length: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!(
            "the request body is {length} bytes or more; Herald reads bodies of at most {MAX_BODY_BYTES} bytes"
        ),
    )
}

fn overloaded(why: &str) -> ApiError {
    ApiError {
        retry_after: Some(RETRY_AFTER_SECONDS),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            format!("{why}; retry in {RETRY_AFTER_SECONDS} second"),
        )
    }
}

/// The largest body read and dropped to keep the connection of a refused request open.
const MAX_DRAINED_BYTES: u64 = 64 * 1024;

/// Refuses a request, keeping its connection open when that is cheap: a request without a body
/// or with a small one (read and dropped) leaves the connection ready for the client's retry,
/// where closing it would cost a new connection per refusal and, under a flood of single
/// events, more than the refusals themselves.
async fn refuse_keeping_small(
    request: Request,
    error: ApiError,
    shape: Shape,
    deadline: Duration,
) -> Response {
    let small = matches!(declared_length(request.headers()), Ok(Some(length)) if length <= MAX_DRAINED_BYTES);
    if small && read_body(request.into_body(), deadline).await.is_ok() {
        return error.with_shape(shape).into_response();
    }
    refuse(error, shape)
}

/// Answers a request the limits refuse. The connection is closed, because what is left of the
/// body (unread on purpose) would otherwise have to be read before the next request.
fn refuse(error: ApiError, shape: Shape) -> Response {
    let mut response = error.with_shape(shape).into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The error shape the route's clients parse: Track v2 clients read `errors`.
pub(crate) fn shape_of(path: &str) -> Shape {
    if path.starts_with("/api/v2/") {
        Shape::V2
    } else {
        Shape::MetaError
    }
}
