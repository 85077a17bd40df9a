//! Delivery metrics in: stored, moved onto the status of the delivery they name and logged in its
//! person's activity, when the delivery is one the reporting workspace sent.

use herald_domain::{ActivityKind, UnixSeconds, WorkspaceId};
use herald_store::{DeliveryMetric, DeliveryRow, DeliveryStatus, NewActivity, StoreError, StoreTx};
use serde_json::{Value, json};

use crate::operation::EventInput;

/// How far along a delivery is; a metric only ever moves a delivery forward.
fn rank(status: DeliveryStatus) -> u8 {
    match status {
        DeliveryStatus::Queued => 0,
        DeliveryStatus::Sent => 1,
        DeliveryStatus::Delivered => 2,
        DeliveryStatus::Bounced => 3,
        DeliveryStatus::Opened => 4,
        DeliveryStatus::Clicked => 5,
        DeliveryStatus::Converted => 6,
        // `failed` is final: a late metric for a message never sent changes nothing.
        DeliveryStatus::Failed => u8::MAX,
    }
}

/// The status a metric moves a delivery to, if any.
fn status_of(metric: &str) -> Option<DeliveryStatus> {
    match metric {
        "delivered" => Some(DeliveryStatus::Delivered),
        "opened" => Some(DeliveryStatus::Opened),
        "clicked" => Some(DeliveryStatus::Clicked),
        "converted" => Some(DeliveryStatus::Converted),
        "bounced" | "dropped" | "spammed" => Some(DeliveryStatus::Bounced),
        _ => None,
    }
}

/// Whether what happened to a delivery after it left Herald (delivered, opened, clicked…) can
/// be reported now: once it was sent, or while its first attempt is under way, since a receiver
/// may report it before the send's own record lands. A delivery that waits for a retry after a
/// failed attempt, or that failed, was never received.
pub fn reportable(delivery: &DeliveryRow) -> bool {
    match delivery.status {
        DeliveryStatus::Queued => delivery.attempts == 0,
        status => rank(status) >= rank(DeliveryStatus::Sent) && rank(status) != u8::MAX,
    }
}

/// Stores a metric of a delivery this workspace sent and moves the delivery forward.
///
/// A metric naming a delivery of another workspace, an unknown one or one that cannot have been
/// received ([`reportable`]) changes nothing: the callers that can tell the client check the
/// same before they submit, and checking again here, in the write, keeps a metric racing a
/// status change from moving a delivery into a state it cannot reach.
pub fn record_metric(
    tx: &mut dyn StoreTx,
    workspace_id: WorkspaceId,
    metric: &DeliveryMetric,
    now: UnixSeconds,
) -> Result<(), StoreError> {
    let Some(mut delivery) = tx.delivery(&metric.delivery_id)? else {
        return Ok(());
    };
    if delivery.workspace_id != workspace_id || !reportable(&delivery) {
        return Ok(());
    }
    tx.insert_delivery_metric(metric)?;
    if let Some(status) = status_of(&metric.metric)
        && rank(status) > rank(delivery.status)
        && rank(delivery.status) != u8::MAX
    {
        delivery.status = status;
        delivery.updated_at = now;
        tx.update_delivery(&delivery)?;
    }
    tx.append_activity(&NewActivity {
        workspace_id: delivery.workspace_id,
        person_seq: Some(delivery.person_seq),
        anonymous_id: None,
        kind: ActivityKind::DeliveryMetric,
        name: Some(metric.metric.clone()),
        data: json!({
            "delivery_id": delivery.id,
            "campaign_id": delivery.campaign_id,
            "channel": delivery.channel,
            "metric": metric.metric,
            "source": metric.source,
        }),
        timestamp: metric.timestamp,
        received_at: now,
        event_id: None,
        may_trigger: false,
    })?;
    Ok(())
}

/// Reads an `opened` event that carries `CIO-Delivery-ID` as an open of that delivery.
pub fn delivery_metric_of_event(
    event: &EventInput,
    timestamp: UnixSeconds,
    now: UnixSeconds,
) -> Option<DeliveryMetric> {
    if event.name != "opened" {
        return None;
    }
    let delivery_id = event.data.get("CIO-Delivery-ID")?.as_str()?.trim();
    if delivery_id.is_empty() {
        return None;
    }
    Some(DeliveryMetric {
        source: "event".into(),
        delivery_id: delivery_id.to_owned(),
        metric: "opened".into(),
        timestamp,
        received_at: now,
        data: json!({
            "device_id": event.data.get("CIO-Delivery-Token").cloned().unwrap_or(Value::Null),
        }),
    })
}
