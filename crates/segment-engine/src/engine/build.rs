//! Builds and previews: evaluating a definition for everyone from the event index.

use std::collections::BTreeSet;

use super::bitset::Bitset;
use super::changes::{BuildChanges, Changes};
use super::compiled::{Compiled, Interner};
use super::deadlines::Hint;
use super::members::Members;
use super::person::Context;
use super::scan::{Scan, indexable};
use super::{Cause, Change, Engine, Origin, Scope};
use crate::definition::{Condition, Definition};
use crate::history::PersonHistory;
use crate::{PersonId, SegmentId, UnixSeconds};

/// A definition's members at some time, without saving it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub count: usize,
    /// The first members in ascending id order.
    pub sample: Vec<PersonId>,
}

/// What saving a definition over an existing segment would do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewChange {
    pub preview: Preview,
    /// People it holds for who are not members now.
    pub entering: usize,
    /// Members now it does not hold for.
    pub leaving: usize,
}

impl Engine {
    /// Creates or replaces a segment (`None` makes a manual segment) and evaluates it, and the
    /// segments that refer to it, for everyone. The changes it makes have origin `Build`.
    ///
    /// The engine evaluates from its own event index. `histories` must hold the full history of
    /// every person (as `set_segment` always required), but is read only for people the engine
    /// does not know yet and for event names whose table the engine cannot vouch for (people
    /// were loaded from histories that left the name out); a caller whose engine holds
    /// everything may pass nothing. The caller checks beforehand that references exist and
    /// form no cycle.
    pub fn set_segment(
        &mut self,
        id: SegmentId,
        definition: Option<Definition>,
        histories: impl IntoIterator<Item = (PersonId, PersonHistory)>,
        now: UnixSeconds,
    ) -> Changes {
        // Deadlines due by now are applied first, as if the index had not lagged, so that the
        // memberships a build reads (segment references) are those of `now`.
        let (mut changes, _) = self.advance(now, usize::MAX);
        let mut interner = Interner {
            predicates: &mut self.predicates,
            events: &mut self.events,
            complete: !self.partial,
        };
        let compiled = Compiled::new(definition, &mut interner);
        let manual = compiled.is_manual();
        let incomplete: BTreeSet<u32> = compiled
            .events()
            .iter()
            .filter_map(|(name, kind)| self.events.table_of(name, *kind))
            .filter(|table| !self.events.table(*table).complete)
            .collect();
        self.segments.insert(id, compiled);
        self.recompute_order();
        self.members.entry(id).or_default();
        let dependents = self.dependents.get(&id).cloned().unwrap_or_default();
        // What earlier builds of this segment and of those referring to it left pending belongs
        // to memberships this build replaces: completing a person's state from it (while
        // histories are read, or while a dependent is evaluated person by person) would read
        // the new memberships with the old build's time. The entries it leaves in people's
        // states are recomputed after the build. A manual segment keeps its members, so the
        // segments referring to it keep theirs, and their pending deadlines with them.
        self.built.remove(id);
        if !manual {
            for segment in &dependents {
                self.built.remove(*segment);
            }
        }
        self.read_histories(histories, &incomplete, now, &mut changes);
        let mut all = Changes::default();
        all.push_singles(changes);
        if manual {
            return all;
        }
        let scope: Vec<SegmentId> = self
            .order
            .iter()
            .copied()
            .filter(|segment| *segment == id || dependents.contains(segment))
            .collect();
        for segment in scope {
            self.build(segment, now, &mut all);
        }
        all
    }

    /// Loads the people the engine does not know from their histories, and refills the given
    /// tables from everyone's history.
    fn read_histories(
        &mut self,
        histories: impl IntoIterator<Item = (PersonId, PersonHistory)>,
        refill: &BTreeSet<u32>,
        now: UnixSeconds,
        changes: &mut Vec<Change>,
    ) {
        for table in refill {
            self.events.clear(*table);
            for state in self.people.states_mut() {
                state.events.remove_table(*table);
            }
        }
        for (person, history) in histories {
            if !self.people.contains(person) {
                self.load(person, &history, now, changes);
                continue;
            }
            if refill.is_empty() {
                continue;
            }
            self.catch_up(person, now, changes);
            let Some(ordinal) = self.ordinal_of(person) else {
                continue;
            };
            for event in &history.events {
                let table = self.events.table_of(&event.name, event.kind);
                if table.is_some_and(|table| refill.contains(&table)) {
                    let row = self.index_event(ordinal, event);
                    if let Some(state) = self.people.get_mut(person) {
                        state.add_event(row);
                    }
                }
            }
            if let Some(state) = self.people.get_mut(person) {
                state.earliest_event = super::person::MaybeTime::new(super::person::earliest(
                    state.earliest_event.get(),
                    history.earliest_event(),
                ));
            }
        }
        for table in refill {
            self.events.table_mut(*table).complete = true;
        }
    }

