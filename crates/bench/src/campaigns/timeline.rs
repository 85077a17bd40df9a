//! When each event was sent and when its webhook arrived, by the event's sequence number.
//!
//! Instants are kept as nanoseconds after a common base in atomics, so the senders and the
//! receiver record them without a lock and nothing is allocated while measuring.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::report::{percentile_ms, round};

/// Zero in a slot means "nothing recorded", so stored values are nanoseconds plus one.
const EMPTY: u64 = 0;

pub struct Timeline {
    base: Instant,
    /// The send start of each event the server accepted.
    sent: Vec<AtomicU64>,
    /// The arrival of each event's webhook.
    arrived: Vec<AtomicU64>,
    /// Webhooks for an event that already had one: the server sent a message twice.
    pub duplicates: AtomicU64,
    /// Webhooks whose body is not the sequence number of an event of this run.
    pub unknown: AtomicU64,
    /// Webhooks without the `X-Herald-Delivery-Id` header.
    pub without_delivery_id: AtomicU64,
}

/// What happened to the events of one range of sequence numbers.
pub struct Deliveries {
    /// Webhook arrival minus event send start, in microseconds, sorted.
    pub latencies_us: Vec<u32>,
    pub accepted: u64,
    pub arrived: u64,
    /// Accepted events whose webhook has not arrived.
    pub missing: u64,
    pub first_sent: Option<Instant>,
    pub last_sent: Option<Instant>,
    pub first_arrival: Option<Instant>,
    pub last_arrival: Option<Instant>,
}

impl Timeline {
    pub fn new(capacity: u64) -> Self {
        let slots = || (0..capacity).map(|_| AtomicU64::new(EMPTY)).collect();
        Self {
            base: Instant::now(),
            sent: slots(),
            arrived: slots(),
            duplicates: AtomicU64::new(0),
            unknown: AtomicU64::new(0),
            without_delivery_id: AtomicU64::new(0),
        }
    }

    fn encode(&self, at: Instant) -> u64 {
        u64::try_from(at.duration_since(self.base).as_nanos()).unwrap_or(u64::MAX - 1) + 1
    }

    fn decode(&self, value: u64) -> Option<Instant> {
        (value != EMPTY).then(|| self.base + Duration::from_nanos(value - 1))
    }

    /// Records that event `seq` was sent at `at` and accepted.
    pub fn mark_sent(&self, seq: u64, at: Instant) {
        self.sent[seq as usize].store(self.encode(at), Ordering::Relaxed);
    }

    /// Records the arrival of the webhook whose body was `seq`.
    pub fn mark_arrived(&self, seq: u64, at: Instant) {
        let Some(slot) = self.arrived.get(seq as usize) else {
            self.unknown.fetch_add(1, Ordering::Relaxed);
            return;
        };
        // The first arrival counts; a second one is a duplicate message, not a later delivery.
        if slot
            .compare_exchange(EMPTY, self.encode(at), Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// When the webhook of event `seq` arrived, if it did.
    pub fn arrival(&self, seq: u64) -> Option<Instant> {
        self.decode(self.arrived.get(seq as usize)?.load(Ordering::Relaxed))
    }

    /// Accepted events in `range` whose webhook has not arrived yet.
    pub fn pending(&self, range: Range<u64>) -> u64 {
        range
            .filter(|&seq| {
                self.sent[seq as usize].load(Ordering::Relaxed) != EMPTY
                    && self.arrived[seq as usize].load(Ordering::Relaxed) == EMPTY
            })
            .count() as u64
    }

    /// Webhooks of events in `range` that arrived by `at`.
    pub fn arrived_by(&self, range: Range<u64>, at: Instant) -> u64 {
        let limit = self.encode(at);
        range
            .filter(|&seq| {
                let arrived = self.arrived[seq as usize].load(Ordering::Relaxed);
                arrived != EMPTY && arrived <= limit
            })
            .count() as u64
    }

    /// Waits until every accepted event in `range` has its webhook, or until `deadline`.
    pub async fn wait_for(&self, range: Range<u64>, deadline: Instant) {
        while self.pending(range.clone()) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn deliveries(&self, range: Range<u64>) -> Deliveries {
        let mut result = Deliveries {
            latencies_us: Vec::with_capacity((range.end - range.start) as usize),
            accepted: 0,
            arrived: 0,
            missing: 0,
            first_sent: None,
            last_sent: None,
            first_arrival: None,
            last_arrival: None,
        };
        for seq in range {
            let sent = self.decode(self.sent[seq as usize].load(Ordering::Relaxed));
            let arrived = self.decode(self.arrived[seq as usize].load(Ordering::Relaxed));
            if let Some(at) = arrived {
                result.arrived += 1;
                result.first_arrival = Some(result.first_arrival.map_or(at, |first| first.min(at)));
                result.last_arrival = Some(result.last_arrival.map_or(at, |last| last.max(at)));
            }
            let Some(sent) = sent else {
                continue;
            };
            result.accepted += 1;
            result.first_sent = Some(result.first_sent.map_or(sent, |first| first.min(sent)));
            result.last_sent = Some(result.last_sent.map_or(sent, |last| last.max(sent)));
            match arrived {
                // A webhook may beat the event's own answer, but never its send start.
                Some(arrived) => {
                    let micros = arrived.saturating_duration_since(sent).as_micros();
                    result
                        .latencies_us
                        .push(u32::try_from(micros).unwrap_or(u32::MAX));
                }
                None => result.missing += 1,
            }
        }
        result.latencies_us.sort_unstable();
        result
    }
}

impl Deliveries {
    /// p50/p90/p99/max of the latencies in milliseconds.
    pub fn latency_json(&self) -> Value {
        percentiles_json(&self.latencies_us)
    }
}

/// p50/p90/p99/max of sorted microseconds, in milliseconds.
pub fn percentiles_json(sorted_us: &[u32]) -> Value {
    json!({
        "p50": percentile_ms(sorted_us, 0.50),
        "p90": percentile_ms(sorted_us, 0.90),
        "p99": percentile_ms(sorted_us, 0.99),
        "max": sorted_us.last().map(|&max| round(f64::from(max) / 1000.0, 3)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_missing_and_duplicates_are_counted() {
        let timeline = Timeline::new(4);
        let start = Instant::now();
        timeline.mark_sent(0, start);
        timeline.mark_sent(1, start);
        timeline.mark_arrived(0, start + Duration::from_millis(5));
        timeline.mark_arrived(0, start + Duration::from_millis(9));
        timeline.mark_arrived(7, start);
        let deliveries = timeline.deliveries(0..4);
        assert_eq!(deliveries.accepted, 2);
        assert_eq!(deliveries.arrived, 1);
        assert_eq!(deliveries.missing, 1);
        assert_eq!(deliveries.latencies_us, vec![5_000]);
        assert_eq!(timeline.pending(0..4), 1);
        assert_eq!(timeline.duplicates.load(Ordering::Relaxed), 1);
        assert_eq!(timeline.unknown.load(Ordering::Relaxed), 1);
    }
}
