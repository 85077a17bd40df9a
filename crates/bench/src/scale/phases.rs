//! The phases of the scale benchmark; each prints one JSON line.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use herald_bench::segments::stats::{median, ms};
use herald_bench::workload::Workload;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use super::Setup;
use super::client::Client;
use super::counts::{Expected, benchmark_segments, new_segments};
use super::server::{Server, rss_mib};
use crate::args::ScaleArgs;

/// How long the server may take to do what a phase waits for before the phase fails.
const PATIENCE: Duration = Duration::from_secs(900);

pub fn main(args: &ScaleArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: &ScaleArgs) -> anyhow::Result<()> {
    let setup = Setup::from(args);
    let workload = Workload {
        people: args.people,
        events: args.events,
        seed: args.seed,
    };
    let phases: Vec<&str> = args.phases.split(',').map(str::trim).collect();
    let expected = benchmark_segments(workload);
    if phases.contains(&"load") || phases.contains(&"import") || phases.contains(&"segments") {
        let server = Server::start(&setup)?;
        let mut client = Client::wait_open(&setup, PATIENCE).await?;
        wait_loaded(&mut client).await?;
        if phases.contains(&"load") {
            println!(
                "{}",
                super::load::run(&setup, workload, args.connections).await?
            );
            // The load takes its own connections for most of an hour; the server has long
            // closed this idle one (its keep-alive timeout), so a fresh one follows.
            client = Client::wait_open(&setup, PATIENCE).await?;
        }
        if phases.contains(&"import") {
            println!("{}", super::import::run(&setup, workload)?);
            client = Client::wait_open(&setup, PATIENCE).await?;
        }
        let begin = Instant::now();
        let mut created = Vec::new();
        for segment in &expected {
            if benchmark_ids(&mut client, std::slice::from_ref(segment))
                .await
                .is_err()
            {
                let id = create_segment(&mut client, segment).await?;
                wait_exact(&mut client, id, segment.count).await?;
                created.push(segment.name);
            }
        }
        println!(
            "{}",
            json!({"phase": "segments", "created": created, "secs": begin.elapsed().as_secs_f64()})
        );
        server.stop()?;
        if phases
            .iter()
            .all(|phase| ["load", "import", "segments"].contains(phase))
        {
            return Ok(());
        }
    }
    let server = Server::start(&setup)?;
    let pid = server.pid();
    if phases.contains(&"restart") {
        println!("{}", restart(&setup, &server, &expected).await?);
    }
    let mut client = Client::wait_open(&setup, PATIENCE).await?;
    let ids = benchmark_ids(&mut client, &expected).await?;
    for (segment, id) in expected.iter().zip(&ids) {
        wait_exact(&mut client, *id, segment.count).await?;
    }
    // Previews first: the segments created next store up to a million membership changes in
    // the background, which the previews would otherwise share the machine with.
    if phases.contains(&"preview") {
        println!("{}", preview(&mut client, &expected, args.runs).await?);
    }
    if phases.contains(&"new-segment") {
        for segment in new_segments(workload) {
            println!("{}", new_segment(&mut client, &segment).await?);
        }
    }
    if phases.contains(&"ui") {
        println!("{}", super::ui::run(&setup, args.runs).await?);
    }
    if phases.contains(&"build-ingest") {
        println!(
            "{}",
            super::ingest_during_builds::run(&setup, &expected, args.seconds).await?
        );
    }
    println!(
        "{}",
        json!({"phase": "memory", "rss_mib": rss_mib(pid), "people": workload.people, "events": workload.events})
    );
    let stopped = server.stop()?;
    println!(
        "{}",
        json!({"phase": "stop", "secs": stopped.as_secs_f64()})
    );
    Ok(())
}

