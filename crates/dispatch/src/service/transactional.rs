//! Transactional messages: campaigns with the trigger `{"transactional": {}}` and one email or
//! push step, sent by `POST /v1/send/email` and `/v1/send/push` to the person a request names.
//!
//! A send is a run of the campaign, so it goes through the same durable queue, retries,
//! metrics and deliveries as every campaign message. The run's trigger keeps what the request
//! gave: `message_data` (Liquid's `trigger` and `event`), the fields it overrides, and the
//! delivery id, chosen now so that the answer can name it before the message is sent.

use std::collections::BTreeMap;

use herald_campaigns::{Channel, Step, Trigger};
use herald_domain::{CampaignId, PersonSeq, RunId, UnixSeconds, WorkspaceId};
use herald_store::{RunRow, RunState};
use serde_json::{Map, Value, json};

use super::{Campaigns, CampaignsError};
use crate::registry::Loaded;

/// How a request names its transactional message: its id, or its name (any case); or
/// `Inline`, an email the request writes whole (`to`, `from`, `subject`, `body`), sent as the
/// workspace's inline transactional email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageRef {
    Id(CampaignId),
    Name(String),
    Inline,
}

/// The name of the transactional email a workspace sends inline emails as: made and started at
/// the first one, so that they have a campaign for their runs, deliveries and metrics.
pub const INLINE_EMAIL: &str = "Inline transactional email";

/// A transactional send, validated at the HTTP edge.
#[derive(Debug, Clone)]
pub struct TransactionalSend {
    pub message: MessageRef,
    /// The endpoint's channel; the message's step must be of it.
    pub channel: Channel,
    /// The person, found or created by the caller.
    pub person: PersonSeq,
    pub message_data: Map<String, Value>,
    /// Fields that replace the message's own (Liquid sources), by the step's field names.
    pub overrides: BTreeMap<String, String>,
    /// When to send; `None` or a past time is now.
    pub send_at: Option<UnixSeconds>,
    /// Whether an email goes to a person who unsubscribed (Customer.io's default: yes, since
    /// a receipt or a password reset is not marketing).
    pub send_to_unsubscribed: bool,
    /// Keep neither the rendered message nor `message_data` once it went (`retention.rs`).
    pub disable_message_retention: bool,
}

/// What a send answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub delivery_id: String,
    pub queued_at: UnixSeconds,
    pub send_at: Option<UnixSeconds>,
    pub campaign_id: CampaignId,
}

/// The key of a run's trigger that marks a transactional send.
pub const TRANSACTIONAL: &str = "transactional";

impl Campaigns {
    /// Queues a transactional message for a person.
    pub async fn send_transactional(
        &self,
        workspace_id: WorkspaceId,
        send: TransactionalSend,
    ) -> Result<Queued, CampaignsError> {
        let campaign = self.transactional(workspace_id, &send.message).await?;
        let channel = match campaign.campaign.steps.first() {
            Some(Step::Send { channel, .. }) => channel.clone(),
            _ => return Err(CampaignsError::NotFound),
        };
        if channel != send.channel {
            let name = crate::render::channel_name(&channel);
            return Err(CampaignsError::Invalid(format!(
                "transactional message {} is a {name} message: send it with /v1/send/{name}",
                campaign.id
            )));
        }
        if !campaign.is_running() {
            return Err(CampaignsError::Invalid(format!(
                "transactional message {} is not started: start it with POST /v1/campaigns/{}/start",
                campaign.id, campaign.id
            )));
        }
        let templates = self.registry.templates();
        for (field, source) in &send.overrides {
            templates
                .compile(source)
                .map_err(|error| CampaignsError::Invalid(format!("{field}: {error}")))?;
        }
        let now = self.clock.now();
        let delivery_id = ulid::Ulid::new().to_string().to_lowercase();
        let send_at = send.send_at.filter(|at| *at > now);
        let run = RunRow {
            id: RunId::new(0),
            workspace_id,
            campaign_id: campaign.id,
            person_seq: send.person,
            run_key: format!("transactional-{delivery_id}"),
            trigger: json!({TRANSACTIONAL: {
                "message_data": send.message_data,
                "overrides": send.overrides,
                "delivery_id": delivery_id,
                "send_to_unsubscribed": send.send_to_unsubscribed,
                "disable_message_retention": send.disable_message_retention,
            }}),
            step: 0,
            due_at: send_at.unwrap_or(now),
            state: RunState::Active,
            attempts: 0,
            created_at: now,
            updated_at: now,
        };
        self.store.write(move |tx| tx.insert_run(&run)).await??;
        self.dispatcher.wake();
        Ok(Queued {
            delivery_id,
            queued_at: now,
            send_at,
            campaign_id: campaign.id,
        })
    }

    /// The workspace's transactional message a request names.
    async fn transactional(
        &self,
        workspace_id: WorkspaceId,
        message: &MessageRef,
    ) -> Result<std::sync::Arc<Loaded>, CampaignsError> {
        let id = match message {
            MessageRef::Id(id) => *id,
            MessageRef::Inline => self.inline_email(workspace_id).await?,
            MessageRef::Name(name) => {
                let wanted = name.to_lowercase();
                let rows = self.list(workspace_id).await?;
                rows.iter()
                    .filter(|row| row.name.to_lowercase() == wanted)
                    .filter_map(|row| self.registry.get(row.id))
                    .find(|loaded| loaded.campaign.trigger == Trigger::Transactional)
                    .map(|loaded| loaded.id)
                    .ok_or(CampaignsError::NotFound)?
            }
        };
        self.registry
            .get(id)
            .filter(|loaded| {
                loaded.workspace_id == workspace_id
                    && loaded.campaign.trigger == Trigger::Transactional
            })
            .ok_or(CampaignsError::NotFound)
    }
}

impl Campaigns {
    /// The workspace's inline transactional email, made and started if it has none yet. Its
    /// own fields render nothing but the person's address: every inline send overrides them.
    async fn inline_email(&self, workspace_id: WorkspaceId) -> Result<CampaignId, CampaignsError> {
        // Two first inline sends at once may both make one; the first made is used from then on.
        let existing = self
            .list(workspace_id)
            .await?
            .into_iter()
            .filter(|row| row.name == INLINE_EMAIL)
            .find(|row| {
                self.registry
                    .get(row.id)
                    .is_some_and(|loaded| loaded.campaign.trigger == Trigger::Transactional)
            });
        let row = match existing {
            Some(row) => row,
            None => {
                self.create(
                    workspace_id,
                    json!({"name": INLINE_EMAIL, "trigger": {TRANSACTIONAL: {}},
                           "steps": [{"email": {"to": "{{ customer.email }}",
                                                "from": "{{ message_data.from }}",
                                                "subject": "{{ message_data.subject }}",
                                                "html": "", "text": ""}}]}),
                )
                .await?
            }
        };
        if row.state != herald_store::CampaignState::Running {
            self.start(workspace_id, row.id).await?;
        }
        Ok(row.id)
    }
}

/// What a transactional run's trigger holds, if the run is one.
pub(crate) fn of_run(run: &RunRow) -> Option<&Map<String, Value>> {
    run.trigger.get(TRANSACTIONAL).and_then(Value::as_object)
}
