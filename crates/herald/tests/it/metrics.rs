//! `GET /metrics`: Prometheus's text format, moving as events arrive and messages go out, beside
//! the APIs or alone on `--metrics-listen`.

use std::collections::BTreeMap;

use serde_json::json;

use crate::delivery::{ALLOW_LOOPBACK, start_campaign};
use crate::helpers::{TestApp, event, identify};
use crate::receiver::Receiver;

/// Parses Prometheus's text format strictly enough to catch a malformed line: comments are
/// `# HELP` or `# TYPE`, every sample is `name{labels} value`. Returns each sample's value by
/// its name and labels as written.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(
                comment.starts_with("HELP ") || comment.starts_with("TYPE "),
                "{line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !name.starts_with(|c: char| c.is_ascii_digit()),
            "a bad metric name: {line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "unclosed labels: {line}");
        }
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            number => number
                .parse()
                .unwrap_or_else(|_| panic!("a bad value: {line}")),
        };
        samples.insert(series.to_owned(), value);
    }
    samples
}

pub(crate) async fn scrape(client: &reqwest::Client, url: &str) -> BTreeMap<String, f64> {
    let response = client.get(url).send().await.expect("an answer");
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(kind.starts_with("text/plain"), "{kind}");
    parse(&response.text().await.expect("text"))
}

#[tokio::test]
async fn metrics_parse_and_move_when_events_arrive() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK]).await;
    start_campaign(
        &app,
        json!({"name": "Thanks", "trigger": {"event": {"name": "purchased"}},
               "steps": [{"webhook": {"url": format!("{}/thanks", receiver.base_url)}}]}),
    )
    .await;
    identify(&app, "ann", json!({})).await;
    let before = scrape(&app.client, &app.url("/metrics")).await;
    let events = |samples: &BTreeMap<String, f64>| {
        samples
            .get("herald_ingest_events_total")
            .copied()
            .unwrap_or(0.0)
    };
    for name in ["login", "login", "purchased"] {
        event(&app, "ann", json!({"name": name})).await;
    }
    receiver.wait_for(1).await;
    let mut after = scrape(&app.client, &app.url("/metrics")).await;
    let sent = "herald_deliveries_total{channel=\"webhook\",outcome=\"sent\"}";
    // The delivery is counted when its record commits, a moment after the receiver heard it.
    for _ in 0..200 {
        if after.contains_key(sent) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        after = scrape(&app.client, &app.url("/metrics")).await;
    }
    assert_eq!(after.get(sent), Some(&1.0), "{after:?}");
    assert_eq!(events(&after) - events(&before), 3.0, "{after:?}");
    assert!(after["herald_ingest_operations_total"] >= 4.0, "{after:?}");
    let route = "herald_http_requests_total{route=\"/api/v1/customers/{identifier}/events\",status=\"200\"}";
    assert_eq!(after.get(route), Some(&3.0), "{after:?}");
    assert!(
        after
            .keys()
            .any(|series| series.starts_with("herald_http_request_duration_seconds_bucket{")),
        "{after:?}"
    );
    assert!(after["herald_process_resident_memory_bytes"] > 1_000_000.0);
    assert_eq!(after["herald_segment_engine_loaded"], 1.0);

    // The writer, the segment engine and the dispatcher report what they hold.
    crate::segments::create_segment(&app, Some(json!({"event": {"name": "login"}}))).await;
    let on_sqlite = crate::helpers::postgres_for(&app.server.data_dir).is_none();
    let mut inner = scrape(&app.client, &app.url("/metrics")).await;
    for _ in 0..200 {
        let wal = !on_sqlite || inner.contains_key("herald_sqlite_wal_bytes");
        if wal && inner.contains_key("herald_segment_build_seconds_count") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        inner = scrape(&app.client, &app.url("/metrics")).await;
    }
    assert!(
        inner["herald_store_commit_seconds_count"] >= 4.0,
        "{inner:?}"
    );
    for series in [
        "herald_store_write_queue_depth{queue=\"foreground\"}",
        "herald_store_write_queue_depth{queue=\"background\"}",
        "herald_segment_engine_deadline_lag_seconds",
        "herald_delivery_queue_depth{state=\"due\",channel=\"webhook\"}",
        "herald_delivery_queue_depth{state=\"due\",channel=\"wait\"}",
        "herald_delivery_queue_depth{state=\"in_flight\"}",
    ] {
        assert!(inner.contains_key(series), "{series} in {inner:?}");
    }
    // At least the one build: in cluster mode the node may build the segment again when the
    // store's notice of its creation arrives (seen once in CI), which the count shows too.
    assert!(
        inner["herald_segment_build_seconds_count"] >= 1.0,
        "{inner:?}"
    );
    if on_sqlite {
        assert!(inner.contains_key("herald_sqlite_checkpoint_seconds_count"));
    }
}

#[tokio::test]
async fn metrics_can_have_an_address_of_their_own() {
    let app = TestApp::spawn_with(&["--metrics-listen=127.0.0.1:0"]).await;
    let url = app
        .server
        .banner
        .iter()
        .find_map(|line| line.strip_prefix("herald metrics on "))
        .expect("the metrics address in the banner")
        .to_owned();
    event(&app, "ann", json!({"name": "login"})).await;
    let samples = scrape(&app.client, &url).await;
    assert_eq!(samples["herald_ingest_events_total"], 1.0);
    let (status, _) = app.app_get("/metrics").await;
    assert_eq!(status, 404, "not beside the APIs then");
}
