//! `herald backup DEST`: a copy of the embedded store made while events arrive is a consistent
//! moment of it (whole events, none half-written), and a copy made at rest answers exactly what
//! the server it came from answers.

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

use crate::helpers::{Server, TestApp, event, herald_embedded, identify};
use crate::segments::{count, create_segment};

fn backup(data_dir: &Path, dest: &Path) -> Output {
    herald_embedded()
        .args(["backup"])
        .arg(dest)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("herald runs")
}

/// The copy's server, on the same workspace and keys.
fn serve_copy(app: &TestApp, dest: &Path) -> TestApp {
    let server = Server::start_with(herald_embedded(), dest, &[]);
    TestApp::on(
        server,
        app.workspace.clone(),
        tempfile::tempdir().expect("a dir"),
    )
}

async fn events(app: &TestApp) -> usize {
    app.all_activities("&type=event").await.len()
}

async fn attributes(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.app_get(&format!("/v1/customers/{id}/attributes")).await;
    assert_eq!(status, 200, "{body}");
    body["customer"]["attributes"].clone()
}

#[tokio::test]
async fn a_backup_made_while_events_arrive_serves_a_consistent_moment() {
    let app = TestApp::spawn_embedded(&[]).await;
    identify(&app, "ann", json!({"plan": "pro"})).await;
    for _ in 0..3 {
        event(&app, "ann", json!({"name": "login"})).await;
    }
    let segment = create_segment(&app, Some(json!({"event": {"name": "login"}}))).await;
    let before = events(&app).await;

    // Events keep arriving while the backup runs.
    let dir = tempfile::tempdir().expect("a dir");
    let dest = dir.path().join("during");
    let url = app.url("/api/v1/customers/bob/events");
    let (site_id, api_key) = (app.workspace.site_id.clone(), app.workspace.api_key.clone());
    let writer = tokio::spawn(async move {
        let client = reqwest::Client::new();
        for n in 0..300 {
            let response = client
                .post(&url)
                .basic_auth(&site_id, Some(&api_key))
                .json(&json!({"name": "login", "data": {"n": n}}))
                .send()
                .await
                .expect("an answer");
            assert_eq!(response.status(), 200);
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let data_dir = app.server.data_dir.clone();
    let output = tokio::task::spawn_blocking({
        let dest = dest.clone();
        move || backup(&data_dir, &dest)
    })
    .await
    .expect("the backup ran");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("backed up"),
        "{output:?}"
    );
    writer.await.expect("the writer finished");
    let after = events(&app).await;
    assert_eq!(after, before + 300);

    let copy = serve_copy(&app, &dest);
    let held = events(&copy).await;
    assert!(
        (before..=after).contains(&held),
        "the copy holds {held} events, between {before} and {after}"
    );
    assert_eq!(
        attributes(&copy, "ann").await,
        attributes(&app, "ann").await
    );
    // The segment as the copy's own history says: exact for what the copy holds.
    let bob_in_copy = usize::from(held > before);
    assert_eq!(count(&copy, segment).await, 1 + bob_in_copy as i64);

    // At rest, a second backup answers exactly as the server does.
    let rest = dir.path().join("rest");
    let output = backup(&app.server.data_dir, &rest);
    assert!(output.status.success(), "{output:?}");
    let copy = serve_copy(&app, &rest);
    assert_eq!(events(&copy).await, after);
    assert_eq!(count(&copy, segment).await, count(&app, segment).await);
    assert_eq!(
        attributes(&copy, "bob").await,
        attributes(&app, "bob").await
    );

    // A backup never writes into a directory that holds something.
    let refused = backup(&app.server.data_dir, &rest);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("is not empty"),
        "{refused:?}"
    );
}
