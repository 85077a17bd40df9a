//! Creating, editing, listing and deleting segments, with their definitions' checks.

use herald_domain::{SegmentId, WorkspaceId};
use std::collections::{BTreeMap, BTreeSet};

use herald_segment_engine::Definition;
use herald_segment_engine::engine::would_cycle;
use herald_store::{NewSegment, SegmentRow, SegmentState};
use serde_json::Value;

use super::SegmentsError;
use crate::Segments;

/// A new segment: `definition` is `None` for a manual segment.
#[derive(Debug, Clone)]
pub struct SegmentDraft {
    pub name: String,
    pub description: String,
    pub definition: Option<Value>,
}

/// What an edit changes; `None` leaves a field as it is, and `definition: Some(None)` makes
/// the segment manual.
#[derive(Debug, Clone, Default)]
pub struct SegmentEdit {
    pub name: Option<String>,
    pub description: Option<String>,
    pub definition: Option<Option<Value>>,
}

impl Segments {
    /// Every segment of a workspace, oldest first.
    pub async fn list(&self, workspace_id: WorkspaceId) -> Result<Vec<SegmentRow>, SegmentsError> {
        Ok(self.store.read(move |r| r.segments(workspace_id)).await?)
    }

    /// One segment of a workspace.
    pub async fn get(
        &self,
        workspace_id: WorkspaceId,
        id: SegmentId,
    ) -> Result<SegmentRow, SegmentsError> {
        self.store
            .read(move |r| r.segment(workspace_id, id))
            .await?
            .ok_or(SegmentsError::NotFound)
    }

    /// Like [`Segments::get`], for a call that then asks the engine about the segment: an
    /// engine that follows the store first brings it to the stored row, so that a segment
    /// created or edited on another node is known here before its notification arrives.
    pub(crate) async fn get_known(
        &self,
        workspace_id: WorkspaceId,
        id: SegmentId,
    ) -> Result<SegmentRow, SegmentsError> {
        let row = self.get(workspace_id, id).await?;
        self.know(&row);
        Ok(row)
    }

    /// Parses a definition and checks it against the workspace's segments: what it refers to
    /// must exist, and (for an existing segment, `own_id`) must not lead back to it. Reads the
    /// segments only when the definition refers to any, so a plain preview costs no read.
    pub async fn check_definition(
        &self,
        workspace_id: WorkspaceId,
        value: &Value,
        own_id: Option<SegmentId>,
    ) -> Result<Definition, SegmentsError> {
        let definition = Definition::parse(value)
            .and_then(|definition| Definition::refuse_in_new(value).map(|()| definition))
            .map_err(|error| {
                SegmentsError::InvalidDefinition(format!(
                    "invalid definition at {}: {}",
                    error.path, error.message
                ))
            })?;
        if definition.references().is_empty() {
            return Ok(definition);
        }
        let segments = self.list(workspace_id).await?;
        check_references(&definition, own_id, &segments)?;
        Ok(definition)
    }

    /// Saves a new segment and starts its build (a manual one starts empty and `finished`).
    pub async fn create(
        &self,
        workspace_id: WorkspaceId,
        draft: SegmentDraft,
    ) -> Result<SegmentRow, SegmentsError> {
        let name = checked_name(&draft.name)?;
        let definition = match &draft.definition {
            Some(value) => Some(self.check_definition(workspace_id, value, None).await?),
            None => None,
        };
        let new = NewSegment {
            workspace_id,
            name,
            description: draft.description,
            state: if definition.is_some() {
                SegmentState::Build
            } else {
                SegmentState::Finished
            },
            definition: draft.definition,
            now: self.clock.now(),
        };
        let row = self
            .store
            .write(move |tx| tx.insert_segment(&new))
            .await??;
        self.build(row.clone(), definition);
        Ok(row)
    }

    /// Edits a segment; a changed definition rebuilds it.
    pub async fn update(
        &self,
        workspace_id: WorkspaceId,
        id: SegmentId,
        edit: SegmentEdit,
    ) -> Result<SegmentRow, SegmentsError> {
        let mut row = self.get(workspace_id, id).await?;
        if let Some(name) = &edit.name {
            row.name = checked_name(name)?;
        }
        if let Some(description) = edit.description {
            row.description = description;
        }
        let mut rebuild = None;
        if let Some(definition) = edit.definition {
            let parsed = match &definition {
                Some(value) => Some(self.check_definition(workspace_id, value, Some(id)).await?),
                None => None,
            };
            if definition != row.definition {
                row.state = if parsed.is_some() {
                    SegmentState::Build
                } else {
                    SegmentState::Finished
                };
                row.progress = None;
                row.definition = definition;
                rebuild = Some(parsed);
            }
        }
        row.updated_at = self.clock.now().max(row.updated_at + 1);
        let saved = row.clone();
        self.store
            .write(move |tx| tx.update_segment(&saved))
            .await??;
        if let Some(parsed) = rebuild {
            self.build(row.clone(), parsed);
        }
        Ok(row)
    }

    /// Deletes a segment no other segment refers to. Its members and history stop counting at
    /// once; their rows are removed in steps in the background.
    pub async fn delete(
        &self,
        workspace_id: WorkspaceId,
        id: SegmentId,
    ) -> Result<(), SegmentsError> {
        self.get(workspace_id, id).await?;
        let users: Vec<SegmentId> = self
            .list(workspace_id)
            .await?
            .iter()
            .filter(|s| references_of(s).contains(&id))
            .map(|s| s.id)
            .collect();
        if !users.is_empty() {
            return Err(SegmentsError::InUse { id, users });
        }
        let deleted = self
            .store
            .write(move |tx| tx.delete_segment(workspace_id, id))
            .await??;
        if !deleted {
            return Err(SegmentsError::NotFound);
        }
        self.remove(workspace_id, id);
        Ok(())
    }
}

/// A segment's name, trimmed; it must say something and hold no NUL.
fn checked_name(name: &str) -> Result<String, SegmentsError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(SegmentsError::Invalid(
            "segment.name must be a non-empty string".into(),
        ));
    }
    if name.contains('\0') {
        return Err(SegmentsError::Invalid(
            "segment.name contains a NUL character (\\u0000), which identifiers and names may not contain".into(),
        ));
    }
    Ok(name.to_owned())
}

/// The segments a stored segment's definition refers to.
fn references_of(segment: &SegmentRow) -> BTreeSet<SegmentId> {
    segment
        .definition
        .as_ref()
        .and_then(|v| Definition::parse(v).ok())
        .map(|d| d.references())
        .unwrap_or_default()
}

/// What a definition refers to must exist and, for segment `own_id`, not lead back to it.
fn check_references(
    definition: &Definition,
    own_id: Option<SegmentId>,
    segments: &[SegmentRow],
) -> Result<(), SegmentsError> {
    let existing: BTreeSet<SegmentId> = segments.iter().map(|s| s.id).collect();
    if let Some(missing) = definition
        .references()
        .into_iter()
        .find(|reference| !existing.contains(reference))
    {
        return Err(SegmentsError::InvalidDefinition(format!(
            "invalid definition: it refers to segment {missing}, which does not exist"
        )));
    }
    if let Some(id) = own_id {
        let others: BTreeMap<SegmentId, BTreeSet<SegmentId>> = segments
            .iter()
            .filter(|s| s.id != id)
            .map(|s| (s.id, references_of(s)))
            .collect();
        if would_cycle(id, &definition.references(), &others) {
            return Err(SegmentsError::InvalidDefinition(format!(
                "invalid definition: segment {id} would refer to itself through its segment conditions"
            )));
        }
    }
    Ok(())
}
