//! `POST /v1/customers?start=&limit=` `{"filter": …}`: Customer.io's customer search over the
//! App API (Bearer). The filter is parsed and evaluated by the segments service
//! (`herald_segments::PeopleFilter`, `Segments::search_people`); this handler decodes and
//! renders.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use herald_domain::{PersonSeq, WorkspaceId};
use herald_segments::PeopleFilter;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::AppWorkspace;
use crate::body::json_object;
use crate::{ApiError, AppState, paging};

/// Customer.io's default page size for a search.
const DEFAULT_LIMIT: usize = 50;
/// Customer.io's largest page of a search.
const MAX_LIMIT: usize = 1000;

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    start: Option<String>,
    limit: Option<String>,
}

/// `POST /v1/customers`: the people a filter matches, oldest profile first, as
/// `{"identifiers": [{"email","id","cio_id"}…], "ids": […], "next": "<cursor or empty>"}`.
pub async fn search(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Query(query): Query<SearchQuery>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let limit = paging::limit(query.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = paging::start(query.start.as_deref())?.map(PersonSeq::new);
    let filter = filter_of(&body)?;
    search_page(&state, workspace_id, &filter, after, limit).await
}

fn filter_of(body: &Bytes) -> Result<PeopleFilter, ApiError> {
    let body = json_object(body)?;
    let filter = body.get("filter").ok_or_else(|| {
        ApiError::bad_request(
            "filter is required: send {\"filter\": {\"segment\": {\"id\": …}}} or an and, or, \
             not or attribute filter",
        )
    })?;
    Ok(PeopleFilter::parse(filter)?)
}

async fn search_page(
    state: &AppState,
    workspace_id: WorkspaceId,
    filter: &PeopleFilter,
    after: Option<PersonSeq>,
    limit: usize,
) -> Result<Json<Value>, ApiError> {
    let page = state
        .segments()
        .search_people(workspace_id, filter, after, limit)
        .await?;
    let identifiers: Vec<Value> = page
        .people
        .iter()
        .map(|person| json!({"email": person.email, "id": person.id, "cio_id": person.cio_id}))
        .collect();
    // Customer.io documents an empty string for a person without an id in `ids`.
    let ids: Vec<Value> = page
        .people
        .iter()
        .map(|person| json!(person.id.clone().unwrap_or_default()))
        .collect();
    let next = page.next.map(|seq| seq.to_string()).unwrap_or_default();
    Ok(Json(
        json!({"identifiers": identifiers, "ids": ids, "next": next}),
    ))
}
