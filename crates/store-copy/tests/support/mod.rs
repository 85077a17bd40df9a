//! What the copy's tests share: a fresh PostgreSQL schema per test, an embedded install filled
//! with awkward values through raw SQL, and every row of both sides in one comparable form.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use herald_store_copy::CopyOptions;
use rusqlite::{Connection, params};

/// The PostgreSQL store's test schema (`HERALD_TEST_DATABASE_URL`, dropped when the test ends;
/// a test fails, never skips, when the server cannot be reached), with what the copy's tests
/// need of it.
pub struct TestSchema(herald_store_postgres::test_database::TestSchema);

impl std::ops::Deref for TestSchema {
    type Target = herald_store_postgres::test_database::TestSchema;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl TestSchema {
    pub fn new() -> Self {
        Self(herald_store_postgres::test_database::TestSchema::new())
    }

    pub fn options(&self, source: &Path) -> CopyOptions {
        CopyOptions {
            target_schema: Some(self.name.clone()),
            ..CopyOptions::new(source, self.url.clone())
        }
    }

    /// A connection whose search path is the schema.
    pub fn client(&self) -> postgres::Client {
        let mut config: postgres::Config = self.url.parse().unwrap();
        config.options(&format!("-c search_path={}", self.name));
        config
            .connect(postgres::NoTls)
            .expect("PostgreSQL is reachable")
    }
}

/// An embedded install at the current schema in a temporary folder.
pub struct Install {
    pub dir: tempfile::TempDir,
}

impl Install {
    /// A new, empty install.
    pub fn empty() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let options = herald_store_sqlite::SqliteOptions::new(dir.path().join("herald.db"));
        drop(herald_store_sqlite::SqliteStore::open(&options).expect("the store opens"));
        Self { dir }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("herald.db")
    }

    pub fn connection(&self) -> Connection {
        Connection::open(self.path()).unwrap()
    }

    /// An install with rows in every table, `people` people and `events` events, values that
    /// need escaping in `COPY` text, NULLs, booleans, blobs of every byte, ids with gaps, an
    /// engine log trimmed past its last entries, and the day counts left to a backfill.
    pub fn filled(site: &str, people: i64, events: i64) -> Self {
        let install = Self::empty();
        let db = install.connection();
        fill(&db, site, people, events);
        install
    }
}

/// Text that needs every escape of `COPY` text, and some that needs none.
pub const AWKWARD: &str = "tab\there, new\nline, cr\rhere, back\\slash, \\N, \\., é ✓ 😀";

