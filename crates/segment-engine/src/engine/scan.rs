//! Evaluating a definition for everyone at once from the event index.
//!
//! Each event condition reads only the rows of its window in its (name, type) table, found by
//! binary search, and yields a set of people; attribute conditions read the attribute columns;
//! segment references read the referenced segment's members; `and`, `or` and `not` are set
//! operations. Along the way a build collects deadline hints (see `deadlines`): per person, the
//! earliest counted event leaving a relative window and the first event coming into the window,
//! which are exactly the times `PersonState::evaluate` reports for the same condition.

use std::borrow::Cow;
use std::collections::HashMap;

use super::attributes::{Answer, AttributeColumns};
use super::bitset::Bitset;
use super::compiled::Predicates;
use super::deadlines::Hint;
use super::events::{EventIndex, Row};
use super::members::Members;
use super::ordinals::Ordinals;
use super::people::People;
use crate::definition::{Condition, Count, EventCondition, Filter, Window};
use crate::filter::holds;
use crate::{SegmentId, UnixSeconds};

/// Tells whether a condition can be evaluated from the index. Filters that depend on the time
/// (`before_ago`, `after_ago`) and the profile-age rule need each person's state instead.
pub(super) fn indexable(condition: &Condition) -> bool {
    match condition {
        Condition::And(children) | Condition::Or(children) => children.iter().all(indexable),
        Condition::Not(child) => indexable(child),
        Condition::Event(event) => {
            !event.require_profile_age && !event.filters.iter().any(|f| f.op.is_relative())
        }
        Condition::Attribute(filter) => !filter.op.is_relative(),
        Condition::Segment(_) => true,
    }
}

/// Working memory kept between builds, so that a build does not pay for fresh pages.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    /// Matching events per person ordinal; all zero between uses.
    small: Vec<u8>,
    counts: Vec<u32>,
    /// The positions of each person's first counted row; empty between uses.
    firsts: Vec<u32>,
}

/// What a scan reads.
pub(super) struct Scan<'a> {
    pub events: &'a EventIndex,
    pub predicates: &'a Predicates,
    pub attributes: &'a AttributeColumns,
    pub members: &'a HashMap<SegmentId, Members>,
    pub ordinals: &'a Ordinals,
    pub people: &'a People,
    pub now: UnixSeconds,
}

