//! Segments over the App API (Bearer) and manual membership over the Track API.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_domain::{Identifier, PersonSeq, SegmentId, WorkspaceId, limits};
use herald_segments::{SegmentDraft, SegmentEdit, SegmentsError};
use herald_store::SegmentRow;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use crate::auth::{AppWorkspace, TrackWorkspace};
use crate::body::json_object;
use crate::error::parse_id_type;
use crate::openapi::docs;
use crate::{ApiError, AppState, paging};

type Answer = Result<Json<Value>, ApiError>;

/// The public form of a segment, shaped like Customer.io's.
pub fn segment_json(segment: &SegmentRow) -> Value {
    json!({
        "id": segment.id,
        "deduplicate_id": format!("{}:{}", segment.id, segment.updated_at),
        "name": segment.name,
        "description": segment.description,
        "state": segment.state,
        "progress": segment.progress,
        "type": if segment.definition.is_some() { "dynamic" } else { "manual" },
        "tags": Value::Null,
        "definition": segment.definition,
        "created_at": segment.created_at,
        "updated_at": segment.updated_at,
    })
}

/// The fields of a segment as Herald answers it that a request may carry and Herald ignores.
const READ_ONLY_FIELDS: [&str; 6] = [
    "id",
    "deduplicate_id",
    "state",
    "progress",
    "created_at",
    "updated_at",
];

/// The fields of `{"segment": {...}}`.
struct SegmentInput {
    name: Option<String>,
    description: Option<String>,
    /// `Some(None)` when `definition` is present but null.
    definition: Option<Option<Value>>,
}

fn segment_input(body: &Bytes) -> Result<SegmentInput, ApiError> {
    let mut body = json_object(body)?;
    let Some(Value::Object(mut segment)) = body.remove("segment") else {
        return Err(ApiError::bad_request(
            "send {\"segment\": {\"name\": …, \"definition\": …}}",
        ));
    };
    let name = match segment.remove("name") {
        None => None,
        Some(Value::String(name)) if !name.trim().is_empty() => {
            herald_ingest::validate::no_nul("segment.name", &name)?;
            Some(name.trim().to_owned())
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "segment.name must be a non-empty string",
            ));
        }
    };
    let description = match segment.remove("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text),
        Some(_) => {
            return Err(ApiError::bad_request(
                "segment.description must be a string",
            ));
        }
    };
    let definition = match segment.remove("definition") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(value) => Some(Some(value)),
    };
    // A field Herald would not act on is refused rather than dropped, so that a typo (`nme`)
    // does not pass for a change. The fields of a segment as Herald answers it are read-only,
    // and pass, so that a client may send back a segment it read.
    if let Some(field) = body.keys().next() {
        return Err(ApiError::bad_request(format!(
            "{field} is not a field of this request: send {{\"segment\": {{…}}}} alone"
        )));
    }
    match segment.remove("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Array(tags)) if tags.is_empty() => {}
        Some(_) => {
            return Err(ApiError::bad_request(
                "segment.tags: Herald does not keep segment tags; leave them out",
            ));
        }
    }
    match (segment.remove("type"), &definition) {
        (None | Some(Value::Null), _) | (Some(_), None) => {}
        (Some(kind), Some(given)) => {
            let expected = if given.is_some() { "dynamic" } else { "manual" };
            if kind != expected {
                return Err(ApiError::bad_request(format!(
                    "segment.type is {kind} but the request makes it {expected}: a segment with a definition is dynamic, one without is manual"
                )));
            }
        }
    }
    if let Some(field) = segment
        .keys()
        .find(|field| !READ_ONLY_FIELDS.contains(&field.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "segment.{field} is not a field Herald takes: send name, description or definition"
        )));
    }
    Ok(SegmentInput {
        name,
        description,
        definition,
    })
}

/// Creates a segment
///
/// A segment with a `definition` holds exactly the people who match it at every instant,
/// including when time alone moves someone in or out; one without is manual, filled with the
/// Track API's `add_customers`.
#[utoipa::path(
    post,
    path = "/v1/segments",
    tag = docs::APP_SEGMENTS,
    request_body(content = Value, description = "`segment`: `name` (required), `description`, `definition`.",
        example = json!({"segment": {"name": "Recent buyers", "definition": {"event": {"name": "purchased", "within": {"days": 30}}}}})),
    responses(
        (status = 200, description = "The segment.", body = Value, example = json!({"segment": {"id": 4, "deduplicate_id": "4:1700000000", "name": "Recent buyers", "description": "", "state": "finished", "progress": null, "type": "dynamic", "tags": null, "definition": {"event": {"name": "purchased", "within": {"days": 30}}}, "created_at": 1700000000, "updated_at": 1700000000}})),
        (status = 400, description = "The body or the definition is invalid (`invalid_definition` names the place).", body = docs::Error),
        (status = 503, description = docs::LOADING, body = docs::Error),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    body: Bytes,
) -> Answer {
    let input = segment_input(&body)?;
    let draft = SegmentDraft {
        name: input
            .name
            .ok_or_else(|| ApiError::bad_request("segment.name is required"))?,
        description: input.description.unwrap_or_default(),
        definition: input.definition.flatten(),
    };
    let row = state.segments().create(workspace_id, draft).await?;
    Ok(Json(json!({"segment": segment_json(&row)})))
}

