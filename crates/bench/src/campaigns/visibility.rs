//! Phase (c): how soon an event shows in the person's segments over HTTP (issue 18, goal 3).
//!
//! A segment "did `probe_seen` at least once within 30 days" is created first. Then, at a
//! steady `--visibility-rate`, each sample takes a person not yet in it (`v0`, `v1`, …,
//! identified before the phase), sends them a `probe_seen` event through the Track API, and
//! as soon as that is acknowledged asks the App API for the person's segments, again until the
//! segment is listed. The figure is the time from the event's send start to the answer that
//! lists it; how many first answers already listed it is reported beside it, since any
//! answer without it means that an acknowledged event was not yet visible.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hyper::body::Bytes;
use hyper::header::HeaderValue;
use hyper::{Method, Uri};
use serde_json::{Value, json};

use super::client::Connection;
use super::sender::Schedule;
use super::setup;
use super::timeline::percentiles_json;
use super::usage::Sample;
use crate::args::CampaignsArgs;
use crate::target::Target;

/// The event the phase's segment counts; no campaign listens to it.
const EVENT: &str = "probe_seen";
/// The person ids of this phase: `v0` … `v{samples-1}`, each used once.
const PREFIX: &str = "v";
/// How long a sample waits for its segment before it counts as never seen.
const GIVE_UP: Duration = Duration::from_secs(2);

/// Samples of the phase: one person each.
pub fn samples(args: &CampaignsArgs) -> u64 {
    args.visibility_rate * (args.warmup + args.duration)
}

/// What one connection saw.
#[derive(Default)]
struct Seen {
    /// Microseconds from the event's send start to the answer that listed the segment.
    visible_us: Vec<u32>,
    /// Microseconds of the Track call alone.
    track_us: Vec<u32>,
    /// Samples whose first App API answer already listed the segment.
    first_read: u64,
    /// App API calls made, over all samples.
    reads: u64,
    /// Samples never seen within [`GIVE_UP`], or whose event was refused.
    missing: u64,
    /// How late each send started against its schedule, in microseconds.
    lags_us: Vec<u32>,
}

/// Runs the phase and returns its summary line.
pub async fn run(args: &CampaignsArgs, target: &Target) -> anyhow::Result<Value> {
    let total = samples(args);
    anyhow::ensure!(total > 0, "--visibility-rate must be at least 1");
    let app = HeaderValue::from_str(&format!("Bearer {}", args.keys.app_api_key))?;
    let segment = create_segment(target, &app).await?;
    setup::identify_as(target, PREFIX, total, 16).await?;

    let schedule = Schedule {
        start: Instant::now() + Duration::from_millis(200),
        interval: Duration::from_secs(1) / u32::try_from(args.visibility_rate)?,
    };
    let measured_from = args.visibility_rate * args.warmup;
    let window_start = schedule.start + Duration::from_secs(args.warmup);
    let window_end = window_start + Duration::from_secs(args.duration);
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..args.visibility_connections.max(1) {
        let mut connection = Connection::open(target).await?;
        let (track, app, next) = (target.authorization.clone(), app.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut seen = Seen::default();
            loop {
                let sample = next.fetch_add(1, Ordering::Relaxed);
                if sample >= total {
                    return anyhow::Ok(seen);
                }
                let due = schedule.start + schedule.interval * u32::try_from(sample)?;
                tokio::time::sleep_until(due.into()).await;
                let measured = sample >= measured_from;
                if measured {
                    let lag = Instant::now().saturating_duration_since(due);
                    seen.lags_us.push(micros(lag));
                }
                let outcome =
                    one_sample(&mut connection, &track, &app, sample, segment, &mut seen).await?;
                if measured {
                    match outcome {
                        Some((track_took, visible_after)) => {
                            seen.track_us.push(micros(track_took));
                            seen.visible_us.push(micros(visible_after));
                        }
                        None => seen.missing += 1,
                    }
                }
            }
        }));
    }
    tokio::time::sleep_until(window_start.into()).await;
    let before = Sample::take(args.server_pid);
    tokio::time::sleep_until(window_end.into()).await;
    let after = Sample::take(args.server_pid);
    let mut all = Seen::default();
    for worker in workers {
        let seen = worker.await.context("a visibility worker panicked")??;
        all.visible_us.extend(seen.visible_us);
        all.track_us.extend(seen.track_us);
        all.first_read += seen.first_read;
        all.reads += seen.reads;
        all.missing += seen.missing;
        all.lags_us.extend(seen.lags_us);
    }
    all.visible_us.sort_unstable();
    all.track_us.sort_unstable();
    all.lags_us.sort_unstable();
    Ok(json!({
        "phase": "visibility",
        "rate": args.visibility_rate,
        "connections": args.visibility_connections,
        "warmup_secs": args.warmup,
        "measured_secs": args.duration,
        "samples_measured": all.visible_us.len(),
        "visible_ms": percentiles_json(&all.visible_us),
        "visible_ms_histogram": histogram(&all.visible_us),
        "track_call_ms": percentiles_json(&all.track_us),
        "visible_on_first_read": all.first_read,
        "app_api_reads": all.reads,
        "missing": all.missing,
        "schedule_lag_ms": percentiles_json(&all.lags_us),
        "cpu": before.until(&after),
    }))
}

