//! Campaigns started by objects and relationships: a person related to an object, a
//! relationship changed or ended, and an object updated (every person related to it), with
//! `trigger.object` and `trigger.relationship` in Liquid.

use reqwest::Method;
use serde_json::{Value, json};

use crate::delivery::{ALLOW_LOOPBACK, start_campaign};
use crate::helpers::{TestApp, event, identify};
use crate::receiver::Receiver;

async fn batch(app: &TestApp, items: Value) {
    let (status, body) = app
        .track(
            Method::POST,
            "/api/v2/batch",
            Some(json!({ "batch": items })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// A webhook campaign on a change of type-1 objects that posts to `/{on}` what its trigger
/// says.
async fn campaign(app: &TestApp, receiver: &Receiver, on: &str, filters: Value) {
    start_campaign(
        app,
        json!({
            "name": format!("Accounts {on}"),
            "trigger": {"object": {"object_type_id": "1", "on": on, "where": filters}},
            "steps": [{"webhook": {
                "url": format!("{}/{on}", receiver.base_url),
                "body": "{\"person\": \"{{ customer.id }}\", \"object\": \"{{ trigger.object_id }}\", \"name\": \"{{ trigger.object.name }}\", \"plan\": \"{{ trigger.object.plan }}\", \"role\": \"{{ trigger.relationship.role }}\", \"change\": \"{{ trigger.object_change }}\"}"
            }}]
        }),
    )
    .await;
}

/// What the receiver got, as (path, person, object, name, plan, role), sorted.
fn calls(receiver: &Receiver) -> Vec<[String; 6]> {
    let mut calls: Vec<[String; 6]> = receiver
        .received()
        .iter()
        .map(|call| {
            let body = call.json();
            let text = |field: &str| body[field].as_str().unwrap_or("?").to_owned();
            [
                call.path.clone(),
                text("person"),
                text("object"),
                text("name"),
                text("plan"),
                text("role"),
            ]
        })
        .collect();
    calls.sort();
    calls
}

fn call(path: &str, fields: [&str; 5]) -> [String; 6] {
    let [person, object, name, plan, role] = fields;
    [path, person, object, name, plan, role].map(str::to_owned)
}

#[tokio::test]
async fn object_and_relationship_changes_start_campaigns_with_their_data_in_liquid() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK]).await;
    campaign(&app, &receiver, "added", json!([])).await;
    campaign(&app, &receiver, "changed", json!([])).await;
    campaign(&app, &receiver, "removed", json!([])).await;
    campaign(
        &app,
        &receiver,
        "updated",
        json!([{"field": "plan", "op": "eq", "value": "enterprise"}]),
    )
    .await;
    identify(&app, "ann", json!({})).await;
    identify(&app, "bob", json!({})).await;

    // Made: ann and bob join Acme, one relationship each, so two "added" runs.
    batch(
        &app,
        json!([
            {"type": "object", "action": "identify",
             "identifiers": {"object_type_id": "1", "object_id": "acme"},
             "attributes": {"name": "Acme", "plan": "free"},
             "cio_relationships": [{"identifiers": {"id": "ann"},
                                    "relationship_attributes": {"role": "admin"}}]},
            {"type": "person", "action": "add_relationships", "identifiers": {"id": "bob"},
             "cio_relationships": [{"identifiers": {"object_type_id": "1", "object_id": "acme"}}]},
            // Another type starts nothing.
            {"type": "object", "action": "identify",
             "identifiers": {"object_type_id": "2", "object_id": "course"},
             "attributes": {"plan": "enterprise"},
             "cio_relationships": [{"identifiers": {"id": "ann"}}]}
        ]),
    )
    .await;
    receiver.wait_for(2).await;
    receiver.assert_stays_at(2).await;
    assert_eq!(
        calls(&receiver),
        [
            call("/added", ["ann", "acme", "Acme", "free", "admin"]),
            call("/added", ["bob", "acme", "Acme", "free", ""]),
        ]
    );

    // An update the filter refuses starts nothing; the one it takes reaches both people.
    let update = |plan: &str| {
        json!([{"type": "object", "action": "identify",
                "identifiers": {"object_type_id": "1", "object_id": "acme"},
                "attributes": {"plan": plan}}])
    };
    batch(&app, update("team")).await;
    batch(&app, update("enterprise")).await;
    // The same attributes again change nothing, so start nothing.
    batch(&app, update("enterprise")).await;
    receiver.wait_for(4).await;
    receiver.assert_stays_at(4).await;
    let updated: Vec<[String; 6]> = calls(&receiver)
        .into_iter()
        .filter(|call| call[0] == "/updated")
        .collect();
    assert_eq!(
        updated,
        [
            call("/updated", ["ann", "acme", "Acme", "enterprise", ""]),
            call("/updated", ["bob", "acme", "Acme", "enterprise", ""]),
        ]
    );

    // A relationship's attributes changed, then the relationship ended (with what it had).
    batch(
        &app,
        json!([{"type": "person", "action": "add_relationships", "identifiers": {"id": "bob"},
                "cio_relationships": [{"identifiers": {"object_type_id": "1", "object_id": "acme"},
                                       "relationship_attributes": {"role": "owner"}}]}]),
    )
    .await;
    batch(
        &app,
        json!([{"type": "person", "action": "delete_relationships", "identifiers": {"id": "bob"},
                "cio_relationships": [{"identifiers": {"object_type_id": "1", "object_id": "acme"}}]}]),
    )
    .await;
    receiver.wait_for(6).await;
    // An event named like a change is an event, not a change of an object.
    event(
        &app,
        "ann",
        json!({"name": "added", "data": {"plan": "enterprise"}}),
    )
    .await;
    receiver.assert_stays_at(6).await;
    let rest: Vec<[String; 6]> = calls(&receiver)
        .into_iter()
        .filter(|call| call[0] == "/changed" || call[0] == "/removed")
        .collect();
    assert_eq!(
        rest,
        [
            call("/changed", ["bob", "acme", "Acme", "enterprise", "owner"]),
            call("/removed", ["bob", "acme", "Acme", "enterprise", "owner"]),
        ]
    );
    let change = receiver
        .received()
        .iter()
        .find(|call| call.path == "/removed")
        .map(|call| call.json()["change"].clone());
    assert_eq!(change, Some(json!("removed")));
}

