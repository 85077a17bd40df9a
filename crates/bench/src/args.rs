//! The command line of `herald-bench`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Drives a Herald on this machine with Track API traffic and prints one JSON summary line; with
/// `workload` writes the segmentation benchmark's data set; with `segments` benchmarks the
/// segment engine in-process on it; with `campaigns` measures campaign webhook delivery.
#[derive(Debug, Parser)]
#[command(name = "herald-bench", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The load run's options. They are optional as a group only so that a subcommand can stand
    /// without them; without a subcommand clap still demands `--site-id` and `--api-key`.
    #[command(flatten)]
    pub load: Option<Args>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Writes people.csv and events.csv of the segmentation benchmark
    /// (/work/shared/bench/workload.md), identical to gen_workload.py's, and prints one JSON
    /// line with the time it took.
    Workload(WorkloadArgs),
    /// Benchmarks the segment engine in-process on the segmentation workload (issue 3): full
    /// evaluation of S1–S3, incremental cost, the midnight case and memory, printed as Markdown.
    Segments(SegmentsArgs),
    /// Benchmarks campaign delivery (issue 4): starts a webhook receiver, creates and starts an
    /// event-triggered webhook campaign on a running Herald, then measures event → webhook
    /// latency at a steady rate and deliveries/s after a burst, one JSON line per phase.
    Campaigns(CampaignsArgs),
    /// Benchmarks a server at scale (issue 12): loads the segmentation workload through the v2
    /// batch API, then times a restart (first write taken, every segment count exact), new
    /// segments, previews over HTTP and ingest latency while segments build, one JSON line per
    /// phase. It starts and stops `--herald` itself.
    Scale(ScaleArgs),
}

/// A workspace's credentials, for the benchmarks that use both APIs.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkspaceKeys {
    /// The workspace's site id (the Track API's Basic auth user name).
    #[arg(long)]
    pub site_id: String,
    /// The workspace's Track API key (the Basic auth password).
    #[arg(long)]
    pub api_key: String,
    /// The workspace's App API key (the Bearer token of the App API).
    #[arg(long)]
    pub app_api_key: String,
}

#[derive(Debug, clap::Args)]
pub struct ScaleArgs {
    /// The `herald` binary to run.
    #[arg(long)]
    pub herald: std::path::PathBuf,
    /// The server's data folder (with its workspace created); the load phase fills it.
    #[arg(long)]
    pub data_dir: std::path::PathBuf,
    #[arg(long, default_value_t = 18190)]
    pub port: u16,
    #[command(flatten)]
    pub keys: WorkspaceKeys,
    #[arg(long, default_value_t = 1_000_000)]
    pub people: u64,
    #[arg(long, default_value_t = 20_000_000)]
    pub events: u64,
    /// The workload's seed; the issue asks for another one than the engine benchmark's 42.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Which phases to run (comma-separated): load (through the v2 batch API), import (the same
    /// operations through `herald import`), restart, new-segment, preview, ui, build-ingest.
    #[arg(long, default_value = "restart,new-segment,preview,build-ingest")]
    pub phases: String,
    /// Connections of the load phase.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Previews per segment.
    #[arg(long, default_value_t = 11)]
    pub runs: usize,
    /// Seconds of each window of the build-ingest phase.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
}

#[derive(Debug, clap::Args)]
pub struct CampaignsArgs {
    /// The server's base URL; only loopback addresses are accepted. The server must allow
    /// webhooks to loopback (`--webhook-allow-networks=127.0.0.0/8`), and its workspace should
    /// be fresh: campaigns left from an earlier run would send webhooks too.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    #[command(flatten)]
    pub keys: WorkspaceKeys,
    /// Which phases to run (comma-separated): latency, burst, visibility.
    #[arg(long, value_delimiter = ',', default_values = ["latency", "burst"])]
    pub phases: Vec<CampaignPhase>,
    /// People identified before measuring; events go to them in turn.
    #[arg(long, default_value_t = 1_000)]
    pub people: u64,
    /// Events per second in the latency phase.
    #[arg(long, default_value_t = 1_000)]
    pub rate: u64,
    /// Measured seconds of the latency phase, after the warm-up.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Seconds of the latency phase sent at the same rate but left out of the figures.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Keep-alive connections of the latency phase; enough that a slow answer does not hold
    /// back the schedule.
    #[arg(long, default_value_t = 32)]
    pub latency_connections: usize,
    /// Samples per second in the visibility phase: each is a Track call, then App API reads of
    /// the person's segments until the new membership is listed.
    #[arg(long, default_value_t = 2_000)]
    pub visibility_rate: u64,
    /// Keep-alive connections of the visibility phase, each carrying one sample at a time.
    #[arg(long, default_value_t = 32)]
    pub visibility_connections: usize,
    /// Seconds to wait after the last event of the latency phase for its webhooks.
    #[arg(long, default_value_t = 10)]
    pub grace: u64,
    /// Events of the burst phase, sent as fast as the server takes them.
    #[arg(long, default_value_t = 30_000)]
    pub burst: u64,
    /// Keep-alive connections of the burst phase.
    #[arg(long, default_value_t = 64)]
    pub burst_connections: usize,
    /// Seconds to wait, from the burst's start, for all of its webhooks.
    #[arg(long, default_value_t = 90)]
    pub burst_timeout: u64,
    /// Threads of the benchmark's runtime (sender and receiver); one keeps its share of a small
    /// machine low.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// The server's process id: when given, its CPU use (in total and by thread) is reported.
    #[arg(long)]
    pub server_pid: Option<u32>,
}

