//! Authentication extractors: Basic `site_id:api_key` for the Track API, Bearer App API key
//! for the App API, and Basic `write_key:` for the Data Pipelines API.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use base64::Engine;
use herald_domain::WorkspaceId;
use herald_ingest::workspaces::hash_key;

use crate::request_log::note_workspace;
use crate::{ApiError, AppState};

/// The workspace a Track API request is authenticated for.
#[derive(Debug, Clone, Copy)]
pub struct TrackWorkspace(pub WorkspaceId);

/// The workspace an App API request is authenticated for.
#[derive(Debug, Clone, Copy)]
pub struct AppWorkspace(pub WorkspaceId);

/// The workspace a Data Pipelines API request is authenticated for.
#[derive(Debug, Clone, Copy)]
pub struct PipelinesWorkspace(pub WorkspaceId);

pub(crate) fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
}

/// The `user:password` of an HTTP Basic `Authorization` header, decoded.
fn basic_credentials(header: &str) -> Option<String> {
    let encoded = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
}

impl FromRequestParts<AppState> for TrackWorkspace {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let workspace_id = track_workspace(&parts.headers, state).await?;
        note_workspace(parts, workspace_id);
        Ok(Self(workspace_id))
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
    let decoded = authorization(headers)
        .and_then(basic_credentials)
        .ok_or_else(missing)?;
    if let Some(workspace_id) = state.track_keys().get(&decoded) {
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
            state
                .track_keys()
                .insert(decoded.clone(), credentials.workspace.id);
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
        let found = Self::authenticate(parts, state).await?;
        note_workspace(parts, found.0);
        Ok(found)
    }
}

impl AppWorkspace {
    /// Authenticates an App API key (Bearer) and takes a token of the workspace's rate limit.
    async fn authenticate(parts: &Parts, state: &AppState) -> Result<Self, ApiError> {
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
        if let Some(workspace_id) = state.app_keys().get(key) {
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
                state.app_keys().insert(key.to_owned(), workspace.id);
                state
                    .intake()
                    .admit_app(workspace.id, state.clock().now())?;
                Ok(Self(workspace.id))
            }
            None => Err(ApiError::unauthorized("unknown App API key")),
        }
    }
}

impl FromRequestParts<AppState> for PipelinesWorkspace {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let found = Self::authenticate(parts, state).await?;
        note_workspace(parts, found.0);
        Ok(found)
    }
}

impl PipelinesWorkspace {
    /// Basic auth with the write key as the user name and an empty password. The Data Pipelines
    /// paths (`/v1/track`, …) sit beside the App API's under `/v1`, so a Bearer key here is told
    /// where it belongs.
    async fn authenticate(parts: &Parts, state: &AppState) -> Result<Self, ApiError> {
        let missing = || {
            ApiError::unauthorized(
                "missing or malformed credentials: the Data Pipelines API takes HTTP Basic auth with your workspace's write key as the user name and an empty password",
            )
        };
        let header = authorization(&parts.headers).ok_or_else(missing)?;
        if header.starts_with("Bearer ") || header.starts_with("bearer ") {
            return Err(ApiError::unauthorized(
                "this is a Data Pipelines API path: it takes HTTP Basic auth with your workspace's write key as the user name; Bearer App API keys are for the App API (/v1/customers, /v1/segments, …)",
            ));
        }
        let decoded = basic_credentials(header).ok_or_else(missing)?;
        let write_key = decoded
            .split_once(':')
            .map_or(decoded.as_str(), |(user, _)| user);
        let workspace_id = match state.write_keys().get(write_key) {
            Some(workspace_id) => workspace_id,
            None => {
                let hash = hash_key(write_key);
                let found = state
                    .store()
                    .read(move |reader| reader.workspace_by_write_key_hash(&hash))
                    .await?
                    .ok_or_else(|| {
                        ApiError::unauthorized(
                            "unknown write key: use the workspace's Pipelines write key (shown by `herald workspace create` and in Settings) as the user name; the site id and Track API key are for /api/v1 and /api/v2",
                        )
                    })?;
                state.write_keys().insert(write_key.to_owned(), found.id);
                found.id
            }
        };
        state
            .intake()
            .admit_track(workspace_id, state.clock().now())?;
        Ok(Self(workspace_id))
    }
}
