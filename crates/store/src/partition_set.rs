//! A set of the engine's partitions, such as those one node owns.

use herald_domain::WorkspaceId;

use crate::leases::{PARTITIONS, partition_of};

const WORDS: usize = PARTITIONS as usize / 64;

/// A set of partition numbers (`0..PARTITIONS`), one bit each, so that asking whether a
/// person's partition is in it costs a hash and a bit test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartitionSet {
    bits: [u64; WORDS],
}

impl PartitionSet {
    /// Every partition: what a store one process owns holds.
    pub fn all() -> Self {
        Self {
            bits: [u64::MAX; WORDS],
        }
    }

    /// Adds a partition; a number past the last partition is ignored.
    pub fn insert(&mut self, partition: u16) {
        if partition < PARTITIONS {
            self.bits[usize::from(partition / 64)] |= 1 << (partition % 64);
        }
    }

    pub fn remove(&mut self, partition: u16) {
        if partition < PARTITIONS {
            self.bits[usize::from(partition / 64)] &= !(1 << (partition % 64));
        }
    }

    pub fn contains(&self, partition: u16) -> bool {
        partition < PARTITIONS
            && self.bits[usize::from(partition / 64)] & (1 << (partition % 64)) != 0
    }

    /// Whether the set holds the partition of this person.
    pub fn holds(&self, workspace_id: WorkspaceId, person: i64) -> bool {
        self.is_all() || self.contains(partition_of(workspace_id, person))
    }

    pub fn is_all(&self) -> bool {
        self.bits == [u64::MAX; WORDS]
    }

    pub fn is_empty(&self) -> bool {
        self.bits == [0; WORDS]
    }

    pub fn len(&self) -> usize {
        self.bits
            .iter()
            .map(|word| word.count_ones() as usize)
            .sum()
    }

    /// The partitions in either set.
    #[must_use]
    pub fn union(&self, other: &Self) -> Self {
        let mut bits = self.bits;
        for (word, theirs) in bits.iter_mut().zip(other.bits) {
            *word |= theirs;
        }
        Self { bits }
    }

    /// Whether the sets share a partition.
    pub fn meets(&self, other: &Self) -> bool {
        self.bits
            .iter()
            .zip(other.bits)
            .any(|(ours, theirs)| ours & theirs != 0)
    }

    /// The partitions in the set, in order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (0..PARTITIONS).filter(|partition| self.contains(*partition))
    }
}

impl FromIterator<u16> for PartitionSet {
    fn from_iter<I: IntoIterator<Item = u16>>(partitions: I) -> Self {
        let mut set = Self::default();
        for partition in partitions {
            set.insert(partition);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use herald_domain::WorkspaceId;

    use super::PartitionSet;
    use crate::leases::{PARTITIONS, partition_of};

    #[test]
    fn a_set_holds_what_was_put_in_it_and_nothing_else() {
        let set: PartitionSet = [0, 63, 64, 200, 255, 256, 9_999].into_iter().collect();
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![0, 63, 64, 200, 255]);
        assert_eq!(set.len(), 5);
        assert!(!set.contains(1) && !set.contains(256));
        let mut fewer = set;
        fewer.remove(63);
        fewer.remove(1);
        assert_eq!(fewer.iter().collect::<Vec<_>>(), vec![0, 64, 200, 255]);
        assert!(!set.is_all() && !set.is_empty());
        assert!(PartitionSet::default().is_empty());
        assert_eq!(PartitionSet::all().len(), usize::from(PARTITIONS));
        assert_eq!(
            (0..PARTITIONS).collect::<PartitionSet>(),
            PartitionSet::all()
        );
        let other: PartitionSet = [1, 64, 130].into_iter().collect();
        assert_eq!(
            set.union(&other).iter().collect::<Vec<_>>(),
            vec![0, 1, 63, 64, 130, 200, 255]
        );
        assert!(set.meets(&other), "64 is in both");
        assert!(!fewer.meets(&[1, 130].into_iter().collect()));
    }

    #[test]
    fn a_set_holds_the_people_of_its_partitions() {
        let workspace = WorkspaceId::new(3);
        let set: PartitionSet = [partition_of(workspace, 10)].into_iter().collect();
        assert!(set.holds(workspace, 10));
        let others = (1..1_000)
            .filter(|person| partition_of(workspace, *person) != partition_of(workspace, 10));
        for person in others {
            assert!(!set.holds(workspace, person), "person {person}");
            assert!(PartitionSet::all().holds(workspace, person));
        }
    }
}
