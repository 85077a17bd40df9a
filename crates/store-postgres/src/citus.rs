//! The schema on Citus (distributed PostgreSQL): when the database has the `citus` extension,
//! the migration step distributes Herald's tables once, after the last migration.
//!
//! Everything of a person is distributed on `workspace_id` and co-located, so each of a
//! workspace's statements, and each transaction of one workspace's writes, runs on the one
//! worker that holds its shard group. `workspace_id` and not the person: a person is found by
//! their id or email, which must be unique per workspace, and Citus enforces a unique key only
//! when it holds the distribution column; and a batch of events for many people is one
//! transaction, which would span shards otherwise. The cost is that one workspace lives on
//! one worker (docs/scaling.md).
//!
//! Workspace-level tables, small and read with every request, are reference tables (a copy on
//! every node). Tables of no person or workspace (`settings`, the engine log, leases, the
//! migrations table, delivery metrics, pending purges) stay on the coordinator as plain tables.

use herald_store::StoreError;
use postgres::Client;

use crate::pg::backend;

/// Tables of people's data, distributed on `workspace_id` beside `people`.
pub(crate) const DISTRIBUTED: &[&str] = &[
    "people",
    "activities",
    "devices",
    "suppressions",
    "anonymous_links",
    "event_index",
    "event_days",
    "segment_members",
    "segment_history",
    "segment_days",
    "enrollments",
    "runs",
    "deliveries",
    "objects",
    "relationships",
    "anonymous_relationships",
];

/// Workspace-level tables, copied to every node.
pub(crate) const REFERENCE: &[&str] = &[
    "workspaces",
    "users",
    "user_workspaces",
    "sessions",
    "segments",
    "campaigns",
    "retired_keys",
];

/// Whether the connection's database has the Citus extension.
pub(crate) fn present(client: &mut Client) -> Result<bool, StoreError> {
    Ok(client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')",
            &[],
        )
        .map_err(backend)?
        .get(0))
}

/// Makes every statement of the connection's transactions reach each worker over one
/// connection. A transaction that reached a worker over two (a statement on every shard runs on
/// several at once, and the writer's lookups by a run's or delivery's id alone are such
/// statements) is two transactions there, which Citus commits one after the other: a reader
/// could see a delivery marked failed and its run, changed in the same job, not yet (seen in
/// the integration suite). Over one connection, all of a worker's part commits at once.
pub(crate) fn one_connection_per_worker(client: &mut Client) -> Result<(), StoreError> {
    client
        .batch_execute(
            "SET citus.max_adaptive_executor_pool_size = 1;
             SET citus.multi_shard_modify_mode = 'sequential'",
        )
        .map_err(backend)
}

/// Distributes the schema's tables, unless they are already: in one transaction, under the
/// caller's migration lock, so that a crash leaves all of them distributed or none. On a schema
/// distributed by an earlier version, only the tables its later migrations made.
pub(crate) fn distribute(client: &mut Client) -> Result<(), StoreError> {
    if !present(client)? {
        return Ok(());
    }
    if placed(client, "people")? {
        return distribute_new_tables(client);
    }
    let mut tx = client.transaction().map_err(backend)?;
    // Citus adds foreign keys over one connection per node, so nothing may run in parallel
    // before them in this transaction.
    tx.batch_execute("SET LOCAL citus.multi_shard_modify_mode TO sequential")
        .map_err(backend)?;
    // A plain table that references a new reference table would be turned into a Citus local
    // table, which then cannot be distributed (its identity column forbids it): the foreign
    // keys are dropped first and added again once every table is in place.
    let keys: Vec<(String, String, String)> = tx
        .query(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
             FROM pg_constraint
             WHERE contype = 'f' AND connamespace = current_schema()::regnamespace
             ORDER BY conrelid::regclass::text, conname",
            &[],
        )
        .map_err(backend)?
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    for (table, name, _) in &keys {
        tx.batch_execute(&format!("ALTER TABLE {table} DROP CONSTRAINT {name}"))
            .map_err(backend)?;
    }
    // The names are this file's constants, written into the statements: the functions take a
    // `regclass`, which the client cannot send as a parameter.
    for table in REFERENCE {
        tx.batch_execute(&format!("SELECT create_reference_table('{table}')"))
            .map_err(backend)?;
    }
    for table in DISTRIBUTED {
        tx.batch_execute(&distribute_statement(table))
            .map_err(backend)?;
    }
    // Citus adds one constraint per statement.
    for (table, name, definition) in &keys {
        tx.batch_execute(&format!(
            "ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"
        ))
        .map_err(backend)?;
    }
    tx.commit().map_err(backend)
}

