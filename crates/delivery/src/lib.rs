//! Herald's senders for campaign messages.
//!
//! The crate does IO but knows nothing of the store or of campaigns: the worker hands it messages
//! that are already rendered, and every sender answers with `Ok` or a [`DeliveryError`] that says
//! whether trying again later can help.
//!
//! - [`webhook`]: HTTP requests signed with HMAC-SHA256, behind a [`NetworkGuard`] that keeps
//!   them off private and loopback addresses, DNS included.
//! - [`smtp`]: email over SMTP (lettre, rustls).
//! - [`push`]: push notifications through the operator's push gateway.
//! - [`tracking`]: click and open tracking for HTML email (pure functions).

pub mod error;
pub mod guard;
mod http;
pub mod push;
pub mod smtp;
pub mod tracking;
pub mod webhook;

pub use error::DeliveryError;
pub use guard::NetworkGuard;
pub use push::{PushConfig, PushMessage, PushSender};
pub use smtp::{EmailMessage, EmailSender, SmtpConfig};
pub use tracking::{
    click_signature, delivery_token, instrument_html, verify_click, verify_delivery_token,
};
pub use webhook::{WebhookConfig, WebhookRequest, WebhookResponse, WebhookSender, sign};
