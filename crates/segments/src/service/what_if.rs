//! "What would this event do?": every segment's answer for a person now, and what it would be
//! with one more event of theirs at this instant, the event stored nowhere.
//!
//! The answers come from the engine's reference evaluator over the person's own history, the
//! same function the engine is tested against, so the outcome is what sending would do. Manual
//! segments do not move on events: their answer is the engine's membership, before and after.

use herald_domain::{PersonSeq, SegmentId, WorkspaceId};
use std::cell::RefCell;
use std::collections::HashMap;

use herald_segment_engine::definition::Condition;
use herald_segment_engine::{Definition, EventRecord, PersonHistory, reference};
use serde_json::{Map, Value};

use super::SegmentsError;
use crate::{Segments, history_of};

/// A segment's answer for the person without and with the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentAnswer {
    pub id: SegmentId,
    pub name: String,
    pub before: bool,
    pub after: bool,
}

/// What an event would do to a person's segments, and what the person would then look like.
#[derive(Debug, Clone)]
pub struct EventWhatIf {
    /// The engine's time the answers are for; the event would carry it.
    pub now: i64,
    /// Every segment of the workspace, oldest first.
    pub segments: Vec<SegmentAnswer>,
    /// The person's history with the event added, for conditions asked about afterwards (a
    /// campaign's filter).
    pub history_after: PersonHistory,
}

impl EventWhatIf {
    /// Tells whether the person would be in a segment after the event.
    pub fn member_after(&self, id: SegmentId) -> bool {
        self.segments.iter().any(|s| s.id == id && s.after)
    }
}

impl Segments {
    /// Answers every segment for a person as things are and as they would be after an event
    /// named `name` with `data`, at the engine's current time. Stores nothing.
    pub async fn what_if_event(
        &self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
        name: String,
        data: Map<String, Value>,
    ) -> Result<EventWhatIf, SegmentsError> {
        let rows = self.list(workspace_id).await?;
        let history = self
            .store
            .read(move |r| history_of(r, workspace_id, person_seq.get()))
            .await?
            .ok_or(SegmentsError::PersonNotFound)?;
        // Stored definitions were checked when they were saved; one that no longer parses
        // counts as manual rather than failing the whole answer.
        let conditions: HashMap<SegmentId, Condition> = rows
            .iter()
            .filter_map(|row| {
                let definition = Definition::parse(row.definition.as_ref()?).ok()?;
                Some((row.id, definition.root))
            })
            .collect();
        let (memberships, _) = self.person_segments(workspace_id, person_seq, None).await?;
        let now = self.clock.now();
        let manual = |id: SegmentId| memberships.contains(&id);
        let mut history_after = history.clone();
        history_after.events.push(EventRecord::from_parts(
            name,
            "event",
            now,
            Value::Object(data),
        ));
        let before = Answers::new(&conditions, &history, &manual, now);
        let after = Answers::new(&conditions, &history_after, &manual, now);
        let segments = rows
            .into_iter()
            .map(|row| SegmentAnswer {
                before: before.member(row.id),
                after: after.member(row.id),
                id: row.id,
                name: row.name,
            })
            .collect();
        Ok(EventWhatIf {
            now,
            segments,
            history_after,
        })
    }
}

/// Each segment's answer for one history, worked out once, those it refers to first.
struct Answers<'a> {
    conditions: &'a HashMap<SegmentId, Condition>,
    history: &'a PersonHistory,
    manual: &'a dyn Fn(SegmentId) -> bool,
    now: i64,
    /// `None` while a segment is being answered: a cycle (which saving refuses) reads false.
    known: RefCell<HashMap<SegmentId, Option<bool>>>,
}

impl<'a> Answers<'a> {
    fn new(
        conditions: &'a HashMap<SegmentId, Condition>,
        history: &'a PersonHistory,
        manual: &'a dyn Fn(SegmentId) -> bool,
        now: i64,
    ) -> Self {
        Self {
            conditions,
            history,
            manual,
            now,
            known: RefCell::new(HashMap::new()),
        }
    }

    fn member(&self, id: SegmentId) -> bool {
        if let Some(known) = self.known.borrow().get(&id) {
            return known.unwrap_or(false);
        }
        let Some(condition) = self.conditions.get(&id) else {
            return (self.manual)(id);
        };
        self.known.borrow_mut().insert(id, None);
        let answer = reference::matches(
            condition,
            self.history,
            &|other| self.member(other),
            self.now,
        );
        self.known.borrow_mut().insert(id, Some(answer));
        answer
    }
}
