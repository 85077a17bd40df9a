//! The Data Pipelines API (`/v1/identify`, `/v1/track`, …, `/v1/batch`, Basic `write_key:`)
//! over HTTP, each call checked through the App API.

use serde_json::{Value, json};

use crate::helpers::TestApp;

/// The person's attributes through the App API, or the status when there is none.
async fn attributes(app: &TestApp, id: &str) -> Result<Value, u16> {
    let (status, body) = app.app_get(&format!("/v1/customers/{id}/attributes")).await;
    if status == 200 {
        Ok(body["customer"].clone())
    } else {
        Err(status)
    }
}

/// The names of a person's activities of one type, oldest first.
async fn activity_names(app: &TestApp, id: &str, kind: &str) -> Vec<String> {
    app.all_activities(&format!("&customer_id={id}&type={kind}"))
        .await
        .iter()
        .map(|activity| activity["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn every_call_type_is_stored_as_its_track_api_twin() {
    let app = TestApp::spawn().await;
    let ok = |(status, body): (u16, Value)| {
        assert_eq!((status, &body), (200, &json!({})), "{body}");
    };
    // A visitor's events before sign-up, then the identify that names both.
    ok(app
        .pipelines(
            "/v1/track",
            json!({"anonymousId": "anon-7", "event": "viewed_pricing",
                   "properties": {"plan": "pro"}, "messageId": "m-anon-1"}),
            false,
        )
        .await);
    ok(app
        .pipelines(
            "/v1/identify",
            json!({"userId": "ann", "anonymousId": "anon-7",
                   "traits": {"email": "Ann@Example.com", "plan": "pro",
                              "createdAt": "2026-01-02T03:04:05.678Z"},
                   "context": {"library": {"name": "curl"}}, "messageId": "m-id-1",
                   "timestamp": "2026-12-04T10:00:00.000Z"}),
            false,
        )
        .await);
    let ann = attributes(&app, "ann").await.expect("ann exists");
    assert_eq!(ann["attributes"]["email"], "Ann@Example.com");
    assert_eq!(ann["attributes"]["plan"], "pro");
    assert_eq!(ann["attributes"]["created_at"], 1_767_323_045);
    assert_eq!(
        activity_names(&app, "ann", "event").await,
        ["viewed_pricing"],
        "the anonymous event joined ann"
    );
    ok(app
        .pipelines(
            "/v1/track",
            json!({"userId": "ann", "event": "purchased", "properties": {"price": 9},
                   "messageId": "m-buy-1", "timestamp": "2026-12-04T10:00:01Z"}),
            false,
        )
        .await);
    ok(app
        .pipelines(
            "/v1/page",
            json!({"userId": "ann", "name": "Pricing",
                   "properties": {"url": "https://shop.test/pricing"}}),
            false,
        )
        .await);
    ok(app
        .pipelines(
            "/v1/screen",
            json!({"userId": "ann", "name": "Checkout"}),
            false,
        )
        .await);
    assert_eq!(
        activity_names(&app, "ann", "event").await,
        ["viewed_pricing", "purchased"]
    );
    // A URL longer than an event name is named by its address and kept whole; so is one the
    // Track API's page event sends.
    let campaign_url = format!(
        "https://shop.test/pricing?utm_source=newsletter&utm_medium=email&utm_campaign={}",
        "spring".repeat(12)
    );
    ok(app
        .pipelines(
            "/v1/page",
            json!({"userId": "ann", "properties": {"url": campaign_url}}),
            false,
        )
        .await);
    let (status, body) = app
        .track(
            reqwest::Method::POST,
            "/api/v1/customers/ann/events",
            Some(json!({"type": "page", "name": "/search?q=red+shoes"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        activity_names(&app, "ann", "page").await,
        [
            "https://shop.test/pricing",
            "https://shop.test/pricing",
            "/search"
        ]
    );
    let pages = app.all_activities("&customer_id=ann&type=page").await;
    assert_eq!(pages[1]["data"]["url"], json!(campaign_url));
    assert_eq!(pages[2]["data"]["url"], "/search?q=red+shoes");
    assert_eq!(activity_names(&app, "ann", "screen").await, ["Checkout"]);
    let purchase = app
        .all_activities("&customer_id=ann&type=event&name=purchased")
        .await;
    assert_eq!(purchase[0]["data"]["price"], 9);
    assert_eq!(purchase[0]["timestamp"], 1_796_378_401);

    // alias: the old id's person is merged into the new one.
    ok(app
        .pipelines(
            "/v1/identify",
            json!({"userId": "old-ann", "traits": {"legacy": true}}),
            false,
        )
        .await);
    ok(app
        .pipelines(
            "/v1/alias",
            json!({"userId": "ann", "previousId": "old-ann"}),
            false,
        )
        .await);
    assert_eq!(attributes(&app, "old-ann").await, Err(404));
    let merged = attributes(&app, "ann").await.expect("ann stays");
    assert_eq!(merged["attributes"]["legacy"], true);
}

#[tokio::test]
async fn message_ids_deduplicate_events_across_calls_and_batches() {
    let app = TestApp::spawn().await;
    let purchase = json!({"type": "track", "userId": "bo", "event": "purchased",
                          "messageId": "same-message"});
    for _ in 0..2 {
        let (status, body) = app.pipelines("/v1/track", purchase.clone(), false).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = app
        .pipelines(
            "/v1/batch",
            json!({"batch": [purchase.clone(), purchase]}),
            false,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(activity_names(&app, "bo", "event").await, ["purchased"]);
}

#[tokio::test]
async fn a_batch_applies_its_context_and_semantic_events_act() {
    let app = TestApp::spawn().await;
    // Make a delivery-free person with a device, then act on them through semantic events.
    let (status, body) = app
        .pipelines(
            "/v1/batch",
            json!({
                "context": {"device": {"token": "tok-1", "type": "ios"}},
                "integrations": {},
                "batch": [
                    {"type": "identify", "userId": "cy", "traits": {"name": "Cy"}},
                    {"type": "track", "userId": "cy", "event": "Device Created or Updated",
                     "properties": {"app_version": "2.1"}},
                    {"type": "identify", "userId": "dee", "traits": {}},
                    {"type": "track", "userId": "dee", "event": "User Suppressed"},
                    {"type": "identify", "userId": "eve", "traits": {}},
                    {"type": "track", "userId": "eve", "event": "User Deleted"}
                ]
            }),
            true,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let cy = attributes(&app, "cy").await.expect("cy exists");
    assert_eq!(cy["devices"][0]["token"], "tok-1", "{cy}");
    assert_eq!(cy["devices"][0]["platform"], "ios");
    assert_eq!(attributes(&app, "dee").await, Err(404), "suppressed");
    assert_eq!(attributes(&app, "eve").await, Err(404), "deleted");
    // A suppressed id stays ignored until it is unsuppressed.
    let again = json!({"userId": "dee", "traits": {"back": true}});
    app.pipelines("/v1/identify", again.clone(), false).await;
    assert_eq!(attributes(&app, "dee").await, Err(404));
    let (status, _) = app
        .pipelines(
            "/v1/track",
            json!({"userId": "dee", "event": "User Unsuppressed"}),
            false,
        )
        .await;
    assert_eq!(status, 200);
    app.pipelines("/v1/identify", again, false).await;
    assert!(attributes(&app, "dee").await.is_ok(), "unsuppressed");
    let (status, _) = app
        .pipelines(
            "/v1/track",
            json!({"userId": "cy", "event": "Device Deleted",
                   "context": {"device": {"token": "tok-1"}}}),
            true,
        )
        .await;
    assert_eq!(status, 200);
    let cy = attributes(&app, "cy").await.expect("cy exists");
    assert_eq!(cy["devices"], json!([]), "{cy}");
}

#[tokio::test]
async fn bad_calls_are_dropped_and_said_or_refused_whole_in_strict_mode() {
    let app = TestApp::spawn().await;
    let batch = json!({"batch": [
        {"type": "track", "userId": "fay", "event": "signed_up"},
        {"type": "track", "event": "no_person"},
        {"type": "group", "userId": "fay", "traits": {"name": "Acme"}}
    ]});
    // Strict: refused whole, every problem listed with its index, nothing stored.
    let (status, body) = app.pipelines("/v1/batch", batch.clone(), true).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["meta"]["errors"].as_array().map(Vec::len),
        Some(2),
        "{body}"
    );
    assert_eq!(body["errors"][0]["batch_index"], 1);
    assert_eq!(body["errors"][0]["field"], "userId");
    assert_eq!(body["errors"][1]["batch_index"], 2);
    assert_eq!(body["errors"][1]["field"], "groupId");
    assert_eq!(attributes(&app, "fay").await, Err(404), "nothing stored");
    // Lenient (Customer.io's default): the good call is stored, the drops are said.
    let (status, body) = app.pipelines("/v1/batch", batch, false).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["dropped"].as_array().map(Vec::len), Some(2), "{body}");
    assert_eq!(activity_names(&app, "fay", "event").await, ["signed_up"]);

    // Over the 32 KB a call may take: dropped, or 400 in strict mode.
    let big = json!({"userId": "fay", "event": "big",
                     "properties": {"blob": "x".repeat(40 * 1024)}});
    let (status, body) = app.pipelines("/v1/track", big.clone(), false).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["dropped"][0]["reason"], "too_large", "{body}");
    let (status, body) = app.pipelines("/v1/track", big, true).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["meta"]["error"]
            .as_str()
            .is_some_and(|message| message.contains("32768")),
        "{body}"
    );
    assert_eq!(activity_names(&app, "fay", "event").await, ["signed_up"]);

    // A body that is not JSON can be neither stored nor dropped quietly.
    let response = app
        .client
        .post(app.url("/v1/track"))
        .basic_auth(&app.workspace.write_key, Some(""))
        .header("content-type", "application/json")
        .body("{\"userId\":")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn each_v1_path_takes_its_own_credentials_and_says_which() {
    let app = TestApp::spawn().await;
    let call = json!({"userId": "gus", "event": "x"});
    let bearer = app
        .client
        .post(app.url("/v1/track"))
        .bearer_auth(&app.workspace.app_api_key)
        .json(&call)
        .send()
        .await
        .expect("sent");
    assert_eq!(bearer.status(), 401);
    let body: Value = bearer.json().await.expect("JSON");
    assert!(
        body["meta"]["error"]
            .as_str()
            .is_some_and(|message| message.contains("write key")),
        "{body}"
    );
    let track_keys = app
        .client
        .post(app.url("/v1/track"))
        .basic_auth(&app.workspace.site_id, Some(&app.workspace.api_key))
        .json(&call)
        .send()
        .await
        .expect("sent");
    assert_eq!(
        track_keys.status(),
        401,
        "Track API keys are not a write key"
    );
    let write_key_on_app_api = app
        .client
        .get(app.url("/v1/customers/gus/attributes"))
        .basic_auth(&app.workspace.write_key, Some(""))
        .send()
        .await
        .expect("sent");
    assert_eq!(write_key_on_app_api.status(), 401);
    let write_key_on_track_api = app
        .client
        .put(app.url("/api/v1/customers/gus"))
        .basic_auth(&app.workspace.write_key, Some(""))
        .json(&json!({}))
        .send()
        .await
        .expect("sent");
    assert_eq!(write_key_on_track_api.status(), 401);
    assert_eq!(attributes(&app, "gus").await, Err(404), "nothing stored");
}

#[tokio::test]
async fn a_workspace_made_before_write_keys_gets_one_from_the_cli_once() {
    let dir = tempfile::tempdir().expect("temporary dir");
    let workspace = crate::helpers::create_workspace(dir.path(), "older");
    // What a workspace created by an earlier version looks like: no write key.
    assert_eq!(
        crate::database::execute(dir.path(), "UPDATE workspaces SET write_key_hash = NULL"),
        1
    );
    let give = || {
        crate::helpers::herald(dir.path())
            .args(["workspace", "write-key", "older", "--data-dir"])
            .arg(dir.path())
            .output()
            .expect("herald runs")
    };
    let given = give();
    let stdout = String::from_utf8_lossy(&given.stdout);
    assert!(
        given.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&given.stderr)
    );
    let write_key = stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("Pipelines write key: "))
        .unwrap_or_else(|| panic!("no key printed: {stdout}"))
        .to_owned();
    assert_ne!(write_key, workspace.write_key);
    let again = give();
    assert!(!again.status.success(), "a workspace keeps its write key");
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already has"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    let server = crate::helpers::Server::start(dir.path(), &[]);
    let app = TestApp::on(
        server,
        crate::helpers::Workspace {
            write_key,
            ..workspace.clone()
        },
        dir,
    );
    let (status, body) = app
        .pipelines("/v1/identify", json!({"userId": "hal", "traits": {}}), true)
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(attributes(&app, "hal").await.is_ok());
    let old = app
        .client
        .post(app.url("/v1/identify"))
        .basic_auth(&workspace.write_key, Some(""))
        .json(&json!({"userId": "hal2", "traits": {}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(old.status(), 401, "the key whose hash was removed is gone");
}
