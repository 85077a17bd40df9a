//! The browser endpoints of track.js over plain HTTP: CORS and preflights, allowed origins,
//! rate limits, validation, the served script and the snippet. The same endpoints in a real
//! browser are tested in `browser_chromium.rs`.

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::helpers::{TestApp, set_clock};

const START: i64 = 1_800_000_000;

/// What one browser request got back.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// Sends what track.js sends: JSON as `text/plain`, from a page on `origin`.
async fn post(app: &TestApp, endpoint: &str, origin: Option<&str>, body: &str) -> Answer {
    post_from(app, endpoint, origin, body, None).await
}

async fn post_from(
    app: &TestApp,
    endpoint: &str,
    origin: Option<&str>,
    body: &str,
    forwarded_for: Option<&str>,
) -> Answer {
    let url = app.url(&format!(
        "/api/v1/browser/{}/{endpoint}",
        app.workspace.site_id
    ));
    let mut request = app
        .client
        .post(url)
        .header("content-type", "text/plain;charset=UTF-8")
        .body(body.to_owned());
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

async fn preflight(app: &TestApp, origin: &str) -> Answer {
    let url = app.url(&format!("/api/v1/browser/{}/events", app.workspace.site_id));
    let response = app
        .client
        .request(reqwest::Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .expect("request sent");
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: Value::Null,
    }
}

fn anonymous_event(name: &str) -> String {
    json!({"name": name, "anonymous_id": "anon-1", "data": {"plan": "pro"}}).to_string()
}

#[tokio::test]
async fn any_origin_may_send_without_credentials_by_default() {
    let app = TestApp::spawn().await;
    let answer = preflight(&app, "https://shop.example").await;
    assert_eq!(answer.status, 204);
    assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
    assert!(
        answer
            .header("access-control-allow-methods")
            .is_some_and(|methods| methods.contains("POST"))
    );
    assert_eq!(
        answer.header("access-control-allow-headers"),
        Some("content-type")
    );
    assert_eq!(answer.header("access-control-max-age"), Some("7200"));
    assert_eq!(answer.header("access-control-allow-credentials"), None);

    let answer = post(
        &app,
        "events",
        Some("https://shop.example"),
        &anonymous_event("viewed"),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body, json!({}));
    assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
    assert_eq!(answer.header("access-control-allow-credentials"), None);

    // Errors carry the CORS headers too, so the page can read why it was refused.
    let answer = post(&app, "events", Some("https://shop.example"), "{").await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        answer.header("access-control-expose-headers"),
        Some("retry-after")
    );

    let events = app.all_activities("&type=event").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["name"], "viewed");
    assert_eq!(events[0]["anonymous_id"], "anon-1");
    assert_eq!(events[0]["customer_id"], Value::Null);
    assert_eq!(events[0]["data"], json!({"plan": "pro"}));
}

