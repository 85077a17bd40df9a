//! Customer search (`POST /v1/customers`): the people an audience filter matches, a page at a
//! time in the order of their internal numbers.
//!
//! The scan reads people a chunk at a time, never the whole workspace at once: from the members
//! of a segment every match must be in when the filter names one (the engine's smallest such
//! segment), else from every live person in the store. Each chunk's memberships of the
//! filter's segments come from the engine in one query, and its attribute conditions are
//! evaluated on the stored profiles.

use std::collections::HashSet;

use herald_domain::{PersonSeq, SegmentId, WorkspaceId};
use herald_store::Person;

use super::SegmentsError;
use super::people_filter::PeopleFilter;
use crate::questions::{Question, Reply};
use crate::{EngineError, Segments};

/// How many people one step of a scan reads.
const CHUNK: usize = 500;

/// A page of the people a filter matches, in the order of their internal numbers.
#[derive(Debug, Clone)]
pub struct PeoplePage {
    pub people: Vec<Person>,
    /// Where the next page starts (the last person of this one), when there is one.
    pub next: Option<PersonSeq>,
}

/// Where a scan takes its candidates from.
enum Source {
    /// Every live person of the workspace, read from the store after this internal number.
    Everyone { after: Option<PersonSeq> },
    /// The members of one segment after the cursor, ascending, as the engine listed them; the
    /// next chunk starts at `next`.
    Members { seqs: Vec<i64>, next: usize },
}

impl Segments {
    /// Up to `limit` people matching `filter` whose internal number is above `after`.
    pub async fn search_people(
        &self,
        workspace_id: WorkspaceId,
        filter: &PeopleFilter,
        after: Option<PersonSeq>,
        limit: usize,
    ) -> Result<PeoplePage, SegmentsError> {
        self.search_people_in_chunks(workspace_id, filter, after, limit, CHUNK)
            .await
    }

    /// [`Segments::search_people`] reading `chunk` people at a time (tests make it small to
    /// cross chunk boundaries with a few people).
    pub(crate) async fn search_people_in_chunks(
        &self,
        workspace_id: WorkspaceId,
        filter: &PeopleFilter,
        after: Option<PersonSeq>,
        limit: usize,
        chunk: usize,
    ) -> Result<PeoplePage, SegmentsError> {
        let segments: Vec<SegmentId> = filter.segments().into_iter().collect();
        for id in &segments {
            self.get_known(workspace_id, *id)
                .await
                .map_err(|error| match error {
                    SegmentsError::NotFound => SegmentsError::Invalid(format!(
                        "the filter names segment {id}, which does not exist in this workspace"
                    )),
                    other => other,
                })?;
        }
        let mut source = self
            .source(workspace_id, &filter.required_segments(), after)
            .await?;
        // One more match than asked tells whether another page follows.
        let mut found: Vec<Person> = Vec::new();
        while found.len() <= limit {
            let people = self.next_chunk(workspace_id, &mut source, chunk).await?;
            let Some(people) = people else {
                break;
            };
            let members = self.memberships(workspace_id, &segments, &people).await?;
            for person in people {
                let in_segment = |id: SegmentId| members.contains(&(id, person.seq));
                if filter.matches(&person, &in_segment) {
                    found.push(person);
                    if found.len() > limit {
                        break;
                    }
                }
            }
        }
        let next = if found.len() > limit {
            found.truncate(limit);
            found.last().map(|person| person.seq)
        } else {
            None
        };
        Ok(PeoplePage {
            people: found,
            next,
        })
    }

    /// Takes the candidates from the smallest of the segments every match must be in, if the
    /// filter requires any; else from everyone.
    async fn source(
        &self,
        workspace_id: WorkspaceId,
        required: &[SegmentId],
        after: Option<PersonSeq>,
    ) -> Result<Source, SegmentsError> {
        if required.is_empty() {
            return Ok(Source::Everyone { after });
        }
        let after = after.map_or(i64::MIN, PersonSeq::get);
        let mut smallest = None;
        for segment in required {
            let count = self.count(workspace_id, *segment).await?;
            if smallest.is_none_or(|(_, least)| count < least) {
                smallest = Some((*segment, count));
            }
        }
        let Some((smallest, _)) = smallest else {
            return Ok(Source::Members {
                seqs: Vec::new(),
                next: 0,
            });
        };
        let question = Question::Members {
            workspace_id,
            segment: smallest,
            after,
            limit: usize::MAX,
        };
        let Reply::People(seqs) = self.ask_engines(question).await? else {
            return Err(EngineError::Loading.into());
        };
        Ok(Source::Members { seqs, next: 0 })
    }