/// One sample: the Track call, then App API reads until the segment is listed. Returns the
/// Track call's time and the time to visibility, or `None` when it was not seen.
async fn one_sample(
    connection: &mut Connection,
    track: &HeaderValue,
    app: &HeaderValue,
    sample: u64,
    segment: i64,
    seen: &mut Seen,
) -> anyhow::Result<Option<(Duration, Duration)>> {
    let person = format!("{PREFIX}{sample}");
    let started = Instant::now();
    let (status, _) = connection
        .send(
            Method::POST,
            format!("/api/v1/customers/{person}/events").parse()?,
            track,
            Bytes::from(format!(r#"{{"name":"{EVENT}"}}"#)),
        )
        .await?;
    let track_took = started.elapsed();
    if !status.is_success() {
        return Ok(None);
    }
    let path: Uri = format!("/v1/customers/{person}/segments").parse()?;
    let mut first = true;
    while started.elapsed() < GIVE_UP {
        let (status, body) = connection
            .send(Method::GET, path.clone(), app, Bytes::new())
            .await?;
        seen.reads += 1;
        if !status.is_success() {
            bail!(
                "GET {path} answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        let answer: Value = serde_json::from_slice(&body)?;
        let listed = answer["segments"]
            .as_array()
            .is_some_and(|segments| segments.iter().any(|s| s["id"] == json!(segment)));
        if listed {
            if first {
                seen.first_read += 1;
            }
            return Ok(Some((track_took, started.elapsed())));
        }
        first = false;
    }
    Ok(None)
}

/// Creates the phase's segment and returns its id.
async fn create_segment(target: &Target, app: &HeaderValue) -> anyhow::Result<i64> {
    let mut connection = Connection::open(target).await?;
    let body = json!({"segment": {
        "name": "visibility probe",
        "definition": {"event": {"name": EVENT, "count": {"at_least": 1}, "within": {"days": 30}}},
    }});
    let (status, answer) = connection
        .send(
            Method::POST,
            "/v1/segments".parse()?,
            app,
            Bytes::from(body.to_string()),
        )
        .await?;
    if !status.is_success() {
        bail!(
            "POST /v1/segments answered {status}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    let answer: Value = serde_json::from_slice(&answer)?;
    answer["segment"]["id"]
        .as_i64()
        .with_context(|| format!("the created segment has no id: {answer}"))
}

/// How many samples fell under each bound, in milliseconds: the distribution the issue asks
/// for, beside the percentiles.
fn histogram(sorted_us: &[u32]) -> Value {
    const BOUNDS_MS: [u32; 9] = [1, 2, 3, 5, 10, 20, 50, 100, 1000];
    let mut buckets = serde_json::Map::new();
    for bound in BOUNDS_MS {
        let under = sorted_us.partition_point(|&us| us <= bound * 1000);
        buckets.insert(format!("le_{bound}"), json!(under));
    }
    buckets.insert("all".to_owned(), json!(sorted_us.len()));
    Value::Object(buckets)
}

fn micros(duration: Duration) -> u32 {
    u32::try_from(duration.as_micros()).unwrap_or(u32::MAX)
}
