//! Loading the workload through `herald import` instead of the v2 batch API: the same
//! operations, written to an NDJSON file first (not timed), then imported by the real command,
//! so that the two ways of loading a history can be compared in one run.

use std::io::Write;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use herald_bench::workload::Workload;
use serde_json::{Value, json};

use super::Setup;
use super::load::{events, people};

pub fn run(setup: &Setup, workload: Workload) -> anyhow::Result<Value> {
    let file = setup.data_dir.with_extension("ndjson");
    let begin = Instant::now();
    {
        let mut out = std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(&file).context("cannot create the NDJSON file")?,
        );
        for operation in people(workload).chain(events(workload)) {
            serde_json::to_writer(&mut out, &operation)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    let write_secs = begin.elapsed().as_secs_f64();
    let begin = Instant::now();
    let output = Command::new(&setup.herald)
        .arg("import")
        .arg(&file)
        .args([
            "--json",
            "--url",
            &format!("http://127.0.0.1:{}", setup.port),
        ])
        .args(["--site-id", &setup.site_id, "--api-key", &setup.api_key])
        .output()
        .context("cannot run herald import")?;
    let secs = begin.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!(
            "herald import failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let report: Value = serde_json::from_slice(&output.stdout)?;
    let imported = report["files"][0]["imported"].as_u64().unwrap_or(0);
    if imported != workload.people + workload.events {
        bail!("herald import applied {imported} operations: {report}");
    }
    let _ = std::fs::remove_file(&file);
    Ok(json!({
        "phase": "import",
        "people": workload.people,
        "events": workload.events,
        "file_write_secs": write_secs,
        "secs": secs,
        "operations_per_sec": (workload.people + workload.events) as f64 / secs,
    }))
}
