//! `herald import FILE…`: loads people and events into a running server's workspace.
//!
//! Each file is read in steps of up to 8,000 lines (`source.rs`), sent in order to the
//! server's `POST /api/v2/import`, which applies a step like a v2 batch but starts no
//! campaign, and records in the same commit the line the import stands at. The import's id
//! is made from the file's name, size and first bytes, so running the same command again
//! after an interruption asks the server where the import stands and goes on from there: no
//! line is applied twice, none is left out. A thread reads the next steps (an NDJSON line is
//! checked to be JSON and sent as it is), and four steps are in flight at once, so that the
//! server decodes and checks the next while its writer applies the first (sent one at a time,
//! an import took twice as long as the same operations through the v2 batch API on four
//! connections). Steps are larger than a v2 batch: with 8,000 lines an import measured 6–21%
//! faster than the v2 loader, with 2,000 about as fast (docs/benchmarks.md), most likely
//! because a larger transaction writes each page of the per-person index once for more events.

mod csv_rows;
mod source;

use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub use csv_rows::CsvKind;
pub use source::STEP_LINES;
use source::{Format, Step, read_steps};

use crate::server_target::ServerTarget;

/// Invalid lines printed one by one; the rest are only counted.
const LISTED_BAD_LINES: usize = 100;
/// Attempts at one step while the server is unreachable or busy.
const STEP_ATTEMPTS: u32 = 8;
/// Steps sent before the first of them is answered.
const STEPS_IN_FLIGHT: usize = 4;

/// What one file's import did.
#[derive(Debug, Default, serde::Serialize)]
pub struct FileReport {
    pub file: PathBuf,
    pub import_id: String,
    /// The line the import stood at before this run.
    pub resumed_at: u64,
    /// Lines this run read and the server committed.
    pub lines: u64,
    /// Operations applied.
    pub imported: u64,
    /// Lines that were skipped because they were not valid operations.
    pub invalid: u64,
    pub seconds: f64,
}

/// The options of one `herald import`.
pub struct ImportOptions {
    pub files: Vec<PathBuf>,
    pub csv_kind: Option<CsvKind>,
    pub json: bool,
    /// Lines at most in one step ([`STEP_LINES`] unless a test wants more, smaller steps).
    pub step_lines: usize,
}

pub fn run(target: ServerTarget, options: ImportOptions) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()?;
    eprintln!(
        "importing into the workspace {:?} at {} (imported events start no campaign)",
        target.workspace, target.url
    );
    let mut reports = Vec::new();
    let mut invalid_total = 0;
    for file in &options.files {
        let report = runtime.block_on(import_file(
            &client,
            &target,
            file,
            options.csv_kind,
            options.step_lines,
        ))?;
        invalid_total += report.invalid;
        if !options.json {
            println!(
                "{}: {} lines, {} operations imported, {} invalid{} in {:.1} s ({:.0} lines/s)",
                file.display(),
                report.lines,
                report.imported,
                report.invalid,
                if report.resumed_at > 0 {
                    format!(", resumed after line {}", report.resumed_at)
                } else {
                    String::new()
                },
                report.seconds,
                report.lines as f64 / report.seconds.max(0.001)
            );
        }
        reports.push(report);
    }
    if options.json {
        println!("{}", serde_json::to_string(&json!({"files": reports}))?);
    }
    if invalid_total > 0 {
        eprintln!(
            "{invalid_total} invalid lines were skipped (listed above); the rest is imported"
        );
    }
    Ok(())
}

/// An import's id: the file's name, then a hash of its size and first 64 KiB, so that the
/// same file resumes its own import and a different file starts a new one.
fn import_id(path: &Path) -> anyhow::Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = file.metadata()?.len();
    let mut head = vec![0_u8; 64 * 1024];
    let mut filled = 0;
    while filled < head.len() {
        let read = file.read(&mut head[filled..])?;
        if read == 0 {
            break;
        }
        filled += read;
    }
    let mut hasher = Sha256::new();
    hasher.update(size.to_le_bytes());
    hasher.update(&head[..filled]);
    let hash = hex::encode(&hasher.finalize()[..8]);
    let stem: String = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("import")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(64)
        .collect();
    Ok(format!("{stem}-{hash}"))
}

