//! `herald import` and `herald export`: an import killed in the middle and run again applies
//! every line exactly once, starts no campaign (neither by its events nor by the segment
//! entries they cause) and leaves segments exact; an export goes back in through import.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::delivery::{ALLOW_LOOPBACK, start_campaign};
use crate::helpers::{TestApp, create_workspace, event, herald, identify};
use crate::receiver::Receiver;
use crate::segments::{count, create_segment};

/// People in the generated file; person `p{i}` has `i % 7 + 1` events per round.
const PEOPLE: usize = 1_000;

/// The events of the kill test: 100,000 on SQLite; 10,000 on PostgreSQL and Citus, whose
/// debug-build writes are several times slower and whose passes run four times in CI.
fn event_lines() -> usize {
    match std::env::var("HERALD_TEST_BACKEND").as_deref() {
        Ok("postgres") => 10_000,
        _ => 100_000,
    }
}

fn import_command(app: &TestApp, files: &[&Path]) -> Command {
    let mut command = herald(&app.server.data_dir);
    command
        // Small steps, so that a run has many to be killed between, on every backend.
        .args([
            "import",
            "--json",
            "--step-lines",
            "500",
            "--workspace",
            "test",
            "--url",
        ])
        .arg(app.url(""))
        .arg("--data-dir")
        .arg(&app.server.data_dir);
    for file in files {
        command.arg(file);
    }
    command
}

fn run(mut command: Command) -> (Output, Value) {
    let output = command.output().expect("herald runs");
    let report = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output, report)
}

async fn event_count(app: &TestApp, name: &str) -> u64 {
    let (status, index) = app.app_get("/v1/data_index/events").await;
    assert_eq!(status, 200, "{index}");
    index["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["name"] == name)
        .map_or(0, |entry| entry["count"].as_u64().unwrap())
}

/// Writes the kill test's file and returns how many events each person has in it.
fn write_events(path: &Path, lines: usize, now: i64) -> Vec<u64> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut per_person = vec![0_u64; PEOPLE];
    let mut written = 0;
    let mut round = 0;
    while written < lines {
        for (person, count) in per_person.iter_mut().enumerate() {
            for _ in 0..(person % 7 + 1) {
                if written == lines {
                    break;
                }
                let line = json!({"type": "person", "action": "event",
                    "identifiers": {"id": format!("p{person}")}, "name": "imported",
                    "timestamp": now - 86_400 - round, "attributes": {"line": written}});
                writeln!(file, "{line}").unwrap();
                *count += 1;
                written += 1;
            }
        }
        round += 1;
    }
    file.flush().unwrap();
    per_person
}

