//! The midnight case: every person's deadline due at the same second.
//!
//! Every person sends `midnight_ping` at the same second `t0`, so all of them are in the storm
//! segment ("performed midnight_ping within 1 day") and all of them leave it at `t0 + 1 day`.
//! The ordinary deadlines before that are applied first, so that the storm is exactly the
//! people due at that second. Ingest is measured twice with the same number of events: one
//! second before the storm, with nothing due, and interleaved between the storm's `advance`
//! batches, the way the server's runner interleaves inputs with deadline batches.

use std::time::{Duration, Instant};

use herald_segment_engine::Engine;

use super::definitions::{STORM_EVENT, Segment};
use super::incremental::new_event;
use super::people::event_record;
use super::stats::Latencies;
use crate::workload::Workload;

const DAY: i64 = 86_400;

pub struct Storm {
    /// The pings that set the storm up: one `add_event` per person, each entering the segment.
    pub pings: Latencies,
    /// Applying the ordinary deadlines of the day between the pings and the storm.
    pub day: Duration,
    pub day_changes: usize,
    /// People due at the storm's second when it starts.
    pub due_at_storm: usize,
    /// Events one second before the storm, nothing due.
    pub quiet: Latencies,
    /// One entry per `advance` batch of the storm.
    pub batches: Latencies,
    pub storm_changes: usize,
    /// Events interleaved between the storm's batches.
    pub during: Latencies,
    /// From the first batch to the last, interleaved events included.
    pub drain: Duration,
    /// Members of the storm segment left afterwards (0 when every deadline was applied).
    pub left: usize,
}

pub struct Plan {
    pub workload: Workload,
    /// The clock when the pings are sent.
    pub t0: i64,
    /// The first workload event number to use for ingest.
    pub first_index: u64,
    pub batch: usize,
    pub events_per_batch: usize,
}

pub fn run(engine: &mut Engine, segment: &Segment, plan: &Plan) -> Storm {
    let people = plan.workload.people;
    let t0 = plan.t0;
    let storm = t0 + DAY;
    // No history holds `midnight_ping`, so the segment is defined the way the server defines
    // segments at start, without history; every person's match list starts at the first ping.
    engine.set_segment(segment.id, Some(segment.parse()), Vec::new(), t0);
    let mut pings = Latencies::with_capacity(people as usize);
    for person in 0..people {
        let ping = event_record(STORM_EVENT, t0, 0);
        let call = Instant::now();
        let entered = engine.add_event(person as i64, &ping, t0).len();
        pings.record(call.elapsed());
        debug_assert!(entered >= 1);
    }

    let day_begin = Instant::now();
    let mut day_changes = 0;
    loop {
        let (changes, more) = engine.advance(storm - 1, usize::MAX);
        day_changes += changes.len();
        if !more {
            break;
        }
    }
    let day = day_begin.elapsed();
    let due_at_storm = engine.pending_deadlines();

    // The quiet run uses as many events as the storm run will, about one batch's worth each.
    let batches_expected = due_at_storm.div_ceil(plan.batch.max(1));
    let samples = batches_expected * plan.events_per_batch;
    let mut index = plan.first_index;
    let mut quiet = Latencies::with_capacity(samples);
    for _ in 0..samples {
        let (person, event) = new_event(plan.workload, index, storm - 1);
        index += 1;
        let call = Instant::now();
        let _ = engine.add_event(person, &event, storm - 1).len();
        quiet.record(call.elapsed());
    }

    let mut batches = Latencies::with_capacity(batches_expected + 1);
    let mut during = Latencies::with_capacity(samples + plan.events_per_batch);
    let mut storm_changes = 0;
    let drain_begin = Instant::now();
    loop {
        let call = Instant::now();
        let (changes, more) = engine.advance(storm, plan.batch);
        let count = changes.len();
        drop(changes);
        batches.record(call.elapsed());
        storm_changes += count;
        if !more {
            break;
        }
        for _ in 0..plan.events_per_batch {
            let (person, event) = new_event(plan.workload, index, storm);
            index += 1;
            let call = Instant::now();
            let _ = engine.add_event(person, &event, storm).len();
            during.record(call.elapsed());
        }
    }
    let drain = drain_begin.elapsed();
    Storm {
        pings,
        day,
        day_changes,
        due_at_storm,
        quiet,
        batches,
        storm_changes,
        during,
        drain,
        left: engine.count(segment.id),
    }
}
