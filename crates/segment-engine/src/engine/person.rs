//! One person's engine state and the evaluation of a compiled condition over it.

use super::attributes::AttributeColumns;
use super::compiled::{Node, Predicate, Predicates};
use super::events::{DataDict, EventIndex, PersonEvent, PersonEvents};
use crate::definition::{Filter, Window};
use crate::filter::{holds, holds_on, next_change, next_change_on};
use crate::history::profile_start_at;
use crate::relationship::RELATIONSHIPS_KEY;
use crate::{SegmentId, UnixSeconds};

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct PersonState {
    /// The person's attributes are in the attribute columns, at this ordinal.
    pub first_seen: UnixSeconds,
    pub earliest_event: MaybeTime,
    /// The person's number in the event index and the segments' bitsets.
    pub ordinal: u32,
    /// Every event of the person the engine knows, as index rows.
    pub events: PersonEvents,
    /// For each dynamic segment, when its answer for this person next changes by time alone.
    /// A segment built from the index since the person was last looked at has no entry yet: it
    /// is filled when the person is next touched (`Engine::materialize`). A short list: a
    /// person has an entry for few segments, and a hash map would cost more than its entries.
    /// Boxed rather than a vector: a person's entries change seldom, and a million states
    /// each save the vector's capacity.
    pub nexts: Box<[(SegmentId, UnixSeconds)]>,
    /// The person's entry in the due-time index.
    pub due: MaybeTime,
    /// The latest time this person was evaluated at.
    pub last_eval: UnixSeconds,
}

/// An optional time in 8 bytes rather than an `Option`'s 16: `i64::MIN` stands for none, a
/// time no event or deadline can have (ingest accepts timestamps within a few centuries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct MaybeTime(UnixSeconds);

impl MaybeTime {
    pub const NONE: Self = Self(UnixSeconds::MIN);

    pub fn new(time: Option<UnixSeconds>) -> Self {
        time.map_or(Self::NONE, Self)
    }

    pub fn get(self) -> Option<UnixSeconds> {
        (self != Self::NONE).then_some(self.0)
    }
}

/// The earliest of two optional times.
pub(super) fn earliest(a: Option<UnixSeconds>, b: Option<UnixSeconds>) -> Option<UnixSeconds> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// What evaluating a person needs besides the person: the predicates and the tables' data.
pub(super) struct Context<'a> {
    pub predicates: &'a Predicates,
    pub events: &'a EventIndex,
    pub in_segment: &'a dyn Fn(SegmentId) -> bool,
    pub attributes: &'a AttributeColumns,
}

impl PersonState {
    pub fn new(first_seen: UnixSeconds, ordinal: u32) -> Self {
        Self {
            first_seen,
            earliest_event: MaybeTime::NONE,
            ordinal,
            events: PersonEvents::default(),
            nexts: Box::default(),
            due: MaybeTime::NONE,
            last_eval: UnixSeconds::MIN,
        }
    }

    /// Records when a segment's answer for this person next changes by time alone, if ever.
    pub fn set_next(&mut self, segment: SegmentId, next: Option<UnixSeconds>) {
        let position = self.nexts.iter().position(|(id, _)| *id == segment);
        match (next, position) {
            (Some(next), Some(position)) => self.nexts[position].1 = next,
            (Some(next), None) => {
                let mut nexts = std::mem::take(&mut self.nexts).into_vec();
                nexts.push((segment, next));
                self.nexts = nexts.into_boxed_slice();
            }
            (None, Some(position)) => {
                let mut nexts = std::mem::take(&mut self.nexts).into_vec();
                nexts.swap_remove(position);
                self.nexts = nexts.into_boxed_slice();
            }
            (None, None) => {}
        }
    }

    /// When a segment's answer for this person next changes by time alone, if known.
    pub fn next_of(&self, segment: SegmentId) -> Option<UnixSeconds> {
        self.nexts
            .iter()
            .find(|(id, _)| *id == segment)
            .map(|(_, next)| *next)
    }

    /// Records an event's row; returns whether it moved the earliest event time.
    pub fn add_event(&mut self, event: PersonEvent) -> bool {
        let moved = self
            .earliest_event
            .get()
            .is_none_or(|t| event.timestamp < t);
        self.earliest_event =
            MaybeTime::new(earliest(self.earliest_event.get(), Some(event.timestamp)));
        self.events.insert(event);
        moved
    }

