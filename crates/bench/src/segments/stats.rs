//! Medians of repeated runs and percentiles of per-call latencies.

use std::time::Duration;

/// The median of repeated timings (the lower middle one for an even count).
pub fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    sorted
        .get(sorted.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or_default()
}

/// Milliseconds with three decimals, for reports.
pub fn ms(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e6).round() / 1e3
}

/// Per-call latencies in nanoseconds, kept as `u32` (4 seconds at most) so that a million calls
/// take 4 MB.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    nanos: Vec<u32>,
    sorted: bool,
}

impl Latencies {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            nanos: Vec::with_capacity(capacity),
            sorted: true,
        }
    }

    pub fn record(&mut self, duration: Duration) {
        self.nanos
            .push(u32::try_from(duration.as_nanos()).unwrap_or(u32::MAX));
        self.sorted = false;
    }

    /// Takes in another set of calls.
    pub fn absorb(&mut self, other: &Latencies) {
        self.nanos.extend_from_slice(&other.nanos);
        self.sorted = false;
    }

    pub fn len(&self) -> usize {
        self.nanos.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nanos.is_empty()
    }

    pub fn total(&self) -> Duration {
        Duration::from_nanos(self.nanos.iter().map(|n| u64::from(*n)).sum())
    }

    fn sort(&mut self) {
        if !self.sorted {
            self.nanos.sort_unstable();
            self.sorted = true;
        }
    }

    /// The nearest-rank percentile, as in the ingest benchmark's report.
    pub fn percentile(&mut self, quantile: f64) -> Duration {
        self.sort();
        if self.nanos.is_empty() {
            return Duration::ZERO;
        }
        let rank = (quantile * self.nanos.len() as f64).ceil() as usize;
        Duration::from_nanos(u64::from(self.nanos[rank.clamp(1, self.nanos.len()) - 1]))
    }

    pub fn max(&mut self) -> Duration {
        self.percentile(1.0)
    }

    /// Treats the recorded calls as running back to back, and answers how long something that
    /// arrives at a uniformly random instant among them waits for the call in progress: the
    /// wait that is exceeded with probability `1 − quantile`. A call of length `b` makes an
    /// arrival wait more than `w` for `b − w` of its time, so the answer is the `w` at which
    /// those excesses add up to `1 − quantile` of the total, found by bisection.
    pub fn residual(&self, quantile: f64) -> Duration {
        let total: f64 = self.nanos.iter().map(|n| f64::from(*n)).sum();
        let target = (1.0 - quantile) * total;
        let excess = |wait: f64| -> f64 {
            self.nanos
                .iter()
                .map(|n| (f64::from(*n) - wait).max(0.0))
                .sum()
        };
        let (mut low, mut high) = (0.0, self.nanos.iter().copied().max().map_or(0.0, f64::from));
        for _ in 0..64 {
            let middle = (low + high) / 2.0;
            if excess(middle) > target {
                low = middle;
            } else {
                high = middle;
            }
        }
        Duration::from_nanos(high as u64)
    }

    /// `p50 / p99 / max` in microseconds, the shape every latency line of the report uses.
    pub fn summary_us(&mut self) -> String {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        format!(
            "p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs",
            us(self.percentile(0.50)),
            us(self.percentile(0.99)),
            us(self.percentile(0.999)),
            us(self.max())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_nearest_rank() {
        let times: Vec<Duration> = [5, 1, 4, 2, 3].map(Duration::from_millis).to_vec();
        assert_eq!(median(&times), Duration::from_millis(3));
        let mut latencies = Latencies::default();
        for micros in (1..=100).rev() {
            latencies.record(Duration::from_micros(micros));
        }
        assert_eq!(latencies.percentile(0.50), Duration::from_micros(50));
        assert_eq!(latencies.percentile(0.99), Duration::from_micros(99));
        assert_eq!(latencies.max(), Duration::from_micros(100));
    }

    #[test]
    fn residual_waits_follow_the_calls_in_progress() {
        let mut calls = Latencies::default();
        for _ in 0..10 {
            calls.record(Duration::from_millis(4));
        }
        // Every call lasts 4 ms, so the wait is uniform on [0, 4 ms].
        let median = calls.residual(0.5).as_secs_f64();
        let p99 = calls.residual(0.99).as_secs_f64();
        assert!((median - 0.002).abs() < 1e-6, "{median}");
        assert!((p99 - 0.00396).abs() < 1e-6, "{p99}");
    }
}
