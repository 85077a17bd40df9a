//! Delivery metrics in: stored as reported, and, when they name a delivery Herald sent, moved
//! onto that delivery's status and its person's activity log.

use herald_domain::{ActivityKind, UnixSeconds};
use herald_store::{DeliveryMetric, NewActivity, StoreError, StoreTx};
use serde_json::{Value, json};

use crate::operation::EventInput;

/// How far along a delivery is; a metric only ever moves a delivery forward.
fn rank(status: &str) -> u8 {
    match status {
        "queued" => 0,
        "sent" => 1,
        "delivered" => 2,
        "bounced" => 3,
        "opened" => 4,
        "clicked" => 5,
        "converted" => 6,
        // `failed` is final: a late metric for a message never sent changes nothing.
        _ => u8::MAX,
    }
}

/// The status a metric moves a delivery to, if any.
fn status_of(metric: &str) -> Option<&'static str> {
    match metric {
        "delivered" => Some("delivered"),
        "opened" => Some("opened"),
        "clicked" => Some("clicked"),
        "converted" => Some("converted"),
        "bounced" | "dropped" | "spammed" => Some("bounced"),
        _ => None,
    }
}

/// Stores a metric and applies it to its delivery, if Herald sent it.
pub fn record_metric(
    tx: &mut dyn StoreTx,
    metric: &DeliveryMetric,
    now: UnixSeconds,
) -> Result<(), StoreError> {
    tx.insert_delivery_metric(metric)?;
    let Some(mut delivery) = tx.delivery(&metric.delivery_id)? else {
        return Ok(());
    };
    if let Some(status) = status_of(&metric.metric)
        && rank(status) > rank(&delivery.status)
        && rank(&delivery.status) != u8::MAX
    {
        delivery.status = status.to_owned();
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
