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

use crate::app_api::{customer_not_found, find_person};
use crate::auth::AppWorkspace;
use crate::body::json_object;
use crate::error::parse_id_type;
use crate::{ApiError, AppState};

/// How many people one `POST /v1/customers/attributes` names at most, as at Customer.io.
const MAX_IDS: usize = 100;

#[derive(Debug, Deserialize)]
pub struct IdTypeQuery {
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

/// `GET /v1/customers/{id}/attributes?id_type=`: `{"customer": …}`.
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

/// `POST /v1/customers/attributes?id_type=` `{"ids": […]}`: `{"customers": [{"customer": …}]}`
/// in the order asked, each person once; ids that name nobody are left out.
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
