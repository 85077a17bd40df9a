//! Starting a real server and talking to it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The `herald` binary Cargo built for these tests.
pub fn herald_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_herald"))
}

/// A `herald` command on the suite's backend for `data_dir`: the embedded SQLite file in it, or,
/// when `HERALD_TEST_BACKEND=postgres`, a schema of its own (named after the data dir, so every
/// command and server on one data dir shares it) in `HERALD_TEST_DATABASE_URL`'s database, the
/// machine's PostgreSQL by default. `scripts/test` runs the suite both ways.
pub fn herald(data_dir: &Path) -> Command {
    let mut command = herald_embedded();
    if let Some((url, schema)) = postgres_for(data_dir) {
        command
            .env("HERALD_DATABASE_URL", url)
            .env("HERALD_DATABASE_SCHEMA", schema);
        // `HERALD_TEST_CLUSTER=1` runs every server as one of several (`--cluster`), alone.
        if std::env::var("HERALD_TEST_CLUSTER").as_deref() == Ok("1") {
            command.env("HERALD_CLUSTER", "true");
            hold_own_partitions_only(&mut command);
        }
    }
    command
}

/// Whether the suite runs each cluster-mode server with an engine that holds only the people of
/// its partitions: `HERALD_TEST_OWN_PARTITIONS=1`.
pub fn own_partitions_only() -> bool {
    std::env::var("HERALD_TEST_OWN_PARTITIONS").as_deref() == Ok("1")
}

/// Has a cluster-mode `command` hold only its partitions' people when the suite asks for it.
pub fn hold_own_partitions_only(command: &mut Command) {
    if own_partitions_only() {
        command.env("HERALD_OWN_PARTITIONS_ONLY", "true");
    }
}

/// A `herald` command on the embedded SQLite file of its data dir, whatever backend the suite
/// runs on (for tests of the embedded install itself, such as `herald copy`'s source).
pub fn herald_embedded() -> Command {
    let mut command = Command::new(herald_binary());
    command
        .env_remove("HERALD_DATABASE_URL")
        .env_remove("HERALD_DATABASE_SCHEMA");
    command
}

/// The database URL and schema the suite uses for `data_dir`, when it runs on PostgreSQL.
pub fn postgres_for(data_dir: &Path) -> Option<(String, String)> {
    match std::env::var("HERALD_TEST_BACKEND").as_deref() {
        Ok("postgres") => {}
        Ok("sqlite") | Err(_) => return None,
        Ok(other) => panic!("HERALD_TEST_BACKEND is sqlite or postgres, not {other:?}"),
    }
    let url = std::env::var("HERALD_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=test".into());
    // FNV-1a of the path: a stable, valid schema name per data dir.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in data_dir.as_os_str().as_encoded_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    Some((url, format!("herald_it_{hash:016x}")))
}

/// Credentials printed by `herald workspace create NAME --json`.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub id: i64,
    pub site_id: String,
    pub api_key: String,
    pub app_api_key: String,
    pub write_key: String,
}

/// Runs `herald workspace create NAME --json` on a data dir.
pub fn create_workspace(data_dir: &Path, name: &str) -> Workspace {
    create_workspace_with(herald(data_dir), data_dir, name)
}

