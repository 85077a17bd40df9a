//! Incremental cost: new events from the workload's distribution fed one at a time through
//! `Engine::add_event` with S1–S3 live, while the clock moves on and due deadlines are applied
//! between seconds, as the server's runner does.

use std::time::{Duration, Instant};

use herald_segment_engine::Engine;

use super::people::event_record;
use super::stats::Latencies;
use crate::workload::Workload;

/// How many deadlines one `advance` call applies, as the server's runner does.
pub const DEADLINE_BATCH: usize = 2_000;

pub struct Incremental {
    pub latencies: Latencies,
    /// Wall time of the whole phase, event generation included.
    pub wall: Duration,
    /// Time spent in `advance` between seconds, and the changes it made.
    pub advance: Duration,
    pub deadline_changes: usize,
    pub event_changes: usize,
    /// The clock at the end.
    pub end: i64,
}

/// An event of the workload's distribution beyond its last one (`first_index` onwards), stamped
/// `timestamp` instead of its own past time.
pub fn new_event(
    workload: Workload,
    index: u64,
    timestamp: i64,
) -> (i64, herald_segment_engine::EventRecord) {
    let event = workload.event(index);
    (
        event.person as i64,
        event_record(event.name, timestamp, event.price_cents as u16),
    )
}

/// Feeds `count` events numbered from `first_index`, `per_second` of them per second of clock
/// starting at `start`, each stamped with the clock.
pub fn run(
    engine: &mut Engine,
    workload: Workload,
    first_index: u64,
    count: u64,
    start: i64,
    per_second: u64,
) -> Incremental {
    let mut latencies = Latencies::with_capacity(count as usize);
    let mut advance = Duration::ZERO;
    let (mut deadline_changes, mut event_changes) = (0, 0);
    let mut clock = start - 1;
    let begin = Instant::now();
    for offset in 0..count {
        let now = start + (offset / per_second.max(1)) as i64;
        if now != clock {
            clock = now;
            let advance_begin = Instant::now();
            loop {
                let (changes, more) = engine.advance(now, DEADLINE_BATCH);
                deadline_changes += changes.len();
                if !more {
                    break;
                }
            }
            advance += advance_begin.elapsed();
        }
        let (person, event) = new_event(workload, first_index + offset, now);
        let call = Instant::now();
        // The changes are dropped inside the timed span: a caller always pays for them.
        event_changes += engine.add_event(person, &event, now).len();
        latencies.record(call.elapsed());
    }
    Incremental {
        latencies,
        wall: begin.elapsed(),
        advance,
        deadline_changes,
        event_changes,
        end: clock,
    }
}