    /// Evaluates a condition at `at`: the answer and when it next changes by time alone.
    pub fn evaluate(
        &self,
        node: &Node,
        context: &Context<'_>,
        at: UnixSeconds,
    ) -> (bool, Option<UnixSeconds>) {
        match node {
            Node::And(children) | Node::Or(children) => {
                let is_and = matches!(node, Node::And(_));
                let mut value = is_and;
                let mut next = None;
                for child in children {
                    let (child_value, child_next) = self.evaluate(child, context, at);
                    value = if is_and {
                        value && child_value
                    } else {
                        value || child_value
                    };
                    next = earliest(next, child_next);
                }
                (value, next)
            }
            Node::Not(child) => {
                let (value, next) = self.evaluate(child, context, at);
                (!value, next)
            }
            Node::Attribute(filter) => {
                let field = context.attributes.lookup(self.ordinal, &filter.path);
                (
                    holds_on(filter, field.as_deref(), at),
                    next_change_on(filter, field.as_deref(), at),
                )
            }
            // Relationship filters are never relative to now, so time alone changes nothing.
            Node::Relationship(condition) => (
                crate::relationship::holds_on(
                    condition,
                    context
                        .attributes
                        .get(self.ordinal, RELATIONSHIPS_KEY)
                        .as_deref(),
                    at,
                ),
                None,
            ),
            Node::Segment(id) => (
                (context.in_segment)(*id),
                self.next_of(*id).filter(|t| *t > at),
            ),
            Node::Event {
                predicate,
                performed,
                count,
                window,
                require_profile_age,
            } => {
                let predicate = context.predicates.get(*predicate);
                let rows = self.events.of_table(predicate.table);
                let (matched, mut next) = if predicate.keeps_data {
                    let dict = &context.events.table(predicate.table).dict;
                    count_events(rows, dict, &predicate.filters, *window, at)
                } else {
                    count_rows(rows, predicate, *window, at)
                };
                if *performed {
                    return (count.holds(matched), next);
                }
                let mut old_enough = true;
                if *require_profile_age {
                    let start = profile_start_at(
                        context
                            .attributes
                            .get(self.ordinal, "created_at")
                            .as_deref(),
                        self.first_seen,
                        self.earliest_event.get(),
                    );
                    match window {
                        Window::Ever => {}
                        Window::Within(seconds) => {
                            old_enough = at - start >= *seconds;
                            if !old_enough {
                                next = earliest(next, Some(start + seconds));
                            }
                        }
                        Window::Between { from, .. } => old_enough = start <= *from,
                    }
                }
                (matched == 0 && old_enough, next)
            }
        }
    }
}

/// Counts a person's events of one table that pass a predicate's static filters in a window at
/// `at`, and finds when that count next changes: an event coming into the window, or the
/// earliest counted one leaving it.
fn count_rows(
    rows: &[PersonEvent],
    predicate: &Predicate,
    window: Window,
    at: UnixSeconds,
) -> (u64, Option<UnixSeconds>) {
    let upper = |x: UnixSeconds| rows.partition_point(|r| r.timestamp <= x);
    let passing = |slice: &[PersonEvent]| -> u64 {
        if predicate.accepts.is_none() {
            return slice.len() as u64;
        }
        slice.iter().filter(|r| predicate.accepts(r.data)).count() as u64
    };
    let first = |slice: &[PersonEvent]| {
        slice
            .iter()
            .find(|r| predicate.accepts(r.data))
            .map(|r| r.timestamp)
    };
    match window {
        Window::Ever => {
            let through_now = upper(at);
            (passing(&rows[..through_now]), first(&rows[through_now..]))
        }
        Window::Within(seconds) => {
            let low = upper(at - seconds);
            let high = upper(at);
            let entering = first(&rows[high..]);
            let leaving = first(&rows[low..high]).map(|t| t + seconds);
            (passing(&rows[low..high]), earliest(entering, leaving))
        }
        Window::Between { from, to } => {
            let last = at.min(to);
            let count = if from <= last {
                let start = rows.partition_point(|r| r.timestamp < from);
                passing(&rows[start..upper(last)])
            } else {
                0
            };
            let next_index = upper(at.max(from - 1));
            let entering = first(&rows[next_index..]).filter(|t| *t <= to);
            (count, entering)
        }
    }
}

/// Counts events whose filters depend on time, re-checking each filter at `at`, and finds the
/// earliest time the count could change: an event coming into or leaving the window, or a
/// filter's answer turning.
fn count_events(
    rows: &[PersonEvent],
    dict: &DataDict,
    filters: &[Filter],
    window: Window,
    at: UnixSeconds,
) -> (u64, Option<UnixSeconds>) {
    let mut count = 0;
    let mut next = None;
    for row in rows {
        let timestamp = row.timestamp;
        let admitted = match window {
            Window::Ever | Window::Within(_) => true,
            Window::Between { from, to } => from <= timestamp && timestamp <= to,
        };
        if !admitted {
            continue;
        }
        if timestamp > at {
            next = earliest(next, Some(timestamp));
            continue;
        }
        if let Window::Within(seconds) = window {
            if at - seconds >= timestamp {
                continue;
            }
            next = earliest(next, Some(timestamp + seconds));
        }
        let data = dict.get(row.data);
        if filters.iter().all(|f| holds(f, data, at)) {
            count += 1;
        }
        for filter in filters {
            next = earliest(next, next_change(filter, data, at));
        }
    }
    (count, next)
}
