//! Segments over the App API (Bearer) and manual membership over the Track API.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_domain::{Identifier, limits};
use herald_segment_engine::engine::would_cycle;
use herald_segment_engine::{Definition, DefinitionError};
use herald_store::{NewSegment, SegmentRow};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::auth::{AppWorkspace, TrackWorkspace};
use crate::error::parse_id_type;
use crate::{ApiError, AppState};

type Answer = Result<Json<Value>, ApiError>;

fn segment_not_found() -> ApiError {
    ApiError::not_found("Segment not found")
}

fn invalid_definition(error: &DefinitionError) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_definition",
        format!("invalid definition at {}: {}", error.path, error.message),
    )
}

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

fn body_object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    let value = herald_ingest::decode::decode_json(body)?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::bad_request("the body must be a JSON object")),
    }
}

/// The fields of `{"segment": {...}}`.
struct SegmentInput {
    name: Option<String>,
    description: Option<String>,
    /// `Some(None)` when `definition` is present but null.
    definition: Option<Option<Value>>,
}

fn segment_input(body: &Bytes) -> Result<SegmentInput, ApiError> {
    let mut body = body_object(body)?;
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

/// Parses a definition and checks its references: they must exist and close no cycle.
fn check_definition(
    value: &Value,
    own_id: Option<i64>,
    segments: &[SegmentRow],
) -> Result<Definition, ApiError> {
    let definition = Definition::parse(value).map_err(|error| invalid_definition(&error))?;
    let existing: BTreeSet<i64> = segments.iter().map(|s| s.id).collect();
    for reference in definition.references() {
        if !existing.contains(&reference) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_definition",
                format!(
                    "invalid definition: it refers to segment {reference}, which does not exist"
                ),
            ));
        }
    }
    if let Some(id) = own_id {
        let mut others: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
        for segment in segments {
            if segment.id == id {
                continue;
            }
            let references = segment
                .definition
                .as_ref()
                .and_then(|v| Definition::parse(v).ok())
                .map(|d| d.references())
                .unwrap_or_default();
            others.insert(segment.id, references);
        }
        if would_cycle(id, &definition.references(), &others) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_definition",
                format!(
                    "invalid definition: segment {id} would refer to itself through its segment conditions"
                ),
            ));
        }
    }
    Ok(definition)
}

async fn segments_of(state: &AppState, workspace_id: i64) -> Result<Vec<SegmentRow>, ApiError> {
    Ok(state
        .store()
        .read(move |r| r.segments(workspace_id))
        .await?)
}

async fn find_segment(
    state: &AppState,
    workspace_id: i64,
    id: i64,
) -> Result<SegmentRow, ApiError> {
    state
        .store()
        .read(move |r| r.segment(workspace_id, id))
        .await?
        .ok_or_else(segment_not_found)
}

/// `POST /v1/segments`.
pub async fn create(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    body: Bytes,
) -> Answer {
    let input = segment_input(&body)?;
    let name = input
        .name
        .ok_or_else(|| ApiError::bad_request("segment.name is required"))?;
    let existing = segments_of(&state, workspace_id).await?;
    let (definition, value) = match input.definition.flatten() {
        Some(value) => (
            Some(check_definition(&value, None, &existing)?),
            Some(value),
        ),
        None => (None, None),
    };
    let new = NewSegment {
        workspace_id,
        name,
        description: input.description.unwrap_or_default(),
        state: if definition.is_some() {
            "build"
        } else {
            "finished"
        }
        .into(),
        definition: value,
        now: state.clock().now(),
    };
    let row = state
        .store()
        .write(move |tx| tx.insert_segment(&new))
        .await??;
    state.segments().build(row.clone(), definition);
    Ok(Json(json!({"segment": segment_json(&row)})))
}

/// `PUT /v1/segments/{id}`.
pub async fn update(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<i64>,
    body: Bytes,
) -> Answer {
    let input = segment_input(&body)?;
    let mut row = find_segment(&state, workspace_id, id).await?;
    let existing = segments_of(&state, workspace_id).await?;
    if let Some(name) = input.name {
        row.name = name;
    }
    if let Some(description) = input.description {
        row.description = description;
    }
    let mut rebuild = None;
    if let Some(definition) = input.definition {
        let parsed = match &definition {
            Some(value) => Some(check_definition(value, Some(id), &existing)?),
            None => None,
        };
        if definition != row.definition {
            row.state = if parsed.is_some() {
                "build"
            } else {
                "finished"
            }
            .into();
            row.progress = None;
            row.definition = definition;
            rebuild = Some(parsed);
        }
    }
    row.updated_at = state.clock().now().max(row.updated_at + 1);
    let saved = row.clone();
    state
        .store()
        .write(move |tx| tx.update_segment(&saved))
        .await??;
    if let Some(parsed) = rebuild {
        state.segments().build(row.clone(), parsed);
    }
    Ok(Json(json!({"segment": segment_json(&row)})))
}

/// `GET /v1/segments`.
pub async fn list(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
) -> Answer {
    let segments = segments_of(&state, workspace_id).await?;
    Ok(Json(
        json!({"segments": segments.iter().map(segment_json).collect::<Vec<_>>()}),
    ))
}

