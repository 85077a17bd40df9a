//! Health for whoever runs Herald: `GET /healthz` answers while the process serves at all (a
//! liveness probe), `GET /readyz` only when it can do its work: the store answers a read and
//! the segment engine has loaded the stored history. (The server listens only once the store
//! opened, which runs its migrations, so a server that answers has them applied.) Neither needs
//! a key: they say nothing about the data.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::AppState;
use crate::openapi::docs;

/// How long the store may take to answer the readiness read before it counts as down.
const STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness
///
/// Answers `ok` while the process serves at all. No key.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = docs::OPERATIONS,
    responses((status = 200, description = "`ok`.", content_type = "text/plain", body = String, example = "ok")),
)]
pub async fn alive() -> &'static str {
    "ok"
}

/// What the store's readiness read found.
enum StoreCheck {
    Answered,
    Failed(String),
    TimedOut,
}

/// The answer for what the checks found: `200 {"status": "ready", "checks": {…}}`, or `503`
/// with `not_ready` and what each check found.
fn verdict(store: StoreCheck, engine_loaded: bool) -> (StatusCode, Value) {
    let store = match store {
        StoreCheck::Answered => "ok".to_owned(),
        StoreCheck::Failed(error) => format!("unreachable: {error}"),
        StoreCheck::TimedOut => format!("no answer within {} s", STORE_TIMEOUT.as_secs()),
    };
    let engine = if engine_loaded {
        "loaded"
    } else {
        "loading the stored history"
    };
    let ready = store == "ok" && engine_loaded;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        json!({
            "status": if ready { "ready" } else { "not_ready" },
            "checks": {"store": store, "segment_engine": engine},
        }),
    )
}

/// Readiness
///
/// Answers 200 once the store answers a read and the segment engine has loaded the stored
/// history, and 503 with what each check found before (the Track API already takes writes
/// then). No key.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = docs::OPERATIONS,
    responses(
        (status = 200, description = "Ready.", body = Value,
         example = json!({"status": "ready", "checks": {"store": "ok", "segment_engine": "loaded"}})),
        (status = 503, description = "Not ready: what each check found.", body = Value,
         example = json!({"status": "not_ready", "checks": {"store": "ok", "segment_engine": "loading the stored history"}})),
    ),
)]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let read = tokio::time::timeout(
        STORE_TIMEOUT,
        state.store().read(|reader| reader.setting("schema")),
    )
    .await;
    let store = match read {
        Ok(Ok(_)) => StoreCheck::Answered,
        Ok(Err(error)) => StoreCheck::Failed(error.to_string()),
        Err(_) => StoreCheck::TimedOut,
    };
    let (status, body) = verdict(store, state.segments().is_loaded());
    (status, Json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_the_store_answers_and_the_engine_loaded() {
        let (status, body) = verdict(StoreCheck::Answered, true);
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({"status": "ready", "checks": {"store": "ok", "segment_engine": "loaded"}})
        );
        let (status, body) = verdict(StoreCheck::Answered, false);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["status"], "not_ready");
        assert_eq!(
            body["checks"]["segment_engine"],
            "loading the stored history"
        );
        let (status, body) = verdict(StoreCheck::Failed("connection refused".into()), true);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["checks"]["store"], "unreachable: connection refused");
        let (status, body) = verdict(StoreCheck::TimedOut, true);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["checks"]["store"], "no answer within 2 s");
    }
}