#[tokio::test]
async fn an_import_killed_midway_and_run_again_applies_every_line_once_and_starts_nothing() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK]).await;
    let webhook =
        json!({"webhook": {"url": format!("{}/hook/{{{{ customer.id }}}}", receiver.base_url)}});
    start_campaign(
        &app,
        json!({"name": "On the event", "trigger": {"event": {"name": "imported"}}, "steps": [webhook]}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.ndjson");
    let lines = event_lines();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let per_person = write_events(&file, lines, now);
    // The median count: about half the people are in the segment.
    let threshold = {
        let mut counts = per_person.clone();
        counts.sort_unstable();
        counts[PEOPLE / 2]
    };
    // Made before the import, so its members enter while the import runs.
    let busy = create_segment(
        &app,
        Some(json!({"event": {"name": "imported", "count": {"at_least": threshold}}})),
    )
    .await;
    start_campaign(
        &app,
        json!({"name": "On entering", "trigger": {"segment": {"id": busy, "on": "enter"}}, "steps": [webhook]}),
    )
    .await;

    // The first run is killed once some of the file, and not all, is committed.
    let mut first = import_command(&app, &[&file])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let imported = event_count(&app, "imported").await;
        if imported > 0 {
            assert!(
                (imported as usize) < lines,
                "the import finished before it could be killed"
            );
            break;
        }
        assert!(
            first.try_wait().unwrap().is_none(),
            "the import ended early"
        );
        assert!(
            Instant::now() < deadline,
            "the import never committed a step"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    // Steps the killed importer had sent may still commit after it died; the second run asks
    // the server where the import stands, whatever it is by then.
    assert!((event_count(&app, "imported").await as usize) < lines);

    let (output, report) = run(import_command(&app, &[&file]));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = &report["files"][0];
    assert!(report["resumed_at"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["invalid"], 0, "{report}");
    // The second run read the rest of the file; a step the killed one had sent may have been
    // applied meanwhile, and is then answered as applied already, not applied again.
    assert_eq!(
        report["resumed_at"].as_u64().unwrap() + report["lines"].as_u64().unwrap(),
        lines as u64,
        "{report}"
    );
    assert_eq!(event_count(&app, "imported").await, lines as u64);

    // Segments are exact: the one that took the import live, and one built afterwards.
    let expected = per_person.iter().filter(|n| **n >= threshold).count() as i64;
    assert!(expected > 0 && expected < PEOPLE as i64);
    assert_eq!(count(&app, busy).await, expected);
    let built = create_segment(
        &app,
        Some(json!({"event": {"name": "imported", "count": {"at_least": threshold}}})),
    )
    .await;
    assert_eq!(count(&app, built).await, expected);
    let (_, activities) = app
        .app_get("/v1/customers/p6/activities?type=event&limit=100")
        .await;
    assert_eq!(
        activities["activities"].as_array().unwrap().len() as u64,
        per_person[6].min(100)
    );

    // Nothing started: a live event afterwards is the only message.
    event(&app, "live", json!({"name": "imported"})).await;
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].path, "/hook/live");
    receiver.assert_stays_at(1).await;
    let (_, deliveries) = app.app_get("/v1/deliveries").await;
    assert_eq!(
        deliveries["deliveries"].as_array().unwrap().len(),
        1,
        "{deliveries}"
    );
}

#[tokio::test]
async fn csv_files_import_people_and_events_and_name_the_lines_they_skip() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let people = dir.path().join("people.csv");
    std::fs::write(
        &people,
        "id,email,plan,seats,zip,note\n\
         ann,ann@example.com,pro,30,02139,\"likes, commas\"\n\
         ,,free,1,,\n\
         bob,,free,2,,\n",
    )
    .unwrap();
    let events = dir.path().join("events.csv");
    std::fs::write(
        &events,
        "id,name,timestamp,total\n\
         ann,purchased,2026-12-01T10:00:00Z,4.5\n\
         bob,purchased,1796378400,12\n\
         bob,purchased,yesterday,1\n",
    )
    .unwrap();
    let (output, report) = run(import_command(&app, &[&people, &events]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(report["files"][0]["imported"], 2, "{report} {stderr}");
    assert_eq!(report["files"][0]["invalid"], 1, "{report}");
    assert_eq!(report["files"][1]["imported"], 2, "{report}");
    assert!(
        stderr.contains("people.csv:3: the row has neither an id nor an email"),
        "{stderr}"
    );
    assert!(
        stderr.contains("events.csv:4: timestamp \"yesterday\""),
        "{stderr}"
    );

    let (_, ann) = app.app_get("/v1/customers/ann/attributes").await;
    let attributes = &ann["customer"]["attributes"];
    assert_eq!(attributes["plan"], "pro");
    assert_eq!(attributes["seats"], 30);
    assert_eq!(attributes["zip"], "02139");
    assert_eq!(attributes["note"], "likes, commas");
    let segment = create_segment(
        &app,
        Some(json!({"event": {"name": "purchased", "where": [{"field": "total", "op": "gt", "value": 10}]}})),
    )
    .await;
    assert_eq!(crate::segments::members(&app, segment).await, vec!["bob"]);

    // Refusals name what to fix.
    let (output, _) = run(import_command(&app, &[&dir.path().join("missing.ndjson")]));
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot open"));
}

fn export(app: &TestApp, what: &[&str], output: &Path) {
    let result = herald(&app.server.data_dir)
        .arg("export")
        .args(what)
        .args(["--workspace", "test", "--output"])
        .arg(output)
        .arg("--data-dir")
        .arg(&app.server.data_dir)
        .output()
        .expect("herald runs");
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
}

#[tokio::test]
async fn an_export_imported_into_another_workspace_gives_the_same_answers() {
    let app = TestApp::spawn().await;
    identify(
        &app,
        "ann",
        json!({"email": "ann@example.com", "plan": "pro", "seats": 3, "tags": ["a", "b"]}),
    )
    .await;
    identify(&app, "bob", json!({"plan": "free"})).await;
    event(
        &app,
        "ann",
        json!({"name": "purchased", "data": {"total": 30}}),
    )
    .await;
    event(
        &app,
        "ann",
        json!({"name": "purchased", "data": {"total": 5}}),
    )
    .await;
    event(&app, "bob", json!({"name": "login"})).await;
    let pro = create_segment(
        &app,
        Some(json!({"attribute": {"field": "plan", "op": "eq", "value": "pro"}})),
    )
    .await;

    let dir = tempfile::tempdir().unwrap();
    let (people, events, members, people_csv) = (
        dir.path().join("people.ndjson"),
        dir.path().join("events.ndjson"),
        dir.path().join("pro.ndjson"),
        dir.path().join("people.csv"),
    );
    export(&app, &["people"], &people);
    export(&app, &["events"], &events);
    export(&app, &["segment", &pro.to_string()], &members);
    export(&app, &["people"], &people_csv);
    assert_eq!(
        std::fs::read_to_string(&members).unwrap().lines().count(),
        1
    );
    let csv = std::fs::read_to_string(&people_csv).unwrap();
    assert_eq!(
        csv.lines().next(),
        Some("id,email,plan,seats,tags"),
        "{csv}"
    );

    // Into a second workspace on the same server, by its keys.
    let copy = create_workspace(&app.server.data_dir, "copy");
    let output = herald(&app.server.data_dir)
        .args(["import", "--url"])
        .arg(app.url(""))
        .args(["--site-id", &copy.site_id, "--api-key", &copy.api_key])
        .arg(&people)
        .arg(&events)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let key = copy.app_api_key.clone();
    for id in ["ann", "bob"] {
        let path = format!("/v1/customers/{id}/attributes");
        let (_, original) = app.app_get(&path).await;
        let (_, imported) = app_as(&app, &key, reqwest::Method::GET, &path, None).await;
        // A person gets a cio_id of their own in each workspace; the rest is the same.
        let without_cio_id = |body: &Value| {
            let mut attributes = body["customer"]["attributes"].clone();
            attributes.as_object_mut().unwrap().remove("cio_id");
            attributes
        };
        assert_eq!(without_cio_id(&imported), without_cio_id(&original), "{id}");
        assert!(without_cio_id(&original)["plan"].is_string());
    }
    let (_, original) = app.app_get("/v1/data_index/events").await;
    let (_, imported) = app_as(
        &app,
        &key,
        reqwest::Method::GET,
        "/v1/data_index/events",
        None,
    )
    .await;
    let counts = |index: &Value| {
        let mut counts: Vec<(String, u64)> = index["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| {
                (
                    entry["name"].as_str().unwrap().to_owned(),
                    entry["count"].as_u64().unwrap(),
                )
            })
            .collect();
        counts.sort();
        counts
    };
    assert_eq!(counts(&imported), counts(&original));
    assert_eq!(counts(&imported).len(), 2);
    // A segment over the imported events holds the same person in both.
    let big = json!({"segment": {"name": "Big", "definition": {"event": {"name": "purchased", "where": [{"field": "total", "op": "gt", "value": 10}]}}}});
    let (status, created) =
        app_as(&app, &key, reqwest::Method::POST, "/v1/segments", Some(big)).await;
    assert_eq!(status, 200, "{created}");
    let id = created["segment"]["id"].as_i64().unwrap();
    // The build runs after the answer; the members are there once it finished.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, membership) = app_as(
            &app,
            &key,
            reqwest::Method::GET,
            &format!("/v1/segments/{id}/membership"),
            None,
        )
        .await;
        if membership["ids"] == json!(["ann"]) {
            break;
        }
        assert!(Instant::now() < deadline, "{membership}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An App API request with another workspace's key on the same server.
async fn app_as(
    app: &TestApp,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}
