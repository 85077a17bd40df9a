//! Hostile numbers in Liquid: an integer overflow in a template (which made liquid-lib's
//! `divided_by` panic) fails that one render, both in the preview endpoint and in a campaign
//! run, and the server and its dispatcher go on working.

use serde_json::{Value, json};

use crate::delivery::{ALLOW_LOOPBACK, settled_deliveries, start_campaign};
use crate::helpers::{TestApp, event, identify};
use crate::receiver::Receiver;

#[tokio::test]
async fn a_render_preview_that_overflows_is_a_400_naming_the_filter() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .app_post(
            "/v1/templates/render",
            json!({"template": "{{ -9223372036854775808 | divided_by: -1 }}"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let message = body["meta"]["error"].as_str().unwrap();
    assert!(message.contains("divided_by"), "{message}");

    // The same overflow from event data.
    let (status, body) = app
        .app_post(
            "/v1/templates/render",
            json!({"template": "{{ event.n | modulo: -1 }}", "event": {"n": i64::MIN}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let message = body["meta"]["error"].as_str().unwrap();
    assert!(message.contains("modulo"), "{message}");

    // The server still answers.
    let (status, body) = app
        .app_post(
            "/v1/templates/render",
            json!({"template": "{{ 7 | divided_by: 2 }}"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["output"], "3");
}

#[tokio::test]
async fn a_campaign_message_that_overflows_fails_and_the_next_one_is_sent() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK]).await;
    let campaign = start_campaign(
        &app,
        json!({
            "name": "Quotients",
            "trigger": {"event": {"name": "measured"}},
            "steps": [{"webhook": {
                "url": format!("{}/quotient", receiver.base_url),
                "body": "{\"q\": {{ event.n | divided_by: -1 }}}"
            }}]
        }),
    )
    .await;
    identify(&app, "ann", json!({})).await;

    event(
        &app,
        "ann",
        json!({"name": "measured", "data": {"n": i64::MIN}}),
    )
    .await;
    let list = settled_deliveries(&app, campaign).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["status"], "failed", "{list:?}");
    let error = list[0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("cannot render") && error.contains("divided_by"),
        "{error}"
    );
    // The run ends there, failed, rather than staying active or going on.
    let id = list[0]["id"].as_str().unwrap();
    let (status, one) = app.app_get(&format!("/v1/deliveries/{id}")).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["delivery"]["run"]["state"], "failed", "{one}");
    let failed = app.all_activities("&type=delivery_failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0]["data"]["error"]
            .as_str()
            .is_some_and(|error| error.contains("divided_by")),
        "{failed:?}"
    );
    assert!(receiver.received().is_empty(), "{:?}", receiver.received());

    // The dispatcher is alive: the next event of the same campaign is delivered.
    event(&app, "ann", json!({"name": "measured", "data": {"n": 42}})).await;
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].path, "/quotient");
    assert_eq!(received[0].json(), json!({"q": -42}));
    receiver.assert_stays_at(1).await;
    let list = settled_deliveries(&app, campaign).await;
    let statuses: Vec<&Value> = list.iter().map(|d| &d["status"]).collect();
    assert_eq!(statuses, [&json!("sent"), &json!("failed")], "{list:?}");
}
