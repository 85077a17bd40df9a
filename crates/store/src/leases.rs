//! Which node owns which partition of the segment engine's people, when several nodes share
//! one store.
//!
//! People are split into [`PARTITIONS`] partitions. Each is owned by one live node at a time,
//! through a lease the node renews (every [`LEASE_SECONDS`] / 3 or so): a node that stops
//! renewing loses its leases when they expire, and the other nodes take them over. Every live
//! node takes an equal share, so a node that joins gets partitions from the others, which give
//! up what is beyond their share at their next renewal. A lease's `epoch` grows at every change
//! of owner, so what an owner writes for a partition can be fenced against an owner that lost
//! it while it was not looking.

use herald_domain::{UnixSeconds, WorkspaceId};
use tokio::sync::oneshot;

use crate::StoreError;

/// How many partitions people are split into. Fixed: partitions are named by number in the
/// store's leases.
pub const PARTITIONS: u16 = 256;

/// The partition a person belongs to, for good: a person's internal number never changes
/// (a merge keeps the primary's), and neither does this function, since stored leases and the
/// owners' work depend on it.
pub fn partition_of(workspace_id: WorkspaceId, person: i64) -> u16 {
    // SplitMix64's finalizer: consecutive numbers spread evenly over the partitions.
    let mut x = (workspace_id.get() as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(person as u64);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    (x % u64::from(PARTITIONS)) as u16
}

/// How long a lease lasts after a renewal.
pub const LEASE_SECONDS: i64 = 15;

/// A partition a node owns, and the epoch of its lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Lease {
    pub partition: u16,
    pub epoch: i64,
}

/// What a renewal gives a node: the partitions it owns, by number, until `until` (exclusive),
/// unless it renews again before then; and the partitions whose people no owner's engine holds
/// yet (free ones, and those whose owner is still loading them), which a node that gave them up
/// keeps holding meanwhile, so that some engine answers for every partition while they move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    pub leases: Vec<Lease>,
    pub until: UnixSeconds,
    pub unheld: crate::PartitionSet,
    /// How many nodes were live at the renewal, this one among them.
    pub live: u16,
}

impl Ownership {
    /// The fewest partitions a live node owns once they are shared out: each takes up to an
    /// equal share rounded up, so the last one may get less.
    pub fn least_share(&self) -> usize {
        let live = usize::from(self.live.max(1));
        let partitions = usize::from(PARTITIONS);
        let share = partitions.div_ceil(live);
        partitions.saturating_sub((live - 1) * share)
    }
}

/// What a node hears back from a renewal.
pub type LeaseReply = oneshot::Receiver<Result<Ownership, StoreError>>;

/// The leases on partitions, shared by every node on one store.
pub trait PartitionLeases: Send + Sync {
    /// Renews `node`'s leases at `now`, gives up those beyond its share, and takes its share
    /// of the partitions nobody holds (free, or whose lease expired). `held` are the partitions
    /// whose people the node's engine holds: of its leases, those count as held by their owner
    /// from now on (see `Ownership::unheld`).
    fn renew(&self, node: &str, now: UnixSeconds, held: crate::PartitionSet) -> LeaseReply;

    /// Gives up every lease `node` holds (at shutdown), so that others take them at once.
    fn release(&self, node: &str) -> LeaseReply;
}

/// The leases of a store that one process owns: it owns every partition, for good.
#[derive(Debug, Default)]
pub struct LocalLeases;

impl PartitionLeases for LocalLeases {
    fn renew(&self, _node: &str, _now: UnixSeconds, _held: crate::PartitionSet) -> LeaseReply {
        let (reply, answer) = oneshot::channel();
        let _ = reply.send(Ok(Ownership {
            leases: (0..PARTITIONS)
                .map(|partition| Lease {
                    partition,
                    epoch: 0,
                })
                .collect(),
            until: UnixSeconds::MAX,
            unheld: crate::PartitionSet::default(),
            live: 1,
        }));
        answer
    }

    fn release(&self, _node: &str) -> LeaseReply {
        let (reply, answer) = oneshot::channel();
        let _ = reply.send(Ok(Ownership {
            leases: Vec::new(),
            until: UnixSeconds::MAX,
            unheld: crate::PartitionSet::default(),
            live: 1,
        }));
        answer
    }
}

#[cfg(test)]
mod tests {
    use herald_domain::WorkspaceId;

    use super::{Ownership, PARTITIONS, partition_of};

    #[test]
    fn the_least_share_is_what_the_last_node_gets_after_the_others_took_theirs() {
        let least = |live| {
            Ownership {
                leases: Vec::new(),
                until: 0,
                unheld: crate::PartitionSet::default(),
                live,
            }
            .least_share()
        };
        // 3 nodes: 86 + 86 + 84; 7 nodes: 6 × 37 + 34.
        assert_eq!(
            [0, 1, 2, 3, 7, 256, 300].map(least),
            [256, 256, 128, 84, 34, 1, 0]
        );
    }

    #[test]
    fn people_spread_over_every_partition_and_stay_where_they_are() {
        let mut counts = vec![0_u32; usize::from(PARTITIONS)];
        for person in 1..=25_600 {
            counts[usize::from(partition_of(WorkspaceId::new(1), person))] += 1;
        }
        assert!(
            counts.iter().all(|count| (50..=150).contains(count)),
            "{counts:?}"
        );
        // Fixed values: a change of the function would move people between owners.
        assert_eq!(
            [
                partition_of(WorkspaceId::new(1), 1),
                partition_of(WorkspaceId::new(1), 2),
                partition_of(WorkspaceId::new(2), 1),
            ],
            [193, 206, 103]
        );
    }
}
