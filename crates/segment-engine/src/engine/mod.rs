//! The incremental engine.
//!
//! Every event the engine is told about goes into the event index (`events`): per (name, type),
//! rows in time order, and per person, their own rows. Builds, previews and re-evaluations read
//! the index for everyone at once (`scan`) and keep memberships as bitsets over person ordinals;
//! they touch no person's state, and leave the deadlines they found as per-segment hints
//! (`deadlines`). Live inputs evaluate only the person concerned, from that person's rows:
//! the answer and when it next changes by time alone; the earliest such time over a person's
//! segments goes into the due-time index. `advance` applies due deadlines and hints in bounded
//! batches, in time order. Before any operation on a person, that person's state is completed
//! for segments built since it was last touched, and their own overdue deadlines are applied, in
//! time order, so membership history stays exact even when the index lags behind.

mod attributes;
mod bitset;
mod build;
mod changes;
mod compiled;
mod counting;
mod deadlines;
mod due;
mod events;
mod members;
mod ordinals;
mod people;
mod person;
mod plain;
mod retention;
mod scan;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value};

use crate::history::{EventKind, EventRecord, PersonHistory};
use crate::{PersonId, SegmentId, UnixSeconds};

use attributes::AttributeColumns;
use compiled::{Compiled, Predicates};
use counting::Scratch;
use deadlines::BuildDeadlines;
use events::{EventIndex, PersonEvent};
use members::Members;
use ordinals::Ordinals;
use people::People;
use person::{Context, MaybeTime, PersonState};

