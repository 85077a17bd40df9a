//! Push notifications, handed to the operator's push gateway as one JSON POST each.
//!
//! Herald holds no APNs or FCM credentials: a gateway the operator runs owns them. Its URL is
//! operator configuration rather than campaign content, so it is not behind the network guard.

use std::time::Duration;

use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde_json::{Map, Value};

use crate::error::DeliveryError;
use crate::http;

/// Where and how push messages are sent.
#[derive(Clone, Debug)]
pub struct PushConfig {
    /// The gateway's endpoint; `None` when the operator configured none.
    pub gateway_url: Option<String>,
    pub timeout: Duration,
}

/// One rendered push message for one device.
#[derive(Clone, Debug, PartialEq)]
pub struct PushMessage {
    pub delivery_id: String,
    /// Proof of receipt the app reports metrics with; Customer.io's SDKs send it back as
    /// `device_id`.
    pub delivery_token: String,
    pub device_token: String,
    /// `ios` or `android`, as the device was registered.
    pub platform: String,
    pub title: String,
    pub body: String,
    /// Custom data for the app.
    pub data: Map<String, Value>,
}

/// Sends push messages to the gateway.
#[derive(Clone, Debug)]
pub struct PushSender {
    client: reqwest::Client,
    gateway: Option<Url>,
    timeout: Duration,
}

impl PushSender {
    /// Fails (permanently) only for a gateway URL that is not http(s); no gateway at all is
    /// accepted, and every send then fails, so the rest of Herald runs without push.
    pub fn new(config: PushConfig) -> Result<Self, DeliveryError> {
        let gateway = config
            .gateway_url
            .as_deref()
            .map(|raw| http::parse_url("push gateway", raw))
            .transpose()?;
        let client = http::build_client("push", http::client_builder(config.timeout))?;
        Ok(PushSender {
            client,
            gateway,
            timeout: config.timeout,
        })
    }

    /// POSTs the message to the gateway as
    /// `{"delivery_id", "token", "platform", "title", "body", "data"}`, where `data` is the
    /// message's data plus `CIO-Delivery-ID` and `CIO-Delivery-Token` (the delivery token), the
    /// keys Customer.io's mobile SDKs read to report opens: they send the token back as
    /// `device_id`, which proves the report comes from the device the push reached.
    pub async fn send(&self, message: &PushMessage) -> Result<(), DeliveryError> {
        let Some(gateway) = &self.gateway else {
            return Err(DeliveryError::Permanent(
                "no push gateway is configured (push_gateway_url)".to_owned(),
            ));
        };
        let body = payload(message).to_string();
        let mut response = self
            .client
            .post(gateway.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body)
            .send()
            .await
            .map_err(|error| http::classify_error("push gateway", error, self.timeout))?;
        let status = response.status();
        let headers = response.headers().clone();
        let snippet = http::read_snippet(&mut response).await;
        http::classify_status("push gateway", status, &headers, &snippet)
    }
}

/// The gateway's JSON. The delivery keys are written last so the message's own data cannot
/// replace them and break open tracking.
fn payload(message: &PushMessage) -> Value {
    let mut data = message.data.clone();
    data.insert(
        "CIO-Delivery-ID".to_owned(),
        Value::String(message.delivery_id.clone()),
    );
    data.insert(
        "CIO-Delivery-Token".to_owned(),
        Value::String(message.delivery_token.clone()),
    );
    serde_json::json!({
        "delivery_id": message.delivery_id,
        "token": message.device_token,
        "platform": message.platform,
        "title": message.title,
        "body": message.body,
        "data": data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_keys_override_message_data() {
        let mut data = Map::new();
        data.insert("CIO-Delivery-ID".into(), Value::from("forged"));
        data.insert("deep_link".into(), Value::from("app://x"));
        let message = PushMessage {
            delivery_id: "d1".into(),
            delivery_token: "proof".into(),
            device_token: "tok".into(),
            platform: "ios".into(),
            title: "t".into(),
            body: "b".into(),
            data,
        };
        let payload = payload(&message);
        assert_eq!(payload["data"]["CIO-Delivery-ID"], "d1");
        assert_eq!(payload["data"]["CIO-Delivery-Token"], "proof");
        assert_eq!(payload["token"], "tok");
        assert_eq!(payload["data"]["deep_link"], "app://x");
    }

    #[test]
    fn a_non_http_gateway_is_refused_up_front() {
        let error = PushSender::new(PushConfig {
            gateway_url: Some("ftp://gateway".into()),
            timeout: Duration::from_secs(1),
        })
        .unwrap_err();
        assert!(!error.is_retryable());
    }
}
