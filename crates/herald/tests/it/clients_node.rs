//! The unmodified official Node client (customerio-node 5.2.0) against a running server.
//!
//! The client code lives in `tests/clients/node/track.test.mjs`; this test starts Herald, runs
//! that script with Node and fails unless every step passed. A missing `node` or a missing
//! `node_modules/customerio-node` is a failure, not a skip, so that a machine without them can
//! never report the compatibility suite as green.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use crate::delivery::{ALLOW_LOOPBACK, settled_deliveries, start_campaign};
use crate::helpers::{TestApp, event, identify};
use crate::receiver::Receiver;

/// The version `tests/clients/node/package.json` pins; the script is written against it.
const PINNED_VERSION: &str = "5.2.0";

fn node_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/clients/node"
    ))
}

/// Checks that the pinned client is installed, reading its `package.json` rather than trusting
/// the directory to exist, and explains how to install it when it is not.
fn assert_client_installed(dir: &Path) {
    let manifest = dir.join("node_modules/customerio-node/package.json");
    let text = std::fs::read_to_string(&manifest).unwrap_or_else(|error| {
        panic!(
            "customerio-node is not installed ({}: {error}); run `npm ci` in {} or ./scripts/test",
            manifest.display(),
            dir.display()
        )
    });
    let package: serde_json::Value = serde_json::from_str(&text).expect("package.json is JSON");
    assert_eq!(
        package["version"], PINNED_VERSION,
        "tests/clients/node has customerio-node {} installed; the tests are written for {PINNED_VERSION}",
        package["version"]
    );
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
    let dir = node_dir();
    assert_client_installed(&dir);
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK]).await;
    let (delivery_id, delivery_token) = sent_delivery(&app).await;
    let mut command = tokio::process::Command::new("node");
    command
        .arg(dir.join("track.test.mjs"))
        .current_dir(&dir)
        .env("HERALD_TEST_BASE_URL", &app.server.base_url)
        .env("HERALD_TEST_SITE_ID", &app.workspace.site_id)
        .env("HERALD_TEST_API_KEY", &app.workspace.api_key)
        .env("HERALD_TEST_APP_API_KEY", &app.workspace.app_api_key)
        .env("HERALD_TEST_DELIVERY_ID", &delivery_id)
        .env("HERALD_TEST_DELIVERY_TOKEN", &delivery_token)
        .kill_on_drop(true);
    let run = command.output();
    // The script makes a few hundred local requests and takes seconds; two minutes means it hangs.
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
        "the Node client script failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("steps passed"),
        "the script did not reach its end:\n{stdout}"
    );
    // Shown with `--nocapture`, so a passing run still lists what was checked.
    println!("{stdout}");
}
