//! Health endpoints, without a key: `/healthz` while the process serves, `/readyz` once the
//! store answers and the segment engine has loaded the stored history, through a restart.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Server, TestApp, event};

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

/// Polls `/readyz` until it says ready; every answer before is a 503 that says why.
async fn until_ready(app: &TestApp) -> Value {
    for _ in 0..400 {
        let (status, body) = readiness(app).await;
        if status == 200 {
            return body;
        }
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["status"], "not_ready", "{body}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the server never became ready");
}

#[tokio::test]
async fn health_and_readiness_answer_without_a_key_through_a_restart() {
    let mut app = TestApp::spawn().await;
    let alive = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(alive.status(), 200);
    assert_eq!(alive.text().await.expect("text"), "ok");
    let ready = until_ready(&app).await;
    assert_eq!(
        ready,
        json!({"status": "ready", "checks": {"store": "ok", "segment_engine": "loaded"}})
    );
    event(&app, "ann", json!({"name": "login"})).await;
    app.server.stop();
    let data_dir = app.server.data_dir.clone();
    app.server = Server::start(&data_dir, &[]);
    assert_eq!(until_ready(&app).await["status"], "ready");
}
