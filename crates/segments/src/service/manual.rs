//! The membership of manual segments.

use herald_domain::Identifier;

use super::SegmentsError;
use crate::Segments;

impl Segments {
    /// Adds the people with these identifiers to a manual segment (or removes them); unknown
    /// identifiers are skipped, as Customer.io does. Returns once the change is committed.
    pub async fn set_manual_members(
        &self,
        workspace_id: i64,
        id: i64,
        identifiers: Vec<Identifier>,
        add: bool,
    ) -> Result<(), SegmentsError> {
        let segment = self.get(workspace_id, id).await?;
        if segment.definition.is_some() {
            return Err(SegmentsError::Invalid(format!(
                "segment {id} is a data-driven segment; only manual segments take add_customers and remove_customers"
            )));
        }
        let people = self
            .store
            .read(move |reader| {
                let mut found = Vec::new();
                for identifier in &identifiers {
                    if let Some(person) = reader.person(workspace_id, identifier)? {
                        found.push(person.seq);
                    }
                }
                Ok(found)
            })
            .await?;
        Ok(self.set_manual(workspace_id, id, people, add).await?)
    }
}
