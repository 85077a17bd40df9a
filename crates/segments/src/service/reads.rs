//! What the engine answers about segments, with the store's identifiers and history beside it.

use herald_domain::{PersonSeq, SegmentId, WorkspaceId};
use herald_segment_engine::engine::Preview;
use herald_store::{MembershipCause, MembershipOrigin, Person};
use serde::Serialize;
use serde_json::Value;

use super::SegmentsError;
use crate::questions::{Question, Reply};
use crate::{EngineError, Segments, history_of};

/// A definition's count and first members, nothing saved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentPreview {
    pub count: usize,
    /// The first members' ids, in the order of their internal numbers (`None` for a person
    /// known only by email or cio_id).
    pub sample: Vec<Option<String>>,
}

/// What saving a definition over an existing segment would do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangePreview {
    pub preview: SegmentPreview,
    pub entering: usize,
    pub leaving: usize,
}

/// A page of a segment's members, in the order of their internal numbers.
#[derive(Debug, Clone)]
pub struct MembersPage {
    pub people: Vec<Person>,
    /// Where the next page starts, when there is one.
    pub next: Option<i64>,
}

/// Whether a person is in a segment, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// A manual segment has no conditions to explain.
    pub manual: bool,
    pub member: bool,
    /// When the membership changes next by time alone, if it will.
    pub next_change_at: Option<i64>,
    /// The engine's time the answer was computed at.
    pub now: i64,
    /// Each condition of the definition with its own answer for the person; `None` for a
    /// manual segment.
    pub condition: Option<Value>,
}

/// One stay in a segment: when and why the person entered and, once they did, left.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interval {
    pub entered_at: i64,
    pub entered_because: MembershipCause,
    pub origin: MembershipOrigin,
    pub exited_at: Option<i64>,
    pub exited_because: Option<MembershipCause>,
}

impl Segments {
    /// How many people are in a segment now.
    pub async fn count(
        &self,
        workspace_id: WorkspaceId,
        id: SegmentId,
    ) -> Result<usize, SegmentsError> {
        self.get_known(workspace_id, id).await?;
        let question = Question::Count {
            workspace_id,
            segment: id,
        };
        match self.ask_engines(question).await? {
            Reply::Count(count) => Ok(count),
            _ => Err(EngineError::Loading.into()),
        }
    }

    /// The segment's size at the end of each of the `days` UTC days ending with day `today`,
    /// oldest first, worked back from its size now through its entries and exits per day.
    pub async fn sizes_by_day(
        &self,
        workspace_id: WorkspaceId,
        id: SegmentId,
        today: i64,
        days: i64,
    ) -> Result<Vec<(i64, i64)>, SegmentsError> {
        let now = i64::try_from(self.count(workspace_id, id).await?).unwrap_or(i64::MAX);
        // What the engine has decided is stored before the days are read.
        self.flush().await?;
        let first = today - days + 1;
        let changes = self
            .store
            .read(move |r| r.segment_days(id, first + 1))
            .await?;
        let mut sizes = Vec::with_capacity(usize::try_from(days).unwrap_or(0));
        let mut size = now;
        for day in (first..=today).rev() {
            sizes.push((day, size));
            // The size at the end of the day before: undo this day's entries and exits.
            if let Some((_, entered, exited)) = changes.iter().find(|(d, _, _)| *d == day) {
                size = size - entered + exited;
            }
        }
        sizes.reverse();
        Ok(sizes)
    }

    /// Up to `limit` members after internal number `after` (`None` from the start).
    pub async fn members_page(
        &self,
        workspace_id: WorkspaceId,
        id: SegmentId,
        after: Option<i64>,
        limit: usize,
    ) -> Result<MembersPage, SegmentsError> {
        self.get_known(workspace_id, id).await?;
        let question = Question::Members {
            workspace_id,
            segment: id,
            after: after.unwrap_or(i64::MIN),
            limit: limit.saturating_add(1),
        };
        let Reply::People(mut page) = self.ask_engines(question).await? else {
            return Err(EngineError::Loading.into());
        };
        let more = page.len() > limit;
        page.truncate(limit);
        let next = if more { page.last().copied() } else { None };
        let people = self
            .store
            .read(move |reader| {
                let mut people = Vec::with_capacity(page.len());
                for seq in page {
                    people.extend(reader.person_by_seq(workspace_id, PersonSeq::new(seq))?);
                }
                Ok(people)
            })
            .await?;
        Ok(MembersPage { people, next })
    }

    /// Every member of a segment now, in ascending order.
    pub async fn all_members(
        &self,
        workspace_id: WorkspaceId,
        id: SegmentId,
    ) -> Result<Vec<i64>, EngineError> {
        let question = Question::Members {
            workspace_id,
            segment: id,
            after: i64::MIN,
            limit: usize::MAX,
        };
        match self.ask_engines(question).await? {
            Reply::People(people) => Ok(people),
            _ => Err(EngineError::Loading),
        }
    }

    /// The segments a person is in now, oldest first.
    pub async fn of_person(
        &self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
    ) -> Result<Vec<herald_store::SegmentRow>, SegmentsError> {
        let ids = self
            .person_segments(workspace_id, person_seq, None)
            .await?
            .0;
        let mut segments = self.list(workspace_id).await?;
        segments.retain(|s| ids.contains(&s.id));
        Ok(segments)
    }

