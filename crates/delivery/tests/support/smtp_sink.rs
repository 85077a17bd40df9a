//! A real SMTP server for tests: runs `tests/smtp/smtp_sink.py` (aiosmtpd) on 127.0.0.1 and
//! reads back the messages it stored.
//!
//! Self-contained so any test binary of the workspace can include it; the path is relative to
//! the including file's directory, e.g. from `crates/herald/tests/it/main.rs`:
//!
//! ```ignore
//! #[path = "../../../delivery/tests/support/smtp_sink.rs"]
//! mod smtp_sink;
//! ```
//!
//! It needs only std and tokio (features `process`, `io-util`, `time`). The interpreter is
//! `HERALD_TEST_PYTHON` (set by `./scripts/test`), else the workspace's `target/py/bin/python`,
//! else `python3`; it must have aiosmtpd (`tests/clients/python/requirements.txt`). A sink that
//! cannot start fails the test: a skipped mail test would look like a passing one.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

/// The workspace root; every crate lives at `crates/<name>`, so this holds for all of them.
const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// How long Python may take to start and bind; generous for a loaded 2-core CI machine.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How often [`SmtpSink::wait_for_messages`] looks at the directory.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// A running SMTP sink. Dropping it stops the server and deletes its messages.
pub struct SmtpSink {
    port: u16,
    dir: PathBuf,
    child: Child,
    /// Held open: the sink exits when its stdin closes, so it dies with the test process even
    /// if the test is killed before this value is dropped.
    stdin: Option<ChildStdin>,
}

/// One message the sink accepted.
#[derive(Clone, Debug)]
pub struct SinkMessage {
    /// The message as received after DATA, headers and body (lossy UTF-8).
    pub raw: String,
    /// The envelope sender (`MAIL FROM`).
    pub mail_from: String,
    /// The accepted envelope recipients (`RCPT TO`).
    pub rcpt_to: Vec<String>,
}

impl SinkMessage {
    /// The first header called `name` (any case), unfolded, or `None`.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\r\n\r\n").next().unwrap_or("");
        let mut found: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(value) = found.as_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                continue;
            }
            if found.is_some() {
                break;
            }
            if let Some((field, value)) = line.split_once(':')
                && field.trim().eq_ignore_ascii_case(name)
            {
                found = Some(value.trim().to_owned());
            }
        }
        found
    }
}

impl SmtpSink {
    /// Starts the sink on a free port and waits until it accepts connections; panics (failing
    /// the test) with the interpreter's output when it cannot.
    pub async fn start() -> SmtpSink {
        let python = python();
        let script = Path::new(WORKSPACE).join("tests/smtp/smtp_sink.py");
        let dir = unique_dir();
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", dir.display()));
        let stderr_path = dir.join("sink-stderr.log");
        let stderr = std::fs::File::create(&stderr_path)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", stderr_path.display()));

        let mut child = Command::new(&python)
            .arg(&script)
            .args(["--port", "0", "--dir"])
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start the SMTP sink with {}: {error}. Run ./scripts/test (it installs \
                     aiosmtpd into target/py) or set HERALD_TEST_PYTHON to a python with aiosmtpd",
                    python.display()
                )
            });
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();

        let line = tokio::time::timeout(START_TIMEOUT, lines.next_line()).await;
        let port = match &line {
            Ok(Ok(Some(text))) => text
                .strip_prefix("READY ")
                .and_then(|port| port.trim().parse::<u16>().ok()),
            _ => None,
        };
        let Some(port) = port else {
            let _ = child.start_kill();
            let _ = child.wait().await;
            let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            let _ = std::fs::remove_dir_all(&dir);
            panic!(
                "the SMTP sink ({} {}) did not get ready: first line {line:?}. Run ./scripts/test \
                 (it installs aiosmtpd into target/py) or set HERALD_TEST_PYTHON.\n--- stderr ---\n{log}",
                python.display(),
                script.display()
            );
        };
        SmtpSink {
            port,
            dir,
            child,
            stdin,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The lettre URL of the sink: plain SMTP, no TLS.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The messages accepted so far, in the order they arrived.
    pub fn messages(&self) -> Vec<SinkMessage> {
        let mut numbers: Vec<u64> = std::fs::read_dir(&self.dir)
            .expect("the sink directory exists")
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".eml")?.parse().ok()
            })
            .collect();
        numbers.sort_unstable();
        numbers
            .into_iter()
            .map(|number| self.read_message(number))
            .collect()
    }

    /// Waits until at least `count` messages arrived, for senders that run in the background;
    /// panics with what did arrive if they do not within `timeout`.
    pub async fn wait_for_messages(&self, count: usize, timeout: Duration) -> Vec<SinkMessage> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            if Instant::now() >= deadline {
                panic!(
                    "the SMTP sink got {} of {count} messages within {timeout:?}: {messages:#?}",
                    messages.len()
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    fn read_message(&self, number: u64) -> SinkMessage {
        let raw = std::fs::read(self.dir.join(format!("{number}.eml")))
            .expect("a listed message is readable");
        let envelope = std::fs::read_to_string(self.dir.join(format!("{number}.envelope")))
            .expect("the sink writes the envelope before the message");
        let mut mail_from = String::new();
        let mut rcpt_to = Vec::new();
        for line in envelope.lines() {
            if let Some(sender) = line.strip_prefix("MAIL FROM ") {
                mail_from = sender.to_owned();
            } else if let Some(recipient) = line.strip_prefix("RCPT TO ") {
                rcpt_to.push(recipient.to_owned());
            }
        }
        SinkMessage {
            raw: String::from_utf8_lossy(&raw).into_owned(),
            mail_from,
            rcpt_to,
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        // Closing stdin asks the sink to stop; the kill makes sure it is gone before the
        // directory is removed under it.
        drop(self.stdin.take());
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `HERALD_TEST_PYTHON`, else the workspace's virtualenv, else `python3` from the path.
fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("HERALD_TEST_PYTHON").filter(|path| !path.is_empty()) {
        return PathBuf::from(path);
    }
    let venv = Path::new(WORKSPACE).join("target/py/bin/python");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
}

/// A fresh directory under the system's temporary directory, unique across test threads and
/// concurrently running test binaries.
fn unique_dir() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!(
        "herald-smtp-sink-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}