/// Changes a segment
///
/// Changes the fields given; a new definition rebuilds the membership over the stored
/// history, and `"definition": null` makes the segment manual.
#[utoipa::path(
    put,
    path = "/v1/segments/{id}",
    tag = docs::APP_SEGMENTS,
    params(("id" = u64, Path, description = docs::SEGMENT_ID)),
    request_body(content = Value, description = "`segment`: any of `name`, `description`, `definition`.",
        example = json!({"segment": {"name": "Buyers this month"}})),
    responses(
        (status = 200, description = "The segment as changed.", body = Value, example = json!({"segment": {"id": 4, "deduplicate_id": "4:1700000000", "name": "Recent buyers", "description": "", "state": "finished", "progress": null, "type": "dynamic", "tags": null, "definition": {"event": {"name": "purchased", "within": {"days": 30}}}, "created_at": 1700000000, "updated_at": 1700000000}})),
        (status = 400, description = "The body or the definition is invalid.", body = docs::Error),
        (status = 404, description = docs::NO_SEGMENT, body = docs::Error),
        (status = 503, description = docs::LOADING, body = docs::Error),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<SegmentId>,
    body: Bytes,
) -> Answer {
    let input = segment_input(&body)?;
    let edit = SegmentEdit {
        name: input.name,
        description: input.description,
        definition: input.definition,
    };
    let row = state.segments().update(workspace_id, id, edit).await?;
    Ok(Json(json!({"segment": segment_json(&row)})))
}

/// Lists the segments
#[utoipa::path(
    get,
    path = "/v1/segments",
    tag = docs::APP_SEGMENTS,
    responses(
        (status = 200, description = "`segments`: every segment of the workspace.", body = Value),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
) -> Answer {
    let segments = state.segments().list(workspace_id).await?;
    Ok(Json(
        json!({"segments": segments.iter().map(segment_json).collect::<Vec<_>>()}),
    ))
}

/// Reads a segment
///
/// `state` is `building` while the membership is computed over the stored history (with
/// `progress`), then `finished`.
#[utoipa::path(
    get,
    path = "/v1/segments/{id}",
    tag = docs::APP_SEGMENTS,
    params(("id" = u64, Path, description = docs::SEGMENT_ID)),
    responses(
        (status = 200, description = "The segment.", body = Value, example = json!({"segment": {"id": 4, "deduplicate_id": "4:1700000000", "name": "Recent buyers", "description": "", "state": "finished", "progress": null, "type": "dynamic", "tags": null, "definition": {"event": {"name": "purchased", "within": {"days": 30}}}, "created_at": 1700000000, "updated_at": 1700000000}})),
        (status = 404, description = docs::NO_SEGMENT, body = docs::Error),
    ),
)]
pub async fn get_one(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<SegmentId>,
) -> Answer {
    let segment = state.segments().get(workspace_id, id).await?;
    Ok(Json(json!({"segment": segment_json(&segment)})))
}