#[tokio::test]
async fn only_allowed_origins_may_send_and_refusals_write_nothing() {
    let app = TestApp::spawn_with(&[
        "--browser-allowed-origins",
        "https://shop.example,http://localhost:3000",
    ])
    .await;
    let answer = preflight(&app, "https://shop.example").await;
    assert_eq!(answer.status, 204);
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("https://shop.example")
    );
    assert_eq!(answer.header("vary"), Some("origin"));

    let answer = preflight(&app, "https://evil.example").await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.header("access-control-allow-origin"), None);

    let answer = post(
        &app,
        "events",
        Some("https://evil.example"),
        &anonymous_event("from_evil"),
    )
    .await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.body["code"], "origin_not_allowed");
    assert_eq!(answer.header("access-control-allow-origin"), None);
    let answer = post(&app, "events", None, &anonymous_event("without_origin")).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.body["code"], "origin_not_allowed");

    let answer = post(
        &app,
        "events",
        Some("http://localhost:3000"),
        &anonymous_event("from_shop"),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    let names: Vec<Value> = app
        .all_activities("&type=event")
        .await
        .iter()
        .map(|activity| activity["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("from_shop")]);
}

#[tokio::test]
async fn a_client_address_is_rate_limited_until_its_bucket_refills() {
    let app = TestApp::spawn_with(&[
        &format!("--dev-clock={START}"),
        "--browser-rate-limit-ip",
        "3/60",
    ])
    .await;
    for n in 0..3 {
        let answer = post(&app, "events", None, &anonymous_event(&format!("e{n}"))).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let answer = post(
        &app,
        "events",
        Some("https://shop.example"),
        &anonymous_event("e3"),
    )
    .await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.body["code"], "rate_limited");
    assert_eq!(answer.header("retry-after"), Some("20"));
    // The page must be able to read the 429 and its Retry-After.
    assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        answer.header("access-control-expose-headers"),
        Some("retry-after")
    );
    // Preflights are not counted.
    assert_eq!(preflight(&app, "https://shop.example").await.status, 204);

    set_clock(&app, START + 19).await;
    let answer = post(&app, "events", None, &anonymous_event("e3")).await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.header("retry-after"), Some("1"));
    set_clock(&app, START + 20).await;
    let answer = post(&app, "events", None, &anonymous_event("e3")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);

    let events = app.all_activities("&type=event").await;
    let names: Vec<&str> = events
        .iter()
        .map(|event| event["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["e0", "e1", "e2", "e3"],
        "a refused request wrote nothing"
    );
}

#[tokio::test]
async fn a_site_is_rate_limited_across_client_addresses() {
    let app = TestApp::spawn_with(&[
        &format!("--dev-clock={START}"),
        "--browser-rate-limit-ip",
        "2/60",
        "--browser-rate-limit-site",
        "3/60",
        "--browser-client-ip-header",
        "X-Forwarded-For",
    ])
    .await;
    let send = |address: &'static str| {
        let app = &app;
        async move {
            post_from(
                app,
                "events",
                None,
                &anonymous_event("e"),
                Some(&format!("198.51.100.77, {address}")),
            )
            .await
        }
    };
    assert_eq!(send("203.0.113.1").await.status, 200);
    assert_eq!(send("203.0.113.1").await.status, 200);
    let answer = send("203.0.113.1").await;
    assert_eq!(answer.status, 429);
    assert!(
        answer.body["meta"]["error"]
            .as_str()
            .unwrap()
            .contains("this address"),
        "{}",
        answer.body
    );
    // Another address has a bucket of its own, until the site's bucket is empty.
    assert_eq!(send("203.0.113.2").await.status, 200);
    let answer = send("203.0.113.2").await;
    assert_eq!(answer.status, 429);
    assert!(
        answer.body["meta"]["error"]
            .as_str()
            .unwrap()
            .contains("this site"),
        "{}",
        answer.body
    );
    assert_eq!(answer.header("retry-after"), Some("20"));
    assert_eq!(app.all_activities("&type=event").await.len(), 3);
}

