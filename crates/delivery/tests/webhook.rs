//! The webhook sender against a real HTTP server on 127.0.0.1.

#[path = "support/http_server.rs"]
mod http_server;

use std::time::Duration;

use herald_delivery::{
    DeliveryError, NetworkGuard, WebhookConfig, WebhookRequest, WebhookSender, sign,
};
use http_server::TestServer;

const SECRET: &[u8] = b"test-signing-secret";
const TIMESTAMP: i64 = 1_700_000_000;

/// A guard that lets the tests reach their local server.
fn loopback_allowed() -> NetworkGuard {
    NetworkGuard::parse(&["127.0.0.0/8".to_owned(), "::1/128".to_owned()]).unwrap()
}

fn sender_with(guard: NetworkGuard, timeout: Duration) -> WebhookSender {
    WebhookSender::new(WebhookConfig {
        timeout,
        signing_secret: SECRET.to_vec(),
        guard,
    })
    .unwrap()
}

fn sender() -> WebhookSender {
    sender_with(loopback_allowed(), Duration::from_secs(5))
}

fn request(url: String) -> WebhookRequest {
    WebhookRequest {
        url,
        method: "POST".to_owned(),
        headers: vec![],
        body: r#"{"event":"signed_up"}"#.to_owned(),
        delivery_id: "dlv_01".to_owned(),
        idempotency_key: "idem_01".to_owned(),
    }
}

fn assert_permanent(result: Result<impl std::fmt::Debug, DeliveryError>, needle: &str) -> String {
    match result {
        Err(DeliveryError::Permanent(message)) => {
            assert!(
                message.contains(needle),
                "{message:?} should mention {needle:?}"
            );
            message
        }
        other => panic!("expected a permanent error mentioning {needle:?}, got {other:?}"),
    }
}

