//! The seam to campaigns: segment changes that may start runs.
//!
//! Campaigns come after segments in the pipeline, so this crate only defines the trait. The
//! runner calls it inside the very write job that stores the membership changes, so a run
//! started by an entry or exit commits together with it, and a change that a crash lost is
//! found again (and triggers once) when the restart compares memberships.

use herald_domain::{UnixSeconds, WorkspaceId};
use herald_store::{MembershipChange, StoreError, StoreTx};

/// Starts campaign runs for membership changes.
pub trait MembershipTriggers: Send + Sync {
    /// Runs inside the job that stores `changes` (all of one workspace). Changes whose
    /// `origin` is `build` must start nothing.
    fn on_changes(
        &self,
        tx: &mut dyn StoreTx,
        workspace_id: WorkspaceId,
        changes: &[MembershipChange],
        now: UnixSeconds,
    ) -> Result<(), StoreError>;

    /// Called once the job's transaction committed, so that new runs start at once.
    fn committed(&self);
}