fn fill(db: &Connection, site: &str, people: i64, events: i64) {
    let tx = db.unchecked_transaction().unwrap();
    for (id, name, sealed) in [(1, "default", Some("sealed\tkeys")), (3, "other", None)] {
        tx.execute(
            "INSERT INTO workspaces (id, name, site_id, api_key_hash, app_api_key_hash, created_at, keys_sealed)
             VALUES (?1, ?2, ?3, ?4, ?5, 1700000000, ?6)",
            params![id, name, format!("{site}-{id}"), format!("hash-{site}-{id}"), format!("app-{site}-{id}"), sealed],
        )
        .unwrap();
    }
    for seq in 1..=people {
        let workspace = if seq % 10 == 0 { 3 } else { 1 };
        let email = (seq % 3 != 0).then(|| format!("P{seq}@Example.com"));
        let email_lower = email.as_ref().map(|email| email.to_lowercase());
        let id = (seq % 4 != 0)
            .then(|| format!("person {seq}\t{}", if seq % 7 == 0 { AWKWARD } else { "" }));
        let attributes = serde_json::json!({"plan": "pro", "note": AWKWARD, "n": seq}).to_string();
        let deleted = (seq % 50 == 0).then_some(1_700_000_500i64);
        tx.execute(
            "INSERT INTO people (seq, workspace_id, cio_id, id, email, email_lower, attributes, created_at, updated_at, deleted_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1700000000, 1700000100, ?8)",
            params![seq * 2, workspace, format!("cio{seq:06}"), id, email, email_lower, attributes, deleted],
        )
        .unwrap();
    }
    let names = ["purchased", "signed\tup", "back\\slash", "viewed"];
    for seq in 1..=events {
        let person = (seq % 9 != 0).then_some((seq % people.max(1) + 1) * 2);
        let anonymous = person.is_none().then(|| format!("anon-{}", seq % 5));
        let kind = if seq % 11 == 0 { "page" } else { "event" };
        let name = names[(seq % 4) as usize];
        let data = serde_json::json!({"price": seq % 100, "text": AWKWARD}).to_string();
        let event_id = (seq % 2 == 0).then(|| format!("01HEVENT{seq:010}"));
        tx.execute(
            "INSERT INTO activities (seq, workspace_id, person_seq, anonymous_id, kind, name, data, timestamp, received_at, event_id, may_trigger)
             VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![seq + 100, person, anonymous, kind, name, data, 1_700_000_000 + seq * 977, 1_700_000_000 + seq, event_id, seq % 3 == 0],
        )
        .unwrap();
    }
    // The day counts of these events are left to a backfill, as a migration leaves them.
    tx.execute(
        "INSERT INTO backfills (name, position, boundary) SELECT 'event_days', 0, max(seq) FROM activities HAVING max(seq) IS NOT NULL",
        [],
    )
    .unwrap();
    tx.execute("DELETE FROM event_days", []).unwrap();
    for (token, person) in [("tok\t1", 2), ("tok\\2", 4), ("tok3", 2)] {
        tx.execute(
            "INSERT INTO devices (workspace_id, token, person_seq, platform, last_used, attributes)
             VALUES (1, ?1, ?2, 'ios', NULL, '{\"a\":\"\\n\"}')",
            params![token, person],
        )
        .unwrap();
    }
    tx.execute_batch(
        "INSERT INTO suppressions VALUES (1, 'id', 'gone\tperson', 1700000000), (1, 'email', 'x@y.z', 1700000001);
         INSERT INTO anonymous_links VALUES (1, 'anon-1', 2, 1700000002), (1, 'anon\\2', 4, 1700000003);
         INSERT INTO event_index VALUES (1, 'event', 'purchased', 10, 1, 2, '[\"price\"]'), (1, 'event', 'signed\tup', 1, 1, 1, '[]');
         INSERT INTO delivery_metrics (seq, source, delivery_id, metric, timestamp, received_at, data)
             VALUES (5, 'api', 'd1', 'opened', 1, 2, '{}'), (9, 'pixel', 'd2', 'clicked', 3, 4, '{\"href\":\"a\\tb\"}');
         INSERT INTO settings VALUES ('engine_log_trimmed', '2'), ('webhook_signing_secret', 'se\\cret'), ('dev_clock_now', '1800000000');
         INSERT INTO segments (id, workspace_id, name, description, definition, state, progress, created_at, updated_at)
             VALUES (1, 1, 'Buyers', 'with\ttab', '{\"event\":{\"name\":\"purchased\"}}', 'finished', NULL, 1, 2),
                    (2, 1, 'Manual', '', NULL, 'finished', 100, 1, 2),
                    (4, 3, 'Deleted later', '', NULL, 'finished', NULL, 1, 2);
         DELETE FROM segments WHERE id = 4;
         INSERT INTO segment_purges VALUES (4);
         INSERT INTO segment_members VALUES (1, 2, 100), (1, 4, 101), (2, 6, 102), (4, 2, 103);
         INSERT INTO segment_history (seq, segment_id, person_seq, entered, at, cause, origin)
             VALUES (1, 1, 2, 1, 100, '{\"event\":\"purchased\"}', 'build'), (2, 1, 4, 1, 101, '{}', 'live'),
                    (3, 1, 8, 1, 90000, '{}', 'live'), (4, 1, 8, 0, 190000, '{}', 'live');
         INSERT INTO backfills (name, position, boundary) VALUES ('segment_days', 0, 4);
         INSERT INTO campaigns (id, workspace_id, name, definition, state, created_at, updated_at)
             VALUES (1, 1, 'Receipt', '{\"steps\":[]}', 'running', 1, 2), (7, 1, 'Old', '{}', 'archived', 1, 2);
         DELETE FROM campaigns WHERE id = 7;
         INSERT INTO runs (id, workspace_id, campaign_id, person_seq, run_key, trigger, step, due_at, state, attempts, created_at, updated_at)
             VALUES (1, 1, 1, 2, 'k1', '{\"event\":1}', 1, 5, 'done', 1, 1, 2), (2, 1, 1, 4, 'k\t2', '{}', 0, 6, 'active', 0, 1, 2);
         INSERT INTO enrollments VALUES (1, 2, 1), (1, 4, 2);
         INSERT INTO deliveries VALUES ('d1', 1, 1, 1, 2, 0, 'webhook', 'sent', '{\"body\":\"a\\nb\"}', 'idem1', 1, NULL, 1, 2, 3),
                                       ('d2', 1, 1, 2, 4, 0, 'email', 'failed', '{}', 'idem2', 6, 'refused\tby host', 1, 2, NULL);
         INSERT INTO users (id, email, password_hash, admin, created_at) VALUES (1, 'a@b.c', '$argon2id$v=19$x', 1, 1), (2, 'd@e.f', 'h', 0, 2);
         INSERT INTO user_workspaces VALUES (2, 1);
         INSERT INTO sessions VALUES ('hash1', 1, 'csrf\\1', 1, 99), ('hash2', 2, 'csrf2', 1, 99);",
    )
    .unwrap();
    // Every byte in the engine log; its last entries trimmed, so its end is past its largest.
    for seq in 1..=6i64 {
        let inputs: Vec<u8> = (0..=255u8).cycle().skip(seq as usize).take(300).collect();
        tx.execute(
            "INSERT INTO engine_log (seq, workspace_id, inputs) VALUES (?1, 1, ?2)",
            params![seq, inputs],
        )
        .unwrap();
    }
    tx.execute("DELETE FROM engine_log WHERE seq IN (1, 5, 6)", [])
        .unwrap();
    tx.commit().unwrap();
}

