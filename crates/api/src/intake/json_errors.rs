//! Error answers in the API's JSON shape, whoever produced them.
//!
//! Handlers answer through [`ApiError`], but axum's own rejections (a path that is not valid
//! UTF-8, a query that does not parse, a method the route does not take) answer in plain text
//! or with no body at all. Clients parse every error body as JSON (the Node client throws
//! "Unable to parse JSON" otherwise), so such answers are rewritten here, keeping their status
//! and their text as the message.

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use super::admission::shape_of;
use crate::ApiError;

/// The longest plain-text error body that is carried over into the JSON message.
const MAX_MESSAGE_BYTES: usize = 4096;

pub(crate) async fn json_errors(request: Request, next: Next) -> Response {
    // Both clones are reference counts, not copies: this runs for every request.
    let method = request.method().clone();
    let uri = request.uri().clone();
    let response = next.run(request).await;
    if !needs_rewrite(&response) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match http_body_util::Limited::new(body, MAX_MESSAGE_BYTES)
        .collect()
        .await
    {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes())
            .trim()
            .to_owned(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() {
        default_message(
            parts.status,
            &method,
            uri.path(),
            parts.headers.get(header::ALLOW),
        )
    } else {
        unparsed_path_part(&text)
            .map(|part| {
                format!(
                    "{}: {part:?} is where a number (an id) is expected",
                    uri.path()
                )
            })
            .unwrap_or(text)
    };
    let error = ApiError::new(parts.status, code_of(parts.status), message)
        .with_shape(shape_of(uri.path()));
    let mut rewritten = error.into_response();
    // Headers that describe the answer rather than its body (Allow, Retry-After, Connection)
    // are kept.
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rewritten
}

/// Whether an answer is an error without a JSON (or deliberately HTML) body.
fn needs_rewrite(response: &Response) -> bool {
    if !(response.status().is_client_error() || response.status().is_server_error()) {
        return false;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    !(content_type.starts_with("application/json") || content_type.starts_with("text/html"))
}

fn default_message(
    status: StatusCode,
    method: &Method,
    path: &str,
    allow: Option<&HeaderValue>,
) -> String {
    match status {
        // The router adds `Allow` after this middleware has run, so it is usually not here yet.
        StatusCode::METHOD_NOT_ALLOWED => match allow.and_then(|value| value.to_str().ok()) {
            Some(allowed) => format!("{path} does not take {method}; it takes {allowed}"),
            None => format!("{path} does not take {method}; the Allow header lists what it takes"),
        },
        other => other
            .canonical_reason()
            .unwrap_or("request failed")
            .to_lowercase(),
    }
}

/// The part of the path that axum's rejection of a path parameter names ("Invalid URL: Cannot
/// parse `abc` to a `i64`", or "… with value `abc` to a `i64`" for one of several): its text
/// speaks of Rust's types, so the message is rewritten for the client.
pub(crate) fn unparsed_path_part(text: &str) -> Option<&str> {
    let rest = text.split_once("Cannot parse ")?.1;
    let rest = rest
        .split_once("with value ")
        .map_or(rest, |(_, value)| value);
    let value = rest.strip_prefix('`')?;
    let (value, tail) = value.rsplit_once("` to a `")?;
    tail.ends_with('`').then_some(value)
}

/// The stable code of an answer that only has a status.
pub(crate) fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "invalid_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "body_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::URI_TOO_LONG => "uri_too_long",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        status if status.is_server_error() => "internal",
        _ => "invalid_request",
    }
}

/// A body-less answer (used in tests).
#[cfg(test)]
fn plain(status: StatusCode, text: &'static str) -> Response {
    (status, axum::body::Body::from(text)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_part_that_is_no_number_is_named_without_rust_types() {
        assert_eq!(
            unparsed_path_part("Invalid URL: Cannot parse `abc` to a `i64`"),
            Some("abc")
        );
        assert_eq!(
            unparsed_path_part(
                "Invalid URL: Cannot parse value at index 1 with value `a`b` to a `u64`"
            ),
            Some("a`b")
        );
        assert_eq!(unparsed_path_part("Invalid URL: something else"), None);
    }

    #[test]
    fn only_non_json_errors_are_rewritten() {
        assert!(needs_rewrite(&plain(
            StatusCode::BAD_REQUEST,
            "Invalid URL"
        )));
        assert!(needs_rewrite(
            &StatusCode::METHOD_NOT_ALLOWED.into_response()
        ));
        assert!(!needs_rewrite(&plain(StatusCode::OK, "ok")));
        let json = ApiError::bad_request("x").into_response();
        assert!(!needs_rewrite(&json));
        let html = (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<p>gone</p>",
        )
            .into_response();
        assert!(!needs_rewrite(&html));
    }
}
