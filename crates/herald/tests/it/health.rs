//! Health endpoints, without a key: `/healthz` while the process serves, `/readyz` once the
//! store answers and the segment engine has loaded the stored history, through a restart.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Server, TestApp, create_workspace_with, event};

async fn readiness(app: &TestApp) -> (u16, Value) {
    let response = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("an answer");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

/// `/healthz` answers `ok`.
async fn assert_alive(app: &TestApp) {
    let alive = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(alive.status(), 200);
    assert_eq!(alive.text().await.expect("text"), "ok");
}

#[tokio::test]
async fn health_and_readiness_answer_without_a_key_through_a_restart() {
    let mut app = TestApp::spawn().await;
    assert_alive(&app).await;
    let ready = app.server.until_ready().await;
    assert_eq!(
        ready,
        json!({"status": "ready", "checks": {"store": "ok", "segment_engine": "loaded"}})
    );
    event(&app, "ann", json!({"name": "login"})).await;
    app.server.stop();
    let data_dir = app.server.data_dir.clone();
    app.server = Server::start(&data_dir, &[]);
    assert_eq!(app.server.until_ready().await["status"], "ready");
}

/// A session of its own that holds tables locked until dropped.
struct TableLock {
    url: String,
    schema: String,
    application: String,
    psql: std::process::Child,
}

impl TableLock {
    /// Locks `tables` of `schema` in ACCESS EXCLUSIVE mode and waits until the lock is held.
    fn hold(url: &str, schema: &str, tables: &[&str]) -> Self {
        let application = format!("herald_it_lock_{}", std::process::id());
        let tables: Vec<String> = tables
            .iter()
            .map(|table| format!("{schema}.{table}"))
            .collect();
        let psql = std::process::Command::new("psql")
            .args([url, "-X", "-q", "-c"])
            .arg(format!(
                "BEGIN; LOCK TABLE {} IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);",
                tables.join(", ")
            ))
            .env("PGAPPNAME", &application)
            .stdout(std::process::Stdio::null())
            // Its end, terminated by the test, is no failure.
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("psql runs");
        let lock = Self {
            url: url.to_owned(),
            schema: schema.to_owned(),
            application,
            psql,
        };
        for _ in 0..200 {
            let held = crate::database::psql_in(
                &lock.url,
                &lock.schema,
                &format!(
                    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                     WHERE a.application_name = '{}' AND l.mode = 'AccessExclusiveLock' \
                     AND l.granted",
                    lock.application
                ),
            );
            if held.trim() != "0" {
                return lock;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("the lock was never granted");
    }
}

impl Drop for TableLock {
    fn drop(&mut self) {
        crate::database::psql_in(
            &self.url,
            &self.schema,
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = '{}'",
                self.application
            ),
        );
        let _ = self.psql.kill();
        let _ = self.psql.wait();
    }
}

/// On PostgreSQL, whatever backend the rest of the suite runs on: while another session holds
/// the people and activity tables locked, the segment engine cannot read the stored history,
/// and `/readyz` answers 503 saying so, while `/healthz` and the store's check answer; once
/// the lock is gone the engine loads and `/readyz` answers 200.
#[tokio::test]
async fn readiness_is_refused_while_the_engine_cannot_load() {
    let (url, schema) = crate::nodes::schema();
    let dir = tempfile::tempdir().expect("a temporary dir");
    let workspace =
        create_workspace_with(crate::nodes::herald_on(&url, &schema), dir.path(), "ready");
    let lock = TableLock::hold(&url, &schema, &["people", "activities"]);
    let server = Server::start_with(crate::nodes::herald_on(&url, &schema), dir.path(), &[]);
    let app = TestApp::on(server, workspace, dir);
    assert_alive(&app).await;
    // Several answers over half a second: the engine stays loading as long as the lock holds.
    for _ in 0..5 {
        let (status, body) = readiness(&app).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(
            body,
            json!({"status": "not_ready",
                "checks": {"store": "ok", "segment_engine": "loading the stored history"}})
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(lock);
    assert_eq!(
        app.server.until_ready().await,
        json!({"status": "ready", "checks": {"store": "ok", "segment_engine": "loaded"}})
    );
}
