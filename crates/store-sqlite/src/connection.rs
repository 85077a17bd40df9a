//! Opening a connection with the settings every Herald connection uses.

use std::path::Path;
use std::time::Duration;

use herald_store::StoreError;
use rusqlite::config::DbConfig;
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
    // A statement's plan must not depend on the values bound to it. SQLite (since 3.48) reads
    // a bound `LIMIT ?` to plan with, and marks the statement to be compiled again whenever
    // that parameter is bound anew, so every run of a cached statement with `LIMIT ?` parsed
    // and planned its SQL once more: 13% of the server's CPU during a delivery burst went to
    // recompiling the read of a person's relationships that every message makes. With the
    // query planner stability guarantee a cached statement keeps its plan. None of our plans
    // needs a bound value: the one partial index whose condition compares with a constant
    // (`runs_due`, `state = 'active'`) is read by a query that writes the same constant.
    connection
        .set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(backend)?;
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

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    use super::{Synchronous, open};

    /// A cached statement with a bound `LIMIT` runs again without being compiled again, on the
    /// writer's connection and on a reader's.
    #[test]
    fn a_cached_statement_with_a_bound_limit_keeps_its_plan() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("plans.db");
        let writer = open(&path, Synchronous::Normal, false).expect("the writer opens");
        writer
            .execute_batch(
                "CREATE TABLE t (x INTEGER PRIMARY KEY, y INTEGER);
                 CREATE INDEX t_by_y ON t(y);
                 INSERT INTO t (y) VALUES (1), (2), (3), (4);",
            )
            .expect("the table is made");
        let reader = open(&path, Synchronous::Normal, true).expect("a reader opens");
        let sql = "SELECT x FROM t WHERE y > ?1 ORDER BY x DESC LIMIT ?2";
        for connection in [&writer, &reader] {
            for (after, limit) in [(0, 1), (1, 2), (2, 3), (0, 10)] {
                let mut statement = connection.prepare_cached(sql).expect("it prepares");
                let rows: Vec<i64> = statement
                    .query_map([after, limit], |row| row.get(0))
                    .expect("it runs")
                    .collect::<Result<_, _>>()
                    .expect("rows read");
                assert_eq!(rows.len(), usize::try_from(limit.min(4 - after)).unwrap());
                assert_eq!(
                    statement.get_status(StatementStatus::RePrepare),
                    0,
                    "the statement was compiled again for LIMIT {limit}"
                );
            }
        }
    }

    /// The bundled SQLite is built as `.cargo/config.toml` says: page caches apart, with no
    /// global mutex between the writer and the readers, and no memory statistics.
    #[test]
    fn sqlite_is_built_without_shared_page_caches_or_memory_statistics() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let connection =
            open(&dir.path().join("options.db"), Synchronous::Normal, false).expect("it opens");
        let options: Vec<String> = connection
            .prepare("PRAGMA compile_options")
            .expect("it prepares")
            .query_map([], |row| row.get(0))
            .expect("it runs")
            .collect::<Result<_, _>>()
            .expect("rows read");
        assert!(
            options.iter().any(|option| option == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
        assert!(
            !options
                .iter()
                .any(|option| option == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
    }
}
