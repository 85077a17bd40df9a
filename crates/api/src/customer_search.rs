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
use utoipa::IntoParams;

use crate::auth::AppWorkspace;
use crate::body::json_object;
use crate::openapi::docs;
use crate::{ApiError, AppState, paging};

/// Customer.io's default page size for a search.
const DEFAULT_LIMIT: usize = 50;
/// Customer.io's largest page of a search.
const MAX_LIMIT: usize = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// The cursor of the page to read: the `next` of the previous page.
    start: Option<String>,
    /// How many people a page holds: 50 by default, at most 1000.
    limit: Option<String>,
}

/// Searches people
///
/// The people a filter matches, oldest profile first: `{"and": […]}`, `{"or": […]}`,
/// `{"not": {…}}`, `{"segment": {"id": 4}}` and `{"attribute": {"field", "operator": "eq" |
/// "exists", "value"}}` (`"inverse": true` negates it); attributes are compared as text. Pass
/// `next` as `start` until it is empty.
#[utoipa::path(
    post,
    path = "/v1/customers",
    tag = docs::APP_PEOPLE,
    params(SearchQuery),
    request_body(content = Value, description = "`filter`: what the people must match.",
        example = json!({"filter": {"and": [{"segment": {"id": 4}}, {"attribute": {"field": "plan", "operator": "eq", "value": "pro"}}]}})),
    responses(
        (status = 200, description = "A page of people.", body = Value,
         example = json!({"identifiers": [{"email": "ann@example.com", "id": "42", "cio_id": "a1b2c3"}], "ids": ["42"], "next": ""})),
        (status = 400, description = "The filter cannot be read, or names a segment that does not exist; the message names the place.", body = docs::Error),
        (status = 503, description = docs::LOADING, body = docs::Error),
    ),
)]
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
