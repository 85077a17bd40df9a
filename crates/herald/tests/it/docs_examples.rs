//! The worked examples of the user documentation (`docs/*.md`), run against a real server, so
//! that the pages cannot drift from what Herald does.
//!
//! Each page gets a fresh data dir (`./herald-data` in the directory the examples run in, as
//! for a reader who starts Herald where they build it) and a server started the way
//! `docs/getting-started.md` tells readers to start one for these pages: with the dev clock at
//! 2026-01-01 00:00 UTC and webhooks allowed to reach this machine. The server's first start
//! prints the workspace's keys, which become `$SITE_ID`, `$API_KEY`, `$APP_KEY` and
//! `$WRITE_KEY`; `$HERALD` is its address, and a webhook receiver stands where the pages have
//! readers start one (`http://127.0.0.1:9000`). Then every step of the page runs in order (see
//! `markdown.rs` for the convention and `compare.rs` for the placeholders), and the first answer
//! that differs fails the test with the page's line.

mod compare;
mod links;
mod markdown;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::helpers::{Server, herald_binary, postgres_for};
use crate::receiver::Receiver;
use compare::{json_difference, json_values, text_matches};
use markdown::{Expected, Format, Step};

/// The flags every page's server gets, as `docs/getting-started.md` gives them: the dev clock
/// starts at 2026-01-01 00:00:00 UTC.
const SERVE_FLAGS: [&str; 3] = [
    "--dev-clock=1767225600",
    "--webhook-allow-networks",
    "127.0.0.0/8",
];

/// The addresses the pages show: Herald's default listen address, and where
/// `docs/campaigns.md` has readers run a webhook receiver. Outputs show these instead of the
/// run's real ones, and a block's commands reach the run's receiver at the address shown.
const SHOWN_HERALD: &str = "http://127.0.0.1:8080";
const SHOWN_RECEIVER: &str = "http://127.0.0.1:9000";

/// The pages that hold tested examples. Every page in `docs/` is here or in `UNTESTED`.
const PAGES: [&str; 8] = [
    "getting-started.md",
    "track-api.md",
    "app-api.md",
    "segments.md",
    "campaigns.md",
    "dev-clock.md",
    "configuration.md",
    "operating.md",
];

/// Pages without examples to run: measurements and design notes, not how to use the APIs.
const UNTESTED: [&str; 2] = ["benchmarks.md", "scaling.md"];

/// Where a page's blocks keep their shell variables between blocks (the directory they run in).
const STATE_FILE: &str = ".doctest-state";

/// How long one block may run: far more than any example takes, so that a hung command fails
/// the test instead of holding it.
const BLOCK_TIMEOUT: Duration = Duration::from_secs(60);

fn docs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

