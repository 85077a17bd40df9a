//! Track API v1/v2 behaviour against a running server.

use reqwest::Method;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn customer_io_documented_curl_example_works_as_written() {
    let app = TestApp::spawn().await;
    let output = tokio::process::Command::new("curl")
        .args(["-s", "-i", "-u"])
        .arg(format!(
            "{}:{}",
            app.workspace.site_id, app.workspace.api_key
        ))
        .args([
            "-d",
            "name=purchased",
            "-d",
            "data[price]=23.45",
            "-d",
            "timestamp=1359389415",
        ])
        .arg(app.url("/api/v1/customers/5/events"))
        .output()
        .await
        .expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let (status, index) = app.app_get("/v1/data_index/events").await;
    assert_eq!(status, 200);
    assert_eq!(index["events"][0]["name"], "purchased");
    assert_eq!(index["events"][0]["first_seen"], 1359389415);
    assert_eq!(index["events"][0]["attribute_keys"], json!(["price"]));
}

#[tokio::test]
async fn wrong_credentials_are_401() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .put(app.url("/api/v1/customers/1"))
        .basic_auth(&app.workspace.site_id, Some("wrong"))
        .json(&json!({"a": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = app
        .client
        .get(app.url("/v1/activities"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let (status, _) = app
        .track(Method::PUT, "/api/v1/customers/1", Some(json!({"a": 1})))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn identify_sets_and_removes_attributes_and_emails_are_case_insensitive() {
    let app = TestApp::spawn().await;
    let (status, _) = app
        .track(
            Method::PUT,
            "/api/v1/customers/a%2Fb",
            Some(json!({"email": "Bob@Example.com", "plan": "pro", "age": 3})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, found) = app.app_get("/v1/customers?email=bob%40EXAMPLE.com").await;
    assert_eq!(found["results"][0]["id"], "a/b");
    let (status, _) = app
        .track(
            Method::PUT,
            "/api/v1/customers/BOB@example.com",
            Some(json!({"plan": null, "age": 4})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, customer) = app.app_get("/v1/customers/a%2Fb/attributes").await;
    let attributes = &customer["customer"]["attributes"];
    assert_eq!(attributes["age"], 4);
    assert!(
        attributes.get("plan").is_none(),
        "null removes: {attributes}"
    );
    let (status, _) = app.app_get("/v1/customers/A%2Fb/attributes").await;
    assert_eq!(status, 404, "ids are case-sensitive");
    let changes = app.all_activities("&type=attribute_change").await;
    let names: Vec<_> = changes
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, vec!["plan", "age", "plan", "age"]);
    assert_eq!(
        changes[2]["data"]["plan"],
        json!({"from": "pro", "to": null})
    );
}

#[tokio::test]
async fn update_only_identify_does_not_create_people() {
    let app = TestApp::spawn().await;
    let (status, _) = app
        .track(
            Method::PUT,
            "/api/v1/customers/ghost",
            Some(json!({"_update": true, "plan": "x"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app.app_get("/v1/customers/ghost/attributes").await;
    assert_eq!(status, 404);
    let failed = app.all_activities("&type=failed_attribute_change").await;
    assert_eq!(failed.len(), 1);
}
