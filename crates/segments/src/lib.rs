//! Runs the segment engine inside the server.
//!
//! One thread owns an [`Engine`](herald_segment_engine::Engine) per workspace. It receives, in
//! commit order, what each committed write changed (through the ingest feed), applies deadlines
//! as the clock passes them in bounded batches, builds segments over stored history, and stores
//! every membership change. Reads of memberships go through the same queue, so they see every
//! write acknowledged before they were asked.

mod cause;
mod follow;
#[cfg(test)]
mod follow_tests;
mod handle;
mod held;
mod image;
mod load;
mod loading;
#[cfg(test)]
mod loading_tests;
#[cfg(test)]
mod own_partitions_tests;
mod questions;
mod restart;
mod runner;
#[cfg(test)]
mod search_tests;
mod service;
#[cfg(test)]
mod service_tests;
mod triggers;
mod unstored;

pub use follow::FollowOptions;
pub use handle::{RunnerView, Segments};
pub use image::ImageSettings;
pub use load::history_of;
pub use service::{
    AttributeCondition, AttributeTest, ChangePreview, EventWhatIf, Explanation, Interval,
    MAX_CONDITIONS, ManualReport, MembersPage, ObjectsPage, PeopleFilter, PeoplePage,
    SegmentAnswer, SegmentDraft, SegmentEdit, SegmentPreview, SegmentsError,
};
pub use triggers::MembershipTriggers;

/// Why the segment engine could not answer a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The engine is still loading the stored history (after a start); writes are taken
    /// meanwhile and reach it once loaded.
    #[error("the segment engine is still loading the stored history; retry shortly")]
    Loading,
    /// The engine's thread has stopped (the server is stopping).
    #[error("the segment engine is stopping; retry shortly")]
    Stopped,
    /// The other nodes' engines did not answer for every partition in time (one is taking
    /// partitions over, or stopped).
    #[error("the other servers' segment engines did not all answer in time; retry shortly")]
    Unanswered,
    #[error(transparent)]
    Store(#[from] herald_store::StoreError),
}
