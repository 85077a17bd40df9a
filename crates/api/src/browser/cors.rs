//! Cross-origin rules of the browser endpoints.
//!
//! Pages call from their own origin with `credentials: 'omit'`, so the answer never allows
//! credentials. A refused origin gets a 403 and no CORS headers: the check runs before the
//! handler, so a request from a refused page writes nothing even when the browser sends it
//! without a preflight (a `text/plain` POST or a beacon).

use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::settings::AllowedOrigins;
use crate::ApiError;

/// How long a browser may reuse a preflight answer; Chromium caps it at two hours.
const PREFLIGHT_MAX_AGE_SECONDS: u32 = 7200;

/// The `Access-Control-Allow-Origin` value a request gets, or the 403 that refuses it.
pub fn allow_origin(
    allowed: &AllowedOrigins,
    headers: &HeaderMap,
) -> Result<HeaderValue, ApiError> {
    let origin = headers.get(ORIGIN);
    match allowed {
        AllowedOrigins::Any => Ok(HeaderValue::from_static("*")),
        AllowedOrigins::List(_) => {
            let Some(origin) = origin else {
                return Err(refused(
                    "this server takes browser requests only from its allowed origins, and the request has no Origin header",
                ));
            };
            match origin.to_str() {
                Ok(text) if allowed.allows(text) => Ok(origin.clone()),
                Ok(text) => Err(refused(format!(
                    "the origin {text} is not allowed to send to this server (see --browser-allowed-origins)"
                ))),
                Err(_) => Err(refused("the Origin header is not readable")),
            }
        }
    }
}

fn refused(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "origin_not_allowed", message)
}

/// Answers a preflight: POST with a `Content-Type` header, which is all the tracker needs.
pub fn preflight(origin: HeaderValue) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST"),
    );
    headers.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type"),
    );
    headers.insert(
        ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from(PREFLIGHT_MAX_AGE_SECONDS),
    );
    decorate(&mut response, origin);
    response
}

/// Adds the CORS headers of an actual response, errors included: a page must be able to read
/// a 400's message and a 429's `Retry-After`.
pub fn decorate(response: &mut Response, origin: HeaderValue) {
    let echoed = origin.as_bytes() != b"*";
    let headers = response.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("retry-after"),
    );
    // An answer naming one origin must not be cached for another.
    if echoed {
        headers.append(VARY, HeaderValue::from_static("origin"));
    }
}
