//! Opening a connection with the settings every Herald connection uses.

use std::path::Path;
use std::time::Duration;

use herald_store::StoreError;
use rusqlite::{Connection, OpenFlags};

use crate::queries::backend;

/// SQLite's `synchronous` setting for the writer.
///
/// `Normal` in WAL mode survives a crash of the process (`kill -9`) at any instant; only a power
/// loss or an operating-system crash can lose the last commits. `Full` survives those too, at
/// the cost of an fsync per commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    Normal,
    Full,
}

impl Synchronous {
    /// Parses `normal` or `full`.
    pub fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "normal" => Some(Self::Normal),
            "full" => Some(Self::Full),
            _ => None,
        }
    }
}

pub(crate) fn open(
    path: &Path,
    synchronous: Synchronous,
    read_only: bool,
) -> Result<Connection, StoreError> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let connection = Connection::open_with_flags(path, flags).map_err(backend)?;
    if read_only {
        connection
            .busy_timeout(Duration::from_secs(10))
            .map_err(backend)?;
    } else {
        connection
            .busy_handler(Some(wait_for_lock))
            .map_err(backend)?;
    }
    let synchronous = match synchronous {
        Synchronous::Normal => "NORMAL",
        Synchronous::Full => "FULL",
    };
    // The writer's page cache is kept small because SQLite scans all of it at every commit that
    // rebalanced a B-tree while the database is under 1 GiB: rebalancing renumbers a page
    // through the number just past 1 GiB, and the commit then trims the cache down to the
    // database's size by visiting every entry. With 64 MiB (16,384 pages) that scan was a
    // quarter of the writer's time; with 8 MiB it no longer shows in a profile, and the pages
    // the writer touches most (the ends of the activity log and its indexes) still fit.
    let cache_kib: i64 = if read_only { 65536 } else { 8192 };
    let mut pragmas = format!(
        "PRAGMA synchronous = {synchronous};
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -{cache_kib};"
    );
    if read_only {
        pragmas.push_str("PRAGMA query_only = ON;");
    } else {
        // WAL is a property of the file; setting it from the writer is enough for everyone.
        // Checkpoints run on their own thread (see checkpointer.rs), not inside commits.
        //
        // The size limit applies when the WAL starts over: the first commit then truncates a
        // larger file down to it, holding the write lock, and truncating a file that was just
        // written waits for the disk. With 64 MiB, every restart during a storm of segment
        // changes (the WAL reached 90 MiB between restarts) stalled ingest for 10–20 ms; with
        // 1 GiB a busy WAL keeps its size and is overwritten in place, and only an exceptional
        // one is cut back. Shutting down empties it (writer.rs).
        pragmas.push_str(
            "PRAGMA journal_mode = WAL; PRAGMA journal_size_limit = 1073741824; PRAGMA wal_autocheckpoint = 0;",
        );
    }
    connection.execute_batch(&pragmas).map_err(backend)?;
    connection.set_prepared_statement_cache_capacity(64);
    Ok(connection)
}

/// How a writing connection waits for a lock another connection holds (the checkpointer's
/// `RESTART`, which holds the write lock for a few milliseconds every second). SQLite's own
/// busy timeout sleeps 1, 2, 5, 10, 15… ms between tries, so a 3 ms checkpoint could hold a
/// write up for 8 ms and a 10 ms one for 18 ms; that was the ingest p99 tail. This polls every
/// 100 µs for the first 10 ms, then every millisecond, and gives up after about 10 s, as the
/// timeout did.
fn wait_for_lock(attempts: i32) -> bool {
    const FINE: i32 = 100;
    const LIMIT: i32 = FINE + 10_000;
    if attempts >= LIMIT {
        return false;
    }
    let pause = if attempts < FINE {
        Duration::from_micros(100)
    } else {
        Duration::from_millis(1)
    };
    std::thread::sleep(pause);
    true
}