pub use build::{Preview, PreviewChange};
pub use changes::{BuildChanges, Changes};

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
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
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
    ordinals: Ordinals,
    events: EventIndex,
    attributes: AttributeColumns,
    due: BTreeSet<(UnixSeconds, PersonId)>,
    built: BuildDeadlines,
    members: HashMap<SegmentId, Members>,
    /// Whether some person was loaded from a history that left out event names, so that a table
    /// created from now on may lack their events of its name.
    partial: bool,
    #[serde(skip)]
    scratch: Scratch,
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

    fn ordinal_of(&self, person: PersonId) -> Option<u32> {
        self.people.get(person).map(|state| state.ordinal)
    }

    /// Tells whether a person is in a segment.
    pub fn is_member(&self, segment: SegmentId, person: PersonId) -> bool {
        let Some(ordinal) = self.ordinal_of(person) else {
            return false;
        };
        self.members
            .get(&segment)
            .is_some_and(|m| m.contains(ordinal))
    }

    /// Returns a segment's members in ascending order.
    pub fn members(&self, segment: SegmentId) -> impl Iterator<Item = PersonId> + '_ {
        self.members
            .get(&segment)
            .map(|m| self.ordinals.people(m.set_ref()))
            .unwrap_or_default()
            .into_iter()
    }

    /// Returns how many people are in a segment.
    pub fn count(&self, segment: SegmentId) -> usize {
        self.members.get(&segment).map_or(0, Members::len)
    }

    /// Returns each top-level attribute key with how many people have it, most common first
    /// (then by key), kept as attributes change.
    pub fn attribute_counts(&self) -> Vec<(String, usize)> {
        // Relationships reach the engine as a reserved attribute, but they are not one.
        let mut counts: Vec<(String, usize)> = self
            .attributes
            .people_with()
            .iter()
            .filter(|(key, _)| key.as_str() != crate::relationship::RELATIONSHIPS_KEY)
            .map(|(key, count)| (key.clone(), *count))
            .collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        counts
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

    /// Returns the segments the engine holds, each with its definition as given (`None` for a
    /// manual segment).
    pub fn segments(&self) -> impl Iterator<Item = (SegmentId, Option<&Value>)> + '_ {
        self.segments
            .iter()
            .map(|(id, compiled)| (*id, compiled.source()))
    }

    /// Tells whether the engine knows this person.
    pub fn knows(&self, person: PersonId) -> bool {
        self.people.contains(person)
    }

    /// The people the engine knows, in no particular order.
    pub fn people(&self) -> impl Iterator<Item = PersonId> + '_ {
        self.people.iter().map(|(person, _)| person)
    }

    /// Returns how many people the engine knows and how many event rows its index holds.
    pub fn size(&self) -> (usize, usize) {
        (self.people.len(), self.events.rows())
    }

    /// Loads a person from their full history (at start, or when a person appears with history),
    /// evaluating every segment. The changes have origin `Build`. A history that leaves out
    /// events (`earliest_event` set) must hold every event of the names the segments look at.
    pub fn load_person(
        &mut self,
        person: PersonId,
        history: &PersonHistory,
        now: UnixSeconds,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        self.load(person, history, now, &mut changes);
        changes
    }

    fn load(
        &mut self,
        person: PersonId,
        history: &PersonHistory,
        now: UnixSeconds,
        changes: &mut Vec<Change>,
    ) {
        let previous = self.people.get(person).map(|state| state.ordinal);
        if let Some(old) = previous {
            // A reload replaces the state under a new ordinal, so that the old rows die with the
            // old one; the memberships move over, so that evaluating records only what changed.
            self.materialize(person);
            if let Some(state) = self.people.remove(person) {
                self.retire(person, &state);
            }
            let new = self.create(person, &history.attributes, history.first_seen);
            for members in self.members.values_mut() {
                if members.set(old, false) {
                    members.set(new, true);
                }
            }
        } else {
            self.create(person, &history.attributes, history.first_seen);
        }
        let Some(ordinal) = self.ordinal_of(person) else {
            return;
        };
        let rows: Vec<PersonEvent> = history
            .events
            .iter()
            .map(|event| self.index_event(ordinal, event))
            .collect();
        if let Some(state) = self.people.get_mut(person) {
            state.events.extend(rows);
            state.earliest_event = MaybeTime::new(history.earliest_event());
        }
        if history.earliest_event.is_some() {
            self.mark_partial();
        }
        self.evaluate(
            person,
            now,
            Scope::All,
            &Cause::Build,
            Origin::Build,
            changes,
        );
    }

    /// Creates a person's state under a new ordinal; returns the ordinal.
    fn create(
        &mut self,
        person: PersonId,
        attributes: &Map<String, Value>,
        first_seen: UnixSeconds,
    ) -> u32 {
        let ordinal = self.ordinals.assign(person);
        self.attributes.set(ordinal, attributes);
        self.people
            .insert(person, PersonState::new(first_seen, ordinal));
        ordinal
    }

    /// Forgets a removed state's ordinal, its rows and its deadlines.
    fn retire(&mut self, person: PersonId, state: &PersonState) {
        if let Some(due) = state.due.get() {
            self.due.remove(&(due, person));
        }
        self.built.take(state.ordinal);
        self.attributes.forget(state.ordinal);
        self.ordinals.retire(state.ordinal);
        for (table, rows) in state.events.per_table() {
            self.events.note_dead(table, rows);
        }
    }

    /// Adds an event to the index; returns the row for the person's own list.
    fn index_event(&mut self, ordinal: u32, event: &EventRecord) -> PersonEvent {
        let table = self
            .events
            .table_or_insert(&event.name, event.kind, !self.partial);
        let (data, new) = self
            .events
            .add(table, event.timestamp, ordinal, &event.data);
        if new {
            self.predicates.data_added(table, &event.data);
        }
        PersonEvent {
            table,
            timestamp: event.timestamp,
            data,
        }
    }

    /// Records that a history left out events: tables that no segment looks at may now lack
    /// some, and so may any table created from now on.
    fn mark_partial(&mut self) {
        self.partial = true;
        let referenced: BTreeSet<u32> = self
            .event_scopes
            .keys()
            .filter_map(|(name, kind)| self.events.table_of(name, *kind))
            .collect();
        for (id, table) in self.events.tables_mut() {
            if !referenced.contains(&id) {
                table.complete = false;
            }
        }
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
        match self.ordinal_of(person) {
            Some(ordinal) => self.attributes.set(ordinal, &attributes),
            None => {
                self.create(person, &attributes, first_seen);
            }
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
        let Some(ordinal) = self.ordinal_of(person) else {
            return changes;
        };
        self.catch_up(person, now, &mut changes);
        let row = self.index_event(ordinal, event);
        let Some(state) = self.people.get_mut(person) else {
            return changes;
        };
        let earliest_moved = state.add_event(row);
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

    /// Drops a person's state with no membership change: their partition went to another
    /// node, which stores their changes from now on. Loading their history again
    /// (`load_person`, then their manual memberships) makes them as they were.
    pub fn unload_person(&mut self, person: PersonId) {
        let mut discarded = Vec::new();
        self.forget(person, 0, &Cause::Delete, &mut discarded);
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
        let mut changes = self.merged_away(secondary, now);
        self.catch_up(primary, now, &mut changes);
        let Some(ordinal) = self.ordinal_of(primary) else {
            return changes;
        };
        let rows: Vec<PersonEvent> = moved_events
            .iter()
            .map(|event| self.index_event(ordinal, event))
            .collect();
        self.attributes.set(ordinal, &primary_attributes);
        let Some(state) = self.people.get_mut(primary) else {
            return changes;
        };
        for row in rows {
            state.add_event(row);
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

    /// The secondary's half of a merge: it leaves every segment, for the merge's sake. An
    /// engine that holds the secondary but not the primary (another node owns the primary's
    /// partition) applies just this half.
    pub fn merged_away(&mut self, secondary: PersonId, now: UnixSeconds) -> Vec<Change> {
        let mut changes = Vec::new();
        self.catch_up(secondary, now, &mut changes);
        self.forget(secondary, now, &Cause::Merge, &mut changes);
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
        let Some(ordinal) = self.ordinal_of(person) else {
            return changes;
        };
        if !self
            .members
            .entry(segment)
            .or_default()
            .set(ordinal, member)
        {
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
        self.retire(person, &state);
        for segment in &self.order {
            if let Some(set) = self.members.get_mut(segment)
                && set.set(state.ordinal, false)
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
    /// The person must have been materialized (see `due.rs`).
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
            events,
            attributes,
            ..
        } = self;
        let Some(state) = people.get_mut(person) else {
            return;
        };
        state.last_eval = state.last_eval.max(at);
        let ordinal = state.ordinal;
        for segment in order.iter() {
            if let Scope::Some(selected) = &scope
                && !selected.contains(segment)
            {
                continue;
            }
            let Some(root) = segments.get(segment).and_then(Compiled::root) else {
                continue;
            };
            let (member, next) = {
                let in_segment =
                    |id: SegmentId| members.get(&id).is_some_and(|m| m.contains(ordinal));
                let context = Context {
                    predicates,
                    events,
                    in_segment: &in_segment,
                    attributes,
                };
                state.evaluate(root, &context, at)
            };
            state.set_next(*segment, next);
            if members.entry(*segment).or_default().set(ordinal, member) {
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
        reschedule_after(due, person, state, segments, at);
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

/// Puts a person in the due-time index at their earliest next change after `after`, over every
/// segment: segment references make one segment's next change also a change of its dependents.
/// Entries of deleted segments are dropped here rather than when they are deleted.
fn reschedule_after(
    due: &mut BTreeSet<(UnixSeconds, PersonId)>,
    person: PersonId,
    state: &mut PersonState,
    segments: &BTreeMap<SegmentId, Compiled>,
    after: UnixSeconds,
) {
    if state.nexts.iter().any(|(id, _)| !segments.contains_key(id)) {
        let mut nexts = std::mem::take(&mut state.nexts).into_vec();
        nexts.retain(|(id, _)| segments.contains_key(id));
        state.nexts = nexts.into_boxed_slice();
    }
    let next_due = state
        .nexts
        .iter()
        .map(|(_, next)| *next)
        .filter(|t| *t > after)
        .min();
    reschedule(due, person, state, next_due);
}

/// Moves a person's entry in the due-time index to `next_due`.
fn reschedule(
    due: &mut BTreeSet<(UnixSeconds, PersonId)>,
    person: PersonId,
    state: &mut PersonState,
    next_due: Option<UnixSeconds>,
) {
    if state.due.get() != next_due {
        if let Some(old) = state.due.get() {
            due.remove(&(old, person));
        }
        state.due = MaybeTime::new(next_due);
        if let Some(next) = next_due {
            due.insert((next, person));
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
