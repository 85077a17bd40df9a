//! `GET /v1/customers/{id}/messages?id_type=&start=&limit=&start_ts=&end_ts=` over the App API
//! (Bearer): the messages Herald's campaigns sent a person (its deliveries), newest first, in
//! Customer.io's message shape as far as Herald has the fields.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use herald_domain::UnixSeconds;
use herald_store::{DeliveryMetric, DeliveryRow, DeliveryStatus, Person, PersonDeliveryQuery};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::IntoParams;

use crate::app_api::find_person;
use crate::auth::AppWorkspace;
use crate::deliveries::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::error::parse_id_type;
use crate::openapi::docs;
use crate::{ApiError, AppState, paging};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    /// How the person is named: `id` (the default), `email` or `cio_id`.
    id_type: Option<String>,
    /// The cursor of the page to read: the `next` of the previous page.
    start: Option<String>,
    /// How many messages a page holds: 50 by default, at most 1000.
    limit: Option<String>,
    /// Only messages created at or after this time (unix seconds).
    start_ts: Option<String>,
    /// Only messages created at or before this time (unix seconds).
    end_ts: Option<String>,
}

/// Reads `start_ts` or `end_ts`: unix seconds, or nothing when absent or empty.
fn timestamp(name: &str, value: Option<&str>) -> Result<Option<UnixSeconds>, ApiError> {
    match value {
        None | Some("") => Ok(None),
        Some(text) => text.parse::<i64>().map(Some).map_err(|_| {
            ApiError::bad_request(format!(
                "{name} {text:?} must be a unix timestamp in seconds"
            ))
        }),
    }
}

/// A page's cursor is the creation time and id of its last message: the order the list is in.
pub(crate) fn cursor_of(delivery: &DeliveryRow) -> String {
    format!("{}:{}", delivery.created_at, delivery.id)
}

pub(crate) fn parse_cursor(value: Option<&str>) -> Result<Option<(UnixSeconds, String)>, ApiError> {
    match value {
        None | Some("") => Ok(None),
        Some(text) => text
            .split_once(':')
            .and_then(|(time, id)| Some((time.parse::<i64>().ok()?, id.to_owned())))
            .map(Some)
            .ok_or_else(|| paging::not_a_cursor(text)),
    }
}

/// Where a message went: the email's address, the webhook's URL, or the push devices' tokens.
fn recipient(delivery: &DeliveryRow) -> Value {
    let content = &delivery.content;
    match delivery.channel.as_str() {
        "email" => content["to"].clone(),
        "webhook" => content["url"].clone(),
        "push" => {
            let tokens: Vec<&str> = content["devices"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|device| device["token"].as_str())
                .collect();
            json!(tokens.join(","))
        }
        _ => Value::Null,
    }
}

/// When each outcome first happened: `sent`, `failed`, and every metric reported since.
fn metrics_json(delivery: &DeliveryRow, metrics: &[DeliveryMetric]) -> Map<String, Value> {
    let mut first: BTreeMap<&str, UnixSeconds> = BTreeMap::new();
    for metric in metrics {
        let at = first
            .entry(metric.metric.as_str())
            .or_insert(metric.timestamp);
        *at = (*at).min(metric.timestamp);
    }
    if let Some(sent_at) = delivery.sent_at {
        first.insert("sent", sent_at);
    }
    if delivery.status == DeliveryStatus::Failed {
        first.insert("failed", delivery.updated_at);
    }
    first
        .into_iter()
        .map(|(name, at)| (name.to_owned(), json!(at)))
        .collect()
}

