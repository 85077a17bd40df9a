//! App API reads of objects and relationships (Bearer): `GET /v1/object_types`,
//! `POST /v1/objects` (search), `GET /v1/objects/{type}/{id}` (and `/attributes`),
//! `GET /v1/objects/{type}/{id}/relationships` and `GET /v1/customers/{id}/relationships`, in
//! Customer.io's shapes.

use axum::Json;
use axum::extract::{Path, Query, State};
use herald_domain::{ObjectSeq, PersonSeq, WorkspaceId};
use herald_store::{ObjectRow, StoreError, StoreRead};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::IntoParams;

use crate::app_api::{customer_not_found, find_person};
use crate::auth::AppWorkspace;
use crate::error::parse_id_type;
use crate::openapi::docs;
use crate::{ApiError, AppState, paging};

type Answer = Result<Json<Value>, ApiError>;

/// Relationships a page holds unless `limit` says otherwise, and at most.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// How the path names the person or the object: for a person `id` (the default), `email`
    /// or `cio_id`; for an object `object_id` (the default) or `cio_object_id`.
    id_type: Option<String>,
    /// The cursor of the page to read: the `next` of the previous page.
    start: Option<String>,
    /// How many relationships a page holds: 100 by default, at most 1000.
    limit: Option<String>,
}

/// Every attribute dated with the time the row last changed: Herald keeps no time per
/// attribute.
fn timestamps(attributes: &Map<String, Value>, updated_at: i64) -> Value {
    Value::Object(
        attributes
            .keys()
            .map(|name| (name.clone(), json!(updated_at)))
            .collect(),
    )
}

fn object_identifiers(object: &ObjectRow) -> Value {
    json!({"object_id": object.object_id, "cio_object_id": object.cio_object_id})
}

/// Finds the object a path names, by `object_id` or, with `id_type=cio_object_id`, by its
/// `cio_object_id`.
fn find_object(
    reader: &mut dyn StoreRead,
    workspace_id: WorkspaceId,
    object_type_id: &str,
    object_id: &str,
    by_cio_id: bool,
) -> Result<Option<ObjectRow>, StoreError> {
    if by_cio_id {
        Ok(reader
            .object_by_cio_id(workspace_id, object_id)?
            .filter(|object| object.object_type_id == object_type_id))
    } else {
        reader.object(workspace_id, object_type_id, object_id)
    }
}

fn object_id_type(id_type: Option<&str>) -> Result<bool, ApiError> {
    match id_type {
        None | Some("" | "object_id") => Ok(false),
        Some("cio_object_id") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "id_type {other:?} is not one of object_id, cio_object_id"
        ))),
    }
}

fn object_not_found(object_type_id: &str, object_id: &str) -> ApiError {
    ApiError::not_found(format!(
        "no object of type {object_type_id} has the identifier {object_id:?}"
    ))
}

/// Lists the object types
///
/// The types the workspace has objects of. Herald keeps no names for types, so each is named
/// by its number.
#[utoipa::path(
    get,
    path = "/v1/object_types",
    tag = docs::APP_OBJECTS,
    responses(
        (status = 200, description = "`types`.", body = Value,
         example = json!({"types": [{"id": "1", "name": "Type 1", "singular_name": "Type 1", "slug": "type-1", "singular_slug": "type-1", "enabled": true, "icon": null, "objects": 3}]})),
    ),
)]
pub async fn object_types(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
) -> Answer {
    let types = state
        .store()
        .read(move |reader| reader.object_types(workspace_id))
        .await?;
    let types: Vec<Value> = types
        .iter()
        .map(|kind| {
            let id = &kind.object_type_id;
            json!({"id": id, "name": format!("Type {id}"), "singular_name": format!("Type {id}"),
                   "slug": format!("type-{id}"), "singular_slug": format!("type-{id}"),
                   "enabled": true, "icon": null, "objects": kind.objects})
        })
        .collect();
    Ok(Json(json!({"types": types})))
}

