//! The Markdown report of a run, one function per section, in the order the run prints them.

use std::time::Duration;

use super::Config;
use super::baselines::{self, Baseline};
use super::build::Build;
use super::incremental::Incremental;
use super::live::Live;
use super::memory::{Memory, mib};
use super::people::{People, Row};
use super::stats::{Latencies, median, ms};
use super::storm::Storm;
use crate::workload::{REF_NOW, Workload};

/// One segment's timings, from whichever phases ran.
pub struct Timings<'t> {
    pub name: &'static str,
    pub members: usize,
    /// Built from the live engine's index under a new id.
    pub build: Option<&'t Build>,
    /// Previewed on the live engine (count and sample, nothing saved).
    pub preview: Option<&'t [Duration]>,
    /// Built on a fresh engine from every history.
    pub fresh: Option<&'t Build>,
    pub reevaluation: Option<&'t [Duration]>,
}

pub fn header(workload: Workload) {
    println!("## Segment engine run\n");
    println!(
        "Workload: {} people, {} events, seed {}; clock REF_NOW = {REF_NOW}.\n",
        thousands(workload.people),
        thousands(workload.events),
        workload.seed
    );
}

pub fn expected(counts: &[usize; 3], published: bool, took: Duration) {
    println!(
        "Member counts from the rows (plain SQL semantics, {:.1} s): S1 {}, S2 {}, S3 {}{}.\n",
        took.as_secs_f64(),
        thousands(counts[0] as u64),
        thousands(counts[1] as u64),
        thousands(counts[2] as u64),
        if published {
            ", equal to workload.md's"
        } else {
            " (not the default workload, so workload.md's counts do not apply)"
        }
    );
}

pub fn load(live: &Live, people: &People) {
    let workload = people.workload();
    let grown = live.after.rss.saturating_sub(live.before.rss);
    let (known, rows) = live.engine.size();
    let kept: u64 = (0..people.len())
        .map(|person| people.rows(person).iter().filter(|row| kept(**row)).count() as u64)
        .sum();
    println!(
        "### Load and memory (S1–S3 defined, then `load_person` for every person, then `settle_index`)\n"
    );
    println!("| what | value |\n|---|---|");
    println!(
        "| load time | {:.2} s ({:.2} µs per person, {:.0} ns per event) |",
        live.load.as_secs_f64(),
        live.load.as_secs_f64() * 1e6 / workload.people as f64,
        live.load.as_secs_f64() * 1e9 / workload.events as f64
    );
    println!(
        "| settling the index (every table into time order) | {:.2} s |",
        live.settle.as_secs_f64()
    );
    println!(
        "| people and event rows in the engine | {} people, {} rows (every event, every name) |",
        thousands(known as u64),
        thousands(rows as u64)
    );
    println!(
        "| resident memory before / after load (VmRSS) | {} / {} MiB |",
        mib(live.before.rss),
        mib(live.after.rss)
    );
    println!(
        "| growth | {} MiB: {:.0} bytes per person, {:.1} bytes per workload event |",
        mib(grown),
        grown as f64 / workload.people as f64,
        grown as f64 / workload.events as f64
    );
    println!(
        "| events S1–S3 count (their names; `purchased` above 20) | {} of {} |",
        thousands(kept),
        thousands(workload.events),
    );
    println!(
        "| peak resident memory so far (VmHWM) | {} MiB |\n",
        mib(live.after.peak)
    );
}

/// Whether this row counts for one of the benchmark's predicates: the names S1–S3 look at, with
/// `purchased` only when its price passes S2's static filter.
fn kept(row: Row) -> bool {
    match row.name() {
        "created_project" | "invited_friend" | "login" | "signup" => true,
        "purchased" => row.price_cents > 2_000,
        _ => false,
    }
}

pub fn incremental(mut result: Incremental, per_second: u64) {
    let events = result.latencies.len() as f64;
    let busy = result.latencies.total();
    println!("### Incremental: `add_event` with S1–S3 live\n");
    println!(
        "{} new events of the workload's distribution, {} per second of clock from REF_NOW + 1 s, deadlines applied between seconds.\n",
        thousands(result.latencies.len() as u64),
        thousands(per_second)
    );
    println!("| what | value |\n|---|---|");
    println!(
        "| throughput (time inside `add_event`) | {} events/s |",
        thousands((events / busy.as_secs_f64()) as u64)
    );
    println!(
        "| throughput (wall, event generation and deadlines included) | {} events/s |",
        thousands((events / result.wall.as_secs_f64()) as u64)
    );
    println!("| latency per event | {} |", result.latencies.summary_us());
    println!(
        "| membership changes from events / from deadlines | {} / {} |",
        thousands(result.event_changes as u64),
        thousands(result.deadline_changes as u64)
    );
    println!(
        "| time in `advance` between seconds | {:.1} ms |\n",
        ms(result.advance)
    );
}

