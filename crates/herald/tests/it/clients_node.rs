//! The unmodified official Node clients (customerio-node 5.2.0 and
//! @customerio/cdp-analytics-node 0.5.9) against a running server.
//!
//! The client code lives in `tests/clients/node/*.test.mjs`; these tests start Herald, run a
//! script with Node and fail unless every step passed. A missing `node` or a missing package
//! in `node_modules` is a failure, not a skip, so that a machine without them can never report
//! the compatibility suite as green.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use crate::delivery::{ALLOW_LOOPBACK, settled_deliveries, start_campaign};
use crate::helpers::{TestApp, event, identify};
use crate::receiver::Receiver;

/// The versions `tests/clients/node/package.json` pins; the scripts are written against them.
const PINNED: &[(&str, &str)] = &[
    ("customerio-node", "5.2.0"),
    ("@customerio/cdp-analytics-node", "0.5.9"),
];

fn node_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/clients/node"
    ))
}

/// Checks that the pinned clients are installed, reading their `package.json` rather than
/// trusting the directory to exist, and explains how to install them when they are not.
fn assert_clients_installed(dir: &Path) {
    for (name, version) in PINNED {
        let manifest = dir.join("node_modules").join(name).join("package.json");
        let text = std::fs::read_to_string(&manifest).unwrap_or_else(|error| {
            panic!(
                "{name} is not installed ({}: {error}); run `npm ci` in {} or ./scripts/test",
                manifest.display(),
                dir.display()
            )
        });
        let package: serde_json::Value = serde_json::from_str(&text).expect("package.json is JSON");
        assert_eq!(
            package["version"], *version,
            "tests/clients/node has {name} {} installed; the tests are written for {version}",
            package["version"]
        );
    }
}

