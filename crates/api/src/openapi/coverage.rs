//! The document describes exactly the routes the router has: a route without a description
//! fails these tests, and so does a description without a route, methods included.
//!
//! axum does not list a router's routes, but its `Debug` output holds them: each route's path
//! (`Node { paths: {RouteId(n): "/…"} }`) and the methods its `MethodRouter` answers (`get:
//! BoxedHandler` or `get: Route`, `get: None` for a method it lacks). The tests read the route
//! list from there, so that a route registered around `routes!` (axum's `.route`, a merged
//! plain `Router`) is seen too. Should a new axum print them differently, the reader finds no
//! routes or misses the dev clock's, and the tests fail saying so, rather than passing.

use std::collections::BTreeSet;

use axum::Router;
use serde_json::Value;

use super::docs::{APP_AUTH, OPERATIONS, PIPELINES_AUTH, TAGS, TRACK_AUTH};
use super::{MOUNTED_BY_THE_BINARY, document};
use crate::AppState;
use crate::routes::{DEV_CLOCK_PATH, routes};

/// Routes the router has on purpose without a description, each with the reason.
const UNDOCUMENTED: &[(&str, &str)] = &[(
    DEV_CLOCK_PATH,
    "not public API: it moves the server's clock, exists only on a server started with \
     --dev-clock, and is for tests",
)];

// The web UI's routes (crates/ui) are not public API either; they are merged in by the binary
// and so are not in this router at all. The `not_supported` paths of `unsupported.rs` are no
// routes: the fallback answers them, so they are neither routes nor described.

/// The methods axum's `MethodRouter` prints, in its order.
const METHODS: [&str; 9] = [
    "get", "head", "delete", "options", "patch", "post", "put", "trace", "connect",
];

/// One route as `METHOD /path`; `ANY /path` for a route that is a service, not a
/// `MethodRouter` (axum's `route_service`), which answers every method.
type RouteKey = String;

/// The routes a router has, read from its `Debug` output.
fn router_routes<S>(router: &Router<S>) -> BTreeSet<RouteKey> {
    let text = format!("{router:?}");
    // Only the router's own routes: the fallback router holds the fallback's catch-all paths.
    let own = text
        .split_once("fallback_router:")
        .map_or(text.as_str(), |(own, _)| own);
    let (routes, paths) = own
        .split_once("node: Node { paths: {")
        .expect("axum's Router Debug output names its paths in `node: Node { paths: {…} }`");
    let mut found = BTreeSet::new();
    for (id, path) in route_paths(paths) {
        let endpoint = routes
            .split_once(&format!("RouteId({id}): "))
            .map(|(_, rest)| rest)
            .unwrap_or_else(|| panic!("route {id} ({path}) has a path but no endpoint"));
        match endpoint.strip_prefix("MethodRouter(MethodRouter { ") {
            Some(fields) => {
                let fields = fields.split_once("fallback:").map_or(fields, |(m, _)| m);
                for method in METHODS {
                    let absent = format!("{method}: None");
                    assert!(
                        fields.contains(&format!("{method}: ")),
                        "axum's MethodRouter Debug output no longer names {method}: {fields}"
                    );
                    // HEAD is answered by every GET route; only a HEAD route of its own counts.
                    if !fields.contains(&absent) && method != "head" {
                        found.insert(format!("{} {path}", method.to_uppercase()));
                    }
                }
            }
            None => {
                found.insert(format!("ANY {path}"));
            }
        }
    }
    found
}

/// The `(route id, path)` pairs of `{RouteId(0): "/a", RouteId(1): "/b"}`.
fn route_paths(text: &str) -> Vec<(u32, String)> {
    let mut pairs = Vec::new();
    let mut rest = text;
    while let Some((_, after)) = rest.split_once("RouteId(") {
        let (id, after) = after.split_once("): \"").expect("a route id and its path");
        let (path, after) = after.split_once('"').expect("a quoted path");
        pairs.push((id.parse().expect("a numeric route id"), path.to_owned()));
        rest = after;
    }
    pairs
}

/// The operations a document describes, as `METHOD /path`.
fn described(document: &Value) -> BTreeSet<RouteKey> {
    let mut found = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                found.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    found
}

