//! Settings: the workspace's site id, its Track API and App API keys and its Data Pipelines
//! write key (masked; Reveal shows one, with Copy) and the JavaScript snippet with Copy. Keys come from what the store keeps sealed
//! (`herald_ingest::sealed_keys`): a workspace created before Herald sealed keys has only their
//! hashes, and the page says so instead of showing a key.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use herald_domain::WorkspaceId;
use herald_ingest::sealed_keys::WorkspaceKeys;
use herald_ingest::snippet::{Snippet, snippet};
use serde::Deserialize;

use super::render;
use crate::auth::session::SignedIn;
use crate::error::UiError;
use crate::layout::Layout;
use crate::state::UiState;
use crate::view::WorkspaceView;

/// One secret key as its row shows it.
pub struct KeyView {
    /// `track` or `app`: the form's value and the row's id.
    pub which: &'static str,
    pub label: &'static str,
    /// The key itself once revealed, else `None`.
    pub revealed: Option<String>,
    /// Its last four characters, to tell keys apart while masked.
    pub last_four: String,
    pub csrf: String,
    pub workspace_id: WorkspaceId,
}

impl KeyView {
    fn new(
        which: &'static str,
        key: &str,
        reveal: bool,
        csrf: &str,
        workspace_id: WorkspaceId,
    ) -> Self {
        let chars: Vec<char> = key.chars().collect();
        Self {
            which,
            label: match which {
                "track" => "Track API key",
                "app" => "App API key",
                _ => "Pipelines write key",
            },
            revealed: reveal.then(|| key.to_owned()),
            last_four: chars[chars.len().saturating_sub(4)..].iter().collect(),
            csrf: csrf.to_owned(),
            workspace_id,
        }
    }
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    workspace: WorkspaceView,
    /// `None`: the workspace's keys were not kept.
    keys: Option<Vec<KeyView>>,
    /// The workspace was made before workspaces had a Data Pipelines write key.
    no_write_key: bool,
    snippet: Snippet,
}

#[derive(Template)]
#[template(path = "settings_key.html")]
struct KeyRow {
    key: KeyView,
}

/// The workspace's keys, opened, if the store keeps them and this server can open them.
async fn keys_of(
    state: &UiState,
    workspace_id: WorkspaceId,
    site_id: &str,
) -> Result<Option<WorkspaceKeys>, UiError> {
    let Some(sealer) = state.settings().sealer.clone() else {
        return Ok(None);
    };
    let sealed = state
        .store()
        .read(move |r| r.workspace_keys_sealed(workspace_id))
        .await?;
    Ok(sealed.and_then(|sealed| sealer.open(site_id, &sealed)))
}

fn key_views(
    keys: &WorkspaceKeys,
    reveal: &str,
    csrf: &str,
    workspace_id: WorkspaceId,
) -> Vec<KeyView> {
    let write = keys.write_key.as_ref().map(|key| ("write", key));
    [("track", &keys.api_key), ("app", &keys.app_api_key)]
        .into_iter()
        .chain(write)
        .map(|(which, key)| KeyView::new(which, key, reveal == which, csrf, workspace_id))
        .collect()
}

async fn page(
    state: &UiState,
    user: &SignedIn,
    workspace_id: WorkspaceId,
    reveal: &str,
) -> Result<Response, UiError> {
    let workspace = user.workspace(workspace_id)?;
    let keys = keys_of(state, workspace_id, &workspace.site_id).await?;
    let csrf = &user.session.csrf_token;
    Ok(render(&SettingsPage {
        layout: Layout::signed_in(user, Some(workspace_id)),
        no_write_key: keys.as_ref().is_some_and(|keys| keys.write_key.is_none()),
        keys: keys.map(|keys| key_views(&keys, reveal, csrf, workspace_id)),
        snippet: snippet(&workspace.site_id, &state.settings().public_url),
        workspace: WorkspaceView::from(workspace),
    }))
}

/// `GET /ui/w/{id}/settings`.
pub async fn show(
    State(state): State<UiState>,
    user: SignedIn,
    Path(workspace_id): Path<WorkspaceId>,
) -> Result<Response, UiError> {
    page(&state, &user, workspace_id, "").await
}

#[derive(Deserialize)]
pub struct RevealInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
}

/// `POST /ui/w/{id}/settings/reveal`: one key in clear. A POST with the CSRF token, so that a
/// link or an image elsewhere cannot make a page show it; htmx swaps the key's row in, and
/// without JavaScript the whole page comes back with it shown.
pub async fn reveal(
    State(state): State<UiState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(workspace_id): Path<WorkspaceId>,
    Form(input): Form<RevealInput>,
) -> Result<Response, UiError> {
    user.check_csrf(&input.csrf)?;
    if !headers.contains_key("hx-request") {
        return page(&state, &user, workspace_id, &input.key).await;
    }
    let workspace = user.workspace(workspace_id)?;
    let keys = keys_of(&state, workspace_id, &workspace.site_id)
        .await?
        .ok_or(UiError::NotFound("key"))?;
    let key = key_views(&keys, &input.key, &user.session.csrf_token, workspace_id)
        .into_iter()
        .find(|key| key.which == input.key)
        .ok_or(UiError::NotFound("key"))?;
    Ok(render(&KeyRow { key }))
}
