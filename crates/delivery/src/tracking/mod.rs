//! Click and open tracking for HTML email. Pure functions: no IO, no clock.
//!
//! Clicks go through `{base_url}/e/c/{delivery_id}?u=<url>&s=<signature>`; the signature ties
//! the destination to the delivery, so the click endpoint redirects only to links Herald put in
//! a message and cannot be used as an open redirect. Opens are counted by a 1×1 image at
//! `{base_url}/e/o/{delivery_id}?s=<delivery token>`; the token proves the request comes from
//! the message, so a delivery id alone cannot mark anything opened.

mod entities;
mod html;
mod signature;

pub use html::instrument_html;
pub use signature::{click_signature, delivery_token, verify_click, verify_delivery_token};
