//! The schema migration runner: numbered SQL files applied once each, recorded with a checksum.

use herald_store::StoreError;
use rusqlite::{Connection, TransactionBehavior};

use crate::queries::backend;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_segments.sql")),
    (3, include_str!("../migrations/0003_campaigns.sql")),
    (4, include_str!("../migrations/0004_runs.sql")),
    (
        5,
        include_str!("../migrations/0005_segment_members_index.sql"),
    ),
    (6, include_str!("../migrations/0006_engine_log.sql")),
    (7, include_str!("../migrations/0007_segment_purges.sql")),
    (8, include_str!("../migrations/0008_users.sql")),
    (9, include_str!("../migrations/0009_listing_indexes.sql")),
];

/// A stable checksum of a migration's text (FNV-1a), to notice a migration edited after release.
fn checksum(sql: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in sql.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Applies every migration not yet applied. It runs in one immediate transaction, so two
/// processes opening the same new file (a server and `herald workspace create`) do not race.
pub(crate) fn apply(connection: &mut Connection) -> Result<(), StoreError> {
    let tx = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY,
             applied_at INTEGER NOT NULL,
             checksum TEXT NOT NULL
         )",
    )
    .map_err(backend)?;
    for (version, sql) in MIGRATIONS {
        let recorded: Option<String> = tx
            .query_row(
                "SELECT checksum FROM schema_migrations WHERE version = ?1",
                [version],
                |row| row.get(0),
            )
            .map(Some)
            .or_else(|error| match error {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                other => Err(other),
            })
            .map_err(backend)?;
        match recorded {
            Some(existing) if existing == checksum(sql) => continue,
            Some(existing) => {
                return Err(StoreError::Corrupt(format!(
                    "migration {version} was applied with checksum {existing} but the binary carries {}",
                    checksum(sql)
                )));
            }
            None => {
                tx.execute_batch(sql).map_err(backend)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at, checksum)
                     VALUES (?1, strftime('%s','now'), ?2)",
                    rusqlite::params![version, checksum(sql)],
                )
                .map_err(backend)?;
            }
        }
    }
    tx.commit().map_err(backend)
}
