//! `GET /assets/track.js`: the browser tracker, served from the binary.

use std::sync::LazyLock;

use axum::http::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_ingest::workspaces::hash_key;

use crate::openapi::docs;

/// The source, with comments that explain it.
const TRACK_JS_SOURCE: &str = include_str!("../assets/track.js");

/// The snippet's URL never changes, so caches keep the script for an hour and then revalidate
/// it cheaply with the ETag; a new Herald version reaches pages within the hour.
const CACHE_CONTROL_VALUE: &str = "public, max-age=3600";

struct Served {
    body: String,
    etag: HeaderValue,
}

static TRACK_JS: LazyLock<Served> = LazyLock::new(|| {
    let body = strip_comments(TRACK_JS_SOURCE);
    let etag = format!("\"{}\"", &hash_key(&body)[..20]);
    Served {
        etag: HeaderValue::from_str(&etag).unwrap_or_else(|_| HeaderValue::from_static("\"0\"")),
        body,
    }
});

/// Drops comment lines, blank lines and indentation. The source keeps its comments on lines of
/// their own and no string across lines, so this changes no code; line breaks stay, so
/// automatic semicolon insertion reads the code as before.
fn strip_comments(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for line in source.lines().map(str::trim) {
        if !line.is_empty() && !line.starts_with("//") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The browser tracker
///
/// `track.js`, served from the binary with an ETag and a one-hour cache; it keeps
/// Customer.io's `_cio` queue API.
#[utoipa::path(
    get,
    path = "/assets/track.js",
    tag = docs::BROWSER,
    params(("If-None-Match" = Option<String>, Header, description = "The ETag of a cached copy.")),
    responses(
        (status = 200, description = "The script.", content_type = "text/javascript", body = String),
        (status = 304, description = "The cached copy is current."),
    ),
)]
pub async fn track_js(headers: HeaderMap) -> Response {
    let served = &*TRACK_JS;
    let fresh = headers
        .get(IF_NONE_MATCH)
        .is_some_and(|value| value.as_bytes() == served.etag.as_bytes());
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        served.body.clone().into_response()
    };
    let out = response.headers_mut();
    out.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    out.insert(CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL_VALUE));
    out.insert(ETAG, served.etag.clone());
    out.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Pages may load it with `crossorigin` (for Subresource Integrity) or under
    // Cross-Origin-Embedder-Policy.
    out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    out.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("cross-origin"),
    );
    response
}

/// The browser tracker, at the EU snippet's path
///
/// The same script as `/assets/track.js`, at the name Customer.io's EU snippet uses.
#[utoipa::path(
    get,
    path = "/assets/track-eu.js",
    tag = docs::BROWSER,
    params(("If-None-Match" = Option<String>, Header, description = "The ETag of a cached copy.")),
    responses(
        (status = 200, description = "The script.", content_type = "text/javascript", body = String),
        (status = 304, description = "The cached copy is current."),
    ),
)]
pub async fn track_eu_js(headers: HeaderMap) -> Response {
    track_js(headers).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_script_has_no_comments_and_keeps_the_code() {
        let served = &TRACK_JS.body;
        assert!(served.len() < TRACK_JS_SOURCE.len());
        assert!(served.lines().all(|line| !line.starts_with("//")));
        assert!(served.contains("api.herald = 1;"));
        assert!(served.starts_with("(function (w, d) {"));
    }
}
