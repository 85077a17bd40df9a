//! Loading the workload through `POST /api/v2/batch`, as a user with a history would.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, bail};
use herald_bench::workload::Workload;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use super::Setup;
use super::client::Client;

/// Items per batch: about 150 KB of events, under the 500 KB limit.
const BATCH: usize = 1_000;

/// Sends every person (identify with `plan`, `country`, `created_at`) and then every event (by
/// time, with its id, so that a resent batch is stored once) over `connections` connections.
/// Returns a JSON summary.
pub async fn run(setup: &Setup, workload: Workload, connections: usize) -> anyhow::Result<Value> {
    let begin = Instant::now();
    send_all(setup, people(workload), connections).await?;
    let people_secs = begin.elapsed().as_secs_f64();
    let begin_events = Instant::now();
    send_all(setup, events(workload), connections).await?;
    let events_secs = begin_events.elapsed().as_secs_f64();
    Ok(json!({
        "phase": "load",
        "people": workload.people,
        "events": workload.events,
        "people_secs": people_secs,
        "events_secs": events_secs,
        "events_per_sec": workload.events as f64 / events_secs,
        "operations_per_sec": (workload.people + workload.events) as f64 / (people_secs + events_secs),
    }))
}

/// Every person as an identify with `plan`, `country` and `created_at`.
pub fn people(workload: Workload) -> impl Iterator<Item = Value> + Send + 'static {
    (0..workload.people).map(move |k| {
        let person = workload.person(k);
        json!({"type": "person", "identifiers": {"id": format!("u{k}")}, "action": "identify",
               "attributes": {"plan": person.plan, "country": person.country, "created_at": person.created_at}})
    })
}

/// Every event, by time, with its id, so that a resent batch is stored once.
pub fn events(workload: Workload) -> impl Iterator<Item = Value> + Send + 'static {
    workload.events_by_time().map(|event| {
        json!({"type": "person", "identifiers": {"id": format!("u{}", event.person)}, "action": "event",
               "id": ulid(event.index), "name": event.name, "timestamp": event.ts,
               "attributes": {"price": event.price().to_string().parse::<f64>().unwrap_or(0.0)}})
    })
}

/// The event's number as a ULID (26 characters of Crockford base32), the id format the Track
/// API takes, so that a batch sent again is stored once.
fn ulid(index: u64) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut text = [b'0'; 26];
    let mut rest = index;
    for slot in text.iter_mut().rev() {
        *slot = ALPHABET[(rest % 32) as usize];
        rest /= 32;
    }
    String::from_utf8_lossy(&text).into_owned()
}

async fn send_all(
    setup: &Setup,
    items: impl Iterator<Item = Value> + Send + 'static,
    connections: usize,
) -> anyhow::Result<()> {
    let items = Arc::new(Mutex::new(items));
    let mut tasks = Vec::new();
    for _ in 0..connections.max(1) {
        let items = Arc::clone(&items);
        let mut client = Client::open(setup).await?;
        tasks.push(tokio::spawn(async move {
            loop {
                let batch: Vec<Value> = {
                    let mut items = items.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
                    items.by_ref().take(BATCH).collect()
                };
                if batch.is_empty() {
                    return Ok::<(), anyhow::Error>(());
                }
                let body = json!({"batch": batch});
                loop {
                    let (status, answer) =
                        client.track(Method::POST, "/api/v2/batch", &body).await?;
                    match status {
                        StatusCode::OK => break,
                        StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => {
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        }
                        other => {
                            let text = answer.to_string();
                            bail!("a batch answered {other}: {}", &text[..text.len().min(300)])
                        }
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.context("a loading task panicked")??;
    }
    Ok(())
}