async fn import_file(
    client: &reqwest::Client,
    target: &ServerTarget,
    path: &Path,
    csv_kind: Option<CsvKind>,
    step_lines: usize,
) -> anyhow::Result<FileReport> {
    let started = Instant::now();
    let id = import_id(path)?;
    let format = Format::of(path, csv_kind);
    let total_bytes = std::fs::metadata(path)?.len();
    let status = match send(client, target, |client| {
        client.get(format!("{}/api/v2/import/{id}", target.url))
    })
    .await?
    {
        StepAnswer::Done(status) => status,
        StepAnswer::OutOfOrder(message) => bail!("the server refused the import: {message}"),
    };
    let resumed_at = status["line"].as_u64().unwrap_or(0);
    if resumed_at > 0 {
        eprintln!(
            "{}: going on after line {resumed_at}, where an earlier run of this import stopped",
            path.display()
        );
    }
    let bar = progress_bar(total_bytes, path);
    // The reader runs ahead by at most two steps, each read and serialized on its thread.
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<(Step, Vec<u8>)>(2);
    let reader_path = path.to_owned();
    let reader_id = id.clone();
    let reader = std::thread::spawn(move || {
        read_steps(&reader_path, format, resumed_at, step_lines, &mut |step| {
            let body = step_body(&reader_id, &step);
            sender.blocking_send((step, body)).is_ok()
        })
    });
    let mut report = FileReport {
        file: path.to_owned(),
        import_id: id.clone(),
        resumed_at,
        ..FileReport::default()
    };
    let mut listed = 0;
    let outcome = async {
        // Steps in flight, oldest first: the server decodes and checks the next ones while the
        // writer applies the first. They are answered in order, and one that reached the
        // writer before the step ahead of it (`409`) is sent again once that one is applied.
        let mut in_flight: VecDeque<InFlight> = VecDeque::new();
        loop {
            let next = if in_flight.len() < STEPS_IN_FLIGHT {
                receiver.recv().await
            } else {
                None
            };
            match next {
                Some((step, body)) => {
                    for bad in &step.bad {
                        list_bad(&bar, path, bad.line, &bad.message, &mut listed);
                    }
                    report.invalid += step.bad.len() as u64;
                    let sending = tokio::spawn(send_step(
                        client.clone(),
                        target.clone(),
                        (id.clone(), step.first_line),
                        body.clone(),
                    ));
                    in_flight.push_back(InFlight { step, body, sending });
                }
                None => {
                    let Some(first) = in_flight.pop_front() else {
                        break;
                    };
                    let answer = match first.sending.await?? {
                        StepAnswer::Done(answer) => answer,
                        StepAnswer::OutOfOrder(_) => {
                            match send_step(
                                client.clone(),
                                target.clone(),
                                (id.clone(), first.step.first_line),
                                first.body,
                            )
                            .await?
                            {
                                StepAnswer::Done(answer) => answer,
                                StepAnswer::OutOfOrder(message) => bail!(
                                    "the server refused the import: {message}; is another `herald import` of this file running?"
                                ),
                            }
                        }
                    };
                    let step = first.step;
                    let errors = answer["errors"].as_array().cloned().unwrap_or_default();
                    for error in &errors {
                        let line = error["batch_index"]
                            .as_u64()
                            .and_then(|index| step.lines.get(index as usize).copied())
                            .unwrap_or(step.first_line + 1);
                        let message = error["message"].as_str().unwrap_or("invalid operation");
                        list_bad(&bar, path, line, message, &mut listed);
                    }
                    report.invalid += errors.len() as u64;
                    if answer["applied"] == json!(true) {
                        report.imported += (step.operations.len() - errors.len()) as u64;
                    }
                    report.lines += step.end_line - step.first_line;
                    bar.set_position(step.bytes_read);
                    let seconds = started.elapsed().as_secs_f64().max(0.001);
                    bar.set_message(format!(
                        "{} lines, {:.0} lines/s",
                        resumed_at + report.lines,
                        report.lines as f64 / seconds
                    ));
                }
            }
        }
        anyhow::Ok(())
    }
    .await;
    bar.finish_and_clear();
    // The reader ends once the channel is gone, whatever happened above.
    drop(receiver);
    let read = reader
        .join()
        .map_err(|_| anyhow::anyhow!("the file reader panicked"))?;
    outcome?;
    read?;
    if listed > LISTED_BAD_LINES {
        eprintln!(
            "{}: {} more invalid lines not listed",
            path.display(),
            listed - LISTED_BAD_LINES
        );
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn list_bad(bar: &ProgressBar, path: &Path, line: u64, message: &str, listed: &mut usize) {
    *listed += 1;
    if *listed <= LISTED_BAD_LINES {
        bar.suspend(|| eprintln!("{}:{line}: {message}", path.display()));
    }
}

/// The progress bar on stderr: how far into the file, lines per second and the time left.
/// indicatif draws nothing when stderr is not a terminal.
fn progress_bar(total_bytes: u64, path: &Path) -> ProgressBar {
    let bar = ProgressBar::new(total_bytes);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {percent:>3}% {msg} ({eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(
        path.file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("import")
            .to_owned(),
    );
    bar
}

/// Sends a request with the workspace's Track API credentials and returns its JSON answer.
/// A server that cannot be reached, or is busy (`503`, `429`), is tried again with backoff:
/// each step is applied at most once whatever the number of attempts. Any other refusal ends
/// the import with the server's message.
/// The body of `POST /api/v2/import` for a step, written around the operations' own JSON text.
fn step_body(import_id: &str, step: &Step) -> Vec<u8> {
    let size: usize = step
        .operations
        .iter()
        .map(|operation| operation.len() + 1)
        .sum();
    let mut body = Vec::with_capacity(size + 128);
    body.extend_from_slice(
        format!(
            "{{\"import_id\":{},\"first_line\":{},\"end_line\":{},\"batch\":[",
            Value::String(import_id.to_owned()),
            step.first_line,
            step.end_line
        )
        .as_bytes(),
    );
    for (index, operation) in step.operations.iter().enumerate() {
        if index > 0 {
            body.push(b',');
        }
        body.extend_from_slice(operation.as_bytes());
    }
    body.extend_from_slice(b"]}");
    body
}

/// A step in flight: its lines, its body (kept to send it again) and the request.
struct InFlight {
    step: Step,
    body: Vec<u8>,
    sending: tokio::task::JoinHandle<anyhow::Result<StepAnswer>>,
}

/// The server's answer to a request of the import.
enum StepAnswer {
    Done(Value),
    /// `409`: the step is not the next one of the import; the server's message says where it
    /// stands.
    OutOfOrder(String),
}

/// Sends one step's body to `POST /api/v2/import`.
async fn send_step(
    client: reqwest::Client,
    target: ServerTarget,
    order: (String, u64),
    body: Vec<u8>,
) -> anyhow::Result<StepAnswer> {
    // The query repeats the step's import and first line, so that the server puts the step in
    // order before it decodes the body.
    let (import_id, first_line) = (order.0, order.1.to_string());
    send(&client, &target, |client| {
        client
            .post(format!("{}/api/v2/import", target.url))
            .query(&[
                ("import_id", import_id.as_str()),
                ("first_line", first_line.as_str()),
            ])
            .header("content-type", "application/json")
            .body(body.clone())
    })
    .await
}

async fn send(
    client: &reqwest::Client,
    target: &ServerTarget,
    request: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
) -> anyhow::Result<StepAnswer> {
    let mut wait = Duration::from_millis(250);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let sent = request(client)
            .basic_auth(&target.site_id, Some(&target.api_key))
            .send()
            .await;
        let retry = match sent {
            Ok(answer) if answer.status().is_success() => {
                return answer
                    .json::<Value>()
                    .await
                    .map(StepAnswer::Done)
                    .context("the server's answer is not JSON");
            }
            Ok(answer) if answer.status() == reqwest::StatusCode::CONFLICT => {
                let body: Value = answer.json().await.unwrap_or(Value::Null);
                let message = body["meta"]["error"].as_str().unwrap_or("out of order");
                return Ok(StepAnswer::OutOfOrder(message.to_owned()));
            }
            Ok(answer)
                if answer.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE
                    || answer.status() == reqwest::StatusCode::TOO_MANY_REQUESTS =>
            {
                format!("the server is busy ({})", answer.status())
            }
            Ok(answer) => {
                let status = answer.status();
                let body: Value = answer.json().await.unwrap_or(Value::Null);
                let message = body["meta"]["error"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| body.to_string());
                if status == reqwest::StatusCode::NOT_FOUND {
                    bail!(
                        "the server at {} has no import endpoint ({status}): is it a Herald of this version?",
                        target.url
                    );
                }
                bail!("the server refused the import ({status}): {message}");
            }
            Err(error) => format!("cannot reach the server at {}: {error}", target.url),
        };
        if attempt >= STEP_ATTEMPTS {
            bail!("{retry}; run the same command again to go on where the import stopped");
        }
        tracing::warn!("{retry}; trying again in {} ms", wait.as_millis());
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(10));
    }
}