    /// The next chunk of candidates with their profiles, or `None` once there are no more.
    async fn next_chunk(
        &self,
        workspace_id: WorkspaceId,
        source: &mut Source,
        chunk: usize,
    ) -> Result<Option<Vec<Person>>, SegmentsError> {
        match source {
            Source::Everyone { after } => {
                let from = *after;
                let people = self
                    .store
                    .read(move |reader| reader.people_after(workspace_id, from, chunk))
                    .await?;
                let Some(last) = people.last() else {
                    return Ok(None);
                };
                *after = Some(last.seq);
                Ok(Some(people))
            }
            Source::Members { seqs, next } => {
                if *next >= seqs.len() {
                    return Ok(None);
                }
                let end = seqs.len().min(*next + chunk);
                let page: Vec<PersonSeq> = seqs[*next..end]
                    .iter()
                    .copied()
                    .map(PersonSeq::new)
                    .collect();
                *next = end;
                // A member deleted since the engine listed them is left out.
                let people = self
                    .store
                    .read(move |reader| {
                        let mut people = Vec::with_capacity(page.len());
                        for seq in page {
                            people.extend(reader.person_by_seq(workspace_id, seq)?);
                        }
                        Ok(people)
                    })
                    .await?;
                Ok(Some(people))
            }
        }
    }

    /// Which of `people` are in which of `segments`, in one query of the engine (none when the
    /// filter names no segment, so an attribute search never waits for the engine).
    async fn memberships(
        &self,
        workspace_id: WorkspaceId,
        segments: &[SegmentId],
        people: &[Person],
    ) -> Result<HashSet<(SegmentId, PersonSeq)>, SegmentsError> {
        if segments.is_empty() || people.is_empty() {
            return Ok(HashSet::new());
        }
        let question = Question::Memberships {
            workspace_id,
            segments: segments.to_vec(),
            people: people.iter().map(|person| person.seq.get()).collect(),
        };
        let Reply::Memberships(pairs) = self.ask_engines(question).await? else {
            return Err(EngineError::Loading.into());
        };
        Ok(pairs
            .into_iter()
            .map(|(segment, person)| (segment, PersonSeq::new(person)))
            .collect())
    }
}

/// A page of the objects a filter matches, in the order they were created.
#[derive(Debug, Clone)]
pub struct ObjectsPage {
    pub objects: Vec<herald_store::ObjectRow>,
    /// Where the next page starts (the last object of this one), when there is one.
    pub next: Option<herald_domain::ObjectSeq>,
}

impl Segments {
    /// Object search (`POST /v1/objects`): up to `limit` objects of a type matching a filter
    /// parsed with [`PeopleFilter::parse_for_objects`], after the object `after`, read from the
    /// store a chunk at a time.
    pub async fn search_objects(
        &self,
        workspace_id: WorkspaceId,
        object_type_id: &str,
        filter: &PeopleFilter,
        mut after: Option<herald_domain::ObjectSeq>,
        limit: usize,
    ) -> Result<ObjectsPage, SegmentsError> {
        let mut found = Vec::new();
        // One more match than asked tells whether another page follows.
        while found.len() <= limit {
            let type_id = object_type_id.to_owned();
            let chunk = self
                .store
                .read(move |r| r.objects_of_type(workspace_id, &type_id, after, CHUNK))
                .await?;
            let full = chunk.len() == CHUNK;
            after = chunk.last().map(|object| object.seq);
            found.extend(
                chunk
                    .into_iter()
                    .filter(|object| filter.matches_object(object)),
            );
            if !full {
                break;
            }
        }
        let next = if found.len() > limit {
            found.truncate(limit);
            found.last().map(|object| object.seq)
        } else {
            None
        };
        Ok(ObjectsPage {
            objects: found,
            next,
        })
    }
}
