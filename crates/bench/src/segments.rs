//! The segment engine benchmark of issue 3, in-process: the workload of workload.md loaded into
//! `herald_segment_engine::Engine` directly (no HTTP, no store), then full evaluation of S1–S3
//! from the engine's index, re-evaluation, incremental cost, the midnight case, memory, and a
//! build from scratch on a fresh engine, printed as Markdown for `docs/benchmarks.md`. `scripts/bench-segments.sh` runs the SQL baselines first and hands their
//! results in, so the ratios come out of the same run.

pub mod baselines;
pub mod build;
pub mod definitions;
pub mod incremental;
pub mod live;
pub mod memory;
pub mod people;
mod report;
pub mod stats;
pub mod storm;

use std::time::Instant;

use crate::workload::{REF_NOW, Workload};

use self::baselines::Baseline;
use self::definitions::Segment;
use self::report::Timings;

/// What one run measures.
#[derive(Debug, Clone)]
pub struct Config {
    pub workload: Workload,
    /// Builds and re-evaluations per segment; the median is reported.
    pub runs: usize,
    /// Events fed through `add_event` in the incremental phase.
    pub incremental_events: u64,
    /// Incremental events per second of clock.
    pub per_second: u64,
    /// People per `advance` batch in the midnight case.
    pub storm_batch: usize,
    /// Events interleaved between two batches of the midnight case.
    pub storm_events_per_batch: usize,
    /// The baseline scripts' output, if they ran.
    pub baselines: Vec<Baseline>,
    /// Which phases to run; all of them for the report, fewer to profile one.
    pub phases: Vec<Phase>,
}

/// One part of the run. `builds`, `reevaluate`, `incremental` and `storm` run on the live
/// engine, so any of them loads it. `loaded-builds` is the build from scratch: a fresh engine
/// given every history, once per segment (the name is kept for the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Load,
    Reevaluate,
    Incremental,
    Storm,
    Stream,
    Builds,
    LoadedBuilds,
}

impl Phase {
    pub const ALL: [Self; 7] = [
        Self::Load,
        Self::Reevaluate,
        Self::Incremental,
        Self::Storm,
        Self::Stream,
        Self::Builds,
        Self::LoadedBuilds,
    ];
}

impl std::str::FromStr for Phase {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "load" => Self::Load,
            "reevaluate" => Self::Reevaluate,
            "incremental" => Self::Incremental,
            "storm" => Self::Storm,
            "stream" => Self::Stream,
            "builds" => Self::Builds,
            "loaded-builds" => Self::LoadedBuilds,
            _ => {
                return Err(format!(
                    "unknown phase {text:?}: load, reevaluate, incremental, storm, stream, builds or loaded-builds"
                ));
            }
        })
    }
}

