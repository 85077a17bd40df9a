//! Every validation rule: status, Customer.io's message, and nothing stored afterwards.

use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::helpers::TestApp;

/// Asserts a 400 with `{"meta":{"error": message}}`.
fn assert_rejected(result: (u16, Value), message: &str) {
    let (status, body) = result;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["meta"]["error"], message, "{body}");
}

/// Asserts a 400 whose message contains `fragment`.
fn assert_rejected_with(result: (u16, Value), fragment: &str) {
    let (status, body) = result;
    assert_eq!(status, 400, "{body}");
    let message = body["meta"]["error"].as_str().unwrap_or_default();
    assert!(
        message.contains(fragment),
        "{message:?} should contain {fragment:?}"
    );
}

async fn put(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    app.track(Method::PUT, path, Some(body)).await
}

async fn assert_nothing_stored(app: &TestApp) {
    let activities = app.all_activities("").await;
    assert!(
        activities.is_empty(),
        "a rejected request stored {activities:?}"
    );
    let (_, index) = app.app_get("/v1/data_index/events").await;
    assert_eq!(index["events"], json!([]), "{index}");
}

#[tokio::test]
async fn identify_rules() {
    let app = TestApp::spawn().await;
    let mut many = Map::new();
    for index in 0..301 {
        many.insert(format!("attribute_{index}"), json!(index));
    }
    assert_rejected(
        put(&app, "/api/v1/customers/p", Value::Object(many)).await,
        "cannot identify more than 300 attributes in one request",
    );
    assert_rejected(
        put(&app, "/api/v1/customers/p", json!({"n".repeat(151): 1})).await,
        "attribute name cannot be longer than 150 bytes",
    );
    assert_rejected(
        put(&app, "/api/v1/customers/p", json!({"bio": "é".repeat(501)})).await,
        "value for attribute 'bio' cannot be longer than 1000 bytes",
    );
    assert_rejected(
        put(&app, "/api/v1/customers/a%40b.com", json!({"id": {"x": 1}})).await,
        "id attribute must be a string value",
    );
    assert_rejected(
        put(&app, "/api/v1/customers/a%40b.com", json!({"id": ""})).await,
        "id attribute cannot be an empty string",
    );
    let long_id = "i".repeat(151);
    assert_rejected(
        put(&app, &format!("/api/v1/customers/{long_id}"), json!({})).await,
        "id cannot be longer than 150 bytes",
    );
    assert_rejected_with(
        app.track_raw(
            Method::PUT,
            "/api/v1/customers/p",
            "application/json",
            b"{\"a\": ".to_vec(),
        )
        .await,
        "request body is not valid JSON",
    );
    assert_rejected_with(
        app.track_raw(
            Method::PUT,
            "/api/v1/customers/p",
            "application/x-www-form-urlencoded",
            b"plan[tier=1".to_vec(),
        )
        .await,
        "form body is malformed",
    );
    let (status, _) = app.app_get("/v1/customers/p/attributes").await;
    assert_eq!(status, 404);
    assert_nothing_stored(&app).await;
    // Exactly at the limits is accepted.
    let mut limit = Map::new();
    for index in 0..300 {
        limit.insert(format!("a{index}"), json!("v"));
    }
    limit.insert("a0".into(), json!("x".repeat(1000)));
    let (status, body) = put(
        &app,
        &format!("/api/v1/customers/{}", "i".repeat(150)),
        Value::Object(limit),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn event_rules() {
    let app = TestApp::spawn().await;
    let post = |body: Value| app.track(Method::POST, "/api/v1/customers/p/events", Some(body));
    assert_rejected(post(json!({})).await, "event name must not be blank");
    assert_rejected(
        post(json!({"name": " \t "})).await,
        "event name must not be blank",
    );
    assert_rejected(
        post(json!({"name": "é".repeat(51)})).await,
        "event name cannot be longer than 100 bytes",
    );
    for bad in ["a*b", "a+b", "a|b"] {
        assert_rejected_with(
            post(json!({"name": bad})).await,
            "are not supported in event names",
        );
    }
    assert_rejected(
        post(json!({"name": "x", "data": ""})).await,
        "event data must be a hash (e.g., send \"data\":{} instead of \"data\":\"\")",
    );
    assert_rejected(
        post(json!({"name": "x", "data": [1]})).await,
        "event data must be a hash (e.g., send \"data\":{} instead of \"data\":\"\")",
    );
    assert_rejected(
        post(json!({"name": "x", "data": {"blob": "b".repeat(100_000)}})).await,
        "event data cannot be longer than 100000 bytes",
    );
    assert_rejected_with(
        post(json!({"name": "x", "timestamp": 1700000000.5})).await,
        "has a fractional part",
    );
    assert_rejected_with(
        post(json!({"name": "x", "timestamp": 1700000000123_i64})).await,
        "looks like milliseconds: send whole seconds since the unix epoch (1700000000)",
    );
    assert_rejected_with(
        post(json!({"name": "x", "timestamp": -5})).await,
        "must not be negative",
    );
    assert_rejected_with(
        post(json!({"name": "x", "timestamp": "soon"})).await,
        "must be a number of seconds",
    );
    assert_rejected_with(
        post(json!({"name": "x", "id": "not-a-ulid"})).await,
        "is not a ULID",
    );
    assert_rejected_with(
        app.track_raw(
            Method::POST,
            "/api/v1/customers/p/events",
            "application/json",
            b"{\"name\":".to_vec(),
        )
        .await,
        "request body is not valid JSON",
    );
    assert_rejected_with(
        app.track_raw(
            Method::POST,
            "/api/v1/events",
            "application/json",
            b"[1,2]".to_vec(),
        )
        .await,
        "request body must be a JSON object",
    );
    assert_nothing_stored(&app).await;
    // A name with spaces is valid, and surrounding whitespace is trimmed.
    let (status, _) = post(json!({"name": "  sign up  "})).await;
    assert_eq!(status, 200);
    let (_, index) = app.app_get("/v1/data_index/events").await;
    assert_eq!(index["events"][0]["name"], "sign up");
}

#[tokio::test]
async fn device_merge_and_metric_rules() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .track(
            Method::PUT,
            "/api/v1/customers/p/devices",
            Some(json!({"device": {"platform": "ios"}})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["meta"]["errors"][0]
            .as_str()
            .unwrap()
            .contains("device id is required"),
        "{body}"
    );
    let (status, body) = app
        .track(
            Method::PUT,
            "/api/v1/customers/p/devices",
            Some(json!({"device": {"id": "t", "platform": "windows"}})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["meta"]["errors"][0]
            .as_str()
            .unwrap()
            .contains("\"ios\" or \"android\""),
        "{body}"
    );
    assert_rejected(
        app.track(
            Method::POST,
            "/api/v1/merge_customers",
            Some(json!({"primary": {"id": "a", "email": "a@b.c"}, "secondary": {"id": "b"}})),
        )
        .await,
        "primary must have exactly one identifier: id, email or cio_id",
    );
    let response = app
        .client
        .post(app.url("/api/v1/metrics"))
        .json(&json!({"delivery_id": "d1", "metric": "teleported"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_nothing_stored(&app).await;
}

#[tokio::test]
async fn v2_size_limits_and_partial_batches() {
    let app = TestApp::spawn().await;
    let big_entity = json!({"type": "person", "identifiers": {"id": "p"}, "action": "identify",
        "attributes": {"a": "x".repeat(33 * 1024)}});
    let (status, body) = app
        .track(Method::POST, "/api/v2/entity", Some(big_entity))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("/api/v2/entity takes less than 32768 bytes")
    );
    let event = json!({"type": "person", "identifiers": {"id": "p"}, "action": "event", "name": "e",
        "attributes": {"pad": "x".repeat(900)}});
    let big_batch = json!({"batch": vec![event.clone(); 600]});
    let (status, body) = app
        .track(Method::POST, "/api/v2/batch", Some(big_batch))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("takes less than 512000 bytes")
    );
    let (status, body) = app
        .track(Method::POST, "/api/v2/batch", Some(json!({"nope": []})))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = app
        .track_raw(
            Method::POST,
            "/api/v2/batch",
            "application/json",
            b"{\"batch\": [".to_vec(),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_nothing_stored(&app).await;

    let mixed = json!({"batch": [
        {"type": "person", "identifiers": {"id": "p"}, "action": "identify", "attributes": {"plan": "pro"}},
        {"type": "person", "identifiers": {"id": "p"}, "action": "event", "name": "a*b"},
        {"type": "person", "identifiers": {"id": "p", "email": "p@x.com"}, "action": "event", "name": "ok"},
        {"type": "person", "identifiers": {"id": "p"}, "action": "page", "name": "/home"},
        {"type": "person", "identifiers": {"id": "p"}, "action": "event", "name": "bought", "timestamp": 1.5},
    ]});
    let (status, body) = app.track(Method::POST, "/api/v2/batch", Some(mixed)).await;
    assert_eq!(status, 207, "{body}");
    let indexes: Vec<_> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["batch_index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, vec![1, 2, 4]);
    assert_eq!(body["errors"][0]["field"], "name");
    assert_eq!(body["errors"][0]["reason"], "invalid");
    let (_, customer) = app.app_get("/v1/customers/p/attributes").await;
    assert_eq!(customer["customer"]["attributes"]["plan"], "pro");
    let pages = app.all_activities("&type=page").await;
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0]["name"], "/home");
}

/// A body sent gzipped, as some HTTP clients send large ones, is read; another encoding is
/// refused by name rather than read as if it were JSON.
#[tokio::test]
async fn gzipped_bodies_are_read_and_other_encodings_refused() {
    use std::io::Write;

    let app = TestApp::spawn().await;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(br#"{"plan": "zipped"}"#).unwrap();
    let zipped = encoder.finish().unwrap();
    let send = |encoding: &'static str, body: Vec<u8>| {
        let app = &app;
        async move {
            let response = app
                .client
                .put(app.url("/api/v1/customers/gz"))
                .basic_auth(&app.workspace.site_id, Some(&app.workspace.api_key))
                .header("content-type", "application/json")
                .header("content-encoding", encoding)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, body) = send("gzip", zipped).await;
    assert_eq!(status, 200, "{body}");
    let (_, customer) = app.app_get("/v1/customers/gz/attributes").await;
    assert_eq!(customer["customer"]["attributes"]["plan"], "zipped");
    let (status, body) = send("br", br#"{"plan": "brotli"}"#.to_vec()).await;
    assert_eq!(status, 415, "{body}");
    assert!(
        body["meta"]["error"].as_str().unwrap().contains("\"br\""),
        "{body}"
    );
    let (status, body) = send("gzip", br#"{"plan": "plain"}"#.to_vec()).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["meta"]["error"]
            .as_str()
            .unwrap()
            .contains("not valid gzip"),
        "{body}"
    );
    let (_, customer) = app.app_get("/v1/customers/gz/attributes").await;
    assert_eq!(
        customer["customer"]["attributes"]["plan"], "zipped",
        "nothing refused was stored"
    );
}
