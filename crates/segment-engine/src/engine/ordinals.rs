//! Person ordinals: dense numbers for the index's rows and the segments' bitsets.
//!
//! Every person state gets a new ordinal when it is created and keeps it until the person is
//! deleted, merged away or reloaded; an ordinal is never reused, so rows left in the index by a
//! person who is gone can never be read as someone else's.

use std::sync::Arc;

use super::bitset::Bitset;
use crate::PersonId;

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Ordinals {
    /// Shared so that a build's changes can name their people later without copying the ids
    /// out now (see `Changes`); a new person copies them only while such changes are kept.
    ids: Arc<Vec<PersonId>>,
    /// The ordinals of the people the engine knows now.
    alive: Bitset,
    /// Whether ordinals were handed out in ascending id order, so that a bitset over ordinals
    /// lists people in ascending id order without sorting.
    ascending: bool,
}

impl Ordinals {
    pub fn assign(&mut self, person: PersonId) -> u32 {
        let ordinal = u32::try_from(self.ids.len()).expect("fewer than 2^32 person states");
        self.ascending = (self.ascending || self.ids.is_empty())
            && self.ids.last().is_none_or(|last| *last < person);
        Arc::make_mut(&mut self.ids).push(person);
        self.alive.insert(ordinal);
        ordinal
    }

    pub fn retire(&mut self, ordinal: u32) {
        self.alive.remove(ordinal);
    }

    pub fn id(&self, ordinal: u32) -> PersonId {
        self.ids[ordinal as usize]
    }

    /// Every ordinal's person, shared.
    pub fn ids(&self) -> Arc<Vec<PersonId>> {
        Arc::clone(&self.ids)
    }

    pub fn alive(&self) -> &Bitset {
        &self.alive
    }

    pub fn is_alive(&self, ordinal: u32) -> bool {
        self.alive.contains(ordinal)
    }

    /// How many ordinals were handed out.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// The people of a set of ordinals, in ascending id order.
    pub fn people(&self, set: &Bitset) -> Vec<PersonId> {
        let mut people: Vec<PersonId> = set.iter().map(|ordinal| self.id(ordinal)).collect();
        if !self.ascending {
            people.sort_unstable();
        }
        people
    }

    /// The `n` smallest people of a set of ordinals, in ascending id order. A preview's sample
    /// needs only these, so a set of a million members is walked, never collected nor sorted.
    pub fn first_people(&self, set: &Bitset, n: usize) -> Vec<PersonId> {
        if self.ascending {
            return set.iter().take(n).map(|ordinal| self.id(ordinal)).collect();
        }
        // A max-heap of the n smallest seen so far: each member costs a comparison with its top.
        let mut smallest = std::collections::BinaryHeap::with_capacity(n + 1);
        for ordinal in set.iter() {
            let person = self.id(ordinal);
            if smallest.len() < n {
                smallest.push(person);
            } else if smallest.peek().is_some_and(|top| person < *top) {
                smallest.pop();
                smallest.push(person);
            }
        }
        smallest.into_sorted_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_come_out_in_id_order_either_way() {
        let mut ordinals = Ordinals::default();
        let mut set = Bitset::new();
        for person in [3, 5, 9] {
            set.insert(ordinals.assign(person));
        }
        assert_eq!(ordinals.people(&set), vec![3, 5, 9]);
        assert_eq!(ordinals.first_people(&set, 2), vec![3, 5]);
        set.insert(ordinals.assign(1));
        assert_eq!(ordinals.people(&set), vec![1, 3, 5, 9]);
        assert_eq!(ordinals.first_people(&set, 2), vec![1, 3]);
        assert_eq!(ordinals.first_people(&set, 9), vec![1, 3, 5, 9]);
        assert_eq!(ordinals.first_people(&set, 0), Vec::<PersonId>::new());
        ordinals.retire(0);
        assert!(!ordinals.is_alive(0) && ordinals.is_alive(1));
        assert_eq!(ordinals.len(), 4);
    }
}
