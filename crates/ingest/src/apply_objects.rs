//! Carrying out object and relationship operations (`Operation::ObjectIdentify` and the
//! others) inside the writer's transaction.
//!
//! Relationships are logged as `add_relationship` and `delete_relationship` activities of the
//! person. The segment engine sees a person's relationships, with their objects' attributes, as
//! part of the person's attributes (`Person::engine_attributes`): every change of a
//! relationship, or of an object's attributes, tells it the people concerned again.
//!
//! Each change is also offered to campaigns (`OBJECT_CHANGE` trigger events): an object's
//! attributes changing concerns every person related to it; a relationship made, changed or
//! ended concerns its person. Deleting an object, or a person, triggers nothing.

use herald_domain::{ActivityKind, ObjectSeq, PersonSeq};
use herald_store::{NewObject, ObjectRow, PersonRelationship, StoreError};
use serde_json::{Map, Value, json};

use super::{Context, new_cio_id};
use crate::operation::{ObjectRef, PathIdentifier, Related, RelationshipChange};
use crate::triggers::{OBJECT_CHANGE, TriggerEvent};

/// Applies attribute changes to `attributes`, as Customer.io does for objects and
/// relationships: a `null` or `""` value removes the attribute. Returns whether anything
/// changed.
fn change_attributes(attributes: &mut Map<String, Value>, changes: &Map<String, Value>) -> bool {
    let mut changed = false;
    for (name, value) in changes {
        let removes = value.is_null() || value.as_str() == Some("");
        if removes {
            changed |= attributes.shift_remove(name).is_some();
        } else if attributes.get(name) != Some(value) {
            attributes.insert(name.clone(), value.clone());
            changed = true;
        }
    }
    changed
}

