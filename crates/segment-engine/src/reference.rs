//! The reference evaluator: a plain function of (definition, a person's whole history, now),
//! written to be obviously correct rather than fast. Tests compare the engine against it.

use crate::definition::{Condition, EventCondition, Window};
use crate::filter::holds;
use crate::history::{PersonHistory, profile_start};
use crate::{SegmentId, UnixSeconds};

/// Tells whether a person matches `condition` at `now`. `in_segment` answers segment references.
pub fn matches(
    condition: &Condition,
    person: &PersonHistory,
    in_segment: &dyn Fn(SegmentId) -> bool,
    now: UnixSeconds,
) -> bool {
    match condition {
        Condition::And(children) => children.iter().all(|c| matches(c, person, in_segment, now)),
        Condition::Or(children) => children.iter().any(|c| matches(c, person, in_segment, now)),
        Condition::Not(child) => !matches(child, person, in_segment, now),
        Condition::Attribute(filter) => holds(filter, &person.attributes, now),
        Condition::Relationship(condition) => {
            crate::relationship::holds_for(condition, &person.attributes, now)
        }
        Condition::Segment(id) => in_segment(*id),
        Condition::Event(event) => event_matches(event, person, now),
    }
}

fn in_window(window: Window, timestamp: UnixSeconds, now: UnixSeconds) -> bool {
    if timestamp > now {
        return false;
    }
    match window {
        Window::Ever => true,
        Window::Within(seconds) => now - seconds < timestamp,
        Window::Between { from, to } => from <= timestamp && timestamp <= to,
    }
}

fn event_matches(condition: &EventCondition, person: &PersonHistory, now: UnixSeconds) -> bool {
    let mut count: u64 = 0;
    for event in &person.events {
        let counts = event.name == condition.name
            && event.kind == condition.kind
            && in_window(condition.window, event.timestamp, now)
            && condition.filters.iter().all(|f| holds(f, &event.data, now));
        if counts {
            count += 1;
        }
    }
    if condition.performed {
        return condition.count.holds(count);
    }
    if count > 0 {
        return false;
    }
    if !condition.require_profile_age {
        return true;
    }
    let earliest = person.earliest_event();
    let start = profile_start(&person.attributes, person.first_seen, earliest);
    match condition.window {
        Window::Ever => true,
        Window::Within(seconds) => now - start >= seconds,
        Window::Between { from, .. } => start <= from,
    }
}
