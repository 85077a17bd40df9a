//! The copy against the machine's PostgreSQL: every row arrives as it was, a copy stopped
//! anywhere goes on without a duplicate or a gap, and a target that is not ours is refused.

mod support;

use herald_store_copy::{CopyError, CopyOptions, Outcome, Quiet, copy};
use support::{Install, TestSchema, assert_same_rows, fresh_indexes, indexes};

/// The next value an identity hands out (which takes it).
fn next_value(schema: &TestSchema, table: &str, column: &str) -> i64 {
    query_i64(
        schema,
        &format!("SELECT nextval(pg_get_serial_sequence('{table}', '{column}'))"),
    )
}

fn query_i64(schema: &TestSchema, sql: &str) -> i64 {
    schema.client().query_one(sql, &[]).unwrap().get(0)
}

fn setting(schema: &TestSchema, key: &str) -> Option<String> {
    schema
        .client()
        .query_opt("SELECT value FROM settings WHERE key = $1", &[&key])
        .unwrap()
        .map(|row| row.get(0))
}

fn has_table(schema: &TestSchema, table: &str) -> bool {
    schema
        .client()
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_name = $1)",
            &[&table],
        )
        .unwrap()
        .get(0)
}

#[test]
fn every_row_arrives_as_it_was_and_identities_move_past_the_copied_ones() {
    let install = Install::filled("a", 300, 1200);
    let schema = TestSchema::new();
    let options = CopyOptions {
        chunk_rows: 97,
        ..schema.options(&install.path())
    };
    let report = copy(&options, &mut Quiet).expect("the copy succeeds");
    assert_eq!(report.outcome, Outcome::Copied);
    assert!(
        report
            .tables
            .iter()
            .all(|count| count.source == count.target)
    );
    assert_same_rows(&install, &schema);
    assert!(!has_table(&schema, "copy_progress"), "dropped once checked");
    assert!(!has_table(&schema, "copy_indexes"));
    let rebuilt = indexes(&schema);
    assert!(rebuilt.len() > 30, "{rebuilt:?}");
    assert_eq!(rebuilt, fresh_indexes(), "every index set aside is back");

    // The backfills were finished in the source before it was copied.
    let backfills: i64 = install
        .connection()
        .query_row("SELECT count(*) FROM backfills", [], |row| row.get(0))
        .unwrap();
    assert_eq!(backfills, 0);
    let event_days: i64 = install
        .connection()
        .query_row("SELECT sum(count) FROM event_days", [], |row| row.get(0))
        .unwrap();
    assert_eq!(event_days, 1200, "every event is counted once");

    // Ids go on after the largest copied, or after the last SQLite handed out when larger.
    assert_eq!(next_value(&schema, "people", "seq"), 601);
    assert_eq!(next_value(&schema, "activities", "seq"), 1301);
    assert_eq!(
        next_value(&schema, "segments", "id"),
        5,
        "segment 4 was deleted"
    );
    assert_eq!(
        next_value(&schema, "campaigns", "id"),
        8,
        "campaign 7 was deleted"
    );
    assert_eq!(next_value(&schema, "engine_log", "seq"), 7);
    assert_eq!(next_value(&schema, "workspaces", "id"), 4);
    assert_eq!(next_value(&schema, "users", "id"), 3);
    assert_eq!(next_value(&schema, "delivery_metrics", "seq"), 10);
    assert_eq!(next_value(&schema, "segment_history", "seq"), 5);
    assert_eq!(next_value(&schema, "runs", "id"), 3);
    // The log was trimmed past its largest entry (4): its end (6) is kept.
    assert_eq!(setting(&schema, "engine_log_end").as_deref(), Some("6"));

    // A rerun finds the copy complete and only checks it.
    let again = copy(&options, &mut Quiet).expect("a rerun succeeds");
    assert_eq!(again.outcome, Outcome::AlreadyComplete);
    assert_eq!(again.rows_copied, 0);
    assert_eq!(again.tables, report.tables);
}

