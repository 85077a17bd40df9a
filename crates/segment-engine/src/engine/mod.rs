//! The incremental engine.
//!
//! State is kept per person: for each distinct event predicate (name, type and `where` filters)
//! the sorted timestamps of the person's matching events, plus attributes and profile start.
//! Evaluating a segment for a person from that state answers both "is the person a member now"
//! and "when will that answer next change by time alone"; the earliest such time over a person's
//! segments goes into the due-time index. `advance` applies due deadlines in bounded batches.
//! Before any operation on a person, that person's own overdue deadlines are applied first, in
//! time order, so membership history stays exact even when the index lags behind.

mod compiled;
mod people;
mod person;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value};

use crate::definition::Definition;
use crate::history::{EventKind, EventRecord, PersonHistory};
use crate::{PersonId, SegmentId, UnixSeconds};

use compiled::{Compiled, Predicates};
use people::People;
use person::PersonState;

/// Whether a membership change comes from live data or from building a segment over history.
/// Only live changes may trigger campaigns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Live,
    Build,
}

/// Why a membership changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// An event of the person arrived.
    Event {
        name: String,
        timestamp: UnixSeconds,
    },
    /// The person's attributes changed (or the person was created).
    Attributes,
    /// Time alone: a window boundary or a relative filter passed.
    Deadline,
    /// Another profile was merged into this one, or this one into another.
    Merge,
    /// The person was deleted or suppressed.
    Delete,
    /// Added to or removed from a manual segment.
    Manual,
    /// The segment was created or edited and evaluated over history.
    Build,
}

/// One membership change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub segment: SegmentId,
    pub person: PersonId,
    pub entered: bool,
    /// When the change happened: the event's arrival, or the deadline's time.
    pub at: UnixSeconds,
    pub cause: Cause,
    pub origin: Origin,
}

/// The segment engine. See the module documentation.
#[derive(Debug, Default)]
pub struct Engine {
    predicates: Predicates,
    segments: BTreeMap<SegmentId, Compiled>,
    /// Dynamic and manual segments, dependencies before dependents.
    order: Vec<SegmentId>,
    /// For each segment, the segments that refer to it, directly or not.
    dependents: HashMap<SegmentId, BTreeSet<SegmentId>>,
    /// For each event name and type, the segments an event of it can change, with dependents.
    event_scopes: HashMap<(String, EventKind), BTreeSet<SegmentId>>,
    people: People,
    due: BTreeSet<(UnixSeconds, PersonId)>,
    members: HashMap<SegmentId, BTreeSet<PersonId>>,
}

/// What to re-evaluate for a person.
enum Scope<'s> {
    All,
    Some(&'s BTreeSet<SegmentId>),
}

impl Engine {
    /// Creates an empty engine.
    pub fn new() -> Self {
        Self::default()
    }

    /// Tells whether a person is in a segment.
    pub fn is_member(&self, segment: SegmentId, person: PersonId) -> bool {
        self.members
            .get(&segment)
            .is_some_and(|m| m.contains(&person))
    }