/// A page's examples, their server, and the shell state they share.
struct Run {
    page: String,
    dir: tempfile::TempDir,
    server: Server,
    receiver: Receiver,
    received: usize,
    keys: Vec<(&'static str, String)>,
}

impl Run {
    async fn start(page: &str) -> Run {
        let dir = tempfile::tempdir().expect("temporary dir");
        let server = Server::start(&dir.path().join("herald-data"), &SERVE_FLAGS);
        // A reader runs the pages against a server started a while ago, whose engine has long
        // loaded; a page's first `/readyz` must not race the load.
        server.until_ready().await;
        let keys = keys_of(page, &server.banner);
        std::fs::write(dir.path().join(STATE_FILE), "").expect("the shell's state file");
        Run {
            page: page.to_owned(),
            dir,
            server,
            receiver: Receiver::start().await,
            received: 0,
            keys,
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("herald-data")
    }

    /// Replaces this run's addresses by the ones the pages show.
    fn shown(&self, text: &str) -> String {
        text.replace(&self.server.base_url, SHOWN_HERALD)
            .replace(&self.receiver.base_url, SHOWN_RECEIVER)
    }

    fn fail(&self, line: usize, message: &str) -> ! {
        panic!("docs/{}:{line}: {message}", self.page)
    }

    /// Runs one shell block with the page's variables and the state earlier blocks left; the
    /// `herald` on its PATH is the binary under test, on the suite's backend.
    async fn run(&self, line: usize, script: &str) -> String {
        // The pages' receiver address stands for this run's receiver.
        let script = script.replace(SHOWN_RECEIVER, &self.receiver.base_url);
        // `set -a` exports every variable a block sets, and the state file keeps them and the
        // block's functions for the next block, as a reader's shell would. `$HERALD` is set
        // after the state is read, since a restart may have moved the server.
        let wrapped = format!(
            "set -a\n. \"$DOCTEST_STATE\"\nHERALD={herald}\nset -eo pipefail\n{script}\n{{ export -p | grep -Ev '^declare -[a-zA-Z]*r'; declare -f; }} > \"$DOCTEST_STATE\"\n",
            herald = self.server.base_url,
        );
        let path = format!(
            "{}:{}",
            herald_binary()
                .parent()
                .expect("the binary's dir")
                .display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = tokio::process::Command::new("bash");
        command
            .args(["--noprofile", "--norc", "-c", &wrapped])
            .current_dir(self.dir.path())
            .env("PATH", path)
            .env("HERALD_LOG", "warn")
            .env("DOCTEST_STATE", self.dir.path().join(STATE_FILE))
            .env_remove("HERALD_DEV_CLOCK")
            .env_remove("HERALD_DATA_DIR")
            .env_remove("HERALD_CONFIG")
            // A reader's error messages carry no backtrace.
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE")
            .kill_on_drop(true);
        for (name, value) in &self.keys {
            command.env(name, value);
        }
        match postgres_for(&self.data_dir()) {
            Some((url, schema)) => {
                command
                    .env("HERALD_DATABASE_URL", url)
                    .env("HERALD_DATABASE_SCHEMA", schema);
            }
            None => {
                command
                    .env_remove("HERALD_DATABASE_URL")
                    .env_remove("HERALD_DATABASE_SCHEMA");
            }
        }
        let output = tokio::time::timeout(BLOCK_TIMEOUT, command.output())
            .await
            .unwrap_or_else(|_| self.fail(line, "the block did not finish within a minute"))
            .expect("bash runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            self.fail(
                line,
                &format!(
                    "the block failed ({}).\n--- stdout\n{stdout}\n--- stderr\n{}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr)
                ),
            );
        }
        self.shown(&stdout)
    }

    fn compare(&self, expected: &Expected, actual: &str, what: &str) {
        let difference =
            match expected.format {
                Format::Text => {
                    (!text_matches(&expected.text, actual)).then(|| "the text differs".to_owned())
                }
                Format::Json => {
                    let wanted = json_values(&expected.text).unwrap_or_else(|error| {
                        self.fail(expected.line, &format!("the page's block is {error}"))
                    });
                    match json_values(actual) {
                        Err(error) => Some(format!("the answer is {error}")),
                        Ok(got) if got.len() != wanted.len() => {
                            Some(format!("{} JSON values, not {}", got.len(), wanted.len()))
                        }
                        Ok(got) => wanted.iter().zip(&got).enumerate().find_map(
                            |(index, (value, found))| {
                                json_difference(value, found, &format!("${index}"))
                            },
                        ),
                    }
                }
            };
        if let Some(difference) = difference {
            self.fail(
                expected.line,
                &format!(
                    "{what} differs from the page: {difference}\n--- the page\n{}\n--- {what}\n{actual}",
                    expected.text
                ),
            );
        }
    }

    /// What the server printed when it started: the banner and its address line.
    fn first_start(&self) -> String {
        let mut text = self.server.banner.join("\n");
        text.push_str(&format!("\nherald listening on {}\n", self.server.base_url));
        self.shown(&text)
    }

    async fn restart(&mut self) {
        self.server.stop();
        self.server = Server::start(&self.data_dir(), &SERVE_FLAGS);
        self.server.until_ready().await;
    }

    async fn step(&mut self, step: &Step) {
        match step {
            Step::Run {
                line,
                script,
                expected,
            } => {
                let stdout = self.run(*line, script).await;
                if let Some(expected) = expected {
                    self.compare(expected, &stdout, "the output");
                }
            }
            Step::Restart { .. } => self.restart().await,
            Step::FirstStart(expected) => {
                let printed = self.first_start();
                self.compare(expected, &printed, "what the first start printed");
            }
            Step::Received(expected) => {
                let requests = self.receiver.wait_for(self.received + 1).await;
                let body = self.shown(&requests[self.received].body);
                self.received += 1;
                self.compare(expected, &body, "the body the receiver got");
            }
        }
    }
}

/// The keys the first start printed, as the variables the pages use.
fn keys_of(page: &str, banner: &[String]) -> Vec<(&'static str, String)> {
    let labels = [
        ("SITE_ID", "site id:"),
        ("API_KEY", "Track API key:"),
        ("APP_KEY", "App API key:"),
        ("WRITE_KEY", "Pipelines write key:"),
    ];
    labels
        .iter()
        .map(|(name, label)| {
            let value = banner
                .iter()
                .find_map(|line| line.trim().strip_prefix(label))
                .unwrap_or_else(|| {
                    panic!("docs/{page}: the first start printed no {label} {banner:?}")
                });
            (*name, value.trim().to_owned())
        })
        .collect()
}

/// Runs every tested example of `docs/{page}` in order.
async fn run_page(page: &str) {
    let text = std::fs::read_to_string(docs_dir().join(page))
        .unwrap_or_else(|error| panic!("docs/{page}: {error}"));
    let steps = markdown::steps(&text).unwrap_or_else(|error| panic!("docs/{page}: {error}"));
    assert!(
        steps.iter().any(|step| matches!(step, Step::Run { .. })),
        "docs/{page} has no tested example (a ```sh test block)"
    );
    let mut run = Run::start(page).await;
    for step in &steps {
        run.step(step).await;
    }
}

#[test]
fn every_page_in_docs_is_tested() {
    let mut pages: Vec<String> = std::fs::read_dir(docs_dir())
        .expect("docs/")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".md"))
        .collect();
    pages.sort();
    for page in pages {
        assert!(
            PAGES.contains(&page.as_str()) || UNTESTED.contains(&page.as_str()),
            "docs/{page} is in neither PAGES nor UNTESTED of tests/it/docs_examples.rs"
        );
    }
}

