//! Authentication extractors: Basic `site_id:api_key` for the Track API, Bearer App API key
//! for the App API, and Basic `write_key:` for the Data Pipelines API.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use base64::Engine;
use herald_domain::WorkspaceId;
use herald_ingest::workspaces::hash_key;
use herald_store::WorkspaceKey;

use crate::keys;
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
    keys::fresh(state).await?;
    let now = state.clock().now();
    let workspace_id = match state.keys().track.get(&decoded, now) {
        Some(workspace_id) => workspace_id,
        None => {
            let (site_id, api_key) = decoded.split_once(':').ok_or_else(missing)?;
            let (site_id, hash) = (site_id.to_owned(), hash_key(api_key));
            let generation = state.keys().generation();
            let found = state
                .store()
                .read(move |reader| {
                    let Some(credentials) = reader.workspace_by_site_id(&site_id)? else {
                        return Ok(None);
                    };
                    let retired = if credentials.api_key_hash == hash {
                        None
                    } else {
                        reader
                            .retired_key(WorkspaceKey::Track, &hash)?
                            .filter(|retired| retired.workspace_id == credentials.workspace.id)
                    };
                    Ok::<_, herald_store::StoreError>(Some((credentials, hash, retired)))
                })
                .await?;
            let unknown = || ApiError::unauthorized("unknown site id or wrong Track API key");
            let (credentials, hash, retired) = found.ok_or_else(unknown)?;
            let until = match retired {
                None if credentials.api_key_hash == hash => None,
                None => return Err(unknown()),
                Some(retired) if retired.accepted_at(now) => Some(retired.expires_at),
                Some(retired) => return Err(keys::rotated(&retired)),
            };
            let workspace_id = credentials.workspace.id;
            state.keys().insert(
                &state.keys().track,
                generation,
                decoded.clone(),
                workspace_id,
                until,
            );
            workspace_id
        }
    };
    state.intake().admit_track(workspace_id, now)?;
    Ok(workspace_id)
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
        keys::fresh(state).await?;
        let now = state.clock().now();
        let workspace_id = match state.keys().app.get(key, now) {
            Some(workspace_id) => workspace_id,
            None => Self::look_up(state, key, now).await?,
        };
        state.intake().admit_app(workspace_id, now)?;
        Ok(Self(workspace_id))
    }

    /// Finds the workspace of an App API key not cached yet, current or retired by a rotation
    /// and still in its grace, and caches it.
    async fn look_up(state: &AppState, key: &str, now: i64) -> Result<WorkspaceId, ApiError> {
        let hash = hash_key(key);
        let generation = state.keys().generation();
        let (current, retired) = state
            .store()
            .read(move |reader| {
                let current = reader.workspace_by_app_key_hash(&hash)?;
                let retired = match current {
                    Some(_) => None,
                    None => reader.retired_key(WorkspaceKey::App, &hash)?,
                };
                Ok::<_, herald_store::StoreError>((current, retired))
            })
            .await?;
        let (workspace_id, until) = match (current, retired) {
            (Some(workspace), _) => (workspace.id, None),
            (None, Some(retired)) if retired.accepted_at(now) => {
                (retired.workspace_id, Some(retired.expires_at))
            }
            (None, Some(retired)) => return Err(keys::rotated(&retired)),
            (None, None) => return Err(ApiError::unauthorized("unknown App API key")),
        };
        state.keys().insert(
            &state.keys().app,
            generation,
            key.to_owned(),
            workspace_id,
            until,
        );
        Ok(workspace_id)
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
        keys::fresh(state).await?;
        let now = state.clock().now();
        let workspace_id = match state.keys().write.get(write_key, now) {
            Some(workspace_id) => workspace_id,
            None => {
                let hash = hash_key(write_key);
                let generation = state.keys().generation();
                let (current, retired) = state
                    .store()
                    .read(move |reader| {
                        let current = reader.workspace_by_write_key_hash(&hash)?;
                        let retired = match current {
                            Some(_) => None,
                            None => reader.retired_key(WorkspaceKey::Write, &hash)?,
                        };
                        Ok::<_, herald_store::StoreError>((current, retired))
                    })
                    .await?;
                let (workspace_id, until) = match (current, retired) {
                    (Some(workspace), _) => (workspace.id, None),
                    (None, Some(retired)) if retired.accepted_at(now) => {
                        (retired.workspace_id, Some(retired.expires_at))
                    }
                    (None, Some(retired)) => return Err(keys::rotated(&retired)),
                    (None, None) => {
                        return Err(ApiError::unauthorized(
                            "unknown write key: use the workspace's Pipelines write key (shown by `herald workspace create` and in Settings) as the user name; the site id and Track API key are for /api/v1 and /api/v2",
                        ));
                    }
                };
                state.keys().insert(
                    &state.keys().write,
                    generation,
                    write_key.to_owned(),
                    workspace_id,
                    until,
                );
                workspace_id
            }
        };
        state.intake().admit_track(workspace_id, now)?;
        Ok(Self(workspace_id))
    }
}
