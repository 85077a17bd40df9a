//! "What will this do?": before an event is sent, the segments the person would enter or leave
//! and, for each running campaign, whether the event would start it and, if not, why. Nothing
//! is stored: the segments come from the engine's evaluator over the person's history with the
//! event added, the campaigns from the same trigger checks and frequency rule the triggers
//! apply, and the campaign's filter from the same evaluator the dispatcher runs.

use herald_campaigns::{Enrollment, Frequency, ObjectChange, Trigger};
use herald_domain::{CampaignId, PersonSeq, SegmentId, WorkspaceId};
use herald_segment_engine::filter::holds;
use herald_segment_engine::reference::matches;
use herald_segments::{EventWhatIf, SegmentAnswer};
use herald_store::CampaignState;
use serde_json::{Map, Value};

use super::{Campaigns, CampaignsError};
use crate::registry::Loaded;

/// Whether one running campaign would start, and why not when it would not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignOutcome {
    pub id: CampaignId,
    pub name: String,
    /// `None`: the event would start a run of it.
    pub not_started_because: Option<String>,
}

/// What an event would do.
#[derive(Debug, Clone)]
pub struct WhatIf {
    pub entered: Vec<SegmentAnswer>,
    pub left: Vec<SegmentAnswer>,
    /// Every running campaign of the workspace, oldest first.
    pub campaigns: Vec<CampaignOutcome>,
    /// How many campaigns are drafts or paused, which no event starts.
    pub not_running: usize,
}

impl Campaigns {
    /// Works out what an event named `name` with `data` (already checked as the Track API
    /// checks it) would do if sent to a person now. Stores nothing.
    pub async fn what_if_event(
        &self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
        name: &str,
        data: &Map<String, Value>,
    ) -> Result<WhatIf, CampaignsError> {
        let segments = self
            .segments
            .what_if_event(workspace_id, person_seq, name.to_owned(), data.clone())
            .await
            .map_err(|error| match error {
                herald_segments::SegmentsError::PersonNotFound => CampaignsError::PersonNotFound,
                herald_segments::SegmentsError::Engine(error) => error.into(),
                herald_segments::SegmentsError::Store(error) => error.into(),
                other => CampaignsError::Invalid(other.to_string()),
            })?;
        let rows = self.list(workspace_id).await?;
        let running = self.registry.running(workspace_id);
        let mut campaigns = Vec::new();
        for row in rows
            .iter()
            .filter(|row| row.state == CampaignState::Running)
        {
            let Some(loaded) = running.iter().find(|c| c.id == row.id) else {
                continue;
            };
            let campaign_id = loaded.id;
            let enrolled = loaded.campaign.frequency == Frequency::Once
                && self
                    .store
                    .read(move |r| r.is_enrolled(campaign_id, person_seq))
                    .await?;
            campaigns.push(CampaignOutcome {
                id: loaded.id,
                name: loaded.name.clone(),
                not_started_because: why_not(
                    loaded,
                    &row.definition,
                    &segments,
                    name,
                    data,
                    enrolled,
                ),
            });
        }
        let (entered, left) = segments
            .segments
            .iter()
            .filter(|answer| answer.before != answer.after)
            .cloned()
            .partition(|answer| answer.after);
        Ok(WhatIf {
            entered,
            left,
            campaigns,
            not_running: rows.len()
                - rows
                    .iter()
                    .filter(|r| r.state == CampaignState::Running)
                    .count(),
        })
    }
}

/// Why the event would not start a run of `campaign`, or `None` when it would.
fn why_not(
    campaign: &Loaded,
    definition: &Value,
    segments: &EventWhatIf,
    name: &str,
    data: &Map<String, Value>,
    enrolled: bool,
) -> Option<String> {
    let now = segments.now;
    match &campaign.campaign.trigger {
        Trigger::Event {
            name: wanted,
            filters,
        } => {
            if wanted != name {
                return Some(format!("It starts on the event “{wanted}”, not “{name}”."));
            }
            if let Some(index) = filters.iter().position(|f| !holds(f, data, now)) {
                let source = definition
                    .pointer(&format!("/trigger/event/where/{index}"))
                    .map(Value::to_string)
                    .unwrap_or_default();
                return Some(format!(
                    "Its trigger's data filter {source} does not hold for this event's data."
                ));
            }
        }
        Trigger::Object {
            object_type_id, on, ..
        } => {
            let change = match on {
                ObjectChange::Updated => "an object of type {type} is updated",
                ObjectChange::Added => "a person is related to an object of type {type}",
                ObjectChange::Changed => {
                    "a person's relationship to an object of type {type} changes"
                }
                ObjectChange::Removed => "a person's relationship to an object of type {type} ends",
            }
            .replace("{type}", object_type_id);
            return Some(format!("It starts when {change}, not on an event."));
        }
        Trigger::Transactional => {
            return Some(
                "It is a transactional message: only a request to /v1/send/email or /v1/send/push sends it."
                    .to_owned(),
            );
        }
        Trigger::Segment { id, on_enter } => {
            let answer = segments.segments.iter().find(|a| a.id == *id);
            let segment =
                answer.map_or_else(|| format!("segment {id}"), |a| format!("“{}”", a.name));
            let moves = answer.is_some_and(|a| a.before != *on_enter && a.after == *on_enter);
            if !moves {
                let already = answer.is_some_and(|a| a.before == *on_enter);
                let (verb, state) = if *on_enter {
                    ("enter", "in")
                } else {
                    ("leave", "out of")
                };
                return Some(if already && *on_enter {
                    let enrollment = match campaign.campaign.enrollment {
                        Enrollment::Future => {
                            "its enrollment is “future”, so only people who enter from now on start it"
                        }
                        Enrollment::CurrentAndFuture => {
                            "people already in it were enrolled when the campaign started"
                        }
                    };
                    format!("The person is already in {segment}; {enrollment}.")
                } else if already {
                    format!(
                        "It starts when a person leaves {segment}, and the person is not in it."
                    )
                } else {
                    format!(
                        "It starts when a person {verb}s {segment}; this event does not take them {state} it."
                    )
                });
            }
        }
    }
    if enrolled {
        return Some("The person went through it before and its frequency is “once”.".to_owned());
    }
    if let Some(filter) = &campaign.campaign.filter {
        let in_segment = |id: SegmentId| segments.member_after(id);
        if !matches(filter, &segments.history_after, &in_segment, now) {
            return Some(
                "The person would not match the campaign's filter, so the run would end before its first step."
                    .to_owned(),
            );
        }
    }
    None
}
