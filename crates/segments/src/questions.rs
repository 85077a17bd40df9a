//! What one node asks the engines of the others, when each engine holds only the people of
//! its node's partitions (`FollowOptions::own_partitions_only`): every engine answers for the
//! partitions it holds, and the node that asked puts the answers together once they cover
//! every partition, each partition once.
//!
//! Questions and answers travel through the store (`StoreTx::ask_engines`,
//! `StoreTx::answer_engines`), which announces each, encoded here as JSON.

use herald_domain::{SegmentId, WorkspaceId};
use herald_segment_engine::Definition;
use herald_store::{PARTITIONS, PartitionSet};
use serde::{Deserialize, Serialize};

use crate::handle::RunnerView;

/// A question every engine answers for the people it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Question {
    /// How many of its people are in the segment.
    Count {
        workspace_id: WorkspaceId,
        segment: SegmentId,
    },
    /// Its first `limit` members of the segment after `after`, in ascending order.
    Members {
        workspace_id: WorkspaceId,
        segment: SegmentId,
        after: i64,
        limit: usize,
    },
    /// How many of its people a definition holds for now, and the first `sample` of them.
    Preview {
        workspace_id: WorkspaceId,
        definition: Definition,
        sample: usize,
    },
    /// What saving `definition` over `segment` would do to its people.
    PreviewChange {
        workspace_id: WorkspaceId,
        segment: SegmentId,
        definition: Definition,
        sample: usize,
    },
    /// The segments a person is in and when their memberships next change by time, from the
    /// engine that holds them (the others know nothing of them).
    Person {
        workspace_id: WorkspaceId,
        person: i64,
        /// The one segment whose next change is asked for (an explanation's); without it, the
        /// earliest of all the person's segments.
        #[serde(default)]
        segment: Option<SegmentId>,
    },
    /// Which of `people` are in which of `segments`.
    Memberships {
        workspace_id: WorkspaceId,
        segments: Vec<SegmentId>,
        people: Vec<i64>,
    },
    /// How many of its people have each top-level attribute key.
    AttributeCounts { workspace_id: WorkspaceId },
}

/// A question with the engine-log position every answer must hold everything up to: the
/// log's end when it was asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Asked {
    pub(crate) position: i64,
    pub(crate) question: Question,
}

/// One engine's reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Reply {
    Count(usize),
    People(Vec<i64>),
    Preview {
        count: usize,
        sample: Vec<i64>,
    },
    PreviewChange {
        count: usize,
        sample: Vec<i64>,
        entering: usize,
        leaving: usize,
    },
    Person {
        segments: Vec<SegmentId>,
        next_change: Option<i64>,
    },
    Memberships(Vec<(SegmentId, i64)>),
    AttributeCounts(Vec<(String, usize)>),
    /// The engine cannot answer (a preview while its tables are partial).
    Unable,
}

/// An engine's reply with the partitions it answered for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Answer {
    pub(crate) partitions: Vec<u16>,
    pub(crate) reply: Reply,
}

impl Question {
    /// The stored segment the question is about, which an engine answering it must hold as
    /// stored (it may have heard of it after the question).
    pub(crate) fn segment(&self) -> Option<(WorkspaceId, SegmentId)> {
        match self {
            Self::Count {
                workspace_id,
                segment,
            }
            | Self::Members {
                workspace_id,
                segment,
                ..
            }
            | Self::PreviewChange {
                workspace_id,
                segment,
                ..
            } => Some((*workspace_id, *segment)),
            Self::Preview { .. }
            | Self::Person { .. }
            | Self::Memberships { .. }
            | Self::AttributeCounts { .. } => None,
        }
    }

