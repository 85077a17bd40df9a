//! `herald workspace rotate-key` and `herald workspace delete` beside a running server: the
//! server takes both without a restart.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::{Server, TestApp, Workspace, create_workspace, create_workspace_with, herald};
use crate::nodes::{herald_on, schema};

/// Runs `herald workspace rotate-key test --<kind> --grace <grace> --json`; returns the new key
/// and the old key's expiry.
fn rotate(data_dir: &Path, kind: &str, grace: &str) -> (String, i64) {
    rotate_with(herald(data_dir), data_dir, kind, grace)
}

/// `rotate` with `command`'s backend.
fn rotate_with(mut command: Command, data_dir: &Path, kind: &str, grace: &str) -> (String, i64) {
    let output = command
        .args([
            "workspace",
            "rotate-key",
            "test",
            kind,
            "--grace",
            grace,
            "--json",
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("herald runs");
    assert!(
        output.status.success(),
        "rotate-key failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rotated: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    (
        rotated["key"].as_str().expect("the new key").to_owned(),
        rotated["old_key_expires_at"].as_i64().expect("the expiry"),
    )
}

/// The three keys of a workspace, as requests use them.
#[derive(Debug, Clone)]
struct Keys {
    site_id: String,
    track: String,
    app: String,
    write: String,
}

impl From<&Workspace> for Keys {
    fn from(workspace: &Workspace) -> Self {
        Self {
            site_id: workspace.site_id.clone(),
            track: workspace.api_key.clone(),
            app: workspace.app_api_key.clone(),
            write: workspace.write_key.clone(),
        }
    }
}

async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Identifies `person` with the Track API key.
async fn track(app: &TestApp, keys: &Keys, person: &str) -> (u16, Value) {
    let response = app
        .client
        .put(app.url(&format!("/api/v1/customers/{person}")))
        .basic_auth(&keys.site_id, Some(&keys.track))
        .json(&json!({"plan": "pro"}))
        .send()
        .await
        .expect("sent");
    read(response).await
}

/// Reads `person`'s attributes with the App API key.
async fn app_get(app: &TestApp, keys: &Keys, path: &str) -> (u16, Value) {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(&keys.app)
        .send()
        .await
        .expect("sent");
    read(response).await
}

/// Tracks an event of `person` with the Data Pipelines write key.
async fn pipelines(app: &TestApp, keys: &Keys, person: &str) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/v1/track"))
        .basic_auth(&keys.write, Some(""))
        .json(&json!({"userId": person, "event": "opened_app"}))
        .send()
        .await
        .expect("sent");
    read(response).await
}

/// Moves the dev clock with the App API key `keys` holds.
async fn set_clock(app: &TestApp, keys: &Keys, now: i64) {
    let response = app
        .client
        .post(app.url("/v1/_dev/clock"))
        .bearer_auth(&keys.app)
        .json(&json!({"now": now}))
        .send()
        .await
        .expect("sent");
    let (status, body) = read(response).await;
    assert_eq!(status, 200, "{body}");
}

/// Every kind of key answers with `expected` (200: works; 401: refused).
async fn all_answer(app: &TestApp, keys: &Keys, expected: u16, what: &str) -> Vec<Value> {
    let answers = [
        track(app, keys, "ann").await,
        app_get(app, keys, "/v1/customers/ann/attributes").await,
        pipelines(app, keys, "ann").await,
    ];
    for ((status, body), kind) in answers.iter().zip(["Track", "App", "write"]) {
        assert_eq!(*status, expected, "{what}: the {kind} key answered {body}");
    }
    answers.into_iter().map(|(_, body)| body).collect()
}

/// Says whether a refusal says the key was rotated, whatever the API's error shape.
fn says_rotated(body: &Value) -> bool {
    let text = body.to_string();
    text.contains("key_rotated") && text.contains("was rotated")
}

#[tokio::test]
async fn a_rotated_key_works_during_the_grace_period_and_not_after() {
    // The dev clock starts at this machine's time, which the command's expiry is counted from.
    let app = TestApp::spawn_with(&["--dev-clock"]).await;
    let data_dir = app.server.data_dir.clone();
    let old = Keys::from(&app.workspace);
    // The server checks, and caches, every old key before the rotation.
    all_answer(&app, &old, 200, "before the rotation").await;
    let (_, clock) = app_get(&app, &old, "/v1/_dev/clock").await;
    let started = clock["now"].as_i64().expect("the dev clock's time");

    let (track_key, track_expiry) = rotate(&data_dir, "--track", "1h");
    let (app_key, app_expiry) = rotate(&data_dir, "--app", "1h");
    let (write_key, write_expiry) = rotate(&data_dir, "--write-key", "1h");
    for expiry in [track_expiry, app_expiry, write_expiry] {
        assert!(
            expiry >= started + 3_600,
            "{expiry} is an hour after {started}"
        );
    }
    let new = Keys {
        site_id: old.site_id.clone(),
        track: track_key,
        app: app_key,
        write: write_key,
    };
    all_answer(&app, &new, 200, "the new keys at once").await;
    all_answer(&app, &old, 200, "the old keys during the grace period").await;
    set_clock(&app, &new, started + 1_800).await;
    all_answer(&app, &old, 200, "the old keys half an hour later").await;

    // Past the grace, by the server's clock: refused, saying why.
    let expiry = track_expiry.max(app_expiry).max(write_expiry);
    set_clock(&app, &new, expiry).await;
    for body in all_answer(&app, &old, 401, "the old keys after the grace period").await {
        assert!(says_rotated(&body), "{body}");
    }
    all_answer(&app, &new, 200, "the new keys after the grace period").await;

    // The data went where it belongs, whichever key carried it.
    let (status, body) = app_get(&app, &new, "/v1/customers/ann/attributes").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["customer"]["attributes"]["plan"], "pro", "{body}");
}