fn assert_retryable(result: Result<impl std::fmt::Debug, DeliveryError>, needle: &str) -> String {
    match result {
        Err(DeliveryError::Retryable(message)) => {
            assert!(
                message.contains(needle),
                "{message:?} should mention {needle:?}"
            );
            message
        }
        other => panic!("expected a retryable error mentioning {needle:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn sends_method_body_headers_and_a_verifiable_signature() {
    let server = TestServer::start().await;
    let mut webhook = request(server.url("/hooks/signup?source=herald"));
    webhook.method = "put".to_owned();
    webhook.headers = vec![
        ("X-Custom".to_owned(), "one".to_owned()),
        ("Authorization".to_owned(), "Bearer abc".to_owned()),
        // Herald's own headers cannot be overridden by the campaign.
        ("Idempotency-Key".to_owned(), "forged".to_owned()),
        ("X-Herald-Signature".to_owned(), "v1=forged".to_owned()),
        ("X-Herald-Delivery-Id".to_owned(), "forged".to_owned()),
        ("User-Agent".to_owned(), "forged".to_owned()),
    ];

    let response = sender().send(&webhook, TIMESTAMP).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body_snippet, "ok");

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let seen = &requests[0];
    assert_eq!(seen.method, "PUT");
    assert_eq!(seen.path_and_query, "/hooks/signup?source=herald");
    assert_eq!(seen.body, webhook.body);
    assert_eq!(seen.header("x-custom"), "one");
    assert_eq!(seen.header("authorization"), "Bearer abc");
    assert_eq!(seen.header("content-type"), "application/json");
    assert_eq!(seen.header("idempotency-key"), "idem_01");
    assert_eq!(seen.header("x-herald-delivery-id"), "dlv_01");
    assert_eq!(seen.header("x-herald-timestamp"), TIMESTAMP.to_string());
    assert!(seen.header("user-agent").starts_with("Herald/"));

    let signature = seen.header("x-herald-signature");
    assert_eq!(signature, sign(SECRET, TIMESTAMP, &seen.body));
    assert_ne!(signature, sign(b"another secret", TIMESTAMP, &seen.body));
    assert_ne!(signature, sign(SECRET, TIMESTAMP + 1, &seen.body));
}

#[tokio::test]
async fn every_method_is_sent_as_asked_and_a_user_content_type_is_kept() {
    let server = TestServer::start().await;
    let sender = sender();
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        let mut webhook = request(server.url("/m"));
        webhook.method = method.to_owned();
        webhook.headers = vec![("Content-Type".to_owned(), "text/plain".to_owned())];
        sender.send(&webhook, TIMESTAMP).await.unwrap();
    }
    let requests = server.requests();
    let methods: Vec<&str> = requests.iter().map(|seen| seen.method.as_str()).collect();
    assert_eq!(methods, ["GET", "POST", "PUT", "PATCH", "DELETE"]);
    for seen in &requests {
        assert_eq!(seen.header("content-type"), "text/plain");
        assert_eq!(seen.body, r#"{"event":"signed_up"}"#);
    }

    let mut bad = request(server.url("/m"));
    bad.method = "TRACE".to_owned();
    assert_permanent(sender.send(&bad, TIMESTAMP).await, "TRACE");
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retryable() {
    let server = TestServer::start().await;
    let sender = sender();
    for code in [500, 503, 429] {
        let message = assert_retryable(
            sender
                .send(&request(server.url(&format!("/status/{code}"))), TIMESTAMP)
                .await,
            &code.to_string(),
        );
        assert!(
            message.contains(&format!("status {code}")),
            "the body is quoted: {message}"
        );
    }
}

#[tokio::test]
async fn client_errors_are_permanent() {
    let server = TestServer::start().await;
    let sender = sender();
    for code in [400, 404, 410] {
        assert_permanent(
            sender
                .send(&request(server.url(&format!("/status/{code}"))), TIMESTAMP)
                .await,
            &code.to_string(),
        );
    }
}

#[tokio::test]
async fn redirects_are_permanent_and_not_followed() {
    let server = TestServer::start().await;
    let message = assert_permanent(
        sender()
            .send(&request(server.url("/redirect")), TIMESTAMP)
            .await,
        "302",
    );
    assert!(message.contains("/landed"), "{message}");
    let paths: Vec<String> = server
        .requests()
        .into_iter()
        .map(|seen| seen.path_and_query)
        .collect();
    assert_eq!(paths, ["/redirect"], "the redirect must not be followed");
}

#[tokio::test]
async fn the_body_snippet_is_the_first_kib() {
    let server = TestServer::start().await;
    let response = sender()
        .send(&request(server.url("/big")), TIMESTAMP)
        .await
        .unwrap();
    assert_eq!(response.body_snippet, "x".repeat(1024));
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_retryably() {
    // Accepts connections and holds them without ever writing a byte.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });

    let sender = sender_with(loopback_allowed(), Duration::from_millis(300));
    let webhook = request(format!("http://127.0.0.1:{port}/slow"));
    // The outer limit turns a sender that ignores its timeout into a failure, not a hang.
    let result = tokio::time::timeout(Duration::from_secs(10), sender.send(&webhook, TIMESTAMP))
        .await
        .expect("the 300 ms timeout was not applied");
    assert_retryable(result, "timed out after 300ms");
    holder.abort();
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    // A port that was just free: bind, note it, release it.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    assert_retryable(
        sender()
            .send(&request(format!("http://127.0.0.1:{port}/")), TIMESTAMP)
            .await,
        "refused",
    );
}

#[tokio::test]
async fn loopback_is_refused_without_the_allow_list_by_address_and_by_name() {
    let server = TestServer::start().await;
    let guarded = sender_with(NetworkGuard::default(), Duration::from_secs(5));
    for url in [
        server.url("/"),
        format!("http://localhost:{}/", server.port()),
        format!("http://[::ffff:127.0.0.1]:{}/", server.port()),
    ] {
        let message = assert_permanent(
            guarded.send(&request(url.clone()), TIMESTAMP).await,
            "webhook_allow_networks",
        );
        assert!(message.contains("loopback"), "{url}: {message}");
    }
    assert!(server.requests().is_empty(), "nothing may reach the server");
}

#[tokio::test]
async fn the_resolver_lets_allowed_addresses_through() {
    let server = TestServer::start().await;
    let response = sender()
        .send(
            &request(format!("http://localhost:{}/by-name", server.port())),
            TIMESTAMP,
        )
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(server.requests()[0].path_and_query, "/by-name");
}

#[tokio::test]
async fn invalid_urls_and_headers_are_permanent() {
    let sender = sender();
    for url in [
        "not a url",
        "ftp://example.com/file",
        "file:///etc/passwd",
        "http://",
    ] {
        assert_permanent(
            sender.send(&request(url.to_owned()), TIMESTAMP).await,
            "URL",
        );
    }
    let server = TestServer::start().await;
    let mut bad_header = request(server.url("/"));
    bad_header.headers = vec![("X-Split".to_owned(), "a\r\nInjected: 1".to_owned())];
    assert_permanent(sender.send(&bad_header, TIMESTAMP).await, "X-Split");
    let mut bad_name = request(server.url("/"));
    bad_name.headers = vec![("Bad Name".to_owned(), "x".to_owned())];
    assert_permanent(sender.send(&bad_name, TIMESTAMP).await, "Bad Name");
    assert!(server.requests().is_empty());
}
