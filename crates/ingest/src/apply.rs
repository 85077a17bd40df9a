//! Carrying out validated operations inside a store transaction: identity resolution, profile
//! creation, attribute changes, anonymous attachment, merges, devices and suppression; objects
//! and relationships in `apply_objects.rs`.
//!
//! Every function here runs inside the writer's transaction, so what it reads is exactly what
//! it changes: two identifies of the same new person can never create two profiles.

use herald_domain::{ActivityKind, Identifier, PersonSeq, UnixSeconds, WorkspaceId, limits};
use herald_segment_engine::{EventKind, EventRecord, Input};
use herald_store::{
    Appended, NewActivity, NewPerson, Person, PersonRelationship, StoreError, StoreTx, StoredEvent,
};
use serde_json::{Map, Value, json};

use crate::metrics::{delivery_metric_of_event, record_metric};
use crate::operation::{EventInput, IdentifyInput, Operation, PathIdentifier};
use crate::triggers::{NoTrigger, TriggerEvent};

/// Applies one operation for a workspace at time `now`, adding what the segment engine must
/// learn of it to `inputs` and the events campaigns may react to to `triggers`.
pub fn apply(
    tx: &mut dyn StoreTx,
    workspace_id: WorkspaceId,
    operation: &Operation,
    now: UnixSeconds,
    inputs: &mut Vec<Input>,
    triggers: &mut Vec<TriggerEvent>,
) -> Result<(), StoreError> {
    let mut context = Context {
        tx,
        workspace_id,
        now,
        inputs,
        triggers,
    };
    match operation {
        Operation::Identify(input) => context.identify(input),
        Operation::Delete { target } => context.delete(target),
        Operation::Track { target, event } => context.track(target, event),
        Operation::TrackAnonymous {
            anonymous_id,
            event,
        } => context.track_anonymous(anonymous_id.as_deref(), event),
        Operation::AddDevice { target, device } => {
            if context.is_suppressed(target)? {
                return Ok(());
            }
            let Some(person) = context.person_or_create(target)? else {
                return Ok(());
            };
            context.tx.upsert_device(workspace_id, person.seq, device)?;
            context.log(
                Some(person.seq),
                ActivityKind::DeviceChange,
                Some(device.token.clone()),
                json!({"token": device.token, "platform": device.platform, "last_used": device.last_used, "attributes": device.attributes}),
            )
        }
        Operation::DeleteDevice { target, token } => {
            let Some(person) = context.find(target)? else {
                return Ok(());
            };
            if context.tx.delete_device(workspace_id, person.seq, token)? {
                context.log(
                    Some(person.seq),
                    ActivityKind::DeviceDelete,
                    Some(token.clone()),
                    json!({"token": token}),
                )?;
            }
            Ok(())
        }
        Operation::Suppress { target } => context.suppress(target),
        Operation::Unsuppress { target } => context.unsuppress(target),
        Operation::Merge { primary, secondary } => context.merge(primary, secondary),
        Operation::FormSubmit { form_id, identify } => {
            context.identify(identify)?;
            let person = context.find(&identify.target)?;
            context.log(
                person.map(|p| p.seq),
                ActivityKind::FormSubmit,
                Some(form_id.clone()),
                json!({"form_id": form_id, "fields": identify.attributes}),
            )
        }
        Operation::Metric(metric) => record_metric(context.tx, workspace_id, metric, now),
        Operation::ObjectIdentify {
            object,
            attributes,
            people,
        } => context.object_identify(object, attributes, people),
        Operation::ObjectIdentifyAnonymous {
            object,
            attributes,
            visitors,
        } => context.object_identify_anonymous(object, attributes, visitors),
        Operation::ObjectDelete { object } => context.object_delete(object),
        Operation::ObjectRelationships { object, change } => {
            context.object_relationships(object, change)
        }
        Operation::PersonRelationships { target, change } => {
            context.person_relationships(target, change)
        }
    }
}

#[path = "apply_objects.rs"]
mod objects;

struct Context<'t> {
    tx: &'t mut dyn StoreTx,
    workspace_id: WorkspaceId,
    now: UnixSeconds,
    inputs: &'t mut Vec<Input>,
    triggers: &'t mut Vec<TriggerEvent>,
}

