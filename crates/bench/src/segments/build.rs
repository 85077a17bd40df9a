//! Full evaluation: `Engine::set_segment` of one segment for every person.
//!
//! The goal's figure is a build from the engine's index: a new segment on the live engine,
//! which already holds every person and every event, with no history passed, as in a server
//! whose engine holds its data, and as the SQL baselines run on their loaded, indexed tables.
//! Each run uses a new segment id, so every member is a change, and removes it afterwards
//! (untimed), so that each run starts from the same engine, as the baselines' repeated queries
//! do. The changes are expanded into rows only after the last run (timed apart), so that no
//! work between the runs stands in for the baselines' idle gaps. The cost from scratch is measured too: a fresh engine given every person's full
//! history, which loads and indexes every event before it can build.

use std::hint::black_box;
use std::time::{Duration, Instant};

use herald_segment_engine::{Engine, SegmentId};

use super::definitions::Segment;
use super::people::People;
use crate::workload::REF_NOW;

/// The builds of one segment.
#[derive(Debug, Clone)]
pub struct Build {
    pub name: &'static str,
    pub count: usize,
    pub times: Vec<Duration>,
    /// Dropping the engine afterwards (fresh builds only), which is not part of the build but is
    /// what a server pays when it replaces an engine.
    pub drop: Duration,
    /// Expanding each index build's changes into one `Change` per member, untimed in `times`:
    /// what the server's runner does after the build, before it stores them as rows.
    pub expand: Vec<Duration>,
}

/// Makes every person's history and drops it, as many times as asked: the part of a fresh
/// build's time that goes into producing the engine's input rather than into the engine.
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

/// The segment ids the index builds use, clear of S1–S3 and the storm segment.
const FIRST_BUILD_ID: i64 = 1_000;

/// Builds `segment` `runs` times from the index of `engine`, each time under a new id with no
/// history, and checks that every build finds `expected` members, all of them entering.
pub fn from_index(
    engine: &mut Engine,
    segment: &Segment,
    runs: usize,
    expected: usize,
) -> anyhow::Result<Build> {
    let mut times = Vec::with_capacity(runs);
    let mut expand = Vec::with_capacity(runs);
    let mut kept = Vec::with_capacity(runs);
    for run in 0..runs {
        let id = SegmentId::new(FIRST_BUILD_ID + run as i64);
        let definition = segment.parse();
        let begin = Instant::now();
        let changes = engine.set_segment(id, Some(definition), Vec::new(), REF_NOW);
        times.push(begin.elapsed());
        let count = engine.count(id);
        let entered = changes.iter().filter(|change| change.entered).count();
        anyhow::ensure!(
            count == expected && entered == expected && changes.len() == expected,
            "{} index build {run}: the engine counts {count} members ({entered} entered of {} \
             changes), the workload has {expected}",
            segment.name,
            changes.len()
        );
        kept.push(changes);
        engine.remove_segment(id);
    }
    // What a server does next with each build's changes, timed apart from the builds.
    for changes in kept {
        let begin = Instant::now();
        let rows = changes.into_vec();
        expand.push(begin.elapsed());
        drop(rows);
    }

    Ok(Build {
        name: segment.name,
        count: expected,
        times,
        drop: Duration::ZERO,
        expand,
    })
}

/// Previews `segment` `runs` times on `engine`: its count and a sample of ten members at
/// REF_NOW, without saving it, which is what `POST /v1/segments/preview` asks and what the SQL
/// baselines' queries compute. Checks the count every time.
pub fn preview(
    engine: &mut Engine,
    segment: &Segment,
    runs: usize,
    expected: usize,
) -> anyhow::Result<Vec<Duration>> {
    let definition = segment.parse();
    let mut times = Vec::with_capacity(runs);
    for run in 0..runs {
        let begin = Instant::now();
        let preview = engine.preview(&definition, REF_NOW, 10);
        times.push(begin.elapsed());
        let count = preview.map(|p| p.count);
        anyhow::ensure!(
            count == Some(expected),
            "{} preview {run}: the engine counts {count:?} members, the workload has {expected}",
            segment.name
        );
    }
    Ok(times)
}

/// Builds `segment` `runs` times, each on a fresh engine given every person's full history, and
/// checks that every build finds `expected` members.
pub fn fresh(
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
            "{} fresh build {run}: the engine counts {count} members ({entered} entered changes), \
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
        expand: Vec::new(),
    })
}