/// Deletes a segment
///
/// A segment that other segments or campaigns (their trigger or filter) refer to cannot be
/// deleted.
#[utoipa::path(
    delete,
    path = "/v1/segments/{id}",
    tag = docs::APP_SEGMENTS,
    params(("id" = u64, Path, description = docs::SEGMENT_ID)),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "Other segments or campaigns refer to it; the message names them.", body = docs::Error),
        (status = 404, description = docs::NO_SEGMENT, body = docs::Error),
    ),
)]
pub async fn remove(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<SegmentId>,
) -> Result<Response, ApiError> {
    // A campaign whose trigger or filter names a deleted segment would go on running and
    // silently never send (its filter matches nobody), so the segment stays while one does.
    let campaigns = state
        .campaigns()
        .service
        .using_segment(workspace_id, id)
        .await?;
    if !campaigns.is_empty() {
        state.segments().get(workspace_id, id).await?;
        return Err(ApiError::bad_request(format!(
            "segment {id} is used by campaigns {campaigns:?} (their trigger or filter); change or delete them first"
        )));
    }
    state.segments().delete(workspace_id, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Counts a segment's members
#[utoipa::path(
    get,
    path = "/v1/segments/{id}/customer_count",
    tag = docs::APP_SEGMENTS,
    params(("id" = u64, Path, description = docs::SEGMENT_ID)),
    responses(
        (status = 200, description = "The count.", body = Value, example = json!({"segment_id": 4, "count": 1250})),
        (status = 404, description = docs::NO_SEGMENT, body = docs::Error),
        (status = 503, description = docs::LOADING, body = docs::Error),
    ),
)]
pub async fn customer_count(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<SegmentId>,
) -> Answer {
    let count = state.segments().count(workspace_id, id).await?;
    Ok(Json(json!({"segment_id": id, "count": count})))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The cursor of the page to read: the `next` of the previous page.
    start: Option<String>,
    /// How many members a page holds: 1000 by default, at most 30000.
    limit: Option<String>,
}

/// Lists a segment's members
///
/// A page of the members, in the order they were created; pass `next` as `start` until it is
/// empty.
#[utoipa::path(
    get,
    path = "/v1/segments/{id}/membership",
    tag = docs::APP_SEGMENTS,
    params(("id" = u64, Path, description = docs::SEGMENT_ID), PageQuery),
    responses(
        (status = 200, description = "A page of members.", body = Value,
         example = json!({"segment_id": 4, "ids": ["42"], "identifiers": [{"id": "42", "email": "ann@example.com", "cio_id": "a1b2c3"}], "next": ""})),
        (status = 400, description = docs::BAD_QUERY, body = docs::Error),
        (status = 404, description = docs::NO_SEGMENT, body = docs::Error),
        (status = 503, description = docs::LOADING, body = docs::Error),
    ),
)]
pub async fn membership(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<SegmentId>,
    Query(query): Query<PageQuery>,
) -> Answer {
    let limit = paging::limit(query.limit.as_deref(), 1000, 30_000)?;
    let after = paging::start(query.start.as_deref())?;
    let page = state
        .segments()
        .members_page(workspace_id, id, after, limit)
        .await?;
    let ids: Vec<Value> = page
        .people
        .iter()
        .map(|person| {
            json!(
                person
                    .id
                    .clone()
                    .unwrap_or_else(|| format!("cio_{}", person.cio_id))
            )
        })
        .collect();
    let identifiers: Vec<Value> = page
        .people
        .iter()
        .map(|person| json!({"id": person.id, "email": person.email, "cio_id": person.cio_id}))
        .collect();
    let next = page.next.map(|seq| seq.to_string()).unwrap_or_default();
    Ok(Json(
        json!({"segment_id": id, "ids": ids, "identifiers": identifiers, "next": next}),
    ))
}

/// What uses a segment
///
/// The campaigns whose trigger or filter refers to the segment, drafts and archived ones
/// included. Herald has no newsletters, so those lists are always empty.
#[utoipa::path(
    get,
    path = "/v1/segments/{id}/used_by",
    tag = docs::APP_SEGMENTS,
    params(("id" = u64, Path, description = docs::SEGMENT_ID)),
    responses(
        (status = 200, description = "The campaigns.", body = Value,
         example = json!({"segment_id": 4, "used_by": {"campaigns": [7], "sent_newsletters": [], "draft_newsletters": []}})),
        (status = 404, description = docs::NO_SEGMENT, body = docs::Error),
    ),
)]
pub async fn used_by(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<SegmentId>,
) -> Answer {
    state.segments().get(workspace_id, id).await?;
    let campaigns = state
        .campaigns()
        .service
        .using_segment(workspace_id, id)
        .await?;
    Ok(Json(json!({
        "segment_id": id,
        "used_by": {"campaigns": campaigns, "sent_newsletters": [], "draft_newsletters": []},
    })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// The person (required where the path is about one person), as `id_type` says.
    customer_id: Option<String>,
    /// How the person is named: `id` (the default), `email` or `cio_id`.
    id_type: Option<String>,
}

async fn person_seq(
    state: &AppState,
    workspace_id: WorkspaceId,
    id: String,
    id_type: Option<&str>,
) -> Result<PersonSeq, ApiError> {
    let id_type = parse_id_type(id_type)?;
    let identifier = Identifier::of_type(id_type, &id);
    state
        .store()
        .read(move |r| r.person(workspace_id, &identifier))
        .await?
        .map(|p| p.seq)
        .ok_or_else(|| ApiError::not_found(format!("no customer with the identifier {id:?}")))
}

/// Lists a person's segments
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/segments",
    tag = docs::APP_PEOPLE,
    params(
        ("id" = String, Path, description = docs::CUSTOMER_ID),
        ("id_type" = Option<String>, Query, description = docs::ID_TYPE),
    ),
    responses(
        (status = 200, description = "`segments`: the segments the person is in now.", body = Value),
        (status = 400, description = docs::BAD_QUERY, body = docs::Error),
        (status = 404, description = docs::NO_CUSTOMER, body = docs::Error),
        (status = 503, description = docs::LOADING, body = docs::Error),
    ),
)]
pub async fn of_customer(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<String>,
    Query(query): Query<CustomerQuery>,
) -> Answer {
    let seq = person_seq(&state, workspace_id, id, query.id_type.as_deref()).await?;
    let segments = state.segments().of_person(workspace_id, seq).await?;
    let segments: Vec<Value> = segments.iter().map(segment_json).collect();
    Ok(Json(json!({"segments": segments})))
}

