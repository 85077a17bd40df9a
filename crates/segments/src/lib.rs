//! Runs the segment engine inside the server.
//!
//! One thread owns an [`Engine`](herald_segment_engine::Engine) per workspace. It receives, in
//! commit order, what each committed write changed (through the ingest feed), applies deadlines
//! as the clock passes them in bounded batches, builds segments over stored history, and stores
//! every membership change. Reads of memberships go through the same queue, so they see every
//! write acknowledged before they were asked.

mod cause;
mod handle;
mod load;
mod runner;
mod triggers;

pub use handle::{RunnerView, Segments};
pub use load::{histories, history_of};
pub use triggers::MembershipTriggers;

/// Failures starting the segment runner.
#[derive(Debug, thiserror::Error)]
pub enum SegmentsError {
    #[error("cannot load segments: {0}")]
    Store(#[from] herald_store::StoreError),
    #[error("cannot start the segment engine thread: {0}")]
    Thread(String),
}