/// Converts a stored event for the engine.
pub fn engine_event(event: &StoredEvent) -> EventRecord {
    EventRecord::from_parts(
        event.name.clone(),
        &event.kind,
        event.timestamp,
        event.data.clone(),
    )
}

fn engine_kind(kind: ActivityKind) -> EventKind {
    match kind {
        ActivityKind::Page => EventKind::Page,
        ActivityKind::Screen => EventKind::Screen,
        _ => EventKind::Event,
    }
}

/// Generates a new, immutable cio id.
fn new_cio_id() -> String {
    ulid::Ulid::new().to_string().to_lowercase()
}

fn identifiers_json(person: &Person) -> Value {
    json!({"id": person.id, "email": person.email, "cio_id": person.cio_id})
}

impl Context<'_> {
    /// Tells the segment engine a person's attributes, relationships included.
    fn note_person(&mut self, person: &Person) -> Result<(), StoreError> {
        let relationships =
            herald_store::all_relationships(self.tx, self.workspace_id, person.seq)?;
        self.note_person_with(person, &relationships);
        Ok(())
    }

    fn note_person_with(&mut self, person: &Person, relationships: &[PersonRelationship]) {
        self.inputs.push(Input::Person {
            person: person.seq.get(),
            attributes: person.engine_attributes(relationships),
            first_seen: person.created_at,
        });
    }

    fn log(
        &mut self,
        person_seq: Option<PersonSeq>,
        kind: ActivityKind,
        name: Option<String>,
        data: Value,
    ) -> Result<(), StoreError> {
        self.tx.append_activity(&NewActivity {
            workspace_id: self.workspace_id,
            person_seq,
            anonymous_id: None,
            kind,
            name,
            data,
            timestamp: self.now,
            received_at: self.now,
            event_id: None,
            may_trigger: false,
        })?;
        Ok(())
    }

    fn find_identifier(&mut self, identifier: &Identifier) -> Result<Option<Person>, StoreError> {
        self.tx.person(self.workspace_id, identifier)
    }

    /// Finds the live person a path names, trying an email-shaped value as an email first
    /// and then as an id.
    fn find(&mut self, target: &PathIdentifier) -> Result<Option<Person>, StoreError> {
        for candidate in target.candidates() {
            if let Some(person) = self.find_identifier(&candidate)? {
                return Ok(Some(person));
            }
        }
        Ok(None)
    }

    fn is_suppressed_identifier(&mut self, identifier: &Identifier) -> Result<bool, StoreError> {
        self.tx.is_suppressed(self.workspace_id, identifier)
    }

    fn is_suppressed(&mut self, target: &PathIdentifier) -> Result<bool, StoreError> {
        for candidate in target.candidates() {
            if self.is_suppressed_identifier(&candidate)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn create_person(
        &mut self,
        id: Option<String>,
        email: Option<String>,
    ) -> Result<Person, StoreError> {
        let person = self.tx.insert_person(&NewPerson {
            workspace_id: self.workspace_id,
            cio_id: new_cio_id(),
            id,
            email,
            attributes: Map::new(),
            created_at: self.now,
        })?;
        self.log(
            Some(person.seq),
            ActivityKind::ProfileCreate,
            None,
            identifiers_json(&person),
        )?;
        // A new person has no relationships yet.
        self.note_person_with(&person, &[]);
        Ok(person)
    }

    /// The number of the live person a path names, as [`Self::find`] finds them.
    fn find_seq(&mut self, target: &PathIdentifier) -> Result<Option<PersonSeq>, StoreError> {
        for candidate in target.candidates() {
            if let Some(seq) = self.tx.person_seq(self.workspace_id, &candidate)? {
                return Ok(Some(seq));
            }
        }
        Ok(None)
    }

    /// Finds the person a path names, creating them if the path can name a new person.
    fn person_or_create(&mut self, target: &PathIdentifier) -> Result<Option<Person>, StoreError> {
        if let Some(person) = self.find(target)? {
            return Ok(Some(person));
        }
        self.create_for(target)
    }

    /// [`Self::person_or_create`] for a caller that needs only the person's number, as an event
    /// does: a known person's profile is not read.
    fn person_seq_or_create(
        &mut self,
        target: &PathIdentifier,
    ) -> Result<Option<PersonSeq>, StoreError> {
        if let Some(seq) = self.find_seq(target)? {
            return Ok(Some(seq));
        }
        Ok(self.create_for(target)?.map(|person| person.seq))
    }

    /// Creates the person a path names when no one has that identifier, if the path can name
    /// a new person (an id or an email, not a cio id).
    fn create_for(&mut self, target: &PathIdentifier) -> Result<Option<Person>, StoreError> {
        match target.for_new_person() {
            Some(Identifier::Email(_)) => {
                self.create_person(None, Some(target.raw.clone())).map(Some)
            }
            Some(Identifier::Id(id)) => self.create_person(Some(id), None).map(Some),
            _ => Ok(None),
        }
    }

    fn failed_change(
        &mut self,
        person_seq: Option<PersonSeq>,
        reason: String,
        input: &IdentifyInput,
    ) -> Result<(), StoreError> {
        tracing::debug!(reason = %reason, "identify not applied");
        self.log(
            person_seq,
            ActivityKind::FailedAttributeChange,
            None,
            json!({"reason": reason, "identifier": input.target.raw, "attributes": input.attributes}),
        )
    }

    fn identify(&mut self, input: &IdentifyInput) -> Result<(), StoreError> {
        if self.is_suppressed(&input.target)? {
            return Ok(());
        }
        if let Some(id) = &input.id
            && self.is_suppressed_identifier(&Identifier::Id(id.clone()))?
        {
            return Ok(());
        }
        if let Some(email) = &input.email
            && self.is_suppressed_identifier(&Identifier::Email(email.to_lowercase()))?
        {
            return Ok(());
        }
        let by_path = self.find(&input.target)?;
        let by_id = match &input.id {
            Some(id) => self.find_identifier(&Identifier::Id(id.clone()))?,
            None => None,
        };
        let by_email = match &input.email {
            Some(email) => self.find_identifier(&Identifier::Email(email.to_lowercase()))?,
            None => None,
        };
        let path_is_cio = input.target.is_cio();
        let (mut person, created) = match by_path {
            Some(person) => {
                for other in [&by_id, &by_email].into_iter().flatten() {
                    if other.seq != person.seq {
                        let reason = format!(
                            "the identifiers in the body belong to another person (cio_{})",
                            other.cio_id
                        );
                        return self.failed_change(Some(person.seq), reason, input);
                    }
                }
                (person, false)
            }
            None if path_is_cio => {
                // Customer.io drops requests for a cio id that does not exist.
                return self.failed_change(
                    None,
                    format!("no person has the identifier {}", input.target.raw),
                    input,
                );
            }
            None => match (by_id, by_email) {
                (Some(a), Some(b)) if a.seq != b.seq => {
                    return self.failed_change(
                        None,
                        "the id and the email in the body belong to different people".into(),
                        input,
                    );
                }
                (Some(found), _) | (None, Some(found)) => {
                    // The path names someone no one is yet, and the body names a person who
                    // already has an identifier of that kind: they are two people, and the
                    // path's must not be written onto the body's.
                    let taken = match input.target.for_new_person() {
                        Some(Identifier::Id(path_id)) => {
                            found.id.as_ref().filter(|id| **id != path_id)
                        }
                        Some(Identifier::Email(path_email)) => found
                            .email
                            .as_ref()
                            .filter(|email| email.to_lowercase() != path_email.to_lowercase()),
                        _ => None,
                    };
                    if let Some(taken) = taken {
                        let reason = format!(
                            "the identifiers in the body belong to another person (cio_{}, {taken}), not to {}",
                            found.cio_id, input.target.raw
                        );
                        return self.failed_change(Some(found.seq), reason, input);
                    }
                    (found, false)
                }
                (None, None) if input.update_only => {
                    return self.failed_change(
                        None,
                        "_update is true and no person has this identifier".into(),
                        input,
                    );
                }
                (None, None) => {
                    let (mut id, mut email) = (input.id.clone(), input.email.clone());
                    match input.target.for_new_person() {
                        Some(Identifier::Email(_)) => email = Some(input.target.raw.clone()),
                        Some(Identifier::Id(path_id)) => id = Some(path_id),
                        _ => {}
                    }
                    (self.create_person(id, email)?, true)
                }
            },
        };
        let mut changes = Vec::new();
        // The path names the person by a new identifier: it becomes theirs.
        if !created && !path_is_cio {
            match input.target.for_new_person() {
                Some(Identifier::Id(path_id)) if person.id.is_none() => {
                    changes.push(("id".to_owned(), Value::Null, json!(path_id)));
                    person.id = Some(path_id);
                }
                Some(Identifier::Email(_))
                    if person.email.is_none()
                        && person.id.as_deref() != Some(&input.target.raw) =>
                {
                    changes.push(("email".to_owned(), Value::Null, json!(input.target.raw)));
                    person.email = Some(input.target.raw.clone());
                }
                _ => {}
            }
        }
        if let Some(id) = &input.id
            && person.id.as_deref() != Some(id.as_str())
        {
            if person.id.is_some() && !path_is_cio {
                let reason = format!(
                    "the id of a person can only change when the request names them by cio_{}",
                    person.cio_id
                );
                return self.failed_change(Some(person.seq), reason, input);
            }
            changes.push(("id".to_owned(), json!(person.id), json!(id)));
            person.id = Some(id.clone());
        }
        if let Some(email) = &input.email
            && person.email.as_deref() != Some(email.as_str())
        {
            changes.push(("email".to_owned(), json!(person.email), json!(email)));
            person.email = Some(email.clone());
        }
        for (name, value) in &input.attributes {
            let old = person.attributes.get(name).cloned().unwrap_or(Value::Null);
            if value.is_null() {
                if person.attributes.shift_remove(name).is_some() {
                    changes.push((name.clone(), old, Value::Null));
                }
            } else if &old != value {
                person.attributes.insert(name.clone(), value.clone());
                changes.push((name.clone(), old, value.clone()));
            }
        }
        if !changes.is_empty() {
            person.updated_at = self.now;
            self.tx.update_person(&person)?;
            self.note_person(&person)?;
            for (name, from, to) in changes {
                let mut data = Map::new();
                data.insert(name.clone(), json!({"from": from, "to": to}));
                self.log(
                    Some(person.seq),
                    ActivityKind::AttributeChange,
                    Some(name),
                    Value::Object(data),
                )?;
            }
        }
        if let Some(anonymous_id) = &input.anonymous_id {
            self.attach(anonymous_id, person.seq)?;
        }
        if let Some(change) = &input.relationships {
            self.relationships_of(person.seq, change)?;
        }
        Ok(())
    }

    /// Attaches a person's anonymous history and remembers the link for events that arrive
    /// within the grace period after the identify.
    fn attach(&mut self, anonymous_id: &str, person_seq: PersonSeq) -> Result<(), StoreError> {
        let attached = self.tx.attach_anonymous(
            self.workspace_id,
            anonymous_id,
            person_seq,
            self.now - limits::ACTIVITY_RETENTION_SECONDS,
            self.now,
            limits::TRIGGER_WINDOW_SECONDS,
        )?;
        self.tx
            .set_anonymous_link(self.workspace_id, anonymous_id, person_seq, self.now)?;
        self.attach_relationships(anonymous_id, person_seq)?;
        if !attached.is_empty() {
            self.inputs.push(Input::Events {
                person: person_seq.get(),
                events: attached.iter().map(engine_event).collect(),
            });
            for event in &attached {
                // An attached event may trigger only within 72 hours of its timestamp.
                let late = self.now - event.timestamp > limits::TRIGGER_WINDOW_SECONDS;
                self.triggers.push(TriggerEvent {
                    person_seq,
                    kind: engine_event(event).kind.as_str(),
                    name: event.name.clone(),
                    timestamp: event.timestamp,
                    data: event.data.as_object().cloned().unwrap_or_default(),
                    blocked: late.then_some(NoTrigger::AttachedLate),
                });
            }
            self.log(
                Some(person_seq),
                ActivityKind::AnonMerge,
                None,
                json!({"anonymous_id": anonymous_id, "events": attached.len()}),
            )?;
        }
        Ok(())
    }

    fn append_event(
        &mut self,
        person_seq: Option<PersonSeq>,
        anonymous_id: Option<&str>,
        event: &EventInput,
    ) -> Result<(), StoreError> {
        let timestamp = event.timestamp.unwrap_or(self.now);
        let may_trigger = timestamp >= self.now - limits::TRIGGER_WINDOW_SECONDS;
        let activity = NewActivity {
            workspace_id: self.workspace_id,
            person_seq,
            anonymous_id: anonymous_id.map(str::to_owned),
            kind: event.kind,
            name: Some(event.name.clone()),
            data: Value::Object(event.data.clone()),
            timestamp,
            received_at: self.now,
            event_id: event.event_id.clone(),
            may_trigger,
        };
        let appended = self.tx.append_activity(&activity)?;
        if appended == Appended::Duplicate {
            return Ok(());
        }
        // Customer.io's events guide: an `opened` event carrying a push delivery's id counts
        // as an open of that delivery, besides being an event.
        if let Some(metric) = delivery_metric_of_event(event, timestamp, self.now) {
            record_metric(self.tx, self.workspace_id, &metric, self.now)?;
        }
        if let Some(person) = person_seq {
            self.triggers.push(TriggerEvent {
                person_seq: person,
                kind: event.kind.as_str(),
                name: event.name.clone(),
                timestamp,
                data: event.data.clone(),
                blocked: (!may_trigger).then_some(NoTrigger::Backfilled),
            });
            // The engine takes the copies made for the log, which is done with them: copying
            // an event's data and name for each was 6% of the writer's time in a batch.
            let data = match activity.data {
                Value::Object(data) => data,
                _ => event.data.clone(),
            };
            self.inputs.push(Input::Events {
                person: person.get(),
                events: vec![EventRecord {
                    name: activity.name.unwrap_or_default(),
                    kind: engine_kind(event.kind),
                    timestamp,
                    data,
                }],
            });
        }
        self.tx.note_event(
            self.workspace_id,
            event.kind.as_str(),
            &event.name,
            timestamp,
            &event.data,
        )
    }

    fn track(&mut self, target: &PathIdentifier, event: &EventInput) -> Result<(), StoreError> {
        if self.is_suppressed(target)? {
            return Ok(());
        }
        let Some(seq) = self.person_seq_or_create(target)? else {
            return Ok(());
        };
        self.append_event(Some(seq), None, event)
    }

    /// The live person an anonymous id was attached to within the grace period, whose later
    /// anonymous data is theirs.
    fn linked_person(&mut self, anonymous_id: &str) -> Result<Option<PersonSeq>, StoreError> {
        let Some((seq, linked_at)) = self.tx.anonymous_link(self.workspace_id, anonymous_id)?
        else {
            return Ok(None);
        };
        let within_grace = self.now - linked_at <= limits::ANONYMOUS_LINK_GRACE_SECONDS;
        if within_grace && self.tx.person_by_seq(self.workspace_id, seq)?.is_some() {
            Ok(Some(seq))
        } else {
            Ok(None)
        }
    }

    fn track_anonymous(
        &mut self,
        anonymous_id: Option<&str>,
        event: &EventInput,
    ) -> Result<(), StoreError> {
        let person_seq = match anonymous_id {
            Some(anonymous_id) => self.linked_person(anonymous_id)?,
            None => None,
        };
        self.append_event(person_seq, anonymous_id, event)
    }

    fn delete(&mut self, target: &PathIdentifier) -> Result<(), StoreError> {
        let Some(person) = self.find(target)? else {
            return Ok(());
        };
        self.tx
            .delete_person(self.workspace_id, person.seq, self.now)?;
        self.inputs.push(Input::Delete {
            person: person.seq.get(),
        });
        self.log(
            Some(person.seq),
            ActivityKind::ProfileDelete,
            None,
            identifiers_json(&person),
        )
    }

    fn suppress(&mut self, target: &PathIdentifier) -> Result<(), StoreError> {
        let mut identifiers = Vec::new();
        let person = self.find(target)?;
        match &person {
            Some(person) => {
                identifiers.extend(person.id.clone().map(Identifier::Id));
                identifiers.extend(
                    person
                        .email
                        .as_ref()
                        .map(|e| Identifier::Email(e.to_lowercase())),
                );
                self.tx
                    .delete_person(self.workspace_id, person.seq, self.now)?;
                self.inputs.push(Input::Delete {
                    person: person.seq.get(),
                });
            }
            None => identifiers.extend(target.for_new_person()),
        }
        for identifier in &identifiers {
            self.tx.suppress(self.workspace_id, identifier, self.now)?;
        }
        self.log(
            person.as_ref().map(|p| p.seq),
            ActivityKind::Suppress,
            None,
            json!({"identifier": target.raw}),
        )
    }

    fn unsuppress(&mut self, target: &PathIdentifier) -> Result<(), StoreError> {
        let mut freed = false;
        for candidate in target.candidates() {
            freed |= self.tx.unsuppress(self.workspace_id, &candidate)?;
        }
        if freed {
            self.log(
                None,
                ActivityKind::Unsuppress,
                None,
                json!({"identifier": target.raw}),
            )?;
        }
        Ok(())
    }

    fn merge(&mut self, primary: &Identifier, secondary: &Identifier) -> Result<(), StoreError> {
        let Some(secondary_person) = self.find_identifier(secondary)? else {
            return Ok(());
        };
        let mut primary_person = match self.find_identifier(primary)? {
            Some(person) => person,
            // A suppressed identifier is ignored in every call that names it: a merge into it
            // would otherwise bring the suppressed person back, with the secondary's data.
            None if self.is_suppressed_identifier(primary)? => return Ok(()),
            None => match primary {
                Identifier::Id(id) => self.create_person(Some(id.clone()), None)?,
                Identifier::Email(email) => self.create_person(None, Some(email.clone()))?,
                Identifier::CioId(_) => return Ok(()),
            },
        };
        if primary_person.seq == secondary_person.seq {
            return Ok(());
        }
        let since = self.now - limits::ACTIVITY_RETENTION_SECONDS;
        let moved = self.tx.move_events(
            self.workspace_id,
            secondary_person.seq,
            primary_person.seq,
            since,
        )?;
        // Devices and relationships move before the secondary is deleted, because deleting a
        // person drops theirs.
        self.tx
            .move_devices(self.workspace_id, secondary_person.seq, primary_person.seq)?;
        self.tx
            .move_relationships(self.workspace_id, secondary_person.seq, primary_person.seq)?;
        // The secondary is deleted before the primary is saved, so that its identifiers are
        // free for the primary to take.
        self.tx
            .delete_person(self.workspace_id, secondary_person.seq, self.now)?;
        if primary_person.id.is_none() {
            primary_person.id = secondary_person.id.clone();
        }
        if primary_person.email.is_none() {
            primary_person.email = secondary_person.email.clone();
        }
        for (name, value) in &secondary_person.attributes {
            let missing = match primary_person.attributes.get(name) {
                None | Some(Value::Null) => true,
                Some(Value::String(text)) => text.is_empty(),
                Some(_) => false,
            };
            if missing {
                primary_person
                    .attributes
                    .insert(name.clone(), value.clone());
            }
        }
        primary_person.updated_at = self.now;
        self.tx.update_person(&primary_person)?;
        self.inputs.push(Input::Merge {
            primary: primary_person.seq.get(),
            secondary: secondary_person.seq.get(),
            moved: moved.iter().map(engine_event).collect(),
            attributes: primary_person.engine_attributes(&herald_store::all_relationships(
                self.tx,
                self.workspace_id,
                primary_person.seq,
            )?),
        });
        self.log(
            Some(primary_person.seq),
            ActivityKind::ProfileMerge,
            None,
            json!({"secondary": identifiers_json(&secondary_person), "events_moved": moved.len()}),
        )
    }
}
