//! The push sender against a real HTTP server standing in for the push gateway.

#[path = "support/http_server.rs"]
mod http_server;

use std::time::Duration;

use herald_delivery::{DeliveryError, PushConfig, PushMessage, PushSender};
use http_server::TestServer;
use serde_json::{Value, json};

fn sender(gateway_url: Option<String>) -> PushSender {
    PushSender::new(PushConfig {
        gateway_url,
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}

fn message() -> PushMessage {
    let mut data = serde_json::Map::new();
    data.insert("deep_link".to_owned(), json!("app://orders/7"));
    data.insert("badge".to_owned(), json!(3));
    PushMessage {
        delivery_id: "dlv_push_01".to_owned(),
        delivery_token: "0123456789abcdef0123456789abcdef".to_owned(),
        device_token: "device-token-abc".to_owned(),
        platform: "ios".to_owned(),
        title: "Your order shipped".to_owned(),
        body: "It arrives Tuesday".to_owned(),
        data,
    }
}

#[tokio::test]
async fn posts_the_gateway_payload() {
    let server = TestServer::start().await;
    sender(Some(server.url("/push")))
        .send(&message())
        .await
        .unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let seen = &requests[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path_and_query, "/push");
    assert_eq!(seen.header("content-type"), "application/json");
    assert!(seen.header("user-agent").starts_with("Herald/"));
    let payload: Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(
        payload,
        json!({
            "delivery_id": "dlv_push_01",
            "token": "device-token-abc",
            "platform": "ios",
            "title": "Your order shipped",
            "body": "It arrives Tuesday",
            "data": {
                "deep_link": "app://orders/7",
                "badge": 3,
                "CIO-Delivery-ID": "dlv_push_01",
                "CIO-Delivery-Token": "0123456789abcdef0123456789abcdef",
            }
        })
    );
}

#[tokio::test]
async fn gateway_errors_are_sorted_like_webhooks() {
    let server = TestServer::start().await;
    let retry = sender(Some(server.url("/status/500")))
        .send(&message())
        .await
        .unwrap_err();
    assert!(
        matches!(&retry, DeliveryError::Retryable(text) if text.contains("500")),
        "{retry:?}"
    );
    let permanent = sender(Some(server.url("/status/400")))
        .send(&message())
        .await
        .unwrap_err();
    assert!(
        matches!(&permanent, DeliveryError::Permanent(text) if text.contains("400")),
        "{permanent:?}"
    );
}

#[tokio::test]
async fn the_gateway_is_operator_configuration_so_loopback_is_fine() {
    // No network guard: the test server is on 127.0.0.1 and the send succeeds.
    let server = TestServer::start().await;
    let gateway = format!("http://localhost:{}/push", server.port());
    sender(Some(gateway)).send(&message()).await.unwrap();
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn without_a_gateway_every_send_is_permanent() {
    let error = sender(None).send(&message()).await.unwrap_err();
    match error {
        DeliveryError::Permanent(text) => {
            assert_eq!(text, "no push gateway is configured (push_gateway_url)")
        }
        other => panic!("{other:?}"),
    }
}