#[test]
fn a_copy_stopped_anywhere_goes_on_without_duplicates_or_gaps() {
    let install = Install::filled("b", 200, 700);
    let schema = TestSchema::new();
    let mut runs = 0;
    let mut copied = 0;
    loop {
        // Budgets that end inside tables, at their ends and across the small ones.
        let budget = [131, 1, 250, 57, 3][runs % 5];
        let options = CopyOptions {
            chunk_rows: 40,
            stop_after_rows: Some(budget),
            ..schema.options(&install.path())
        };
        runs += 1;
        match copy(&options, &mut Quiet) {
            Err(CopyError::Stopped(rows)) => {
                assert_eq!(rows, budget);
                copied += rows;
                assert!(has_table(&schema, "copy_progress"));
            }
            Ok(report) => {
                assert_eq!(report.outcome, Outcome::Resumed);
                copied += report.rows_copied;
                let total: u64 = report.tables.iter().map(|count| count.source).sum();
                assert_eq!(copied, total, "every row written once");
                break;
            }
            Err(other) => panic!("run {runs}: {other}"),
        }
        assert!(runs < 100, "the copy never finished");
    }
    assert!(runs > 5, "the copy was stopped several times");
    assert_same_rows(&install, &schema);
    assert!(!has_table(&schema, "copy_progress"));
    assert_eq!(indexes(&schema), fresh_indexes());
}

#[test]
fn a_target_with_data_and_no_copy_under_way_is_refused_and_left_as_it_was() {
    let install = Install::filled("c", 20, 50);
    let other = Install::filled("d", 5, 5);
    let schema = TestSchema::new();
    copy(&schema.options(&other.path()), &mut Quiet).expect("the other install is copied");
    let before = query_i64(&schema, "SELECT count(*) FROM people");

    let error = copy(&schema.options(&install.path()), &mut Quiet).unwrap_err();
    assert!(matches!(error, CopyError::TargetNotEmpty(_)), "{error}");
    let message = error.to_string();
    assert!(message.contains("already holds data"), "{message}");
    assert!(message.contains("workspaces"), "{message}");
    assert!(message.contains("--to-schema"), "{message}");
    assert!(!message.contains(&schema.url), "{message}");
    assert!(!has_table(&schema, "copy_progress"), "nothing written");
    assert_eq!(query_i64(&schema, "SELECT count(*) FROM people"), before);
}

#[test]
fn a_copy_under_way_refuses_another_source_and_a_changed_one() {
    let install = Install::filled("e", 30, 60);
    let schema = TestSchema::new();
    let stopped = CopyOptions {
        stop_after_rows: Some(40),
        ..schema.options(&install.path())
    };
    assert!(matches!(
        copy(&stopped, &mut Quiet),
        Err(CopyError::Stopped(40))
    ));

    let other = Install::filled("f", 30, 60);
    let error = copy(&schema.options(&other.path()), &mut Quiet).unwrap_err();
    assert!(matches!(error, CopyError::AnotherInstall), "{error}");

    install
        .connection()
        .execute(
            "INSERT INTO activities (workspace_id, kind, data, timestamp, received_at) VALUES (1, 'event', '{}', 1, 1)",
            [],
        )
        .unwrap();
    let error = copy(&schema.options(&install.path()), &mut Quiet).unwrap_err();
    assert!(matches!(error, CopyError::SourceChanged(_)), "{error}");
    assert!(error.to_string().contains("activities"), "{error}");
}

#[test]
fn a_target_a_server_runs_on_is_refused() {
    let install = Install::filled("g", 3, 3);
    let schema = TestSchema::new();
    let node =
        herald_store_postgres::PostgresStore::open(&herald_store_postgres::PostgresOptions {
            schema: Some(schema.name.clone()),
            node: true,
            ..herald_store_postgres::PostgresOptions::new(schema.url.clone())
        })
        .expect("a server node opens the schema");
    let error = copy(&schema.options(&install.path()), &mut Quiet).unwrap_err();
    assert!(matches!(error, CopyError::TargetBusy), "{error}");
    drop(node);
}

#[test]
fn a_missing_source_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let schema = TestSchema::new();
    let error = copy(&schema.options(&dir.path().join("herald.db")), &mut Quiet).unwrap_err();
    assert!(matches!(error, CopyError::NoSource(_)), "{error}");
    assert!(!dir.path().join("herald.db").exists(), "nothing created");
}

#[test]
fn an_empty_install_copies_to_an_empty_schema() {
    let install = Install::empty();
    let schema = TestSchema::new();
    let report = copy(&schema.options(&install.path()), &mut Quiet).expect("copied");
    assert_eq!(report.rows_copied, 0);
    assert!(report.tables.iter().all(|count| count.target == 0));
    assert!(!has_table(&schema, "copy_progress"));
}
