//! Email over SMTP, with lettre's pooled async transport over rustls.

mod message;

use std::time::Duration;

use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::error::DeliveryError;

/// Where and how email is sent.
#[derive(Clone)]
pub struct SmtpConfig {
    /// lettre's URL form: `smtp://host:port` (plain), `smtp://host:587?tls=required`
    /// (STARTTLS), `smtps://user:pass@host:465` (TLS from the start).
    pub url: String,
    /// Applies to each SMTP command, connecting included.
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpConfig {
    /// Keeps a password in the URL out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = match reqwest::Url::parse(&self.url) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("redacted"));
                url.to_string()
            }
            _ => self.url.clone(),
        };
        f.debug_struct("SmtpConfig")
            .field("url", &url)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// One rendered email for one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailMessage {
    /// A mailbox: `news@example.com` or `Example News <news@example.com>`.
    pub from: String,
    pub to: String,
    pub subject: String,
    /// With `text` too, the message is multipart/alternative; at least one of them is required.
    pub html: Option<String>,
    pub text: Option<String>,
    /// Without angle brackets, e.g. `<idempotency_key>@herald`; becomes the `Message-ID`, so
    /// every attempt of one delivery carries the same one.
    pub message_id: String,
    /// Extra headers, e.g. `List-Unsubscribe`, `List-Unsubscribe-Post`, `X-Herald-Delivery-Id`.
    pub headers: Vec<(String, String)>,
}

/// Sends email through one SMTP relay, reusing connections between messages.
#[derive(Clone)]
pub struct EmailSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl std::fmt::Debug for EmailSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSender").finish_non_exhaustive()
    }
}

impl EmailSender {
    /// Fails (permanently) for a URL lettre cannot use; nothing connects yet.
    ///
    /// Call it inside a Tokio runtime: lettre's connection pool starts its idle-connection
    /// cleanup task on the current runtime, and panics without one.
    pub fn new(config: SmtpConfig) -> Result<Self, DeliveryError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.url)
            .map_err(|error| {
                // lettre's message never repeats the URL, so a password cannot leak through it.
                DeliveryError::Permanent(format!("invalid SMTP URL (smtp_url): {error}"))
            })?
            .timeout(Some(config.timeout))
            .build();
        Ok(EmailSender { transport })
    }

    /// Sends one message. SMTP 4xx answers, timeouts and connection failures are retryable;
    /// 5xx answers and messages that cannot be built (bad address, no body) are not.
    pub async fn send(&self, message: &EmailMessage) -> Result<(), DeliveryError> {
        let email = message::build(message)?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(classify)
    }
}

/// Sorts lettre's errors. Only two kinds are final: the server's 5xx verdict, and a client
/// error, which lettre raises when the message itself cannot be sent (such as non-ASCII content
/// to a server without 8BITMIME). Everything else is the network or the server's state.
fn classify(error: lettre::transport::smtp::Error) -> DeliveryError {
    let message = format!("SMTP: {}", crate::http::describe(&error));
    if error.is_permanent() || error.is_client() {
        DeliveryError::Permanent(message)
    } else {
        DeliveryError::Retryable(message)
    }
}
