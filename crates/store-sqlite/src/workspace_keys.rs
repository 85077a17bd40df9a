//! Rotated keys (`retired_keys`) and the credentials version servers watch
//! (`herald_store::CREDENTIALS_VERSION`).

use herald_domain::{UnixSeconds, WorkspaceId};
use herald_store::{CREDENTIALS_VERSION, RetiredKey, StoreError, Workspace, WorkspaceKey};
use rusqlite::{Connection, OptionalExtension, params};

use crate::queries::{backend, execute, workspace_from_row};

/// The column of `workspaces` that holds the current key of a kind, as its SHA-256.
pub(crate) fn hash_column(key: WorkspaceKey) -> &'static str {
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
    connection: &Connection,
    key: WorkspaceKey,
    hash: &str,
) -> Result<Option<RetiredKey>, StoreError> {
    let row = connection
        .prepare_cached(
            "SELECT r.workspace_id, r.kind, r.retired_at, r.expires_at
             FROM retired_keys r JOIN workspaces w ON w.id = r.workspace_id
             WHERE r.kind = ?1 AND r.key_hash = ?2 AND w.deleted_at IS NULL",
        )
        .and_then(|mut statement| {
            statement
                .query_row(params![key.as_str(), hash], |row| {
                    Ok((
                        row.get::<_, WorkspaceId>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, i64>(3)?,
                    ))
                })
                .optional()
        })
        .map_err(backend)?;
    row.map(|(workspace_id, kind, retired_at, expires_at)| {
        Ok(RetiredKey {
            workspace_id,
            key: parse_kind(&kind)?,
            retired_at,
            expires_at,
        })
    })
    .transpose()
}

pub(crate) fn deleted_workspaces(connection: &Connection) -> Result<Vec<Workspace>, StoreError> {
    let mut statement = connection
        .prepare_cached(
            "SELECT id, name, site_id, created_at FROM workspaces
             WHERE deleted_at IS NOT NULL ORDER BY id",
        )
        .map_err(backend)?;
    let rows = statement
        .query_map([], workspace_from_row)
        .map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

pub(crate) fn rotate_key(
    connection: &Connection,
    workspace_id: WorkspaceId,
    key: WorkspaceKey,
    hash: &str,
    now: UnixSeconds,
    expires_at: UnixSeconds,
) -> Result<bool, StoreError> {
    let column = hash_column(key);
    // The column's name is one of three constants, never input.
    let current: Option<Option<String>> = connection
        .prepare_cached(&format!(
            "SELECT {column} FROM workspaces WHERE id = ?1 AND deleted_at IS NULL"
        ))
        .and_then(|mut statement| {
            statement
                .query_row([workspace_id], |row| row.get(0))
                .optional()
        })
        .map_err(backend)?;
    let Some(Some(current)) = current else {
        return Ok(false);
    };
    execute(
        connection,
        "INSERT INTO retired_keys (workspace_id, kind, key_hash, retired_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (workspace_id, kind) DO UPDATE SET key_hash = excluded.key_hash,
             retired_at = excluded.retired_at, expires_at = excluded.expires_at",
        params![workspace_id, key.as_str(), current, now, expires_at],
    )?;
    execute(
        connection,
        &format!("UPDATE workspaces SET {column} = ?2 WHERE id = ?1"),
        params![workspace_id, hash],
    )?;
    bump_credentials_version(connection)?;
    Ok(true)
}

/// Changes the credentials version, in the caller's transaction.
pub(crate) fn bump_credentials_version(connection: &Connection) -> Result<(), StoreError> {
    execute(
        connection,
        "INSERT INTO settings (key, value) VALUES (?1, '1')
         ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
        [CREDENTIALS_VERSION],
    )?;
    Ok(())
}
