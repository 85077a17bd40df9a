//! The table of people's states, indexed directly by person id.
//!
//! Person ids are the store's dense sequence numbers, so a vector of slot numbers indexed by id
//! finds a state without hashing. Measured on the benchmark workload, a hash map here made
//! re-evaluation three times slower (docs/benchmarks.md): the lookup was half its time.

use std::collections::HashMap;

use super::person::PersonState;
use crate::PersonId;

/// Ids below this use the direct index; larger (or negative) ids fall back to a hash map, so that
/// a stray huge id cannot make the index allocate gigabytes.
const DIRECT_LIMIT: i64 = 1 << 31;
const EMPTY: u32 = u32::MAX;

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct People {
    slots: Vec<u32>,
    overflow: HashMap<PersonId, u32>,
    states: Vec<(PersonId, PersonState)>,
}

impl People {
    fn slot(&self, person: PersonId) -> Option<usize> {
        let slot = if (0..DIRECT_LIMIT).contains(&person) {
            usize::try_from(person)
                .ok()
                .and_then(|i| self.slots.get(i))
                .copied()?
        } else {
            *self.overflow.get(&person)?
        };
        (slot != EMPTY).then_some(slot as usize)
    }

    fn set_slot(&mut self, person: PersonId, slot: u32) {
        if (0..DIRECT_LIMIT).contains(&person) {
            let index = usize::try_from(person).unwrap_or(usize::MAX);
            if self.slots.len() <= index {
                self.slots.resize(index + 1, EMPTY);
            }
            self.slots[index] = slot;
        } else if slot == EMPTY {
            self.overflow.remove(&person);
        } else {
            self.overflow.insert(person, slot);
        }
    }

    pub fn contains(&self, person: PersonId) -> bool {
        self.slot(person).is_some()
    }

    pub fn get(&self, person: PersonId) -> Option<&PersonState> {
        self.slot(person).map(|slot| &self.states[slot].1)
    }

    pub fn get_mut(&mut self, person: PersonId) -> Option<&mut PersonState> {
        let slot = self.slot(person)?;
        Some(&mut self.states[slot].1)
    }

    /// Returns the person's state, creating it with `make` if absent.
    pub fn get_or_insert_with(
        &mut self,
        person: PersonId,
        make: impl FnOnce() -> PersonState,
    ) -> &mut PersonState {
        let slot = match self.slot(person) {
            Some(slot) => slot,
            None => {
                let slot = self.states.len();
                self.states.push((person, make()));
                self.set_slot(person, u32::try_from(slot).unwrap_or(EMPTY));
                slot
            }
        };
        &mut self.states[slot].1
    }

    /// Inserts or replaces a person's state.
    pub fn insert(&mut self, person: PersonId, state: PersonState) {
        match self.slot(person) {
            Some(slot) => self.states[slot].1 = state,
            None => {
                self.get_or_insert_with(person, || state);
            }
        }
    }

    /// Removes a person's state, moving the last state into its slot.
    pub fn remove(&mut self, person: PersonId) -> Option<PersonState> {
        let slot = self.slot(person)?;
        self.set_slot(person, EMPTY);
        let (_, state) = self.states.swap_remove(slot);
        if let Some((moved, _)) = self.states.get(slot) {
            let moved = *moved;
            self.set_slot(moved, u32::try_from(slot).unwrap_or(EMPTY));
        }
        Some(state)
    }

    pub fn states_mut(&mut self) -> impl Iterator<Item = &mut PersonState> {
        self.states.iter_mut().map(|(_, state)| state)
    }

    pub fn iter(&self) -> impl Iterator<Item = (PersonId, &PersonState)> {
        self.states.iter().map(|(person, state)| (*person, state))
    }

    pub fn len(&self) -> usize {
        self.states.len()
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn removal_keeps_the_other_people_findable() {
        let mut people = People::default();
        for person in [3, 1, -5, 1 << 40, 7] {
            people.insert(person, PersonState::new(person, 0));
        }
        assert_eq!(people.remove(3).map(|s| s.first_seen), Some(3));
        assert!(!people.contains(3));
        for person in [1, -5, 1 << 40, 7] {
            assert_eq!(
                people.get(person).map(|s| s.first_seen),
                Some(person),
                "{person}"
            );
        }
        assert_eq!(people.remove(1 << 40).map(|s| s.first_seen), Some(1 << 40));
        assert_eq!(people.get(7).map(|s| s.first_seen), Some(7));
        assert!(people.get(8).is_none());
    }
}