/// `GET /v1/segments/{id}`.
pub async fn get_one(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<i64>,
) -> Answer {
    let segment = find_segment(&state, workspace_id, id).await?;
    Ok(Json(json!({"segment": segment_json(&segment)})))
}

/// `DELETE /v1/segments/{id}`: 204. A segment other segments refer to cannot be deleted.
pub async fn remove(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    find_segment(&state, workspace_id, id).await?;
    let users: Vec<i64> = segments_of(&state, workspace_id)
        .await?
        .iter()
        .filter(|s| {
            s.definition
                .as_ref()
                .and_then(|v| Definition::parse(v).ok())
                .is_some_and(|d| d.references().contains(&id))
        })
        .map(|s| s.id)
        .collect();
    if !users.is_empty() {
        return Err(ApiError::bad_request(format!(
            "segment {id} is used by segments {users:?}; change or delete them first"
        )));
    }
    state
        .store()
        .write(move |tx| tx.delete_segment(workspace_id, id))
        .await??;
    state.segments().remove(workspace_id, id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v1/segments/{id}/customer_count`.
pub async fn customer_count(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<i64>,
) -> Answer {
    find_segment(&state, workspace_id, id).await?;
    let count = state
        .segments()
        .query(move |view| view.engines.get(&workspace_id).map_or(0, |e| e.count(id)))
        .await?;
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
    Path(id): Path<i64>,
    Query(query): Query<PageQuery>,
) -> Answer {
    find_segment(&state, workspace_id, id).await?;
    let limit = match query.limit.as_deref() {
        None | Some("") => 1000,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=30_000).contains(l))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "limit {text:?} must be a whole number from 1 to 30000"
                ))
            })?,
    };
    let after = match query.start.as_deref() {
        None | Some("") => i64::MIN,
        Some(text) => text.parse::<i64>().map_err(|_| {
            ApiError::bad_request(format!("start {text:?} is not a cursor returned as next"))
        })?,
    };
    let page: Vec<i64> = state
        .segments()
        .query(move |view| {
            view.engines
                .get(&workspace_id)
                .map_or_else(Vec::new, |engine| {
                    engine
                        .members(id)
                        .filter(|p| *p > after)
                        .take(limit + 1)
                        .collect()
                })
        })
        .await?;
    let more = page.len() > limit;
    let page: Vec<i64> = page.into_iter().take(limit).collect();
    let next = if more {
        page.last().map(i64::to_string).unwrap_or_default()
    } else {
        String::new()
    };
    let seqs = page.clone();
    let people = state
        .store()
        .read(move |reader| {
            let mut people = Vec::with_capacity(seqs.len());
            for seq in seqs {
                people.push(reader.person_by_seq(workspace_id, seq)?);
            }
            Ok(people)
        })
        .await?;
    let mut ids = Vec::new();
    let mut identifiers = Vec::new();
    for person in people.into_iter().flatten() {
        ids.push(json!(
            person
                .id
                .clone()
                .unwrap_or_else(|| format!("cio_{}", person.cio_id))
        ));
        identifiers.push(json!({"id": person.id, "email": person.email, "cio_id": person.cio_id}));
    }
    Ok(Json(
        json!({"segment_id": id, "ids": ids, "identifiers": identifiers, "next": next}),
    ))
}

#[derive(Debug, Deserialize)]
pub struct CustomerQuery {
    customer_id: Option<String>,
    id_type: Option<String>,
}

async fn person_seq(
    state: &AppState,
    workspace_id: i64,
    id: String,
    id_type: Option<&str>,
) -> Result<i64, ApiError> {
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
    let ids: Vec<i64> = state
        .segments()
        .query(move |view| {
            view.engines
                .get(&workspace_id)
                .map_or_else(Vec::new, |e| e.segments_of(seq))
        })
        .await?;
    let all = segments_of(&state, workspace_id).await?;
    let segments: Vec<Value> = all
        .iter()
        .filter(|s| ids.contains(&s.id))
        .map(segment_json)
        .collect();
    Ok(Json(json!({"segments": segments})))
}

/// `POST /v1/segments/preview` `{"definition"}`: count and sample without saving.
pub async fn preview(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    body: Bytes,
) -> Answer {
    let body = body_object(&body)?;
    let value = body
        .get("definition")
        .ok_or_else(|| ApiError::bad_request("definition is required"))?;
    // Only a definition that refers to other segments needs the workspace's segments to be
    // checked against; most previews skip that read.
    let parsed = Definition::parse(value).map_err(|error| invalid_definition(&error))?;
    let definition = if parsed.references().is_empty() {
        parsed
    } else {
        check_definition(value, None, &segments_of(&state, workspace_id).await?)?
    };
    // The engine holds every stored event of every person: its index answers at once, or it
    // evaluates each person from their own rows (filters that depend on the time, the profile
    // age). The sample's ids are read afterwards, off the engine's thread.
    let preview = state
        .segments()
        .query(move |view| {
            let now = view.now;
            view.engines
                .get_mut(&workspace_id)
                .map(|engine| engine.preview_each(&definition, now, 10))
        })
        .await?;
    let preview = match preview {
        // A workspace the engine has not met has nobody.
        None => herald_segment_engine::engine::Preview {
            count: 0,
            sample: Vec::new(),
        },
        Some(Some(preview)) => preview,
        Some(None) => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "segments_loading",
                "the segment engine does not hold every event yet; retry shortly",
            ));
        }
    };
    let seqs = preview.sample;
    let sample = state
        .store()
        .read(move |r| {
            seqs.iter()
                .map(|seq| {
                    r.person_by_seq(workspace_id, *seq)
                        .map(|person| person.and_then(|p| p.id).map_or(Value::Null, Value::String))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    let count = preview.count;
    Ok(Json(json!({"count": count, "sample": sample})))
}

/// `GET /v1/segments/{id}/explain?customer_id=`.
pub async fn explain(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<i64>,
    Query(query): Query<CustomerQuery>,
) -> Answer {
    let segment = find_segment(&state, workspace_id, id).await?;
    let customer = query
        .customer_id
        .clone()
        .ok_or_else(|| ApiError::bad_request("customer_id is required"))?;
    let seq = person_seq(
        &state,
        workspace_id,
        customer.clone(),
        query.id_type.as_deref(),
    )
    .await?;
    let definition = segment
        .definition
        .as_ref()
        .and_then(|v| Definition::parse(v).ok());
    let answer = state
        .segments()
        .query(move |view| {
            let now = view.now;
            let engine = view.engines.get(&workspace_id);
            let member = engine.is_some_and(|e| e.is_member(id, seq));
            let next_change = engine.and_then(|e| e.next_due(seq));
            let Some(definition) = definition else {
                return json!({"member": member, "type": "manual", "next_change_at": Value::Null});
            };
            let history = view
                .store
                .read_blocking(move |r| herald_segments::history_of(r, workspace_id, seq));
            let Ok(Some(history)) = history else {
                return json!({"member": member});
            };
            let in_segment = |other: i64| engine.is_some_and(|e| e.is_member(other, seq));
            let (_, tree) = herald_segment_engine::explain::explain(
                &definition.root,
                &history,
                &in_segment,
                now,
            );
            json!({"member": member, "now": now, "next_change_at": next_change, "condition": tree})
        })
        .await?;
    let mut answer = answer;
    answer["segment_id"] = json!(id);
    answer["customer_id"] = json!(customer);
    Ok(Json(answer))
}

/// `GET /v1/segments/{id}/history?customer_id=`: entry and exit intervals with their causes.
pub async fn history(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<i64>,
    Query(query): Query<CustomerQuery>,
) -> Answer {
    find_segment(&state, workspace_id, id).await?;
    let customer = query
        .customer_id
        .clone()
        .ok_or_else(|| ApiError::bad_request("customer_id is required"))?;
    let seq = person_seq(
        &state,
        workspace_id,
        customer.clone(),
        query.id_type.as_deref(),
    )
    .await?;
    state.segments().flush(state.store()).await?;
    let changes = state
        .store()
        .read(move |r| r.segment_history(id, seq))
        .await?;
    let mut intervals: Vec<Value> = Vec::new();
    for change in &changes {
        if change.entered {
            intervals.push(
                json!({"entered_at": change.at, "entered_because": change.cause,
                "origin": change.origin, "exited_at": Value::Null, "exited_because": Value::Null}),
            );
        } else if let Some(open) = intervals.last_mut().filter(|i| i["exited_at"].is_null()) {
            open["exited_at"] = json!(change.at);
            open["exited_because"] = json!(change.cause);
        }
    }
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
    workspace_id: i64,
    id: i64,
    id_type: Option<String>,
    headers: &HeaderMap,
    body: &Bytes,
    add: bool,
) -> Result<Response, ApiError> {
    let Some(segment) = state
        .store()
        .read(move |r| r.segment(workspace_id, id))
        .await?
    else {
        // Customer.io documents the plain string; sending it as a JSON string keeps it readable
        // by clients that parse every body as JSON (the Node client does).
        return Ok((StatusCode::NOT_FOUND, Json(json!("Segment not found"))).into_response());
    };
    if segment.definition.is_some() {
        return Err(ApiError::bad_request(format!(
            "segment {id} is a data-driven segment; only manual segments take add_customers and remove_customers"
        )));
    }
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
    let people = state
        .store()
        .read(move |reader| {
            let mut found = Vec::new();
            for identifier in &identifiers {
                if let Some(person) = reader.person(workspace_id, identifier)? {
                    found.push(person.seq);
                }
            }
            Ok(found)
        })
        .await?;
    state
        .segments()
        .set_manual(workspace_id, id, people, add)
        .await?;
    Ok(Json(json!({})).into_response())
}

pub async fn add_customers(
    State(state): State<AppState>,
    TrackWorkspace(workspace_id): TrackWorkspace,
    Path(id): Path<i64>,
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
    Path(id): Path<i64>,
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
