//! A person's relationships to objects as messages see them: `customer.cio_relationships`.
//!
//! Customer.io documents Liquid for objects only in campaigns that objects and relationships
//! trigger (`trigger.<object_type>`, `trigger.relationship`); Herald's campaigns are triggered by
//! people's events and segment changes, so it gives every message the person's relationships
//! instead, in a shape of its own: a list, one entry per related object, flat so that liquid's
//! `where` can pick one (`customer.cio_relationships | where: "object_id", "acme" | first`).

use herald_domain::{PersonSeq, WorkspaceId};
use herald_store::{PersonRelationship, StoreError, StoreRead};
use serde_json::{Map, Value};

/// How many of a person's relationships a message sees (the first ones, in the order their
/// objects were created): enough for any person a message is written for, and a bound on what
/// one render reads and holds.
pub const RELATIONSHIPS_IN_MESSAGES: usize = 100;

/// The key of `customer` that holds the relationships, the one segment conditions read them
/// under. Ingest never stores it as an attribute (an identify's `cio_relationships` are
/// relationships), and it wins over one that was.
pub const KEY: &str = herald_domain::RELATIONSHIPS_ATTRIBUTE;

/// Reads the relationships a message about this person sees.
pub fn read(
    reader: &mut dyn StoreRead,
    workspace_id: WorkspaceId,
    person_seq: PersonSeq,
) -> Result<Vec<PersonRelationship>, StoreError> {
    reader.person_relationships(workspace_id, person_seq, None, RELATIONSHIPS_IN_MESSAGES)
}

/// The value of `customer.cio_relationships` (`herald_store::relationships_value`).
pub fn to_liquid(relationships: &[PersonRelationship]) -> Value {
    herald_store::relationships_value(relationships)
}

/// `customer` as templates see it: the person's attributes and identifiers, and their
/// relationships under [`KEY`].
pub fn customer(
    person: &herald_store::Person,
    relationships: &[PersonRelationship],
) -> Map<String, Value> {
    let mut customer = person.attributes_with_identifiers();
    customer.insert(KEY.to_owned(), to_liquid(relationships));
    customer
}

#[cfg(test)]
mod tests {
    use herald_domain::ObjectSeq;
    use herald_store::{ObjectRow, Person};
    use serde_json::json;

    use super::*;

    fn person() -> Person {
        Person {
            seq: PersonSeq::new(1),
            workspace_id: WorkspaceId::new(1),
            cio_id: "c1".into(),
            id: Some("ann".into()),
            email: None,
            attributes: json!({"cio_relationships": "stored by an older version", "plan": "pro"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            created_at: 0,
            updated_at: 0,
        }
    }

    fn acme() -> PersonRelationship {
        PersonRelationship {
            object: ObjectRow {
                seq: ObjectSeq::new(7),
                workspace_id: WorkspaceId::new(1),
                object_type_id: "1".into(),
                object_id: "acme".into(),
                cio_object_id: "o7".into(),
                attributes: json!({"name": "Acme"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                created_at: 0,
                updated_at: 0,
            },
            attributes: json!({"role": "admin"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn customer_holds_the_relationships_flat_beside_the_attributes() {
        let customer = customer(&person(), &[acme()]);
        assert_eq!(customer["plan"], "pro");
        assert_eq!(customer["id"], "ann");
        assert_eq!(
            customer[KEY],
            json!([{"object_type_id": "1", "object_id": "acme", "cio_object_id": "o7",
                    "object_attributes": {"name": "Acme"},
                    "relationship_attributes": {"role": "admin"}}])
        );
    }

    #[test]
    fn a_person_without_relationships_has_an_empty_list() {
        assert_eq!(customer(&person(), &[])[KEY], json!([]));
    }
}
