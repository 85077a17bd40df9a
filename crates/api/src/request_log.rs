//! One log line per request (`herald::request` at info): method, route (the path's template,
//! never the path itself, whose ids and query strings may carry personal data or tokens),
//! status, latency and, once a key or write key was accepted, the workspace. Credentials never
//! reach it: nothing of the headers or the body is logged. The same middleware counts requests
//! by route and status and times them, for `/metrics`.

use std::sync::{Arc, OnceLock};
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

/// The middleware: runs the request, then logs its line. The binary wraps the whole router
/// (API and UI) in it, outermost, so that the status logged is the one sent.
pub async fn log_request(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(no route)".to_owned(), |path| path.as_str().to_owned());
    let workspace = RequestWorkspace::default();
    request.extensions_mut().insert(workspace.clone());
    let response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64();
    let latency_ms = elapsed * 1000.0;
    let status = response.status().as_u16();
    // Labelled by the route's template and the status: a bounded set, whatever the paths.
    metrics::counter!("herald_http_requests_total", "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!("herald_http_request_duration_seconds", "route" => route.clone())
        .record(elapsed);
    tracing::info!(
        target: "herald::request",
        method = %method,
        route = %route,
        status,
        latency_ms,
        workspace = workspace.0.get().map(|id| id.get()),
        "request"
    );
    response
}
