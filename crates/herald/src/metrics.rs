//! `GET /metrics` in Prometheus's text format. The libraries record through the `metrics`
//! facade (requests by route and status with their latency in `herald_api`, committed
//! operations and events in `herald_ingest`, delivery outcomes by channel in
//! `herald_dispatch`); this installs the one recorder, and at each scrape sets the gauges that
//! are read rather than counted: the process's resident memory and whether the segment engine
//! has loaded. Served beside the APIs, or alone on `--metrics-listen`.

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use herald_segments::Segments;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds, from half a millisecond to ten seconds.
const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the process's recorder; histograms are rendered with [`SECONDS`] as buckets.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    Ok(PrometheusBuilder::new()
        .set_buckets(SECONDS)?
        .install_recorder()?)
}

/// The process's resident memory in bytes, from `/proc/self/statm` (Linux; `None` elsewhere).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * rustix::param::page_size() as u64)
}

/// Drains the histograms' recorded samples into their buckets every few seconds, so that they
/// hold counts rather than every sample between two scrapes (or forever, with nobody
/// scraping).
pub async fn upkeep(handle: PrometheusHandle) {
    let mut interval = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        interval.tick().await;
        handle.run_upkeep();
    }
}

/// The `/metrics` route.
pub fn router(handle: PrometheusHandle, segments: Segments) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            let segments = segments.clone();
            async move {
                if let Some(bytes) = resident_bytes() {
                    metrics::gauge!("herald_process_resident_memory_bytes").set(bytes as f64);
                }
                let loaded = if segments.is_loaded() { 1.0 } else { 0.0 };
                metrics::gauge!("herald_segment_engine_loaded").set(loaded);
                handle.run_upkeep();
                (
                    [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                    handle.render(),
                )
                    .into_response()
            }
        }),
    )
}