/// The phases of the campaign delivery benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CampaignPhase {
    /// Event → webhook latency at a steady `--rate`.
    Latency,
    /// Deliveries/s after a burst of `--burst` events.
    Burst,
    /// Event → membership visible over HTTP at a steady `--visibility-rate`.
    Visibility,
}

#[derive(Debug, clap::Args)]
pub struct SegmentsArgs {
    /// How many people; workload.md's member counts are checked only for the default size.
    #[arg(long, default_value_t = 1_000_000)]
    pub people: u64,
    /// How many events.
    #[arg(long, default_value_t = 20_000_000)]
    pub events: u64,
    /// The seed of the splitmix64 streams.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Builds and re-evaluations per segment; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// New events fed through `add_event` with S1–S3 live.
    #[arg(long, default_value_t = 1_000_000)]
    pub incremental_events: u64,
    /// Incremental events per second of clock.
    #[arg(long, default_value_t = 1_000)]
    pub per_second: u64,
    /// People per `advance` batch in the midnight case (the server's runner uses 2,000).
    #[arg(long, default_value_t = 2_000)]
    pub storm_batch: usize,
    /// Events fed between two batches of the midnight case.
    #[arg(long, default_value_t = 50)]
    pub storm_events_per_batch: usize,
    /// Which phases to run (comma-separated): load, reevaluate, incremental, storm, stream,
    /// builds, loaded-builds. All by default; fewer to profile one.
    #[arg(long, value_delimiter = ',', default_values = ["load", "reevaluate", "incremental", "storm", "stream", "builds", "loaded-builds"])]
    pub phases: Vec<herald_bench::segments::Phase>,
    /// A file with the baseline scripts' output (`postgres S1 count=… median_ms=…` lines), to
    /// print the engine's ratios to them.
    #[arg(long)]
    pub baselines: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct WorkloadArgs {
    /// How many people (`u0` … `u{N-1}`).
    #[arg(long, default_value_t = 1_000_000)]
    pub people: u64,
    /// How many events (`e0` … `e{M-1}`).
    #[arg(long, default_value_t = 20_000_000)]
    pub events: u64,
    /// The seed of the splitmix64 streams; the benchmark's member counts are for 42.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The directory to write into; it is created if missing.
    #[arg(long)]
    pub out: PathBuf,
}

/// The options of a load run against a Herald on this machine.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The server's base URL; only loopback addresses are accepted, so a typo cannot load a
    /// real server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The workspace's site id (the Basic auth user name).
    #[arg(long)]
    pub site_id: String,
    /// The workspace's Track API key (the Basic auth password).
    #[arg(long)]
    pub api_key: String,
    /// Which traffic to send.
    #[arg(long, value_enum, default_value_t = Scenario::Batch)]
    pub scenario: Scenario,
    /// Concurrent keep-alive connections, each with one request in flight.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// How long to measure, after the warm-up.
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    /// How long to send before measuring, so the server's caches and the database file are warm.
    #[arg(long, default_value_t = 2)]
    pub warmup_secs: u64,
    /// Events per `/api/v2/batch` request.
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// How many distinct people (`u0` … `u{N-1}`) the events are spread over.
    #[arg(long, default_value_t = 100_000)]
    pub people: u64,
    /// The events' names in `batch` requests.
    #[arg(long, value_enum, default_value_t = Names::Purchased)]
    pub names: Names,
    /// Threads of the generator's runtime; one keeps the generator's share of a small machine low.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// The server's process id: when given, its CPU use during the measured window is reported
    /// next to the generator's own.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Requests per second over all connections, sent on a fixed schedule (open loop), instead
    /// of each connection sending its next request as soon as the last is answered. Latency is
    /// then counted from when a request was due, so a request that waited for its connection
    /// counts that wait too. This is the load to measure latency under: a closed loop at
    /// saturation turns any loss of throughput into latency.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Print every measured request slower than this many milliseconds to stderr, with the
    /// wall-clock time of its answer (`slow <unix seconds> <ms>`), to line slow requests up
    /// with what the server did at that moment.
    #[arg(long)]
    pub slow_ms: Option<f64>,
}

/// The event names of the ingest benchmark's batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Names {
    /// Every event is `purchased`, as the benchmark sent before this option.
    Purchased,
    /// The 40 names of `/work/shared/bench/workload.md`, with its skew (`login` about 23%):
    /// a log whose listings by name take new entries all over their indexes, as a real one does.
    Workload,
}

/// The traffic shapes of the ingest benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// `POST /api/v2/batch` with `--batch-size` events per request.
    Batch,
    /// `POST /api/v1/customers/{id}/events`, one event per request.
    Single,
    /// `GET /healthz`, which stores nothing: the server's HTTP ceiling on this machine, measured
    /// beside the other scenarios so that their figures can be read against the machine's speed.
    Healthz,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Self::Batch => "batch",
            Self::Single => "single",
            Self::Healthz => "healthz",
        }
    }
}
