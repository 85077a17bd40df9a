//! `herald copy`: an embedded install moved to PostgreSQL answers the App API as before, with
//! the same keys; a copy stopped part-way goes on; a target holding data is refused. The source
//! is always the embedded SQLite file, whichever backend the suite runs on.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::delivery::{ALLOW_LOOPBACK, settled_deliveries, start_campaign};
use crate::helpers::{Server, TestApp, create_workspace_with, event, herald_embedded, identify};
use crate::receiver::Receiver;
use crate::segments::{count, create_segment, members};

/// A schema of its own in the machine's PostgreSQL (`HERALD_TEST_DATABASE_URL`), dropped at
/// the end of the test (best effort).
struct Target {
    url: String,
    schema: String,
}

impl Target {
    fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let next = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        Self {
            url: std::env::var("HERALD_TEST_DATABASE_URL")
                .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=test".into()),
            schema: format!("herald_it_copy_{}_{next}_{nanos}", std::process::id()),
        }
    }

    /// `herald copy` from `data_dir` into this schema, with extra flags.
    fn copy(&self, data_dir: &Path, extra: &[&str]) -> Output {
        herald_embedded()
            .args(["copy", "--from-data-dir"])
            .arg(data_dir)
            .args(["--to", &self.url, "--to-schema", &self.schema])
            .args(extra)
            .output()
            .expect("herald runs")
    }

    /// The flags that put a command on this schema.
    fn flags(&self) -> [&str; 4] {
        [
            "--database-url",
            &self.url,
            "--database-schema",
            &self.schema,
        ]
    }

    /// Runs `sql` with psql in the schema; returns what it printed, trimmed.
    fn psql(&self, sql: &str) -> String {
        crate::database::psql_in(&self.url, &self.schema, sql)
            .trim()
            .to_owned()
    }

    fn has_copy_progress(&self) -> bool {
        self.psql("SELECT to_regclass('copy_progress') IS NOT NULL") == "t"
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([&self.url, "-X", "-q", "-c"])
            .arg(herald_store_postgres::test_database::drop_schema_sql(
                &self.schema,
            ))
            .output();
    }
}

/// The JSON `herald copy --json` printed, after checking that it succeeded.
fn succeeded(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "herald copy failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(report["complete"], true, "{report}");
    let tables = report["tables"].as_array().expect("tables");
    // Every table of both schemas: a table added by a migration must be added to the copy.
    assert_eq!(tables.len(), 27, "{report}");
    for table in tables {
        assert_eq!(table["source"], table["target"], "{report}");
    }
    report
}

fn rows_of(report: &Value, table: &str) -> i64 {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|count| count["table"] == table)
        .unwrap_or_else(|| panic!("no {table} in {report}"))["target"]
        .as_i64()
        .unwrap()
}

