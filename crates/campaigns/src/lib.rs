//! Campaigns: what makes Herald act on events and segment changes.
//!
//! [`model`] parses and validates the public campaign format, naming the offending field in
//! errors; `trigger` says which events, segment changes and object changes start a campaign. The crate is pure: it never reads a clock and does no IO.

pub mod model;
mod object_trigger;
mod trigger;

pub use model::{
    Campaign, CampaignError, Channel, Enrollment, Frequency, ObjectChange, Step, Trigger,
};
pub use object_trigger::ObjectEvent;
