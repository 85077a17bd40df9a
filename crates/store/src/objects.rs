//! Objects (a company, an account, a class: anything people belong to) and people's
//! relationships to them, as Customer.io's Track API v2 and Data Pipelines `group` calls make
//! them.

use herald_domain::{ObjectSeq, UnixSeconds, WorkspaceId};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::Person;

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
