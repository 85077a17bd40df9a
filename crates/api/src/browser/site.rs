//! The public site id that authenticates browser requests.

use crate::{ApiError, AppState};
use herald_domain::WorkspaceId;

/// Site ids are 20 hex characters; anything far from that shape is refused without a lookup.
fn plausible(site_id: &str) -> bool {
    (1..=64).contains(&site_id.len())
        && site_id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// Finds the workspace of a site id, from the cache when it was seen before (a site id never
/// changes; the cache is emptied when a workspace is deleted, `keys.rs`).
pub async fn workspace(state: &AppState, site_id: &str) -> Result<WorkspaceId, ApiError> {
    let unknown = || {
        ApiError::unauthorized(format!(
            "unknown site id {site_id:?}: use the site id of your workspace (`herald workspace snippet` prints the snippet with it)"
        ))
    };
    if !plausible(site_id) {
        return Err(unknown());
    }
    crate::keys::fresh(state).await?;
    if let Some(workspace_id) = state.keys().site_ids.get(site_id, state.clock().now()) {
        return Ok(workspace_id);
    }
    let lookup = site_id.to_owned();
    let generation = state.keys().generation();
    let found = state
        .store()
        .read(move |reader| reader.workspace_by_site_id(&lookup))
        .await?;
    let credentials = found.ok_or_else(unknown)?;
    state.keys().insert(
        &state.keys().site_ids,
        generation,
        site_id.to_owned(),
        credentials.workspace.id,
        None,
    );
    Ok(credentials.workspace.id)
}