    /// This engine's reply, for the people it holds.
    pub(crate) fn reply(&self, view: &mut RunnerView<'_>) -> Reply {
        match self {
            Self::Count {
                workspace_id,
                segment,
            } => Reply::Count(
                view.engines
                    .get(workspace_id)
                    .map_or(0, |engine| engine.count(*segment)),
            ),
            Self::Members {
                workspace_id,
                segment,
                after,
                limit,
            } => Reply::People(
                view.engines
                    .get(workspace_id)
                    .map_or_else(Vec::new, |engine| {
                        engine
                            .members(*segment)
                            .filter(|person| person > after)
                            .take(*limit)
                            .collect()
                    }),
            ),
            Self::Preview {
                workspace_id,
                definition,
                sample,
            } => {
                let now = view.now;
                match view.engines.get_mut(workspace_id) {
                    // A workspace the engine has not met has nobody.
                    None => Reply::Preview {
                        count: 0,
                        sample: Vec::new(),
                    },
                    Some(engine) => match engine.preview_each(definition, now, *sample) {
                        Some(preview) => Reply::Preview {
                            count: preview.count,
                            sample: preview.sample,
                        },
                        None => Reply::Unable,
                    },
                }
            }
            Self::PreviewChange {
                workspace_id,
                segment,
                definition,
                sample,
            } => {
                let now = view.now;
                match view.engines.get_mut(workspace_id) {
                    None => Reply::PreviewChange {
                        count: 0,
                        sample: Vec::new(),
                        entering: 0,
                        leaving: 0,
                    },
                    Some(engine) => {
                        match engine.preview_change(definition, *segment, now, *sample) {
                            Some(change) => Reply::PreviewChange {
                                count: change.preview.count,
                                sample: change.preview.sample,
                                entering: change.entering,
                                leaving: change.leaving,
                            },
                            None => Reply::Unable,
                        }
                    }
                }
            }
            Self::Person {
                workspace_id,
                person,
                segment,
            } => {
                let engine = view.engines.get(workspace_id);
                Reply::Person {
                    segments: engine.map_or_else(Vec::new, |engine| engine.segments_of(*person)),
                    next_change: engine.and_then(|engine| match segment {
                        Some(segment) => engine.next_change_of(*person, *segment),
                        None => engine.next_due(*person),
                    }),
                }
            }
            Self::Memberships {
                workspace_id,
                segments,
                people,
            } => Reply::Memberships(view.engines.get(workspace_id).map_or_else(
                Vec::new,
                |engine| {
                    segments
                        .iter()
                        .flat_map(|segment| {
                            people
                                .iter()
                                .filter(|person| engine.is_member(*segment, **person))
                                .map(|person| (*segment, *person))
                        })
                        .collect()
                },
            )),
            Self::AttributeCounts { workspace_id } => Reply::AttributeCounts(
                view.engines
                    .get_mut(workspace_id)
                    .map_or_else(Vec::new, |engine| engine.attribute_counts()),
            ),
        }
    }

