//! Ingest latency while segments build: single Track events at a steady rate, first with
//! nothing else happening, then while segments are created and deleted one after another.

use std::time::{Duration, Instant};

use herald_bench::segments::stats::{Latencies, ms};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use super::Setup;
use super::client::Client;
use super::counts::Expected;
use super::phases::create_segment;

/// Connections sending events, and the events each sends per second.
const CONNECTIONS: usize = 4;
const RATE_PER_CONNECTION: u64 = 250;

pub async fn run(setup: &Setup, segments: &[Expected], seconds: u64) -> anyhow::Result<Value> {
    let window = Duration::from_secs(seconds);
    let quiet = measure(setup, window, None, false).await?;
    let building = measure(setup, window, Some(segments), false).await?;
    let building_and_deleting = measure(setup, window, Some(segments), true).await?;
    Ok(json!({
        "phase": "build-ingest",
        "rate": CONNECTIONS as u64 * RATE_PER_CONNECTION,
        "quiet": quiet,
        "building": building,
        "building_and_deleting": building_and_deleting,
    }))
}

async fn delete(client: &mut Client, id: i64) -> anyhow::Result<()> {
    client
        .app(Method::DELETE, &format!("/v1/segments/{id}"), &Value::Null)
        .await?;
    Ok(())
}

/// Measures ingest for `window`, meanwhile creating `segments` one after another, each waited
/// for until stored; with `delete_within`, each is deleted right after, inside the window.
async fn measure(
    setup: &Setup,
    window: Duration,
    segments: Option<&[Expected]>,
    delete_within: bool,
) -> anyhow::Result<Value> {
    let end = Instant::now() + window;
    let mut senders = Vec::new();
    for connection in 0..CONNECTIONS {
        let mut client = Client::open(setup).await?;
        senders.push(tokio::spawn(async move {
            let mut latencies = Latencies::with_capacity(10_000);
            let mut refused = 0_u64;
            let mut ticks =
                tokio::time::interval(Duration::from_micros(1_000_000 / RATE_PER_CONNECTION));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut n = 0_u64;
            while Instant::now() < end {
                ticks.tick().await;
                n += 1;
                let path = format!(
                    "/api/v1/customers/u{}/events",
                    (n * CONNECTIONS as u64 + connection as u64) % 1_000
                );
                let begin = Instant::now();
                let (status, _) = client
                    .track(Method::POST, &path, &json!({"name": "ingest_probe"}))
                    .await?;
                latencies.record(begin.elapsed());
                if status != StatusCode::OK {
                    refused += 1;
                }
            }
            Ok::<_, anyhow::Error>((latencies, refused))
        }));
    }
    let mut builds = 0_u64;
    let mut created = Vec::new();
    let mut client = Client::open(setup).await?;
    if let Some(segments) = segments {
        while Instant::now() < end {
            for segment in segments {
                let id = create_segment(&mut client, segment).await?;
                super::phases::wait_exact(&mut client, id, segment.count).await?;
                builds += 1;
                if delete_within {
                    delete(&mut client, id).await?;
                } else {
                    created.push(id);
                }
            }
        }
    }
    let mut all = Latencies::with_capacity(CONNECTIONS * 10_000);
    // Segments kept through the window are deleted once it is measured.
    for id in created {
        delete(&mut client, id).await?;
    }
    let mut refused = 0;
    for sender in senders {
        let (latencies, failed) = sender.await??;
        refused += failed;
        all.absorb(&latencies);
    }
    Ok(json!({
        "requests": all.len(),
        "refused": refused,
        "builds": builds,
        "p50_ms": ms(all.percentile(0.5)),
        "p99_ms": ms(all.percentile(0.99)),
        "max_ms": ms(all.max()),
    }))
}
