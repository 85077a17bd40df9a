//! Phase (b): a burst of events as fast as the server takes them, and the rate at which their
//! webhooks then arrive.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::sender;
use super::timeline::Timeline;
use super::usage::Sample;
use crate::args::CampaignsArgs;
use crate::report::round;
use crate::target::Target;

/// Runs the phase on sequence numbers `range` and returns its summary line.
pub async fn run(
    args: &CampaignsArgs,
    target: &Target,
    timeline: &Arc<Timeline>,
    range: Range<u64>,
) -> anyhow::Result<Value> {
    let events = range.end - range.start;
    let start_sample = Sample::take(args.server_pid);
    let start = Instant::now();
    let sent = sender::send(
        target,
        timeline,
        range.clone(),
        args.people,
        args.burst_connections,
        None,
    )
    .await?;
    let ingested = sent.last_answer.unwrap_or(start);
    let ingest_sample = Sample::take(args.server_pid);
    let delivered_during_ingest = timeline.arrived_by(range.clone(), ingested);
    timeline
        .wait_for(
            range.clone(),
            start + Duration::from_secs(args.burst_timeout),
        )
        .await;
    let end_sample = Sample::take(args.server_pid);

    let deliveries = timeline.deliveries(range);
    let ingest_secs = ingested.duration_since(start).as_secs_f64();
    let span = |from: Option<Instant>, to: Option<Instant>| match (from, to) {
        (Some(from), Some(to)) => to.duration_since(from).as_secs_f64(),
        _ => 0.0,
    };
    let delivery_secs = span(deliveries.first_arrival, deliveries.last_arrival);
    let end_to_end_secs = span(Some(start), deliveries.last_arrival);
    let per_sec = |count: u64, secs: f64| {
        if secs > 0.0 {
            round(count as f64 / secs, 1)
        } else {
            0.0
        }
    };
    Ok(json!({
        "phase": "burst",
        "events": events,
        "connections": args.burst_connections,
        "people": args.people,
        "events_accepted": deliveries.accepted,
        "events_failed": sent.failed,
        "ingest_secs": round(ingest_secs, 3),
        "ingest_events_per_sec": per_sec(deliveries.accepted, ingest_secs),
        "webhooks_during_ingest": delivered_during_ingest,
        "webhooks_received": deliveries.arrived,
        "webhooks_missing": deliveries.missing,
        "delivery_secs": round(delivery_secs, 3),
        "deliveries_per_sec": per_sec(deliveries.arrived, delivery_secs),
        "end_to_end_secs": round(end_to_end_secs, 3),
        "end_to_end_per_sec": per_sec(deliveries.arrived, end_to_end_secs),
        "latency_ms": deliveries.latency_json(),
        "duplicates": timeline.duplicates.load(Ordering::Relaxed),
        "unknown_webhooks": timeline.unknown.load(Ordering::Relaxed),
        "without_delivery_id": timeline.without_delivery_id.load(Ordering::Relaxed),
        "cpu": {
            "ingest": start_sample.until(&ingest_sample),
            "drain": ingest_sample.until(&end_sample),
        },
        "first_failure": sent.first_failure,
    }))
}
