//! An online backup of the database file: `VACUUM INTO` writes a consistent snapshot (one read
//! transaction's view) to a new file while the server goes on writing, then the copy is
//! checked with `PRAGMA integrity_check`.

use std::path::Path;

use herald_store::StoreError;
use rusqlite::{OpenFlags, params};

use crate::Synchronous;
use crate::connection;
use crate::queries::backend;

/// Why a backup was not made.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} exists already: a backup writes a new file")]
    Exists(String),
    #[error("{0} is not a UTF-8 path")]
    NotUtf8(String),
    #[error("the copy at {path} fails SQLite's integrity check: {found}")]
    Damaged { path: String, found: String },
    #[error("cannot read the copy's size: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub bytes: u64,
    pub people: i64,
    pub events: i64,
}

/// Copies the database at `source` to the new file `dest` and checks the copy. Safe while a
/// server writes to `source`: the copy is the state of one moment.
pub fn backup(source: &Path, dest: &Path) -> Result<BackupReport, BackupError> {
    if dest.exists() {
        return Err(BackupError::Exists(dest.display().to_string()));
    }
    // A connection that may write, because SQLite opens the copy through it; the source is
    // only read, in one read transaction.
    let connection = connection::open(source, Synchronous::Normal, false)?;
    let target = dest
        .to_str()
        .ok_or_else(|| BackupError::NotUtf8(dest.display().to_string()))?;
    connection
        .execute("VACUUM INTO ?1", params![target])
        .map_err(backend)?;
    let copy = rusqlite::Connection::open_with_flags(dest, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(backend)?;
    let integrity: String = copy
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .map_err(backend)?;
    if integrity != "ok" {
        return Err(BackupError::Damaged {
            path: dest.display().to_string(),
            found: integrity,
        });
    }
    let count = |sql: &str| -> Result<i64, StoreError> {
        copy.query_row(sql, [], |row| row.get(0)).map_err(backend)
    };
    Ok(BackupReport {
        bytes: std::fs::metadata(dest)?.len(),
        people: count("SELECT count(*) FROM people WHERE deleted_at IS NULL")?,
        events: count("SELECT count(*) FROM activities WHERE kind IN ('event', 'page', 'screen')")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SqliteOptions, SqliteStore};

    #[test]
    fn a_backup_is_a_checked_copy_and_never_overwrites() {
        let dir = tempfile::tempdir().expect("a dir");
        let source = dir.path().join("herald.db");
        drop(SqliteStore::open(&SqliteOptions::new(source.clone())).expect("a store"));
        let dest = dir.path().join("copy.db");
        let report = backup(&source, &dest).expect("backed up");
        assert!(report.bytes > 0);
        assert_eq!((report.people, report.events), (0, 0));
        let again = backup(&source, &dest).unwrap_err();
        assert!(again.to_string().contains("exists already"), "{again}");
    }
}
