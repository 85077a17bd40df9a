//! `--retention-days`: events older than the setting are dropped in the background, segments
//! answer over the events kept (as the reference evaluator would over that history), no
//! campaign starts because of it, and a restart keeps the same answers.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::delivery::{ALLOW_LOOPBACK, start_campaign};
use crate::helpers::{Server, TestApp, event, identify, set_clock};
use crate::receiver::Receiver;
use crate::segments::{create_segment, members};

const START: i64 = 1_800_000_000;
const DAY: i64 = 86_400;

/// Waits for the background task to bring a segment to `expected` members.
async fn wait_members(app: &TestApp, segment: i64, expected: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // A server that just started answers 503 until its engine has loaded.
        let (status, body) = app
            .app_get(&format!("/v1/segments/{segment}/membership"))
            .await;
        let mut now: Vec<String> = body["ids"]
            .as_array()
            .map(|ids| {
                ids.iter()
                    .map(|id| id.as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        now.sort();
        if status == 200 && now == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "segment {segment} holds {now:?}, not {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn event_names(app: &TestApp, person: &str) -> Vec<i64> {
    let (_, body) = app
        .app_get(&format!("/v1/customers/{person}/activities?type=event"))
        .await;
    let mut stamps: Vec<i64> = body["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|activity| activity["timestamp"].as_i64().unwrap())
        .collect();
    stamps.sort_unstable();
    stamps
}

#[tokio::test]
async fn retention_drops_old_events_and_segments_answer_over_what_is_kept() {
    let receiver = Receiver::start().await;
    let clock = format!("--dev-clock={START}");
    let args = [
        ALLOW_LOOPBACK,
        clock.as_str(),
        "--retention-days=30",
        "--retention-every=100ms",
    ];
    let mut app = TestApp::spawn_with(&args).await;
    for person in ["ann", "bob", "cy"] {
        identify(&app, person, json!({"plan": "pro"})).await;
    }
    // Stamped within the retention already, so that they are kept until the clock moves.
    for (person, days_ago) in [("ann", 25), ("ann", 5), ("bob", 29), ("cy", 1)] {
        event(
            &app,
            person,
            json!({"name": "purchased", "timestamp": START - days_ago * DAY}),
        )
        .await;
    }
    let twice = create_segment(
        &app,
        Some(json!({"event": {"name": "purchased", "count": {"at_least": 2}}})),
    )
    .await;
    let ever = create_segment(&app, Some(json!({"event": {"name": "purchased"}}))).await;
    let never = create_segment(&app, Some(json!({"not": {"event": {"name": "purchased"}}}))).await;
    let hook = json!({"webhook": {"url": format!("{}/{{{{ customer.id }}}}", receiver.base_url)}});
    for (segment, on) in [(twice, "exit"), (ever, "exit"), (never, "enter")] {
        start_campaign(
            &app,
            json!({"name": format!("{segment} {on}"), "trigger": {"segment": {"id": segment, "on": on}}, "steps": [hook]}),
        )
        .await;
    }
    assert_eq!(members(&app, twice).await, ["ann"]);
    assert_eq!(members(&app, ever).await, ["ann", "bob", "cy"]);
    assert!(members(&app, never).await.is_empty());

    // Ten days on, the events of 25 and 29 days ago are past 30 days: ann keeps one, bob none.
    set_clock(&app, START + 10 * DAY).await;
    wait_members(&app, twice, &[]).await;
    wait_members(&app, ever, &["ann", "cy"]).await;
    wait_members(&app, never, &["bob"]).await;
    assert_eq!(event_names(&app, "ann").await, [START - 5 * DAY]);
    assert!(event_names(&app, "bob").await.is_empty());
    assert_eq!(event_names(&app, "cy").await, [START - DAY]);
    // Dropping old data is nothing a person did: no campaign starts.
    receiver.assert_stays_at(0).await;

    // A restart answers the same, and a new event still counts.
    app.server.stop();
    app.server = Server::start(&app.server.data_dir.clone(), &args);
    wait_members(&app, twice, &[]).await;
    assert_eq!(members(&app, ever).await, ["ann", "cy"]);
    assert_eq!(members(&app, never).await, ["bob"]);
    event(&app, "ann", json!({"name": "purchased"})).await;
    wait_members(&app, twice, &["ann"]).await;
    receiver.assert_stays_at(0).await;
}
