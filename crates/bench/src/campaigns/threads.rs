//! CPU time of the server by thread name, so a run shows which of the server's threads (the
//! SQLite writer, the readers, the tokio workers) is busy while campaigns deliver.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::cpu;
use crate::report::round;

/// CPU seconds per thread name of process `pid`; empty off Linux or when the process is gone.
pub fn seconds_by_name(pid: Option<u32>) -> BTreeMap<String, f64> {
    let mut by_name = BTreeMap::new();
    let Some(pid) = pid else {
        return by_name;
    };
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return by_name;
    };
    for task in tasks.flatten() {
        let tid = task.file_name().to_string_lossy().into_owned();
        let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm")) else {
            continue;
        };
        // `cpu::seconds` reads `/proc/<pid>/stat`; a thread's file has the same layout.
        if let Some(seconds) = cpu::seconds(&format!("{pid}/task/{tid}")) {
            *by_name.entry(family(comm.trim())).or_default() += seconds;
        }
    }
    by_name
}

/// Numbered threads of one pool (`herald-sqlite-reader-3`) are summed under the pool's name.
fn family(name: &str) -> String {
    name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-')
        .to_owned()
}

/// Cores each thread family used between two samples `elapsed` seconds apart; families under
/// 0.01 core are left out to keep the line short.
pub fn cores(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>, elapsed: f64) -> Value {
    let mut cores = Map::new();
    for (name, seconds) in after {
        let used = (seconds - before.get(name).copied().unwrap_or(0.0)) / elapsed;
        if used >= 0.01 {
            cores.insert(name.clone(), round(used, 2).into());
        }
    }
    Value::Object(cores)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_threads_share_their_pool_name() {
        assert_eq!(family("herald-sqlite-reader-12"), "herald-sqlite-reader");
        assert_eq!(family("tokio-runtime-w"), "tokio-runtime-w");
    }

    #[test]
    fn this_process_has_threads() {
        if cfg!(target_os = "linux") {
            assert!(!seconds_by_name(Some(std::process::id())).is_empty());
        }
    }
}