/// Customer.io's shape of a message; the person is `None` once they were deleted.
pub(crate) fn message_json(
    delivery: &DeliveryRow,
    metrics: &[DeliveryMetric],
    person: Option<&Person>,
) -> Value {
    let failed = delivery.status == DeliveryStatus::Failed;
    json!({
        "id": delivery.id,
        "deduplicate_id": format!("{}:{}", delivery.id, delivery.updated_at),
        "customer_id": person.map(|person| &person.id),
        "customer_identifiers": person.map(|person| {
            json!({"id": person.id, "email": person.email, "cio_id": person.cio_id})
        }),
        "campaign_id": delivery.campaign_id,
        // The step of the campaign that sent it, which is what Customer.io's action is.
        "action_id": delivery.step,
        "newsletter_id": Value::Null,
        "broadcast_id": Value::Null,
        "content_id": Value::Null,
        "type": delivery.channel,
        "recipient": recipient(delivery),
        "subject": if delivery.channel == "email" { delivery.content["subject"].clone() } else { Value::Null },
        "created": delivery.created_at,
        "metrics": metrics_json(delivery, metrics),
        "failure_message": if failed { json!(delivery.error) } else { Value::Null },
        "forgotten": false,
        "status": delivery.status,
    })
}

/// Lists the messages sent to a person
///
/// The messages Herald's campaigns sent the person (their deliveries), newest first, each with
/// `type` (the channel), `campaign_id`, `action_id` (the step), `recipient`, `subject`,
/// `created`, `metrics` and `failure_message`.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/messages",
    tag = docs::APP_PEOPLE,
    params(("id" = String, Path, description = docs::CUSTOMER_ID), MessagesQuery),
    responses(
        (status = 200, description = "`messages` and the `next` cursor (empty on the last page).", body = Value),
        (status = 400, description = docs::BAD_QUERY, body = docs::Error),
        (status = 404, description = docs::NO_CUSTOMER, body = docs::Error),
    ),
)]
pub async fn customer_messages(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<String>,
    Query(query): Query<MessagesQuery>,
) -> Result<Json<Value>, ApiError> {
    let id_type = parse_id_type(query.id_type.as_deref())?;
    let limit = paging::limit(query.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = parse_cursor(query.start.as_deref())?;
    let created_from = timestamp("start_ts", query.start_ts.as_deref())?;
    let created_to = timestamp("end_ts", query.end_ts.as_deref())?;
    if let (Some(from), Some(to)) = (created_from, created_to)
        && from > to
    {
        return Err(ApiError::bad_request(format!(
            "start_ts {from} is after end_ts {to}: give the earlier time as start_ts"
        )));
    }
    let lookup = id.clone();
    let found = state
        .store()
        .read(move |reader| {
            let Some(person) = find_person(reader, workspace_id, id_type, &lookup)? else {
                return Ok(None);
            };
            let deliveries = reader.person_deliveries(&PersonDeliveryQuery {
                workspace_id,
                person_seq: person.seq,
                created_from,
                created_to,
                after,
                // One more than asked tells whether another page follows.
                limit: i64::try_from(limit + 1).unwrap_or(i64::MAX),
            })?;
            let mut messages = Vec::with_capacity(deliveries.len());
            for delivery in deliveries {
                let metrics = reader.delivery_metrics(&delivery.id)?;
                messages.push((delivery, metrics));
            }
            Ok(Some((person, messages)))
        })
        .await?;
    let (person, mut messages) = found.ok_or_else(|| {
        ApiError::not_found(format!("no customer with the {} {id:?}", id_type.as_str()))
    })?;
    let next = if messages.len() > limit {
        messages.truncate(limit);
        messages
            .last()
            .map(|(delivery, _)| cursor_of(delivery))
            .unwrap_or_default()
    } else {
        String::new()
    };
    let messages: Vec<Value> = messages
        .iter()
        .map(|(delivery, metrics)| message_json(delivery, metrics, Some(&person)))
        .collect();
    Ok(Json(json!({"messages": messages, "next": next})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_carry_the_time_and_the_id() {
        assert_eq!(parse_cursor(None).unwrap(), None);
        assert_eq!(
            parse_cursor(Some("1700000000:01hx:y")).unwrap(),
            Some((1_700_000_000, "01hx:y".to_owned()))
        );
        for bad in ["12", "abc:def", ":x"] {
            assert_eq!(parse_cursor(Some(bad)).unwrap_err().status, 400, "{bad}");
        }
    }
}
