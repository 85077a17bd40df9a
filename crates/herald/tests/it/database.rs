//! Raw SQL on the suite's backend for a data dir (see `helpers::herald`), for tests that change
//! stored rows behind the server's back: damage an older version could leave, events removed
//! so that only the engine's image still knows them. The statements are written to run alike
//! on SQLite and PostgreSQL.

use std::path::Path;
use std::process::Command;

use crate::helpers::postgres_for;

/// JSON nested deeper than any read allows (200 levels, past the decoder's 128): what damage,
/// or an older Herald, could leave in a stored row.
pub fn too_deep_json() -> String {
    format!("{}{}", "[".repeat(200), "]".repeat(200))
}

/// Runs one statement; returns how many rows it changed.
pub fn execute(data_dir: &Path, sql: &str) -> u64 {
    match postgres_for(data_dir) {
        None => {
            let database = rusqlite::Connection::open(data_dir.join("herald.db")).unwrap();
            database.execute(sql, []).unwrap() as u64
        }
        // psql prints the command's tag (`UPDATE 1`), whose last word is the count.
        Some(_) => psql(data_dir, sql)
            .split_whitespace()
            .last()
            .and_then(|count| count.parse().ok())
            .unwrap_or_else(|| panic!("no row count from {sql:?}")),
    }
}

/// Runs a query for one integer.
pub fn query_i64(data_dir: &Path, sql: &str) -> i64 {
    match postgres_for(data_dir) {
        None => {
            let database = rusqlite::Connection::open(data_dir.join("herald.db")).unwrap();
            database.query_row(sql, [], |row| row.get(0)).unwrap()
        }
        Some(_) => psql(data_dir, sql)
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no integer from {sql:?}")),
    }
}

/// Runs `sql` with psql on the data dir's schema; returns what it printed.
fn psql(data_dir: &Path, sql: &str) -> String {
    let (url, schema) = postgres_for(data_dir).expect("a PostgreSQL run");
    psql_in(&url, &schema, sql)
}

/// Runs `sql` with psql in `schema` of the database at `url`; returns what it printed.
pub fn psql_in(url: &str, schema: &str, sql: &str) -> String {
    let output = Command::new("psql")
        .args([url, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGOPTIONS", format!("-c search_path={schema}"))
        .output()
        .expect("psql runs");
    assert!(
        output.status.success(),
        "psql failed on {sql:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("psql prints UTF-8")
}