/// Times a start: the first connection, the first acknowledged Track write, and the moment every
/// benchmark segment's count is exact.
async fn restart(setup: &Setup, server: &Server, expected: &[Expected]) -> anyhow::Result<Value> {
    let mut client = Client::wait_open(setup, PATIENCE).await?;
    let listening = server.started.elapsed();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let body = json!({"name": "restart_probe"});
        let (status, _) = client
            .track(
                Method::POST,
                "/api/v1/customers/restart-probe/events",
                &body,
            )
            .await?;
        if status == StatusCode::OK {
            break;
        }
        if server.started.elapsed() > PATIENCE {
            bail!("no write was taken within {PATIENCE:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let first_write = server.started.elapsed();
    let ids = loop {
        match benchmark_ids(&mut client, expected).await {
            Ok(ids) => break ids,
            Err(_) if server.started.elapsed() < PATIENCE => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(error) => return Err(error),
        }
    };
    for (segment, id) in expected.iter().zip(&ids) {
        wait_count(&mut client, *id, segment.count).await?;
    }
    let exact = server.started.elapsed();
    Ok(json!({
        "phase": "restart",
        "listening_secs": listening.as_secs_f64(),
        "first_write_secs": first_write.as_secs_f64(),
        "write_attempts": attempts,
        "counts_exact_secs": exact.as_secs_f64(),
        "rss_mib": rss_mib(server.pid()),
    }))
}

/// Creates a segment, times it until its count is exact (what the engine answers) and until its
/// state is `finished` (its memberships are stored, on the writer's background queue), and
/// deletes it again.
async fn new_segment(client: &mut Client, segment: &Expected) -> anyhow::Result<Value> {
    let begin = Instant::now();
    let id = create_segment(client, segment).await?;
    wait_count(client, id, segment.count).await?;
    let exact = begin.elapsed();
    wait_exact(client, id, segment.count).await?;
    let stored = begin.elapsed();
    let (status, answer) = client
        .app(Method::DELETE, &format!("/v1/segments/{id}"), &Value::Null)
        .await?;
    if !status.is_success() {
        bail!("deleting segment {id} answered {status}: {answer}");
    }
    Ok(json!({
        "phase": "new-segment",
        "segment": segment.name,
        "count": segment.count,
        "exact_ms": ms(exact),
        "stored_ms": ms(stored),
    }))
}

/// Previews S1–S3 over HTTP, `runs` times each, and checks every count.
async fn preview(client: &mut Client, expected: &[Expected], runs: usize) -> anyhow::Result<Value> {
    let mut result = serde_json::Map::new();
    for segment in expected {
        let mut times = Vec::new();
        for _ in 0..runs {
            let begin = Instant::now();
            let body = json!({"definition": segment.definition});
            let (status, answer) = client
                .app(Method::POST, "/v1/segments/preview", &body)
                .await?;
            times.push(begin.elapsed());
            if status != StatusCode::OK || answer["count"] != json!(segment.count) {
                bail!(
                    "preview of {} answered {status}: {answer}, not {}",
                    segment.name,
                    segment.count
                );
            }
        }
        result.insert(
            segment.name.to_owned(),
            json!({"median_ms": ms(median(&times)), "runs_ms": times.iter().map(|t| ms(*t)).collect::<Vec<_>>()}),
        );
    }
    Ok(json!({"phase": "preview", "segments": result, "floor": floor(client, runs).await?}))
}

/// What a preview costs apart from the engine's evaluation, on the same connection: a request
/// that reaches no handler state (`GET /healthz`), and a preview the engine answers from its
/// index at once with nobody (an event never sent), which crosses the same threads as any other.
async fn floor(client: &mut Client, runs: usize) -> anyhow::Result<Value> {
    let nobody = json!({"definition": {"event": {"name": "herald-bench-never-sent"}}});
    let mut health = Vec::new();
    let mut empty = Vec::new();
    for _ in 0..runs {
        let begin = Instant::now();
        let status = client.status_of("/healthz").await?;
        health.push(begin.elapsed());
        if status != StatusCode::OK {
            bail!("/healthz answered {status}");
        }
        let begin = Instant::now();
        let (status, answer) = client
            .app(Method::POST, "/v1/segments/preview", &nobody)
            .await?;
        empty.push(begin.elapsed());
        if status != StatusCode::OK || answer["count"] != json!(0) {
            bail!("the empty preview answered {status}: {answer}");
        }
    }
    Ok(json!({
        "healthz_median_ms": ms(median(&health)),
        "empty_preview_median_ms": ms(median(&empty)),
    }))
}

pub async fn create_segment(client: &mut Client, segment: &Expected) -> anyhow::Result<i64> {
    let body = json!({"segment": {"name": segment.name, "definition": segment.definition}});
    let (status, answer) = client.app(Method::POST, "/v1/segments", &body).await?;
    if status != StatusCode::OK {
        bail!("creating {} answered {status}: {answer}", segment.name);
    }
    answer["segment"]["id"]
        .as_i64()
        .with_context(|| format!("no segment id in {answer}"))
}

/// Waits until a segment's count is `count`.
async fn wait_count(client: &mut Client, id: i64, count: usize) -> anyhow::Result<()> {
    let begin = Instant::now();
    loop {
        let (status, answer) = client
            .app(
                Method::GET,
                &format!("/v1/segments/{id}/customer_count"),
                &Value::Null,
            )
            .await?;
        if status == StatusCode::OK && answer["count"] == json!(count) {
            return Ok(());
        }
        if begin.elapsed() > PATIENCE {
            bail!("segment {id} never reached {count} members");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Waits until a segment's build finished (its memberships are stored) and its count is
/// `count`.
pub async fn wait_exact(client: &mut Client, id: i64, count: usize) -> anyhow::Result<()> {
    let begin = Instant::now();
    loop {
        let (status, answer) = client
            .app(Method::GET, &format!("/v1/segments/{id}"), &Value::Null)
            .await?;
        if status == StatusCode::OK && answer["segment"]["state"] == "finished" {
            return wait_count(client, id, count).await;
        }
        if begin.elapsed() > PATIENCE {
            bail!("segment {id} never finished building");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Waits until the engine answers (after a start).
async fn wait_loaded(client: &mut Client) -> anyhow::Result<()> {
    let begin = Instant::now();
    loop {
        let (status, _) = client
            .app(
                Method::POST,
                "/v1/segments/preview",
                &json!({"definition": {"event": {"name": "x"}}}),
            )
            .await?;
        if status == StatusCode::OK {
            return Ok(());
        }
        if begin.elapsed() > PATIENCE {
            bail!("the engine never loaded");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Finds S1–S3 among the stored segments by name.
async fn benchmark_ids(client: &mut Client, expected: &[Expected]) -> anyhow::Result<Vec<i64>> {
    let (status, answer) = client
        .app(Method::GET, "/v1/segments", &Value::Null)
        .await?;
    if status != StatusCode::OK {
        bail!("listing segments answered {status}: {answer}");
    }
    let listed = answer["segments"].as_array().cloned().unwrap_or_default();
    expected
        .iter()
        .map(|segment| {
            listed
                .iter()
                .find(|s| s["name"] == segment.name)
                .and_then(|s| s["id"].as_i64())
                .with_context(|| {
                    format!(
                        "no segment named {} (run the load phase first)",
                        segment.name
                    )
                })
        })
        .collect()
}