impl Scan<'_> {
    /// The living people for whom `condition` holds at `now`. With `hints`, also collects
    /// deadline hints, as runs each in ascending time; that needs every table settled.
    pub fn evaluate(
        &self,
        condition: &Condition,
        scratch: &mut Scratch,
        hints: &mut Option<&mut Vec<Vec<Hint>>>,
    ) -> Bitset {
        match condition {
            Condition::And(children) => {
                let mut result: Option<Bitset> = None;
                for child in children {
                    let set = self.evaluate(child, scratch, hints);
                    match &mut result {
                        None => result = Some(set),
                        Some(result) => result.intersect_with(&set),
                    }
                }
                result.unwrap_or_default()
            }
            Condition::Or(children) => {
                let mut result = Bitset::new();
                for child in children {
                    result.union_with(&self.evaluate(child, scratch, hints));
                }
                result
            }
            Condition::Not(child) => {
                let mut result = self.ordinals.alive().clone();
                result.difference_with(&self.evaluate(child, scratch, hints));
                result
            }
            Condition::Segment(id) => self
                .members
                .get(id)
                .map(|members| members.set_ref().clone())
                .unwrap_or_default(),
            Condition::Attribute(filter) => self.attribute(filter),
            Condition::Event(event) => self.event(event, scratch, hints),
        }
    }

    fn attribute(&self, filter: &Filter) -> Bitset {
        let mut result = match self
            .attributes
            .evaluate(filter, self.ordinals.len(), self.now)
        {
            Answer::People(set) => set,
            Answer::Unknown => {
                let mut set = Bitset::new();
                for (_, state) in self.people.iter() {
                    if holds(filter, &state.attributes, self.now) {
                        set.insert(state.ordinal);
                    }
                }
                set
            }
        };
        result.intersect_with(self.ordinals.alive());
        result
    }

    fn event(
        &self,
        event: &EventCondition,
        scratch: &mut Scratch,
        hints: &mut Option<&mut Vec<Vec<Hint>>>,
    ) -> Bitset {
        let now = self.now;
        let zero_holds = !event.performed || event.count.holds(0);
        let Some(table_id) = self.events.table_of(&event.name, event.kind) else {
            // No event of this name exists, so everyone has a count of zero.
            return if zero_holds {
                self.ordinals.alive().clone()
            } else {
                Bitset::new()
            };
        };
        let table = self.events.table(table_id);
        let accepts: Option<Cow<'_, [bool]>> = if event.filters.is_empty() {
            None
        } else {
            match self
                .predicates
                .find(&event.name, event.kind, &event.filters)
                .and_then(|p| p.accepts.as_deref())
            {
                Some(accepts) => Some(Cow::Borrowed(accepts)),
                None => Some(Cow::Owned(
                    table
                        .dict
                        .objects()
                        .iter()
                        .map(|data| event.filters.iter().all(|f| holds(f, data, now)))
                        .collect(),
                )),
            }
        };
        let passes = |row: &Row| accepts.as_ref().is_none_or(|a| a[row.data as usize]);
        let sorted = table.sorted();
        let upper = |x: UnixSeconds| sorted.partition_point(|r| r.timestamp <= x);
        let (low, high) = match event.window {
            Window::Ever => (0, upper(now)),
            Window::Within(seconds) => (upper(now - seconds), upper(now)),
            Window::Between { from, to } => {
                let last = now.min(to);
                if from <= last {
                    (sorted.partition_point(|r| r.timestamp < from), upper(last))
                } else {
                    (0, 0)
                }
            }
        };
        let in_window = |timestamp: UnixSeconds| {
            timestamp <= now
                && match event.window {
                    Window::Ever => true,
                    Window::Within(seconds) => now - seconds < timestamp,
                    Window::Between { from, to } => from <= timestamp && timestamp <= to,
                }
        };
        let leaving = match event.window {
            Window::Within(seconds) => Some(seconds),
            _ => None,
        };
        // Per person, the first counted row is the earliest to leave a relative window.
        let collect_leaving = leaving.is_some() && hints.is_some();
        let seconds = leaving.unwrap_or(0);
        let mut leaving_hints = Vec::new();
        if collect_leaving {
            leaving_hints.reserve(high - low);
        }
        let tail: Vec<Row> = table
            .unsorted()
            .iter()
            .filter(|row| in_window(row.timestamp))
            .copied()
            .collect();
        let rows = [&sorted[low..high], tail.as_slice()];
        let mut result = match event.count {
            // "Performed at least once" and "not performed" need no counts: a person is in once
            // seen, or once never seen.
            Count::AtLeast(1) if event.performed => self.seen(&rows, &passes, |row| {
                if collect_leaving {
                    leaving_hints.push(Hint::new(row.timestamp + seconds, now, row.ordinal));
                }
            }),
            _ if !event.performed => {
                let seen = self.seen(&rows, &passes, |row| {
                    if collect_leaving {
                        leaving_hints.push(Hint::new(row.timestamp + seconds, now, row.ordinal));
                    }
                });
                let mut result = self.ordinals.alive().clone();
                result.difference_with(&seen);
                result
            }
            count => {
                // Only a build asks for the first rows (its deadline hints); a preview does not
                // pay for visiting them.
                let mut on_first = collect_leaving.then_some(|row: &Row| {
                    leaving_hints.push(Hint::new(row.timestamp + seconds, now, row.ordinal));
                });
                // Counts up to 255 fit a byte per person, four times less memory to touch;
                // a bound above 254 needs exact counts beyond that.
                let small = match count {
                    Count::AtLeast(n) | Count::AtMost(n) | Count::Exactly(n) => n < 255,
                };
                let mut result = if zero_holds {
                    self.ordinals.alive().clone()
                } else {
                    Bitset::new()
                };
                result.grow(self.ordinals.len());
                let counting = Counting {
                    rows: &rows,
                    firsts: &mut scratch.firsts,
                    thresholds: Thresholds::of(count),
                };
                if small {
                    counting.run(&passes, &mut scratch.small, &mut result, &mut on_first);
                } else {
                    counting.run(&passes, &mut scratch.counts, &mut result, &mut on_first);
                }
                result
            }
        };
        if let Some(hints) = hints.as_mut() {
            // The first matching event after now, per person, is when their count next grows.
            let (start, last) = match event.window {
                Window::Ever | Window::Within(_) => (upper(now), UnixSeconds::MAX),
                Window::Between { from, to } => (upper(now.max(from - 1)), to),
            };
            let mut seen = Bitset::new();
            let mut entering = Vec::new();
            for row in &sorted[start..] {
                if row.timestamp > last {
                    break;
                }
                if passes(row) && seen.insert(row.ordinal) {
                    entering.push(Hint::new(row.timestamp, now, row.ordinal));
                }
            }
            hints.push(leaving_hints);
            hints.push(entering);
        }
        result.intersect_with(self.ordinals.alive());
        result
    }

    /// The people with at least one passing row; `first` sees each person's first row.
    fn seen(
        &self,
        rows: &[&[Row]; 2],
        passes: &impl Fn(&Row) -> bool,
        mut first: impl FnMut(&Row),
    ) -> Bitset {
        let mut seen = Bitset::with_capacity(self.ordinals.len());
        for part in rows {
            for row in *part {
                if passes(row) && seen.insert(row.ordinal) {
                    first(row);
                }
            }
        }
        seen
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
    rows: &'r [&'r [Row]; 2],
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
        passes: &impl Fn(&Row) -> bool,
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
            for chunk in part.chunks(BLOCK) {
                let mut end = 0;
                for row in chunk {
                    let pass = passes(row);
                    let ordinal = row.ordinal as usize;
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
                &rows[0][position]
            } else {
                &rows[1][position - split]
            }
        };
        if let Some(on_first) = on_first {
            for position in firsts.iter() {
                on_first(row_at(*position));
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
