//! Triggers: new events, segment changes and changes of objects and relationships become
//! runs, inside the write job that stores them, so a run exists exactly when what started it
//! was committed.

use std::sync::Arc;

use herald_campaigns::{Enrollment, Frequency, ObjectChange, ObjectEvent, Trigger};
use herald_domain::{ActivityKind, PersonSeq, RunId, UnixSeconds, WorkspaceId};
use herald_ingest::{EventTriggers, OBJECT_CHANGE, TriggerEvent};
use herald_segments::MembershipTriggers;
use herald_store::{
    MembershipChange, MembershipOrigin, NewActivity, RunRow, RunState, StoreError, StoreTx,
};
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

use crate::registry::{Loaded, Registry};

/// Starts runs; given to ingest and to the segment runner.
#[derive(Debug)]
pub struct Triggers {
    registry: Arc<Registry>,
    /// Wakes the dispatcher once a transaction that started runs committed.
    wake: Arc<Notify>,
}

impl Triggers {
    pub fn new(registry: Arc<Registry>, wake: Arc<Notify>) -> Self {
        Self { registry, wake }
    }
}

/// Writes an activity log entry about a campaign for a person.
pub(crate) fn log(
    tx: &mut dyn StoreTx,
    workspace_id: WorkspaceId,
    person_seq: PersonSeq,
    kind: ActivityKind,
    name: &str,
    data: Value,
    now: UnixSeconds,
) -> Result<(), StoreError> {
    tx.append_activity(&NewActivity {
        workspace_id,
        person_seq: Some(person_seq),
        anonymous_id: None,
        kind,
        name: Some(name.to_owned()),
        data,
        timestamp: now,
        received_at: now,
        event_id: None,
        may_trigger: false,
    })?;
    Ok(())
}

/// Starts one run of a campaign for a person, unless its frequency forbids it. Returns whether
/// a run was started.
pub(crate) fn start_run(
    tx: &mut dyn StoreTx,
    campaign: &Loaded,
    person_seq: PersonSeq,
    trigger: Value,
    now: UnixSeconds,
) -> Result<bool, StoreError> {
    if campaign.campaign.frequency == Frequency::Once
        && !tx.enroll_once(campaign.workspace_id, campaign.id, person_seq, now)?
    {
        log(
            tx,
            campaign.workspace_id,
            person_seq,
            ActivityKind::TriggerSkipped,
            &campaign.name,
            json!({"campaign_id": campaign.id, "reason": "the person went through this campaign before and its frequency is once", "trigger": trigger}),
            now,
        )?;
        return Ok(false);
    }
    tx.insert_run(&RunRow {
        id: RunId::new(0),
        workspace_id: campaign.workspace_id,
        campaign_id: campaign.id,
        person_seq,
        run_key: ulid::Ulid::new().to_string().to_lowercase(),
        trigger,
        step: 0,
        due_at: now,
        state: RunState::Active,
        attempts: 0,
        created_at: now,
        updated_at: now,
    })?;
    Ok(true)
}

/// Enrolls the people already in a campaign's segment (`enrollment: current_and_future`),
/// when the campaign starts. Returns how many runs started.
pub fn enroll_current(
    tx: &mut dyn StoreTx,
    campaign: &Loaded,
    members: &[PersonSeq],
    now: UnixSeconds,
) -> Result<usize, StoreError> {
    let Trigger::Segment { id, on_enter: true } = campaign.campaign.trigger else {
        return Ok(0);
    };
    if campaign.campaign.enrollment != Enrollment::CurrentAndFuture {
        return Ok(0);
    }
    let mut started = 0;
    for person in members {
        let trigger =
            json!({"segment": {"id": id, "entered": true, "at": now, "enrollment": "current"}});
        if start_run(tx, campaign, *person, trigger, now)? {
            started += 1;
        }
    }
    Ok(started)
}

/// The trigger a run keeps when a change of an object or relationship starts `campaign`, or
/// `None` when it does not. It is what Liquid's `trigger` shows: `{{ trigger.object.plan }}`,
/// `{{ trigger.relationship.role }}`, `{{ trigger.object_id }}`.
fn object_trigger(campaign: &Loaded, event: &TriggerEvent, now: UnixSeconds) -> Option<Value> {
    let change = ObjectChange::parse(&event.name)?;
    let object_type_id = event.data.get("object_type_id")?.as_str()?;
    let empty = Map::new();
    let attributes = event
        .data
        .get("object")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let object = ObjectEvent {
        object_type_id,
        change,
        attributes,
    };
    if !campaign.campaign.is_triggered_by_object(&object, now) {
        return None;
    }
    let mut trigger = event.data.clone();
    trigger.insert("object_change".into(), json!(change.as_str()));
    trigger.insert("timestamp".into(), json!(event.timestamp));
    Some(Value::Object(trigger))
}

impl EventTriggers for Triggers {
    fn on_events(
        &self,
        tx: &mut dyn StoreTx,
        workspace_id: WorkspaceId,
        events: &[TriggerEvent],
        now: UnixSeconds,
    ) -> Result<bool, StoreError> {
        if !self.registry.any_running(workspace_id) {
            return Ok(false);
        }
        let mut started = false;
        for campaign in self.registry.running(workspace_id) {
            for event in events {
                if event.kind == OBJECT_CHANGE {
                    if let Some(trigger) = object_trigger(&campaign, event, now) {
                        started |= start_run(tx, &campaign, event.person_seq, trigger, now)?;
                    }
                    continue;
                }
                if !campaign
                    .campaign
                    .is_triggered_by_event(&event.name, &event.data, now)
                {
                    continue;
                }
                let trigger = json!({"event": {
                    "name": event.name,
                    "type": event.kind,
                    "timestamp": event.timestamp,
                    "data": event.data,
                }});
                match event.blocked {
                    Some(reason) => log(
                        tx,
                        workspace_id,
                        event.person_seq,
                        ActivityKind::TriggerSkipped,
                        &campaign.name,
                        json!({"campaign_id": campaign.id, "reason": reason.message(), "trigger": trigger}),
                        now,
                    )?,
                    None => {
                        started |= start_run(tx, &campaign, event.person_seq, trigger, now)?;
                    }
                }
            }
        }
        Ok(started)
    }

    fn committed(&self) {
        self.wake.notify_one();
    }
}

impl MembershipTriggers for Triggers {
    fn on_changes(
        &self,
        tx: &mut dyn StoreTx,
        workspace_id: WorkspaceId,
        changes: &[MembershipChange],
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        if !self.registry.any_running(workspace_id) {
            return Ok(());
        }
        let campaigns = self.registry.running(workspace_id);
        // Builds and backfills never trigger (peers-lessons §3): only live changes do.
        for change in changes
            .iter()
            .filter(|change| change.origin == MembershipOrigin::Live)
        {
            for campaign in &campaigns {
                if campaign
                    .campaign
                    .is_triggered_by_change(change.segment_id, change.entered)
                {
                    let trigger = json!({"segment": {
                        "id": change.segment_id,
                        "entered": change.entered,
                        "at": change.at,
                        "cause": change.cause,
                    }});
                    start_run(tx, campaign, change.person_seq, trigger, now)?;
                }
            }
        }
        Ok(())
    }

    fn committed(&self) {
        self.wake.notify_one();
    }
}
