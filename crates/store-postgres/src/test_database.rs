//! A schema of its own for each test, in the database `HERALD_TEST_DATABASE_URL` names (the
//! machine's PostgreSQL by default). A test fails, never skips, when the server cannot be
//! reached. Public for the tests of other crates that run on PostgreSQL (the dispatcher's).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::PostgresOptions;

const DEFAULT_URL: &str = "host=127.0.0.1 user=postgres dbname=test";

/// A fresh schema, dropped with everything in it when the test ends.
pub struct TestSchema {
    /// The database, as `HERALD_TEST_DATABASE_URL` or the default names it.
    pub url: String,
    /// The schema's name.
    pub name: String,
}

impl TestSchema {
    pub fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let url = std::env::var("HERALD_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.into());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        let name = format!(
            "herald_test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Self { url, name }
    }

    pub fn options(&self) -> PostgresOptions {
        PostgresOptions {
            schema: Some(self.name.clone()),
            readers: 2,
            ..PostgresOptions::new(self.url.clone())
        }
    }
}

impl Default for TestSchema {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let url = self.url.clone();
        let sql = drop_schema_sql(&self.name);
        // On a thread of its own: the client cannot run inside a test's runtime.
        let _ = std::thread::spawn(move || {
            if let Ok(mut client) = url
                .parse::<postgres::Config>()
                .and_then(|config| config.connect(postgres::NoTls))
            {
                let _ = client.batch_execute(&sql);
            }
        })
        .join();
    }
}

/// The statements that drop `schema` with everything in it, under the migration lock: on
/// Citus, dropping a schema's distributed tables while another test's store distributes its
/// own can end in a distributed deadlock, which Citus breaks by cancelling the distribution,
/// and that test's store fails to open (seen in CI). Migrations, the only other DDL, run under
/// this lock too. The lock timeout starts after the lock is held, since a distribution takes
/// seconds on Citus.
pub fn drop_schema_sql(schema: &str) -> String {
    format!(
        "SELECT pg_advisory_lock({lock}); SET lock_timeout = '5s'; \
         DROP SCHEMA IF EXISTS {schema} CASCADE; SELECT pg_advisory_unlock({lock})",
        lock = crate::migrations::LOCK,
    )
}