    /// Evaluates one segment for everyone at `now`: from the index when its definition allows,
    /// else person by person.
    fn build(&mut self, segment: SegmentId, now: UnixSeconds, all: &mut Changes) {
        let Some(condition) = self
            .segments
            .get(&segment)
            .and_then(Compiled::condition)
            .cloned()
        else {
            return;
        };
        if !indexable(&condition) && condition_references(&condition) {
            self.built.remove(segment);
            let people: Vec<PersonId> = self.people.iter().map(|(person, _)| person).collect();
            let scope = BTreeSet::from([segment]);
            let mut changes = Vec::new();
            for person in people {
                self.catch_up(person, now, &mut changes);
                self.evaluate(
                    person,
                    now,
                    Scope::Some(&scope),
                    &Cause::Build,
                    Origin::Build,
                    &mut changes,
                );
            }
            all.push_singles(changes);
            return;
        }
        let (result, hints) = if indexable(&condition) {
            self.events.settle_all(self.ordinals.alive());
            let mut hints = Vec::new();
            let mut scratch = std::mem::take(&mut self.scratch);
            let result = self
                .scan(now)
                .evaluate(&condition, &mut scratch, &mut Some(&mut hints));
            self.scratch = scratch;
            (result, hints)
        } else {
            self.evaluate_each(segment, now)
        };
        let old = self.members.remove(&segment).unwrap_or_default();
        all.push_build(BuildChanges::new(
            segment,
            now,
            &result,
            old.set_ref(),
            self.ordinals.ids(),
        ));
        self.members.insert(segment, Members::from_set(result));
        self.built
            .replace(segment, now, self.ordinals.alive().clone(), hints);
    }

    /// Evaluates a segment the index cannot answer (its filters depend on the time, or it asks
    /// for the profile age) person by person, from each person's own rows, without touching
    /// anyone's state: the answer and when it next changes by time alone, which becomes a hint.
    /// Every person's rows and attributes are current, and the segment refers to no other, so
    /// nothing a person's pending deadlines or builds would change is read.
    fn evaluate_each(&self, segment: SegmentId, now: UnixSeconds) -> (Bitset, Vec<Vec<Hint>>) {
        let mut result = Bitset::new();
        let mut hints = Vec::new();
        let Some(root) = self.segments.get(&segment).and_then(Compiled::root) else {
            return (result, Vec::new());
        };
        let in_segment = |_: SegmentId| false;
        let context = Context {
            predicates: &self.predicates,
            events: &self.events,
            in_segment: &in_segment,
            attributes: &self.attributes,
        };
        for (_, state) in self.people.iter() {
            let (member, next) = state.evaluate(root, &context, now);
            if member {
                result.insert(state.ordinal);
            }
            if let Some(next) = next {
                hints.push(Hint::new(next, now, state.ordinal));
            }
        }
        hints.sort_unstable_by_key(|hint| hint.after);
        (result, vec![hints])
    }

    /// Deletes a segment. Segments referring to it must have been deleted or edited first.
    ///
    /// People's next-change times for it are left where they are, and dropped when each person
    /// is next evaluated: visiting a million states here would cost more than any build, and an
    /// entry left behind can only wake a person early for nothing. A segment created again
    /// under the same id is built, so every person's entry for it is rewritten before it is read.
    pub fn remove_segment(&mut self, id: SegmentId) {
        self.segments.remove(&id);
        self.members.remove(&id);
        self.built.remove(id);
        self.recompute_order();
    }

