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

use crate::auth::{AppWorkspace, TrackWorkspace};
use crate::body::json_object;
use crate::error::parse_id_type;
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
    Ok(SegmentInput {
        name,
        description,
        definition,
    })
}

/// `POST /v1/segments`.
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

/// `PUT /v1/segments/{id}`.
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

/// `GET /v1/segments`.
pub async fn list(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
) -> Answer {
    let segments = state.segments().list(workspace_id).await?;
    Ok(Json(
        json!({"segments": segments.iter().map(segment_json).collect::<Vec<_>>()}),
    ))
}

/// `GET /v1/segments/{id}`.
pub async fn get_one(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<SegmentId>,
) -> Answer {
    let segment = state.segments().get(workspace_id, id).await?;
    Ok(Json(json!({"segment": segment_json(&segment)})))
}

/// `DELETE /v1/segments/{id}`: 204. A segment other segments refer to cannot be deleted.
pub async fn remove(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<SegmentId>,
) -> Result<Response, ApiError> {
    state.segments().delete(workspace_id, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v1/segments/{id}/customer_count`.
pub async fn customer_count(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<SegmentId>,
) -> Answer {
    let count = state.segments().count(workspace_id, id).await?;
    Ok(Json(json!({"segment_id": id, "count": count})))
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    start: Option<String>,
    limit: Option<String>,
}

/// `GET /v1/segments/{id}/membership?start=&limit=`.
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

/// `GET /v1/segments/{id}/used_by`: the campaigns whose trigger or filter refers to the
/// segment. Herald has no newsletters, so those lists are always empty.
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

#[derive(Debug, Deserialize)]
pub struct CustomerQuery {
    customer_id: Option<String>,
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

/// `GET /v1/customers/{id}/segments`.
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

/// `POST /v1/segments/preview` `{"definition"}`: count and sample without saving.
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

/// `GET /v1/segments/{id}/explain?customer_id=`.
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

/// `GET /v1/segments/{id}/history?customer_id=`: entry and exit intervals with their causes.
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

#[derive(Debug, Deserialize)]
pub struct IdTypeQuery {
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
