//! Starting and stopping the server under test.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use herald_bench::workload::REF_NOW;

use super::Setup;

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    pub started: Instant,
}

impl Server {
    /// Starts `herald serve` on the setup's data and port, logging to `server.log` beside the
    /// data, and returns at once: the caller times what follows from `started`.
    pub fn start(setup: &Setup) -> anyhow::Result<Self> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(setup.data_dir.with_extension("log"))
            .context("cannot open the server's log")?;
        let started = Instant::now();
        let child = Command::new(&setup.herald)
            .arg("serve")
            .arg("--data-dir")
            .arg(&setup.data_dir)
            .args(["--listen", &format!("127.0.0.1:{}", setup.port)])
            // The workload's windows are relative to REF_NOW.
            .arg(format!("--dev-clock={REF_NOW}"))
            .env("HERALD_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", setup.herald.display()))?;
        Ok(Self { child, started })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server with SIGTERM and waits for it, as an operator's restart would.
    pub fn stop(mut self) -> anyhow::Result<Duration> {
        let begin = Instant::now();
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        self.child.wait()?;
        Ok(begin.elapsed())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server's resident memory in MiB, from /proc.
pub fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
