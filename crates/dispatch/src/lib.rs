//! Campaign runs: from a trigger to sent messages.
//!
//! - [`registry`]: the stored campaigns, parsed and compiled, for the hot paths.
//! - [`triggers`]: new events (from ingest) and live segment changes (from the segment runner)
//!   start runs inside the write job that stores them.
//! - `render`: a send step's Liquid templates rendered for one person; [`relationships`]: the
//!   person's relationships to objects as those templates see them.
//! - `service`: [`Campaigns`], what the App API and the web UI call (validate, store, start with
//!   enrollment, pause, delete, and what an event would start).
//! - [`worker`]: the dispatcher, which takes due runs from the store (the durable queue)
//!   through their steps and hands each message to the senders of `herald-delivery`.

mod listing;
pub mod registry;
pub mod relationships;
mod render;
mod retention;
mod service;
pub mod triggers;
pub mod worker;

pub use registry::{Loaded, Registry};
pub use render::unsubscribe_url;
pub use service::{
    CampaignOutcome, Campaigns, CampaignsError, FieldError, METRIC_KEYS, MessageDraft,
    MessagePreview, MessageRef, PreviewRequest, Queued, SampleEvent, SampleOf, TransactionalSend,
    WhatIf, metrics_of,
};
pub use triggers::{Triggers, enroll_current};
pub use worker::{DispatchConfig, Dispatcher, Senders};

#[cfg(test)]
mod nodes_tests;
