//! One connection: sends prepared requests back to back until the window closes and records
//! the latency of each answer that arrives inside the measured window.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::payload::Payloads;
use crate::target::Target;

/// The measured window: answers before `start` are warm-up, requests are not sent after `end`.
#[derive(Clone, Copy)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
}

/// When a connection sends: back to back (closed loop), or every `interval` from `first`
/// (open loop), whatever the answers take.
#[derive(Clone, Copy)]
pub enum Pace {
    BackToBack,
    Every { first: Instant, interval: Duration },
}

/// What one connection saw.
#[derive(Default)]
pub struct WorkerResult {
    /// Microseconds per answered request inside the window, successful or not.
    pub latencies_us: Vec<u32>,
    /// 2xx answers inside the window.
    pub ok: u64,
    /// Other answers inside the window.
    pub failed: u64,
    /// 2xx answers over the whole run, warm-up included, to compare with what the server stored.
    pub ok_total: u64,
    /// The first non-2xx answer, to say why requests failed.
    pub first_failure: Option<String>,
    /// Requests slower than the `--slow-ms` threshold: when the answer came (Unix seconds) and
    /// the latency in microseconds.
    pub slow: Vec<(f64, u32)>,
}

/// Opens one keep-alive connection and drives it. Worker `index` of `stride` workers takes every
/// `stride`-th prepared request, so concurrent workers send different people.
pub async fn run(
    target: Target,
    payloads: Arc<Payloads>,
    index: usize,
    stride: usize,
    window: Window,
    pace: Pace,
    slow_us: Option<u32>,
) -> anyhow::Result<WorkerResult> {
    let stream = TcpStream::connect(target.address)
        .await
        .with_context(|| format!("cannot connect to {}", target.address))?;
    // Requests are written whole, so waiting for more bytes (Nagle) would only add latency.
    stream.set_nodelay(true)?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("the HTTP/1.1 handshake failed")?;
    tokio::spawn(connection);

    let content_type = HeaderValue::from_static("application/json");
    let mut result = WorkerResult {
        latencies_us: Vec::with_capacity(1 << 16),
        ..WorkerResult::default()
    };
    let mut next = index;
    let mut sends: u32 = 0;
    let mut last_answer = Instant::now();
    while Instant::now() < window.end {
        // On a schedule, a request whose connection was still waiting for the server's previous
        // answer when it fell due counts from when it was due: that delay is the server's (a
        // closed loop would hide it). A request sent late only because the timer woke late (tokio
        // timers have millisecond resolution) counts from its send, so the generator's own
        // lateness is left out.
        let due = match pace {
            Pace::BackToBack => None,
            Pace::Every { first, interval } => {
                let due = first + interval * sends;
                sends += 1;
                if due >= window.end {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                (last_answer > due).then_some(due)
            }
        };
        let prepared = &payloads.requests[next % payloads.requests.len()];
        next += stride;
        let request = Request::builder()
            .method(Method::POST)
            .uri(prepared.path.clone())
            .header(HOST, target.host.clone())
            .header(AUTHORIZATION, target.authorization.clone())
            .header(CONTENT_TYPE, content_type.clone())
            .body(Full::<Bytes>::new(prepared.body.clone()))?;
        sender.ready().await.context("the connection closed")?;
        let sent = due.unwrap_or_else(Instant::now);
        let response = sender
            .send_request(request)
            .await
            .context("the request failed")?;
        let status = response.status();
        // The body is read to its end so that the connection can carry the next request.
        let body = response
            .into_body()
            .collect()
            .await
            .context("the answer was cut off")?;
        let answered = Instant::now();
        last_answer = answered;
        if status.is_success() {
            result.ok_total += 1;
        }
        if answered < window.start || answered > window.end {
            continue;
        }
        let micros = u32::try_from(answered.duration_since(sent).as_micros()).unwrap_or(u32::MAX);
        result.latencies_us.push(micros);
        if slow_us.is_some_and(|slow| micros > slow) {
            let wall = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |since| since.as_secs_f64());
            result.slow.push((wall, micros));
        }
        if status.is_success() {
            result.ok += 1;
        } else {
            result.failed += 1;
            if result.first_failure.is_none() {
                let text = String::from_utf8_lossy(&body.to_bytes()).into_owned();
                result.first_failure = Some(format!("{status}: {text}"));
            }
        }
    }
    Ok(result)
}
