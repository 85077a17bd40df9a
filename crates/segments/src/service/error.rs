//! The errors of the segment service calls.

use crate::EngineError;
use herald_domain::SegmentId;
use herald_store::StoreError;

/// Why a segment call failed. Each variant is one the HTTP edge answers with its own status and
/// stable code; only `Engine` and `Store` are the server's own trouble.
#[derive(Debug, thiserror::Error)]
pub enum SegmentsError {
    /// No segment with this id in the workspace (or one that was deleted).
    #[error("Segment not found")]
    NotFound,
    /// The person asked about is gone (deleted or merged away since they were looked up).
    #[error("no such customer")]
    PersonNotFound,
    /// The definition does not parse, refers to a segment that does not exist, or would refer
    /// to itself; the message says where.
    #[error("{0}")]
    InvalidDefinition(String),
    /// A request the call refuses as it stands (a missing name, a manual change to a
    /// data-driven segment); the message says what to change.
    #[error("{0}")]
    Invalid(String),
    /// Other segments' definitions refer to this one, so it cannot be deleted.
    #[error("segment {id} is used by segments {users:?}; change or delete them first")]
    InUse {
        id: SegmentId,
        users: Vec<SegmentId>,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The engine's thread could not be started.
    #[error("cannot start the segment engine thread: {0}")]
    Thread(String),
}
