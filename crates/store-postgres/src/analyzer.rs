//! Keeps the planner's statistics up with tables that grow fast.
//!
//! Statements are prepared once per connection and keep the plan PostgreSQL made for them
//! while a table was small, until the table is analyzed again. Autovacuum analyzes at most once
//! a minute, so a store filling from empty ran every person lookup for its first minute with a
//! plan that scanned all of a workspace's people (measured: 800 events/s through the batch API,
//! the person lookup most of the database's time). This thread analyzes a table of the store's
//! schema once a fifth of it changed since its last analysis, which also invalidates the plans
//! made before; on a table past its first growth that is what autovacuum does anyway.

use std::sync::mpsc;
use std::time::Duration;

use herald_store::StoreError;

use crate::PostgresOptions;

/// How often the thread looks at the tables' change counts.
const EVERY: Duration = Duration::from_secs(2);

/// Starts the thread; it stops when the returned sender is dropped (with the store).
pub(crate) fn spawn(options: &PostgresOptions) -> Result<mpsc::Sender<()>, StoreError> {
    let mut client = crate::connection::connect(options)?;
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("herald-postgres-analyzer".into())
        .spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                if let Err(error) = analyze_changed(&mut client) {
                    tracing::warn!(error = %error, "cannot refresh the planner's statistics");
                }
            }
        })
        .map_err(|error| StoreError::Backend(format!("cannot start the analyzer: {error}")))?;
    Ok(stop)
}

fn analyze_changed(client: &mut postgres::Client) -> Result<(), postgres::Error> {
    let tables = client.query(
        "SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables
         WHERE schemaname = current_schema() AND n_mod_since_analyze > GREATEST(500, n_live_tup / 5)",
        &[],
    )?;
    for table in tables {
        let name: String = table.get(0);
        client.batch_execute(&format!("ANALYZE {name}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use herald_store::{NewPerson, NewWorkspace};
    use serde_json::Map;

    use crate::test_database::TestSchema;
    use crate::{PostgresOptions, PostgresStore};

    /// A server's store analyzes a table that filled from empty without waiting for
    /// autovacuum. On Citus (the suite's run there) it starts no analyzer at all.
    #[test]
    fn a_table_filled_from_empty_is_analyzed() {
        let schema = TestSchema::new();
        let store = PostgresStore::open(&PostgresOptions {
            node: true,
            ..schema.options()
        })
        .expect("the store opens");
        if store.citus {
            assert!(store._analyzer.is_none(), "an analyzer runs on Citus");
            return;
        }
        let store = herald_store::StoreHandle::new(std::sync::Arc::new(store));
        store
            .write_blocking(|tx| {
                let workspace = tx.create_workspace(&NewWorkspace {
                    name: "w".into(),
                    site_id: "site".into(),
                    api_key_hash: "key".into(),
                    app_api_key_hash: "app".into(),
                    created_at: 1,
                })?;
                for n in 0..2_000 {
                    tx.insert_person(&NewPerson {
                        workspace_id: workspace.id,
                        cio_id: format!("cio{n}"),
                        id: Some(format!("p{n}")),
                        email: None,
                        attributes: Map::new(),
                        created_at: 1,
                    })?;
                }
                Ok::<_, herald_store::StoreError>(())
            })
            .expect("the store works")
            .expect("people stored");
        let mut client = crate::connection::connect(&schema.options()).expect("a connection");
        // The statistics of a commit reach pg_stat_user_tables within a second or so, and the
        // analyzer looks every two seconds: wait for the effect, not for a time.
        for _ in 0..300 {
            let analyzed: bool = client
                .query_one(
                    "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables
                     WHERE schemaname = current_schema() AND relname = 'people'",
                    &[],
                )
                .expect("the table's statistics")
                .get(0);
            if analyzed {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the people table was not analyzed within 30 s");
    }
}
