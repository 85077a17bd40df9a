//! The live engine: S1–S3 defined, then every person loaded from their full history the way the
//! server loads at start (`set_segment` without history, then `load_person` per person). The
//! other phases run on it.

use std::time::{Duration, Instant};

use herald_segment_engine::{Engine, PersonHistory};

use super::definitions::Segment;
use super::memory::Memory;
use super::people::People;
use crate::workload::REF_NOW;

pub struct Live {
    pub engine: Engine,
    pub load: Duration,
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
        before,
        after,
    })
}

/// Calls `set_segment` again with the same id and definition on the live engine, `runs` times.
/// The engine already holds every person and the matches of every predicate, so the histories it
/// is given are never read: they are passed empty, which leaves only the engine's evaluation
/// of every person.
pub fn reevaluate(
    engine: &mut Engine,
    people: u64,
    segment: &Segment,
    runs: usize,
    expected: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(runs);
    for run in 0..runs {
        let definition = segment.parse();
        let empty = (0..people).map(|person| (person as i64, PersonHistory::default()));
        let begin = Instant::now();
        let changes = engine.set_segment(segment.id, Some(definition), empty, REF_NOW);
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
