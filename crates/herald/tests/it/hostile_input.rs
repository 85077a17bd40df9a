//! Input an attacker would send: each request must get a clear 4xx in the API's JSON shape,
//! write nothing, and leave the server answering (issue 11).

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, identify};

/// A form field nested `levels` deep: `a[b][b]…=1`.
fn nested_form(levels: usize) -> Vec<u8> {
    format!("a{}=1", "[b]".repeat(levels - 1)).into_bytes()
}

/// Posts a body without credentials; returns the status, the content type and the body.
async fn post_raw(
    app: &TestApp,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, String, Value) {
    let response = app
        .client
        .post(app.url(path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("the server answers");
    answer(response).await
}

async fn answer(response: reqwest::Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, content_type, body)
}

/// Asserts an answer is an error in the API's JSON shape, with a message and a stable code.
fn assert_json_error(status: u16, content_type: &str, body: &Value, expected: u16) {
    assert_eq!(status, expected, "{body}");
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}: {body}"
    );
    let message = body["meta"]["error"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "no message: {body}");
    assert!(body["code"].is_string(), "no code: {body}");
}

/// Sends `request` on a connection of its own and reads until the server closes it.
async fn raw_exchange(app: &TestApp, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.server.base_url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let read = stream.read_to_end(&mut received);
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("the server answers and closes the connection")
        .unwrap();
    String::from_utf8_lossy(&received).into_owned()
}

async fn assert_alive(app: &TestApp) {
    let response = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("alive");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn deeply_nested_forms_are_refused_on_routes_without_credentials() {
    let app = TestApp::spawn().await;
    let form = "application/x-www-form-urlencoded";
    let browser = format!("/api/v1/browser/{}/events", app.workspace.site_id);
    // Thousands of levels overflowed a worker's stack and killed the process.
    for path in [
        "/api/v1/metrics",
        "/unsubscribe/01JUNKNOWNDELIVERY0000000",
        browser.as_str(),
    ] {
        let (status, content_type, body) = post_raw(&app, path, form, nested_form(7_000)).await;
        assert_json_error(status, &content_type, &body, 400);
        assert!(
            body["meta"]["error"]
                .as_str()
                .unwrap()
                .contains("32 levels"),
            "{path}: {body}"
        );
        assert_alive(&app).await;
    }
    // 128 levels, sent with the site id alone, was stored and then broke every read of it.
    let (status, content_type, body) = post_raw(&app, &browser, form, nested_form(128)).await;
    assert_json_error(status, &content_type, &body, 400);
    // The same depth limit holds for JSON, and for the Track API.
    let deep_json = format!(
        "{{\"name\":\"x\",\"data\":{}1{}}}",
        "[".repeat(40),
        "]".repeat(40)
    );
    let (status, _) = app
        .track_raw(
            Method::POST,
            "/api/v1/customers/ann/events",
            "application/json",
            deep_json.into_bytes(),
        )
        .await;
    assert_eq!(status, 400);
    let (status, body) = app
        .track_raw(Method::PUT, "/api/v1/customers/ann", form, nested_form(64))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        app.all_activities("").await.is_empty(),
        "something was stored"
    );
}

#[tokio::test]
async fn nul_is_refused_in_identifiers_names_and_keys() {
    let app = TestApp::spawn().await;
    let cases = [
        (Method::PUT, "/api/v1/customers/a%00b".to_owned(), json!({})),
        (
            Method::PUT,
            "/api/v1/customers/ann".to_owned(),
            json!({"email": "ann\u{0}@example.com"}),
        ),
        (
            Method::PUT,
            "/api/v1/customers/ann".to_owned(),
            json!({"id": "ann\u{0}"}),
        ),
        (
            Method::PUT,
            "/api/v1/customers/ann".to_owned(),
            json!({"pl\u{0}an": "pro"}),
        ),
        (
            Method::POST,
            "/api/v1/customers/ann/events".to_owned(),
            json!({"name": "buy\u{0}"}),
        ),
        (
            Method::POST,
            "/api/v1/customers/ann/events".to_owned(),
            json!({"name": "buy", "data": {"k\u{0}": 1}}),
        ),
        (
            Method::POST,
            "/api/v1/events".to_owned(),
            json!({"name": "x", "anonymous_id": "a\u{0}"}),
        ),
        (
            Method::PUT,
            "/api/v1/customers/ann/devices".to_owned(),
            json!({"device": {"id": "t\u{0}", "platform": "ios"}}),
        ),
        (
            Method::POST,
            "/api/v2/entity".to_owned(),
            json!({"type": "person", "action": "identify", "identifiers": {"id": "a\u{0}"}}),
        ),
    ];
    for (method, path, body) in cases {
        let (status, answer) = app.track(method, &path, Some(body.clone())).await;
        assert_eq!(status, 400, "{path} {body}: {answer}");
        let text = answer.to_string();
        assert!(text.contains("NUL"), "{path} {body}: {answer}");
    }
    // Segment and campaign names too.
    let (status, answer) = app
        .app_post("/v1/segments", json!({"segment": {"name": "bad\u{0}name"}}))
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        app.all_activities("").await.is_empty(),
        "something was stored"
    );
    // NUL inside a value is data, and is kept.
    identify(&app, "ann", json!({"note": "a\u{0}b"})).await;
}

