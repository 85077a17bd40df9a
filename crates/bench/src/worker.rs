//! One connection: sends prepared requests back to back until the window closes and records
//! the latency of each answer that arrives inside the measured window.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue, RETRY_AFTER};
use hyper::{Request, StatusCode};
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
    /// Microseconds per 2xx answer inside the window.
    pub ok_latencies_us: Vec<u32>,
    /// Answers inside the window by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests inside the window that got no answer because the connection broke (a server
    /// shedding load closes the connection of a request it refused without reading its body,
    /// and a client still sending that body may see the reset first).
    pub resets: u64,
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

/// A keep-alive HTTP/1.1 connection to the target.
pub(crate) async fn connect(target: &Target) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(target.address)
        .await
        .with_context(|| format!("cannot connect to {}", target.address))?;
    // Requests are written whole, so waiting for more bytes (Nagle) would only add latency.
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("the HTTP/1.1 handshake failed")?;
    tokio::spawn(connection);
    Ok(sender)
}

/// Drives one keep-alive connection, opening a new one whenever the server closed it (as it
/// does after refusing a request under load). Worker `index` of `stride` workers takes every
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
    // The first connection must succeed: a server that is not there is an error, not a load.
    let mut connection = Some(connect(&target).await?);
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
            .method(payloads.method.clone())
            .uri(prepared.path.clone())
            .header(HOST, target.host.clone())
            .header(AUTHORIZATION, target.authorization.clone())
            .header(CONTENT_TYPE, content_type.clone())
            .body(Full::<Bytes>::new(prepared.body.clone()))?;
        let sent = due.unwrap_or_else(Instant::now);
        let answer = exchange(&target, &mut connection, request).await;
        let answered = Instant::now();
        last_answer = answered;
        let in_window = answered >= window.start && answered <= window.end;
        let Some((status, retry_after, body)) = answer else {
            if in_window {
                result.resets += 1;
            }
            continue;
        };
        // A closed loop waits as long as a refusal asks before its next request, as the
        // official clients do; an open loop keeps its schedule, which is the load offered.
        if let (Pace::BackToBack, Some(seconds)) = (pace, retry_after)
            && matches!(status.as_u16(), 429 | 503)
        {
            let wait = Duration::from_secs(seconds.min(5));
            tokio::time::sleep(wait.min(window.end.saturating_duration_since(Instant::now())))
                .await;
        }
        if status.is_success() {
            result.ok_total += 1;
        }
        if !in_window {
            continue;
        }
        let micros = u32::try_from(answered.duration_since(sent).as_micros()).unwrap_or(u32::MAX);
        result.latencies_us.push(micros);
        *result.statuses.entry(status.as_u16()).or_default() += 1;
        if slow_us.is_some_and(|slow| micros > slow) {
            let wall = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |since| since.as_secs_f64());
            result.slow.push((wall, micros));
        }
        if status.is_success() {
            result.ok += 1;
            result.ok_latencies_us.push(micros);
        } else {
            result.failed += 1;
            if result.first_failure.is_none() {
                let text = String::from_utf8_lossy(&body).into_owned();
                result.first_failure = Some(format!("{status}: {text}"));
            }
        }
    }
    Ok(result)
}

/// Sends one request on the connection, opening one first if there is none; `None` when the
/// connection broke before the answer was read whole (and is then dropped).
async fn exchange(
    target: &Target,
    connection: &mut Option<SendRequest<Full<Bytes>>>,
    request: Request<Full<Bytes>>,
) -> Option<(StatusCode, Option<u64>, Bytes)> {
    if connection.is_none() {
        *connection = connect(target).await.ok();
    }
    let sender = connection.as_mut()?;
    let answer = async {
        sender.ready().await.ok()?;
        let response = sender.send_request(request).await.ok()?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok());
        // The body is read to its end so that the connection can carry the next request.
        let body = response.into_body().collect().await.ok()?.to_bytes();
        Some((status, retry_after, body))
    }
    .await;
    if answer.is_none() {
        *connection = None;
    }
    answer
}
