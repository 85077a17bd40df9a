//! Campaigns over the App API (validation and life cycle) and template previews.

use serde_json::{Value, json};

use crate::helpers::{TestApp, identify};

fn receipt() -> Value {
    json!({"campaign": {
        "name": "Receipt",
        "trigger": {"event": {"name": "purchased", "where": [{"field": "price", "op": "gt", "value": 10}]}},
        "steps": [
            {"delay": {"minutes": 30}},
            {"webhook": {"url": "http://127.0.0.1:9/{{ customer.id }}", "headers": {"X-Order": "{{ event.order }}"},
                         "body": "{{ event[\"sign up date\"] | date: \"%Y\" }}"}}
        ]
    }})
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(&app.workspace.app_api_key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn campaigns_are_created_started_paused_edited_and_deleted() {
    let app = TestApp::spawn().await;
    let (status, created) = app.app_post("/v1/campaigns", receipt()).await;
    assert_eq!(status, 200, "{created}");
    let id = created["campaign"]["id"].as_i64().unwrap();
    assert_eq!(created["campaign"]["state"], "draft");
    assert_eq!(created["campaign"]["trigger"]["event"]["name"], "purchased");
    let (_, started) = app
        .app_post(&format!("/v1/campaigns/{id}/start"), json!({}))
        .await;
    assert_eq!(started["campaign"]["state"], "running");
    let (_, paused) = app
        .app_post(&format!("/v1/campaigns/{id}/pause"), json!({}))
        .await;
    assert_eq!(paused["campaign"]["state"], "paused");
    let mut edited = receipt();
    edited["campaign"]["name"] = json!("Receipt v2");
    let (status, body) = send(
        &app,
        reqwest::Method::PUT,
        &format!("/v1/campaigns/{id}"),
        Some(edited),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, listed) = app.app_get("/v1/campaigns").await;
    assert_eq!(listed["campaigns"][0]["name"], "Receipt v2");
    assert_eq!(listed["campaigns"][0]["state"], "paused");
    let (status, _) = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/v1/campaigns/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = app.app_get(&format!("/v1/campaigns/{id}")).await;
    assert_eq!(status, 404);
    assert_eq!(body["meta"]["error"], "Campaign not found");
}

#[tokio::test]
async fn invalid_campaigns_get_a_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let mut unknown_segment = receipt();
    unknown_segment["campaign"]["trigger"] = json!({"segment": {"id": 42, "on": "enter"}});
    let mut bad_template = receipt();
    bad_template["campaign"]["steps"][1]["webhook"]["body"] =
        json!("Hi\n{% if customer.plan %}pro");
    let mut no_steps = receipt();
    no_steps["campaign"]["steps"] = json!([]);
    let mut only_delay = receipt();
    only_delay["campaign"]["steps"] = json!([{"delay": {"hours": 1}}]);
    let mut file_url = receipt();
    file_url["campaign"]["steps"][1]["webhook"]["url"] = json!("file:///etc/passwd");
    let mut empty_url = receipt();
    empty_url["campaign"]["steps"][1]["webhook"]["url"] = json!(" ");
    let mut long_trigger = receipt();
    long_trigger["campaign"]["trigger"] = json!({"event": {"name": "x".repeat(101)}});
    let cases = [
        (
            long_trigger,
            "campaign.trigger.event.name: no event can have this name",
        ),
        (
            file_url,
            "campaign.steps[1].webhook.url: the address must be an http:// or https:// URL",
        ),
        (
            empty_url,
            "campaign.steps[1].webhook.url: the address to send to is required",
        ),
        (
            unknown_segment,
            "campaign.trigger.segment.id: segment 42 does not exist",
        ),
        (
            bad_template,
            "campaign.steps[1].webhook.body: syntax error at line",
        ),
        (no_steps, "campaign.steps: "),
        (only_delay, "campaign.steps: a campaign needs at least one"),
    ];
    for (body, expected) in cases {
        let (status, response) = app.app_post("/v1/campaigns", body).await;
        assert_eq!(status, 400, "{response}");
        let message = response["meta"]["error"].as_str().unwrap();
        assert!(
            message.starts_with(expected),
            "{message:?} should start with {expected:?}"
        );
    }
    let (_, listed) = app.app_get("/v1/campaigns").await;
    assert_eq!(listed["campaigns"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn templates_render_for_a_person_and_an_event() {
    let app = TestApp::spawn().await;
    identify(
        &app,
        "ann",
        json!({"first_name": "Ann", "created_at": 1_700_000_000}),
    )
    .await;
    let template = "Hi {{ customer.first_name }}, {{ customer.nickname | default: \"friend\" }}: \
                    {{ event[\"sign up date\"] | date: \"%Y-%m-%d\" }} [{{ customer.missing }}]";
    let (status, body) = app
        .app_post(
            "/v1/templates/render",
            json!({"template": template, "customer_id": "ann", "event": {"sign up date": 1_700_000_000}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["output"], "Hi Ann, friend: 2023-11-14 []");
    let (status, body) = app
        .app_post(
            "/v1/templates/render",
            json!({"template": "line one\n{{ customer.x | nosuchfilter }}"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let message = body["meta"]["error"].as_str().unwrap();
    assert!(message.contains("line 2"), "{message}");
}
