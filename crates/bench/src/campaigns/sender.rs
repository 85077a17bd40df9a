//! Sends the benchmark's events: `purchased` with a unique `seq`, over a pool of keep-alive
//! connections, either on a fixed schedule or as fast as the server answers.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use hyper::body::Bytes;
use hyper::{Method, Uri};

use super::client::Connection;
use super::timeline::Timeline;
use crate::target::Target;

/// When each event is due: the `n`-th of the range at `start + n * interval`.
#[derive(Clone, Copy)]
pub struct Schedule {
    pub start: Instant,
    pub interval: Duration,
}

/// What the senders saw.
#[derive(Default)]
pub struct Sent {
    /// Events the server refused (a non-2xx answer).
    pub failed: u64,
    pub first_failure: Option<String>,
    /// How late each send started against its schedule, in microseconds (scheduled runs only).
    pub lags_us: Vec<u32>,
    /// When the last answer came back.
    pub last_answer: Option<Instant>,
}

/// Sends one event per sequence number in `range` to people `p0` … `p{people-1}` in turn.
/// Each connection takes the next number when it is free, so a slow answer on one connection
/// does not hold up the others.
pub async fn send(
    target: &Target,
    timeline: &Arc<Timeline>,
    range: Range<u64>,
    people: u64,
    connections: usize,
    schedule: Option<Schedule>,
) -> anyhow::Result<Sent> {
    let paths: Arc<Vec<Uri>> = Arc::new(
        (0..people.max(1))
            .map(|person| format!("/api/v1/customers/p{person}/events").parse())
            .collect::<Result<_, _>>()?,
    );
    let next = Arc::new(AtomicU64::new(range.start));
    let mut workers = Vec::with_capacity(connections);
    for _ in 0..connections.max(1) {
        let mut connection = Connection::open(target).await?;
        let (target, timeline, paths, next) = (
            target.clone(),
            timeline.clone(),
            paths.clone(),
            next.clone(),
        );
        let (first, end) = (range.start, range.end);
        workers.push(tokio::spawn(async move {
            let mut sent = Sent::default();
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= end {
                    return Ok::<_, anyhow::Error>(sent);
                }
                if let Some(schedule) = schedule {
                    let due = schedule.start + schedule.interval * u32::try_from(seq - first)?;
                    tokio::time::sleep_until(due.into()).await;
                    let lag = Instant::now().saturating_duration_since(due).as_micros();
                    sent.lags_us.push(u32::try_from(lag).unwrap_or(u32::MAX));
                }
                let path = paths[(seq % paths.len() as u64) as usize].clone();
                let body = Bytes::from(format!(r#"{{"name":"purchased","data":{{"seq":{seq}}}}}"#));
                let started = Instant::now();
                let (status, answer) = connection
                    .send(Method::POST, path, &target.authorization, body)
                    .await
                    .with_context(|| format!("event {seq} was not answered"))?;
                sent.last_answer = Some(Instant::now());
                if status.is_success() {
                    timeline.mark_sent(seq, started);
                } else {
                    sent.failed += 1;
                    sent.first_failure.get_or_insert_with(|| {
                        format!("{status}: {}", String::from_utf8_lossy(&answer))
                    });
                }
            }
        }));
    }
    let mut total = Sent::default();
    for worker in workers {
        let sent = worker.await.context("a sender panicked")??;
        total.failed += sent.failed;
        total.first_failure = total.first_failure.or(sent.first_failure);
        total.lags_us.extend(sent.lags_us);
        total.last_answer = total.last_answer.max(sent.last_answer);
    }
    total.lags_us.sort_unstable();
    Ok(total)
}