/// Reads an object
///
/// The object's identifiers and attributes; the same answer as without `/attributes`.
#[utoipa::path(
    get,
    path = "/v1/objects/{object_type_id}/{object_id}/attributes",
    tag = docs::APP_OBJECTS,
    params(
        ("object_type_id" = String, Path, description = docs::OBJECT_TYPE_ID),
        ("object_id" = String, Path, description = docs::OBJECT_ID),
        ("id_type" = Option<String>, Query, description = "How `object_id` names the object: `object_id` (the default) or `cio_object_id`."),
    ),
    responses(
        (status = 200, description = "The object.", body = Value, example = json!({"object": {"identifiers": {"object_id": "acme", "cio_object_id": "o1b2c3"}, "object_type_id": "1", "attributes": {"name": "Acme"}, "timestamps": {"name": 1700000000}, "created_at": 1700000000, "updated_at": 1700000000}})),
        (status = 400, description = docs::BAD_QUERY, body = docs::Error),
        (status = 404, description = "No object of this type has this identifier.", body = docs::Error),
    ),
)]
pub async fn object_attributes(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path((object_type_id, object_id)): Path<(String, String)>,
    Query(query): Query<PageQuery>,
) -> Answer {
    let by_cio_id = object_id_type(query.id_type.as_deref())?;
    let (type_id, id) = (object_type_id.clone(), object_id.clone());
    let object = state
        .store()
        .read(move |reader| find_object(reader, workspace_id, &type_id, &id, by_cio_id))
        .await?
        .ok_or_else(|| object_not_found(&object_type_id, &object_id))?;
    Ok(Json(json!({"object": {
        "identifiers": object_identifiers(&object),
        "object_type_id": object.object_type_id,
        "attributes": object.attributes,
        "timestamps": timestamps(&object.attributes, object.updated_at),
        "created_at": object.created_at,
        "updated_at": object.updated_at,
    }})))
}

/// Reads an object
///
/// The same answer as `/v1/objects/{object_type_id}/{object_id}/attributes`, at the path
/// Customer.io's clients also use.
#[utoipa::path(
    get,
    path = "/v1/objects/{object_type_id}/{object_id}",
    tag = docs::APP_OBJECTS,
    params(
        ("object_type_id" = String, Path, description = docs::OBJECT_TYPE_ID),
        ("object_id" = String, Path, description = docs::OBJECT_ID),
        ("id_type" = Option<String>, Query, description = "How `object_id` names the object: `object_id` (the default) or `cio_object_id`."),
    ),
    responses(
        (status = 200, description = "The object.", body = Value, example = json!({"object": {"identifiers": {"object_id": "acme", "cio_object_id": "o1b2c3"}, "object_type_id": "1", "attributes": {"name": "Acme"}, "timestamps": {"name": 1700000000}, "created_at": 1700000000, "updated_at": 1700000000}})),
        (status = 400, description = docs::BAD_QUERY, body = docs::Error),
        (status = 404, description = "No object of this type has this identifier.", body = docs::Error),
    ),
)]
pub async fn object(
    state: State<AppState>,
    workspace: AppWorkspace,
    path: Path<(String, String)>,
    query: Query<PageQuery>,
) -> Answer {
    object_attributes(state, workspace, path, query).await
}

