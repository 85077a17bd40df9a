//! Values as pages show them.

use herald_domain::{PersonSeq, SegmentId, WorkspaceId};
use herald_store::Workspace;

/// A moment in UTC, to the minute ("2026-12-03 08:59 UTC").
pub fn moment(unix_seconds: i64) -> String {
    jiff::Timestamp::from_second(unix_seconds).map_or_else(
        |_| unix_seconds.to_string(),
        |at| at.strftime("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// A workspace as its pages show it.
pub struct WorkspaceView {
    pub id: WorkspaceId,
    pub name: String,
    pub site_id: String,
    pub created: String,
}

impl From<&Workspace> for WorkspaceView {
    fn from(workspace: &Workspace) -> Self {
        Self {
            id: workspace.id,
            name: workspace.name.clone(),
            site_id: workspace.site_id.clone(),
            created: moment(workspace.created_at),
        }
    }
}

/// A JSON value as a page shows it: strings bare, anything else as indented JSON. The
/// template escapes it like any other text.
pub fn pretty(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

/// A person as lists and profiles show them.
pub struct PersonView {
    pub seq: PersonSeq,
    pub id: String,
    pub email: String,
    pub cio_id: String,
    pub created: String,
    pub updated: String,
}

impl PersonView {
    /// What names the person in a heading: the id, else the email, else the cio_id.
    pub fn title(&self) -> &str {
        [&self.id, &self.email]
            .into_iter()
            .find(|text| !text.is_empty())
            .unwrap_or(&self.cio_id)
    }
}

impl From<&herald_store::Person> for PersonView {
    fn from(person: &herald_store::Person) -> Self {
        Self {
            seq: person.seq,
            id: person.id.clone().unwrap_or_default(),
            email: person.email.clone().unwrap_or_default(),
            cio_id: format!("cio_{}", person.cio_id),
            created: moment(person.created_at),
            updated: moment(person.updated_at),
        }
    }
}

/// One entry of an activity log.
pub struct ActivityView {
    pub seq: i64,
    /// Who it belongs to (id, else email, else cio_id); empty for anonymous activity.
    pub person: String,
    pub person_seq: Option<PersonSeq>,
    pub kind: String,
    pub name: String,
    pub at: String,
    pub data: String,
}

impl From<&herald_store::Activity> for ActivityView {
    fn from(activity: &herald_store::Activity) -> Self {
        let empty = activity
            .data
            .as_object()
            .is_some_and(serde_json::Map::is_empty);
        let person = activity.customer.as_ref().map_or_else(String::new, |c| {
            c.id.clone()
                .or_else(|| c.email.clone())
                .unwrap_or_else(|| format!("cio_{}", c.cio_id))
        });
        Self {
            seq: activity.seq,
            person,
            person_seq: activity.person_seq,
            kind: activity.kind.replace('_', " "),
            name: activity.name.clone().unwrap_or_default(),
            at: moment(activity.timestamp),
            data: if empty || activity.data.is_null() {
                String::new()
            } else {
                pretty(&activity.data)
            },
        }
    }
}

/// A segment a person is in, with why and when that changes by time alone.
pub struct SegmentStay {
    pub id: SegmentId,
    pub name: String,
    pub manual: bool,
    pub next_change: String,
    /// The definition's conditions with the person's answers.
    pub why: Vec<crate::explain::ExplainLine>,
}

impl SegmentStay {
    /// The segments a person is in now, each explained by the engine.
    pub async fn of_person(
        segments: &herald_segments::Segments,
        workspace_id: WorkspaceId,
        seq: PersonSeq,
    ) -> Result<Vec<Self>, herald_segments::SegmentsError> {
        let mut stays = Vec::new();
        for segment in segments.of_person(workspace_id, seq).await? {
            let explanation = segments.explain(workspace_id, segment.id, seq).await?;
            stays.push(Self {
                id: segment.id,
                name: segment.name,
                manual: explanation.manual,
                next_change: explanation.next_change_at.map(moment).unwrap_or_default(),
                why: explanation
                    .condition
                    .as_ref()
                    .map(crate::explain::lines)
                    .unwrap_or_default(),
            });
        }
        Ok(stays)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn moments_read_in_utc() {
        assert_eq!(super::moment(1_800_000_000), "2027-01-15 08:00 UTC");
    }
}
