//! Deliveries and campaign metrics over the App API (Bearer): what Herald sent, to whom, and
//! what happened to it since.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use herald_domain::{CampaignId, Identifier, PersonSeq, WorkspaceId};
use herald_store::{DeliveryQuery, DeliveryRow, Person, StoreError, StoreRead};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::IntoParams;

use crate::auth::AppWorkspace;
use crate::error::parse_id_type;
use crate::openapi::docs;
use crate::{ApiError, AppState, paging};

type Answer = Result<Json<Value>, ApiError>;

/// How many deliveries a list returns when the caller does not say.
pub(crate) const DEFAULT_LIMIT: usize = 50;
/// The most one list returns, so one request cannot make the server serialize a whole table.
pub(crate) const MAX_LIMIT: usize = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only the deliveries of this campaign.
    campaign_id: Option<String>,
    /// Only the deliveries to this person, as `id_type` says.
    customer_id: Option<String>,
    /// How `customer_id` names the person: `id` (the default), `email` or `cio_id`.
    id_type: Option<String>,
    /// How many deliveries to list: 50 by default, at most 1000.
    limit: Option<String>,
}

fn parse_campaign_id(campaign_id: Option<&str>) -> Result<Option<CampaignId>, ApiError> {
    match campaign_id {
        None | Some("") => Ok(None),
        Some(text) => text.parse::<CampaignId>().map(Some).map_err(|_| {
            ApiError::bad_request(format!("campaign_id {text:?} is not a campaign id"))
        }),
    }
}

/// The identifiers of the person a delivery went to; `null` once the person was deleted.
fn customer_json(person: Option<&Person>) -> Value {
    person.map_or(
        Value::Null,
        |person| json!({"id": person.id, "email": person.email, "cio_id": person.cio_id}),
    )
}

fn delivery_json(delivery: &DeliveryRow, person: Option<&Person>) -> Value {
    json!({
        "id": delivery.id,
        "campaign_id": delivery.campaign_id,
        "run_id": delivery.run_id,
        "step": delivery.step,
        "customer": customer_json(person),
        "channel": delivery.channel,
        "status": delivery.status,
        "content": delivery.content,
        "idempotency_key": delivery.idempotency_key,
        "attempts": delivery.attempts,
        "error": delivery.error,
        "created_at": delivery.created_at,
        "updated_at": delivery.updated_at,
        "sent_at": delivery.sent_at,
    })
}

/// Reads the people of a page of deliveries, each once: a campaign's page is usually many
/// deliveries to few people.
pub(crate) fn people_of(
    reader: &mut dyn StoreRead,
    workspace_id: WorkspaceId,
    deliveries: &[DeliveryRow],
) -> Result<HashMap<PersonSeq, Person>, StoreError> {
    let mut people = HashMap::new();
    for delivery in deliveries {
        if people.contains_key(&delivery.person_seq) {
            continue;
        }
        if let Some(person) = reader.person_by_seq(workspace_id, delivery.person_seq)? {
            people.insert(delivery.person_seq, person);
        }
    }
    Ok(people)
}

