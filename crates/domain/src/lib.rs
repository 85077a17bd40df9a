//! Pure domain types shared by every stage of the Herald pipeline.
//!
//! This crate does no IO and never reads the wall clock: time reaches the rest of the system
//! through the [`Clock`] trait so that tests and `--dev-clock` can drive it by hand.

pub mod activity;
pub mod clock;
pub mod identifier;
pub mod ids;
pub mod limits;
mod panic;

pub use activity::ActivityKind;
pub use clock::{Clock, ClockError, ManualClock, SystemClock};
pub use identifier::{IdType, Identifier};
pub use ids::{CampaignId, ObjectSeq, PersonSeq, RunId, SegmentId, WorkspaceId};
pub use panic::panic_message;

/// The attribute key under which segment conditions and messages see a person's relationships
/// to objects. Customer.io reserves it (an identify's `cio_relationships` changes
/// relationships, never an attribute), so no stored attribute has it.
pub const RELATIONSHIPS_ATTRIBUTE: &str = "cio_relationships";

/// Seconds since the unix epoch, the unit of every timestamp in Herald's public contract.
pub type UnixSeconds = i64;
