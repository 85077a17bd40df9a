//! `GET /openapi.json`: the OpenAPI document of the public API, without a key, from a real
//! server; every operation it describes is answered by a route of that server.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::TestApp;

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// Whether an answer is the router's own "no route" (a path no route matches, or a method the
/// path's route does not take), as opposed to any answer of a handler.
fn is_no_route(status: u16, body: &str) -> bool {
    status == 405
        || (status == 404
            && serde_json::from_str::<Value>(body).is_ok_and(|body| {
                body["meta"]["error"]
                    .as_str()
                    .is_some_and(|message| message.starts_with("no route for"))
            }))
}

#[tokio::test]
async fn the_document_describes_the_api_and_each_operation_is_routed() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "served as JSON"
    );
    let text = response.text().await.expect("a body");
    let document: Value = serde_json::from_str(&text).expect("the document is JSON");
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|version| version.starts_with("3.")),
        "an OpenAPI 3 document: {}",
        document["openapi"]
    );
    assert_eq!(document["info"]["title"], "Herald");
    let paths = document["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/api/v1/customers/{identifier}", "put"),
        ("/api/v1/customers/{identifier}", "delete"),
        ("/api/v1/customers/{identifier}/events", "post"),
        ("/api/v2/batch", "post"),
        ("/v1/track", "post"),
        ("/v1/batch", "post"),
        ("/v1/customers", "post"),
        ("/v1/segments", "post"),
        ("/v1/campaigns/{id}", "put"),
        ("/v1/send/email", "post"),
        ("/api/v1/browser/{site_id}/events", "post"),
        ("/assets/track.js", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
    ] {
        let operation = &paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is described"))[method];
        assert!(
            operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{method} {path} has a summary"
        );
    }
    // The credentials of each API, and the error body every error answer has.
    let security = |path: &str, method: &str| paths[path][method]["security"][0].clone();
    assert!(security("/api/v1/customers/{identifier}", "put")["track_basic"].is_array());
    assert!(security("/v1/segments", "post")["app_bearer"].is_array());
    assert!(security("/v1/track", "post")["pipelines_basic"].is_array());
    assert!(paths["/api/v1/browser/{site_id}/events"]["post"]["security"].is_null());
    assert!(document["components"]["schemas"]["Error"]["properties"]["code"].is_object());
    assert!(paths.get("/v1/_dev/clock").is_none(), "not public API");

    // Every operation described reaches a route of this server, whatever the handler then
    // answers to a request without credentials or body.
    let mut checked = 0;
    for (path, item) in paths {
        let concrete = path
            .split('/')
            .map(|part| if part.starts_with('{') { "1" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        for method in METHODS
            .into_iter()
            .filter(|method| item.get(*method).is_some())
        {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
            let response = app
                .client
                .request(method.clone(), app.url(&concrete))
                .send()
                .await
                .expect("an answer");
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            assert!(
                !is_no_route(status, &body),
                "{method} {path} is described but {concrete} has no route: {status} {body}"
            );
            checked += 1;
        }
    }
    assert!(checked > 80, "only {checked} operations were described");

    // A path that no route has is told apart by the same check.
    let missing = app
        .client
        .get(app.url("/v1/no_such_thing"))
        .send()
        .await
        .expect("an answer");
    let status = missing.status().as_u16();
    assert!(is_no_route(status, &missing.text().await.expect("a body")));

    // The document is made once and served from memory: the same bytes again.
    let again = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("an answer")
        .text()
        .await
        .expect("a body");
    assert_eq!(again, text);
}
