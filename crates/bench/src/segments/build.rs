//! Full evaluation: `Engine::set_segment` of one segment over every person's full history, each
//! time on a fresh engine.
//!
//! A fresh engine is the full cost of a build: it creates every person's state and scans every
//! history for the segment's predicates. Creating a segment in a running server is measured too:
//! there the engine already holds every person, and `set_segment` scans the histories only for
//! the segment's new predicates. Calling `set_segment` again with the same id on the same engine
//! skips the scan altogether, because the engine keeps the predicates' matches; that case is
//! measured as re-evaluation (see `live`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use herald_segment_engine::{Engine, PersonHistory};

use super::definitions::Segment;
use super::people::People;
use crate::workload::REF_NOW;

/// The builds of one segment.
#[derive(Debug, Clone)]
pub struct Build {
    pub name: &'static str,
    pub count: usize,
    pub times: Vec<Duration>,
    /// Dropping the engine afterwards, which is not part of the build but is what a server pays
    /// when it replaces an engine.
    pub drop: Duration,
}

/// Makes every person's history and drops it, as many times as asked: the part of a build's time
/// that goes into producing the engine's input rather than into the engine.
pub fn stream_only(people: &People, runs: usize) -> Vec<Duration> {
    (0..runs)
        .map(|_| {
            let begin = Instant::now();
            let mut events = 0;
            for (_, history) in people.histories() {
                events += black_box(history).events.len();
            }
            black_box(events);
            begin.elapsed()
        })
        .collect()
}

/// Builds `segment` `runs` times, each on a fresh engine, and checks that every build finds
/// `expected` members.
pub fn build(
    people: &People,
    segment: &Segment,
    runs: usize,
    expected: usize,
) -> anyhow::Result<Build> {
    let mut times = Vec::with_capacity(runs);
    let mut drop_time = Duration::ZERO;
    let mut count = 0;
    for run in 0..runs {
        let mut engine = Engine::new();
        let definition = segment.parse();
        let begin = Instant::now();
        let changes = engine.set_segment(segment.id, Some(definition), people.histories(), REF_NOW);
        times.push(begin.elapsed());
        count = engine.count(segment.id);
        let entered = changes.iter().filter(|change| change.entered).count();
        anyhow::ensure!(
            count == expected && entered == expected,
            "{} build {run}: the engine counts {count} members ({entered} entered changes), \
             the workload has {expected}",
            segment.name
        );
        drop(changes);
        let begin = Instant::now();
        drop(engine);
        drop_time = begin.elapsed();
    }
    Ok(Build {
        name: segment.name,
        count,
        times,
        drop: drop_time,
    })
}

/// Creates each segment on an engine that already holds every person but none of the segments'
/// predicates, as a running server does when a user creates a segment; `runs` times, each on an
/// engine loaded anew, because an engine never forgets a predicate. S1–S3 share no predicate, so
/// they are built one after the other on the same engine. Returns the times per segment.
pub fn build_on_loaded(
    people: &People,
    segments: &[Segment],
    runs: usize,
    expected: &[usize],
) -> anyhow::Result<Vec<Vec<Duration>>> {
    let mut times = vec![Vec::with_capacity(runs); segments.len()];
    for run in 0..runs {
        let mut engine = Engine::new();
        for person in 0..people.len() {
            let history: PersonHistory = people.history(person);
            engine.load_person(person as i64, &history, REF_NOW);
        }
        for (index, segment) in segments.iter().enumerate() {
            let definition = segment.parse();
            let begin = Instant::now();
            let changes =
                engine.set_segment(segment.id, Some(definition), people.histories(), REF_NOW);
            times[index].push(begin.elapsed());
            let count = engine.count(segment.id);
            anyhow::ensure!(
                count == expected[index] && changes.len() == count,
                "{} build {run} on a loaded engine: {count} members and {} changes, expected {}",
                segment.name,
                changes.len(),
                expected[index]
            );
        }
    }
    Ok(times)
}
