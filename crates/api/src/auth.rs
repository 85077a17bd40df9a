//! Authentication extractors: Basic `site_id:api_key` for the Track API and Bearer App API key
//! for the App API.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use base64::Engine;
use herald_domain::WorkspaceId;
use herald_ingest::workspaces::hash_key;

use crate::{ApiError, AppState};

/// The workspace a Track API request is authenticated for.
#[derive(Debug, Clone, Copy)]
pub struct TrackWorkspace(pub WorkspaceId);

/// The workspace an App API request is authenticated for.
#[derive(Debug, Clone, Copy)]
pub struct AppWorkspace(pub WorkspaceId);

pub(crate) fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
}

impl FromRequestParts<AppState> for TrackWorkspace {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        track_workspace(&parts.headers, state).await.map(Self)
    }
}

/// Authenticates Track API credentials (Basic `site_id:api_key`) and takes a token of the
/// workspace's rate limit; returns the workspace.
pub(crate) async fn track_workspace(
    headers: &HeaderMap,
    state: &AppState,
) -> Result<WorkspaceId, ApiError> {
    let missing = || {
        ApiError::unauthorized(
            "missing or malformed credentials: use HTTP Basic auth with your site id as the user name and your Track API key as the password",
        )
    };
    let header = authorization(headers).ok_or_else(missing)?;
    let encoded = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))
        .ok_or_else(missing)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(missing)?;
    if let Some(workspace_id) = state.cached_track_key(&decoded) {
        state
            .intake()
            .admit_track(workspace_id, state.clock().now())?;
        return Ok(workspace_id);
    }
    let (site_id, api_key) = decoded.split_once(':').ok_or_else(missing)?;
    let site_id_owned = site_id.to_owned();
    let found = state
        .store()
        .read(move |reader| reader.workspace_by_site_id(&site_id_owned))
        .await?;
    match found {
        Some(credentials) if credentials.api_key_hash == hash_key(api_key) => {
            state.cache_track_key(decoded.clone(), credentials.workspace.id);
            state
                .intake()
                .admit_track(credentials.workspace.id, state.clock().now())?;
            Ok(credentials.workspace.id)
        }
        _ => Err(ApiError::unauthorized(
            "unknown site id or wrong Track API key",
        )),
    }
}

impl FromRequestParts<AppState> for AppWorkspace {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = authorization(&parts.headers).ok_or_else(|| {
            ApiError::unauthorized("missing credentials: send Authorization: Bearer <App API key>")
        })?;
        let key = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthorized("the App API takes Authorization: Bearer <App API key>")
            })?;
        if let Some(workspace_id) = state.cached_app_key(key) {
            state
                .intake()
                .admit_app(workspace_id, state.clock().now())?;
            return Ok(Self(workspace_id));
        }
        let hash = hash_key(key);
        let found = state
            .store()
            .read(move |reader| reader.workspace_by_app_key_hash(&hash))
            .await?;
        match found {
            Some(workspace) => {
                state.cache_app_key(key.to_owned(), workspace.id);
                state
                    .intake()
                    .admit_app(workspace.id, state.clock().now())?;
                Ok(Self(workspace.id))
            }
            None => Err(ApiError::unauthorized("unknown App API key")),
        }
    }
}
