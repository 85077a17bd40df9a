//! Profiles over the App API (Bearer): one person's attributes and devices
//! (`GET /v1/customers/{id}/attributes`) and several people's at once
//! (`POST /v1/customers/attributes`), rendered the same way.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use herald_domain::{IdType, Identifier, PersonSeq};
use herald_store::{Device, Person};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use crate::app_api::{customer_not_found, find_person};
use crate::auth::AppWorkspace;
use crate::body::json_object;
use crate::error::parse_id_type;
use crate::openapi::docs;
use crate::{ApiError, AppState};

/// How many people one `POST /v1/customers/attributes` names at most, as at Customer.io.
const MAX_IDS: usize = 100;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IdTypeQuery {
    /// How the person is named: `id` (the default), `email` or `cio_id`.
    id_type: Option<String>,
}

/// A profile as both endpoints render it: `{"id", "identifiers", "attributes" (the identifiers
/// included), "created_at", "updated_at", "devices"}`.
fn customer_json(person: &Person, devices: &[Device]) -> Value {
    json!({
        "id": person.id,
        "identifiers": {"id": person.id, "email": person.email, "cio_id": person.cio_id},
        "attributes": person.attributes_with_identifiers(),
        "created_at": person.created_at,
        "updated_at": person.updated_at,
        "devices": devices,
    })
}

/// Reads a person's profile
///
/// The person's identifiers, attributes (the identifiers included) and devices.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/attributes",
    tag = docs::APP_PEOPLE,
    params(("id" = String, Path, description = docs::CUSTOMER_ID), IdTypeQuery),
    responses(
        (status = 200, description = "The profile.", body = Value, example = json!({"customer": {"id": "42", "identifiers": {"id": "42", "email": "ann@example.com", "cio_id": "a1b2c3"}, "attributes": {"id": "42", "email": "ann@example.com", "plan": "pro"}, "created_at": 1700000000, "updated_at": 1700000000, "devices": []}})),
        (status = 400, description = docs::BAD_QUERY, body = docs::Error),
        (status = 404, description = docs::NO_CUSTOMER, body = docs::Error),
    ),
)]
pub async fn customer_attributes(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Path(id): Path<String>,
    Query(query): Query<IdTypeQuery>,
) -> Result<Json<Value>, ApiError> {
    let id_type = parse_id_type(query.id_type.as_deref())?;
    let lookup = id.clone();
    let found = state
        .store()
        .read(move |reader| {
            let Some(person) = find_person(reader, workspace_id, id_type, &lookup)? else {
                return Ok(None);
            };
            let devices = reader.devices(workspace_id, person.seq)?;
            Ok(Some((person, devices)))
        })
        .await?;
    let (person, devices) = found.ok_or_else(|| customer_not_found(&id))?;
    Ok(Json(json!({"customer": customer_json(&person, &devices)})))
}

/// The identifiers of a `POST /v1/customers/attributes` body: `{"ids": [1 to 100 ids]}`.
fn ids_of(body: &Bytes, id_type: IdType) -> Result<Vec<Identifier>, ApiError> {
    let body = json_object(body)?;
    let usage = || {
        ApiError::bad_request(format!(
            "send {{\"ids\": [\"…\"]}} with 1 to {MAX_IDS} identifiers (of the id_type given, id by default)"
        ))
    };
    let ids = body
        .get("ids")
        .and_then(Value::as_array)
        .filter(|ids| (1..=MAX_IDS).contains(&ids.len()))
        .ok_or_else(usage)?;
    ids.iter()
        .enumerate()
        .map(|(index, value)| match value {
            Value::String(text) => Ok(Identifier::of_type(id_type, text)),
            // Ids are strings at Customer.io, but clients send numbers too.
            Value::Number(number) => Ok(Identifier::of_type(id_type, &number.to_string())),
            _ => Err(ApiError::bad_request(format!(
                "ids[{index}] must be a string (or a number)"
            ))),
        })
        .collect()
}

/// Reads several people's profiles
///
/// Up to 100 people at once, in the order asked, each person once, each shaped as the single
/// read; ids that name nobody are left out.
#[utoipa::path(
    post,
    path = "/v1/customers/attributes",
    tag = docs::APP_PEOPLE,
    params(IdTypeQuery),
    request_body(content = Value, description = "`ids`: 1 to 100 identifiers of the `id_type` given.",
        example = json!({"ids": ["42", "43"]})),
    responses(
        (status = 200, description = "`customers`: `[{\"customer\": …}]`.", body = Value),
        (status = 400, description = "The body or `id_type` is invalid.", body = docs::Error),
    ),
)]
pub async fn customers_attributes(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Query(query): Query<IdTypeQuery>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let id_type = parse_id_type(query.id_type.as_deref())?;
    let identifiers = ids_of(&body, id_type)?;
    let found = state
        .store()
        .read(move |reader| {
            let mut seen: Vec<PersonSeq> = Vec::new();
            let mut found = Vec::new();
            for identifier in &identifiers {
                let Some(person) = reader.person(workspace_id, identifier)? else {
                    continue;
                };
                if seen.contains(&person.seq) {
                    continue;
                }
                seen.push(person.seq);
                let devices = reader.devices(workspace_id, person.seq)?;
                found.push((person, devices));
            }
            Ok(found)
        })
        .await?;
    let customers: Vec<Value> = found
        .iter()
        .map(|(person, devices)| json!({"customer": customer_json(person, devices)}))
        .collect();
    Ok(Json(json!({"customers": customers})))
}