#[tokio::test]
async fn browser_input_is_validated_like_the_track_api_and_refusals_write_nothing() {
    let app = TestApp::spawn().await;
    let long_name = "n".repeat(101);
    let many: serde_json::Map<String, Value> = (0..301)
        .map(|n| (format!("a{n}"), json!(n)))
        .chain([("id".to_owned(), json!("p1"))])
        .collect();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "events",
            json!({"name": " ", "anonymous_id": "a"}).to_string(),
            "event name must not be blank",
        ),
        (
            "events",
            json!({"name": long_name, "anonymous_id": "a"}).to_string(),
            "event name cannot be longer than 100 bytes",
        ),
        (
            "events",
            json!({"name": "x", "anonymous_id": "a", "data": ""}).to_string(),
            "event data must be a hash",
        ),
        (
            "events",
            json!({"name": "x", "anonymous_id": "a", "id": "not-a-ulid"}).to_string(),
            "is not a ULID",
        ),
        (
            "events",
            json!({"name": "x", "anonymous_id": "a", "timestamp": 1_800_000_000_000_i64})
                .to_string(),
            "looks like milliseconds",
        ),
        (
            "events",
            json!({"name": "x"}).to_string(),
            "needs the visitor's anonymous_id",
        ),
        (
            "events",
            json!({"name": "x", "customer_id": "cio_0300"}).to_string(),
            "by cio id",
        ),
        (
            "events",
            json!({"name": "x", "anonymous_id": "a", "data": {"recipient": "victim@example.com"}})
                .to_string(),
            "cannot be set from the browser",
        ),
        (
            "events",
            json!({"name": "x", "anonymous_id": "a", "age": -5}).to_string(),
            "age must be a whole number",
        ),
        (
            "events",
            "{\"name\": ".to_owned(),
            "request body is not valid JSON",
        ),
        ("events", "[1]".to_owned(), "must be a JSON object"),
        (
            "identify",
            json!({"email": "p@example.com"}).to_string(),
            "id attribute must be present",
        ),
        (
            "identify",
            json!({"id": ""}).to_string(),
            "id attribute cannot be an empty string",
        ),
        (
            "identify",
            json!({"id": {"x": 1}}).to_string(),
            "id attribute must be a string value",
        ),
        (
            "identify",
            Value::Object(many).to_string(),
            "cannot identify more than 300 attributes",
        ),
        (
            "identify",
            json!({"id": "p1", "plan": "x".repeat(1001)}).to_string(),
            "cannot be longer than 1000 bytes",
        ),
        (
            "identify",
            json!({"id": "p1", "created_at": "yesterday"}).to_string(),
            "created_at must be a number",
        ),
    ];
    for (endpoint, body, message) in &cases {
        let answer = post(&app, endpoint, Some("https://shop.example"), body).await;
        assert_eq!(answer.status, 400, "{endpoint} {body}: {}", answer.body);
        let error = answer.body["meta"]["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(message),
            "{endpoint} {body}: {error:?} lacks {message:?}"
        );
        assert_eq!(answer.body["code"], "invalid_request");
    }
    // A body over the Track API's limit is a 400 that names the limit, not a 413 or a 5xx.
    let huge = json!({"name": "x", "anonymous_id": "a", "data": {"blob": "y".repeat(1024 * 1024)}});
    let answer = post(&app, "events", None, &huge.to_string()).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        answer.body["meta"]["error"]
            .as_str()
            .unwrap()
            .contains("less than")
    );

    // An unknown site id is refused before anything is read.
    let response = app
        .client
        .post(app.url("/api/v1/browser/0000000000000000dead/events"))
        .body(anonymous_event("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    assert!(
        app.all_activities("").await.is_empty(),
        "nothing was written"
    );
    let (status, _) = app.app_get("/v1/customers/p1/attributes").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn identify_attaches_the_anonymous_history_and_age_dates_queued_events() {
    let app = TestApp::spawn_with(&[&format!("--dev-clock={START}")]).await;
    let queued = json!({"name": "added_to_cart", "anonymous_id": "anon-7", "age": 3600, "id": "01JA0000000000000000000000"});
    assert_eq!(
        post(&app, "events", None, &queued.to_string()).await.status,
        200
    );
    // The same event again (a retry, or a beacon and then the queue) counts once.
    assert_eq!(
        post(&app, "events", None, &queued.to_string()).await.status,
        200
    );
    let page =
        json!({"name": "https://shop.example/cart", "type": "page", "anonymous_id": "anon-7"});
    assert_eq!(
        post(&app, "events", None, &page.to_string()).await.status,
        200
    );

    let identify = json!({"id": "buyer-1", "email": "Buyer@Example.com", "plan": "pro", "anonymous_id": "anon-7"});
    let answer = post(&app, "identify", None, &identify.to_string()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let after = json!({"name": "purchased", "customer_id": "buyer-1"});
    assert_eq!(
        post(&app, "events", None, &after.to_string()).await.status,
        200
    );

    let (status, person) = app.app_get("/v1/customers/buyer-1/attributes").await;
    assert_eq!(status, 200, "{person}");
    assert_eq!(person["customer"]["attributes"]["plan"], "pro");
    assert_eq!(
        person["customer"]["identifiers"]["email"],
        "Buyer@Example.com"
    );

    let (status, page) = app
        .app_get("/v1/customers/buyer-1/activities?limit=100")
        .await;
    assert_eq!(status, 200, "{page}");
    let mut seen: Vec<(String, String, i64)> = page["activities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|activity| ["event", "page"].contains(&activity["type"].as_str().unwrap()))
        .map(|activity| {
            (
                activity["type"].as_str().unwrap().to_owned(),
                activity["name"].as_str().unwrap().to_owned(),
                activity["timestamp"].as_i64().unwrap(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("event".to_owned(), "added_to_cart".to_owned(), START - 3600),
            ("event".to_owned(), "purchased".to_owned(), START),
            (
                "page".to_owned(),
                "https://shop.example/cart".to_owned(),
                START
            ),
        ]
    );
}

#[tokio::test]
async fn track_js_is_served_as_javascript_with_cache_validation() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/assets/track.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let header = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_owned();
    assert_eq!(header("content-type"), "text/javascript; charset=utf-8");
    assert_eq!(header("cache-control"), "public, max-age=3600");
    assert_eq!(header("x-content-type-options"), "nosniff");
    let etag = header("etag");
    let body = response.text().await.unwrap();
    assert!(body.contains("_cio"), "{body}");
    assert!(!body.contains("\n//"), "comment lines are not served");

    let revalidated = app
        .client
        .get(app.url("/assets/track.js"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);
    assert!(revalidated.text().await.unwrap().is_empty());
    let eu = app
        .client
        .get(app.url("/assets/track-eu.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(eu.text().await.unwrap(), body);
}

#[tokio::test]
async fn the_snippet_comes_from_the_app_api_and_the_command_line() {
    let app = TestApp::spawn().await;
    let site_id = &app.workspace.site_id;
    let (status, snippet) = app
        .app_get("/v1/browser/snippet?base_url=https://herald.example.com/")
        .await;
    assert_eq!(status, 200, "{snippet}");
    assert_eq!(snippet["site_id"], site_id.as_str());
    assert_eq!(
        snippet["script_url"],
        "https://herald.example.com/assets/track.js"
    );
    let html = snippet["html"].as_str().unwrap();
    assert!(
        html.contains(&format!("'data-site-id', '{site_id}'")),
        "{html}"
    );
    assert!(
        html.contains("'data-base-url', 'https://herald.example.com'"),
        "{html}"
    );
    // Without a base URL, the server's own URL.
    let (_, snippet) = app.app_get("/v1/browser/snippet").await;
    assert_eq!(snippet["base_url"], app.server.base_url.as_str());
    let (status, error) = app.app_get("/v1/browser/snippet?base_url=herald'x").await;
    assert_eq!(status, 400, "{error}");
    let response = app
        .client
        .get(app.url("/v1/browser/snippet"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let run = |args: &[&str]| {
        crate::helpers::herald(&app.server.data_dir)
            .args(["workspace", "snippet"])
            .args(args)
            .arg("--data-dir")
            .arg(&app.server.data_dir)
            .env_remove("HERALD_PUBLIC_URL")
            .output()
            .expect("herald runs")
    };
    let output = run(&["test", "--base-url", "https://herald.example.com"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(printed.starts_with(html), "{printed}");
    // One workspace: the name may be left out.
    let output = run(&["--json", "--base-url", "https://herald.example.com"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["html"], html);
    let output = run(&["nope"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no workspace named \"nope\""));
}
