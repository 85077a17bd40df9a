//! The live engine: S1–S3 defined, then every person loaded from their full history the way the
//! server loads at start (`set_segment` without history, then `load_person` per person), then
//! the index settled. The other phases run on it.

use std::time::{Duration, Instant};

use herald_segment_engine::Engine;

use super::definitions::Segment;
use super::memory::Memory;
use super::people::People;
use crate::workload::REF_NOW;

pub struct Live {
    pub engine: Engine,
    pub load: Duration,
    /// Putting the events that `load_person` indexed person by person into time order.
    pub settle: Duration,
    pub before: Memory,
    pub after: Memory,
}

/// Loads every person into a new engine holding `segments`, and checks the member counts.
pub fn load(people: &People, segments: &[Segment], expected: &[usize]) -> anyhow::Result<Live> {
    let mut engine = Engine::new();
    for segment in segments {
        engine.set_segment(segment.id, Some(segment.parse()), Vec::new(), REF_NOW);
    }
    let before = Memory::now();
    let begin = Instant::now();
    for person in 0..people.len() {
        let history = people.history(person);
        engine.load_person(person as i64, &history, REF_NOW);
    }
    let load = begin.elapsed();
    let begin = Instant::now();
    engine.settle_index();
    let settle = begin.elapsed();
    let after = Memory::now();
    for (segment, expected) in segments.iter().zip(expected) {
        let count = engine.count(segment.id);
        anyhow::ensure!(
            count == *expected,
            "{} after load_person: the engine counts {count} members, the workload has {expected}",
            segment.name
        );
    }
    Ok(Live {
        engine,
        load,
        settle,
        before,
        after,
    })
}

/// Calls `set_segment` again with the same id and definition on the live engine, `runs` times,
/// without history: the engine evaluates it from its index, and nobody's membership changes.
pub fn reevaluate(
    engine: &mut Engine,
    segment: &Segment,
    runs: usize,
    expected: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(runs);
    for run in 0..runs {
        let definition = segment.parse();
        let begin = Instant::now();
        let changes = engine.set_segment(segment.id, Some(definition), Vec::new(), REF_NOW);
        times.push(begin.elapsed());
        let count = engine.count(segment.id);
        anyhow::ensure!(
            count == expected && changes.is_empty(),
            "{} re-evaluation {run}: {count} members and {} changes, expected {expected} and none",
            segment.name,
            changes.len()
        );
    }
    Ok(times)
}
