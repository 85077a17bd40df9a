//! Claims on campaign runs: which process advances a run while several share one store.
//!
//! The dispatcher of each process already keeps a run it works on from being taken twice by
//! itself; a claim keeps it from being taken by another process on the same database. A claim
//! is not a row in the store: it lives as long as the claimant does, so a process that dies
//! (or loses its connection) frees its runs at once, and another takes them over without
//! waiting for a lease to run out. What makes taking over exact is the dispatcher's, not the
//! claim's: it reads the run afresh after claiming it, so a run another process advanced
//! meanwhile is seen as it is now, and a message whose send was not recorded is sent again with
//! the same delivery id and idempotency key.

use herald_domain::RunId;
use tokio::sync::oneshot;

use crate::StoreError;

/// What the claimant hears back: the runs it now holds, a subset of those it asked for.
pub type ClaimReply = oneshot::Receiver<Result<Vec<RunId>, StoreError>>;

/// Claims on campaign runs shared by every process on one store.
pub trait RunClaims: Send + Sync {
    /// Claims each of `runs` that no other claimant holds, and answers with those claimed.
    /// A claimant never asks again for a run it holds (its dispatcher keeps that set itself).
    fn claim(&self, runs: Vec<RunId>) -> ClaimReply;

    /// Gives up runs this claimant holds, after what it did with them committed.
    fn release(&self, runs: Vec<RunId>);
}

/// The claims of a store that one process owns (SQLite: the data dir is locked by one server),
/// where the dispatcher's own set is all the exclusion there is to have.
#[derive(Debug, Default)]
pub struct LocalClaims;

impl RunClaims for LocalClaims {
    fn claim(&self, runs: Vec<RunId>) -> ClaimReply {
        let (reply, answer) = oneshot::channel();
        let _ = reply.send(Ok(runs));
        answer
    }

    fn release(&self, _runs: Vec<RunId>) {}
}