    /// Returns a segment's members in ascending order.
    pub fn members(&self, segment: SegmentId) -> impl Iterator<Item = PersonId> + '_ {
        self.members
            .get(&segment)
            .into_iter()
            .flat_map(|m| m.iter().copied())
    }

    /// Returns how many people are in a segment.
    pub fn count(&self, segment: SegmentId) -> usize {
        self.members.get(&segment).map_or(0, BTreeSet::len)
    }

    /// Returns the segments a person is in.
    pub fn segments_of(&self, person: PersonId) -> Vec<SegmentId> {
        self.order
            .iter()
            .copied()
            .filter(|segment| self.is_member(*segment, person))
            .collect()
    }

    /// Returns the names of the events any segment looks at.
    pub fn event_names(&self) -> BTreeSet<String> {
        self.event_scopes
            .keys()
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Tells whether the engine knows this person.
    pub fn knows(&self, person: PersonId) -> bool {
        self.people.contains(person)
    }

    /// Returns when a person's membership will next be re-evaluated by time alone.
    pub fn next_due(&self, person: PersonId) -> Option<UnixSeconds> {
        self.people.get(person).and_then(|state| state.due)
    }

    /// Returns the earliest deadline of all people.
    pub fn earliest_due(&self) -> Option<UnixSeconds> {
        self.due.first().map(|(time, _)| *time)
    }

    /// Returns how many people have a pending deadline.
    pub fn pending_deadlines(&self) -> usize {
        self.due.len()
    }

    /// Creates or replaces a segment (`None` makes a manual segment) and evaluates it over
    /// `histories`, the full history of every person. The changes it makes have origin `Build`.
    /// The caller checks beforehand that references exist and form no cycle.
    pub fn set_segment(
        &mut self,
        id: SegmentId,
        definition: Option<Definition>,
        histories: impl IntoIterator<Item = (PersonId, PersonHistory)>,
        now: UnixSeconds,
    ) -> Vec<Change> {
        let compiled = Compiled::new(definition, &mut self.predicates);
        self.segments.insert(id, compiled);
        self.recompute_order();
        self.members.entry(id).or_default();
        let mut changes = Vec::new();
        let is_manual = self.segments.get(&id).is_some_and(Compiled::is_manual);
        let mut scope = BTreeSet::from([id]);
        scope.extend(self.dependents.get(&id).into_iter().flatten().copied());
        for (person, mut history) in histories {
            self.catch_up(person, now, &mut changes);
            // The history is owned, so its attributes move into a new state instead of being
            // copied: cloning them was a fifth of a fresh build (docs/benchmarks.md).
            let state = self.people.get_or_insert_with(person, || {
                PersonState::new(std::mem::take(&mut history.attributes), history.first_seen)
            });
            state.fill_missing_predicates(&self.predicates, &history);
            if is_manual {
                continue;
            }
            self.evaluate(
                person,
                now,
                Scope::Some(&scope),
                &Cause::Build,
                Origin::Build,
                &mut changes,
            );
        }
        changes
    }

    /// Deletes a segment. Segments referring to it must have been deleted or edited first.
    pub fn remove_segment(&mut self, id: SegmentId) {
        self.segments.remove(&id);
        self.members.remove(&id);
        for state in self.people.states_mut() {
            state.nexts.remove(&id);
        }
        self.recompute_order();
    }

    /// Loads a person from their full history (at start, or when a person appears with history),
    /// evaluating every segment. The changes have origin `Build`.
    pub fn load_person(
        &mut self,
        person: PersonId,
        history: &PersonHistory,
        now: UnixSeconds,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        let mut state = PersonState::new(history.attributes.clone(), history.first_seen);
        state.fill_missing_predicates(&self.predicates, history);
        self.people.insert(person, state);
        self.evaluate(
            person,
            now,
            Scope::All,
            &Cause::Build,
            Origin::Build,
            &mut changes,
        );
        changes
    }

    /// Creates a person or replaces their attributes.
    pub fn upsert_person(
        &mut self,
        person: PersonId,
        attributes: Map<String, Value>,
        first_seen: UnixSeconds,
        now: UnixSeconds,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        self.catch_up(person, now, &mut changes);
        match self.people.get_mut(person) {
            Some(state) => state.attributes = attributes,
            None => self
                .people
                .insert(person, PersonState::new(attributes, first_seen)),
        }
        self.evaluate(
            person,
            now,
            Scope::All,
            &Cause::Attributes,
            Origin::Live,
            &mut changes,
        );
        changes
    }

    /// Adds an event of a known person. Events of people the engine does not know are ignored:
    /// the caller creates people first.
    pub fn add_event(
        &mut self,
        person: PersonId,
        event: &EventRecord,
        now: UnixSeconds,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        if !self.people.contains(person) {
            return changes;
        }
        self.catch_up(person, now, &mut changes);
        let Some(state) = self.people.get_mut(person) else {
            return changes;
        };
        let earliest_moved = state.add_event(&self.predicates, event);
        let cause = Cause::Event {
            name: event.name.clone(),
            timestamp: event.timestamp,
        };
        if earliest_moved {
            // The profile start may have moved, which any profile-age condition can see.
            self.evaluate(person, now, Scope::All, &cause, Origin::Live, &mut changes);
            return changes;
        }
        let scopes = std::mem::take(&mut self.event_scopes);
        if let Some(scope) = scopes.get(&(event.name.clone(), event.kind)) {
            self.evaluate(
                person,
                now,
                Scope::Some(scope),
                &cause,
                Origin::Live,
                &mut changes,
            );
        }
        self.event_scopes = scopes;
        changes
    }

    /// Removes a person (deleted or suppressed) from every segment.
    pub fn remove_person(&mut self, person: PersonId, now: UnixSeconds) -> Vec<Change> {
        let mut changes = Vec::new();
        self.catch_up(person, now, &mut changes);
        self.forget(person, now, &Cause::Delete, &mut changes);
        changes
    }

    /// Merges `secondary` into `primary`: the secondary leaves every segment, the primary gains
    /// the moved events and its new attributes.
    pub fn merge(
        &mut self,
        primary: PersonId,
        secondary: PersonId,
        moved_events: &[EventRecord],
        primary_attributes: Map<String, Value>,
        now: UnixSeconds,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        self.catch_up(secondary, now, &mut changes);
        self.forget(secondary, now, &Cause::Merge, &mut changes);
        self.catch_up(primary, now, &mut changes);
        let Some(state) = self.people.get_mut(primary) else {
            return changes;
        };
        state.attributes = primary_attributes;
        for event in moved_events {
            state.add_event(&self.predicates, event);
        }
        self.evaluate(
            primary,
            now,
            Scope::All,
            &Cause::Merge,
            Origin::Live,
            &mut changes,
        );
        changes
    }

    /// Adds a known person to a manual segment.
    pub fn add_to_manual(
        &mut self,
        segment: SegmentId,
        person: PersonId,
        now: UnixSeconds,
    ) -> Vec<Change> {
        self.set_manual(segment, person, true, now)
    }

    /// Removes a person from a manual segment.
    pub fn remove_from_manual(
        &mut self,
        segment: SegmentId,
        person: PersonId,
        now: UnixSeconds,
    ) -> Vec<Change> {
        self.set_manual(segment, person, false, now)
    }

    fn set_manual(
        &mut self,
        segment: SegmentId,
        person: PersonId,
        member: bool,
        now: UnixSeconds,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        let manual = self.segments.get(&segment).is_some_and(Compiled::is_manual);
        if !manual || !self.people.contains(person) {
            return changes;
        }
        self.catch_up(person, now, &mut changes);
        let set = self.members.entry(segment).or_default();
        let changed = if member {
            set.insert(person)
        } else {
            set.remove(&person)
        };
        if !changed {
            return changes;
        }
        changes.push(Change {
            segment,
            person,
            entered: member,
            at: now,
            cause: Cause::Manual,
            origin: Origin::Live,
        });
        let scope = self.dependents.get(&segment).cloned().unwrap_or_default();
        self.evaluate(
            person,
            now,
            Scope::Some(&scope),
            &Cause::Manual,
            Origin::Live,
            &mut changes,
        );
        changes
    }

    /// Applies deadlines due at or before `now`, for at most `max_people` people, in time
    /// order. Returns the changes and whether more deadlines are due.
    pub fn advance(&mut self, now: UnixSeconds, max_people: usize) -> (Vec<Change>, bool) {
        let mut changes = Vec::new();
        for _ in 0..max_people {
            let Some(&(due, person)) = self.due.first() else {
                return (changes, false);
            };
            if due > now {
                return (changes, false);
            }
            self.due.remove(&(due, person));
            if let Some(state) = self.people.get_mut(person) {
                state.due = None;
            }
            let at = self
                .people
                .get(person)
                .map_or(due, |s| due.max(s.last_eval));
            self.evaluate(
                person,
                at,
                Scope::All,
                &Cause::Deadline,
                Origin::Live,
                &mut changes,
            );
        }
        let more = self.due.first().is_some_and(|(due, _)| *due <= now);
        (changes, more)
    }

    /// Applies one person's overdue deadlines in time order before something else happens to
    /// them at `now`.
    fn catch_up(&mut self, person: PersonId, now: UnixSeconds, changes: &mut Vec<Change>) {
        while let Some(due) = self.people.get(person).and_then(|s| s.due) {
            if due > now {
                return;
            }
            self.due.remove(&(due, person));
            if let Some(state) = self.people.get_mut(person) {
                state.due = None;
            }
            self.evaluate(
                person,
                due,
                Scope::All,
                &Cause::Deadline,
                Origin::Live,
                changes,
            );
        }
    }

    fn forget(
        &mut self,
        person: PersonId,
        now: UnixSeconds,
        cause: &Cause,
        changes: &mut Vec<Change>,
    ) {
        let Some(state) = self.people.remove(person) else {
            return;
        };
        if let Some(due) = state.due {
            self.due.remove(&(due, person));
        }
        for segment in &self.order {
            if let Some(set) = self.members.get_mut(segment)
                && set.remove(&person)
            {
                changes.push(Change {
                    segment: *segment,
                    person,
                    entered: false,
                    at: now,
                    cause: cause.clone(),
                    origin: Origin::Live,
                });
            }
        }
    }

    /// Re-evaluates segments for a person at `at`, records changes, and reschedules the person.
    fn evaluate(
        &mut self,
        person: PersonId,
        at: UnixSeconds,
        scope: Scope,
        cause: &Cause,
        origin: Origin,
        changes: &mut Vec<Change>,
    ) {
        let Self {
            predicates,
            segments,
            order,
            people,
            due,
            members,
            ..
        } = self;
        let Some(state) = people.get_mut(person) else {
            return;
        };
        state.last_eval = state.last_eval.max(at);
        for segment in order.iter() {
            if let Scope::Some(selected) = &scope
                && !selected.contains(segment)
            {
                continue;
            }
            let Some(compiled) = segments.get(segment) else {
                continue;
            };
            let Some(root) = compiled.root() else {
                continue;
            };
            let (member, next) = {
                let in_segment =
                    |id: SegmentId| members.get(&id).is_some_and(|m| m.contains(&person));
                state.evaluate(root, predicates, &in_segment, at)
            };
            match next {
                Some(next) => state.nexts.insert(*segment, next),
                None => state.nexts.remove(segment),
            };
            let set = members.entry(*segment).or_default();
            let changed = if member {
                set.insert(person)
            } else {
                set.remove(&person)
            };
            if changed {
                changes.push(Change {
                    segment: *segment,
                    person,
                    entered: member,
                    at,
                    cause: cause.clone(),
                    origin,
                });
            }
        }
        // Segment references make a segment's next change also a change of its dependents, so
        // the person's due time is the earliest over all segments.
        let next_due = state.nexts.values().copied().filter(|t| *t > at).min();
        if state.due != next_due {
            if let Some(old) = state.due {
                due.remove(&(old, person));
            }
            state.due = next_due;
            if let Some(next) = next_due {
                due.insert((next, person));
            }
        }
    }

    fn recompute_order(&mut self) {
        let mut order = Vec::with_capacity(self.segments.len());
        let mut visited = BTreeSet::new();
        let ids: Vec<SegmentId> = self.segments.keys().copied().collect();
        for id in ids {
            self.visit(id, &mut visited, &mut order, 0);
        }
        self.order = order;
        let mut dependents: HashMap<SegmentId, BTreeSet<SegmentId>> = HashMap::new();
        for id in &self.order {
            let Some(compiled) = self.segments.get(id) else {
                continue;
            };
            for referenced in compiled.references() {
                dependents.entry(referenced).or_default().insert(*id);
            }
        }
        // Close the relation so that a change reaches every segment that depends on it.
        let mut closed: HashMap<SegmentId, BTreeSet<SegmentId>> = HashMap::new();
        for id in &self.order {
            let mut all = BTreeSet::new();
            let mut stack: Vec<SegmentId> =
                dependents.get(id).into_iter().flatten().copied().collect();
            while let Some(next) = stack.pop() {
                if all.insert(next) {
                    stack.extend(dependents.get(&next).into_iter().flatten().copied());
                }
            }
            closed.insert(*id, all);
        }
        self.dependents = closed;
        let mut event_scopes: HashMap<(String, EventKind), BTreeSet<SegmentId>> = HashMap::new();
        for (id, segment) in &self.segments {
            for key in segment.events() {
                let scope = event_scopes.entry(key.clone()).or_default();
                scope.insert(*id);
                scope.extend(self.dependents.get(id).into_iter().flatten().copied());
            }
        }
        self.event_scopes = event_scopes;
    }

    fn visit(
        &self,
        id: SegmentId,
        visited: &mut BTreeSet<SegmentId>,
        order: &mut Vec<SegmentId>,
        depth: usize,
    ) {
        if depth > self.segments.len() || !visited.insert(id) {
            return;
        }
        if let Some(compiled) = self.segments.get(&id) {
            for referenced in compiled.references() {
                if self.segments.contains_key(&referenced) {
                    self.visit(referenced, visited, order, depth + 1);
                }
            }
            order.push(id);
        }
    }
}

/// Tells whether giving segment `id` the references `references` would close a cycle, given
/// the references of the other segments.
pub fn would_cycle(
    id: SegmentId,
    references: &BTreeSet<SegmentId>,
    others: &BTreeMap<SegmentId, BTreeSet<SegmentId>>,
) -> bool {
    let mut stack: Vec<SegmentId> = references.iter().copied().collect();
    let mut seen = BTreeSet::new();
    while let Some(next) = stack.pop() {
        if next == id {
            return true;
        }
        if seen.insert(next) {
            stack.extend(others.get(&next).into_iter().flatten().copied());
        }
    }
    false
}
