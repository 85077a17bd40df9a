//! Identity, anonymous activity, merges, suppression and the 72-hour rule, on a manual clock.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, event, identify, set_clock};

const START: i64 = 1_800_000_000;
const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

async fn dev_app() -> TestApp {
    TestApp::spawn_with(&[&format!("--dev-clock={START}")]).await
}

async fn anonymous(app: &TestApp, body: Value) {
    let (status, response) = app.track(Method::POST, "/api/v1/events", Some(body)).await;
    assert_eq!(status, 200, "{response}");
}

async fn events_of(app: &TestApp, person: &str) -> Vec<Value> {
    let (status, page) = app
        .app_get(&format!("/v1/customers/{person}/activities?limit=100"))
        .await;
    assert_eq!(status, 200, "{page}");
    let mut events: Vec<Value> = page["activities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| matches!(a["type"].as_str(), Some("event" | "page" | "screen")))
        .cloned()
        .collect();
    events.reverse();
    events
}

fn names(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn duplicate_event_ids_are_answered_200_and_stored_once() {
    let app = dev_app().await;
    let id = ulid::Ulid::new().to_string();
    for _ in 0..3 {
        event(&app, "p", json!({"name": "purchased", "id": id})).await;
    }
    let events = events_of(&app, "p").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event_id"], id);
    let (_, index) = app.app_get("/v1/data_index/events").await;
    assert_eq!(index["events"][0]["count"], 1);
}

#[tokio::test]
async fn the_72_hour_rule_decides_which_events_may_trigger() {
    let app = dev_app().await;
    event(&app, "p", json!({"name": "now"})).await;
    event(
        &app,
        "p",
        json!({"name": "recent", "timestamp": START - 71 * HOUR}),
    )
    .await;
    event(
        &app,
        "p",
        json!({"name": "backfilled", "timestamp": START - 73 * HOUR}),
    )
    .await;
    let events = events_of(&app, "p").await;
    let eligible: Vec<_> = events
        .iter()
        .map(|e| (e["name"].clone(), e["trigger"]["eligible"].clone()))
        .collect();
    assert_eq!(
        eligible,
        vec![
            (json!("now"), json!(true)),
            (json!("recent"), json!(true)),
            (json!("backfilled"), json!(false))
        ]
    );
    assert_eq!(
        events[0]["timestamp"], START,
        "a missing timestamp is the receive time"
    );
    // Events of any age are kept: the data index counts the backfilled one.
    let (_, index) = app.app_get("/v1/data_index/events").await;
    assert_eq!(index["events"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn identify_with_anonymous_id_attaches_anonymous_history() {
    let app = dev_app().await;
    anonymous(
        &app,
        json!({"name": "viewed", "anonymous_id": "anon-1", "timestamp": START - 4 * DAY}),
    )
    .await;
    anonymous(&app, json!({"name": "clicked", "anonymous_id": "anon-1"})).await;
    anonymous(&app, json!({"name": "elsewhere", "anonymous_id": "anon-2"})).await;
    set_clock(&app, START + 10).await;
    identify(&app, "p", json!({"anonymous_id": "anon-1"})).await;
    let events = events_of(&app, "p").await;
    assert_eq!(names(&events), vec!["viewed", "clicked"]);
    assert_eq!(
        events[0]["timestamp"],
        START - 4 * DAY,
        "timestamps are kept"
    );
    assert_eq!(
        events[0]["trigger"]["eligible"], false,
        "attached more than 72 h after its timestamp"
    );
    assert_eq!(events[1]["trigger"]["eligible"], true);
    let merges = app.all_activities("&type=anon_merge").await;
    assert_eq!(merges.len(), 1);
    assert_eq!(merges[0]["data"]["events"], 2);
    // Up to five minutes after the identify, new anonymous events attach on arrival.
    set_clock(&app, START + 10 + 4 * 60).await;
    anonymous(&app, json!({"name": "late", "anonymous_id": "anon-1"})).await;
    set_clock(&app, START + 10 + 6 * 60).await;
    anonymous(&app, json!({"name": "too-late", "anonymous_id": "anon-1"})).await;
    let events = events_of(&app, "p").await;
    assert_eq!(names(&events), vec!["viewed", "clicked", "late"]);
}

#[tokio::test]
async fn anonymous_events_older_than_30_days_do_not_attach() {
    let app = dev_app().await;
    anonymous(&app, json!({"name": "ancient", "anonymous_id": "a"})).await;
    set_clock(&app, START + 31 * DAY).await;
    anonymous(&app, json!({"name": "fresh", "anonymous_id": "a"})).await;
    identify(&app, "p", json!({"anonymous_id": "a"})).await;
    assert_eq!(names(&events_of(&app, "p").await), vec!["fresh"]);
}

#[tokio::test]
async fn merge_moves_attributes_recent_events_and_devices() {
    let app = dev_app().await;
    identify(&app, "primary", json!({"plan": "pro", "empty": ""})).await;
    identify(
        &app,
        "secondary",
        json!({"email": "s@x.com", "plan": "free", "empty": "filled", "city": "Oslo"}),
    )
    .await;
    event(
        &app,
        "secondary",
        json!({"name": "old", "timestamp": START - 40 * DAY}),
    )
    .await;
    event(&app, "secondary", json!({"name": "recent"})).await;
    let (status, _) = app
        .track(
            Method::PUT,
            "/api/v1/customers/secondary/devices",
            Some(json!({"device": {"id": "tok", "platform": "ios"}})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .track(
            Method::POST,
            "/api/v1/merge_customers",
            Some(json!({"primary": {"id": "primary"}, "secondary": {"email": "S@X.com"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = app.app_get("/v1/customers/secondary/attributes").await;
    assert_eq!(status, 404, "the secondary is deleted");
    let (_, customer) = app.app_get("/v1/customers/primary/attributes").await;
    let attributes = &customer["customer"]["attributes"];
    assert_eq!(attributes["plan"], "pro", "the primary's values win");
    assert_eq!(
        attributes["empty"], "filled",
        "empty values are filled from the secondary"
    );
    assert_eq!(attributes["city"], "Oslo");
    assert_eq!(attributes["email"], "s@x.com");
    assert_eq!(customer["customer"]["devices"][0]["token"], "tok");
    let events = events_of(&app, "primary").await;
    assert_eq!(names(&events), vec!["recent"]);
    assert_eq!(
        events[0]["trigger"]["eligible"], false,
        "merged events never trigger"
    );
    assert_eq!(app.all_activities("&type=profile_merge").await.len(), 1);
}

#[tokio::test]
async fn suppressed_identifiers_are_ignored_until_unsuppressed() {
    let app = dev_app().await;
    identify(&app, "p", json!({"email": "p@x.com"})).await;
    let (status, _) = app
        .track(Method::POST, "/api/v1/customers/p/suppress", None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = app.app_get("/v1/customers/p/attributes").await;
    assert_eq!(status, 404, "suppress deletes the profile");
    identify(&app, "p", json!({"plan": "x"})).await;
    event(&app, "p", json!({"name": "ignored"})).await;
    identify(&app, "other", json!({"email": "P@x.com"})).await;
    let (status, _) = app.app_get("/v1/customers/p/attributes").await;
    assert_eq!(status, 404, "calls naming a suppressed id are ignored");
    let (status, _) = app.app_get("/v1/customers/other/attributes").await;
    assert_eq!(status, 404, "calls naming a suppressed email are ignored");
    // A merge into a suppressed identifier is ignored too, through each API that merges, and
    // leaves the secondary as it was.
    identify(&app, "live", json!({"plan": "kept"})).await;
    let (status, _) = app
        .track(
            Method::POST,
            "/api/v1/merge_customers",
            Some(json!({"primary": {"id": "p"}, "secondary": {"id": "live"}})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .track(
            Method::POST,
            "/api/v2/entity",
            Some(json!({"type": "person", "action": "merge",
                "primary": {"email": "p@x.com"}, "secondary": {"id": "live"}})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app.app_get("/v1/customers/p/attributes").await;
    assert_eq!(status, 404, "a merge does not bring a suppressed id back");
    let (status, live) = app.app_get("/v1/customers/live/attributes").await;
    assert_eq!(status, 200, "the secondary of an ignored merge stays");
    assert_eq!(live["customer"]["attributes"]["plan"], "kept");
    assert!(
        live["customer"]["attributes"].get("email").is_none(),
        "nor does a merge give a suppressed email to anyone"
    );
    let (status, _) = app
        .track(Method::POST, "/api/v1/customers/p/unsuppress", None)
        .await;
    assert_eq!(status, 200);
    identify(&app, "p", json!({"plan": "y"})).await;
    let (_, customer) = app.app_get("/v1/customers/p/attributes").await;
    assert_eq!(customer["customer"]["attributes"]["plan"], "y");
    assert!(
        customer["customer"]["attributes"].get("email").is_none(),
        "a fresh profile"
    );
}

#[tokio::test]
async fn delete_then_identify_makes_a_new_profile_and_cio_ids_are_immutable() {
    let app = dev_app().await;
    identify(&app, "p", json!({"a": 1})).await;
    let (_, first) = app.app_get("/v1/customers/p/attributes").await;
    let cio = first["customer"]["identifiers"]["cio_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Referencing a person by cio id lets the id change.
    identify(&app, &format!("cio_{cio}"), json!({"id": "renamed"})).await;
    let (_, renamed) = app
        .app_get(&format!("/v1/customers/{cio}/attributes?id_type=cio_id"))
        .await;
    assert_eq!(renamed["customer"]["identifiers"]["id"], "renamed");
    let (status, _) = app
        .track(Method::DELETE, "/api/v1/customers/renamed", None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = app.app_get("/v1/customers/renamed/attributes").await;
    assert_eq!(status, 404);
    identify(&app, "renamed", json!({})).await;
    let (_, again) = app.app_get("/v1/customers/renamed/attributes").await;
    assert_ne!(again["customer"]["identifiers"]["cio_id"], cio);
    assert_eq!(app.all_activities("&type=profile_delete").await.len(), 1);
}

#[tokio::test]
async fn activities_filter_and_page_and_show_only_30_days() {
    let app = dev_app().await;
    for index in 0..5 {
        event(
            &app,
            "p",
            json!({"name": if index % 2 == 0 { "even" } else { "odd" }}),
        )
        .await;
    }
    event(&app, "q", json!({"name": "even"})).await;
    let (_, page) = app
        .app_get("/v1/activities?type=event&name=even&limit=2")
        .await;
    assert_eq!(page["activities"].as_array().unwrap().len(), 2);
    let next = page["next"].as_str().unwrap().to_owned();
    assert!(!next.is_empty());
    let (_, rest) = app
        .app_get(&format!(
            "/v1/activities?type=event&name=even&limit=2&start={next}"
        ))
        .await;
    assert_eq!(rest["activities"].as_array().unwrap().len(), 2);
    assert_eq!(rest["next"], "");
    let (_, mine) = app.app_get("/v1/activities?type=event&customer_id=q").await;
    assert_eq!(mine["activities"].as_array().unwrap().len(), 1);
    let (status, body) = app.app_get("/v1/activities?type=nonsense").await;
    assert_eq!(status, 400, "{body}");
    set_clock(&app, START + 31 * DAY).await;
    let (_, later) = app.app_get("/v1/activities?type=event").await;
    assert_eq!(
        later["activities"],
        json!([]),
        "activity views show the last 30 days"
    );
    let (_, index) = app.app_get("/v1/data_index/events").await;
    assert_eq!(
        index["events"].as_array().unwrap().len(),
        2,
        "events are kept for segmentation"
    );
}

/// Metrics need proof (the tracking tests cover the ways to give it): a delivery id alone is a
/// 401 that says what to send.
#[tokio::test]
async fn metrics_and_push_events_without_proof_are_refused() {
    let app = dev_app().await;
    for (path, body) in [
        (
            "/api/v1/metrics",
            json!({"delivery_id": "d1", "metric": "opened"}),
        ),
        (
            "/api/v1/push/events",
            json!({"delivery_id": "d1", "event": "opened", "device_id": "tok", "timestamp": START}),
        ),
    ] {
        let response = app
            .client
            .post(app.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        let message = body["meta"]["error"].as_str().unwrap();
        assert!(message.contains("delivery_token"), "{message}");
    }
}

#[tokio::test]
async fn region_answers_this_servers_url() {
    let app = dev_app().await;
    let (status, body) = app
        .track(Method::GET, "/api/v1/accounts/region", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["url"], app.server.base_url);
}
