//! Count conditions ("did `purchased` at least 3 times in 30 days") for everyone at once: the
//! people whose number of passing rows in a window satisfies a count.
//!
//! Two ways, both without a branch that depends on the data in the pass over the rows (whether
//! a row is someone's first, or takes them over a bound, is as likely as not, and a mispredicted
//! branch per person cost more than the counting itself):
//! - *levels*, for bounds up to `MAX_LEVELS` when nobody needs each person's first row: one bit
//!   per person and level, level `k` meaning "at least `k + 1` rows", the levels of 64 people
//!   side by side, so that a row touches one small group of words (24 bytes for S2's "at least
//!   3") in a table of 3/8 of a byte per person, rather than a byte counter and the result;
//! - *counters*, a byte (or for bounds above 254 a `u32`) per person, with the first rows'
//!   positions kept for a build's deadline hints.

use super::bitset::Bitset;
use super::events::{Row, Rows};
use crate::definition::Count;

/// Working memory kept between builds and previews, so that they do not pay for fresh pages.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    /// Matching events per person ordinal; all zero between uses.
    small: Vec<u8>,
    counts: Vec<u32>,
    /// The positions of each person's first counted row; empty between uses.
    firsts: Vec<u32>,
    /// The levels' words; all zero between uses.
    levels: Vec<u64>,
}

/// The highest bound the levels serve.
const MAX_LEVELS: usize = 8;

