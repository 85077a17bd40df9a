//! Rotated keys (`retired_keys`) and the credentials version servers watch
//! (`herald_store::CREDENTIALS_VERSION`).

use herald_domain::{UnixSeconds, WorkspaceId};
use herald_store::{CREDENTIALS_VERSION, RetiredKey, StoreError, Workspace, WorkspaceKey};

use crate::pg::Pg;

/// The column of `workspaces` that holds the current key of a kind, as its SHA-256.
fn hash_column(key: WorkspaceKey) -> &'static str {
    match key {
        WorkspaceKey::Track => "api_key_hash",
        WorkspaceKey::App => "app_api_key_hash",
        WorkspaceKey::Write => "write_key_hash",
    }
}

fn parse_kind(kind: &str) -> Result<WorkspaceKey, StoreError> {
    WorkspaceKey::ALL
        .into_iter()
        .find(|key| key.as_str() == kind)
        .ok_or_else(|| StoreError::Corrupt(format!("retired_keys: unknown kind of key {kind:?}")))
}

pub(crate) fn retired_key(
    pg: &mut Pg<'_>,
    key: WorkspaceKey,
    hash: &str,
) -> Result<Option<RetiredKey>, StoreError> {
    let row = pg.query_opt(
        "SELECT r.workspace_id, r.kind, r.retired_at, r.expires_at
         FROM retired_keys r JOIN workspaces w ON w.id = r.workspace_id
         WHERE r.kind = $1 AND r.key_hash = $2 AND w.deleted_at IS NULL",
        &[&key.as_str(), &hash],
    )?;
    row.map(|row| {
        Ok(RetiredKey {
            workspace_id: row.get(0),
            key: parse_kind(row.get(1))?,
            retired_at: row.get(2),
            expires_at: row.get(3),
        })
    })
    .transpose()
}

pub(crate) fn deleted_workspaces(pg: &mut Pg<'_>) -> Result<Vec<Workspace>, StoreError> {
    let rows = pg.query(
        "SELECT id, name, site_id, created_at FROM workspaces
         WHERE deleted_at IS NOT NULL ORDER BY id",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|row| Workspace {
            id: row.get(0),
            name: row.get(1),
            site_id: row.get(2),
            created_at: row.get(3),
        })
        .collect())
}

pub(crate) fn rotate_key(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    key: WorkspaceKey,
    hash: &str,
    now: UnixSeconds,
    expires_at: UnixSeconds,
) -> Result<bool, StoreError> {
    let column = hash_column(key);
    // The column's name is one of three constants, never input. Two rotations of one key take
    // turns: every command's write transaction first takes the write turn (`writer.rs`).
    let current: Option<Option<String>> = pg
        .query_opt(
            &format!("SELECT {column} FROM workspaces WHERE id = $1 AND deleted_at IS NULL"),
            &[&workspace_id],
        )?
        .map(|row| row.get(0));
    let Some(Some(current)) = current else {
        return Ok(false);
    };
    pg.execute(
        "INSERT INTO retired_keys (workspace_id, kind, key_hash, retired_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (workspace_id, kind) DO UPDATE SET key_hash = excluded.key_hash,
             retired_at = excluded.retired_at, expires_at = excluded.expires_at",
        &[&workspace_id, &key.as_str(), &current, &now, &expires_at],
    )?;
    pg.execute(
        &format!("UPDATE workspaces SET {column} = $2 WHERE id = $1"),
        &[&workspace_id, &hash],
    )?;
    bump_credentials_version(pg)?;
    Ok(true)
}

/// Changes the credentials version, in the caller's transaction; concurrent changes each count,
/// since the update waits for the row's lock and reads the value committed before it.
pub(crate) fn bump_credentials_version(pg: &mut Pg<'_>) -> Result<(), StoreError> {
    pg.execute(
        "INSERT INTO settings (key, value) VALUES ($1, '1')
         ON CONFLICT (key) DO UPDATE SET value = (settings.value::bigint + 1)::text",
        &[&CREDENTIALS_VERSION],
    )?;
    Ok(())
}
