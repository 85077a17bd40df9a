//! One person's engine state and the evaluation of a compiled condition over it.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::compiled::{Node, Predicates};
use crate::definition::Window;
use crate::filter::{holds, next_change};
use crate::history::{EventRecord, PersonHistory, profile_start};
use crate::{SegmentId, UnixSeconds};

/// The events of one person that satisfy one predicate.
#[derive(Debug, Clone)]
pub(super) enum Matches {
    /// Sorted timestamps, when the predicate's filters do not depend on time.
    Times(Vec<UnixSeconds>),
    /// Timestamps with data, sorted by time, for filters that must be re-checked as time passes.
    Events(Vec<(UnixSeconds, Map<String, Value>)>),
}

#[derive(Debug)]
pub(super) struct PersonState {
    pub attributes: Map<String, Value>,
    pub first_seen: UnixSeconds,
    pub earliest_event: Option<UnixSeconds>,
    /// Indexed by predicate id; predicates are numbered densely from zero.
    matches: Vec<Option<Matches>>,
    /// For each dynamic segment, when its answer for this person next changes by time alone.
    pub nexts: HashMap<SegmentId, UnixSeconds>,
    /// The person's entry in the due-time index.
    pub due: Option<UnixSeconds>,
    /// The latest time this person was evaluated at.
    pub last_eval: UnixSeconds,
}

/// The earliest of two optional times.
fn earliest(a: Option<UnixSeconds>, b: Option<UnixSeconds>) -> Option<UnixSeconds> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

impl PersonState {
    pub fn new(attributes: Map<String, Value>, first_seen: UnixSeconds) -> Self {
        Self {
            attributes,
            first_seen,
            earliest_event: None,
            matches: Vec::new(),
            nexts: HashMap::new(),
            due: None,
            last_eval: UnixSeconds::MIN,
        }
    }

    /// Computes, from the full history, the matches of predicates this state has not seen yet.
    pub fn fill_missing_predicates(&mut self, predicates: &Predicates, history: &PersonHistory) {
        let history_earliest = history.earliest_event();
        self.earliest_event = earliest(self.earliest_event, history_earliest);
        if self.matches.len() < predicates.len() {
            self.matches.resize(predicates.len(), None);
        }
        for id in 0..predicates.len() {
            if self.matches[id].is_some() {
                continue;
            }
            let predicate = predicates.get(id);
            let mut found = if predicate.keeps_data {
                Matches::Events(Vec::new())
            } else {
                Matches::Times(Vec::new())
            };
            for event in &history.events {
                if predicate.names(event) {
                    push(&mut found, predicate, event);
                }
            }
            self.matches[id] = Some(found);
        }
    }

    /// Records an event; returns whether it moved the earliest event time.
    pub fn add_event(&mut self, predicates: &Predicates, event: &EventRecord) -> bool {
        let moved = self.earliest_event.is_none_or(|t| event.timestamp < t);
        self.earliest_event = earliest(self.earliest_event, Some(event.timestamp));
        for id in 0..predicates.len() {
            let predicate = predicates.get(id);
            if !predicate.names(event) {
                continue;
            }
            if self.matches.len() <= id {
                self.matches.resize(id + 1, None);
            }
            let entry = self.matches[id].get_or_insert_with(|| {
                if predicate.keeps_data {
                    Matches::Events(Vec::new())
                } else {
                    Matches::Times(Vec::new())
                }
            });
            push(entry, predicate, event);
        }
        moved
    }