/// Creates a web UI user on the embedded file.
fn add_user(data_dir: &Path, email: &str) {
    let mut child = herald_embedded()
        .args([
            "user",
            "create",
            email,
            "--password-stdin",
            "--admin",
            "--data-dir",
        ])
        .arg(data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("herald runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What the App API answers about everything the install holds.
async fn answers(app: &TestApp, segment: i64, manual: i64, campaign: i64) -> Vec<Value> {
    let mut answers = Vec::new();
    for path in [
        "/v1/customers/ann/attributes".to_owned(),
        "/v1/customers/bob/attributes".to_owned(),
        "/v1/segments".to_owned(),
        format!("/v1/segments/{segment}"),
        format!("/v1/segments/{segment}/history?customer_id=ann"),
        "/v1/customers/ann/segments".to_owned(),
        "/v1/campaigns".to_owned(),
        format!("/v1/campaigns/{campaign}"),
        format!("/v1/campaigns/{campaign}/metrics"),
        format!("/v1/deliveries?campaign_id={campaign}"),
        "/v1/data_index/events".to_owned(),
        "/v1/customers/ann/relationships".to_owned(),
        "/v1/objects/1/acme".to_owned(),
        "/v1/objects/1/acme/relationships".to_owned(),
    ] {
        let (status, body) = app.app_get(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
        answers.push(json!({"path": path, "body": body}));
    }
    answers.push(json!({"activities": app.all_activities("").await}));
    answers.push(json!({
        "members": members(app, segment).await,
        "count": count(app, segment).await,
        "manual": members(app, manual).await,
        "manual_count": count(app, manual).await,
    }));
    answers
}

/// Everything the issue lists, made through the real server on SQLite, answers the same from
/// PostgreSQL after the copy, with the same keys; new rows get ids after the copied ones.
#[tokio::test]
async fn an_embedded_install_moves_to_postgresql_and_answers_the_same() {
    let receiver = Receiver::start().await;
    let mut app = TestApp::spawn_embedded(&[ALLOW_LOOPBACK]).await;
    let data_dir = app.server.data_dir.clone();
    let campaign = start_campaign(
        &app,
        json!({
            "name": "Receipt",
            "trigger": {"event": {"name": "purchased"}},
            "steps": [{"webhook": {"url": format!("{}/hook/{{{{ customer.id }}}}", receiver.base_url)}}]
        }),
    )
    .await;
    let segment = create_segment(&app, Some(json!({"event": {"name": "purchased"}}))).await;
    let manual = create_segment(&app, None).await;

    let (status, body) = app
        .track(
            reqwest::Method::POST,
            "/api/v1/events",
            Some(
                json!({"name": "viewed", "anonymous_id": "anon-ann", "data": {"page": "/pricing"}}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    identify(
        &app,
        "ann",
        json!({"email": "ann@example.com", "plan": "pro", "note": "tab\there, new\nline, back\\slash",
               "nested": {"a": [1, 2]}, "anonymous_id": "anon-ann"}),
    )
    .await;
    identify(
        &app,
        "bob",
        json!({"email": "bob@example.com", "plan": "free"}),
    )
    .await;
    identify(
        &app,
        "ann",
        json!({"cio_relationships": {"action": "add_relationships", "relationships": [
            {"identifiers": {"object_type_id": "1", "object_id": "acme"},
             "relationship_attributes": {"role": "admin"}}]}}),
    )
    .await;
    // A visitor's relationship, kept until an identify names the visitor.
    let (status, body) = app
        .track(
            reqwest::Method::POST,
            "/api/v2/entity",
            Some(json!({"type": "object", "action": "identify_anonymous",
                        "identifiers": {"object_type_id": "1", "object_id": "acme"},
                        "cio_relationships": [{"identifiers": {"anonymous_id": "visitor-9"}}]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .track(
            reqwest::Method::PUT,
            "/api/v1/customers/ann/devices",
            Some(json!({"device": {"id": "tok-ann", "platform": "ios"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for page in ["/a", "/b", "/c"] {
        event(
            &app,
            "bob",
            json!({"name": "browsed", "data": {"page": page}}),
        )
        .await;
    }
    event(
        &app,
        "ann",
        json!({"name": "purchased", "data": {"price": 30}}),
    )
    .await;
    let (status, body) = app
        .track(
            reqwest::Method::POST,
            &format!("/api/v1/segments/{manual}/add_customers"),
            Some(json!({"ids": ["bob"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    receiver.wait_for(1).await;
    let delivery = settled_deliveries(&app, campaign).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = app
        .track(
            reqwest::Method::POST,
            "/api/v1/metrics",
            Some(json!({"delivery_id": delivery, "metric": "opened"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(members(&app, segment).await, vec!["ann"]);
    assert_eq!(members(&app, manual).await, vec!["bob"]);
    add_user(&data_dir, "admin@example.com");

    let before = answers(&app, segment, manual, campaign).await;
    let largest_seq = app
        .all_activities("")
        .await
        .iter()
        .map(|activity| activity["id"].as_str().unwrap().parse::<i64>().unwrap())
        .max()
        .unwrap();
    app.server.stop();

    let target = Target::new();
    let report = succeeded(&target.copy(&data_dir, &["--json"]));
    assert_eq!(report["outcome"], "copied");
    for table in [
        "workspaces",
        "people",
        "activities",
        "devices",
        "anonymous_links",
        "segments",
        "segment_members",
        "segment_history",
        "campaigns",
        "runs",
        "deliveries",
        "delivery_metrics",
        "users",
    ] {
        assert!(rows_of(&report, table) > 0, "{table} was copied: {report}");
    }
    assert!(!target.has_copy_progress(), "dropped once checked");

    let mut args = target.flags().to_vec();
    args.push(ALLOW_LOOPBACK);
    app.server = Server::start_with(herald_embedded(), &data_dir, &args);
    let after = answers(&app, segment, manual, campaign).await;
    assert_eq!(before, after);

    // The old Track key works, and the new event comes after every copied one.
    event(&app, "bob", json!({"name": "after_the_copy"})).await;
    let newest = app.all_activities("&name=after_the_copy").await;
    assert_eq!(newest.len(), 1, "{newest:?}");
    let new_seq: i64 = newest[0]["id"].as_str().unwrap().parse().unwrap();
    assert!(new_seq > largest_seq, "{new_seq} after {largest_seq}");
    // And it is stored in PostgreSQL.
    assert_eq!(
        target.psql("SELECT count(*) FROM activities WHERE name = 'after_the_copy'"),
        "1"
    );
    app.server.stop();

    // A rerun finds the copy done; the server wrote since, so the counts now differ.
    let rerun = target.copy(&data_dir, &["--json"]);
    assert!(!rerun.status.success());
    let stderr = String::from_utf8_lossy(&rerun.stderr);
    assert!(stderr.contains("counts differ"), "{stderr}");
    assert!(!stderr.contains(&target.url), "the URL is never printed");
}

/// A copy stopped after some rows (the hidden test aid stands in for a kill) goes on where it
/// stopped: the counts agree and every row was written once.
#[tokio::test]
async fn a_copy_stopped_part_way_goes_on_when_run_again() {
    let mut app = TestApp::spawn_embedded(&[]).await;
    let data_dir = app.server.data_dir.clone();
    for person in 0..12 {
        identify(&app, &format!("p{person}"), json!({"n": person})).await;
        event(&app, &format!("p{person}"), json!({"name": "signed_up"})).await;
    }
    app.server.stop();

    let target = Target::new();
    let mut copied = 0;
    for budget in ["5", "13", "1"] {
        let output = target.copy(
            &data_dir,
            &["--stop-after-rows", budget, "--chunk-rows", "4"],
        );
        assert!(!output.status.success(), "stopped after {budget} rows");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("stopped after {budget} rows")),
            "{stderr}"
        );
        assert!(target.has_copy_progress());
        copied += budget.parse::<i64>().unwrap();
    }
    let report = succeeded(&target.copy(&data_dir, &["--json", "--chunk-rows", "4"]));
    assert_eq!(report["outcome"], "resumed");
    copied += report["rows_copied"].as_i64().unwrap();
    let total: i64 = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|count| count["source"].as_i64().unwrap())
        .sum();
    assert_eq!(copied, total, "no row written twice: {report}");
    assert_eq!(rows_of(&report, "people"), 12);
    assert_eq!(
        target.psql("SELECT count(DISTINCT seq) FROM activities"),
        rows_of(&report, "activities").to_string()
    );
    assert!(!target.has_copy_progress());

    let again = target.copy(&data_dir, &[]);
    assert!(again.status.success());
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(stdout.contains("already complete"), "{stdout}");
}

/// A database that already holds Herald data (here a workspace made on it) is not a copy's
/// target: refused before anything is written.
#[tokio::test]
async fn a_target_holding_data_is_refused_and_left_as_it_was() {
    let mut app = TestApp::spawn_embedded(&[]).await;
    let data_dir = app.server.data_dir.clone();
    identify(&app, "ann", json!({})).await;
    app.server.stop();

    let target = Target::new();
    let live = tempfile::tempdir().unwrap();
    let mut on_target = herald_embedded();
    on_target
        .env("HERALD_DATABASE_URL", &target.url)
        .env("HERALD_DATABASE_SCHEMA", &target.schema);
    create_workspace_with(on_target, live.path(), "live");
    let people_before = target.psql("SELECT count(*) FROM people");

    let output = target.copy(&data_dir, &[]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("already holds data"), "{stderr}");
    assert!(stderr.contains("--to-schema"), "{stderr}");
    assert!(!stderr.contains(&target.url), "the URL is never printed");
    assert!(!target.has_copy_progress(), "nothing written");
    assert_eq!(
        target.psql("SELECT string_agg(name, ',') FROM workspaces"),
        "live"
    );
    assert_eq!(target.psql("SELECT count(*) FROM people"), people_before);
}
