//! Webhook delivery: one signed HTTP request per message, only to addresses the
//! [`NetworkGuard`] allows.

mod headers;
mod resolver;
mod signature;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use reqwest::Url;
use reqwest::header::HeaderMap;

use crate::error::DeliveryError;
use crate::guard::NetworkGuard;
use crate::http;

pub use signature::sign;

/// How webhooks are sent.
#[derive(Clone)]
pub struct WebhookConfig {
    /// The whole request, from connecting to the end of the answer's first KiB.
    pub timeout: Duration,
    /// The key of the `X-Herald-Signature` HMAC; receivers hold the same secret.
    pub signing_secret: Vec<u8>,
    /// Which destination addresses are allowed.
    pub guard: NetworkGuard,
}

impl std::fmt::Debug for WebhookConfig {
    /// Keeps the signing secret out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("timeout", &self.timeout)
            .field("signing_secret", &"<redacted>")
            .field("guard", &self.guard)
            .finish()
    }
}

/// One rendered webhook message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookRequest {
    pub url: String,
    /// GET, POST, PUT, PATCH or DELETE (any case).
    pub method: String,
    /// The campaign's own headers; Herald's headers (see [`WebhookSender::send`]) override them.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delivery_id: String,
    /// The same for every attempt of one delivery, so the receiver can drop duplicates.
    pub idempotency_key: String,
}

/// A successful (2xx) answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookResponse {
    pub status: u16,
    /// The first KiB of the body, as text.
    pub body_snippet: String,
}

/// Sends webhook requests through one shared HTTP client (connection pooling, rustls, no
/// redirects, no proxies).
#[derive(Clone, Debug)]
pub struct WebhookSender {
    client: reqwest::Client,
    config: WebhookConfig,
}

impl WebhookSender {
    pub fn new(config: WebhookConfig) -> Result<Self, DeliveryError> {
        let resolver = Arc::new(resolver::GuardedResolver::new(config.guard.clone()));
        let builder = http::client_builder(config.timeout).dns_resolver(resolver);
        let client = http::build_client("webhook", builder)?;
        Ok(WebhookSender { client, config })
    }

    /// Sends one request and returns the 2xx answer, or an error saying whether to retry.
    ///
    /// `timestamp` (unix seconds) is passed in because the caller owns the clock; it is sent as
    /// `X-Herald-Timestamp` and signed with the body into `X-Herald-Signature` (see [`sign`]).
    /// Herald also sets `Idempotency-Key`, `X-Herald-Delivery-Id` and `User-Agent`, which the
    /// request's own headers cannot override, and `Content-Type: application/json` unless the
    /// request sets its own.
    pub async fn send(
        &self,
        request: &WebhookRequest,
        timestamp: i64,
    ) -> Result<WebhookResponse, DeliveryError> {
        let method = parse_method(&request.method)?;
        let url = http::parse_url("webhook", &request.url)?;
        self.check_literal_host(&url)?;
        let signature = sign(&self.config.signing_secret, timestamp, &request.body);
        let headers = headers::build(
            &request.headers,
            &headers::HeraldHeaders {
                idempotency_key: &request.idempotency_key,
                delivery_id: &request.delivery_id,
                timestamp,
                signature: &signature,
            },
        )?;

        let mut builder = self.client.request(method.clone(), url).headers(headers);
        // A GET carries no body unless there is one; every other method sends its body, even an
        // empty one, so the server sees `Content-Length: 0` rather than guessing.
        if method != Method::GET || !request.body.is_empty() {
            builder = builder.body(request.body.clone());
        }
        let mut response = builder
            .send()
            .await
            .map_err(|error| http::classify_error("webhook", error, self.config.timeout))?;

        let status = response.status();
        let answer_headers: HeaderMap = response.headers().clone();
        let body_snippet = http::read_snippet(&mut response).await;
        http::classify_status("webhook", status, &answer_headers, &body_snippet)?;
        Ok(WebhookResponse {
            status: status.as_u16(),
            body_snippet,
        })
    }

    /// Checks a host written as an IP address, which the HTTP client connects to without asking
    /// the resolver (and so without the guard).
    ///
    /// The URL parser has already rewritten every IPv4 spelling (`2130706433`, `0x7f.1`,
    /// `127.1`) to dotted decimal, so parsing the host text catches them all.
    fn check_literal_host(&self, url: &Url) -> Result<(), DeliveryError> {
        let Some(host) = url.host_str() else {
            return Ok(());
        };
        let literal = host
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .unwrap_or(host);
        match literal.parse::<IpAddr>() {
            Ok(ip) => self
                .config
                .guard
                .check(ip)
                .map_err(DeliveryError::Permanent),
            Err(_) => Ok(()),
        }
    }
}

fn parse_method(raw: &str) -> Result<Method, DeliveryError> {
    match raw.trim().to_ascii_uppercase().as_str() {
        "GET" => Ok(Method::GET),
        "POST" => Ok(Method::POST),
        "PUT" => Ok(Method::PUT),
        "PATCH" => Ok(Method::PATCH),
        "DELETE" => Ok(Method::DELETE),
        _ => Err(DeliveryError::Permanent(format!(
            "unsupported webhook method {raw:?} (expected GET, POST, PUT, PATCH or DELETE)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender() -> WebhookSender {
        WebhookSender::new(WebhookConfig {
            timeout: Duration::from_secs(1),
            signing_secret: b"secret".to_vec(),
            guard: NetworkGuard::default(),
        })
        .unwrap()
    }

    fn check(url: &str) -> Result<(), DeliveryError> {
        sender().check_literal_host(&Url::parse(url).unwrap())
    }

    #[test]
    fn every_spelling_of_a_refused_literal_is_refused() {
        for url in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://127.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]/",
        ] {
            let error = check(url).unwrap_err();
            assert!(!error.is_retryable(), "{url}");
            assert!(
                error.to_string().contains("webhook_allow_networks"),
                "{url}: {error}"
            );
        }
        assert!(check("http://93.184.215.14/").is_ok());
        assert!(check("https://example.com/").is_ok());
    }

    #[test]
    fn methods_are_limited() {
        assert_eq!(parse_method("post").unwrap(), Method::POST);
        assert!(!parse_method("CONNECT").unwrap_err().is_retryable());
    }
}
