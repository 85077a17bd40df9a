//! A growable set of small integers (person ordinals), one bit each.
//!
//! Segment memberships and the intermediate results of an index build are sets of up to millions
//! of people; a bit per person makes `and`, `or` and `not` a pass over a few thousand words.

/// A set of `u32`s as bits. Absent words read as zero, so sets of different lengths combine.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct Bitset {
    words: Vec<u64>,
}

impl Bitset {
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty set with room for values below `len`.
    pub fn with_capacity(len: usize) -> Self {
        Self {
            words: Vec::with_capacity(len.div_ceil(64)),
        }
    }

    /// Every value below `len`.
    pub fn full(len: usize) -> Self {
        let mut words = vec![u64::MAX; len / 64];
        if !len.is_multiple_of(64) {
            words.push((1 << (len % 64)) - 1);
        }
        Self { words }
    }

    /// The ordinals below `len` whose value id in `column` (0 past its end) has `accepts` 1.
    /// This reads the column a word of bits at a time, without a branch per person: it is the
    /// whole cost of an attribute condition in a build.
    pub fn from_column(column: &[u32], accepts: &[u64], len: usize) -> Self {
        let mut words = vec![0_u64; len.div_ceil(64)];
        let known = column.len().min(len);
        for (word, chunk) in words.iter_mut().zip(column[..known].chunks(64)) {
            let mut bits = 0;
            for (bit, id) in chunk.iter().enumerate() {
                bits |= accepts[*id as usize] << bit;
            }
            *word = bits;
        }
        if accepts[0] == 1 {
            for value in known..len {
                words[value / 64] |= 1 << (value % 64);
            }
        }
        Self { words }
    }

    pub fn contains(&self, value: u32) -> bool {
        let word = (value / 64) as usize;
        self.words
            .get(word)
            .is_some_and(|w| w & (1 << (value % 64)) != 0)
    }

    /// Adds `value`; returns whether it was absent.
    pub fn insert(&mut self, value: u32) -> bool {
        let word = (value / 64) as usize;
        if self.words.len() <= word {
            self.words.resize(word + 1, 0);
        }
        let bit = 1 << (value % 64);
        let absent = self.words[word] & bit == 0;
        self.words[word] |= bit;
        absent
    }

    /// Makes room for every value below `len`, so that `words_mut` can set any of them.
    pub fn grow(&mut self, len: usize) {
        let words = len.div_ceil(64);
        if self.words.len() < words {
            self.words.resize(words, 0);
        }
    }

    /// How many values the words hold room for.
    pub fn capacity(&self) -> usize {
        self.words.len() * 64
    }

    /// The words, bit `v % 64` of word `v / 64` for value `v`: for a scan that sets bits without
    /// a branch.
    pub fn words_mut(&mut self) -> &mut [u64] {
        &mut self.words
    }

    /// Removes `value`; returns whether it was present.
    pub fn remove(&mut self, value: u32) -> bool {
        let word = (value / 64) as usize;
        let Some(slot) = self.words.get_mut(word) else {
            return false;
        };
        let bit = 1 << (value % 64);
        let present = *slot & bit != 0;
        *slot &= !bit;
        present
    }

    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn intersect_with(&mut self, other: &Self) {
        self.words.truncate(other.words.len());
        for (word, other) in self.words.iter_mut().zip(&other.words) {
            *word &= other;
        }
    }

    pub fn union_with(&mut self, other: &Self) {
        if self.words.len() < other.words.len() {
            self.words.resize(other.words.len(), 0);
        }
        for (word, other) in self.words.iter_mut().zip(&other.words) {
            *word |= other;
        }
    }

    pub fn difference_with(&mut self, other: &Self) {
        for (word, other) in self.words.iter_mut().zip(&other.words) {
            *word &= !other;
        }
    }

    /// The values in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(index, word)| {
            let base = index as u32 * 64;
            Ones(*word).map(move |bit| base + bit)
        })
    }
}

impl FromIterator<u32> for Bitset {
    fn from_iter<I: IntoIterator<Item = u32>>(values: I) -> Self {
        let mut set = Self::new();
        for value in values {
            set.insert(value);
        }
        set
    }
}

/// The set bits of one word, lowest first.
struct Ones(u64);

impl Iterator for Ones {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        if self.0 == 0 {
            return None;
        }
        let bit = self.0.trailing_zeros();
        self.0 &= self.0 - 1;
        Some(bit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(values: &[u32]) -> Bitset {
        values.iter().copied().collect()
    }

    #[test]
    fn set_operations_across_lengths() {
        let mut a = of(&[1, 64, 200]);
        let b = of(&[1, 65]);
        assert!(a.contains(200) && !a.contains(2) && !a.contains(10_000));
        let mut union = a.clone();
        union.union_with(&b);
        assert_eq!(union.iter().collect::<Vec<_>>(), vec![1, 64, 65, 200]);
        let mut both = a.clone();
        both.intersect_with(&b);
        assert_eq!(both.iter().collect::<Vec<_>>(), vec![1]);
        a.difference_with(&b);
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![64, 200]);
        assert_eq!(a.len(), 2);
        assert!(a.remove(64) && !a.remove(64) && !a.remove(99_999));
        let column = Bitset::from_column(&[1, 0, 2, 1], &[1, 0, 1], 70);
        assert_eq!(column.iter().take(3).collect::<Vec<_>>(), vec![1, 2, 4]);
        assert_eq!(column.len(), 68);
        assert!(column.contains(69) && !column.contains(70));
        assert_eq!(Bitset::full(130).len(), 130);
        assert!(!Bitset::full(130).contains(130) && Bitset::full(128).contains(127));
    }
}
