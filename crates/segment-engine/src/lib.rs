//! The segment engine: who is in which segment, exactly, at every instant.
//!
//! [`definition`] parses and validates the public definition format. [`reference`] is a plain,
//! obviously-correct evaluator over a person's whole history, used as the oracle in tests.
//! [`Engine`] keeps per-person state so that each event, attribute change, merge or delete
//! re-evaluates only that person, and keeps a due-time index of when each person's truth will next
//! change by time alone.
//!
//! The crate is pure: it never reads a clock (every call takes `now`), does no IO and knows
//! nothing of HTTP or SQL.

pub mod definition;
pub mod engine;
pub mod explain;
pub mod filter;
pub mod history;
pub mod input;
mod json_text;
pub mod reference;
pub mod relationship;

pub use definition::{Condition, Definition, DefinitionError, EventCondition, Filter};
pub use engine::{BuildChanges, Cause, Change, Changes, Engine, Origin, Preview, PreviewChange};
pub use history::{EventKind, EventRecord, PersonHistory};
pub use input::Input;
pub use relationship::{RELATIONSHIPS_KEY, RelationshipCondition};

/// A segment's id: the store's, a type of its own (see `herald_domain::ids`).
pub use herald_domain::SegmentId;
/// A person's internal number (the store's `seq`).
pub type PersonId = i64;
/// Seconds since the unix epoch.
pub type UnixSeconds = i64;