pub fn storm(mut storm: Storm, config: &Config) {
    println!("### Midnight case: every person due at the same second\n");
    println!("| what | value |\n|---|---|");
    println!(
        "| setup: one `midnight_ping` per person (`add_event`, each enters the segment) | {} events, {} |",
        thousands(storm.pings.len() as u64),
        storm.pings.summary_us()
    );
    println!(
        "| ordinary deadlines of the following day, applied before the storm | {} changes in {:.0} ms |",
        thousands(storm.day_changes as u64),
        ms(storm.day)
    );
    println!(
        "| people due at the storm's second | {} |",
        thousands(storm.due_at_storm as u64)
    );
    println!(
        "| `advance` batches of {} people | {} batches, {} |",
        thousands(config.storm_batch as u64),
        thousands(storm.batches.len() as u64),
        batch_summary(&mut storm.batches)
    );
    println!(
        "| wait for the batch in progress, for an input arriving at a random instant of the storm | p50 {:.2} ms, p99 {:.2} ms |",
        ms(storm.batches.residual(0.50)),
        ms(storm.batches.residual(0.99))
    );
    println!(
        "| storm drained in (interleaved events included) | {:.2} s: {} changes, {} left in the segment |",
        storm.drain.as_secs_f64(),
        thousands(storm.storm_changes as u64),
        storm.left
    );
    println!(
        "| `add_event` one second before, nothing due ({} events) | {} |",
        thousands(storm.quiet.len() as u64),
        storm.quiet.summary_us()
    );
    println!(
        "| `add_event` between storm batches ({} per batch, {} events) | {} |",
        config.storm_events_per_batch,
        thousands(storm.during.len() as u64),
        storm.during.summary_us()
    );
    let ratio = storm.during.percentile(0.99).as_secs_f64()
        / storm.quiet.percentile(0.99).as_secs_f64().max(1e-9);
    println!("| `add_event` p99 during ÷ p99 before | {ratio:.2} |\n");
}

fn batch_summary(batches: &mut Latencies) -> String {
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(batches.percentile(0.50)),
        ms(batches.percentile(0.99)),
        ms(batches.max())
    )
}

