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

/// A path that names no one yet with a body naming someone who has another identifier of that
/// kind is two people: nothing is written onto the body's person, the refusal is recorded. A
/// person known only by email takes the path's id, as in Customer.io.
#[tokio::test]
async fn identify_does_not_write_one_person_onto_another() {
    let app = TestApp::spawn().await;
    let put = |path: &'static str, body: serde_json::Value| {
        let app = &app;
        async move {
            let (status, answer) = app.track(Method::PUT, path, Some(body)).await;
            assert_eq!(status, 200, "{answer}");
        }
    };
    put(
        "/api/v1/customers/p1",
        json!({"email": "q@x.com", "owner": "p1"}),
    )
    .await;
    put(
        "/api/v1/customers/p2",
        json!({"email": "Q@x.com", "owner": "p2"}),
    )
    .await;
    let (_, p1) = app.app_get("/v1/customers/p1/attributes").await;
    assert_eq!(p1["customer"]["attributes"]["owner"], "p1", "{p1}");
    let (status, _) = app.app_get("/v1/customers/p2/attributes").await;
    assert_eq!(status, 404);
    let failed = app.all_activities("&type=failed_attribute_change").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0]["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("not to p2"),
        "{failed:?}"
    );

    put("/api/v1/customers/only@x.com", json!({"plan": "free"})).await;
    put(
        "/api/v1/customers/u9",
        json!({"email": "only@x.com", "plan": "pro"}),
    )
    .await;
    let (status, u9) = app.app_get("/v1/customers/u9/attributes").await;
    assert_eq!(status, 200, "{u9}");
    assert_eq!(u9["customer"]["attributes"]["plan"], "pro");
    assert_eq!(u9["customer"]["attributes"]["email"], "only@x.com");
}
