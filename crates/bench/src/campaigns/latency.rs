//! Phase (a): events at a steady rate, and the time from each event's send to its webhook.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::sender::{self, Schedule};
use super::timeline::{Timeline, percentiles_json};
use super::usage::Sample;
use crate::args::CampaignsArgs;
use crate::report::round;
use crate::target::Target;

/// Sequence numbers this phase uses, starting at zero.
pub fn events(args: &CampaignsArgs) -> u64 {
    args.rate * (args.warmup + args.duration)
}

/// Runs the phase on sequence numbers `0..events(args)` and returns its summary line.
pub async fn run(
    args: &CampaignsArgs,
    target: &Target,
    timeline: &Arc<Timeline>,
) -> anyhow::Result<Value> {
    let total = events(args);
    let measured = args.rate * args.warmup..total;
    // A moment's head start lets every connection open before the first event is due.
    let schedule = Schedule {
        start: Instant::now() + Duration::from_millis(200),
        interval: Duration::from_secs(1) / u32::try_from(args.rate)?,
    };
    let window_start = schedule.start + Duration::from_secs(args.warmup);
    let window_end = window_start + Duration::from_secs(args.duration);
    let senders = {
        let (target, timeline) = (target.clone(), timeline.clone());
        let (people, connections) = (args.people, args.latency_connections);
        tokio::spawn(async move {
            sender::send(
                &target,
                &timeline,
                0..total,
                people,
                connections,
                Some(schedule),
            )
            .await
        })
    };
    // CPU is sampled at the window's edges, so the warm-up is left out.
    tokio::time::sleep_until(window_start.into()).await;
    let before = Sample::take(args.server_pid);
    tokio::time::sleep_until(window_end.into()).await;
    let after = Sample::take(args.server_pid);
    let sent = senders.await??;

    timeline
        .wait_for(0..total, Instant::now() + Duration::from_secs(args.grace))
        .await;
    let deliveries = timeline.deliveries(measured.clone());
    // Measured from the send start, a stall that keeps every connection busy hides the events
    // still waiting to be sent; measured from the schedule, it counts them too.
    let mut from_schedule_us: Vec<u32> = measured
        .filter_map(|seq| {
            let due = schedule.start + schedule.interval * u32::try_from(seq).ok()?;
            let micros = timeline
                .arrival(seq)?
                .saturating_duration_since(due)
                .as_micros();
            Some(u32::try_from(micros).unwrap_or(u32::MAX))
        })
        .collect();
    from_schedule_us.sort_unstable();
    // The rate the events actually went out at: the scheduled rate unless the sender fell behind.
    let achieved = match (deliveries.first_sent, deliveries.last_sent) {
        (Some(first), Some(last)) if deliveries.accepted > 1 => {
            (deliveries.accepted - 1) as f64 / last.duration_since(first).as_secs_f64()
        }
        _ => 0.0,
    };
    Ok(json!({
        "phase": "latency",
        "rate": args.rate,
        "connections": args.latency_connections,
        "people": args.people,
        "warmup_secs": args.warmup,
        "measured_secs": args.duration,
        "events_measured": deliveries.accepted,
        "events_failed": sent.failed,
        "achieved_events_per_sec": round(achieved, 1),
        "schedule_lag_ms": percentiles_json(&sent.lags_us),
        "latency_ms": deliveries.latency_json(),
        "latency_from_schedule_ms": percentiles_json(&from_schedule_us),
        "webhooks_missing": deliveries.missing,
        "grace_secs": args.grace,
        "duplicates": timeline.duplicates.load(Ordering::Relaxed),
        "unknown_webhooks": timeline.unknown.load(Ordering::Relaxed),
        "without_delivery_id": timeline.without_delivery_id.load(Ordering::Relaxed),
        "cpu": before.until(&after),
        "first_failure": sent.first_failure,
    }))
}
