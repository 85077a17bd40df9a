//! The errors of the campaign service calls.

use herald_segments::EngineError;
use herald_store::StoreError;

/// Why a campaign call failed; the HTTP edge answers each with its own status and code.
#[derive(Debug, thiserror::Error)]
pub enum CampaignsError {
    /// No campaign with this id in the workspace.
    #[error("Campaign not found")]
    NotFound,
    /// The person asked about is gone (deleted or merged away since they were looked up).
    #[error("no such customer")]
    PersonNotFound,
    /// The definition is refused; the message names the field and what is wrong with it.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
