//! A message as an editor holds it, rendered for a chosen person and a sample event (the
//! campaign editor's live preview), and sent for real as a test.
//!
//! The preview renders exactly as the dispatcher does (`render_step` with the same globals),
//! so what the editor shows is what a run would send; only the delivery's id and token are
//! placeholders, since no delivery exists.

use std::collections::BTreeMap;

use herald_campaigns::Channel;
use herald_domain::{ActivityKind, CampaignId, PersonSeq, RunId, UnixSeconds, WorkspaceId};
use herald_store::{ActivityQuery, Device, Person, PersonRelationship, RunRow, RunState};
use serde_json::{Map, Value, json};

use super::{Campaigns, CampaignsError};
use crate::relationships;
use crate::render::{Context, render_step};

/// One send step as an editor holds it: its channel, a webhook's method, and its templates by
/// field (`url`, `body`, `headers.X-Sig`, …), which may not compile yet.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageDraft {
    pub channel: Channel,
    pub method: Option<String>,
    pub templates: BTreeMap<String, String>,
}

/// The event a message is rendered with, as a run triggered by it would see it.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleEvent {
    pub name: String,
    pub data: Value,
    pub timestamp: UnixSeconds,
}

/// Whom and what a campaign's messages (saved or not: id 0) are rendered for: a person (or
/// nobody: an empty profile) and an event (or none).
#[derive(Debug, Clone)]
pub struct PreviewRequest {
    pub campaign_id: CampaignId,
    pub campaign_name: String,
    pub person_seq: Option<PersonSeq>,
    pub event: Option<SampleEvent>,
    /// What the sample's data stands for.
    pub sample: SampleOf,
}

/// What a preview's sample data stands for, by the campaign's trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleOf {
    /// The triggering event's data.
    Event,
    /// A transactional message's `message_data`, as a send's request gives it.
    Transactional,
    /// A change of an object or relationship: the run's whole trigger (`object_type_id`,
    /// `object_id`, `object`, `relationship`), as `{{ trigger.… }}` reads it.
    Object,
}

/// A template that does not compile or render, by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// The rendered message (the content a delivery would store: a webhook's url, method, headers
/// and body; an email's to, from, subject, html and text; a push's title, body and data), or
/// why it cannot be rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct MessagePreview {
    pub content: Option<Value>,
    pub errors: Vec<FieldError>,
}

/// The person a preview renders for, read as a run reads its person.
struct PreviewPerson {
    person: Person,
    devices: Vec<Device>,
    relationships: Vec<PersonRelationship>,
}

/// The placeholder a preview renders for `delivery_id` (no delivery exists).
const PREVIEW_DELIVERY: &str = "preview";

impl Campaigns {
    /// The person's latest event of this name, as a preview's default sample.
    pub async fn sample_event(
        &self,
        workspace_id: WorkspaceId,
        person_seq: PersonSeq,
        name: &str,
    ) -> Result<Option<SampleEvent>, CampaignsError> {
        let query = ActivityQuery {
            workspace_id,
            person_seq: Some(person_seq),
            kind: Some(ActivityKind::Event.as_str().to_owned()),
            name: Some(name.to_owned()),
            before_seq: None,
            since: 0,
            limit: 1,
        };
        let latest = self.store.read(move |r| r.activities(&query)).await?;
        Ok(latest.into_iter().next().map(|activity| SampleEvent {
            name: activity.name.unwrap_or_default(),
            data: activity.data,
            timestamp: activity.timestamp,
        }))
    }

    /// Renders messages for a preview, one answer each, the person read once. A person asked for
    /// who is gone is an error; templates that do not compile or render are an answer's
    /// `errors`, each with its line and column.
    pub async fn preview(
        &self,
        workspace_id: WorkspaceId,
        request: &PreviewRequest,
        messages: &[MessageDraft],
    ) -> Result<Vec<MessagePreview>, CampaignsError> {
        let person = self
            .preview_person(workspace_id, request.person_seq)
            .await?;
        Ok(messages
            .iter()
            .map(|message| self.render_preview(workspace_id, request, message, &person))
            .collect())
    }