    fn scan(&self, now: UnixSeconds) -> Scan<'_> {
        Scan {
            events: &self.events,
            predicates: &self.predicates,
            attributes: &self.attributes,
            members: &self.members,
            ordinals: &self.ordinals,
            now,
        }
    }

    /// Evaluates a definition for everyone at `now` without saving it, with up to `sample`
    /// members, from the index. Returns `None` when the index cannot answer: a filter that
    /// depends on the time or the profile-age rule, or an event name whose events the engine may
    /// not all hold; the caller then evaluates person by person from history.
    pub fn preview(
        &mut self,
        definition: &Definition,
        now: UnixSeconds,
        sample: usize,
    ) -> Option<Preview> {
        let result = self.indexed_set(definition, now)?;
        Some(self.preview_of(&result, sample))
    }

    /// The people a definition holds for at `now`, from the index, if it can answer.
    /// It counts in the engine's own working memory, as builds do: a fresh megabyte of counters
    /// per preview costs more in page faults than the counting itself.
    fn indexed_set(&mut self, definition: &Definition, now: UnixSeconds) -> Option<Bitset> {
        if !indexable(&definition.root) || !self.holds_every_event_of(&definition.root) {
            return None;
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let result = self
            .scan(now)
            .evaluate(&definition.root, &mut scratch, &mut None);
        self.scratch = scratch;
        Some(result)
    }

    /// Evaluates any definition for everyone at `now`, like `preview`, person by person from
    /// their own rows when the index cannot answer (filters that depend on the time, the
    /// profile-age rule; references read the other segments' members). It interns the
    /// definition's predicates, which later segments with the same conditions share. Returns
    /// `None` when the engine may not hold every event the definition reads.
    pub fn preview_each(
        &mut self,
        definition: &Definition,
        now: UnixSeconds,
        sample: usize,
    ) -> Option<Preview> {
        let result = self.preview_set(definition, now)?;
        Some(self.preview_of(&result, sample))
    }

    /// What saving `definition` over segment `current` would do at `now`, nothing saved: its
    /// preview, and how many of its people would enter and how many of the segment's members
    /// would leave. `None` as for `preview_each`.
    pub fn preview_change(
        &mut self,
        definition: &Definition,
        current: SegmentId,
        now: UnixSeconds,
        sample: usize,
    ) -> Option<PreviewChange> {
        let result = self.preview_set(definition, now)?;
        let members = self
            .members
            .get(&current)
            .map(|members| members.set_ref().clone())
            .unwrap_or_default();
        let mut entering = result.clone();
        entering.difference_with(&members);
        let mut leaving = members;
        leaving.difference_with(&result);
        Some(PreviewChange {
            preview: self.preview_of(&result, sample),
            entering: entering.len(),
            leaving: leaving.len(),
        })
    }

    /// The people a definition holds for at `now`: from the index when it can answer, else
    /// person by person.
    fn preview_set(&mut self, definition: &Definition, now: UnixSeconds) -> Option<Bitset> {
        if let Some(result) = self.indexed_set(definition, now) {
            return Some(result);
        }
        if !self.holds_every_event_of(&definition.root) {
            return None;
        }
        let mut interner = Interner {
            predicates: &mut self.predicates,
            events: &mut self.events,
            complete: !self.partial,
        };
        let compiled = Compiled::new(Some(definition.clone()), &mut interner);
        let root = compiled.root()?;
        let mut result = Bitset::new();
        for (_, state) in self.people.iter() {
            let in_segment = |id: SegmentId| {
                self.members
                    .get(&id)
                    .is_some_and(|members| members.contains(state.ordinal))
            };
            let context = Context {
                predicates: &self.predicates,
                events: &self.events,
                in_segment: &in_segment,
                attributes: &self.attributes,
            };
            if state.evaluate(root, &context, now).0 {
                result.insert(state.ordinal);
            }
        }
        Some(result)
    }

    /// The count of a set of people and its first `sample` members.
    fn preview_of(&self, result: &Bitset, sample: usize) -> Preview {
        Preview {
            count: result.len(),
            sample: self.ordinals.first_people(result, sample),
        }
    }

    /// Tells whether the index holds every event the condition's event conditions look at.
    fn holds_every_event_of(&self, condition: &Condition) -> bool {
        match condition {
            Condition::And(children) | Condition::Or(children) => {
                children.iter().all(|c| self.holds_every_event_of(c))
            }
            Condition::Not(child) => self.holds_every_event_of(child),
            Condition::Event(event) => match self.events.table_of(&event.name, event.kind) {
                Some(table) => self.events.table(table).complete,
                None => !self.partial,
            },
            Condition::Attribute(_) | Condition::Segment(_) | Condition::Relationship(_) => true,
        }
    }

    /// Puts the events that arrived out of time order into place. A build does it itself;
    /// calling this after loading moves that cost out of the first build.
    pub fn settle_index(&mut self) {
        self.events.settle_all(self.ordinals.alive());
    }

    /// How many of the index's rows arrived out of time order and wait for a settle: every
    /// evaluation until then passes over them apart.
    pub fn unsettled_rows(&self) -> usize {
        self.events.unsettled()
    }
}

/// Tells whether a condition refers to another segment anywhere.
fn condition_references(condition: &Condition) -> bool {
    match condition {
        Condition::And(children) | Condition::Or(children) => {
            children.iter().any(condition_references)
        }
        Condition::Not(child) => condition_references(child),
        Condition::Segment(_) => true,
        Condition::Event(_) | Condition::Attribute(_) | Condition::Relationship(_) => false,
    }
}