/// What differs between the routes and the document, each as a sentence; empty when they
/// agree.
fn mismatches(routes: &BTreeSet<RouteKey>, described: &BTreeSet<RouteKey>) -> Vec<String> {
    let path_of = |key: &str| key.split_once(' ').map_or("", |(_, path)| path).to_owned();
    let mut problems = Vec::new();
    for route in routes.difference(described) {
        if !UNDOCUMENTED.iter().any(|(path, _)| path_of(route) == *path) {
            problems.push(format!(
                "{route} is routed but not described: register it with routes!() and a \
                 #[utoipa::path] annotation, or add it to UNDOCUMENTED with the reason"
            ));
        }
    }
    for operation in described.difference(routes) {
        if !MOUNTED_BY_THE_BINARY.contains(&path_of(operation).as_str()) {
            problems.push(format!(
                "{operation} is described but not routed: a description must come from the \
                 route's own handler"
            ));
        }
    }
    problems
}

fn the_document() -> Value {
    serde_json::to_value(document()).expect("the document serializes")
}

fn the_routes() -> BTreeSet<RouteKey> {
    let (router, _) = routes(None).split_for_parts();
    router_routes::<AppState>(&router)
}

#[test]
fn every_route_is_described_and_every_description_is_routed() {
    let routes = the_routes();
    // The reader must see the routes, or agreeing would prove nothing.
    assert!(routes.contains("POST /v1/_dev/clock") && routes.contains("GET /v1/_dev/clock"));
    assert!(routes.contains("PUT /api/v1/customers/{identifier}"));
    assert!(routes.contains("DELETE /api/v1/customers/{identifier}"));
    assert!(routes.contains("POST /api/v1/browser/{site_id}/events"));
    assert!(!routes.contains("GET /api/v1/customers/{identifier}"));
    let problems = mismatches(&routes, &described(&the_document()));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_route_without_a_description_and_a_description_without_a_route_fail() {
    use axum::routing::{get, put};
    let (router, _) = routes(None)
        .route("/v1/undescribed", get(|| async { "" }))
        // A method added to a described path counts on its own.
        .route("/v1/segments/{id}/history", put(|| async { "" }))
        .split_for_parts();
    let mut document = the_document();
    document["paths"]["/v1/unrouted"] = serde_json::json!({"get": {"responses": {}}});
    document["paths"]["/v1/segments"]["patch"] = serde_json::json!({"responses": {}});
    let problems = mismatches(&router_routes::<AppState>(&router), &described(&document));
    let expected = [
        "GET /v1/undescribed is routed but not described",
        "PUT /v1/segments/{id}/history is routed but not described",
        "GET /v1/unrouted is described but not routed",
        "PATCH /v1/segments is described but not routed",
    ];
    for sentence in expected {
        assert!(
            problems.iter().any(|problem| problem.starts_with(sentence)),
            "{sentence:?} not among {problems:#?}"
        );
    }
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
}

/// The path parameters a template names: `{id}` of `/v1/segments/{id}`.
fn template_parameters(path: &str) -> BTreeSet<String> {
    path.split('/')
        .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_operation_is_described_whole() {
    let document = the_document();
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|version| version.starts_with("3.")),
        "an OpenAPI 3 document"
    );
    let schemes = &document["components"]["securitySchemes"];
    for scheme in [TRACK_AUTH, APP_AUTH, PIPELINES_AUTH] {
        assert!(schemes.get(scheme).is_some(), "the scheme {scheme}");
    }
    let mut operation_ids = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let at = format!("{} {path}", method.to_uppercase());
            let summary = operation["summary"].as_str().unwrap_or_default();
            assert!(!summary.trim().is_empty(), "{at} has no summary");
            assert!(
                operation_ids.insert(operation["operationId"].to_string()),
                "{at} repeats the operationId {}",
                operation["operationId"]
            );

            // Exactly one known tag, and the credentials of that tag.
            let tags: Vec<&str> = operation["tags"]
                .as_array()
                .map(|tags| tags.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let [tag] = tags[..] else {
                panic!("{at} has the tags {tags:?}; it needs one of docs::TAGS");
            };
            let tag = TAGS
                .iter()
                .find(|known| known.name == tag)
                .unwrap_or_else(|| panic!("{at} has the unknown tag {tag:?}"));
            let security: Vec<String> = operation["security"]
                .as_array()
                .map(|requirements| {
                    requirements
                        .iter()
                        .flat_map(|requirement| {
                            let names: Vec<String> = requirement
                                .as_object()
                                .map(|names| names.keys().cloned().collect())
                                .unwrap_or_default();
                            if names.is_empty() {
                                vec!["(none)".to_owned()]
                            } else {
                                names
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            match tag.security {
                Some(scheme) => {
                    assert!(
                        security.first().map(String::as_str) == Some(scheme),
                        "{at} is under {:?} but takes {security:?}, not {scheme}",
                        tag.name
                    );
                    assert!(
                        operation["responses"].get("401").is_some(),
                        "{at} takes credentials but does not describe their refusal"
                    );
                }
                None => assert!(security.is_empty(), "{at} takes {security:?}"),
            }
            for name in &security {
                assert!(
                    name == "(none)" || schemes.get(name).is_some(),
                    "{at} names the unknown scheme {name}"
                );
            }

            // The path's parameters, each described, and nothing else in the path.
            let described_path_parameters: BTreeSet<String> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|parameter| parameter["in"] == "path")
                .map(|parameter| parameter["name"].as_str().unwrap_or_default().to_owned())
                .collect();
            assert_eq!(
                described_path_parameters,
                template_parameters(path),
                "{at}: the path parameters described and the template's differ"
            );
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                assert!(
                    parameter["description"]
                        .as_str()
                        .is_some_and(|text| !text.trim().is_empty()),
                    "{at}: the parameter {} has no description",
                    parameter["name"]
                );
            }

            // A success, and the error body for everything else.
            let responses = operation["responses"].as_object().expect("responses");
            assert!(
                responses
                    .keys()
                    .any(|status| status.starts_with('2') || status.starts_with('3')),
                "{at} describes no success"
            );
            assert!(
                responses.contains_key("default"),
                "{at} lacks the default error answer"
            );
        }
    }
}

#[test]
fn the_operators_paths_are_described_and_the_dev_clock_is_not() {
    let document = the_document();
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        assert_eq!(
            document["paths"][path]["get"]["tags"][0], OPERATIONS,
            "{path}"
        );
    }
    assert!(document["paths"].get(DEV_CLOCK_PATH).is_none());
    assert!(
        document["paths"]
            .as_object()
            .expect("paths")
            .keys()
            .all(|path| !path.starts_with("/ui")),
        "the web UI is not public API"
    );
}

#[tokio::test]
async fn the_error_schema_has_every_field_of_every_error_shape() {
    use axum::response::IntoResponse;
    use http_body_util::BodyExt;

    use crate::error::Shape;

    let document = the_document();
    let schemas = &document["components"]["schemas"];
    let fields = |schema: &str| -> BTreeSet<String> {
        schemas[schema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("the {schema} schema has properties"))
            .keys()
            .cloned()
            .collect()
    };
    let (error_fields, meta_fields, item_fields) =
        (fields("Error"), fields("ErrorMeta"), fields("V2ErrorItem"));
    for shape in [
        Shape::MetaError,
        Shape::MetaErrors,
        Shape::V2,
        Shape::Pipelines,
    ] {
        let mut error = crate::ApiError::bad_request("a message").with_shape(shape);
        if let Some(item) = error.items.first_mut() {
            item.field = Some("identifiers.id".to_owned());
            item.batch_index = Some(1);
        }
        let body = error.into_response().into_body().collect().await;
        let body: Value =
            serde_json::from_slice(&body.expect("the body").to_bytes()).expect("JSON");
        let keys = |value: &Value| -> BTreeSet<String> {
            value
                .as_object()
                .map(|object| object.keys().cloned().collect())
                .unwrap_or_default()
        };
        assert!(keys(&body).is_subset(&error_fields), "{shape:?}: {body}");
        assert!(
            keys(&body["meta"]).is_subset(&meta_fields),
            "{shape:?}: {body}"
        );
        for item in body["errors"].as_array().into_iter().flatten() {
            assert!(keys(item).is_subset(&item_fields), "{shape:?}: {body}");
        }
        assert!(body["code"].is_string(), "{shape:?}: {body}");
    }
}