    /// Sends a message to the chosen person now, as a test that no metric counts. Returns the
    /// test's id, or why it was not sent (`Err` is for a refused request or a store failure;
    /// the inner `Err` is the channel's own refusal, e.g. the SMTP server's).
    pub async fn send_test(
        &self,
        workspace_id: WorkspaceId,
        request: &PreviewRequest,
        message: &MessageDraft,
    ) -> Result<Result<String, String>, CampaignsError> {
        if request.person_seq.is_none() {
            return Err(CampaignsError::Invalid(
                "choose the person to send the test to".into(),
            ));
        }
        let preview = self
            .preview(workspace_id, request, std::slice::from_ref(message))
            .await?
            .pop()
            .expect("one answer a message");
        if let Some(error) = preview.errors.first() {
            return Err(CampaignsError::Invalid(format!(
                "{}: {}",
                error.field, error.message
            )));
        }
        let content = preview.content.unwrap_or_default();
        Ok(self
            .dispatcher
            .send_test(&message.channel, content)
            .await
            .map_err(|error| error.to_string()))
    }

    /// Reads what a run would read about its person: the profile, devices and relationships.
    async fn preview_person(
        &self,
        workspace_id: WorkspaceId,
        person_seq: Option<PersonSeq>,
    ) -> Result<PreviewPerson, CampaignsError> {
        let Some(seq) = person_seq else {
            let now = self.clock.now();
            let nobody = Person {
                seq: PersonSeq::new(0),
                workspace_id,
                cio_id: String::new(),
                id: None,
                email: None,
                attributes: Map::new(),
                created_at: now,
                updated_at: now,
            };
            return Ok(PreviewPerson {
                person: nobody,
                devices: Vec::new(),
                relationships: Vec::new(),
            });
        };
        let found = self
            .store
            .read(move |r| {
                let Some(person) = r.person_by_seq(workspace_id, seq)? else {
                    return Ok(None);
                };
                Ok(Some(PreviewPerson {
                    person,
                    devices: r.devices(workspace_id, seq)?,
                    relationships: relationships::read(r, workspace_id, seq)?,
                }))
            })
            .await?;
        found.ok_or(CampaignsError::PersonNotFound)
    }

    fn render_preview(
        &self,
        workspace_id: WorkspaceId,
        request: &PreviewRequest,
        message: &MessageDraft,
        chosen: &PreviewPerson,
    ) -> MessagePreview {
        let person = &chosen.person;
        let templates = self.registry.templates();
        let mut compiled = BTreeMap::new();
        let mut errors = Vec::new();
        for (field, source) in &message.templates {
            match templates.compile(source) {
                Ok(template) => {
                    compiled.insert(field.clone(), template);
                }
                Err(error) => errors.push(FieldError {
                    field: field.clone(),
                    message: error.to_string(),
                }),
            }
        }
        if !errors.is_empty() {
            return MessagePreview {
                content: None,
                errors,
            };
        }
        let now = self.clock.now();
        let trigger = match (&request.event, request.sample) {
            (Some(event), SampleOf::Transactional) => json!({
                super::transactional::TRANSACTIONAL: {"message_data": event.data}
            }),
            (Some(event), SampleOf::Object) => event.data.clone(),
            (Some(event), SampleOf::Event) => json!({"event": {
                "name": event.name,
                "type": "event",
                "timestamp": event.timestamp,
                "data": event.data,
            }}),
            (None, _) => json!({}),
        };
        let run = RunRow {
            id: RunId::new(0),
            workspace_id,
            campaign_id: request.campaign_id,
            person_seq: person.seq,
            run_key: PREVIEW_DELIVERY.to_owned(),
            trigger,
            step: 0,
            due_at: now,
            state: RunState::Active,
            attempts: 0,
            created_at: now,
            updated_at: now,
        };
        let context = Context {
            person,
            relationships: &chosen.relationships,
            run: &run,
            campaign_id: request.campaign_id,
            campaign_name: &request.campaign_name,
            delivery_id: PREVIEW_DELIVERY,
            delivery_token: "",
            public_url: self.dispatcher.public_url(),
        };
        match render_step(
            &message.channel,
            message.method.as_deref(),
            &compiled,
            &context.globals(),
            &chosen.devices,
            now,
        ) {
            Ok(content) => MessagePreview {
                content: Some(content),
                errors,
            },
            Err(error) => MessagePreview {
                content: None,
                errors: vec![FieldError {
                    field: error.field,
                    message: error.message,
                }],
            },
        }
    }
}