/// Lists an object's people
///
/// The people related to the object, with the relationships' attributes, in the order they
/// were created.
#[utoipa::path(
    get,
    path = "/v1/objects/{object_type_id}/{object_id}/relationships",
    tag = docs::APP_OBJECTS,
    params(
        ("object_type_id" = String, Path, description = docs::OBJECT_TYPE_ID),
        ("object_id" = String, Path, description = docs::OBJECT_ID),
        PageQuery,
    ),
    responses(
        (status = 200, description = "`cio_relationships` and the `next` cursor (empty on the last page).", body = Value),
        (status = 400, description = docs::BAD_QUERY, body = docs::Error),
        (status = 404, description = "No object of this type has this identifier.", body = docs::Error),
    ),
)]
pub async fn object_relationships(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path((object_type_id, object_id)): Path<(String, String)>,
    Query(query): Query<PageQuery>,
) -> Answer {
    let by_cio_id = object_id_type(query.id_type.as_deref())?;
    let limit = paging::limit(query.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = paging::start(query.start.as_deref())?.map(PersonSeq::new);
    let (type_id, id) = (object_type_id.clone(), object_id.clone());
    let found = state
        .store()
        .read(move |reader| {
            let Some(object) = find_object(reader, workspace_id, &type_id, &id, by_cio_id)? else {
                return Ok(None);
            };
            reader
                .object_relationships(workspace_id, object.seq, after, limit)
                .map(|page| Some((object, page)))
        })
        .await?;
    let (object, page) = found.ok_or_else(|| object_not_found(&object_type_id, &object_id))?;
    let items: Vec<Value> = page
        .iter()
        .map(|relationship| {
            let person = &relationship.person;
            json!({
                "identifiers": {"cio_id": person.cio_id, "id": person.id, "email": person.email},
                "object_type_id": object.object_type_id,
                "object_type_disabled": false,
                "attributes": relationship.attributes,
            })
        })
        .collect();
    let last = page
        .last()
        .map(|relationship| relationship.person.seq.get());
    Ok(Json(json!({
        "cio_relationships": items,
        "next": paging::next(last, page.len(), limit),
    })))
}

/// Lists a person's objects
///
/// The objects a person is related to, with the relationships' attributes.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/relationships",
    tag = docs::APP_PEOPLE,
    params(("id" = String, Path, description = docs::CUSTOMER_ID), PageQuery),
    responses(
        (status = 200, description = "`cio_relationships` and the `next` cursor (empty on the last page).", body = Value),
        (status = 400, description = docs::BAD_QUERY, body = docs::Error),
        (status = 404, description = docs::NO_CUSTOMER, body = docs::Error),
    ),
)]
pub async fn customer_relationships(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Answer {
    let id_type = parse_id_type(query.id_type.as_deref())?;
    let limit = paging::limit(query.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = paging::start(query.start.as_deref())?.map(ObjectSeq::new);
    let lookup = id.clone();
    let page = state
        .store()
        .read(move |reader| {
            let Some(person) = find_person(reader, workspace_id, id_type, &lookup)? else {
                return Ok(None);
            };
            reader
                .person_relationships(workspace_id, person.seq, after, limit)
                .map(Some)
        })
        .await?
        .ok_or_else(|| customer_not_found(&id))?;
    let items: Vec<Value> = page
        .iter()
        .map(|relationship| {
            let object = &relationship.object;
            // Customer.io types this one `object_type_id` as a number.
            let type_number = object
                .object_type_id
                .parse::<u64>()
                .map_or_else(|_| json!(object.object_type_id), |number| json!(number));
            json!({
                "object_type_id": type_number,
                "identifiers": object_identifiers(object),
                "attributes": relationship.attributes,
                "timestamps": timestamps(&relationship.attributes, relationship.updated_at),
                "object_attributes": object.attributes,
            })
        })
        .collect();
    let last = page
        .last()
        .map(|relationship| relationship.object.seq.get());
    Ok(Json(json!({
        "cio_relationships": items,
        "next": paging::next(last, page.len(), limit),
    })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// The cursor of the page to read: the `next` of the previous page.
    start: Option<String>,
    /// How many objects a page holds: 100 by default, at most 1000.
    limit: Option<String>,
}

/// Searches objects
///
/// The objects of a type that a filter (`and`, `or`, `not`, `object_attribute`) matches, in
/// the order they were created.
#[utoipa::path(
    post,
    path = "/v1/objects",
    tag = docs::APP_OBJECTS,
    params(SearchQuery),
    request_body(content = Value, description = "`object_type_id` and `filter`.",
        example = json!({"object_type_id": "1", "filter": {"object_attribute": {"field": "plan", "operator": "eq", "value": "pro"}}})),
    responses(
        (status = 200, description = "A page of objects.", body = Value,
         example = json!({"identifiers": [{"object_id": "acme", "cio_object_id": "o1b2c3"}], "ids": ["acme"], "next": ""})),
        (status = 400, description = "The body or the filter is invalid; the message names the place.", body = docs::Error),
        (status = 503, description = docs::LOADING, body = docs::Error),
    ),
)]
pub async fn search(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Query(query): Query<SearchQuery>,
    body: axum::body::Bytes,
) -> Answer {
    let body = crate::body::json_object(&body)?;
    let object_type_id = match body.get("object_type_id") {
        Some(Value::String(text)) if !text.trim().is_empty() => text.trim().to_owned(),
        Some(Value::Number(number)) => number.to_string(),
        _ => {
            return Err(ApiError::bad_request(
                "object_type_id is required: the type of the objects to search, e.g. \"1\"",
            ));
        }
    };
    let filter = body
        .get("filter")
        .ok_or_else(|| ApiError::bad_request("filter is required"))?;
    let filter = herald_segments::PeopleFilter::parse_for_objects(filter, &object_type_id)?;
    let limit = paging::limit(query.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = paging::start(query.start.as_deref())?.map(ObjectSeq::new);
    let page = state
        .segments()
        .search_objects(workspace_id, &object_type_id, &filter, after, limit)
        .await?;
    let identifiers: Vec<Value> = page.objects.iter().map(object_identifiers).collect();
    let ids: Vec<&str> = page
        .objects
        .iter()
        .map(|object| object.object_id.as_str())
        .collect();
    Ok(Json(json!({
        "identifiers": identifiers,
        "ids": ids,
        "next": page.next.map(|seq| seq.get().to_string()).unwrap_or_default(),
    })))
}