/// Runs one script of `tests/clients/node` with `env` and fails unless every step passed;
/// returns what it printed.
async fn run_script(script: &str, env: &[(&str, &str)]) -> String {
    let dir = node_dir();
    assert_clients_installed(&dir);
    let mut command = tokio::process::Command::new("node");
    command
        .arg(dir.join(script))
        .current_dir(&dir)
        .envs(env.iter().copied())
        .kill_on_drop(true);
    let run = command.output();
    // The scripts make a few hundred local requests and take seconds; two minutes means a hang.
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the Node client script finished within two minutes")
        .unwrap_or_else(|error| {
            panic!("could not run `node` (is Node.js installed and on PATH?): {error}")
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("steps passed"),
        "{script} did not reach its end:\n{stdout}"
    );
    // Shown with `--nocapture`, so a passing run still lists what was checked.
    println!("{stdout}");
    stdout.into_owned()
}

/// Sends one webhook so that the client's metric calls have a real delivery to report on;
/// returns its id and token, as a receiver gets them.
async fn sent_delivery(app: &TestApp) -> (String, String) {
    let receiver = Receiver::start().await;
    let campaign = start_campaign(
        app,
        json!({"name": "Node metrics", "trigger": {"event": {"name": "node_metrics"}},
               "steps": [{"webhook": {"url": format!("{}/hook", receiver.base_url)}}]}),
    )
    .await;
    identify(app, "node-metrics", json!({})).await;
    event(app, "node-metrics", json!({"name": "node_metrics"})).await;
    let body = receiver.wait_for(1).await[0].json();
    let sent = settled_deliveries(app, campaign).await;
    assert_eq!(sent[0]["status"], "sent", "{sent:?}");
    (
        body["delivery_id"].as_str().unwrap().to_owned(),
        body["delivery_token"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn official_node_client_track_and_app_api() {
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK]).await;
    let (delivery_id, delivery_token) = sent_delivery(&app).await;
    run_script(
        "track.test.mjs",
        &[
            ("HERALD_TEST_BASE_URL", &app.server.base_url),
            ("HERALD_TEST_SITE_ID", &app.workspace.site_id),
            ("HERALD_TEST_API_KEY", &app.workspace.api_key),
            ("HERALD_TEST_APP_API_KEY", &app.workspace.app_api_key),
            ("HERALD_TEST_DELIVERY_ID", &delivery_id),
            ("HERALD_TEST_DELIVERY_TOKEN", &delivery_token),
        ],
    )
    .await;
}

#[tokio::test]
async fn official_node_pipelines_clients() {
    let app = TestApp::spawn().await;
    run_script(
        "pipelines.test.mjs",
        &[
            ("HERALD_TEST_BASE_URL", &app.server.base_url),
            ("HERALD_TEST_WRITE_KEY", &app.workspace.write_key),
            ("HERALD_TEST_APP_API_KEY", &app.workspace.app_api_key),
        ],
    )
    .await;
}

#[tokio::test]
async fn official_node_client_sends_transactional_messages() {
    let smtp = crate::smtp_sink::SmtpSink::start().await;
    let gateway = Receiver::start().await;
    let app = TestApp::spawn_with(&[
        &format!("--smtp-url={}", smtp.url()),
        &format!("--push-gateway-url={}/push", gateway.base_url),
    ])
    .await;
    let email = start_campaign(
        &app,
        json!({"name": "Node receipt", "trigger": {"transactional": {}},
               "steps": [{"email": {"to": "{{ customer.email }}", "from": "shop@example.com",
                                    "subject": "Order {{ trigger.order_id }}",
                                    "text": "Thanks for {{ message_data.order_id }}"}}]}),
    )
    .await;
    let push = start_campaign(
        &app,
        json!({"name": "Node login", "trigger": {"transactional": {}},
               "steps": [{"push": {"title": "Login", "body": "Was it you?"}}]}),
    )
    .await;
    let stdout = run_script(
        "transactional.test.mjs",
        &[
            ("HERALD_TEST_BASE_URL", &app.server.base_url),
            ("HERALD_TEST_APP_API_KEY", &app.workspace.app_api_key),
            ("HERALD_TEST_EMAIL_MESSAGE", &email.to_string()),
            ("HERALD_TEST_PUSH_MESSAGE", &push.to_string()),
        ],
    )
    .await;
    let delivery = |channel: &str| {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(&format!("delivery {channel} ")))
            .unwrap_or_else(|| panic!("no {channel} delivery printed: {stdout}"))
            .to_owned()
    };
    let messages = smtp.wait_for_messages(1, Duration::from_secs(20)).await;
    assert_eq!(messages.len(), 1, "the refused attachment sent nothing");
    assert_eq!(messages[0].header("Subject").as_deref(), Some("Order N-1"));
    assert_eq!(messages[0].rcpt_to, ["node.buyer@example.com"]);
    let pushed = gateway.wait_for(1).await[0].json();
    assert_eq!(pushed["token"], "node-token");
    assert_eq!(pushed["title"], "Login from Nantes");
    assert_eq!(pushed["data"]["CIO-Delivery-ID"], delivery("push").as_str());
    crate::transactional::sent_delivery(&app, &delivery("email")).await;
}

#[tokio::test]
async fn official_node_client_searches_customers_and_reads_their_messages() {
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK]).await;
    let receiver = Receiver::start().await;
    let segment = crate::segments::create_segment(&app, None).await;
    let ping = start_campaign(
        &app,
        json!({"name": "Node pings", "trigger": {"event": {"name": "node_ping"}},
               "steps": [{"webhook": {"url": format!("{}/ping", receiver.base_url)}}]}),
    )
    .await;
    // The client cannot make campaigns; this one stays a draft and only names the segment.
    let (status, using) = app
        .app_post(
            "/v1/campaigns",
            json!({"campaign": {"name": "Node segment entry", "trigger": {"segment": {"id": segment}},
                   "steps": [{"webhook": {"url": format!("{}/entry", receiver.base_url)}}]}}),
        )
        .await;
    assert_eq!(status, 200, "{using}");
    run_script(
        "app_api.test.mjs",
        &[
            ("HERALD_TEST_BASE_URL", &app.server.base_url),
            ("HERALD_TEST_SITE_ID", &app.workspace.site_id),
            ("HERALD_TEST_API_KEY", &app.workspace.api_key),
            ("HERALD_TEST_APP_API_KEY", &app.workspace.app_api_key),
            ("HERALD_TEST_SEGMENT_ID", &segment.to_string()),
            ("HERALD_TEST_PING_CAMPAIGN_ID", &ping.to_string()),
            (
                "HERALD_TEST_USING_CAMPAIGN_ID",
                &using["campaign"]["id"].to_string(),
            ),
        ],
    )
    .await;
}