/// Previews a definition
///
/// Counts the people a definition matches now, with a sample of them, without saving it.
#[utoipa::path(
    post,
    path = "/v1/segments/preview",
    tag = docs::APP_SEGMENTS,
    request_body(content = Value, description = "`definition`: a segment definition.",
        example = json!({"definition": {"attribute": {"field": "plan", "operator": "eq", "value": "pro"}}})),
    responses(
        (status = 200, description = "The count and a sample.", body = Value),
        (status = 400, description = "The definition is invalid; the message names the place.", body = docs::Error),
        (status = 503, description = docs::LOADING, body = docs::Error),
    ),
)]
pub async fn preview(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    body: Bytes,
) -> Answer {
    let body = json_object(&body)?;
    let definition = body
        .get("definition")
        .ok_or_else(|| ApiError::bad_request("definition is required"))?;
    let preview = state
        .segments()
        .preview(workspace_id, definition, 10)
        .await?;
    Ok(Json(json!(preview)))
}

/// The `customer_id` a per-person segment read names, and that person's internal number; a
/// missing segment is reported first, as it always was.
async fn customer_of(
    state: &AppState,
    workspace_id: WorkspaceId,
    segment_id: SegmentId,
    query: &CustomerQuery,
) -> Result<(String, PersonSeq), ApiError> {
    state.segments().get(workspace_id, segment_id).await?;
    let customer = query
        .customer_id
        .clone()
        .ok_or_else(|| ApiError::bad_request("customer_id is required"))?;
    let seq = person_seq(
        state,
        workspace_id,
        customer.clone(),
        query.id_type.as_deref(),
    )
    .await?;
    Ok((customer, seq))
}

/// Explains a person's membership
///
/// Whether the person is in the segment, which conditions hold, and when that changes next
/// by time alone (`next_change_at`).
#[utoipa::path(
    get,
    path = "/v1/segments/{id}/explain",
    tag = docs::APP_SEGMENTS,
    params(("id" = u64, Path, description = docs::SEGMENT_ID), CustomerQuery),
    responses(
        (status = 200, description = "The explanation.", body = Value,
         example = json!({"segment_id": 4, "customer_id": "42", "member": true, "now": 1700000000, "next_change_at": 1702592000, "condition": {}})),
        (status = 400, description = "`customer_id` is missing, or `id_type` is invalid.", body = docs::Error),
        (status = 404, description = "No such segment, or no such person.", body = docs::Error),
        (status = 503, description = docs::LOADING, body = docs::Error),
    ),
)]
pub async fn explain(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<SegmentId>,
    Query(query): Query<CustomerQuery>,
) -> Answer {
    let (customer, seq) = customer_of(&state, workspace_id, id, &query).await?;
    let explanation = state.segments().explain(workspace_id, id, seq).await?;
    let mut answer = if explanation.manual {
        json!({"member": explanation.member, "type": "manual", "next_change_at": Value::Null})
    } else {
        json!({"member": explanation.member, "now": explanation.now,
            "next_change_at": explanation.next_change_at, "condition": explanation.condition})
    };
    answer["segment_id"] = json!(id);
    answer["customer_id"] = json!(customer);
    Ok(Json(answer))
}

