//! The schema migration runner: numbered SQL files applied once each, recorded with a checksum,
//! under an advisory lock so that nodes starting together do not race; on Citus, the tables
//! are then distributed (`citus.rs`).

use herald_store::StoreError;
use herald_store::codec::migration_checksum as checksum;
use postgres::Client;

use crate::pg::backend;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_partition_leases.sql")),
    (3, include_str!("../migrations/0003_workspace_keys.sql")),
    (4, include_str!("../migrations/0004_write_keys.sql")),
    (5, include_str!("../migrations/0005_objects.sql")),
    (
        6,
        include_str!("../migrations/0006_anonymous_relationships.sql"),
    ),
    (
        7,
        include_str!("../migrations/0007_rotated_and_deleted_workspaces.sql"),
    ),
    (8, include_str!("../migrations/0008_engine_questions.sql")),
    (9, include_str!("../migrations/0009_partition_holders.sql")),
    (
        10,
        include_str!("../migrations/0010_drop_runs_by_campaign.sql"),
    ),
];

/// The advisory lock migrations run under: one for the whole database, so that a second node
/// waits until the first has finished and then finds everything applied.
pub(crate) const LOCK: i64 = 0x6865_7261_6c64; // "herald"

/// The class of the advisory lock a server node holds on its schema (the two-key form: this
/// and the schema's hash).
const NODE_LOCK: i32 = 0x6865_7261; // "hera"

/// How long a start waits for the schema's server lock before it refuses to start.
const NODE_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Applies every migration not yet applied, in `schema` (created if missing) or the
/// connection's default schema.
pub(crate) fn apply(client: &mut Client, schema: Option<&str>) -> Result<(), StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK])
        .map_err(backend)?;
    let applied = apply_locked(client, schema);
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK])
        .map_err(backend);
    applied.and(unlocked.map(|_| ()))
}

/// Takes the lock a server node holds on its schema for as long as its writer's connection
/// lives, or refuses to start: a second node on the same schema would break the order the
/// segment engine reads the log in.
pub(crate) fn claim_node(client: &mut Client, schema: Option<&str>) -> Result<(), StoreError> {
    // A server that was just stopped (even killed) frees the lock when PostgreSQL notices its
    // connection closed, which may come a moment after its successor started: the lock is
    // tried for a few seconds before the start is refused.
    let deadline = std::time::Instant::now() + NODE_LOCK_WAIT;
    let claimed = loop {
        let claimed: bool = client
            .query_one(
                "SELECT pg_try_advisory_lock($1, hashtext(current_schema()))",
                &[&NODE_LOCK],
            )
            .map_err(backend)?
            .get(0);
        if claimed || std::time::Instant::now() >= deadline {
            break claimed;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    if claimed {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "another herald serve is running on this database (schema {}); one server per \
             database or schema is supported for now",
            schema.unwrap_or("default")
        )))
    }
}

fn apply_locked(client: &mut Client, schema: Option<&str>) -> Result<(), StoreError> {
    if let Some(schema) = schema {
        crate::connection::check_schema_name(schema)?;
        client
            .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .map_err(backend)?;
    }
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version BIGINT PRIMARY KEY,
                 applied_at BIGINT NOT NULL,
                 checksum TEXT NOT NULL
             )",
        )
        .map_err(backend)?;
    for (version, sql) in MIGRATIONS {
        let recorded = client
            .query_opt(
                "SELECT checksum FROM schema_migrations WHERE version = $1",
                &[version],
            )
            .map_err(backend)?
            .map(|row| row.get::<_, String>(0));
        match recorded {
            Some(existing) if existing == checksum(sql) => continue,
            Some(existing) => {
                return Err(StoreError::Corrupt(format!(
                    "migration {version} was applied with checksum {existing} but the binary carries {}",
                    checksum(sql)
                )));
            }
            None => {
                let mut tx = client.transaction().map_err(backend)?;
                tx.batch_execute(sql).map_err(backend)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at, checksum)
                     VALUES ($1, extract(epoch FROM now())::bigint, $2)",
                    &[version, &checksum(sql)],
                )
                .map_err(backend)?;
                tx.commit().map_err(backend)?;
            }
        }
    }
    crate::citus::distribute(client)
}

#[cfg(test)]
mod tests {
    use herald_store::StoreError;

    use crate::test_database::TestSchema;
    use crate::{PostgresOptions, PostgresStore};

