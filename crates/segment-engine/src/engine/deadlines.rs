//! Deadlines found by index builds, kept per segment until each person is touched.
//!
//! An index build answers a segment for every person without touching any person's state: a
//! write per member would cost a cache miss each, more than the whole build. So the build leaves
//! behind, per segment, the set of people whose `nexts` entry for it is not computed yet
//! (`pending`: everyone alive at the build) and *hints*: for each person whose answer may change
//! by time alone, the times it may. A hint is never later than the person's own next change for
//! the segment, so applying hints in time order misses nothing. The build produces hints as a
//! few runs already in time order (one or two per event condition), which are merged as they are
//! taken rather than sorted: sorting them was a third of a build's time.
//!
//! The first time anything happens to a pending person (an input, a deadline, a hint coming
//! due), `Engine::materialize` computes their `nexts` entries from their state at the build's
//! time and clears their pending bits; from then on their own deadline covers the segment and
//! any later hint for them is stale and skipped.

use super::bitset::Bitset;
use crate::{SegmentId, UnixSeconds};

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Built {
    segment: SegmentId,
    /// When the build evaluated the segment.
    at: UnixSeconds,
    pending: Bitset,
    pending_count: usize,
    runs: Vec<Run>,
}

/// A run of hints in ascending time; `hints[next..]` are still to come.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Run {
    hints: Vec<Hint>,
    next: usize,
    /// The build's time, which the hints' offsets count from.
    base: UnixSeconds,
}

impl Run {
    fn head(&self) -> Option<UnixSeconds> {
        self.hints
            .get(self.next)
            .map(|hint| self.base + i64::from(hint.after))
    }
}

/// A person's time to be looked at, as seconds after the build: eight bytes, because a build
/// writes one per person in or near the segment into fresh memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct Hint {
    pub after: u32,
    pub ordinal: u32,
}

impl Hint {
    /// A hint for `time`, seen from a build at `now`. A time beyond what the offset holds (136
    /// years) becomes the latest time it holds: an early hint only wakes the person early.
    pub fn new(time: UnixSeconds, now: UnixSeconds, ordinal: u32) -> Self {
        let after = time.saturating_sub(now).clamp(0, i64::from(u32::MAX));
        Self {
            after: after as u32,
            ordinal,
        }
    }
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct BuildDeadlines {
    built: Vec<Built>,
}

impl BuildDeadlines {
    /// Records a build of `segment` at `at`, replacing any earlier one. Each run of hints must
    /// be in ascending time.
    pub fn replace(
        &mut self,
        segment: SegmentId,
        at: UnixSeconds,
        pending: Bitset,
        runs: Vec<Vec<Hint>>,
    ) {
        self.remove(segment);
        let pending_count = pending.len();
        if pending_count > 0 {
            debug_assert!(
                runs.iter()
                    .all(|run| run.is_sorted_by_key(|hint| hint.after))
            );
            self.built.push(Built {
                segment,
                at,
                pending,
                pending_count,
                runs: runs
                    .into_iter()
                    .filter(|hints| !hints.is_empty())
                    .map(|hints| Run {
                        hints,
                        next: 0,
                        base: at,
                    })
                    .collect(),
            });
        }
    }

    pub fn remove(&mut self, segment: SegmentId) {
        self.built.retain(|built| built.segment != segment);
    }

    /// The segments for which this person is pending, with their build times; the person stops
    /// being pending for them.
    pub fn take(&mut self, ordinal: u32) -> Vec<(SegmentId, UnixSeconds)> {
        let mut taken = Vec::new();
        for built in &mut self.built {
            if built.pending.remove(ordinal) {
                built.pending_count -= 1;
                taken.push((built.segment, built.at));
            }
        }
        if !taken.is_empty() {
            self.built.retain(|built| built.pending_count > 0);
        }
        taken
    }

    /// The segments for which this person is pending, with their build times.
    pub fn pending_of(&self, ordinal: u32) -> Vec<(SegmentId, UnixSeconds)> {
        self.built
            .iter()
            .filter(|built| built.pending.contains(ordinal))
            .map(|built| (built.segment, built.at))
            .collect()
    }

    /// The earliest hint still to come, possibly stale.
    pub fn peek(&self) -> Option<UnixSeconds> {
        self.built
            .iter()
            .flat_map(|built| built.runs.iter().filter_map(Run::head))
            .min()
    }

    /// Takes the earliest hint: its time, its person, and whether the person is still pending
    /// for its segment (if not, the hint is stale).
    pub fn pop(&mut self) -> Option<(UnixSeconds, u32, bool)> {
        let (index, run, _) = self
            .built
            .iter()
            .enumerate()
            .flat_map(|(index, built)| {
                built
                    .runs
                    .iter()
                    .enumerate()
                    .filter_map(move |(run, hints)| hints.head().map(|time| (index, run, time)))
            })
            .min_by_key(|(_, _, time)| *time)?;
        let built = &mut self.built[index];
        let hints = &mut built.runs[run];
        let time = hints.head()?;
        let ordinal = hints.hints[hints.next].ordinal;
        hints.next += 1;
        if hints.head().is_none() {
            // The run is spent; free it while the pending set lives on.
            built.runs.swap_remove(run);
        }
        Some((time, ordinal, built.pending.contains(ordinal)))
    }

    /// How many hints are still to come, stale ones included.
    pub fn hints_left(&self) -> usize {
        self.built
            .iter()
            .flat_map(|built| &built.runs)
            .map(|run| run.hints.len() - run.next)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(values: &[u32]) -> Bitset {
        values.iter().copied().collect()
    }

    fn run(hints: &[(i64, u32)]) -> Vec<Hint> {
        hints
            .iter()
            .map(|(time, ordinal)| Hint::new(*time, 100, *ordinal))
            .collect()
    }

    #[test]
    fn hints_come_in_time_order_across_segments_and_go_stale_once_taken() {
        let mut deadlines = BuildDeadlines::default();
        deadlines.replace(
            SegmentId::new(1),
            100,
            set(&[0, 1, 2]),
            vec![run(&[(150, 0)]), run(&[(170, 2)])],
        );
        deadlines.replace(
            SegmentId::new(2),
            100,
            set(&[1, 2]),
            vec![run(&[(160, 1)]), Vec::new()],
        );
        assert_eq!(deadlines.peek(), Some(150));
        assert_eq!(deadlines.hints_left(), 3);
        assert_eq!(
            deadlines.take(2),
            vec![(SegmentId::new(1), 100), (SegmentId::new(2), 100)]
        );
        assert_eq!(
            deadlines.pending_of(1),
            vec![(SegmentId::new(1), 100), (SegmentId::new(2), 100)]
        );
        assert_eq!(deadlines.pop(), Some((150, 0, true)));
        assert_eq!(deadlines.pop(), Some((160, 1, true)));
        assert_eq!(deadlines.pop(), Some((170, 2, false)));
        assert_eq!(deadlines.pop(), None);
        deadlines.replace(SegmentId::new(1), 100, set(&[5]), vec![run(&[(210, 5)])]);
        assert_eq!(deadlines.pending_of(0), Vec::new());
        assert_eq!(deadlines.take(5), vec![(SegmentId::new(1), 100)]);
        assert_eq!(deadlines.peek(), None);
    }

    #[test]
    fn a_hint_too_far_away_comes_early_never_late() {
        let far = 100 + i64::from(u32::MAX) + 10;
        assert_eq!(Hint::new(far, 100, 0).after, u32::MAX);
        assert_eq!(Hint::new(150, 100, 0).after, 50);
    }
}