#[test]
fn every_link_between_pages_resolves() {
    let mut pages = vec![docs_dir().join("../README.md")];
    pages.extend(PAGES.iter().map(|page| docs_dir().join(page)));
    let broken: Vec<String> = pages
        .iter()
        .flat_map(|page| {
            let name = page
                .file_name()
                .expect("a page")
                .to_string_lossy()
                .into_owned();
            links::broken(page)
                .into_iter()
                .map(move |link| format!("{name}: {link}"))
        })
        .collect();
    assert!(broken.is_empty(), "links that lead nowhere: {broken:#?}");
}

#[tokio::test]
async fn docs_getting_started() {
    run_page("getting-started.md").await;
}

#[tokio::test]
async fn docs_track_api() {
    run_page("track-api.md").await;
}

#[tokio::test]
async fn docs_app_api() {
    run_page("app-api.md").await;
}

#[tokio::test]
async fn docs_segments() {
    run_page("segments.md").await;
}

#[tokio::test]
async fn docs_campaigns() {
    run_page("campaigns.md").await;
}

#[tokio::test]
async fn docs_dev_clock() {
    run_page("dev-clock.md").await;
}

#[tokio::test]
async fn docs_configuration() {
    run_page("configuration.md").await;
}

#[tokio::test]
async fn docs_operating() {
    run_page("operating.md").await;
}