/// Runs the chosen phases and prints the report. Fails when a member count differs from the
/// workload's, in the engine or in a baseline.
pub fn run(config: &Config) -> anyhow::Result<()> {
    let workload = config.workload;
    let segments = definitions::benchmark();
    let wants = |phase: Phase| config.phases.contains(&phase);
    report::header(workload);
    let expected = expected_counts(workload, &segments)?;
    let begin = Instant::now();
    let people = people::People::group(workload);
    println!(
        "Events grouped per person in {:.1} s (setup, not measured).\n",
        begin.elapsed().as_secs_f64()
    );

    let mut builds = Vec::new();
    let mut previews = Vec::new();
    let mut reevaluations = Vec::new();
    let mut live_drop = None;
    if [
        Phase::Load,
        Phase::Builds,
        Phase::Reevaluate,
        Phase::Incremental,
        Phase::Storm,
    ]
    .into_iter()
    .any(wants)
    {
        // The live engine is loaded first, on a heap nothing has used yet, so that its resident
        // memory is not hidden by pages an earlier phase freed and the allocator kept.
        progress("loading the live engine (load_person per person)");
        let mut live = live::load(&people, &segments, &expected)?;
        report::load(&live, &people);
        // Builds and re-evaluations run at REF_NOW before anything moves the clock on.
        if wants(Phase::Builds) {
            for (segment, expected) in segments.iter().zip(&expected) {
                progress(&format!("building {} from the index", segment.name));
                builds.push(build::from_index(
                    &mut live.engine,
                    segment,
                    config.runs,
                    *expected,
                )?);
                progress(&format!("previewing {}", segment.name));
                previews.push(build::preview(
                    &mut live.engine,
                    segment,
                    config.runs,
                    *expected,
                )?);
            }
        }
        if wants(Phase::Reevaluate) {
            progress("re-evaluating on the live engine");
            for (segment, expected) in segments.iter().zip(&expected) {
                reevaluations.push(live::reevaluate(
                    &mut live.engine,
                    segment,
                    config.runs,
                    *expected,
                )?);
            }
        }
        if wants(Phase::Incremental) {
            progress("incremental events");
            let incremental = incremental::run(
                &mut live.engine,
                workload,
                workload.events,
                config.incremental_events,
                REF_NOW + 1,
                config.per_second,
            );
            report::incremental(incremental, config.per_second);
        }
        if wants(Phase::Storm) {
            progress("midnight case");
            let plan = storm::Plan {
                workload,
                t0: incremental_end(config) + 1,
                first_index: workload.events + config.incremental_events,
                batch: config.storm_batch,
                events_per_batch: config.storm_events_per_batch,
            };
            let storm = storm::run(&mut live.engine, &definitions::storm(), &plan);
            report::storm(storm, config);
        }
        let begin = Instant::now();
        drop(live);
        live_drop = Some(begin.elapsed());
    }

    let mut stream = Vec::new();
    if wants(Phase::Stream) {
        progress("history stream alone");
        stream = build::stream_only(&people, 3);
    }
    let mut fresh = Vec::new();
    if wants(Phase::LoadedBuilds) {
        for (segment, expected) in segments.iter().zip(&expected) {
            // A fresh build reads 20M events from histories; one run each keeps the benchmark
            // within its budget, and it is not the goal's figure.
            progress(&format!("building {} on a fresh engine", segment.name));
            fresh.push(build::fresh(&people, segment, 1, *expected)?);
        }
    }

    let rows: Vec<Timings<'_>> = segments
        .iter()
        .enumerate()
        .map(|(index, segment)| Timings {
            name: segment.name,
            members: expected[index],
            build: builds.get(index),
            preview: previews.get(index).map(Vec::as_slice),
            fresh: fresh.get(index),
            reevaluation: reevaluations.get(index).map(Vec::as_slice),
        })
        .collect();
    report::builds(&rows, &stream, live_drop, config.runs);
    report::ratios(&rows, &config.baselines);
    report::footer();
    // A baseline that counts differently measures another question, so its ratio means nothing;
    // the run fails after the report, which shows which one it is.
    for baseline in &config.baselines {
        if let Some(row) = rows.iter().find(|r| r.name == baseline.segment) {
            anyhow::ensure!(
                baseline.count == row.members,
                "{} {} counts {} members, the workload has {}",
                baseline.system,
                baseline.segment,
                baseline.count,
                row.members
            );
        }
    }
    Ok(())
}

/// The member counts every phase must find: the plain count from the rows, which must also equal
/// workload.md's published counts for the default workload.
fn expected_counts(workload: Workload, segments: &[Segment]) -> anyhow::Result<Vec<usize>> {
    let begin = Instant::now();
    let counts = definitions::reference_counts(workload);
    let published = workload == Workload::default();
    for (segment, count) in segments.iter().zip(counts) {
        anyhow::ensure!(
            !published || count == segment.published_count,
            "{}: the rows give {count} members, workload.md says {}",
            segment.name,
            segment.published_count
        );
    }
    report::expected(&counts, published, begin.elapsed());
    Ok(counts.to_vec())
}

/// The clock at the end of the incremental phase.
fn incremental_end(config: &Config) -> i64 {
    REF_NOW + 1 + (config.incremental_events / config.per_second.max(1)) as i64
}

/// Progress goes to stderr, so that stdout stays the report.
fn progress(what: &str) {
    eprintln!(
        "[{:>8.1} s] {what}",
        START.with(|start| start.elapsed().as_secs_f64())
    );
}

thread_local! {
    static START: Instant = Instant::now();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a small workload every path of the engine must find the plain count of each segment:
    /// a fresh build, the live engine's load, builds from its index, a preview and a re-evaluation.
    #[test]
    fn engine_counts_equal_the_rows_on_a_small_workload() {
        let workload = Workload {
            people: 2_000,
            events: 40_000,
            seed: 42,
        };
        let expected = definitions::reference_counts(workload);
        assert!(expected.iter().all(|count| *count > 0), "{expected:?}");
        let people = people::People::group(workload);
        let segments = definitions::benchmark();
        for (segment, expected) in segments.iter().zip(expected) {
            let built = build::fresh(&people, segment, 1, expected).unwrap();
            assert_eq!(built.count, expected);
        }
        let mut live = live::load(&people, &segments, &expected).unwrap();
        for (segment, expected) in segments.iter().zip(expected) {
            build::from_index(&mut live.engine, segment, 2, expected).unwrap();
            build::preview(&mut live.engine, segment, 1, expected).unwrap();
            live::reevaluate(&mut live.engine, segment, 1, expected).unwrap();
        }
    }

    #[test]
    fn a_small_run_goes_through_every_phase() {
        let config = Config {
            workload: Workload {
                people: 500,
                events: 10_000,
                seed: 42,
            },
            runs: 1,
            incremental_events: 1_000,
            per_second: 100,
            storm_batch: 50,
            storm_events_per_batch: 3,
            baselines: baselines::parse("duckdb S1 count=65 median_ms=1.0"),
            phases: Phase::ALL.to_vec(),
        };
        run(&config).unwrap();
    }
}
