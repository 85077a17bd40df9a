//! What the App API and the web UI do with segments, below HTTP: the same checks, the same
//! reads of the engine and the store, typed results and typed errors, so that a UI action and
//! the equivalent API call have the same effect.
//!
//! Each call is a method of [`Segments`](crate::Segments): `catalog` holds the segments'
//! definitions (create, edit, delete, with their reference checks), `reads` what the engine
//! answers about them (counts, members, previews, explanations, histories), `manual` the
//! membership of manual segments, `what_if` what an event would do to a person's segments,
//! `search` the people an audience filter (`people_filter`) matches.

mod catalog;
mod error;
mod manual;
mod people_filter;
mod reads;
mod search;
mod what_if;

pub use catalog::{SegmentDraft, SegmentEdit};
pub use error::SegmentsError;
pub use manual::ManualReport;
pub use people_filter::{AttributeCondition, AttributeTest, MAX_CONDITIONS, PeopleFilter};
pub use reads::{ChangePreview, Explanation, Interval, MembersPage, SegmentPreview};
pub use search::{ObjectsPage, PeoplePage};
pub use what_if::{EventWhatIf, SegmentAnswer};
