//! `herald-bench`: the ingest load generator behind `docs/benchmarks.md`.
//!
//! It opens `--connections` keep-alive HTTP/1.1 connections to a Herald on this machine, keeps
//! one request in flight on each for the warm-up and the measured window, and prints one JSON
//! line with throughput, latency percentiles and the CPU each side used. `herald-bench workload`
//! instead writes the segmentation benchmark's CSV files (see `herald_bench::workload`), and
//! `herald-bench segments` benchmarks the segment engine on them (see `herald_bench::segments`).
//! `herald-bench campaigns` measures campaign webhook delivery (see `campaigns`).

mod args;
mod campaigns;
mod cpu;
mod payload;
mod report;
mod runtime;
mod scale;
mod target;
mod worker;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;

use herald_bench::segments;
use herald_bench::workload::Workload;

use crate::args::{Args, Cli, Command, SegmentsArgs, WorkloadArgs};
use crate::payload::Payloads;
use crate::report::RunInfo;
use crate::target::Target;
use crate::worker::{Pace, Window};

/// The server's allocator, so that the segment engine is measured as it runs inside Herald,
/// where allocation is a large part of its cost.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match (cli.command, cli.load) {
        (Some(Command::Workload(args)), _) => write_workload(&args),
        (Some(Command::Segments(args)), _) => benchmark_segments(&args),
        (Some(Command::Campaigns(args)), _) => campaigns::main(&args),
        (Some(Command::Scale(args)), _) => scale::main(&args),
        (None, Some(args)) => load(&args),
        // clap requires the load options whenever no subcommand is given, so this is a fallback.
        (None, None) => anyhow::bail!("--site-id and --api-key are required"),
    }
}

fn write_workload(args: &WorkloadArgs) -> anyhow::Result<()> {
    let workload = Workload {
        people: args.people,
        events: args.events,
        seed: args.seed,
    };
    let begin = Instant::now();
    workload
        .write_csv(&args.out)
        .with_context(|| format!("cannot write the workload into {}", args.out.display()))?;
    let summary = serde_json::json!({
        "people": workload.people,
        "events": workload.events,
        "seed": workload.seed,
        "out": args.out.display().to_string(),
        "secs": begin.elapsed().as_secs_f64(),
    });
    println!("{summary}");
    Ok(())
}

fn benchmark_segments(args: &SegmentsArgs) -> anyhow::Result<()> {
    let baselines = match &args.baselines {
        Some(path) => segments::baselines::parse(
            &std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        ),
        None => Vec::new(),
    };
    segments::run(&segments::Config {
        workload: Workload {
            people: args.people,
            events: args.events,
            seed: args.seed,
        },
        runs: args.runs.max(1),
        incremental_events: args.incremental_events,
        per_second: args.per_second.max(1),
        storm_batch: args.storm_batch.max(1),
        storm_events_per_batch: args.storm_events_per_batch,
        baselines,
        phases: args.phases.clone(),
    })
}

fn load(args: &Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.connections > 0, "--connections must be at least 1");
    anyhow::ensure!(args.duration_secs > 0, "--duration-secs must be at least 1");
    let target = Target::new(&args.url, &args.site_id, &args.api_key)?;
    let payloads = Arc::new(Payloads::build(
        args.scenario,
        args.batch_size.max(1),
        args.people,
        args.names,
    ));

    let summary = runtime::build(args.threads)?.block_on(run(args, target, payloads))?;
    println!("{summary}");
    Ok(())
}

/// The `--slow-ms` threshold in microseconds.
fn slow_us(slow_ms: Option<f64>) -> Option<u32> {
    // The float-to-int cast saturates, so a huge or negative threshold stays a valid number.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    slow_ms.map(|ms| (ms * 1000.0) as u32)
}

/// Each connection's schedule: with `--rate`, connection `index` of N sends every N / rate
/// seconds, offset by index / rate so that the connections take turns.
fn pace(args: &Args, begin: Instant, index: usize) -> Pace {
    match args.rate {
        Some(rate) if rate > 0.0 => {
            let per_request = Duration::from_secs_f64(1.0 / rate);
            Pace::Every {
                first: begin + per_request * u32::try_from(index).unwrap_or(u32::MAX),
                interval: per_request * u32::try_from(args.connections).unwrap_or(u32::MAX),
            }
        }
        _ => Pace::BackToBack,
    }
}

async fn run(
    args: &Args,
    target: Target,
    payloads: Arc<Payloads>,
) -> anyhow::Result<serde_json::Value> {
    let begin = Instant::now();
    let window = Window {
        start: begin + Duration::from_secs(args.warmup_secs),
        end: begin + Duration::from_secs(args.warmup_secs + args.duration_secs),
    };
    let workers: Vec<_> = (0..args.connections)
        .map(|index| {
            tokio::spawn(worker::run(
                target.clone(),
                payloads.clone(),
                index,
                args.connections,
                window,
                pace(args, begin, index),
                slow_us(args.slow_ms),
            ))
        })
        .collect();

    // CPU is sampled at the window's edges, so warm-up and the last in-flight answers are left out.
    tokio::time::sleep_until(window.start.into()).await;
    let before = cpu::Snapshot::take(args.server_pid);
    tokio::time::sleep_until(window.end.into()).await;
    let after = cpu::Snapshot::take(args.server_pid);
    let measured_secs = window.end.duration_since(window.start).as_secs_f64();

    let mut results = Vec::with_capacity(workers.len());
    for worker in workers {
        results.push(worker.await.context("a worker panicked")??);
    }
    let mut slow: Vec<(f64, u32)> = results
        .iter()
        .flat_map(|r| r.slow.iter().copied())
        .collect();
    slow.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (answered, micros) in slow {
        eprintln!("slow {answered:.4} {:.2}", f64::from(micros) / 1000.0);
    }
    let info = RunInfo {
        scenario: args.scenario.name(),
        connections: args.connections,
        rate: args.rate,
        events_per_request: payloads.events_per_request,
        measured_secs,
        generator_cores: cpu::cores(before.generator, after.generator, measured_secs),
        server_cores: cpu::cores(before.server, after.server, measured_secs),
        machine_cores: cpu::cores(before.machine, after.machine, measured_secs),
        server_rss_mb: args.server_pid.and_then(|pid| cpu::memory_mb(pid, "VmRSS")),
        server_peak_rss_mb: args.server_pid.and_then(|pid| cpu::memory_mb(pid, "VmHWM")),
    };
    Ok(report::summary(&info, results))
}
