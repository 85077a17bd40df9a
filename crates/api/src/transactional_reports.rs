//! What a transactional message sent, over the App API (Bearer):
//! `GET /v1/transactional/{id}/deliveries?limit=&start=&state=` and
//! `GET /v1/transactional/{id}/metrics`. A transactional message is a campaign, so these are its
//! campaign's deliveries and metrics in the shapes Customer.io gives a transactional message's.

use axum::Json;
use axum::extract::{Path, Query, State};
use herald_store::{DeliveryQuery, DeliveryStatus};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use crate::auth::AppWorkspace;
use crate::customer_messages::{cursor_of, message_json, parse_cursor};
use crate::deliveries::{DEFAULT_LIMIT, MAX_LIMIT, metrics_json, people_of};
use crate::openapi::docs;
use crate::transactional::transactional_row;
use crate::{ApiError, AppState, paging};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// How many messages a page holds: 50 by default, at most 1000.
    limit: Option<String>,
    /// The cursor of the page to read: the `next` of the previous page.
    start: Option<String>,
    /// `failed` or `attempted` (tried and waiting for a retry); other states are refused.
    state: Option<String>,
    /// Refused when given: read each message's `metrics` instead.
    metric: Option<String>,
}

/// Customer.io's `state` filter, as far as one stored status answers it exactly: `failed`, and
/// `attempted` (tried, not sent yet, waiting for a retry). Its `sent` also holds the messages
/// opened or clicked since, and Herald keeps no drafts, so those are refused rather than
/// answered with a part of what they ask for.
fn state_filter(state: Option<&str>) -> Result<Option<DeliveryStatus>, ApiError> {
    match state {
        None | Some("") => Ok(None),
        Some("failed") => Ok(Some(DeliveryStatus::Failed)),
        Some("attempted") => Ok(Some(DeliveryStatus::Queued)),
        Some(other) => Err(ApiError::bad_request(format!(
            "state {other:?} is not a filter Herald answers: use failed or attempted, or leave \
             it out and read each message's status"
        ))),
    }
}

/// Lists what a transactional message sent
///
/// Its messages, newest first, in the shape of `GET /v1/customers/{id}/messages`.
#[utoipa::path(
    get,
    path = "/v1/transactional/{id}/deliveries",
    tag = docs::APP_TRANSACTIONAL,
    params(("id" = String, Path, description = docs::TRANSACTIONAL_ID), DeliveriesQuery),
    responses(
        (status = 200, description = "`deliveries` and the `next` cursor (empty on the last page).", body = Value),
        (status = 400, description = docs::BAD_QUERY, body = docs::Error),
        (status = 404, description = "No transactional message has this id in the key's workspace.", body = docs::Error),
    ),
)]
pub async fn deliveries(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<String>,
    Query(query): Query<DeliveriesQuery>,
) -> Result<Json<Value>, ApiError> {
    if query
        .metric
        .as_deref()
        .is_some_and(|metric| !metric.is_empty())
    {
        return Err(ApiError::bad_request(
            "filtering by metric is not supported: leave metric out and read each message's \
             metrics",
        ));
    }
    let limit = paging::limit(query.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = parse_cursor(query.start.as_deref())?;
    let status = state_filter(query.state.as_deref())?;
    let row = transactional_row(&state, workspace_id, &id).await?;
    let campaign_id = row.id;
    let (mut page, people) = state
        .store()
        .read(move |reader| {
            let deliveries = reader.deliveries(&DeliveryQuery {
                workspace_id,
                campaign_id: Some(campaign_id),
                person_seq: None,
                status,
                after,
                // One more than asked tells whether another page follows.
                limit: i64::try_from(limit + 1).unwrap_or(i64::MAX),
            })?;
            let mut page = Vec::with_capacity(deliveries.len());
            for delivery in &deliveries {
                page.push((delivery.clone(), reader.delivery_metrics(&delivery.id)?));
            }
            let people = people_of(reader, workspace_id, &deliveries)?;
            Ok((page, people))
        })
        .await?;
    let next = if page.len() > limit {
        page.truncate(limit);
        page.last()
            .map(|(delivery, _)| cursor_of(delivery))
            .unwrap_or_default()
    } else {
        String::new()
    };
    let deliveries: Vec<Value> = page
        .iter()
        .map(|(delivery, metrics)| {
            let mut message = message_json(delivery, metrics, people.get(&delivery.person_seq));
            message["transactional_message_id"] = json!(campaign_id);
            message
        })
        .collect();
    Ok(Json(json!({"deliveries": deliveries, "next": next})))
}

/// Counts a transactional message's outcomes
///
/// The message's totals, as a campaign's metrics are.
#[utoipa::path(
    get,
    path = "/v1/transactional/{id}/metrics",
    tag = docs::APP_TRANSACTIONAL,
    params(("id" = String, Path, description = docs::TRANSACTIONAL_ID)),
    responses(
        (status = 200, description = "The counts.", body = Value,
         example = json!({"transactional_message_id": 3, "metrics": {"sent": 40, "failed": 0, "opened": 22}})),
        (status = 404, description = "No transactional message has this id in the key's workspace.", body = docs::Error),
    ),
)]
pub async fn metrics(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let row = transactional_row(&state, workspace_id, &id).await?;
    let counts = state
        .campaigns()
        .service
        .metrics(workspace_id, row.id)
        .await?;
    Ok(Json(
        json!({"transactional_message_id": row.id, "metrics": metrics_json(counts)}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_states_are_filters() {
        assert_eq!(state_filter(None).unwrap(), None);
        assert_eq!(state_filter(Some("")).unwrap(), None);
        assert_eq!(
            state_filter(Some("failed")).unwrap(),
            Some(DeliveryStatus::Failed)
        );
        assert_eq!(
            state_filter(Some("attempted")).unwrap(),
            Some(DeliveryStatus::Queued)
        );
        for refused in ["sent", "drafted", "FAILED"] {
            let error = state_filter(Some(refused)).unwrap_err();
            assert_eq!(error.status, 400, "{refused}");
        }
    }
}