    /// Evaluates a condition at `at`: the answer and when it next changes by time alone.
    pub fn evaluate(
        &self,
        node: &Node,
        predicates: &Predicates,
        in_segment: &dyn Fn(SegmentId) -> bool,
        at: UnixSeconds,
    ) -> (bool, Option<UnixSeconds>) {
        match node {
            Node::And(children) | Node::Or(children) => {
                let is_and = matches!(node, Node::And(_));
                let mut value = is_and;
                let mut next = None;
                for child in children {
                    let (child_value, child_next) =
                        self.evaluate(child, predicates, in_segment, at);
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
                let (value, next) = self.evaluate(child, predicates, in_segment, at);
                (!value, next)
            }
            Node::Attribute(filter) => (
                holds(filter, &self.attributes, at),
                next_change(filter, &self.attributes, at),
            ),
            Node::Segment(id) => (
                in_segment(*id),
                self.nexts.get(id).copied().filter(|t| *t > at),
            ),
            Node::Event {
                predicate,
                performed,
                count,
                window,
                require_profile_age,
            } => {
                let (matched, mut next) =
                    match self.matches.get(*predicate).and_then(Option::as_ref) {
                        Some(Matches::Times(times)) => count_times(times, *window, at),
                        Some(Matches::Events(events)) => {
                            count_events(events, &predicates.get(*predicate).filters, *window, at)
                        }
                        None => (0, None),
                    };
                if *performed {
                    return (count.holds(matched), next);
                }
                let mut old_enough = true;
                if *require_profile_age {
                    let start =
                        profile_start(&self.attributes, self.first_seen, self.earliest_event);
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

fn push(matches: &mut Matches, predicate: &super::compiled::Predicate, event: &EventRecord) {
    match matches {
        Matches::Times(times) => {
            // Static filters are checked once, on arrival; their answer never changes.
            if predicate
                .filters
                .iter()
                .all(|f| holds(f, &event.data, event.timestamp))
            {
                let position = times.partition_point(|t| *t <= event.timestamp);
                times.insert(position, event.timestamp);
            }
        }
        Matches::Events(events) => {
            let position = events.partition_point(|(t, _)| *t <= event.timestamp);
            events.insert(position, (event.timestamp, event.data.clone()));
        }
    }
}

/// Counts sorted timestamps in a window at `at`, and finds when that count next changes.
fn count_times(
    times: &[UnixSeconds],
    window: Window,
    at: UnixSeconds,
) -> (u64, Option<UnixSeconds>) {
    let upper = |x: UnixSeconds| times.partition_point(|t| *t <= x);
    match window {
        Window::Ever => {
            let through_now = upper(at);
            (through_now as u64, times.get(through_now).copied())
        }
        Window::Within(seconds) => {
            let low = upper(at - seconds);
            let high = upper(at);
            let entering = times.get(high).copied();
            let leaving = (low < high).then(|| times[low] + seconds);
            ((high - low) as u64, earliest(entering, leaving))
        }
        Window::Between { from, to } => {
            let last = at.min(to);
            let count = if from <= last {
                upper(last) - times.partition_point(|t| *t < from)
            } else {
                0
            };
            let next_index = upper(at.max(from - 1));
            let entering = times.get(next_index).copied().filter(|t| *t <= to);
            (count as u64, entering)
        }
    }
}

/// Counts events whose filters depend on time, re-checking each filter at `at`, and finds the
/// earliest time the count could change: an event coming into or leaving the window, or a
/// filter's answer turning.
fn count_events(
    events: &[(UnixSeconds, Map<String, Value>)],
    filters: &[crate::definition::Filter],
    window: Window,
    at: UnixSeconds,
) -> (u64, Option<UnixSeconds>) {
    let mut count = 0;
    let mut next = None;
    for (timestamp, data) in events {
        let admitted = match window {
            Window::Ever | Window::Within(_) => true,
            Window::Between { from, to } => from <= *timestamp && *timestamp <= to,
        };
        if !admitted {
            continue;
        }
        if *timestamp > at {
            next = earliest(next, Some(*timestamp));
            continue;
        }
        if let Window::Within(seconds) = window {
            if at - seconds >= *timestamp {
                continue;
            }
            next = earliest(next, Some(timestamp + seconds));
        }
        if filters.iter().all(|f| holds(f, data, at)) {
            count += 1;
        }
        for filter in filters {
            next = earliest(next, next_change(filter, data, at));
        }
    }
    (count, next)
}
