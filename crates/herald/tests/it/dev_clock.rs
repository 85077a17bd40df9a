//! `--dev-clock`: a manual clock for the whole server that only moves forward and survives
//! restarts.

use serde_json::json;

use crate::helpers::{Server, TestApp};

#[tokio::test]
async fn the_dev_clock_moves_forward_only_and_is_404_without_the_flag() {
    let plain = TestApp::spawn().await;
    let (status, _) = plain
        .app_post("/v1/_dev/clock", json!({"now": 2_000_000_000}))
        .await;
    assert_eq!(status, 404);

    let app = TestApp::spawn_with(&["--dev-clock=1800000000"]).await;
    let (_, now) = app.app_get("/v1/_dev/clock").await;
    assert_eq!(now["now"], 1_800_000_000);
    let (status, _) = app
        .app_post("/v1/_dev/clock", json!({"now": 1_800_000_500}))
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .app_post("/v1/_dev/clock", json!({"now": 1_800_000_499}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "clock_backwards");
    let response = app
        .client
        .post(app.url("/v1/_dev/clock"))
        .json(&json!({"now": 1_900_000_000}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "the App API key is required");
    // Default timestamps come from the manual clock.
    let (status, _) = app
        .track(
            reqwest::Method::POST,
            "/api/v1/customers/p/events",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, 200);
    let activities = app.all_activities("&type=event").await;
    assert_eq!(activities[0]["timestamp"], 1_800_000_500);
}

#[tokio::test]
async fn a_restart_never_moves_the_dev_clock_back() {
    let mut app = TestApp::spawn_with(&["--dev-clock=1800000000"]).await;
    let (status, _) = app
        .app_post("/v1/_dev/clock", json!({"now": 1_800_009_000}))
        .await;
    assert_eq!(status, 200);
    app.server.kill();
    let data_dir = app.server.data_dir.clone();
    app.server = Server::start(&data_dir, &["--dev-clock=1800000000"]);
    let (_, now) = app.app_get("/v1/_dev/clock").await;
    assert_eq!(
        now["now"], 1_800_009_000,
        "the stored later time wins over START"
    );
    app.server.kill();
    app.server = Server::start(&data_dir, &["--dev-clock=1900000000"]);
    let (_, now) = app.app_get("/v1/_dev/clock").await;
    assert_eq!(now["now"], 1_900_000_000, "a later START wins");
}