/// A person's membership history
///
/// The intervals the person was in the segment, with what moved them in and out.
#[utoipa::path(
    get,
    path = "/v1/segments/{id}/history",
    tag = docs::APP_SEGMENTS,
    params(("id" = u64, Path, description = docs::SEGMENT_ID), CustomerQuery),
    responses(
        (status = 200, description = "`intervals`: entry and exit times with their causes.", body = Value),
        (status = 400, description = "`customer_id` is missing, or `id_type` is invalid.", body = docs::Error),
        (status = 404, description = "No such segment, or no such person.", body = docs::Error),
        (status = 503, description = docs::LOADING, body = docs::Error),
    ),
)]
pub async fn history(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<SegmentId>,
    Query(query): Query<CustomerQuery>,
) -> Answer {
    let (customer, seq) = customer_of(&state, workspace_id, id, &query).await?;
    let intervals = state.segments().history(workspace_id, id, seq).await?;
    Ok(Json(
        json!({"segment_id": id, "customer_id": customer, "intervals": intervals}),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IdTypeQuery {
    /// How `ids` name the people: `id` (the default), `email` or `cio_id`.
    id_type: Option<String>,
}

/// `POST /api/v1/segments/{id}/add_customers` and `remove_customers` (Track API).
async fn manual(
    state: AppState,
    workspace_id: WorkspaceId,
    id: SegmentId,
    id_type: Option<String>,
    headers: &HeaderMap,
    body: &Bytes,
    add: bool,
) -> Result<Response, ApiError> {
    let id_type = parse_id_type(id_type.as_deref())?;
    let body = crate::body::decode(headers, body, limits::MAX_V1_BODY_BYTES, "the Track API v1")?;
    let ids = match body.get("ids") {
        Some(Value::Array(ids)) if (1..=1000).contains(&ids.len()) => ids.clone(),
        _ => {
            return Err(ApiError::bad_request(
                "ids must be an array of 1 to 1000 identifiers",
            ));
        }
    };
    let mut identifiers = Vec::with_capacity(ids.len());
    for value in &ids {
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            _ => return Err(ApiError::bad_request("each id must be a string")),
        };
        identifiers.push(Identifier::of_type(id_type, &text));
    }
    match state
        .segments()
        .set_manual_members(workspace_id, id, identifiers, add)
        .await
    {
        // Customer.io documents the plain string; sending it as a JSON string keeps it readable
        // by clients that parse every body as JSON (the Node client does).
        Err(SegmentsError::NotFound) => {
            return Ok((StatusCode::NOT_FOUND, Json(json!("Segment not found"))).into_response());
        }
        result => {
            result?;
        }
    }
    Ok(Json(json!({})).into_response())
}

/// Adds people to a manual segment
///
/// Identifiers that name nobody are skipped.
#[utoipa::path(
    post,
    path = "/api/v1/segments/{id}/add_customers",
    tag = docs::TRACK_V1,
    params(("id" = u64, Path, description = docs::SEGMENT_ID), IdTypeQuery),
    request_body(content = Value, description = "`ids`: 1 to 1000 identifiers, as JSON or a form.",
        example = json!({"ids": ["42", "43"]})),
    responses(
        (status = 200, description = docs::STORED, body = Value, example = json!({})),
        (status = 400, description = docs::INVALID, body = docs::Error),
        (status = 404, description = "No such segment: the JSON string `\"Segment not found\"`, as Customer.io answers.", body = String),
        (status = 503, description = docs::LOADING, body = docs::Error),
    ),
)]
pub async fn add_customers(
    State(state): State<AppState>,
    TrackWorkspace(workspace_id): TrackWorkspace,
    Path(id): Path<SegmentId>,
    Query(query): Query<IdTypeQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    manual(
        state,
        workspace_id,
        id,
        query.id_type,
        &headers,
        &body,
        true,
    )
    .await
}

/// Removes people from a manual segment
#[utoipa::path(
    post,
    path = "/api/v1/segments/{id}/remove_customers",
    tag = docs::TRACK_V1,
    params(("id" = u64, Path, description = docs::SEGMENT_ID), IdTypeQuery),
    request_body(content = Value, description = "`ids`: 1 to 1000 identifiers, as JSON or a form.",
        example = json!({"ids": ["42", "43"]})),
    responses(
        (status = 200, description = docs::STORED, body = Value, example = json!({})),
        (status = 400, description = docs::INVALID, body = docs::Error),
        (status = 404, description = "No such segment: the JSON string `\"Segment not found\"`, as Customer.io answers.", body = String),
        (status = 503, description = docs::LOADING, body = docs::Error),
    ),
)]
pub async fn remove_customers(
    State(state): State<AppState>,
    TrackWorkspace(workspace_id): TrackWorkspace,
    Path(id): Path<SegmentId>,
    Query(query): Query<IdTypeQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    manual(
        state,
        workspace_id,
        id,
        query.id_type,
        &headers,
        &body,
        false,
    )
    .await
}
