//! App API handlers (Bearer): customers by email, activities, the data index, and the dev
//! clock.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use herald_domain::{ActivityKind, Clock, IdType, Identifier, WorkspaceId, limits};
use herald_store::{Activity, ActivityQuery, Person, StoreRead};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::IntoParams;

use crate::auth::AppWorkspace;
use crate::error::parse_id_type;
use crate::openapi::docs;
use crate::{ApiError, AppState, paging};

type Answer = Result<Json<Value>, ApiError>;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EmailQuery {
    /// The email address to look up (required; compared without case).
    email: Option<String>,
}

/// Finds people by email
#[utoipa::path(
    get,
    path = "/v1/customers",
    tag = docs::APP_PEOPLE,
    params(EmailQuery),
    responses(
        (status = 200, description = "`results`: the person with this email, if any.", body = Value,
         example = json!({"results": [{"email": "ann@example.com", "id": "42", "cio_id": "a1b2c3"}]})),
        (status = 400, description = "`email` is missing.", body = docs::Error),
    ),
)]
pub async fn customers_by_email(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Query(query): Query<EmailQuery>,
) -> Answer {
    let email = query
        .email
        .filter(|email| !email.is_empty())
        .ok_or_else(|| ApiError::bad_request("the email query parameter is required"))?;
    let person = state
        .store()
        .read(move |reader| reader.person(workspace_id, &Identifier::Email(email.to_lowercase())))
        .await?;
    let results: Vec<Value> = person
        .iter()
        .map(|person| json!({"email": person.email, "id": person.id, "cio_id": person.cio_id}))
        .collect();
    Ok(Json(json!({"results": results})))
}

/// Finds the live person a request names by an identifier of the given kind.
pub(crate) fn find_person(
    reader: &mut dyn StoreRead,
    workspace_id: WorkspaceId,
    id_type: IdType,
    id: &str,
) -> Result<Option<Person>, herald_store::StoreError> {
    reader.person(workspace_id, &Identifier::of_type(id_type, id))
}

/// The 404 for an identifier that names no live person.
pub(crate) fn customer_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("no customer with the identifier {id:?}"))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivitiesQuery {
    /// The cursor of the page to read: the `next` of the previous page.
    start: Option<String>,
    /// How many activities a page holds: 10 by default, at most 100.
    limit: Option<String>,
    /// Only activities of this type (`event`, `attribute_change`, `page`, …).
    #[serde(rename = "type")]
    kind: Option<String>,
    /// Only activities of this name (an event's name).
    name: Option<String>,
    /// `GET /v1/activities` only: only the activities of this person, as `id_type` says.
    customer_id: Option<String>,
    /// How the person is named: `id` (the default), `email` or `cio_id`.
    id_type: Option<String>,
}

fn activity_json(activity: &Activity) -> Value {
    let identifiers = activity.customer.as_ref();
    let mut item = Map::new();
    item.insert("id".into(), json!(activity.seq.to_string()));
    item.insert("type".into(), json!(activity.kind));
    item.insert("name".into(), json!(activity.name));
    item.insert("timestamp".into(), json!(activity.timestamp));
    item.insert("received_at".into(), json!(activity.received_at));
    item.insert("data".into(), activity.data.clone());
    item.insert(
        "customer_id".into(),
        json!(identifiers.and_then(|c| c.id.clone())),
    );
    item.insert(
        "customer_identifiers".into(),
        identifiers.map_or(
            Value::Null,
            |c| json!({"id": c.id, "email": c.email, "cio_id": c.cio_id}),
        ),
    );
    item.insert("delivery_id".into(), Value::Null);
    item.insert("delivery_type".into(), Value::Null);
    if let Some(anonymous_id) = &activity.anonymous_id {
        item.insert("anonymous_id".into(), json!(anonymous_id));
    }
    if ActivityKind::parse(&activity.kind).is_some_and(ActivityKind::is_event) {
        item.insert("event_id".into(), json!(activity.event_id));
        // Says whether the event may start campaigns, and why not when it may not.
        let trigger = if activity.may_trigger {
            json!({"eligible": true})
        } else {
            json!({"eligible": false, "reason": "its timestamp was more than 72 hours before it was received or attached, or it was merged from another profile"})
        };
        item.insert("trigger".into(), trigger);
    }
    Value::Object(item)
}

fn parse_kind(kind: Option<&str>) -> Result<Option<String>, ApiError> {
    match kind {
        None | Some("") => Ok(None),
        Some(text) => match ActivityKind::parse(text) {
            Some(kind) => Ok(Some(kind.as_str().to_owned())),
            None => Err(ApiError::bad_request(format!(
                "type {text:?} is not an activity type; use one of {}",
                ActivityKind::ALL.map(ActivityKind::as_str).join(", ")
            ))),
        },
    }
}