/// Lists deliveries
///
/// The messages campaigns sent, newest first, of one campaign or one person if asked.
#[utoipa::path(
    get,
    path = "/v1/deliveries",
    tag = docs::APP_DELIVERIES,
    params(ListQuery),
    responses(
        (status = 200, description = "`deliveries`.", body = Value),
        (status = 400, description = docs::BAD_QUERY, body = docs::Error),
        (status = 404, description = docs::NO_CUSTOMER, body = docs::Error),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Query(query): Query<ListQuery>,
) -> Answer {
    let limit = paging::limit(query.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let campaign_id = parse_campaign_id(query.campaign_id.as_deref())?;
    let id_type = parse_id_type(query.id_type.as_deref())?;
    let customer = query.customer_id.filter(|id| !id.is_empty());
    let lookup = customer.clone();
    let found = state
        .store()
        .read(move |reader| {
            let mut delivery_query = DeliveryQuery {
                workspace_id,
                campaign_id,
                person_seq: None,
                status: None,
                after: None,
                limit,
            };
            if let Some(id) = &lookup {
                match reader.person(workspace_id, &Identifier::of_type(id_type, id))? {
                    Some(person) => delivery_query.person_seq = Some(person.seq),
                    None => return Ok(None),
                }
            }
            let deliveries = reader.deliveries(&delivery_query)?;
            let people = people_of(reader, workspace_id, &deliveries)?;
            Ok(Some((deliveries, people)))
        })
        .await?;
    let Some((deliveries, people)) = found else {
        let id = customer.unwrap_or_default();
        return Err(ApiError::not_found(format!(
            "no customer with the {} {id:?}",
            id_type.as_str()
        )));
    };
    let list: Vec<Value> = deliveries
        .iter()
        .map(|delivery| delivery_json(delivery, people.get(&delivery.person_seq)))
        .collect();
    Ok(Json(json!({"deliveries": list})))
}

/// Reads a delivery
///
/// One message: where it went, its status and metrics, and where its campaign run stands
/// (`run`).
#[utoipa::path(
    get,
    path = "/v1/deliveries/{id}",
    tag = docs::APP_DELIVERIES,
    params(("id" = String, Path, description = docs::DELIVERY_ID)),
    responses(
        (status = 200, description = "`delivery`.", body = Value),
        (status = 404, description = "No delivery has this id in the key's workspace.", body = docs::Error),
    ),
)]
pub async fn get_one(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<String>,
) -> Answer {
    let found = state
        .store()
        .read(move |reader| {
            // Delivery ids are global; one of another workspace is answered exactly like one
            // that does not exist, so ids cannot be probed across workspaces.
            let Some(delivery) = reader
                .delivery(&id)?
                .filter(|delivery| delivery.workspace_id == workspace_id)
            else {
                return Ok(None);
            };
            let person = reader.person_by_seq(workspace_id, delivery.person_seq)?;
            let run = reader.run(delivery.run_id)?;
            Ok(Some((delivery, person, run)))
        })
        .await?;
    let (delivery, person, run) = found.ok_or_else(|| ApiError::not_found("Delivery not found"))?;
    let mut answer = delivery_json(&delivery, person.as_ref());
    // One delivery's page also tells where its campaign run stands: whether a failed message
    // ended the run or the run went on to its next steps.
    answer["run"] = run.map_or(Value::Null, |run| {
        json!({"id": run.id, "state": run.state, "step": run.step, "attempts": run.attempts,
               "due_at": run.due_at})
    });
    Ok(Json(json!({"delivery": answer})))
}

/// Lays the service's counts out as a JSON object.
pub(crate) fn metrics_json(counts: Vec<(String, i64)>) -> Map<String, Value> {
    counts
        .into_iter()
        .map(|(name, count)| (name, json!(count)))
        .collect()
}

/// Counts a campaign's outcomes
///
/// How many of the campaign's messages were sent, failed, opened, clicked, converted,
/// unsubscribed, ….
#[utoipa::path(
    get,
    path = "/v1/campaigns/{id}/metrics",
    tag = docs::APP_CAMPAIGNS,
    params(("id" = u64, Path, description = docs::CAMPAIGN_ID)),
    responses(
        (status = 200, description = "The counts.", body = Value,
         example = json!({"campaign_id": 7, "metrics": {"sent": 120, "failed": 2, "opened": 64, "clicked": 12}})),
        (status = 404, description = docs::NO_CAMPAIGN, body = docs::Error),
    ),
)]
pub async fn campaign_metrics(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<CampaignId>,
) -> Answer {
    let counts = state.campaigns().service.metrics(workspace_id, id).await?;
    Ok(Json(
        json!({"campaign_id": id, "metrics": metrics_json(counts)}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_name_every_outcome_and_keep_extra_ones() {
        let metrics = metrics_json(herald_dispatch::metrics_of(vec![
            ("sent".into(), 3),
            ("failed".into(), 1),
            ("failed".into(), 2),
            ("unsubscribed".into(), 1),
        ]));
        assert_eq!(metrics["sent"], 3);
        assert_eq!(metrics["failed"], 2);
        assert_eq!(metrics["opened"], 0);
        assert_eq!(metrics["unsubscribed"], 1);
        assert_eq!(metrics.len(), herald_dispatch::METRIC_KEYS.len() + 1);
    }
}