#[tokio::test]
async fn a_bad_object_trigger_is_refused_with_its_field() {
    let app = TestApp::spawn().await;
    for (trigger, field) in [
        (
            json!({"object": {"on": "added"}}),
            "campaign.trigger.object.object_type_id",
        ),
        (
            json!({"object": {"object_type_id": "1", "on": "created"}}),
            "campaign.trigger.object.on",
        ),
        (
            json!({"object": {"object_type_id": "1", "on": "added", "where": [{"field": "plan"}]}}),
            "campaign.trigger.object.where[0]",
        ),
    ] {
        let (status, body) = app
            .app_post(
                "/v1/campaigns",
                json!({"campaign": {"name": "x", "trigger": trigger,
                       "steps": [{"webhook": {"url": "https://example.com/hook"}}]}}),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        let text = body.to_string();
        assert!(text.contains(field), "{field}: {text}");
    }
}

#[tokio::test]
async fn a_visitors_relationships_wait_for_the_identify_that_names_them() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK]).await;
    campaign(&app, &receiver, "added", json!([])).await;
    batch(
        &app,
        json!([{"type": "object", "action": "identify_anonymous",
                "identifiers": {"object_type_id": "1", "object_id": "acme"},
                "attributes": {"name": "Acme", "plan": "trial"},
                "cio_relationships": [{"identifiers": {"anonymous_id": "visitor-1"},
                                       "relationship_attributes": {"role": "evaluator"}}]}]),
    )
    .await;
    let (status, body) = app.app_get("/v1/objects/1/acme/relationships").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["cio_relationships"],
        json!([]),
        "a visitor is nobody's relationship yet"
    );
    receiver.assert_stays_at(0).await;

    // The identify that names the visitor makes the relationship the person's.
    identify(&app, "ann", json!({"anonymous_id": "visitor-1"})).await;
    let (status, body) = app.app_get("/v1/customers/ann/relationships").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["cio_relationships"][0]["identifiers"]["object_id"], "acme",
        "{body}"
    );
    assert_eq!(
        body["cio_relationships"][0]["attributes"]["role"],
        "evaluator"
    );
    receiver.wait_for(1).await;
    assert_eq!(
        calls(&receiver),
        [call(
            "/added",
            ["ann", "acme", "Acme", "trial", "evaluator"]
        )]
    );
    // Taken once: another identify with the same anonymous id adds nothing.
    identify(&app, "ann", json!({"anonymous_id": "visitor-1", "x": 1})).await;
    receiver.assert_stays_at(1).await;

    // Within the grace period after that identify, the visitor is ann: related at once.
    batch(
        &app,
        json!([{"type": "object", "action": "identify_anonymous",
                "identifiers": {"object_type_id": "1", "object_id": "globex"},
                "attributes": {"name": "Globex"},
                "cio_relationships": [{"identifiers": {"anonymous_id": "visitor-1"}}]}]),
    )
    .await;
    receiver.wait_for(2).await;
    let (_, body) = app.app_get("/v1/customers/ann/relationships").await;
    assert_eq!(
        body["cio_relationships"].as_array().map(Vec::len),
        Some(2),
        "{body}"
    );

    // A visitor's relationship to an object deleted before they were identified is gone.
    batch(
        &app,
        json!([{"type": "object", "action": "identify_anonymous",
                "identifiers": {"object_type_id": "1", "object_id": "initech"},
                "cio_relationships": [{"identifiers": {"anonymous_id": "visitor-2"}}]},
               {"type": "object", "action": "delete",
                "identifiers": {"object_type_id": "1", "object_id": "initech"}}]),
    )
    .await;
    identify(&app, "bob", json!({"anonymous_id": "visitor-2"})).await;
    let (_, body) = app.app_get("/v1/customers/bob/relationships").await;
    assert_eq!(body["cio_relationships"], json!([]), "{body}");
    receiver.assert_stays_at(2).await;
}