    /// Each top-level attribute key of the workspace's people with how many have it, most
    /// common first: the engine keeps the counts as attributes change.
    pub async fn attribute_counts(
        &self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<(String, usize)>, SegmentsError> {
        match self
            .ask_engines(Question::AttributeCounts { workspace_id })
            .await?
        {
            Reply::AttributeCounts(counts) => Ok(counts),
            _ => Err(EngineError::Loading.into()),
        }
    }

    /// The segments a person is in now, and when their memberships next change by time alone
    /// (only `next_of`'s, when given), from the engine that holds them.
    pub(crate) async fn person_segments(
        &self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
        next_of: Option<SegmentId>,
    ) -> Result<(Vec<SegmentId>, Option<i64>), SegmentsError> {
        let question = Question::Person {
            workspace_id,
            person: person_seq.get(),
            segment: next_of,
        };
        match self.ask_engines(question).await? {
            Reply::Person {
                segments,
                next_change,
            } => Ok((segments, next_change)),
            _ => Err(EngineError::Loading.into()),
        }
    }

    /// Counts a definition's members now, with the first `sample` ids, without saving it.
    pub async fn preview(
        &self,
        workspace_id: WorkspaceId,
        definition: &Value,
        sample: usize,
    ) -> Result<SegmentPreview, SegmentsError> {
        let definition = self
            .check_definition(workspace_id, definition, None)
            .await?;
        // The engine holds every stored event of its people: its index answers at once, or it
        // evaluates each person from their own rows (filters that depend on the time, the
        // profile age). The sample's ids are read afterwards, off the engine's thread.
        let question = Question::Preview {
            workspace_id,
            definition,
            sample,
        };
        let preview = match self.ask_engines(question).await? {
            Reply::Preview { count, sample } => Preview { count, sample },
            // Only while the engine's tables are partial, which a loaded engine never is.
            _ => return Err(EngineError::Loading.into()),
        };
        self.with_ids(workspace_id, preview).await
    }

    /// What saving `definition` over segment `id` would do now, nothing saved: the count and
    /// first `sample` ids it would have, and how many people would enter and leave.
    pub async fn preview_change(
        &self,
        workspace_id: WorkspaceId,
        id: SegmentId,
        definition: &Value,
        sample: usize,
    ) -> Result<ChangePreview, SegmentsError> {
        self.get_known(workspace_id, id).await?;
        let definition = self
            .check_definition(workspace_id, definition, Some(id))
            .await?;
        let question = Question::PreviewChange {
            workspace_id,
            segment: id,
            definition,
            sample,
        };
        let Reply::PreviewChange {
            count,
            sample,
            entering,
            leaving,
        } = self.ask_engines(question).await?
        else {
            return Err(EngineError::Loading.into());
        };
        Ok(ChangePreview {
            preview: self
                .with_ids(workspace_id, Preview { count, sample })
                .await?,
            entering,
            leaving,
        })
    }

    /// An engine preview with its sample's ids, read off the engine's thread.
    async fn with_ids(
        &self,
        workspace_id: WorkspaceId,
        preview: Preview,
    ) -> Result<SegmentPreview, SegmentsError> {
        let seqs: Vec<PersonSeq> = preview.sample.into_iter().map(PersonSeq::new).collect();
        // A definition nobody matches asks the store nothing: a reader's wake-up is most of
        // such a preview's time.
        let sample = if seqs.is_empty() {
            Vec::new()
        } else {
            self.store
                .read(move |r| r.person_ids(workspace_id, &seqs))
                .await?
        };
        Ok(SegmentPreview {
            count: preview.count,
            sample,
        })
    }

    /// Whether a person is in a segment and, for a data-driven one, how each condition of its
    /// definition answers for them now.
    pub async fn explain(
        &self,
        workspace_id: WorkspaceId,
        id: SegmentId,
        person_seq: PersonSeq,
    ) -> Result<Explanation, SegmentsError> {
        let segment = self.get_known(workspace_id, id).await?;
        let manual = segment.definition.is_none();
        // A stored definition was checked when it was saved.
        let definition = segment
            .definition
            .as_ref()
            .and_then(|value| herald_segment_engine::Definition::parse(value).ok());
        // The person's history is read before the engine is asked, off its thread.
        let history = match definition {
            Some(_) => Some(
                self.store
                    .read(move |r| history_of(r, workspace_id, person_seq.get()))
                    .await?
                    .ok_or(SegmentsError::PersonNotFound)?,
            ),
            None => None,
        };
        let (segments, next_change_at) = self
            .person_segments(workspace_id, person_seq, Some(id))
            .await?;
        let now = self.clock.now();
        let in_segment = |other: SegmentId| segments.contains(&other);
        let condition = definition.zip(history).map(|(definition, history)| {
            herald_segment_engine::explain::explain(&definition.root, &history, &in_segment, now).1
        });
        Ok(Explanation {
            manual,
            member: segments.contains(&id),
            next_change_at,
            now,
            condition,
        })
    }

    /// A person's stays in a segment, oldest first, with every change the engine made so far.
    pub async fn history(
        &self,
        workspace_id: WorkspaceId,
        id: SegmentId,
        person_seq: PersonSeq,
    ) -> Result<Vec<Interval>, SegmentsError> {
        self.get_known(workspace_id, id).await?;
        self.flush().await?;
        let changes = self
            .store
            .read(move |r| r.segment_history(id, person_seq))
            .await?;
        let mut intervals: Vec<Interval> = Vec::new();
        for change in changes {
            if change.entered {
                intervals.push(Interval {
                    entered_at: change.at,
                    entered_because: change.cause,
                    origin: change.origin,
                    exited_at: None,
                    exited_because: None,
                });
            } else if let Some(open) = intervals.last_mut().filter(|i| i.exited_at.is_none()) {
                open.exited_at = Some(change.at);
                open.exited_because = Some(change.cause);
            }
        }
        Ok(intervals)
    }
}
