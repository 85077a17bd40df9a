//! Validated operations: what a Track API call asks Herald to do.

use herald_domain::{ActivityKind, IdType, Identifier, UnixSeconds};
use herald_store::{DeliveryMetric, Device};
use serde_json::{Map, Value};

/// A person identifier as it appeared in a request path, kept raw because its kind is decided
/// against the store: `cio_…` is a cio id, a value with `@` is an email unless a person has it
/// as their id, anything else is an id. Track API v2 names the kind explicitly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathIdentifier {
    pub raw: String,
    pub explicit: Option<IdType>,
}

impl PathIdentifier {
    /// An identifier whose kind is inferred from its shape (Track API v1 paths).
    pub fn inferred(raw: impl Into<String>) -> Self {
        Self {
            raw: raw.into(),
            explicit: None,
        }
    }

    /// An identifier of a stated kind (Track API v2 `identifiers`).
    pub fn explicit(id_type: IdType, raw: impl Into<String>) -> Self {
        Self {
            raw: raw.into(),
            explicit: Some(id_type),
        }
    }

    /// Tells whether this names a person by cio id.
    pub fn is_cio(&self) -> bool {
        matches!(self.candidates().first(), Some(Identifier::CioId(_)))
    }

    /// Returns the identifiers this value could mean, most likely first.
    pub fn candidates(&self) -> Vec<Identifier> {
        let raw = &self.raw;
        if let Some(id_type) = self.explicit {
            vec![Identifier::of_type(id_type, raw)]
        } else if let Some(cio) = raw.strip_prefix("cio_") {
            vec![Identifier::CioId(cio.to_owned())]
        } else if raw.contains('@') {
            vec![
                Identifier::Email(raw.to_lowercase()),
                Identifier::Id(raw.clone()),
            ]
        } else {
            vec![Identifier::Id(raw.clone())]
        }
    }

    /// Returns the identifier a new person created from this path gets, or `None` for a
    /// `cio_` path (cio ids are only ever generated).
    pub fn for_new_person(&self) -> Option<Identifier> {
        self.candidates()
            .into_iter()
            .next()
            .filter(|identifier| !matches!(identifier, Identifier::CioId(_)))
    }
}

/// A validated event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventInput {
    pub name: String,
    pub kind: ActivityKind,
    /// The client's ULID for deduplication.
    pub event_id: Option<String>,
    /// The event's own time; `None` means the time it is received.
    pub timestamp: Option<UnixSeconds>,
    pub data: Map<String, Value>,
}

/// An object as an operation names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectRef {
    /// By its type and its own id: the only form that can create an object.
    Id {
        object_type_id: String,
        object_id: String,
    },
    /// By the id Herald generated for it (`cio_object_id`).
    CioId(String),
}

/// One side of a relationship an operation names, with the relationship's attributes (a
/// `null` or `""` value removes one).
#[derive(Debug, Clone, PartialEq)]
pub struct Related<T> {
    pub other: T,
    pub attributes: Map<String, Value>,
}

/// Relationships an operation adds or ends.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationshipChange<T> {
    /// `true`: add (or update) them; `false`: end them.
    pub add: bool,
    pub with: Vec<Related<T>>,
}

/// Who a person is referred to as in an identify, merge or device call.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentifyInput {
    pub target: PathIdentifier,
    /// `id` from the body: sets the id when the path is an email, changes it when it is `cio_…`.
    pub id: Option<String>,
    pub email: Option<String>,
    pub anonymous_id: Option<String>,
    /// Attributes to set; a `null` value removes the attribute.
    pub attributes: Map<String, Value>,
    /// `_update: true`: only update an existing person, never create one.
    pub update_only: bool,
    /// `cio_relationships`: the person's relationships to objects to add or end.
    pub relationships: Option<RelationshipChange<ObjectRef>>,
}

/// One validated Track API operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    Identify(IdentifyInput),
    Delete {
        target: PathIdentifier,
    },
    /// An event of an identified person.
    Track {
        target: PathIdentifier,
        event: EventInput,
    },
    /// An anonymous event (with an anonymous id) or an invite event (without).
    TrackAnonymous {
        anonymous_id: Option<String>,
        event: EventInput,
    },
    AddDevice {
        target: PathIdentifier,
        device: Device,
    },
    DeleteDevice {
        target: PathIdentifier,
        token: String,
    },
    Suppress {
        target: PathIdentifier,
    },
    Unsuppress {
        target: PathIdentifier,
    },
    Merge {
        primary: Identifier,
        secondary: Identifier,
    },
    /// A form submission: identifies the person by the form's `id` or `email` and sets the other
    /// fields as attributes.
    FormSubmit {
        form_id: String,
        identify: IdentifyInput,
    },
    Metric(DeliveryMetric),
    /// Creates or updates an object (attributes with a `null` or `""` value are removed) and
    /// relates people to it.
    ObjectIdentify {
        object: ObjectRef,
        attributes: Map<String, Value>,
        people: Vec<Related<PathIdentifier>>,
    },
    /// Creates or updates an object and relates anonymous visitors to it (`identify_anonymous`):
    /// a visitor identified within the grace period is related at once; the others' relationships
    /// wait for the identify that names their anonymous id.
    ObjectIdentifyAnonymous {
        object: ObjectRef,
        attributes: Map<String, Value>,
        visitors: Vec<Related<String>>,
    },
    /// Deletes an object and its relationships.
    ObjectDelete {
        object: ObjectRef,
    },
    /// Adds or ends relationships of an object to people.
    ObjectRelationships {
        object: ObjectRef,
        change: RelationshipChange<PathIdentifier>,
    },
    /// Adds or ends relationships of a person to objects.
    PersonRelationships {
        target: PathIdentifier,
        change: RelationshipChange<ObjectRef>,
    },
}
