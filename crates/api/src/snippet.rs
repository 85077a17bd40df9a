//! `GET /v1/browser/snippet`: the snippet of the key's workspace (built by
//! `herald_ingest::snippet`, which the CLI and the web UI use too).

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use utoipa::IntoParams;

pub use herald_ingest::snippet::{Snippet, normalize_base_url, snippet};

use crate::auth::AppWorkspace;
use crate::openapi::docs;
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SnippetQuery {
    /// The base URL pages reach Herald at; the server's public URL by default.
    base_url: Option<String>,
}

/// The track.js snippet
///
/// The paste-in snippet of the key's workspace, which loads `/assets/track.js` from the base
/// URL with the workspace's site id.
#[utoipa::path(
    get,
    path = "/v1/browser/snippet",
    tag = docs::APP_WORKSPACE,
    params(SnippetQuery),
    responses(
        (status = 200, description = "The snippet.", body = Value),
        (status = 400, description = "`base_url` is not an http(s) URL.", body = docs::Error),
    ),
)]
pub async fn show(
    State(state): State<AppState>,
    AppWorkspace(workspace_id): AppWorkspace,
    Query(query): Query<SnippetQuery>,
) -> Result<Json<Snippet>, ApiError> {
    let requested = query
        .base_url
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| state.campaigns().public_url.clone());
    let base_url = normalize_base_url(&requested).map_err(ApiError::bad_request)?;
    let workspaces = state.store().read(|reader| reader.workspaces()).await?;
    let workspace = workspaces
        .into_iter()
        .find(|workspace| workspace.id == workspace_id)
        .ok_or_else(|| ApiError::not_found("the key's workspace no longer exists"))?;
    Ok(Json(snippet(&workspace.site_id, &base_url)))
}
