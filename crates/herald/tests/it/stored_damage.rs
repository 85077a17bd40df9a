//! Rows already stored that cannot be read back (left by an older version, or damaged on disk)
//! must not stop the server or break reads: reads skip and report them, and `herald doctor`
//! lists and removes them (issue 11).

use std::path::Path;

use serde_json::{Value, json};

use crate::helpers::{Server, TestApp, event, identify};
use crate::segments::create_segment;

/// Runs `herald doctor` with extra flags on a data dir; returns what it printed to stdout.
fn doctor(data_dir: &Path, flags: &[&str]) -> String {
    let output = crate::helpers::herald(data_dir)
        .arg("doctor")
        .args(flags)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("herald runs");
    assert!(
        output.status.success(),
        "herald doctor failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn segment_count(app: &TestApp, id: i64) -> i64 {
    let (status, body) = app
        .app_get(&format!("/v1/segments/{id}/customer_count"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["count"].as_i64().unwrap()
}

#[tokio::test]
async fn unreadable_rows_are_skipped_reported_and_removed_by_doctor() {
    // Without engine images the restart reads the damaged history itself, which is what this
    // test is about (an image would hold the events as they were sent).
    let mut app = TestApp::spawn_with(&["--engine-image-every", "off"]).await;
    identify(&app, "ann", json!({"plan": "pro"})).await;
    identify(&app, "bob", json!({"plan": "free"})).await;
    event(&app, "ann", json!({"name": "login", "data": {"n": 1}})).await;
    event(&app, "ann", json!({"name": "login", "data": {"n": 2}})).await;
    event(&app, "bob", json!({"name": "login"})).await;
    let logins = create_segment(&app, Some(json!({"event": {"name": "login"}}))).await;
    assert_eq!(segment_count(&app, logins).await, 2);
    app.server.kill();

    // Damage as an older Herald could leave it: event data nested deeper than any read allows
    // (the 128-level form body the browser endpoint used to store), and attributes that are
    // not an object.
    let data_dir = app.server.data_dir.clone();
    let deep = crate::database::too_deep_json();
    let changed = crate::database::execute(
        &data_dir,
        &format!(
            "UPDATE activities SET data = '{deep}' WHERE seq = (SELECT MIN(a.seq) FROM activities a
               JOIN people p ON p.workspace_id = a.workspace_id AND p.seq = a.person_seq WHERE p.id = 'ann' AND a.name = 'login')"
        ),
    );
    assert_eq!(changed, 1);
    let changed = crate::database::execute(
        &data_dir,
        "UPDATE people SET attributes = '[1]' WHERE id = 'bob'",
    );
    assert_eq!(changed, 1);

    // The server starts (it used to refuse: "cannot start the segment engine … corrupt row").
    app.server = Server::start(&data_dir, &["--engine-image-every", "off"]);
    // Listings skip the unreadable event and keep the rest.
    let activities = app.all_activities("&type=event").await;
    assert_eq!(activities.len(), 2, "{activities:?}");
    // A person whose own row cannot be read is a clear error, not a dropped connection.
    let (status, body) = app.app_get("/v1/customers/bob/attributes").await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["code"], "corrupt_data", "{body}");
    assert!(
        body["meta"]["error"]
            .as_str()
            .unwrap()
            .contains("herald doctor")
    );
    // Segments still build: ann through her readable login; bob's row is left out.
    let again = create_segment(&app, Some(json!({"event": {"name": "login"}}))).await;
    assert_eq!(segment_count(&app, again).await, 1);
    assert_eq!(segment_count(&app, logins).await, 1);

    // The doctor lists exactly the two rows, and removes them.
    let listed: Value = serde_json::from_str(&doctor(&data_dir, &["--json"])).unwrap();
    let mut tables: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["table"].as_str().unwrap())
        .collect();
    tables.sort_unstable();
    assert_eq!(tables, ["activities", "people"], "{listed}");
    assert!(listed.to_string().contains("recursion limit"), "{listed}");
    app.server.kill();
    let report = doctor(&data_dir, &["--delete"]);
    assert!(report.contains("activities"), "{report}");
    assert_eq!(doctor(&data_dir, &["--json"]).trim(), "[]");
    app.server = Server::start(&data_dir, &[]);
    let (status, body) = app.app_get("/v1/customers/bob/attributes").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["customer"]["attributes"]["id"], "bob", "{body}");
    assert_eq!(app.all_activities("&type=event").await.len(), 2);
}
