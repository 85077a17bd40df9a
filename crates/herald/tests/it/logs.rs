//! Structured logs: with `--log-format json` every line the server writes is one JSON object,
//! each request has its line (method, route, status, latency, workspace), and no key, write
//! key, password or session a run used ever appears in the log.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Server, TestApp, create_workspace};
use crate::ui::{Browser, PASSWORD, add_user};

/// The log's lines, each parsed; panics on a line that is not a JSON object.
fn lines(log: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .expect("the log")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
            assert!(value.is_object(), "{line}");
            value
        })
        .collect()
}

#[tokio::test]
async fn json_logs_have_a_line_per_request_and_no_secret() {
    let dir = tempfile::tempdir().expect("a temporary dir");
    let workspace = create_workspace(dir.path(), "logged");
    add_user(dir.path(), "ops@example.com", &[]);
    let log = dir.path().join("server.log");
    let server = Server::start_logging(dir.path(), &["--log-format=json", "--log-requests"], &log);
    let app = TestApp::on(
        server,
        workspace.clone(),
        tempfile::tempdir().expect("a dir"),
    );

    // Every kind of credential, right and wrong.
    let (status, _) = app
        .track(
            reqwest::Method::PUT,
            "/api/v1/customers/ann",
            Some(json!({"email": "ann@example.com"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app.app_get("/v1/customers/ann/attributes").await;
    assert_eq!(status, 200);
    let (status, _) = app
        .pipelines(
            "/v1/track",
            json!({"userId": "ann", "event": "opened"}),
            false,
        )
        .await;
    assert_eq!(status, 200);
    let wrong = app
        .client
        .get(app.url("/v1/customers/ann/attributes"))
        .bearer_auth("not-the-key-0123456789")
        .send()
        .await
        .expect("an answer");
    assert_eq!(wrong.status(), 401);
    let mut browser = Browser::new(&app.server);
    let (status, _, _) = browser.sign_in("ops@example.com", PASSWORD).await;
    assert!(status.is_success() || status.is_redirection(), "{status}");
    let _ = browser.get("/ui").await;

    // The lines come as the requests end: wait for the last one.
    let mut found = Vec::new();
    for _ in 0..200 {
        found = lines(&log);
        let requests = found
            .iter()
            .filter(|line| line["message"] == "request")
            .count();
        if requests >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let request = |route: &str| {
        found
            .iter()
            .find(|line| line["message"] == "request" && line["route"] == route)
            .unwrap_or_else(|| panic!("no line for {route}: {found:?}"))
            .clone()
    };
    let identify = request("/api/v1/customers/{identifier}");
    assert_eq!(identify["method"], "PUT");
    assert_eq!(identify["status"], 200);
    assert_eq!(identify["workspace"], workspace.id);
    assert!(identify["latency_ms"].as_f64().is_some(), "{identify}");
    let read = request("/v1/customers/{id}/attributes");
    assert!(
        found
            .iter()
            .any(|line| line["route"] == read["route"] && line["status"] == 401),
        "the refused read has its line too"
    );
    assert_eq!(request("/v1/track")["workspace"], workspace.id);

    // No secret in any line, nor a person's id from a path.
    let text = std::fs::read_to_string(&log).expect("the log");
    let session = browser.cookie_header();
    for secret in [
        workspace.api_key.as_str(),
        workspace.app_api_key.as_str(),
        workspace.write_key.as_str(),
        "not-the-key-0123456789",
        PASSWORD,
        session.as_str(),
    ] {
        assert!(!secret.is_empty());
        assert!(!text.contains(secret), "the log holds a secret: {secret}");
    }
    assert!(!text.contains("ann@example.com"), "{text}");
}
