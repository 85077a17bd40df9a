//! Objects (a company, an account, a class: anything people belong to) and people's
//! relationships to them, as Customer.io's Track API v2 and Data Pipelines `group` calls make
//! them.

use herald_domain::{ObjectSeq, PersonSeq, RELATIONSHIPS_ATTRIBUTE, UnixSeconds, WorkspaceId};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{Person, StoreError, StoreRead};

/// A stored object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectRow {
    pub seq: ObjectSeq,
    pub workspace_id: WorkspaceId,
    /// The object's type, as Customer.io numbers them: `"1"`, `"2"`, …
    pub object_type_id: String,
    /// The object's own id within its type, as the app sends it.
    pub object_id: String,
    /// Generated at creation and immutable, like a person's cio id.
    pub cio_object_id: String,
    pub attributes: Map<String, Value>,
    pub created_at: UnixSeconds,
    pub updated_at: UnixSeconds,
}

/// An object to store.
#[derive(Debug, Clone)]
pub struct NewObject {
    pub workspace_id: WorkspaceId,
    pub object_type_id: String,
    pub object_id: String,
    pub cio_object_id: String,
    pub attributes: Map<String, Value>,
    pub created_at: UnixSeconds,
}

/// A person's relationship to an object, seen from the person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonRelationship {
    pub object: ObjectRow,
    /// The relationship's own attributes (a person's role in a company, say).
    pub attributes: Map<String, Value>,
    pub created_at: UnixSeconds,
    pub updated_at: UnixSeconds,
}

/// Every relationship of a person, page after page.
pub fn all_relationships(
    reader: &mut dyn StoreRead,
    workspace_id: WorkspaceId,
    person_seq: PersonSeq,
) -> Result<Vec<PersonRelationship>, StoreError> {
    const PAGE: usize = 1000;
    let mut all: Vec<PersonRelationship> = Vec::new();
    loop {
        let after = all.last().map(|relationship| relationship.object.seq);
        let page = reader.person_relationships(workspace_id, person_seq, after, PAGE)?;
        let full = page.len() == PAGE;
        all.extend(page);
        if !full {
            return Ok(all);
        }
    }
}

impl Person {
    /// Returns the attributes segment conditions see ([`Person::attributes_with_identifiers`])
    /// with the person's relationships under [`RELATIONSHIPS_ATTRIBUTE`] ([`relationships_value`]),
    /// when they have any.
    pub fn engine_attributes(&self, relationships: &[PersonRelationship]) -> Map<String, Value> {
        let mut attributes = self.attributes_with_identifiers();
        if !relationships.is_empty() {
            attributes.insert(
                RELATIONSHIPS_ATTRIBUTE.into(),
                relationships_value(relationships),
            );
        }
        attributes
    }
}

/// A person's relationships as segment conditions and messages see them: a list, each
/// `{"object_type_id", "object_id", "cio_object_id", "object_attributes",
/// "relationship_attributes"}`.
pub fn relationships_value(relationships: &[PersonRelationship]) -> Value {
    Value::Array(
        relationships
            .iter()
            .map(|relationship| {
                let object = &relationship.object;
                serde_json::json!({
                    "object_type_id": object.object_type_id,
                    "object_id": object.object_id,
                    "cio_object_id": object.cio_object_id,
                    "object_attributes": object.attributes,
                    "relationship_attributes": relationship.attributes,
                })
            })
            .collect(),
    )
}

/// A relationship seen from the object: the live person it relates.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectRelationship {
    pub person: Person,
    pub attributes: Map<String, Value>,
}

/// An object type and how many objects of it a workspace has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectTypeCount {
    pub object_type_id: String,
    pub objects: u64,
}
