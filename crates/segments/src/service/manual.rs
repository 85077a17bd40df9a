//! The membership of manual segments.

use herald_domain::{Identifier, PersonSeq, SegmentId, WorkspaceId};

use super::SegmentsError;
use crate::Segments;

/// What a manual change did: how many people it found, and what matched nobody.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ManualReport {
    pub matched: usize,
    /// The identifiers that matched nobody, as given.
    pub unmatched: Vec<String>,
}

/// What a typed entry may be, in the order tried: an id, then an email (stored in lowercase).
fn typed_identifiers(text: &str) -> Vec<Identifier> {
    vec![
        Identifier::Id(text.to_owned()),
        Identifier::Email(text.to_lowercase()),
    ]
}

impl Segments {
    /// Adds the people with these identifiers to a manual segment (or removes them); unknown
    /// identifiers are skipped, as Customer.io does, and listed in the report. Returns once the
    /// change is committed.
    pub async fn set_manual_members(
        &self,
        workspace_id: WorkspaceId,
        id: SegmentId,
        identifiers: Vec<Identifier>,
        add: bool,
    ) -> Result<ManualReport, SegmentsError> {
        let candidates = identifiers
            .into_iter()
            .map(|identifier| {
                let text = identifier.value().to_owned();
                (text, vec![identifier])
            })
            .collect();
        self.change_manual(workspace_id, id, candidates, add).await
    }

    /// The same for identifiers typed by a person (a list pasted or uploaded in the web UI):
    /// each is a person's id or, failing that, their email.
    pub async fn set_manual_members_by_text(
        &self,
        workspace_id: WorkspaceId,
        id: SegmentId,
        typed: Vec<String>,
        add: bool,
    ) -> Result<ManualReport, SegmentsError> {
        let candidates = typed
            .into_iter()
            .map(|text| {
                let identifiers = typed_identifiers(&text);
                (text, identifiers)
            })
            .collect();
        self.change_manual(workspace_id, id, candidates, add).await
    }

    /// The person a person typed: their id or, failing that, their email.
    pub async fn person_typed(
        &self,
        workspace_id: WorkspaceId,
        typed: &str,
    ) -> Result<Option<herald_store::Person>, SegmentsError> {
        let identifiers = typed_identifiers(typed.trim());
        Ok(self
            .store
            .read(move |reader| {
                for identifier in &identifiers {
                    if let Some(person) = reader.person(workspace_id, identifier)? {
                        return Ok(Some(person));
                    }
                }
                Ok(None)
            })
            .await?)
    }

    /// Finds each entry's person by the first of its identifiers that names one, then changes
    /// the segment's membership for those found.
    async fn change_manual(
        &self,
        workspace_id: WorkspaceId,
        id: SegmentId,
        candidates: Vec<(String, Vec<Identifier>)>,
        add: bool,
    ) -> Result<ManualReport, SegmentsError> {
        let segment = self.get_known(workspace_id, id).await?;
        if segment.definition.is_some() {
            return Err(SegmentsError::Invalid(format!(
                "segment {id} is a data-driven segment; only manual segments take add_customers and remove_customers"
            )));
        }
        let (people, unmatched) = self
            .store
            .read(move |reader| {
                let mut found = Vec::new();
                let mut unmatched = Vec::new();
                'entries: for (text, identifiers) in &candidates {
                    for identifier in identifiers {
                        if let Some(person) = reader.person(workspace_id, identifier)? {
                            found.push(person.seq);
                            continue 'entries;
                        }
                    }
                    unmatched.push(text.clone());
                }
                Ok((found, unmatched))
            })
            .await?;
        let matched = people.len();
        let people = people.into_iter().map(PersonSeq::get).collect();
        self.set_manual(workspace_id, id, people, add).await?;
        Ok(ManualReport { matched, unmatched })
    }
}
