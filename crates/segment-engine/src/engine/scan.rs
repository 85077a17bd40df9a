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

use super::attributes::AttributeColumns;
use super::bitset::Bitset;
use super::compiled::Predicates;
use super::counting::{Scratch, count_people};
use super::deadlines::Hint;
use super::events::{Columns, EventIndex, Row, Rows};
use super::members::Members;
use super::ordinals::Ordinals;
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
        Condition::Segment(_) | Condition::Relationship(_) => true,
    }
}

/// What a scan reads.
pub(super) struct Scan<'a> {
    pub events: &'a EventIndex,
    pub predicates: &'a Predicates,
    pub attributes: &'a AttributeColumns,
    pub members: &'a HashMap<SegmentId, Members>,
    pub ordinals: &'a Ordinals,
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
                    // A preview takes a negated child's people out of the set so far, rather than
                    // copying everyone, taking them out of the copy and intersecting: that is two
                    // passes over a bit per person for nothing. A build evaluates every child
                    // whole, for the deadline hints each gives in turn. Every set here holds
                    // living people only, so the two ways agree.
                    if let (Some(so_far), None) = (&mut result, hints.as_ref())
                        && let Some(excluded) = self.excluded(child, scratch)
                    {
                        so_far.difference_with(&excluded);
                        continue;
                    }
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
            Condition::Relationship(condition) => self.relationship(condition),
            Condition::Event(event) => self.event(event, scratch, hints),
        }
    }

    /// For a condition that holds for everyone but some people ("not", "has not performed"),
    /// those people; `None` for any other condition. Only for previews: it collects no hints.
    fn excluded(&self, condition: &Condition, scratch: &mut Scratch) -> Option<Bitset> {
        match condition {
            Condition::Not(child) => Some(self.evaluate(child, scratch, &mut None)),
            Condition::Event(event) if !event.performed => Some(
                self.window_rows(event)
                    .map(|window| self.seen(&window.rows(), window.accepts(), false, |_| {}))
                    .unwrap_or_default(),
            ),
            _ => None,
        }
    }

    /// Relationships are a reserved attribute's column.
    fn relationship(&self, condition: &crate::relationship::RelationshipCondition) -> Bitset {
        let mut set = self.attributes.select(
            crate::relationship::RELATIONSHIPS_KEY,
            self.ordinals.len(),
            |relationships| crate::relationship::holds_on(condition, relationships, self.now),
        );
        set.intersect_with(self.ordinals.alive());
        set
    }

    fn attribute(&self, filter: &Filter) -> Bitset {
        let mut result = self
            .attributes
            .evaluate(filter, self.ordinals.len(), self.now);
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
        let Some(window) = self.window_rows(event) else {
            // No event of this name exists, so everyone has a count of zero.
            return if zero_holds {
                self.ordinals.alive().clone()
            } else {
                Bitset::new()
            };
        };
        let passes = |row: &Row| window.passes(row);
        let sorted = window.sorted;
        let upper = |x: UnixSeconds| sorted.timestamps.partition_point(|t| *t <= x);
        let leaving = match event.window {
            Window::Within(seconds) => Some(seconds),
            _ => None,
        };
        // Per person, the first counted row is the earliest to leave a relative window.
        let collect_leaving = leaving.is_some() && hints.is_some();
        let seconds = leaving.unwrap_or(0);
        let mut leaving_hints = Vec::new();
        if collect_leaving {
            leaving_hints.reserve(window.in_window.len());
        }
        let rows = window.rows();
        let accepts = window.accepts();
        let mut result = match event.count {
            // "Performed at least once" and "not performed" need no counts: a person is in once
            // seen, or once never seen.
            Count::AtLeast(1) if event.performed => {
                self.seen(&rows, accepts, collect_leaving, |row| {
                    leaving_hints.push(Hint::new(row.timestamp + seconds, now, row.ordinal));
                })
            }
            _ if !event.performed => {
                let seen = self.seen(&rows, accepts, collect_leaving, |row| {
                    leaving_hints.push(Hint::new(row.timestamp + seconds, now, row.ordinal));
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
                let start = if zero_holds {
                    self.ordinals.alive().clone()
                } else {
                    Bitset::new()
                };
                count_people(
                    &rows,
                    accepts,
                    count,
                    start,
                    self.ordinals.len(),
                    scratch,
                    &mut on_first,
                )
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
            for row in sorted.slice(start..sorted.len()).iter() {
                if row.timestamp > last {
                    break;
                }
                if passes(&row) && seen.insert(row.ordinal) {
                    entering.push(Hint::new(row.timestamp, now, row.ordinal));
                }
            }
            hints.push(leaving_hints);
            hints.push(entering);
        }
        result.intersect_with(self.ordinals.alive());
        result
    }

    /// An event condition's rows at `now`: those of its window in its table, in time order, and
    /// those still waiting to be put in order; `None` when no event of its name exists.
    fn window_rows(&self, event: &EventCondition) -> Option<WindowRows<'_>> {
        let now = self.now;
        let table = self
            .events
            .table(self.events.table_of(&event.name, event.kind)?);
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
        let sorted = table.sorted();
        let upper = |x: UnixSeconds| sorted.timestamps.partition_point(|t| *t <= x);
        let (low, high) = match event.window {
            Window::Ever => (0, upper(now)),
            Window::Within(seconds) => (upper(now - seconds), upper(now)),
            Window::Between { from, to } => {
                let last = now.min(to);
                if from <= last {
                    (
                        sorted.timestamps.partition_point(|t| *t < from),
                        upper(last),
                    )
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
        let mut tail = Columns::default();
        for row in table.unsorted().iter() {
            if in_window(row.timestamp) {
                tail.push(row);
            }
        }
        Some(WindowRows {
            sorted,
            in_window: low..high,
            tail,
            accepts,
        })
    }

    /// The people with at least one passing row (every row when `accepts` is `None`, else the
    /// rows whose data it accepts). With `visit_first`, `first` sees each person's first row.
    fn seen(
        &self,
        rows: &[Rows<'_>; 2],
        accepts: Option<&[bool]>,
        visit_first: bool,
        mut first: impl FnMut(&Row),
    ) -> Bitset {
        let mut seen = Bitset::with_capacity(self.ordinals.len());
        if visit_first {
            for row in rows.iter().flat_map(Rows::iter) {
                if accepts.is_none_or(|a| a[row.data as usize]) && seen.insert(row.ordinal) {
                    first(&row);
                }
            }
            return seen;
        }
        // Without first rows to report, a row only sets its person's bit: no test of whether it
        // was set, and the filter's answer shifted in rather than branched on. "Performed at
        // least once in 30 days" is one pass over a window's rows, and that branch was a
        // quarter of it.
        seen.grow(self.ordinals.len());
        let words = seen.words_mut();
        let mut mark = |ordinal: u32, passes: bool| {
            if let Some(word) = words.get_mut((ordinal / 64) as usize) {
                *word |= u64::from(passes) << (ordinal % 64);
            }
        };
        for part in rows {
            part.for_each_passing(accepts, &mut mark);
        }
        seen
    }
}

/// An event condition's rows at one time (see `Scan::window_rows`).
struct WindowRows<'a> {
    /// The table's rows in time order, all of them: a build reads on past the window's end.
    sorted: Rows<'a>,
    /// The part of `sorted` in the window.
    in_window: std::ops::Range<usize>,
    /// The rows in the window that wait to be put in time order.
    tail: Columns,
    /// Which data ids pass the condition's filters; `None` without filters.
    accepts: Option<Cow<'a, [bool]>>,
}

impl WindowRows<'_> {
    fn rows(&self) -> [Rows<'_>; 2] {
        [self.sorted.slice(self.in_window.clone()), self.tail.rows()]
    }

    fn accepts(&self) -> Option<&[bool]> {
        self.accepts.as_deref()
    }

    fn passes(&self, row: &Row) -> bool {
        self.accepts.as_ref().is_none_or(|a| a[row.data as usize])
    }
}