    /// Puts replies that together cover every partition once into one, as the engine of a
    /// node that held every partition would have answered; `None` if one could not answer.
    pub(crate) fn merge(&self, replies: Vec<Reply>) -> Option<Reply> {
        match self {
            Self::Count { .. } => replies
                .into_iter()
                .map(|reply| match reply {
                    Reply::Count(count) => Some(count),
                    _ => None,
                })
                .sum::<Option<usize>>()
                .map(Reply::Count),
            Self::Members { limit, .. } => {
                let mut people = Vec::new();
                for reply in replies {
                    let Reply::People(some) = reply else {
                        return None;
                    };
                    people.extend(some);
                }
                people.sort_unstable();
                people.truncate(*limit);
                Some(Reply::People(people))
            }
            Self::Preview { sample: wanted, .. } => {
                let (mut total, mut people) = (0, Vec::new());
                for reply in replies {
                    let Reply::Preview { count, sample } = reply else {
                        return None;
                    };
                    total += count;
                    people.extend(sample);
                }
                people.sort_unstable();
                people.truncate(*wanted);
                Some(Reply::Preview {
                    count: total,
                    sample: people,
                })
            }
            Self::PreviewChange { sample: wanted, .. } => {
                let (mut total, mut people, mut entered, mut left) = (0, Vec::new(), 0, 0);
                for reply in replies {
                    let Reply::PreviewChange {
                        count,
                        sample,
                        entering,
                        leaving,
                    } = reply
                    else {
                        return None;
                    };
                    total += count;
                    people.extend(sample);
                    entered += entering;
                    left += leaving;
                }
                people.sort_unstable();
                people.truncate(*wanted);
                Some(Reply::PreviewChange {
                    count: total,
                    sample: people,
                    entering: entered,
                    leaving: left,
                })
            }
            Self::Person { .. } => {
                let (mut all, mut next) = (Vec::new(), None::<i64>);
                for reply in replies {
                    let Reply::Person {
                        segments,
                        next_change,
                    } = reply
                    else {
                        return None;
                    };
                    all.extend(segments);
                    next = match (next, next_change) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                Some(Reply::Person {
                    segments: all,
                    next_change: next,
                })
            }
            Self::Memberships { .. } => {
                let mut pairs = Vec::new();
                for reply in replies {
                    let Reply::Memberships(some) = reply else {
                        return None;
                    };
                    pairs.extend(some);
                }
                Some(Reply::Memberships(pairs))
            }
            Self::AttributeCounts { .. } => {
                let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
                for reply in replies {
                    let Reply::AttributeCounts(some) = reply else {
                        return None;
                    };
                    for (key, count) in some {
                        *counts.entry(key).or_default() += count;
                    }
                }
                // Most common first, then by key, as an engine orders them.
                let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
                counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                Some(Reply::AttributeCounts(counts))
            }
        }
    }
}

/// Chooses, from answers in the order they came (this node's own first), some that cover
/// every partition with no partition twice, and returns their replies; `None` until some do.
/// Answers overlap while partitions move: a node that gave a partition up keeps answering for
/// it until its new owner's engine holds its people, and either answers for it exactly, but
/// not both. So the choice is a search, not a first-come pass: an engine that still holds
/// everything covers alone even when an answer for part of it came first.
pub(crate) fn cover(answers: &[Answer]) -> Option<Vec<Reply>> {
    let sets: Vec<PartitionSet> = answers
        .iter()
        .map(|answer| answer.partitions.iter().copied().collect())
        .collect();
    let mut chosen = Vec::new();
    // Each step takes the lowest partition not covered yet: some answer must hold it, so
    // only those are tried, and a node count of answers keeps the search small.
    fn search(sets: &[PartitionSet], covered: PartitionSet, chosen: &mut Vec<usize>) -> bool {
        let Some(missing) = (0..PARTITIONS).find(|partition| !covered.contains(*partition)) else {
            return true;
        };
        for (index, set) in sets.iter().enumerate() {
            if !set.contains(missing) || set.meets(&covered) {
                continue;
            }
            chosen.push(index);
            if search(sets, covered.union(set), chosen) {
                return true;
            }
            chosen.pop();
        }
        false
    }
    search(&sets, PartitionSet::default(), &mut chosen).then(|| {
        chosen
            .into_iter()
            .map(|index| answers[index].reply.clone())
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use herald_domain::{SegmentId, WorkspaceId};

    use super::{Answer, Question, Reply, cover};

    fn answer(partitions: std::ops::Range<u16>, count: usize) -> Answer {
        Answer {
            partitions: partitions.collect(),
            reply: Reply::Count(count),
        }
    }

    #[test]
    fn answers_count_once_per_partition_and_only_when_every_partition_answered() {
        let question = Question::Count {
            workspace_id: WorkspaceId::new(1),
            segment: SegmentId::new(2),
        };
        let halves = [answer(0..128, 5), answer(128..256, 7)];
        assert_eq!(cover(&halves[..1]), None, "half the partitions");
        let replies = cover(&halves).expect("every partition");
        assert_eq!(question.merge(replies), Some(Reply::Count(12)));
        // A partition held by two engines at once counts once.
        let overlapping = [answer(0..130, 6), answer(128..256, 7), answer(130..256, 4)];
        let replies = cover(&overlapping).expect("every partition");
        assert_eq!(question.merge(replies), Some(Reply::Count(10)));
        // A node that gave partitions up and still holds them answers for everyone alone,
        // though the answer of their new owner came first.
        let handing_over = [answer(128..256, 7), answer(0..256, 12)];
        let replies = cover(&handing_over).expect("every partition");
        assert_eq!(question.merge(replies), Some(Reply::Count(12)));
        let three = [answer(0..100, 1), answer(50..256, 2), answer(100..256, 3)];
        let replies = cover(&three).expect("every partition");
        assert_eq!(question.merge(replies), Some(Reply::Count(4)));
        assert_eq!(cover(&[answer(0..100, 1), answer(50..256, 2)]), None);
    }

    #[test]
    fn pages_and_samples_merge_in_ascending_order() {
        let members = Question::Members {
            workspace_id: WorkspaceId::new(1),
            segment: SegmentId::new(2),
            after: 0,
            limit: 3,
        };
        let merged = members.merge(vec![
            Reply::People(vec![2, 9]),
            Reply::People(vec![1, 4, 5]),
        ]);
        assert_eq!(merged, Some(Reply::People(vec![1, 2, 4])));
        let preview = Question::Preview {
            workspace_id: WorkspaceId::new(1),
            definition: herald_segment_engine::Definition::parse(
                &serde_json::json!({"event": {"name": "a"}}),
            )
            .expect("a definition"),
            sample: 2,
        };
        let merged = preview.merge(vec![
            Reply::Preview {
                count: 10,
                sample: vec![7, 8],
            },
            Reply::Preview {
                count: 1,
                sample: vec![3],
            },
        ]);
        assert_eq!(
            merged,
            Some(Reply::Preview {
                count: 11,
                sample: vec![3, 7]
            })
        );
        assert_eq!(preview.merge(vec![Reply::Unable]), None);
    }
}