#[tokio::test]
async fn every_error_answer_is_json() {
    let app = TestApp::spawn().await;
    // 413, answered from the declared length before the body is sent (so a client sees it
    // rather than a connection reset while it is still sending).
    let raw = raw_exchange(
        &app,
        "POST /api/v2/batch HTTP/1.1\r\nHost: herald\r\nContent-Type: application/json\r\n\
         Content-Length: 5242880\r\n\r\n",
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    let body: Value = serde_json::from_str(body).unwrap();
    assert!(
        body["errors"].is_array(),
        "v2 routes keep the v2 shape: {body}"
    );
    assert_eq!(body["code"], "too_large", "{body}");
    // 414.
    let long = format!("/v1/segments?x={}", "a".repeat(10_000));
    let response = app.client.get(app.url(&long)).send().await.unwrap();
    let (status, content_type, body) = answer(response).await;
    assert_json_error(status, &content_type, &body, 414);
    // A path that is not UTF-8, a query that does not parse, a method a route does not take,
    // and a route that does not exist.
    for (method, path, expected) in [
        (Method::GET, "/v1/customers/%FF/attributes", 400),
        (Method::GET, "/v1/segments/not-a-number", 400),
        (Method::PATCH, "/v1/segments", 405),
        (Method::GET, "/nowhere", 404),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(&app.workspace.app_api_key)
            .send()
            .await
            .unwrap();
        let (status, content_type, body) = answer(response).await;
        assert_json_error(status, &content_type, &body, expected);
    }
}

#[tokio::test]
async fn a_207_lists_at_most_a_hundred_errors_and_counts_the_rest() {
    let app = TestApp::spawn().await;
    let mut batch = vec![json!({}); 5_000];
    batch.push(json!({"type": "person", "action": "identify", "identifiers": {"id": "ann"}}));
    let request = serde_json::to_vec(&json!({"batch": batch})).unwrap();
    let size = request.len();
    let response = app
        .client
        .post(app.url("/api/v2/batch"))
        .basic_auth(&app.workspace.site_id, Some(&app.workspace.api_key))
        .header("content-type", "application/json")
        .body(request)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(status, 207, "{text}");
    // A 23 MB answer to a 400 KB batch was the problem; now it stays small.
    assert!(
        text.len() < 30_000,
        "{} bytes answered to {size}",
        text.len()
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["errors"].as_array().unwrap().len(), 100);
    assert_eq!(body["errors_omitted"], 4_900);
    assert_eq!(body["errors"][99]["batch_index"], 99);
    // The valid operation was applied all the same.
    let (status, _) = app.app_get("/v1/customers/ann/attributes").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn per_key_rate_limits_answer_429_until_the_bucket_refills() {
    const START: i64 = 1_800_000_000;
    let app = TestApp::spawn_with(&[
        &format!("--dev-clock={START}"),
        "--track-rate-limit=3/60",
        "--app-rate-limit=5/60",
    ])
    .await;
    for _ in 0..3 {
        identify(&app, "ann", json!({})).await;
    }
    let late = || {
        app.client
            .put(app.url("/api/v1/customers/ann"))
            .basic_auth(&app.workspace.site_id, Some(&app.workspace.api_key))
            .json(&json!({"plan": "late"}))
            .send()
    };
    let response = late().await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "20");
    let (status, content_type, body) = answer(response).await;
    assert_json_error(status, &content_type, &body, 429);
    // Twenty seconds later one more fits.
    crate::helpers::set_clock(&app, START + 20).await;
    identify(&app, "ann", json!({"plan": "on time"})).await;
    assert_eq!(late().await.unwrap().status(), 429);
    // The App API's key has a bucket of its own, full again after the twenty seconds.
    for _ in 0..5 {
        let (status, body) = app.app_get("/v1/customers/ann/attributes").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["customer"]["attributes"]["plan"], "on time", "{body}");
    }
    let (status, body) = app.app_get("/v1/segments").await;
    assert_eq!(status, 429, "{body}");
}