/// The people (below `len`) whose count of passing `rows` (every row when `accepts` is `None`,
/// else those whose data id it accepts) satisfies `count`, starting from `start`: the people
/// zero satisfies. `on_first`, when given, sees each person's first counted row, in row order.
pub(super) fn count_people(
    rows: &[Rows<'_>; 2],
    accepts: Option<&[bool]>,
    count: Count,
    mut start: Bitset,
    len: usize,
    scratch: &mut Scratch,
    on_first: &mut Option<impl FnMut(&Row)>,
) -> Bitset {
    start.grow(len);
    let thresholds = Thresholds::of(count);
    let levels = match count {
        Count::AtLeast(n) => n,
        Count::AtMost(n) | Count::Exactly(n) => n.saturating_add(1),
    };
    if on_first.is_none() && levels <= MAX_LEVELS as u64 {
        let words = &mut scratch.levels;
        let result = &mut start;
        match levels {
            // No bound to cross (at least zero): `start` is everyone.
            0 => {}
            1 => count_levels::<1>(rows, accepts, thresholds, words, result),
            2 => count_levels::<2>(rows, accepts, thresholds, words, result),
            3 => count_levels::<3>(rows, accepts, thresholds, words, result),
            4 => count_levels::<4>(rows, accepts, thresholds, words, result),
            5 => count_levels::<5>(rows, accepts, thresholds, words, result),
            6 => count_levels::<6>(rows, accepts, thresholds, words, result),
            7 => count_levels::<7>(rows, accepts, thresholds, words, result),
            _ => count_levels::<MAX_LEVELS>(rows, accepts, thresholds, words, result),
        }
        return start;
    }
    // Counts up to 255 fit a byte per person, four times less memory to touch; a bound above
    // 254 needs exact counts beyond that.
    let small = match count {
        Count::AtLeast(n) | Count::AtMost(n) | Count::Exactly(n) => n < 255,
    };
    let counting = Counting {
        rows,
        firsts: &mut scratch.firsts,
        thresholds,
    };
    if small {
        counting.run(accepts, &mut scratch.small, &mut start, on_first);
    } else {
        counting.run(accepts, &mut scratch.counts, &mut start, on_first);
    }
    start
}

/// The levels' pass: for each passing row, level `k` of its person gets the bit of level
/// `k - 1` and level 0 gets the bit, so that after the pass level `k` holds the people with at
/// least `k + 1` rows. `L` covers every finite threshold (`L <= MAX_LEVELS`); `result` holds
/// the starting set, with a word for every person.
fn count_levels<const L: usize>(
    rows: &[Rows<'_>; 2],
    accepts: Option<&[bool]>,
    thresholds: Thresholds,
    levels: &mut Vec<u64>,
    result: &mut Bitset,
) {
    debug_assert!(L <= MAX_LEVELS);
    let result = result.words_mut();
    let words = result.len();
    if levels.len() < words * L {
        levels.resize(words * L, 0);
    }
    let levels = &mut levels[..words * L];
    let mut step = |ordinal: u32, pass: bool| {
        let ordinal = ordinal as usize;
        let bit = u64::from(pass) << (ordinal % 64);
        let group = &mut levels[ordinal / 64 * L..][..L];
        for level in (1..L).rev() {
            group[level] |= group[level - 1] & bit;
        }
        group[0] |= bit;
    };
    for part in rows {
        part.for_each_passing(accepts, &mut step);
    }
    // "At least k rows" is level k - 1; at least zero is everyone.
    let at_least = |group: &[u64], k: u64| match k {
        0 => u64::MAX,
        k => usize::try_from(k - 1)
            .ok()
            .and_then(|level| group.get(level).copied())
            .unwrap_or(0),
    };
    for (word, group) in result.iter_mut().zip(levels.chunks_exact_mut(L)) {
        let entered = if thresholds.enter == u64::MAX {
            0
        } else {
            at_least(group, thresholds.enter)
        };
        let left = if thresholds.leave == u64::MAX {
            0
        } else {
            at_least(group, thresholds.leave)
        };
        *word = (*word | entered) & !left;
        group.fill(0);
    }
}

/// A per-person counter that saturates: a byte when the condition's bound is below 255, else a
/// `u32`.
trait Counter: Copy + Default {
    /// Adds one when `pass`, without a branch.
    fn add(&mut self, pass: bool);
    fn get(self) -> u64;
}

impl Counter for u8 {
    fn add(&mut self, pass: bool) {
        *self = self.saturating_add(u8::from(pass));
    }

    fn get(self) -> u64 {
        u64::from(self)
    }
}

impl Counter for u32 {
    fn add(&mut self, pass: bool) {
        *self = self.saturating_add(u32::from(pass));
    }

    fn get(self) -> u64 {
        u64::from(self)
    }
}

/// Rows counted between two copies of the first rows' positions: a block small enough to stay
/// in the first-level cache.
const BLOCK: usize = 4096;

/// The counts at which a person enters and leaves a count condition's set as their counter
/// grows (`u64::MAX`: never).
#[derive(Clone, Copy)]
struct Thresholds {
    enter: u64,
    leave: u64,
}

impl Thresholds {
    /// People without a row start in the set exactly when zero satisfies `count`; from there,
    /// a counter that grows one at a time crosses these.
    fn of(count: Count) -> Self {
        let never = u64::MAX;
        let positive = |n: u64| if n == 0 { never } else { n };
        match count {
            Count::AtLeast(n) => Self {
                enter: positive(n),
                leave: never,
            },
            Count::AtMost(n) => Self {
                enter: never,
                leave: n.saturating_add(1),
            },
            Count::Exactly(n) => Self {
                enter: positive(n),
                leave: n.saturating_add(1),
            },
        }
    }
}

/// One count condition's pass over its window's rows.
struct Counting<'r, 'f> {
    rows: &'r [Rows<'r>; 2],
    /// The positions of each person's first counted row; empty between uses.
    firsts: &'f mut Vec<u32>,
    thresholds: Thresholds,
}

impl Counting<'_, '_> {
    /// Counts passing rows per person and puts people in `result` (which holds whom zero
    /// satisfies, and a word for every ordinal) or takes them out as their counter crosses the
    /// thresholds. `counts` is all zero before and after. `on_first`, when given, sees each
    /// person's first counted row, in row order.
    ///
    /// The scan takes no branch that depends on the data: whether a row is a person's first,
    /// or moves them in or out, is as likely as not, and a mispredicted branch per person cost
    /// more than the counting itself. Each row's position is written to a block and kept only
    /// by moving the block's end when the row passed and the counter was zero; the membership
    /// bit is written on every row, changed only at a threshold.
    fn run<C: Counter>(
        self,
        accepts: Option<&[bool]>,
        counts: &mut Vec<C>,
        result: &mut Bitset,
        on_first: &mut Option<impl FnMut(&Row)>,
    ) {
        let Self {
            rows,
            firsts,
            thresholds,
        } = self;
        let len = result.capacity();
        if counts.len() < len {
            counts.resize(len, C::default());
        }
        let words = result.words_mut();
        firsts.clear();
        let mut block = [0_u32; BLOCK];
        let mut position = 0_u32;
        for part in rows {
            for (ordinals, data) in part.ordinals.chunks(BLOCK).zip(part.data.chunks(BLOCK)) {
                let mut end = 0;
                for (ordinal, data) in ordinals.iter().zip(data) {
                    let pass = accepts.is_none_or(|a| a[*data as usize]);
                    let ordinal = *ordinal as usize;
                    let count = &mut counts[ordinal];
                    block[end] = position;
                    end += usize::from(pass & (count.get() == 0));
                    count.add(pass);
                    let now = count.get();
                    let bit = ordinal % 64;
                    let word = &mut words[ordinal / 64];
                    *word = (*word | u64::from(now == thresholds.enter) << bit)
                        & !(u64::from(now == thresholds.leave) << bit);
                    position += 1;
                }
                firsts.extend_from_slice(&block[..end]);
            }
        }
        let split = rows[0].len();
        let row_at = |position: u32| {
            let position = position as usize;
            if position < split {
                rows[0].get(position)
            } else {
                rows[1].get(position - split)
            }
        };
        if let Some(on_first) = on_first {
            for position in firsts.iter() {
                on_first(&row_at(*position));
            }
        }
        // Setting every counter back to zero at once is cheaper than visiting each counted
        // person's once they are more than one in sixteen.
        if firsts.len() * 16 > len {
            counts.fill(C::default());
        } else {
            for position in firsts.iter() {
                counts[row_at(*position).ordinal as usize] = C::default();
            }
        }
        firsts.clear();
    }
}
