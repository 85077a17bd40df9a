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

/// The rows `sql` selects, every column a `BIGINT`.
fn query_rows(schema: &TestSchema, sql: &str) -> Vec<Vec<i64>> {
    schema
        .client()
        .query(sql, &[])
        .unwrap()
        .iter()
        .map(|row| (0..row.len()).map(|at| row.get(at)).collect())
        .collect()
}

#[test]
fn rows_of_segments_and_campaigns_take_their_workspace_and_those_of_deleted_ones_stay_behind() {
    let install = Install::empty();
    // Two workspaces, with ids chosen so that a join on the wrong parent or column shows: the
    // segment 1 is in workspace 3 and the campaign 1 in workspace 1, the segment 3 in
    // workspace 1 and no campaign 3 left. The deleted segment (2) and campaign (3) are in the
    // middle of their children's key order, so a resumed read steps over their rows.
    install
        .connection()
        .execute_batch(
            "INSERT INTO workspaces (id, name, site_id, api_key_hash, app_api_key_hash, created_at)
                 VALUES (1, 'one', 's1', 'h1', 'a1', 1), (3, 'three', 's3', 'h3', 'a3', 1);
             INSERT INTO segments (id, workspace_id, name, description, definition, state, progress, created_at, updated_at)
                 VALUES (1, 3, 'In three', '', NULL, 'finished', NULL, 1, 2),
                        (2, 1, 'Deleted', '', NULL, 'finished', NULL, 1, 2),
                        (3, 1, 'In one', '', NULL, 'finished', NULL, 1, 2);
             DELETE FROM segments WHERE id = 2;
             INSERT INTO segment_purges VALUES (2);
             INSERT INTO segment_members VALUES (1, 10, 100), (1, 12, 101), (2, 10, 102), (2, 14, 103), (3, 10, 104);
             INSERT INTO segment_history (seq, segment_id, person_seq, entered, at, cause, origin)
                 VALUES (1, 1, 10, 1, 100, '{}', 'build'), (2, 2, 10, 1, 100, '{}', 'build'),
                        (3, 3, 10, 1, 100, '{}', 'live'), (4, 2, 14, 0, 200, '{}', 'live');
             INSERT INTO segment_days VALUES (1, 0, 2, 0), (2, 0, 2, 1), (3, 0, 1, 0);
             INSERT INTO campaigns (id, workspace_id, name, definition, state, created_at, updated_at)
                 VALUES (1, 1, 'In one', '{}', 'running', 1, 2), (2, 3, 'In three', '{}', 'running', 1, 2),
                        (3, 1, 'Deleted', '{}', 'archived', 1, 2);
             DELETE FROM campaigns WHERE id = 3;
             INSERT INTO enrollments VALUES (1, 10, 1), (2, 12, 2), (3, 10, 3), (2, 14, 4);",
        )
        .unwrap();
    let schema = TestSchema::new();

    // One row per chunk and small budgets, so that runs stop and go on around skipped rows.
    let mut runs = 0;
    let report = loop {
        let options = CopyOptions {
            chunk_rows: 1,
            stop_after_rows: Some([1, 2, 3][runs % 3]),
            ..schema.options(&install.path())
        };
        runs += 1;
        match copy(&options, &mut Quiet) {
            Err(CopyError::Stopped(_)) => assert!(runs < 100, "the copy never finished"),
            Ok(report) => break report,
            Err(other) => panic!("run {runs}: {other}"),
        }
    };
    assert!(runs > 3, "the copy was stopped several times");

    // The counts compared are of the rows with a parent, on both sides.
    let counts: Vec<(&str, u64, u64)> = report
        .tables
        .iter()
        .filter(|count| count.table.starts_with("segment_") || count.table == "enrollments")
        .map(|count| (count.table, count.source, count.target))
        .collect();
    assert_eq!(
        counts,
        [
            ("segment_members", 3, 3),
            ("segment_history", 2, 2),
            ("segment_days", 2, 2),
            ("segment_purges", 0, 0),
            ("enrollments", 3, 3),
        ]
    );

    assert_eq!(
        query_rows(
            &schema,
            "SELECT workspace_id, segment_id, person_seq, since FROM segment_members ORDER BY segment_id, person_seq"
        ),
        [
            vec![3, 1, 10, 100],
            vec![3, 1, 12, 101],
            vec![1, 3, 10, 104]
        ]
    );
    assert_eq!(
        query_rows(
            &schema,
            "SELECT workspace_id, seq, segment_id FROM segment_history ORDER BY seq"
        ),
        [vec![3, 1, 1], vec![1, 3, 3]]
    );
    assert_eq!(
        query_rows(
            &schema,
            "SELECT workspace_id, segment_id, day, entered FROM segment_days ORDER BY segment_id"
        ),
        [vec![3, 1, 0, 2], vec![1, 3, 0, 1]]
    );
    assert_eq!(query_i64(&schema, "SELECT count(*) FROM segment_purges"), 0);
    assert_eq!(
        query_rows(
            &schema,
            "SELECT workspace_id, campaign_id, person_seq, created_at FROM enrollments ORDER BY campaign_id, person_seq"
        ),
        [vec![1, 1, 10, 1], vec![3, 2, 12, 2], vec![3, 2, 14, 4]]
    );
    // The skipped rows are still in the source, which the copy never writes to.
    let left: i64 = install
        .connection()
        .query_row(
            "SELECT (SELECT count(*) FROM segment_members WHERE segment_id = 2)
                  + (SELECT count(*) FROM enrollments WHERE campaign_id = 3)",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(left, 3);

    // A rerun checks the counts again and finds them equal.
    let again = copy(&schema.options(&install.path()), &mut Quiet).expect("a rerun succeeds");
    assert_eq!(again.outcome, Outcome::AlreadyComplete);
    assert_eq!(again.tables, report.tables);
}
