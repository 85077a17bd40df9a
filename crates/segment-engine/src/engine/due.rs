//! Time: applying deadlines, and completing a person's state after index builds.

use std::collections::BTreeSet;

use super::compiled::Compiled;
use super::person::{Context, MaybeTime};
use super::{Cause, Change, Engine, Origin, Scope, reschedule_after};
use crate::{PersonId, SegmentId, UnixSeconds};

impl Engine {
    /// Returns when a person's membership will next be re-evaluated by time alone.
    pub fn next_due(&self, person: PersonId) -> Option<UnixSeconds> {
        let state = self.people.get(person)?;
        let mut next = state.due.get();
        // Segments built from the index since the person was last touched have no entry in the
        // person's state yet; their next change is computed here without storing it.
        for (segment, at) in self.built.pending_of(state.ordinal) {
            next = super::person::earliest(next, self.pending_change(person, segment, at));
        }
        next
    }

    /// Returns when one segment's answer for a person next changes by time alone, if it will:
    /// what an explanation of that segment shows, where [`Engine::next_due`] is the earliest
    /// of all the person's segments.
    pub fn next_change_of(&self, person: PersonId, segment: SegmentId) -> Option<UnixSeconds> {
        let state = self.people.get(person)?;
        match self
            .built
            .pending_of(state.ordinal)
            .into_iter()
            .find(|(built, _)| *built == segment)
        {
            Some((_, at)) => self.pending_change(person, segment, at),
            None => state.next_of(segment),
        }
    }

    /// The next change of a segment built from the index since the person was last touched,
    /// which their state has no entry for yet: computed as of the build's time `at`, not
    /// stored.
    fn pending_change(
        &self,
        person: PersonId,
        segment: SegmentId,
        at: UnixSeconds,
    ) -> Option<UnixSeconds> {
        let state = self.people.get(person)?;
        let root = self.segments.get(&segment).and_then(Compiled::root)?;
        let in_segment = |id| self.is_member(id, person);
        let context = Context {
            predicates: &self.predicates,
            events: &self.events,
            in_segment: &in_segment,
            attributes: &self.attributes,
        };
        state.evaluate(root, &context, at).1
    }

    /// Returns the earliest deadline of all people (possibly one that turns out to change
    /// nothing).
    pub fn earliest_due(&self) -> Option<UnixSeconds> {
        let person = self.due.first().map(|(time, _)| *time);
        super::person::earliest(person, self.built.peek())
    }

    /// Returns how many deadlines are pending: people's own, and the hints of index builds.
    pub fn pending_deadlines(&self) -> usize {
        self.due.len() + self.built.hints_left()
    }

    /// Applies deadlines due at or before `now`, for at most `max_people` people, in time
    /// order. Returns the changes and whether more deadlines are due.
    pub fn advance(&mut self, now: UnixSeconds, max_people: usize) -> (Vec<Change>, bool) {
        let mut changes = Vec::new();
        let mut applied = 0;
        while applied < max_people {
            let own = self.due.first().copied();
            if let Some(hint) = self.built.peek()
                && own.is_none_or(|(due, _)| hint <= due)
            {
                if hint > now {
                    return (changes, false);
                }
                // A hint only completes the person's state; their own deadline, now in the
                // due-time index and never later than the hint, is applied in its turn. It is
                // work on one person, so it counts toward the batch: a million members built at
                // the same second must not make one unbounded call.
                if let Some((_, ordinal, pending)) = self.built.pop()
                    && pending
                    && self.ordinals.is_alive(ordinal)
                {
                    self.materialize(self.ordinals.id(ordinal));
                    applied += 1;
                }
                continue;
            }
            let Some((due, person)) = own else {
                return (changes, false);
            };
            if due > now {
                return (changes, false);
            }
            self.due.remove(&(due, person));
            if let Some(state) = self.people.get_mut(person) {
                state.due = MaybeTime::NONE;
            }
            // Segments built since the person was last touched are completed first, so that an
            // entry left by a deleted segment whose id was built again is never read as the new
            // segment's.
            self.materialize(person);
            let at = self
                .people
                .get(person)
                .map_or(due, |s| due.max(s.last_eval));
            let scope = self.due_segments(person, at);
            self.evaluate(
                person,
                at,
                Scope::Some(&scope),
                &Cause::Deadline,
                Origin::Live,
                &mut changes,
            );
            applied += 1;
        }
        let more = self.earliest_due().is_some_and(|due| due <= now);
        (changes, more)
    }

    /// Applies one person's overdue deadlines in time order before something else happens to
    /// them at `now`.
    pub(super) fn catch_up(
        &mut self,
        person: PersonId,
        now: UnixSeconds,
        changes: &mut Vec<Change>,
    ) {
        self.materialize(person);
        while let Some(due) = self.people.get(person).and_then(|s| s.due.get()) {
            if due > now {
                return;
            }
            self.due.remove(&(due, person));
            if let Some(state) = self.people.get_mut(person) {
                state.due = MaybeTime::NONE;
            }
            let scope = self.due_segments(person, due);
            self.evaluate(
                person,
                due,
                Scope::Some(&scope),
                &Cause::Deadline,
                Origin::Live,
                changes,
            );
        }
    }

    /// The segments whose answer for a person may change by time at `at`: those whose next
    /// change is due by then, and the segments that refer to them. A deadline re-evaluates only
    /// these: the others' answers cannot have moved, and a person in many segments (or with many
    /// events) would otherwise cost a full evaluation per deadline, which is what makes a storm
    /// of deadlines slow ingest down.
    fn due_segments(&self, person: PersonId, at: UnixSeconds) -> BTreeSet<SegmentId> {
        let mut scope = BTreeSet::new();
        let Some(state) = self.people.get(person) else {
            return scope;
        };
        for (segment, next) in &state.nexts {
            if *next <= at && scope.insert(*segment) {
                scope.extend(self.dependents.get(segment).into_iter().flatten().copied());
            }
        }
        scope
    }

    /// Completes a person's state for the segments built from the index since they were last
    /// touched: their next change for each, computed from their state at the build's time (it
    /// has not changed since, or they would have been touched), and their due time.
    pub(super) fn materialize(&mut self, person: PersonId) {
        let Some(ordinal) = self.people.get(person).map(|state| state.ordinal) else {
            return;
        };
        let taken = self.built.take(ordinal);
        if taken.is_empty() {
            return;
        }
        let Self {
            predicates,
            segments,
            order,
            people,
            due,
            members,
            events,
            attributes,
            ..
        } = self;
        let Some(state) = people.get_mut(person) else {
            return;
        };
        // Dependencies first, so that a reference reads the next change just computed.
        for segment in order.iter() {
            let Some((_, at)) = taken.iter().find(|(id, _)| id == segment) else {
                continue;
            };
            let Some(root) = segments.get(segment).and_then(Compiled::root) else {
                continue;
            };
            let (member, next) = {
                let in_segment = |id| members.get(&id).is_some_and(|m| m.contains(ordinal));
                let context = Context {
                    predicates,
                    events,
                    in_segment: &in_segment,
                    attributes,
                };
                state.evaluate(root, &context, *at)
            };
            debug_assert_eq!(
                member,
                members.get(segment).is_some_and(|m| m.contains(ordinal)),
                "the index build and the person's state disagree on segment {segment} for person {person} at {at}"
            );
            state.set_next(*segment, next);
        }
        let after = state.last_eval;
        reschedule_after(due, person, state, segments, after);
    }
}