#[tokio::test]
async fn a_rotation_without_grace_refuses_the_old_key_at_once_and_a_second_ends_the_first_grace() {
    let app = TestApp::spawn_with(&["--dev-clock"]).await;
    let data_dir = app.server.data_dir.clone();
    let old = Keys::from(&app.workspace);
    all_answer(&app, &old, 200, "before the rotation").await;

    let (track_key, _) = rotate(&data_dir, "--track", "0s");
    let (app_key, _) = rotate(&data_dir, "--app", "0s");
    let (write, _) = rotate(&data_dir, "--write-key", "0s");
    // Refused from the moment the command returned, though the server had cached them.
    for body in all_answer(&app, &old, 401, "the old keys after --grace 0s").await {
        assert!(says_rotated(&body), "{body}");
    }
    let second = Keys {
        site_id: old.site_id.clone(),
        track: track_key,
        app: app_key,
        write,
    };
    all_answer(&app, &second, 200, "the new keys").await;

    // A rotation during a grace period ends the grace of the key it retired before.
    let (track_key, _) = rotate(&data_dir, "--track", "1h");
    let (app_key, _) = rotate(&data_dir, "--app", "1h");
    let (write, _) = rotate(&data_dir, "--write-key", "1h");
    let third = Keys {
        site_id: old.site_id.clone(),
        track: track_key,
        app: app_key,
        write,
    };
    all_answer(&app, &second, 200, "the second keys, in their grace").await;
    all_answer(&app, &third, 200, "the third keys").await;
    let (fourth_track, _) = rotate(&data_dir, "--track", "1h");
    let (status, _) = track(&app, &second, "ann").await;
    assert_eq!(
        status, 401,
        "the second Track key's grace ended at the third rotation"
    );
    let (status, body) = track(&app, &third, "ann").await;
    assert_eq!(status, 200, "the third Track key is in its grace: {body}");
    let fourth = Keys {
        track: fourth_track,
        ..third.clone()
    };
    let (status, body) = track(&app, &fourth, "ann").await;
    assert_eq!(status, 200, "{body}");
}

