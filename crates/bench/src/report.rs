//! Turns the workers' results into the one summary line the run prints.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::worker::WorkerResult;

/// Everything the summary needs besides the workers' results.
pub struct RunInfo {
    pub scenario: &'static str,
    pub connections: usize,
    /// The open loop's requests per second, if it had one.
    pub rate: Option<f64>,
    pub events_per_request: u64,
    pub measured_secs: f64,
    pub generator_cores: Option<f64>,
    pub server_cores: Option<f64>,
    pub machine_cores: Option<f64>,
    /// The server's resident memory at the window's end, and its peak so far, in MB.
    pub server_rss_mb: Option<u64>,
    pub server_peak_rss_mb: Option<u64>,
}

/// The JSON summary: throughput, latency percentiles in milliseconds, failures and CPU split.
pub fn summary(info: &RunInfo, results: Vec<WorkerResult>) -> Value {
    let mut latencies = Vec::new();
    let mut ok_latencies = Vec::new();
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let (mut ok, mut failed, mut ok_total, mut resets) = (0_u64, 0_u64, 0_u64, 0_u64);
    let mut first_failure = None;
    for result in results {
        latencies.extend(result.latencies_us);
        ok_latencies.extend(result.ok_latencies_us);
        for (status, count) in result.statuses {
            *statuses.entry(status).or_default() += count;
        }
        ok += result.ok;
        failed += result.failed;
        ok_total += result.ok_total;
        resets += result.resets;
        first_failure = first_failure.or(result.first_failure);
    }
    latencies.sort_unstable();
    ok_latencies.sort_unstable();
    let attempted = ok + failed + resets;
    #[allow(clippy::cast_precision_loss)]
    let refused_share = if attempted == 0 {
        0.0
    } else {
        (failed + resets) as f64 / attempted as f64
    };
    let requests_per_sec = ok as f64 / info.measured_secs;
    json!({
        "scenario": info.scenario,
        "connections": info.connections,
        "target_requests_per_sec": info.rate,
        "events_per_request": info.events_per_request,
        "measured_secs": round(info.measured_secs, 3),
        "requests": ok,
        "failed": failed,
        "requests_per_sec": round(requests_per_sec, 1),
        "events_per_sec": round(requests_per_sec * info.events_per_request as f64, 1),
        "latency_ms": {
            "p50": percentile_ms(&latencies, 0.50),
            "p90": percentile_ms(&latencies, 0.90),
            "p99": percentile_ms(&latencies, 0.99),
            "max": latencies.last().map(|&max| round(f64::from(max) / 1000.0, 3)),
        },
        // Under overload: what each status counted, connections broken before an answer, the
        // share of requests not accepted, and the latency of the accepted ones alone.
        "statuses": statuses.iter().map(|(status, count)| (status.to_string(), json!(count))).collect::<serde_json::Map<_, _>>(),
        "resets": resets,
        "refused_share": round(refused_share, 4),
        "ok_latency_ms": {
            "p50": percentile_ms(&ok_latencies, 0.50),
            "p99": percentile_ms(&ok_latencies, 0.99),
            "max": ok_latencies.last().map(|&max| round(f64::from(max) / 1000.0, 3)),
        },
        "server_rss_mb": info.server_rss_mb,
        "server_peak_rss_mb": info.server_peak_rss_mb,
        "events_sent_total": ok_total * info.events_per_request,
        "generator_cpu_cores": info.generator_cores.map(|cores| round(cores, 2)),
        "server_cpu_cores": info.server_cores.map(|cores| round(cores, 2)),
        "machine_cpu_cores": info.machine_cores.map(|cores| round(cores, 2)),
        "first_failure": first_failure,
    })
}

/// The nearest-rank percentile of sorted microseconds, in milliseconds.
pub(crate) fn percentile_ms(sorted_us: &[u32], quantile: f64) -> Option<f64> {
    if sorted_us.is_empty() {
        return None;
    }
    let rank = (quantile * sorted_us.len() as f64).ceil() as usize;
    let micros = sorted_us[rank.clamp(1, sorted_us.len()) - 1];
    Some(round(f64::from(micros) / 1000.0, 3))
}

pub(crate) fn round(value: f64, digits: i32) -> f64 {
    let scale = 10_f64.powi(digits);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let sorted: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile_ms(&sorted, 0.50), Some(50.0));
        assert_eq!(percentile_ms(&sorted, 0.99), Some(99.0));
        assert_eq!(percentile_ms(&[], 0.99), None);
    }
}
