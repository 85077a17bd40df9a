//! The CPU the server, the benchmark and the whole machine used over a stretch of a phase.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{Value, json};

use super::threads;
use crate::cpu::{self, Snapshot};
use crate::report::round;

/// The CPU counters at one instant.
pub struct Sample {
    at: Instant,
    snapshot: Snapshot,
    threads: BTreeMap<String, f64>,
}

impl Sample {
    pub fn take(server_pid: Option<u32>) -> Self {
        Self {
            at: Instant::now(),
            snapshot: Snapshot::take(server_pid),
            threads: threads::seconds_by_name(server_pid),
        }
    }

    /// Cores used from `self` to `later`: the server (in total and by thread), the benchmark
    /// process (sender and receiver) and the machine, which shows whether anything else ran.
    pub fn until(&self, later: &Sample) -> Value {
        let secs = later.at.duration_since(self.at).as_secs_f64().max(1e-9);
        let cores = |before, after| cpu::cores(before, after, secs).map(|cores| round(cores, 2));
        json!({
            "secs": round(secs, 3),
            "server_cores": cores(self.snapshot.server, later.snapshot.server),
            "bench_cores": cores(self.snapshot.generator, later.snapshot.generator),
            "machine_cores": cores(self.snapshot.machine, later.snapshot.machine),
            "server_threads": threads::cores(&self.threads, &later.threads, secs),
        })
    }
}
