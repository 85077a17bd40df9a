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
    (10, include_str!("../migrations/0010_event_days.sql")),
    (
        11,
        include_str!("../migrations/0011_workspace_keys_sealed.sql"),
    ),
    (12, include_str!("../migrations/0012_segment_days.sql")),
    (
        13,
        include_str!("../migrations/0013_runs_by_campaign_time.sql"),
    ),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A store written before migration 10 gets its events' day counts from the log.
    #[test]
    fn event_days_are_filled_from_the_activity_log() {
        let connection = Connection::open_in_memory().expect("a database");
        let (before, after) = MIGRATIONS.split_at(9);
        for (_, sql) in before {
            connection.execute_batch(sql).expect("an earlier migration");
        }
        for (kind, name, timestamp) in [
            ("event", "purchased", 86_400 * 7 + 1),
            ("event", "purchased", 86_400 * 7 + 86_399),
            ("event", "purchased", 86_400 * 8),
            ("page", "/home", 86_400 * 8),
            ("attribute_change", "plan", 86_400 * 8),
        ] {
            connection
                .execute(
                    "INSERT INTO activities (workspace_id, kind, name, data, timestamp, received_at)
                     VALUES (1, ?1, ?2, '{}', ?3, ?3)",
                    rusqlite::params![kind, name, timestamp],
                )
                .expect("an activity");
        }
        connection
            .execute_batch(after[0].1)
            .expect("migration 10 applies");
        let mut statement = connection
            .prepare("SELECT kind, name, day, count FROM event_days ORDER BY day, kind, name")
            .expect("a query");
        let days: Vec<(String, String, i64, i64)> = statement
            .query_map([], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("read");
        assert_eq!(
            days,
            vec![
                ("event".into(), "purchased".into(), 7, 2),
                ("event".into(), "purchased".into(), 8, 1),
                ("page".into(), "/home".into(), 8, 1),
            ]
        );
    }

    /// A store written before migration 12 gets its segments' day counts from their history.
    #[test]
    fn segment_days_are_filled_from_the_history() {
        let connection = Connection::open_in_memory().expect("a database");
        let (before, after) = MIGRATIONS.split_at(11);
        for (_, sql) in before {
            connection.execute_batch(sql).expect("an earlier migration");
        }
        for (segment, entered, at) in [(7, 1, 5), (7, 1, 86_399), (7, 0, 86_400), (8, 1, 3)] {
            connection
                .execute(
                    "INSERT INTO segment_history (segment_id, person_seq, entered, at, cause, origin)
                     VALUES (?1, 1, ?2, ?3, '{}', 'live')",
                    rusqlite::params![segment, entered, at],
                )
                .expect("a change");
        }
        connection
            .execute_batch(after[0].1)
            .expect("migration 12 applies");
        let mut statement = connection
            .prepare("SELECT segment_id, day, entered, exited FROM segment_days ORDER BY 1, 2")
            .expect("a query");
        let days: Vec<(i64, i64, i64, i64)> = statement
            .query_map([], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("read");
        assert_eq!(days, vec![(7, 0, 2, 0), (7, 1, 0, 1), (8, 0, 1, 0)]);
    }
}
