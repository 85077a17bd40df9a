//! `GET /openapi.json`: the OpenAPI document of every public endpoint, made from the code.
//!
//! Each handler carries a `#[utoipa::path]` annotation (its doc comment gives the summary and
//! the description; the annotation its parameters, body, answers and credentials), and
//! `routes.rs` registers each handler at the path and methods of its own annotation through
//! utoipa-axum's `routes!`, so that a route and its description are one thing. This module adds
//! what every operation shares (the security schemes, the error answers that any request may
//! get, the answers of refused credentials) and the one path the binary mounts beside this
//! crate's router (`/metrics`). `coverage.rs` checks the document against the routes the router
//! really has, in both directions.

pub mod docs;

#[cfg(test)]
mod coverage;

use std::sync::LazyLock;

use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder, PathItem};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    Content, InfoBuilder, OpenApi, Ref, RefOr, ResponseBuilder, ResponsesBuilder,
};
use utoipa::{PartialSchema, ToSchema};

use docs::{OPERATIONS, TAGS};

/// Paths that the `herald` binary serves beside this crate's router, described here so that
/// the document covers everything a client of the server can call.
pub const MOUNTED_BY_THE_BINARY: &[&str] = &["/metrics"];

/// The document, serialized the first time it is asked for and then served from memory.
static DOCUMENT: LazyLock<Bytes> = LazyLock::new(|| {
    let document = document();
    Bytes::from(serde_json::to_vec(&document).unwrap_or_else(|error| {
        // The document is built from static annotations, so this cannot happen at one run and
        // not another: the unit tests serialize it too.
        tracing::error!(%error, "the OpenAPI document cannot be serialized");
        b"{}".to_vec()
    }))
});

/// The OpenAPI description of this API
///
/// The OpenAPI 3.1 document of every public endpoint of the Track API, the App API, the Data
/// Pipelines API, the browser endpoints, the links inside sent email and the operators'
/// endpoints. It is made from the handlers' own annotations, which are also what registers
/// them at their paths.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = OPERATIONS,
    responses((status = 200, description = "The document.", body = Value, content_type = "application/json")),
)]
pub async fn serve() -> Response {
    let mut response = DOCUMENT.clone().into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Builds the document: every annotated route, and what they share.
pub fn document() -> OpenApi {
    let mut document = crate::routes::routes(None).into_openapi();
    document.info = InfoBuilder::new()
        .title("Herald")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "A self-hosted server compatible with Customer.io's Track, App and Data Pipelines \
             APIs. Every error answer is JSON (the `Error` schema) with a stable `code`; a \
             request that passes the admission limits may still get 503 with `Retry-After` \
             when the server is busy or its storage is away. Paths of Customer.io's App API \
             that Herald does not have (exports, broadcasts, the subscription center, SMS, …) \
             answer 404 with the code `not_supported` and the feature's name, and are not \
             described here.",
        ))
        .build();
    document.tags = Some(
        TAGS.iter()
            .map(|tag| {
                TagBuilder::new()
                    .name(tag.name)
                    .description(Some(tag.description))
                    .build()
            })
            .collect(),
    );
    let components = document.components.get_or_insert_with(Default::default);
    components.security_schemes.insert(
        docs::TRACK_AUTH.to_owned(),
        RefOr::T(http_scheme(
            HttpAuthScheme::Basic,
            "The Track API: HTTP Basic with the workspace's site id as the user name and its \
             Track API key as the password.",
        )),
    );
    components.security_schemes.insert(
        docs::APP_AUTH.to_owned(),
        RefOr::T(http_scheme(
            HttpAuthScheme::Bearer,
            "The App API: `Authorization: Bearer <App API key>`.",
        )),
    );
    components.security_schemes.insert(
        docs::PIPELINES_AUTH.to_owned(),
        RefOr::T(http_scheme(
            HttpAuthScheme::Basic,
            "The Data Pipelines API: HTTP Basic with the workspace's write key as the user \
             name and an empty password.",
        )),
    );
    // The shared error answers refer to the error body, so it is there even if no annotation
    // names it.
    let mut schemas = vec![(
        <docs::Error as ToSchema>::name().into_owned(),
        <docs::Error as PartialSchema>::schema(),
    )];
    <docs::Error as ToSchema>::schemas(&mut schemas);
    components.schemas.extend(schemas);
    for (name, description) in [
        (
            ERROR_RESPONSE,
            "Any other error: the body says what was wrong in `meta.error` and names it in \
             `code`.",
        ),
        (
            UNAUTHORIZED_RESPONSE,
            "Missing, malformed or unknown credentials; the message says which credentials \
             the path takes.",
        ),
        (
            RATE_LIMITED_RESPONSE,
            "Over the workspace's rate limit (`--track-rate-limit`, `--app-rate-limit`, or the \
             browser limits); `Retry-After` says when to retry.",
        ),
    ] {
        components
            .responses
            .insert(name.to_owned(), RefOr::T(error_response(description)));
    }
    document.paths.paths.insert(
        "/metrics".to_owned(),
        PathItem::new(HttpMethod::Get, metrics_operation()),
    );
    for item in document.paths.paths.values_mut() {
        for operation in operations_mut(item) {
            add_tag_security(operation);
            add_shared_responses(operation);
            qualify_operation_id(operation);
        }
    }
    document
}

