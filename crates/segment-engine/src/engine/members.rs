//! A segment's members: a bitset over person ordinals with its count.

use super::bitset::Bitset;

#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Members {
    set: Bitset,
    count: usize,
}

impl Members {
    pub fn from_set(set: Bitset) -> Self {
        let count = set.len();
        Self { set, count }
    }

    pub fn contains(&self, ordinal: u32) -> bool {
        self.set.contains(ordinal)
    }

    /// Adds or removes a member; returns whether that changed anything.
    pub fn set(&mut self, ordinal: u32, member: bool) -> bool {
        let changed = if member {
            self.set.insert(ordinal)
        } else {
            self.set.remove(ordinal)
        };
        if changed {
            if member {
                self.count += 1;
            } else {
                self.count -= 1;
            }
        }
        changed
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn set_ref(&self) -> &Bitset {
        &self.set
    }
}