/// Tables left on the coordinator as plain tables: of no workspace, or written with every
/// commit where a copy on every node would cost each commit a round trip to all of them.
/// Nothing needs to be done to leave them there; the list is for the test that every table
/// has its place.
#[cfg(test)]
pub(crate) const LOCAL: &[&str] = &[
    "schema_migrations",
    "settings",
    "engine_log",
    "nodes",
    "partition_leases",
    "delivery_metrics",
    "segment_purges",
    "engine_questions",
    "engine_answers",
];

/// Whether Citus already places `table` (as distributed or reference table).
fn placed(client: &mut impl postgres::GenericClient, table: &str) -> Result<bool, StoreError> {
    Ok(client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = to_regclass($1))",
            &[&table],
        )
        .map_err(backend)?
        .get(0))
}

/// The statement that distributes one of [`DISTRIBUTED`] beside `people`.
fn distribute_statement(table: &str) -> String {
    let beside = if table == "people" {
        "default"
    } else {
        "people"
    };
    format!(
        "SELECT create_distributed_table('{table}', 'workspace_id', colocate_with => '{beside}')"
    )
}

/// Places the tables a migration added after the schema was distributed. Such tables reference
/// no other table (their migrations say why), so they need none of the foreign-key steps of
/// the first distribution.
fn distribute_new_tables(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(backend)?;
    tx.batch_execute("SET LOCAL citus.multi_shard_modify_mode TO sequential")
        .map_err(backend)?;
    for table in REFERENCE {
        if !placed(&mut tx, table)? {
            tx.batch_execute(&format!("SELECT create_reference_table('{table}')"))
                .map_err(backend)?;
        }
    }
    for table in DISTRIBUTED {
        if !placed(&mut tx, table)? {
            tx.batch_execute(&distribute_statement(table))
                .map_err(backend)?;
        }
    }
    tx.commit().map_err(backend)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::{DISTRIBUTED, LOCAL, REFERENCE};
    use crate::PostgresStore;
    use crate::test_database::TestSchema;

    /// Every table of the schema has its place on Citus, so that a table a later migration
    /// adds cannot be left out of the distribution without this test saying so. On Citus
    /// (`HERALD_TEST_CITUS=1`, set by the suite's Citus run, which fails without it), each
    /// table of people's data is distributed on its workspace beside `people`, and the
    /// workspace-level ones are reference tables; a second start distributes nothing again.
    #[test]
    fn every_table_has_its_place_on_citus() {
        let schema = TestSchema::new();
        drop(PostgresStore::open(&schema.options()).expect("the store opens"));
        PostgresStore::open(&schema.options()).expect("the store opens again");
        let mut client = crate::connection::connect(&schema.options()).expect("a connection");
        let tables: BTreeSet<String> = client
            .query(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()",
                &[],
            )
            .expect("the tables")
            .iter()
            .map(|row| row.get(0))
            .collect();
        let placed: BTreeSet<String> = DISTRIBUTED
            .iter()
            .chain(REFERENCE)
            .chain(LOCAL)
            .map(|table| (*table).to_owned())
            .collect();
        assert_eq!(tables, placed, "tables without a place on Citus, or gone");

        let citus = super::present(&mut client).expect("the extensions");
        if std::env::var("HERALD_TEST_CITUS").as_deref() == Ok("1") {
            assert!(citus, "HERALD_TEST_CITUS=1, but the database has no Citus");
        }
        if !citus {
            return;
        }
        let rows = client
            .query(
                "SELECT c.relname::text, p.partmethod::text,
                        coalesce(column_to_column_name(p.logicalrelid, p.partkey), ''),
                        p.colocationid
                 FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid
                 WHERE c.relnamespace = current_schema()::regnamespace",
                &[],
            )
            .expect("the distribution");
        let placement = |table: &str| {
            rows.iter()
                .find(|row| row.get::<_, String>(0) == table)
                .map(|row| {
                    (
                        row.get::<_, String>(1),
                        row.get::<_, String>(2),
                        row.get::<_, i32>(3),
                    )
                })
        };
        let (_, _, people_group) = placement("people").expect("people is distributed");
        for table in DISTRIBUTED {
            assert_eq!(
                placement(table),
                Some(("h".to_owned(), "workspace_id".to_owned(), people_group)),
                "{table}"
            );
        }
        for table in REFERENCE {
            let (method, _, _) = placement(table).unwrap_or_else(|| panic!("{table}"));
            assert_eq!(method, "n", "{table} is a reference table");
        }
        for table in LOCAL {
            assert_eq!(placement(table), None, "{table} stays on the coordinator");
        }
    }
}
