//! Web UI users, their workspaces and their sessions.

use herald_domain::{UnixSeconds, WorkspaceId};
use herald_store::{NewUser, SessionRow, StoreError, User, Workspace};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::queries::{backend, execute, workspace_from_row};

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        email: row.get(1)?,
        admin: row.get(2)?,
        created_at: row.get(3)?,
    })
}

pub(crate) fn users_count(connection: &Connection) -> Result<i64, StoreError> {
    connection
        .query_row("SELECT count(*) FROM users", [], |row| row.get(0))
        .map_err(backend)
}

pub(crate) fn user_by_email(
    connection: &Connection,
    email: &str,
) -> Result<Option<(User, String)>, StoreError> {
    connection
        .prepare_cached(
            "SELECT id, email, admin, created_at, password_hash FROM users WHERE email = ?1",
        )
        .map_err(backend)?
        .query_row([email.to_lowercase()], |row| {
            Ok((user_from_row(row)?, row.get(4)?))
        })
        .optional()
        .map_err(backend)
}

pub(crate) fn session(
    connection: &Connection,
    token_hash: &str,
    now: UnixSeconds,
) -> Result<Option<(SessionRow, User)>, StoreError> {
    connection
        .prepare_cached(
            "SELECT u.id, u.email, u.admin, u.created_at,
                    s.token_hash, s.user_id, s.csrf_token, s.created_at, s.expires_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ?1 AND s.expires_at > ?2",
        )
        .map_err(backend)?
        .query_row(params![token_hash, now], |row| {
            Ok((
                SessionRow {
                    token_hash: row.get(4)?,
                    user_id: row.get(5)?,
                    csrf_token: row.get(6)?,
                    created_at: row.get(7)?,
                    expires_at: row.get(8)?,
                },
                user_from_row(row)?,
            ))
        })
        .optional()
        .map_err(backend)
}

pub(crate) fn user_workspaces(
    connection: &Connection,
    user_id: i64,
) -> Result<Vec<Workspace>, StoreError> {
    let mut statement = connection
        .prepare_cached(
            "SELECT w.id, w.name, w.site_id, w.created_at FROM workspaces w
             WHERE w.deleted_at IS NULL
               AND (EXISTS (SELECT 1 FROM users u WHERE u.id = ?1 AND u.admin)
                    OR EXISTS (SELECT 1 FROM user_workspaces g
                               WHERE g.user_id = ?1 AND g.workspace_id = w.id))
             ORDER BY w.id",
        )
        .map_err(backend)?;
    let rows = statement
        .query_map([user_id], workspace_from_row)
        .map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

pub(crate) fn insert_user(connection: &Connection, new: &NewUser) -> Result<User, StoreError> {
    let email = new.email.to_lowercase();
    execute(
        connection,
        "INSERT INTO users (email, password_hash, admin, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![email, new.password_hash, new.admin, new.created_at],
    )
    .map_err(|error| match error {
        StoreError::Conflict(_) => {
            StoreError::Conflict(format!("a user with the email {email:?} already exists"))
        }
        other => other,
    })?;
    Ok(User {
        id: connection.last_insert_rowid(),
        email,
        admin: new.admin,
        created_at: new.created_at,
    })
}

pub(crate) fn grant_workspace(
    connection: &Connection,
    user_id: i64,
    workspace_id: WorkspaceId,
) -> Result<(), StoreError> {
    execute(
        connection,
        "INSERT INTO user_workspaces (user_id, workspace_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        params![user_id, workspace_id],
    )?;
    Ok(())
}

pub(crate) fn insert_session(connection: &Connection, new: &SessionRow) -> Result<(), StoreError> {
    // Expired sessions go as new ones come, so the table never grows with old ones.
    execute(
        connection,
        "DELETE FROM sessions WHERE expires_at <= ?1",
        [new.created_at],
    )?;
    execute(
        connection,
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            new.token_hash,
            new.user_id,
            new.csrf_token,
            new.created_at,
            new.expires_at
        ],
    )?;
    Ok(())
}

pub(crate) fn delete_session(
    connection: &Connection,
    token_hash: &str,
) -> Result<bool, StoreError> {
    Ok(execute(
        connection,
        "DELETE FROM sessions WHERE token_hash = ?1",
        [token_hash],
    )? > 0)
}