impl Context<'_> {
    /// Offers campaigns a change of `object` for each of `people`.
    fn object_trigger(
        &mut self,
        people: &[PersonSeq],
        change: &str,
        object: &ObjectRow,
        relationship: Option<&Map<String, Value>>,
    ) {
        if people.is_empty() {
            return;
        }
        let mut data = Map::new();
        data.insert("object_type_id".into(), json!(object.object_type_id));
        data.insert("object_id".into(), json!(object.object_id));
        data.insert("cio_object_id".into(), json!(object.cio_object_id));
        data.insert("object".into(), Value::Object(object.attributes.clone()));
        data.insert(
            "relationship".into(),
            Value::Object(relationship.cloned().unwrap_or_default()),
        );
        for person_seq in people {
            self.triggers.push(TriggerEvent {
                person_seq: *person_seq,
                kind: OBJECT_CHANGE,
                name: change.to_owned(),
                timestamp: self.now,
                data: data.clone(),
                blocked: None,
            });
        }
    }

    /// A person's relationship to an object, if they have one.
    fn relationship(
        &mut self,
        person_seq: PersonSeq,
        object: &ObjectRow,
    ) -> Result<Option<PersonRelationship>, StoreError> {
        // A person's relationships are paged by object: the page of one that starts just
        // before this object holds this relationship, if it exists.
        let before = ObjectSeq::new(object.seq.get() - 1);
        Ok(self
            .tx
            .person_relationships(self.workspace_id, person_seq, Some(before), 1)?
            .into_iter()
            .find(|relationship| relationship.object.seq == object.seq))
    }

    /// The live people related to an object.
    fn people_of(&mut self, object: ObjectSeq) -> Result<Vec<PersonSeq>, StoreError> {
        const PAGE: usize = 1000;
        let mut people: Vec<PersonSeq> = Vec::new();
        loop {
            let page = self.tx.object_relationships(
                self.workspace_id,
                object,
                people.last().copied(),
                PAGE,
            )?;
            let full = page.len() == PAGE;
            people.extend(page.into_iter().map(|relationship| relationship.person.seq));
            if !full {
                return Ok(people);
            }
        }
    }

    /// Tells the segment engine these people again, with their relationships as they are now.
    fn renote(&mut self, people: &[PersonSeq]) -> Result<(), StoreError> {
        for seq in people {
            if let Some(person) = self.tx.person_by_seq(self.workspace_id, *seq)? {
                self.note_person(&person)?;
            }
        }
        Ok(())
    }

    fn find_object(&mut self, object: &ObjectRef) -> Result<Option<ObjectRow>, StoreError> {
        match object {
            ObjectRef::Id {
                object_type_id,
                object_id,
            } => self.tx.object(self.workspace_id, object_type_id, object_id),
            ObjectRef::CioId(cio) => self.tx.object_by_cio_id(self.workspace_id, cio),
        }
    }

    /// Finds the object, changing its attributes, or creates it when it is named by type and
    /// id (an object named by an unknown `cio_object_id` cannot be created).
    fn object_or_create(
        &mut self,
        object: &ObjectRef,
        changes: &Map<String, Value>,
    ) -> Result<Option<ObjectRow>, StoreError> {
        if let Some(mut found) = self.find_object(object)? {
            if change_attributes(&mut found.attributes, changes) {
                found.updated_at = self.now;
                self.tx.update_object(&found)?;
                let people = self.people_of(found.seq)?;
                self.renote(&people)?;
                self.object_trigger(&people, "updated", &found, None);
            }
            return Ok(Some(found));
        }
        let ObjectRef::Id {
            object_type_id,
            object_id,
        } = object
        else {
            return Ok(None);
        };
        let mut attributes = Map::new();
        change_attributes(&mut attributes, changes);
        self.tx
            .insert_object(&NewObject {
                workspace_id: self.workspace_id,
                object_type_id: object_type_id.clone(),
                object_id: object_id.clone(),
                cio_object_id: new_cio_id(),
                attributes,
                created_at: self.now,
            })
            .map(Some)
    }

    /// Relates a person to an object, changing the relationship's attributes.
    fn relate(
        &mut self,
        person_seq: PersonSeq,
        object: &ObjectRow,
        changes: &Map<String, Value>,
    ) -> Result<(), StoreError> {
        let existing = self.relationship(person_seq, object)?;
        let mut attributes = existing
            .as_ref()
            .map(|relationship| relationship.attributes.clone())
            .unwrap_or_default();
        let changed = change_attributes(&mut attributes, changes);
        if existing.is_some() && !changed {
            return Ok(());
        }
        self.tx.save_relationship(
            self.workspace_id,
            person_seq,
            object.seq,
            &attributes,
            self.now,
        )?;
        self.renote(&[person_seq])?;
        let change = if existing.is_some() {
            "changed"
        } else {
            "added"
        };
        self.object_trigger(&[person_seq], change, object, Some(&attributes));
        self.log(
            Some(person_seq),
            ActivityKind::AddRelationship,
            Some(object.object_id.clone()),
            json!({"object_type_id": object.object_type_id, "object_id": object.object_id,
                   "cio_object_id": object.cio_object_id, "relationship_attributes": attributes}),
        )
    }

    fn unrelate(&mut self, person_seq: PersonSeq, object: &ObjectRow) -> Result<(), StoreError> {
        let Some(ended) = self.relationship(person_seq, object)? else {
            return Ok(());
        };
        if self
            .tx
            .delete_relationship(self.workspace_id, person_seq, object.seq)?
        {
            self.renote(&[person_seq])?;
            self.object_trigger(&[person_seq], "removed", object, Some(&ended.attributes));
            self.log(
                Some(person_seq),
                ActivityKind::DeleteRelationship,
                Some(object.object_id.clone()),
                json!({"object_type_id": object.object_type_id, "object_id": object.object_id,
                       "cio_object_id": object.cio_object_id}),
            )?;
        }
        Ok(())
    }

    /// The person a relationship names: created for an addition (unless suppressed), only
    /// found for a removal.
    fn related_person(
        &mut self,
        target: &PathIdentifier,
        add: bool,
    ) -> Result<Option<PersonSeq>, StoreError> {
        if !add {
            return Ok(self.find(target)?.map(|person| person.seq));
        }
        if self.is_suppressed(target)? {
            return Ok(None);
        }
        Ok(self.person_or_create(target)?.map(|person| person.seq))
    }

    pub(super) fn object_identify(
        &mut self,
        object: &ObjectRef,
        attributes: &Map<String, Value>,
        people: &[Related<PathIdentifier>],
    ) -> Result<(), StoreError> {
        let Some(row) = self.object_or_create(object, attributes)? else {
            return Ok(());
        };
        for related in people {
            if let Some(person) = self.related_person(&related.other, true)? {
                self.relate(person, &row, &related.attributes)?;
            }
        }
        Ok(())
    }

    pub(super) fn object_identify_anonymous(
        &mut self,
        object: &ObjectRef,
        attributes: &Map<String, Value>,
        visitors: &[Related<String>],
    ) -> Result<(), StoreError> {
        let Some(row) = self.object_or_create(object, attributes)? else {
            return Ok(());
        };
        for visitor in visitors {
            // A visitor identified within the grace period is that person, as their events are.
            if let Some(person_seq) = self.linked_person(&visitor.other)? {
                self.relate(person_seq, &row, &visitor.attributes)?;
                continue;
            }
            let mut kept = Map::new();
            change_attributes(&mut kept, &visitor.attributes);
            self.tx.save_anonymous_relationship(
                self.workspace_id,
                &visitor.other,
                row.seq,
                &kept,
                self.now,
            )?;
        }
        Ok(())
    }

    /// Makes the relationships kept for an anonymous id the person's, at their identify.
    pub(super) fn attach_relationships(
        &mut self,
        anonymous_id: &str,
        person_seq: PersonSeq,
    ) -> Result<(), StoreError> {
        let kept = self
            .tx
            .take_anonymous_relationships(self.workspace_id, anonymous_id)?;
        for relationship in kept {
            self.relate(person_seq, &relationship.object, &relationship.attributes)?;
        }
        Ok(())
    }

    pub(super) fn object_delete(&mut self, object: &ObjectRef) -> Result<(), StoreError> {
        if let Some(row) = self.find_object(object)? {
            let people = self.people_of(row.seq)?;
            self.tx.delete_object(self.workspace_id, row.seq)?;
            self.renote(&people)?;
        }
        Ok(())
    }

    pub(super) fn object_relationships(
        &mut self,
        object: &ObjectRef,
        change: &RelationshipChange<PathIdentifier>,
    ) -> Result<(), StoreError> {
        let row = if change.add {
            self.object_or_create(object, &Map::new())?
        } else {
            self.find_object(object)?
        };
        let Some(row) = row else {
            return Ok(());
        };
        for related in &change.with {
            let Some(person) = self.related_person(&related.other, change.add)? else {
                continue;
            };
            if change.add {
                self.relate(person, &row, &related.attributes)?;
            } else {
                self.unrelate(person, &row)?;
            }
        }
        Ok(())
    }

    pub(super) fn person_relationships(
        &mut self,
        target: &PathIdentifier,
        change: &RelationshipChange<ObjectRef>,
    ) -> Result<(), StoreError> {
        let Some(person) = self.related_person(target, change.add)? else {
            return Ok(());
        };
        self.relationships_of(person, change)
    }

    /// Adds or ends a known person's relationships (an identify's `cio_relationships`).
    pub(super) fn relationships_of(
        &mut self,
        person: PersonSeq,
        change: &RelationshipChange<ObjectRef>,
    ) -> Result<(), StoreError> {
        for related in &change.with {
            if change.add {
                if let Some(row) = self.object_or_create(&related.other, &Map::new())? {
                    self.relate(person, &row, &related.attributes)?;
                }
            } else if let Some(row) = self.find_object(&related.other)? {
                self.unrelate(person, &row)?;
            }
        }
        Ok(())
    }
}
