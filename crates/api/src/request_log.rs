//! One log line per request (`herald::request` at info, when `--log-requests` turned them on):
//! method, route (the path's template,
//! never the path itself, whose ids and query strings may carry personal data or tokens),
//! status, latency and, once a key or write key was accepted, the workspace. Credentials never
//! reach it: nothing of the headers or the body is logged. The same middleware counts requests
//! by route and status and times them, for `/metrics`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use herald_domain::WorkspaceId;

/// Where an extractor that authenticated a request notes its workspace for the request's log
/// line.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestWorkspace(Arc<OnceLock<WorkspaceId>>);

/// Notes the workspace a request was authenticated for, when the request is being logged.
pub(crate) fn note_workspace(parts: &Parts, workspace_id: WorkspaceId) {
    if let Some(slot) = parts.extensions.get::<RequestWorkspace>() {
        let _ = slot.0.set(workspace_id);
    }
}

/// Whether each request has its log line. Off by default: at 20,000 requests a second on two
/// cores the lines cost 15–20% of the throughput (docs/benchmarks.md), which an operator turns
/// on knowingly.
static REQUEST_LINES: AtomicBool = AtomicBool::new(false);

/// Turns the request lines on or off (`herald serve --log-requests`).
pub fn log_request_lines(on: bool) {
    REQUEST_LINES.store(on, Ordering::Relaxed);
}

/// The request metrics of one route and status, made once: a request then records through
/// them without building and hashing the metrics' keys again. The router's routes are a fixed
/// set, so this stays small.
#[derive(Clone)]
struct RouteMetrics {
    requests: metrics::Counter,
    duration: metrics::Histogram,
}

fn route_metrics(route: &str, status: u16) -> RouteMetrics {
    type Made = HashMap<String, HashMap<u16, RouteMetrics>>;
    static MADE: OnceLock<RwLock<Made>> = OnceLock::new();
    let made = MADE.get_or_init(Default::default);
    let found = made.read().ok().and_then(|made| {
        made.get(route)
            .and_then(|statuses| statuses.get(&status))
            .cloned()
    });
    if let Some(found) = found {
        return found;
    }
    let mut made = match made.write() {
        Ok(made) => made,
        Err(poisoned) => poisoned.into_inner(),
    };
    made.entry(route.to_owned())
        .or_default()
        .entry(status)
        .or_insert_with(|| RouteMetrics {
            requests: metrics::counter!("herald_http_requests_total",
                "route" => route.to_owned(), "status" => status.to_string()),
            duration: metrics::histogram!("herald_http_request_duration_seconds",
                "route" => route.to_owned()),
        })
        .clone()
}

/// The middleware: runs the request, then logs its line. The binary wraps the whole router
/// (API and UI) in it, outermost, so that the status logged is the one sent.
pub async fn log_request(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("(no route)", MatchedPath::as_str);
    let lines = REQUEST_LINES.load(Ordering::Relaxed);
    let workspace = lines.then(RequestWorkspace::default);
    if let Some(slot) = &workspace {
        request.extensions_mut().insert(slot.clone());
    }
    let response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64();
    let latency_ms = elapsed * 1000.0;
    let status = response.status();
    // Labelled by the route's template and the status: a bounded set, whatever the paths.
    let recorded = route_metrics(route, status.as_u16());
    recorded.requests.increment(1);
    recorded.duration.record(elapsed);
    let Some(workspace) = workspace else {
        return response;
    };
    tracing::info!(
        target: "herald::request",
        method = %method,
        route = %route,
        status = status.as_u16(),
        latency_ms,
        workspace = workspace.0.get().map(|id| id.get()),
        "request"
    );
    response
}