const ERROR_RESPONSE: &str = "Error";
const UNAUTHORIZED_RESPONSE: &str = "Unauthorized";
const RATE_LIMITED_RESPONSE: &str = "RateLimited";

fn http_scheme(scheme: HttpAuthScheme, description: &str) -> SecurityScheme {
    let mut http = Http::new(scheme);
    http.description = Some(description.to_owned());
    SecurityScheme::Http(http)
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(Ref::from_schema_name("Error"))),
        )
        .build()
}

/// Every operation of a path item.
fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// Gives an operation the credentials of its tag, unless its annotation names its own (the
/// metrics reports, which take Track credentials or a delivery token).
fn add_tag_security(operation: &mut Operation) {
    if operation.security.is_some() {
        return;
    }
    let scheme = operation
        .tags
        .iter()
        .flatten()
        .find_map(|name| TAGS.iter().find(|tag| tag.name == name))
        .and_then(|tag| tag.security);
    if let Some(scheme) = scheme {
        operation.security = Some(vec![SecurityRequirement::new(scheme, Vec::<String>::new())]);
    }
}

/// Prefixes an operation's id (its handler's name) with its tag, since handlers of several
/// APIs share names (`identify` is the Track API's, the Data Pipelines API's and the browser's):
/// `track_api_v1_identify`.
fn qualify_operation_id(operation: &mut Operation) {
    let Some(tag) = operation.tags.iter().flatten().next() else {
        return;
    };
    let mut prefix: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    while prefix.contains("__") {
        prefix = prefix.replace("__", "_");
    }
    if let Some(id) = &mut operation.operation_id {
        *id = format!("{}_{id}", prefix.trim_matches('_'));
    }
}

/// Adds the answers every request may get: refused credentials where the operation takes
/// some, and the error body for any status the annotation does not list.
fn add_shared_responses(operation: &mut Operation) {
    let responses = &mut operation.responses.responses;
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    if secured {
        responses
            .entry(StatusCode::UNAUTHORIZED.as_str().to_owned())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(UNAUTHORIZED_RESPONSE)));
        responses
            .entry(StatusCode::TOO_MANY_REQUESTS.as_str().to_owned())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(RATE_LIMITED_RESPONSE)));
    }
    responses
        .entry("default".to_owned())
        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(ERROR_RESPONSE)));
}

/// `GET /metrics`, which the binary mounts (`crates/herald/src/metrics.rs`), on the API's
/// listener or alone on `--metrics-listen`.
fn metrics_operation() -> Operation {
    OperationBuilder::new()
        .tag(OPERATIONS)
        .operation_id(Some("metrics"))
        .summary(Some("Prometheus metrics"))
        .description(Some(
            "The server's metrics in Prometheus's text format: requests by route and status \
             with a latency histogram, ingest and delivery counts, resident memory and the \
             segment engine's readiness. No key. With `--metrics-listen ADDR` it is served \
             alone on that address, and not beside the APIs.",
        ))
        .responses(
            ResponsesBuilder::new()
                .response(
                    "200",
                    ResponseBuilder::new()
                        .description("The metrics.")
                        .content(
                            "text/plain; version=0.0.4",
                            Content::new(None::<RefOr<utoipa::openapi::schema::Schema>>),
                        )
                        .build(),
                )
                .build(),
        )
        .build()
}