/// Runs `herald workspace create NAME --json` on a data dir with `command`'s backend.
pub fn create_workspace_with(mut command: Command, data_dir: &Path, name: &str) -> Workspace {
    let output = command
        .args(["workspace", "create", name, "--json", "--data-dir"])
        .arg(data_dir)
        .output()
        .expect("herald runs");
    assert!(
        output.status.success(),
        "workspace create failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value: Value = serde_json::from_slice(&output.stdout).expect("JSON credentials");
    Workspace {
        id: value["id"].as_i64().expect("id"),
        site_id: value["site_id"].as_str().expect("site_id").to_owned(),
        api_key: value["api_key"].as_str().expect("api_key").to_owned(),
        app_api_key: value["app_api_key"]
            .as_str()
            .expect("app_api_key")
            .to_owned(),
        write_key: value["write_key"].as_str().expect("write_key").to_owned(),
    }
}

/// A running `herald serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub base_url: String,
    pub data_dir: PathBuf,
    /// Lines the server printed to stdout before it listened.
    pub banner: Vec<String>,
    /// Lines it printed after (the web UI's setup link), as they come.
    pub later: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// Starts a server on a random port with extra flags and waits until it listens.
    pub fn start(data_dir: &Path, extra_args: &[&str]) -> Server {
        Self::start_with(herald(data_dir), data_dir, extra_args)
    }

    /// Starts `herald serve` from `command` (a `herald` command with its backend chosen).
    pub fn start_with(command: Command, data_dir: &Path, extra_args: &[&str]) -> Server {
        Self::launch(command, data_dir, extra_args, "warn", Stdio::inherit())
    }

    /// Starts a server that logs at info, every request included, to the file `log`.
    pub fn start_logging(data_dir: &Path, extra_args: &[&str], log: &Path) -> Server {
        let file = std::fs::File::create(log).expect("the log file");
        Self::launch(
            herald(data_dir),
            data_dir,
            extra_args,
            "info",
            Stdio::from(file),
        )
    }

    fn launch(
        mut command: Command,
        data_dir: &Path,
        extra_args: &[&str],
        log_level: &str,
        stderr: Stdio,
    ) -> Server {
        let mut child = command
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra_args)
            .env("HERALD_LOG", log_level)
            .env_remove("HERALD_DEV_CLOCK")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("herald serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        let later = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = later.clone();
        std::thread::spawn(move || {
            let mut banner = Vec::new();
            let mut listening = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("herald listening on ") {
                    let _ = sender.send(Ok((url.to_owned(), banner.clone())));
                    banner.clear();
                    listening = true;
                } else if listening {
                    kept.lock().expect("the output's lock").push(line);
                } else {
                    banner.push(line);
                }
            }
            let _ = sender.send(Err(()));
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let (base_url, banner) = receiver
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the server printed its address")
            .expect("the server started");
        Server {
            child,
            base_url,
            data_dir: data_dir.to_owned(),
            banner,
            later,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Polls `/readyz` until it says ready and returns that answer; every answer before must be
    /// a 503 that says the server is not ready. A server listens before its segment engine has
    /// loaded, and on a busy machine even an empty store's load can outlast a test's first step.
    pub async fn until_ready(&self) -> Value {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let response = client
                .get(self.url("/readyz"))
                .send()
                .await
                .expect("an answer");
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("JSON");
            if status == 200 {
                return body;
            }
            assert_eq!(status, 503, "{body}");
            assert_eq!(body["status"], "not_ready", "{body}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the server did not become ready within a minute");
    }

    /// Stops the server with SIGTERM, as an operator would, and waits until it exited.
    pub fn stop(&mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let exited = self.child.wait().expect("the server exits");
        assert!(exited.success(), "the server stopped with {exited}");
    }

    /// Kills the server with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A fresh data dir, a workspace in it, and a server on it.
pub struct TestApp {
    pub server: Server,
    pub workspace: Workspace,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(&[]).await
    }

    pub async fn spawn_with(extra_args: &[&str]) -> TestApp {
        let dir = tempfile::tempdir().expect("temporary dir");
        let workspace = create_workspace(dir.path(), "test");
        let server = Server::start(dir.path(), extra_args);
        TestApp {
            server,
            workspace,
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// A server started on its own data dir `dir`, serving `workspace` (one of several servers
    /// on one database).
    pub fn on(server: Server, workspace: Workspace, dir: tempfile::TempDir) -> TestApp {
        TestApp {
            server,
            workspace,
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// Like `spawn_with`, on the embedded SQLite file whatever backend the suite runs on.
    pub async fn spawn_embedded(extra_args: &[&str]) -> TestApp {
        let dir = tempfile::tempdir().expect("temporary dir");
        let workspace = create_workspace_with(herald_embedded(), dir.path(), "test");
        let server = Server::start_with(herald_embedded(), dir.path(), extra_args);
        TestApp {
            server,
            workspace,
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// Sends a Track API request with Basic auth and a JSON body; returns status and body.
    pub async fn track(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, self.url(path))
            .basic_auth(&self.workspace.site_id, Some(&self.workspace.api_key));
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.expect("request sent")).await
    }

    /// Sends a raw Track API request with a given content type.
    pub async fn track_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let request = self
            .client
            .request(method, self.url(path))
            .basic_auth(&self.workspace.site_id, Some(&self.workspace.api_key))
            .header("content-type", content_type)
            .body(body);
        read(request.send().await.expect("request sent")).await
    }

    /// Sends a Data Pipelines API call with Basic `write_key:`; `strict` adds `X-Strict-Mode: 1`.
    pub async fn pipelines(&self, path: &str, body: Value, strict: bool) -> (u16, Value) {
        let mut request = self
            .client
            .post(self.url(path))
            .basic_auth(&self.workspace.write_key, Some(""))
            .json(&body);
        if strict {
            request = request.header("x-strict-mode", "1");
        }
        read(request.send().await.expect("request sent")).await
    }

    /// Sends an App API GET with the Bearer key.
    pub async fn app_get(&self, path: &str) -> (u16, Value) {
        let request = self
            .client
            .get(self.url(path))
            .bearer_auth(&self.workspace.app_api_key);
        read(request.send().await.expect("request sent")).await
    }

    /// Sends an App API POST with the Bearer key.
    pub async fn app_post(&self, path: &str, body: Value) -> (u16, Value) {
        let request = self
            .client
            .post(self.url(path))
            .bearer_auth(&self.workspace.app_api_key)
            .json(&body);
        read(request.send().await.expect("request sent")).await
    }

    /// Sends an App API DELETE with the Bearer key.
    pub async fn app_delete(&self, path: &str) -> (u16, Value) {
        let request = self
            .client
            .delete(self.url(path))
            .bearer_auth(&self.workspace.app_api_key);
        read(request.send().await.expect("request sent")).await
    }

    /// Returns every activity of the last 30 days in the workspace, oldest first.
    pub async fn all_activities(&self, filter: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut start = String::new();
        loop {
            let (status, page) = self
                .app_get(&format!("/v1/activities?limit=100&start={start}{filter}"))
                .await;
            assert_eq!(status, 200, "{page}");
            all.extend(
                page["activities"]
                    .as_array()
                    .expect("activities")
                    .iter()
                    .cloned(),
            );
            start = page["next"].as_str().unwrap_or_default().to_owned();
            if start.is_empty() {
                break;
            }
        }
        all.reverse();
        all
    }
}

async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

/// Moves the server's dev clock (`--dev-clock` must be on).
pub async fn set_clock(app: &TestApp, now: i64) {
    let (status, body) = app.app_post("/v1/_dev/clock", json!({"now": now})).await;
    assert_eq!(status, 200, "{body}");
}

/// Tracks an event of an identified person and expects a 200.
pub async fn event(app: &TestApp, person: &str, body: Value) {
    let (status, response) = app
        .track(
            reqwest::Method::POST,
            &format!("/api/v1/customers/{person}/events"),
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{response}");
}

/// Identifies a person and expects a 200.
pub async fn identify(app: &TestApp, person: &str, body: Value) {
    let (status, response) = app
        .track(
            reqwest::Method::PUT,
            &format!("/api/v1/customers/{person}"),
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{response}");
}