async fn list_activities(
    state: &AppState,
    workspace_id: WorkspaceId,
    query: ActivitiesQuery,
    person: Option<(IdType, String)>,
    require_person: bool,
) -> Answer {
    let limit = paging::limit(query.limit.as_deref(), 10, 100)?;
    let mut activity_query = ActivityQuery {
        workspace_id,
        person_seq: None,
        kind: parse_kind(query.kind.as_deref())?,
        name: query.name.filter(|name| !name.is_empty()),
        before_seq: paging::start(query.start.as_deref())?,
        since: state.clock().now() - limits::ACTIVITY_RETENTION_SECONDS,
        // One more than asked tells whether another page follows.
        limit: limit + 1,
    };
    let page = state
        .store()
        .read(move |reader| {
            if let Some((id_type, id)) = &person {
                match find_person(reader, workspace_id, *id_type, id)? {
                    Some(found) => activity_query.person_seq = Some(found.seq),
                    None => return Ok(None),
                }
            }
            reader.activities(&activity_query).map(Some)
        })
        .await?;
    let Some(page) = page else {
        if require_person {
            return Err(ApiError::not_found("no customer with this identifier"));
        }
        return Ok(Json(json!({"activities": [], "next": ""})));
    };
    let mut page = page;
    let next = if page.len() > limit {
        page.truncate(limit);
        page.last().map(|a| a.seq.to_string()).unwrap_or_default()
    } else {
        String::new()
    };
    let activities: Vec<Value> = page.iter().map(activity_json).collect();
    Ok(Json(json!({"activities": activities, "next": next})))
}

/// Lists a person's activities
///
/// The person's activity log of the last 30 days, newest first; events say whether they may
/// trigger campaigns (`trigger`).
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/activities",
    tag = docs::APP_PEOPLE,
    params(("id" = String, Path, description = docs::CUSTOMER_ID), ActivitiesQuery),
    responses(
        (status = 200, description = "`activities` and the `next` cursor (empty on the last page).", body = Value),
        (status = 400, description = docs::BAD_QUERY, body = docs::Error),
        (status = 404, description = docs::NO_CUSTOMER, body = docs::Error),
    ),
)]
pub async fn customer_activities(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<String>,
    Query(query): Query<ActivitiesQuery>,
) -> Answer {
    let id_type = parse_id_type(query.id_type.as_deref())?;
    list_activities(&state, workspace_id, query, Some((id_type, id)), true).await
}

/// Lists the workspace's activities
///
/// The activity log of the last 30 days, newest first, optionally of one person, one type or
/// one name.
#[utoipa::path(
    get,
    path = "/v1/activities",
    tag = docs::APP_ACTIVITIES,
    params(ActivitiesQuery),
    responses(
        (status = 200, description = "`activities` and the `next` cursor (empty on the last page).", body = Value,
         example = json!({"activities": [{"id": "17", "type": "event", "name": "purchased", "timestamp": 1700000000, "received_at": 1700000000, "data": {"total": 42}, "customer_id": "42", "customer_identifiers": {"id": "42", "email": "ann@example.com", "cio_id": "a1b2c3"}, "delivery_id": null, "delivery_type": null, "event_id": null, "trigger": {"eligible": true}}], "next": ""})),
        (status = 400, description = docs::BAD_QUERY, body = docs::Error),
    ),
)]
pub async fn activities(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Query(query): Query<ActivitiesQuery>,
) -> Answer {
    let id_type = parse_id_type(query.id_type.as_deref())?;
    let person = query
        .customer_id
        .clone()
        .filter(|id| !id.is_empty())
        .map(|id| (id_type, id));
    list_activities(&state, workspace_id, query, person, false).await
}

/// Lists the event names
///
/// Every event name the workspace has received, with its type, count, first and last time
/// seen, and the keys of its data.
#[utoipa::path(
    get,
    path = "/v1/data_index/events",
    tag = docs::APP_ACTIVITIES,
    responses(
        (status = 200, description = "`events`: the event names.", body = Value),
    ),
)]
pub async fn data_index_events(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
) -> Answer {
    let entries = state
        .store()
        .read(move |reader| reader.event_index(workspace_id))
        .await?;
    Ok(Json(json!({"events": entries})))
}

fn dev_clock_off() -> ApiError {
    ApiError::not_found("no route for /v1/_dev/clock: start the server with --dev-clock to use it")
}

/// The setting under which the dev clock's last reading is kept across restarts.
pub const DEV_CLOCK_SETTING: &str = "dev_clock_now";

/// `POST /v1/_dev/clock` `{"now": <unix seconds>}`: moves the manual clock forward.
pub async fn set_dev_clock(
    State(state): State<AppState>,
    AppWorkspace(_): AppWorkspace,
    body: Bytes,
) -> Answer {
    if !state.info().dev_clock {
        return Err(dev_clock_off());
    }
    let clock = state.clock().clone();
    let manual = clock.as_manual().ok_or_else(dev_clock_off)?;
    let body: Value = herald_ingest::decode::decode_json(&body)?;
    let now = match body.get("now") {
        Some(value) => herald_ingest::validate::timestamp_value(value, "now")?,
        None => {
            return Err(ApiError::bad_request(
                "now is required: send {\"now\": <unix seconds>}",
            ));
        }
    };
    if now < manual.now() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "clock_backwards",
            format!(
                "the clock cannot move backwards: it is at {} and {now} is earlier",
                manual.now()
            ),
        ));
    }
    // The new reading is stored before the clock moves, so a restart never sees an older time
    // than a client was told.
    let stored = now.to_string();
    state
        .store()
        .write(move |tx| tx.set_setting(DEV_CLOCK_SETTING, &stored))
        .await??;
    manual.set(now).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "clock_backwards",
            error.to_string(),
        )
    })?;
    // Deadlines the move passed are applied before answering, so the caller sees their effect.
    state.segments().sync().await;
    state.campaigns().service.wake();
    Ok(Json(json!({"now": now})))
}

/// `GET /v1/_dev/clock`.
pub async fn get_dev_clock(State(state): State<AppState>, AppWorkspace(_): AppWorkspace) -> Answer {
    if !state.info().dev_clock {
        return Err(dev_clock_off());
    }
    Ok(Json(json!({"now": state.clock().now()})))
}