#[test]
fn rotate_key_names_exactly_one_key() {
    let dir = tempfile::tempdir().expect("a temporary dir");
    create_workspace(dir.path(), "test");
    for flags in [&[][..], &["--track", "--app"][..]] {
        let output = herald(dir.path())
            .args(["workspace", "rotate-key", "test"])
            .args(flags)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .expect("herald runs");
        assert!(!output.status.success(), "{flags:?} was taken");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("--track") && stderr.contains("--write-key"),
            "{stderr}"
        );
    }
    let output = herald(dir.path())
        .args(["workspace", "rotate-key", "nobody", "--app", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("herald runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no workspace named \"nobody\""), "{stderr}");
    let output = herald(dir.path())
        .args([
            "workspace",
            "rotate-key",
            "test",
            "--app",
            "--grace",
            "soon",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .expect("herald runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is not a duration"), "{stderr}");
}

/// Gives a workspace people, events, a segment, a campaign and an object.
async fn fill(app: &TestApp, keys: &Keys) {
    for person in ["ann", "bob"] {
        let (status, body) = track(app, keys, person).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = pipelines(app, keys, person).await;
        assert_eq!(status, 200, "{body}");
    }
    let response = app
        .client
        .post(app.url("/api/v2/batch"))
        .basic_auth(&keys.site_id, Some(&keys.track))
        .json(&json!({"batch": [
            {"type": "object", "action": "identify",
             "identifiers": {"object_type_id": "1", "object_id": "acme"},
             "attributes": {"plan": "enterprise"},
             "cio_relationships": [{"identifiers": {"id": "ann"}}]}
        ]}))
        .send()
        .await
        .expect("sent");
    let (status, body) = read(response).await;
    assert_eq!(status, 200, "{body}");
    let post = |path: &'static str, body: Value| {
        app.client
            .post(app.url(path))
            .bearer_auth(&keys.app)
            .json(&body)
            .send()
    };
    let (status, body) = read(
        post(
            "/v1/segments",
            json!({"segment": {"name": "openers",
                   "definition": {"event": {"name": "opened_app"}}}}),
        )
        .await
        .expect("sent"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = read(
        post(
            "/v1/campaigns",
            json!({"campaign": {"name": "Welcome",
                   "trigger": {"event": {"name": "opened_app"}},
                   "steps": [{"delay": {"minutes": 30}},
                             {"webhook": {"url": "http://127.0.0.1:9/{{ customer.id }}"}}]}}),
        )
        .await
        .expect("sent"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id = body["campaign"]["id"].as_i64().expect("an id");
    let started = app
        .client
        .post(app.url(&format!("/v1/campaigns/{id}/start")))
        .bearer_auth(&keys.app)
        .json(&json!({}))
        .send()
        .await
        .expect("sent");
    assert_eq!(started.status(), 200);
    // A run of the campaign, waiting for its delay.
    let (status, body) = pipelines(app, keys, "ann").await;
    assert_eq!(status, 200, "{body}");
}

/// What the App API answers for a workspace, to compare before and after.
async fn answers(app: &TestApp, keys: &Keys) -> Vec<Value> {
    let mut all = Vec::new();
    for path in [
        "/v1/customers/ann/attributes",
        "/v1/customers/bob/attributes",
        "/v1/activities?limit=100",
        "/v1/campaigns",
        "/v1/objects/1/acme/attributes",
    ] {
        let (status, body) = app_get(app, keys, path).await;
        assert_eq!(status, 200, "{path}: {body}");
        all.push(body);
    }
    all
}

/// Runs `herald workspace delete NAME` with `flags`, standard input not a terminal.
fn delete(data_dir: &Path, name: &str, flags: &[&str]) -> std::process::Output {
    herald(data_dir)
        .args(["workspace", "delete", name])
        .args(flags)
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("herald runs")
}

#[tokio::test]
async fn a_deleted_workspace_is_refused_at_once_and_the_others_are_untouched() {
    let dir = tempfile::tempdir().expect("a temporary dir");
    let kept_workspace = create_workspace(dir.path(), "kept");
    let gone_workspace = create_workspace(dir.path(), "gone");
    let server = Server::start(dir.path(), &[]);
    let mut app = TestApp::on(server, kept_workspace.clone(), dir);
    let data_dir = app.server.data_dir.clone();
    let (kept, gone) = (Keys::from(&kept_workspace), Keys::from(&gone_workspace));
    fill(&app, &kept).await;
    fill(&app, &gone).await;
    let before = answers(&app, &kept).await;
    assert_eq!(answers(&app, &gone).await.len(), before.len());

    // Without --yes, and no terminal to ask on: refused, nothing changed.
    let refused = delete(&data_dir, "gone", &[]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("pass --yes"), "{stderr}");
    all_answer(&app, &gone, 200, "after a refused deletion").await;

    let deleted = delete(&data_dir, "gone", &["--yes", "--json"]);
    assert!(
        deleted.status.success(),
        "{}",
        String::from_utf8_lossy(&deleted.stderr)
    );
    let report: Value = serde_json::from_slice(&deleted.stdout).expect("JSON on stdout");
    assert_eq!(report["name"], "gone");
    for table in [
        "people",
        "activities",
        "segments",
        "campaigns",
        "runs",
        "objects",
        "relationships",
        "event_index",
    ] {
        assert!(
            report["removed"][table].as_u64().unwrap_or(0) > 0,
            "{table}: {report}"
        );
    }
    // Refused from the moment the command returned, though the server had cached the keys.
    for body in all_answer(&app, &gone, 401, "the deleted workspace's keys").await {
        assert!(!says_rotated(&body), "{body}");
    }
    assert_eq!(answers(&app, &kept).await, before, "the other workspace");
    let (status, body) = track(&app, &kept, "cy").await;
    assert_eq!(status, 200, "the other workspace takes writes: {body}");
    let after = answers(&app, &kept).await;

    let listed = herald(&data_dir)
        .args(["workspace", "list", "--json", "--data-dir"])
        .arg(&data_dir)
        .output()
        .expect("herald runs");
    let listed: Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["name"], "kept");
    let again = delete(&data_dir, "gone", &["--yes"]);
    assert!(!again.status.success(), "deleted twice");
    assert!(String::from_utf8_lossy(&again.stderr).contains("no workspace named \"gone\""));

    // A workspace created afterwards gets an id of its own, and works.
    let next = create_workspace(&data_dir, "next");
    assert!(
        next.id > gone_workspace.id,
        "{} after {}",
        next.id,
        gone_workspace.id
    );
    all_answer(&app, &Keys::from(&next), 200, "a new workspace").await;

    // The engine's image and the store agree after a restart.
    app.server.stop();
    app.server = Server::start(&data_dir, &[]);
    assert_eq!(answers(&app, &kept).await, after, "after a restart");
    all_answer(
        &app,
        &gone,
        401,
        "the deleted workspace's keys after a restart",
    )
    .await;
}

#[tokio::test]
async fn every_server_of_a_cluster_takes_rotations_and_deletions_made_beside_it() {
    // Several servers on one PostgreSQL schema, whatever backend the rest of the suite runs on
    // (as `nodes.rs`); the commands run from a machine of their own (another data dir).
    let (url, schema) = schema();
    let command_dir = tempfile::tempdir().expect("a temporary dir");
    let test = create_workspace_with(herald_on(&url, &schema), command_dir.path(), "test");
    let other = create_workspace_with(herald_on(&url, &schema), command_dir.path(), "other");
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().expect("a temporary dir");
        let server = Server::start_with(herald_on(&url, &schema), dir.path(), &["--cluster"]);
        nodes.push(TestApp::on(server, test.clone(), dir));
    }
    let (old, others) = (Keys::from(&test), Keys::from(&other));
    for node in &nodes {
        all_answer(node, &old, 200, "before the rotation").await;
        all_answer(node, &others, 200, "the other workspace").await;
    }
    let (app_key, _) = rotate_with(herald_on(&url, &schema), command_dir.path(), "--app", "0s");
    let new = Keys {
        app: app_key,
        ..old.clone()
    };
    for node in &nodes {
        let (status, body) = app_get(node, &old, "/v1/customers/ann/attributes").await;
        assert_eq!(status, 401, "{body}");
        assert!(says_rotated(&body), "{body}");
        all_answer(node, &new, 200, "the new key on every node").await;
    }

    let deleted = herald_on(&url, &schema)
        .args(["workspace", "delete", "other", "--yes", "--data-dir"])
        .arg(command_dir.path())
        .output()
        .expect("herald runs");
    assert!(
        deleted.status.success(),
        "{}",
        String::from_utf8_lossy(&deleted.stderr)
    );
    for node in &nodes {
        all_answer(node, &others, 401, "the deleted workspace on every node").await;
        all_answer(node, &new, 200, "the workspace kept, on every node").await;
    }
}

#[tokio::test]
async fn settings_show_the_new_keys_and_a_deleted_workspace_leaves_the_web_ui() {
    use crate::ui::{Browser, PASSWORD, add_user};
    use reqwest::StatusCode;

    let app = TestApp::spawn().await;
    let data_dir = app.server.data_dir.clone();
    add_user(&data_dir, "keys@example.com", &[]);
    let mut browser = Browser::new(&app.server);
    browser.sign_in("keys@example.com", PASSWORD).await;
    let path = format!("/ui/w/{}/settings", app.workspace.id);
    let old = Keys::from(&app.workspace);
    let new = Keys {
        site_id: old.site_id.clone(),
        track: rotate(&data_dir, "--track", "1h").0,
        app: rotate(&data_dir, "--app", "1h").0,
        write: rotate(&data_dir, "--write-key", "1h").0,
    };
    let (status, _, page) = browser.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    let csrf = Browser::hidden(&page, "csrf");
    for (kind, new_key, old_key) in [
        ("track", &new.track, &old.track),
        ("app", &new.app, &old.app),
        ("write", &new.write, &old.write),
    ] {
        let (status, _, shown) = browser
            .post(&format!("{path}/reveal"), &[("csrf", &csrf), ("key", kind)])
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(shown.contains(new_key.as_str()), "{kind}: {shown}");
        assert!(!shown.contains(old_key.as_str()), "{kind}: {shown}");
    }

    let deleted = delete(&data_dir, "test", &["--yes"]);
    assert!(
        deleted.status.success(),
        "{}",
        String::from_utf8_lossy(&deleted.stderr)
    );
    let printed = String::from_utf8_lossy(&deleted.stdout);
    assert!(printed.contains("workspace \"test\""), "{printed}");
    let (status, _, _) = browser.get(&path).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the workspace is gone");
    let (status, _, home) = browser.get("/ui/").await;
    assert!(status.is_success() || status.is_redirection(), "{status}");
    assert!(!home.contains(&old.site_id), "{home}");
}
