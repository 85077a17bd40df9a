//! A flood of large batches (issue 11): once the server holds as many request bodies as it
//! allows, more are answered 503 with Retry-After before their bodies are read, its memory
//! stays bounded, every batch it acknowledged is stored, and it answers normally once the
//! flood stops.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::helpers::TestApp;

/// Batches sent at once, and operations in each: 150 × ~480 KB is 72 MB offered in one go.
const BATCHES: usize = 150;
const EVENTS_PER_BATCH: usize = 200;
/// The resident memory the server may reach under the flood. It idles near 30 MB; without the
/// limits, 100–300 such batches at once drove a release build past 3 GB.
const MAX_RSS_BYTES: u64 = 400 * 1024 * 1024;

fn batch(index: usize) -> Vec<u8> {
    let pad = "x".repeat(2_300);
    let operations: Vec<Value> = (0..EVENTS_PER_BATCH)
        .map(|event| {
            json!({"type": "person", "action": "event", "name": "flood",
                   "identifiers": {"id": format!("p{index}-{event}")},
                   "attributes": {"pad": pad}})
        })
        .collect();
    serde_json::to_vec(&json!({"batch": operations})).unwrap()
}

/// The server's peak resident memory so far (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("a Linux /proc");
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .expect("VmHWM is reported");
    let kilobytes: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|value| value.parse().ok())
        .expect("VmHWM in kB");
    kilobytes * 1024
}

#[tokio::test]
async fn a_flood_of_large_batches_is_shed_with_503_and_memory_stays_bounded() {
    let app = Arc::new(TestApp::spawn_with(&["--max-body-memory=4MiB", "--max-requests=64"]).await);
    let bodies: Vec<Vec<u8>> = (0..BATCHES).map(batch).collect();
    assert!(bodies[0].len() > 450_000 && bodies[0].len() < 500 * 1024);
    let mut tasks = Vec::new();
    for body in bodies {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let response = app
                .client
                .post(app.url("/api/v2/batch"))
                .basic_auth(&app.workspace.site_id, Some(&app.workspace.api_key))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            match response {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response.headers().get("retry-after").cloned();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    Some((status, retry_after, body))
                }
                // The server closes a refused connection without reading the body; a client
                // still sending it may see the reset instead of the 503.
                Err(_) => None,
            }
        }));
    }
    let (mut accepted, mut shed, mut reset) = (0_usize, 0_usize, 0_usize);
    for task in tasks {
        match task.await.unwrap() {
            Some((200, _, _)) => accepted += 1,
            Some((503, retry_after, body)) => {
                assert_eq!(retry_after.as_ref().map(|v| v.to_str().unwrap()), Some("1"));
                assert_eq!(body["code"], "overloaded", "{body}");
                shed += 1;
            }
            Some((status, _, body)) => panic!("unexpected {status}: {body}"),
            None => reset += 1,
        }
    }
    println!("accepted {accepted}, shed {shed}, reset {reset} of {BATCHES}");
    assert!(accepted > 0, "nothing was accepted");
    assert!(
        shed > 0,
        "nothing was shed: {accepted} accepted, {reset} reset"
    );
    let peak = peak_rss(app.server.child.id());
    println!("peak RSS {} MB", peak / (1024 * 1024));
    assert!(peak < MAX_RSS_BYTES, "peak RSS {peak} bytes");

    // Every acknowledged batch is stored whole, and nothing of a refused one.
    let (status, index) = app.app_get("/v1/data_index/events").await;
    assert_eq!(status, 200, "{index}");
    let stored = index["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["name"] == "flood")
        .map_or(0, |entry| entry["count"].as_u64().unwrap());
    assert_eq!(stored, (accepted * EVENTS_PER_BATCH) as u64);

    // Once the flood is over, the server answers as before.
    let response = app
        .client
        .post(app.url("/api/v2/batch"))
        .basic_auth(&app.workspace.site_id, Some(&app.workspace.api_key))
        .json(
            &json!({"batch": [{"type": "person", "action": "event", "name": "after",
                                 "identifiers": {"id": "late"}}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// Clients that start bodies and never finish them hold no request permit while they wait:
/// with more of them than `--max-requests`, a liveness probe, a request without a body and an
/// ordinary write are all still served at once, and the stalled ones are only charged their
/// bodies' bytes.
#[tokio::test]
async fn stalled_bodies_do_not_shut_out_other_requests() {
    use tokio::io::AsyncWriteExt;

    let app = TestApp::spawn_with(&["--max-requests=8"]).await;
    let address = app.url("").trim_start_matches("http://").to_owned();
    let mut stalled = Vec::new();
    for index in 0..24 {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        let head = format!(
            "PUT /api/v1/customers/slow{index} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stalled.push(stream);
    }
    // Give the server time to take every stalled request up to its body read.
    let (status, _) = app.app_get("/v1/segments").await;
    assert_eq!(status, 200);
    let probe = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(probe.status(), 200, "the liveness probe answers");
    let (status, body) = app
        .track(
            reqwest::Method::PUT,
            "/api/v1/customers/quick",
            Some(json!({"plan": "pro"})),
        )
        .await;
    assert_eq!(status, 200, "an ordinary write is served: {body}");
    let (status, customer) = app.app_get("/v1/customers/quick/attributes").await;
    assert_eq!(status, 200);
    assert_eq!(customer["customer"]["attributes"]["plan"], "pro");
    drop(stalled);
}
