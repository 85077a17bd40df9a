//! The schema migration runner: numbered SQL files applied once each, recorded with a checksum.

use herald_store::StoreError;
use rusqlite::{Connection, TransactionBehavior};

use herald_store::codec::migration_checksum as checksum;

use crate::queries::backend;

pub(crate) const MIGRATIONS: &[(i64, &str)] = &[
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
    (14, include_str!("../migrations/0014_backfills.sql")),
    (15, include_str!("../migrations/0015_write_keys.sql")),
    (16, include_str!("../migrations/0016_objects.sql")),
    (
        17,
        include_str!("../migrations/0017_anonymous_relationships.sql"),
    ),
    (
        18,
        include_str!("../migrations/0018_rotated_and_deleted_workspaces.sql"),
    ),
    (
        19,
        include_str!("../migrations/0019_person_index_by_block.sql"),
    ),
    (20, include_str!("../migrations/0020_activity_blocks.sql")),
    (
        21,
        include_str!("../migrations/0021_drop_runs_by_campaign.sql"),
    ),
    (
        22,
        include_str!("../migrations/0022_activity_blocks_by_workspace.sql"),
    ),
];

/// Checksums of earlier texts of a migration that a store may have recorded, and that count as
/// applied: migrations 10 and 12 first filled their tables in place, which took a minute at
/// twenty million events before the server listened; they now leave that to `backfills`. A
/// store that ran the first texts has its tables full and needs no backfill.
const SUPERSEDED: &[(i64, &str)] = &[(10, "2d89f53d2fee8ad8"), (12, "ffb2ee3b8564edb5")];

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
            Some(existing) if SUPERSEDED.contains(&(*version, existing.as_str())) => continue,
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

    fn rows<T: rusqlite::types::FromSql>(connection: &Connection, sql: &str) -> Vec<Vec<T>> {
        let mut statement = connection.prepare(sql).expect("a query");
        let width = statement.column_count();
        statement
            .query_map([], |row| (0..width).map(|i| row.get(i)).collect())
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("read")
    }

    /// Runs backfill steps of `limit` rows until none is left; returns how many it took.
    fn backfill(connection: &Connection, limit: usize) -> usize {
        let mut steps = 1;
        while crate::backfills::step(connection, limit).expect("a backfill step") {
            steps += 1;
            assert!(steps < 100, "the backfill does not end");
        }
        steps
    }

    /// A store written before migration 10 gets its events' day counts from the log in the
    /// background: the migration only records the work, and the counts of events written
    /// after it (kept by the write path) are not counted twice.
    #[test]
    fn event_days_are_filled_from_the_activity_log_in_steps() {
        let connection = Connection::open_in_memory().expect("a database");
        let (before, after) = MIGRATIONS.split_at(9);
        for (_, sql) in before {
            connection.execute_batch(sql).expect("an earlier migration");
        }
        let insert = |kind: &str, name: &str, timestamp: i64| {
            connection
                .execute(
                    "INSERT INTO activities (workspace_id, kind, name, data, timestamp, received_at)
                     VALUES (1, ?1, ?2, '{}', ?3, ?3)",
                    rusqlite::params![kind, name, timestamp],
                )
                .expect("an activity");
        };
        for (kind, name, timestamp) in [
            ("event", "purchased", 86_400 * 7 + 1),
            ("event", "purchased", 86_400 * 7 + 86_399),
            ("event", "purchased", 86_400 * 8),
            ("page", "/home", 86_400 * 8),
            ("attribute_change", "plan", 86_400 * 8),
        ] {
            insert(kind, name, timestamp);
        }
        connection
            .execute_batch(after[0].1)
            .expect("migration 10 applies");
        let empty: Vec<Vec<i64>> = rows(&connection, "SELECT count FROM event_days");
        assert!(empty.is_empty(), "the migration counts nothing itself");
        // A write after the migration counts its own event, as the index buffer does.
        insert("event", "purchased", 86_400 * 8 + 5);
        connection
            .execute(
                "INSERT INTO event_days (workspace_id, kind, name, day, count)
                 VALUES (1, 'event', 'purchased', 8, 1)
                 ON CONFLICT (workspace_id, day, kind, name) DO UPDATE SET count = count + 1",
                [],
            )
            .expect("the write path's count");
        assert_eq!(backfill(&connection, 2), 3, "five rows, two per step");
        let days: Vec<Vec<rusqlite::types::Value>> = rows(
            &connection,
            "SELECT kind, name, day, count FROM event_days ORDER BY day, kind, name",
        );
        let text = |s: &str| rusqlite::types::Value::Text(s.into());
        let int = rusqlite::types::Value::Integer;
        assert_eq!(
            days,
            vec![
                vec![text("event"), text("purchased"), int(7), int(2)],
                vec![text("event"), text("purchased"), int(8), int(2)],
                vec![text("page"), text("/home"), int(8), int(1)],
            ]
        );
        let left: Vec<Vec<i64>> = rows(&connection, "SELECT position FROM backfills");
        assert!(left.is_empty(), "a finished backfill is removed");
    }

    /// A store written before migration 12 gets its segments' day counts from their history in
    /// the background, leaving out segments deleted meanwhile.
    #[test]
    fn segment_days_are_filled_from_the_history_in_steps() {
        let connection = Connection::open_in_memory().expect("a database");
        let (before, after) = MIGRATIONS.split_at(11);
        for (_, sql) in before {
            connection.execute_batch(sql).expect("an earlier migration");
        }
        connection
            .execute_batch(
                "INSERT INTO workspaces (id, name, site_id, api_key_hash, app_api_key_hash, created_at)
                 VALUES (1, 'w', 's', 'a', 'b', 0);
                 INSERT INTO segments (id, workspace_id, name, description, definition, state, created_at, updated_at)
                 VALUES (7, 1, 'seven', '', 'null', 'finished', 0, 0),
                        (8, 1, 'eight', '', 'null', 'finished', 0, 0);",
            )
            .expect("segments");
        for (segment, entered, at) in [
            (7, 1, 5),
            (7, 1, 86_399),
            (7, 0, 86_400),
            (8, 1, 3),
            (9, 1, 3),
        ] {
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
        assert_eq!(backfill(&connection, 2), 3);
        let days: Vec<Vec<i64>> = rows(
            &connection,
            "SELECT segment_id, day, entered, exited FROM segment_days ORDER BY 1, 2",
        );
        assert_eq!(
            days,
            vec![vec![7, 0, 2, 0], vec![7, 1, 0, 1], vec![8, 0, 1, 0]],
            "segment 9 does not exist any more"
        );
    }

    /// A store that ran the first texts of migrations 10 and 12 (which filled their tables in
    /// place) opens, and has nothing to backfill.
    #[test]
    fn stores_that_ran_earlier_texts_of_a_migration_open() {
        let mut connection = Connection::open_in_memory().expect("a database");
        apply(&mut connection).expect("migrations apply");
        for (version, old) in SUPERSEDED {
            connection
                .execute(
                    "UPDATE schema_migrations SET checksum = ?2 WHERE version = ?1",
                    rusqlite::params![version, old],
                )
                .expect("the old checksum");
        }
        connection
            .execute_batch("DROP TABLE backfills; DELETE FROM schema_migrations WHERE version = 14")
            .expect("as before migration 14");
        apply(&mut connection).expect("the store opens");
        assert!(!crate::backfills::step(&connection, 10).expect("a step"));
        connection
            .execute(
                "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 12",
                [],
            )
            .expect("a foreign checksum");
        assert!(
            apply(&mut connection).is_err(),
            "any other checksum is refused"
        );
    }
}