/// A table's rows as text, sorted: integers in decimal, booleans as `true`/`false`, bytes as
/// `\x` and hex, as PostgreSQL's `::text` writes them.
pub type Rows = Vec<Vec<Option<String>>>;

/// The columns of each table with whether each is a boolean or bytes on PostgreSQL.
pub fn columns(client: &mut postgres::Client, table: &str) -> Vec<(String, String)> {
    client
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY column_name",
            &[&table],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

pub fn target_rows(client: &mut postgres::Client, table: &str) -> Rows {
    let columns = columns(client, table);
    let list = columns
        .iter()
        .map(|(name, _)| format!("\"{name}\"::text"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut rows: Rows = client
        .query(&format!("SELECT {list} FROM \"{table}\""), &[])
        .unwrap()
        .iter()
        .map(|row| (0..columns.len()).map(|at| row.get(at)).collect())
        .collect();
    rows.sort();
    rows
}

/// The tables whose `workspace_id` only PostgreSQL has, with the table and column of the row
/// it comes from (its `id`).
pub const WORKSPACE_FROM: &[(&str, &str, &str)] = &[
    ("segment_members", "segments", "segment_id"),
    ("segment_history", "segments", "segment_id"),
    ("segment_days", "segments", "segment_id"),
    ("segment_purges", "segments", "segment_id"),
    ("enrollments", "campaigns", "campaign_id"),
];

/// The rows of `table` in SQLite with PostgreSQL's columns: a table in `WORKSPACE_FROM` with
/// its parent's `workspace_id`, and without the rows whose parent is gone (which the copy
/// leaves behind).
pub fn source_rows(db: &Connection, client: &mut postgres::Client, table: &str) -> Rows {
    use rusqlite::types::ValueRef;
    let columns = columns(client, table);
    let parent = WORKSPACE_FROM
        .iter()
        .find(|(child, _, _)| *child == table)
        .map(|&(_, parent, key)| (parent, key));
    let list = columns
        .iter()
        .map(|(name, _)| match parent {
            Some(_) if name == "workspace_id" => "p.workspace_id".to_owned(),
            _ => format!("c.\"{name}\""),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let from = match parent {
        Some((parent, key)) => {
            format!("\"{table}\" c JOIN \"{parent}\" p ON p.id = c.\"{key}\"")
        }
        None => format!("\"{table}\" c"),
    };
    let mut statement = db.prepare(&format!("SELECT {list} FROM {from}")).unwrap();
    let mut rows: Rows = statement
        .query_map([], |row| {
            Ok(columns
                .iter()
                .enumerate()
                .map(|(at, (_, kind))| match row.get_ref(at).unwrap() {
                    ValueRef::Null => None,
                    ValueRef::Integer(value) if kind == "boolean" => Some((value != 0).to_string()),
                    ValueRef::Integer(value) => Some(value.to_string()),
                    ValueRef::Text(text) => Some(String::from_utf8(text.to_vec()).unwrap()),
                    ValueRef::Blob(bytes) => Some(format!(
                        "\\x{}",
                        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
                    )),
                    ValueRef::Real(value) => Some(value.to_string()),
                })
                .collect())
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows.sort();
    rows
}

/// Every table the copy moves.
pub const TABLES: &[&str] = &[
    "workspaces",
    "people",
    "activities",
    "devices",
    "suppressions",
    "anonymous_links",
    "event_index",
    "event_days",
    "delivery_metrics",
    "settings",
    "segments",
    "segment_members",
    "segment_history",
    "segment_days",
    "segment_purges",
    "campaigns",
    "runs",
    "enrollments",
    "deliveries",
    "engine_log",
    "users",
    "user_workspaces",
    "sessions",
];

/// Asserts that every table holds the same rows on both sides (`settings` on PostgreSQL
/// without the engine log's end, which only PostgreSQL keeps; the tables in `WORKSPACE_FROM`
/// with their parent's workspace and without the rows whose parent is gone).
pub fn assert_same_rows(install: &Install, schema: &TestSchema) {
    let db = install.connection();
    let mut client = schema.client();
    for table in TABLES {
        let mut target = target_rows(&mut client, table);
        if *table == "settings" {
            target.retain(|row| row[0].as_deref() != Some("engine_log_end"));
        }
        let in_sqlite: i64 = db
            .query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |row| {
                row.get(0)
            })
            .unwrap();
        assert!(in_sqlite > 0, "{table} has rows in the source");
        let source = source_rows(&db, &mut client, table);
        // A purge's segment is deleted by definition: no row of `segment_purges` is copied.
        assert_eq!(
            source.is_empty(),
            *table == "segment_purges",
            "{table} has rows to copy"
        );
        assert_eq!(source, target, "{table}");
    }
}

/// The schema's indexes, their definitions without the schema's name, sorted.
pub fn indexes(schema: &TestSchema) -> Vec<String> {
    let mut client = schema.client();
    let mut definitions: Vec<String> = client
        .query(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get::<_, String>(0).replace(&schema.name, "SCHEMA"))
        .collect();
    definitions.sort();
    definitions
}

/// The indexes a freshly migrated schema has.
pub fn fresh_indexes() -> Vec<String> {
    let fresh = TestSchema::new();
    drop(
        herald_store_postgres::PostgresStore::open(&herald_store_postgres::PostgresOptions {
            schema: Some(fresh.name.clone()),
            ..herald_store_postgres::PostgresOptions::new(fresh.url.clone())
        })
        .expect("a fresh schema"),
    );
    indexes(&fresh)
}
