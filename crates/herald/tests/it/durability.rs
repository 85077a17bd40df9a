//! A 2xx means committed: `kill -9` during sustained concurrent ingest loses no acknowledged
//! event, and stores none twice; SIGTERM stops the server gracefully, with the same outcome.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::helpers::{Server, TestApp};

const WRITERS: usize = 24;

/// Starts writers that send events (single, and v2 batches of ten) as fast as the server
/// takes them, each recording the ids of the events acknowledged with a 200, until a request
/// fails because the server went away.
fn start_writers(
    app: &TestApp,
    acknowledged: &Arc<Mutex<Vec<String>>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let url = app.url(&format!("/api/v1/customers/person-{writer}/events"));
        let batch_url = app.url("/api/v2/batch");
        let (site, key) = (app.workspace.site_id.clone(), app.workspace.api_key.clone());
        let acknowledged = Arc::clone(acknowledged);
        writers.push(tokio::spawn(async move {
            loop {
                // Every third writer sends v2 batches of ten events; the others single events.
                let ids: Vec<String> = (0..if writer % 3 == 0 { 10 } else { 1 })
                    .map(|_| ulid::Ulid::new().to_string())
                    .collect();
                let request = if ids.len() == 1 {
                    client.post(&url).json(&json!({"name": "load", "id": ids[0], "data": {"writer": writer}}))
                } else {
                    let batch: Vec<_> = ids
                        .iter()
                        .map(|id| json!({"type": "person", "identifiers": {"id": format!("person-{writer}")},
                            "action": "event", "name": "load", "id": id}))
                        .collect();
                    client.post(&batch_url).json(&json!({"batch": batch}))
                };
                match request.basic_auth(&site, Some(&key)).send().await {
                    Ok(response) if response.status() == 200 => {
                        acknowledged.lock().unwrap().extend(ids);
                    }
                    Ok(response) => panic!("unexpected status {}", response.status()),
                    // The server died mid-request: this event was never acknowledged.
                    Err(_) => return,
                }
            }
        }));
    }
    writers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_ingest_loses_no_acknowledged_event() {
    let mut app = TestApp::spawn().await;
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let writers = start_writers(&app, &acknowledged);
    // Let ingest run until a hundred events are acknowledged, then kill the server while
    // requests are in flight. Waiting for a count rather than a fixed time keeps the test
    // meaningful on a machine busy with other tests, where a second and a half once saw fewer.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let before_kill = acknowledged.lock().unwrap().len();
        if before_kill > 100 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "ingest was running ({before_kill} acknowledged in a minute)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.server.kill();
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    let data_dir = app.server.data_dir.clone();
    app.server = Server::start(&data_dir, &[]);
    let stored = assert_stored_once(&app, &acknowledged).await;

    // A client that retries after the crash does not create duplicates either.
    let retried: HashSet<_> = acknowledged.iter().take(50).cloned().collect();
    for id in &retried {
        let (status, _) = app
            .track(
                reqwest::Method::POST,
                "/api/v1/customers/person-1/events",
                Some(json!({"name": "load", "id": id})),
            )
            .await;
        assert_eq!(status, 200);
    }
    let after_retry = app.all_activities("&type=event").await;
    assert_eq!(
        after_retry.len(),
        stored.len(),
        "retries of stored events are not stored again"
    );
    eprintln!(
        "durability: {} acknowledged, {} stored after kill -9",
        acknowledged.len(),
        stored.len()
    );
}

/// Checks that every acknowledged event is stored, and none twice; returns what is stored.
async fn assert_stored_once(app: &TestApp, acknowledged: &[String]) -> Vec<serde_json::Value> {
    let stored = app.all_activities("&type=event").await;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for activity in &stored {
        *counts
            .entry(activity["event_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|id| !counts.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged events lost, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    let duplicated: Vec<_> = counts.iter().filter(|(_, count)| **count > 1).collect();
    assert!(duplicated.is_empty(), "events stored twice: {duplicated:?}");

    stored
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_ingest_finishes_what_is_in_flight_and_loses_nothing() {
    let mut app = TestApp::spawn_with(&["--shutdown-timeout=20s"]).await;
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let writers = start_writers(&app, &acknowledged);
    // Stopped once ingest is in full swing.
    let started = std::time::Instant::now();
    while acknowledged.lock().unwrap().len() < 100 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "ingest never ran"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A graceful stop: the requests in flight are answered, the writer commits what it
    // acknowledged, and the process exits with success.
    app.server.stop();
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let refused = reqwest::Client::new().get(app.url("/healthz")).send().await;
    assert!(refused.is_err(), "the stopped server no longer accepts");

    let data_dir = app.server.data_dir.clone();
    app.server = Server::start(&data_dir, &[]);
    let stored = assert_stored_once(&app, &acknowledged).await;
    eprintln!(
        "SIGTERM: {} acknowledged, {} stored",
        acknowledged.len(),
        stored.len()
    );
}