    /// Nodes that start together on a new schema: each waits for the migration lock, and every
    /// migration is applied once.
    #[test]
    fn stores_opened_together_apply_each_migration_once() {
        let schema = TestSchema::new();
        let opened: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| PostgresStore::open(&schema.options())))
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().expect("no panic"))
                .collect()
        });
        assert!(
            opened.iter().all(Result::is_ok),
            "{:?}",
            opened
                .iter()
                .filter_map(|r| r.as_ref().err())
                .collect::<Vec<_>>()
        );
        let mut client = crate::connection::connect(&schema.options()).expect("a connection");
        let rows = client
            .query(
                "SELECT version FROM schema_migrations ORDER BY version",
                &[],
            )
            .expect("the migrations table");
        let versions: Vec<i64> = rows.iter().map(|row| row.get(0)).collect();
        assert_eq!(
            versions,
            (1..=super::MIGRATIONS.len() as i64).collect::<Vec<_>>()
        );
    }

    /// A second server on the same schema is refused while the first runs; commands are not.
    #[test]
    fn one_server_node_per_schema() {
        let schema = TestSchema::new();
        let node = PostgresOptions {
            node: true,
            ..schema.options()
        };
        let first = PostgresStore::open(&node).expect("the first node starts");
        match PostgresStore::open(&node) {
            Err(StoreError::Conflict(message)) => {
                assert!(message.contains("another herald serve"), "{message}");
            }
            Err(other) => panic!("refused for another reason: {other}"),
            Ok(_) => panic!("a second node started on the same schema"),
        }
        PostgresStore::open(&schema.options()).expect("a command opens the store beside a node");
        let other = TestSchema::new();
        PostgresStore::open(&PostgresOptions {
            node: true,
            ..other.options()
        })
        .expect("a node on another schema starts");
        drop(first);
    }

    /// A schema of the first two migrations, with data, upgrades: each segment's and
    /// campaign's rows take its workspace, and rows left of deleted ones are removed.
    #[test]
    fn the_workspace_keys_migration_fills_the_workspace_and_drops_orphans() {
        let schema = TestSchema::new();
        let mut client = crate::connection::connect(&schema.options()).expect("a connection");
        client
            .batch_execute(&format!("CREATE SCHEMA {}", schema.name))
            .expect("the schema");
        for (_, sql) in &super::MIGRATIONS[..2] {
            client.batch_execute(sql).expect("an older migration");
        }
        client
            .batch_execute(
                "CREATE TABLE schema_migrations (
                     version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL, checksum TEXT NOT NULL);
                 INSERT INTO workspaces (id, name, site_id, api_key_hash, app_api_key_hash, created_at)
                 VALUES (1, 'one', 's1', 'k1', 'a1', 1), (2, 'two', 's2', 'k2', 'a2', 1);
                 INSERT INTO segments (id, workspace_id, name, state, created_at, updated_at)
                 VALUES (7, 2, 'kept', 'ready', 1, 1);
                 INSERT INTO campaigns (id, workspace_id, name, definition, state, created_at, updated_at)
                 VALUES (5, 2, 'kept', '{}', 'running', 1, 1);
                 -- Segment 8 and campaign 6 were deleted; their rows wait for a purge.
                 INSERT INTO segment_members (segment_id, person_seq, since) VALUES (7, 1, 1), (8, 1, 1);
                 INSERT INTO segment_history (segment_id, person_seq, entered, at, cause, origin)
                 VALUES (7, 1, TRUE, 1, '{}', 'live'), (8, 1, TRUE, 1, '{}', 'live');
                 INSERT INTO segment_days (segment_id, day, entered, exited) VALUES (7, 0, 1, 0), (8, 0, 1, 0);
                 INSERT INTO segment_purges (segment_id) VALUES (8);
                 INSERT INTO enrollments (campaign_id, person_seq, created_at) VALUES (5, 1, 1), (6, 1, 1);",
            )
            .expect("older rows");
        for (version, sql) in &super::MIGRATIONS[..2] {
            client
                .execute(
                    "INSERT INTO schema_migrations VALUES ($1, 1, $2)",
                    &[version, &super::checksum(sql)],
                )
                .expect("recorded");
        }
        drop(PostgresStore::open(&schema.options()).expect("the store upgrades"));
        for table in [
            "segment_members",
            "segment_history",
            "segment_days",
            "enrollments",
        ] {
            let rows: Vec<i64> = client
                .query(&format!("SELECT workspace_id FROM {table}"), &[])
                .expect("the rows")
                .iter()
                .map(|row| row.get(0))
                .collect();
            assert_eq!(rows, vec![2], "{table}");
        }
        let purges: i64 = client
            .query_one("SELECT count(*) FROM segment_purges", &[])
            .expect("the purges")
            .get(0);
        assert_eq!(purges, 0);
    }
}