pub fn builds(rows: &[Timings<'_>], stream: &[Duration], live_drop: Option<Duration>, runs: usize) {
    println!("### Full evaluation: `set_segment` for 1M people\n");
    println!(
        "- build: a new segment (a new id each run, removed afterwards, untimed) on the live engine, from its index, without history: the server's path when its engine holds the data, as the baselines hold theirs; median of {runs};"
    );
    println!(
        "- preview: `Engine::preview`, the count and ten members without saving anything, from the same index (the question the SQL baselines answer); median of {runs};"
    );
    println!(
        "- re-evaluation: the same segment id again on the live engine, also from the index; nobody's membership changes; median of {runs};"
    );
    println!(
        "- fresh engine: a new engine given every person's full history, which it loads and indexes before building (one run).\n"
    );
    println!(
        "| segment | members | build | runs | preview | runs | re-evaluation | runs | fresh engine |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        let (build, build_runs) = cells(row.build.map(|b| b.times.as_slice()));
        let (preview, preview_runs) = cells(row.preview);
        let (reevaluation, reevaluation_runs) = cells(row.reevaluation);
        let (fresh, _) = cells(row.fresh.map(|b| b.times.as_slice()));
        println!(
            "| {} | {} | {build} | {build_runs} | {preview} | {preview_runs} | {reevaluation} | {reevaluation_runs} | {fresh} |",
            row.name,
            thousands(row.members as u64),
        );
    }
    println!();
    if !stream.is_empty() {
        println!(
            "Making the histories alone (a `PersonHistory` per person with `serde_json` event data, no engine): median {:.0} ms of {} runs ({} ms). A fresh build includes this.",
            ms(median(stream)),
            stream.len(),
            list_ms(stream)
        );
    }
    let expand: Vec<String> = rows
        .iter()
        .filter_map(|row| row.build.map(|build| (row.name, &build.expand)))
        .filter(|(_, times)| !times.is_empty())
        .map(|(name, times)| format!("{name} {:.2} ms", ms(median(times))))
        .collect();
    if !expand.is_empty() {
        println!(
            "A build returns its entries and exits as lists of ids; expanding them into one `Change` per member afterwards, as the server's runner does before storing them as rows (not part of the build's time): median {}.",
            expand.join(", ")
        );
    }
    let fresh_drop = rows.iter().rev().find_map(|row| row.fresh).map(|b| b.drop);
    if let Some(drop) = fresh_drop {
        println!(
            "Dropping an engine after a fresh one-segment build: {:.0} ms.",
            ms(drop)
        );
    }
    if let Some(drop) = live_drop {
        println!("Dropping the live engine: {:.0} ms.", ms(drop));
    }
    println!();
}

/// The median and the list of runs, or dashes when the phase did not run.
fn cells(times: Option<&[Duration]>) -> (String, String) {
    times.map_or(("–".to_owned(), "–".to_owned()), |times| {
        (format!("{} ms", precise(ms(median(times)))), list_ms(times))
    })
}

/// Milliseconds with three significant digits below 10 ms, so that sub-millisecond builds show.
fn precise(milliseconds: f64) -> String {
    if milliseconds < 10.0 {
        format!("{milliseconds:.2}")
    } else {
        format!("{milliseconds:.1}")
    }
}

fn list_ms(times: &[Duration]) -> String {
    times
        .iter()
        .map(|t| precise(ms(*t)))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// How the engine compares with a baseline time, in words: "12.0× faster" or "95.0× slower".
fn versus(baseline_ms: f64, engine_ms: f64) -> String {
    let speedup = baseline_ms / engine_ms;
    if speedup >= 1.0 {
        format!("{speedup:.1}× faster")
    } else {
        format!("{:.1}× slower", 1.0 / speedup)
    }
}

pub fn ratios(rows: &[Timings<'_>], all: &[Baseline]) {
    println!("### Engine against the SQL baselines (same run)\n");
    if all.is_empty() {
        println!("No baseline results were given.\n");
        return;
    }
    println!("| segment | PostgreSQL | SQLite | DuckDB | best | goal (20× faster than best) |");
    println!("|---|---|---|---|---|---|");
    for row in rows {
        let cell = |system: &str| {
            all.iter()
                .find(|b| b.system == system && b.segment == row.name)
                .map_or("–".to_owned(), |b| {
                    let mark = if b.count == row.members {
                        ""
                    } else {
                        " (count differs!)"
                    };
                    format!("{:.1} ms{mark}", b.median_ms)
                })
        };
        let best = baselines::best(all, row.name);
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            row.name,
            cell("postgres"),
            cell("sqlite"),
            cell("duckdb"),
            best.map_or("–".to_owned(), |b| format!(
                "{} {:.1} ms",
                b.system, b.median_ms
            )),
            best.map_or("–".to_owned(), |b| format!(
                "≤ {:.2} ms",
                b.median_ms / 20.0
            )),
        );
    }
    println!();
    println!(
        "| segment | engine build (index) | vs best | ≥ 20×? | preview | vs best | ≥ 20×? | re-evaluation | vs best | fresh engine | vs best |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        let best = baselines::best(all, row.name);
        let compare = |times: Option<&[Duration]>| match (times, best) {
            (Some(times), Some(best)) => {
                let engine_ms = ms(median(times));
                (
                    format!("{} ms", precise(engine_ms)),
                    versus(best.median_ms, engine_ms),
                )
            }
            (Some(times), None) => (format!("{} ms", precise(ms(median(times)))), "–".to_owned()),
            (None, _) => ("–".to_owned(), "–".to_owned()),
        };
        let (build, build_versus) = compare(row.build.map(|b| b.times.as_slice()));
        let met = |times: Option<&[Duration]>| match (times, best) {
            (Some(times), Some(best)) => {
                if best.median_ms / ms(median(times)) >= 20.0 {
                    "yes"
                } else {
                    "**no**"
                }
            }
            _ => "–",
        };
        let build_met = met(row.build.map(|b| b.times.as_slice()));
        let (preview, preview_versus) = compare(row.preview);
        let preview_met = met(row.preview);
        let (fresh, fresh_versus) = compare(row.fresh.map(|b| b.times.as_slice()));
        let (reevaluation, reevaluation_versus) = compare(row.reevaluation);
        println!(
            "| {} | {build} | {build_versus} | {build_met} | {preview} | {preview_versus} | {preview_met} | {reevaluation} | {reevaluation_versus} | {fresh} | {fresh_versus} |",
            row.name
        );
    }
    println!();
    for baseline in all {
        if let Some(row) = rows.iter().find(|r| r.name == baseline.segment)
            && baseline.count != row.members
        {
            println!(
                "**{} {} counts {} members, the engine {}.**\n",
                baseline.system, baseline.segment, baseline.count, row.members
            );
        }
    }
}

pub fn footer() {
    println!(
        "Peak resident memory of the whole run (VmHWM): {} MiB.",
        mib(Memory::now().peak)
    );
}

/// `1234567` as `1,234,567`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(20_000_000), "20,000,000");
    }

    #[test]
    fn versus_reads_both_ways() {
        assert_eq!(versus(100.0, 5.0), "20.0× faster");
        assert_eq!(versus(50.0, 5_000.0), "100.0× slower");
    }
}
