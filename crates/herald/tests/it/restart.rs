//! Restarts from the segment engine's image (issue 12): the image plus the engine log after it
//! give exactly what the history gives, deadlines in flight included; a damaged or stale image
//! is set aside for the history.

use serde_json::json;

use crate::helpers::{Server, TestApp, event, identify, set_clock};
use crate::segments::{count, create_segment, members};

const START: i64 = 1_800_000_000;
const HOUR: i64 = 3_600;

/// Only the image written right after the first start (an empty engine at log position 0):
/// everything since is in the engine log alone.
fn args(now: i64) -> Vec<String> {
    vec![
        format!("--dev-clock={now}"),
        "--engine-image-every=1h".into(),
    ]
}

fn start(data_dir: &std::path::Path, now: i64) -> Server {
    let args = args(now);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start(data_dir, &args)
}

async fn app() -> TestApp {
    let args = args(START);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    TestApp::spawn_with(&args).await
}

/// Removes every stored `login` event behind the server's back: a load from history can no
/// longer count them, while an engine from its image and log still does.
fn forget_logins(data_dir: &std::path::Path) {
    let removed = crate::database::execute(data_dir, "DELETE FROM activities WHERE name = 'login'");
    assert!(removed > 0);
}

/// Waits until the image exists (it is written on the engine's thread after the load).
async fn wait_for_image(data_dir: &std::path::Path) {
    for _ in 0..400 {
        if data_dir.join("engine.image").exists() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no engine image was written");
}

async fn history_setup(app: &TestApp) -> (i64, i64, i64) {
    let twice = create_segment(
        app,
        Some(json!({"event": {"name": "login", "count": {"at_least": 2}}})),
    )
    .await;
    let recent = create_segment(
        app,
        Some(json!({"event": {"name": "seen", "within": {"hours": 2}}})),
    )
    .await;
    let manual = create_segment(app, None).await;
    identify(app, "ann", json!({"plan": "pro"})).await;
    event(app, "ann", json!({"name": "login"})).await;
    event(app, "ann", json!({"name": "login"})).await;
    event(app, "bob", json!({"name": "login"})).await;
    event(app, "bob", json!({"name": "seen"})).await;
    let (status, body) = app
        .track(
            reqwest::Method::POST,
            &format!("/api/v1/segments/{manual}/add_customers"),
            Some(json!({"ids": ["bob"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    (twice, recent, manual)
}

#[tokio::test]
async fn a_restart_reads_the_image_and_catches_up_from_the_engine_log() {
    let mut app = app().await;
    let data_dir = app.server.data_dir.clone();
    wait_for_image(&data_dir).await;
    let (twice, recent, manual) = history_setup(&app).await;
    // Half an hour later bob is seen again: his two-hour window now ends at START + 2.5 h.
    set_clock(&app, START + HOUR / 2).await;
    event(&app, "bob", json!({"name": "seen"})).await;
    app.server.kill();
    forget_logins(&data_dir);

    app.server = start(&data_dir, START + HOUR / 2);
    assert_eq!(
        members(&app, twice).await,
        vec!["ann"],
        "the logins come from the log"
    );
    assert_eq!(members(&app, recent).await, vec!["bob"]);
    assert_eq!(members(&app, manual).await, vec!["bob"]);
    // The window's deadline survived: bob is still in at 2 h 29 min 59 s, out a second later.
    set_clock(&app, START + 5 * HOUR / 2 - 1).await;
    assert_eq!(members(&app, recent).await, vec!["bob"]);
    set_clock(&app, START + 5 * HOUR / 2).await;
    assert!(members(&app, recent).await.is_empty());
    // Writes after the restart count as usual.
    event(&app, "bob", json!({"name": "login"})).await;
    assert_eq!(members(&app, twice).await, vec!["ann", "bob"]);
}

#[tokio::test]
async fn a_graceful_stop_writes_an_image_that_the_next_start_reads() {
    let mut app = app().await;
    let data_dir = app.server.data_dir.clone();
    wait_for_image(&data_dir).await;
    let (twice, _, _) = history_setup(&app).await;
    let image = std::fs::metadata(data_dir.join("engine.image")).unwrap();
    app.server.stop();
    let after = std::fs::metadata(data_dir.join("engine.image")).unwrap();
    assert_ne!(
        image.modified().unwrap(),
        after.modified().unwrap(),
        "the stop wrote a new image"
    );
    // The log was trimmed to the new image, and the image alone holds the logins.
    let entries = crate::database::query_i64(&data_dir, "SELECT count(*) FROM engine_log");
    assert_eq!(entries, 0);
    forget_logins(&data_dir);
    app.server = start(&data_dir, START);
    assert_eq!(members(&app, twice).await, vec!["ann"]);
}

#[tokio::test]
async fn a_damaged_or_stale_image_is_set_aside_for_the_history() {
    let mut app = app().await;
    let data_dir = app.server.data_dir.clone();
    wait_for_image(&data_dir).await;
    // The image of the empty engine, before anything was written.
    let stale = std::fs::read(data_dir.join("engine.image")).unwrap();
    let (twice, recent, manual) = history_setup(&app).await;
    app.server.stop();

    // Stale: the log no longer reaches back to it (the stop trimmed it to a newer image).
    std::fs::write(data_dir.join("engine.image"), &stale).unwrap();
    app.server = start(&data_dir, START);
    assert_eq!(members(&app, twice).await, vec!["ann"]);
    assert_eq!(members(&app, recent).await, vec!["bob"]);
    assert_eq!(members(&app, manual).await, vec!["bob"]);
    app.server.kill();

    // Damaged: one flipped byte in the body.
    let path = data_dir.join("engine.image");
    let mut bytes = std::fs::read(&path).unwrap_or(stale);
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    app.server = start(&data_dir, START);
    assert_eq!(count(&app, twice).await, 1);
    assert_eq!(members(&app, recent).await, vec!["bob"]);
    assert_eq!(members(&app, manual).await, vec!["bob"]);
}

/// The events' day counts (the data index's chart) of a store upgraded across migration 10 are
/// filled in the background after the server listens: here the migration's record of that work
/// is put back by hand, with the counts it would find missing. SQLite only: a PostgreSQL store
/// is created whole and never backfills (`scripts/test` leaves this test out of that run).
#[tokio::test]
async fn day_counts_left_by_an_upgrade_are_filled_after_the_start() {
    let mut app = app().await;
    let data_dir = app.server.data_dir.clone();
    for _ in 0..3 {
        event(&app, "ann", json!({"name": "login"})).await;
    }
    event(&app, "bob", json!({"name": "login"})).await;
    app.server.stop();
    let database = rusqlite::Connection::open(data_dir.join("herald.db")).unwrap();
    database
        .execute_batch(
            "DELETE FROM event_days;
             INSERT INTO backfills (name, position, boundary)
             SELECT 'event_days', 0, MAX(seq) FROM activities;",
        )
        .unwrap();
    let logins = |database: &rusqlite::Connection| -> i64 {
        database
            .query_row(
                "SELECT COALESCE(SUM(count), 0) FROM event_days WHERE name = 'login'",
                [],
                |row| row.get(0),
            )
            .unwrap()
    };
    assert_eq!(logins(&database), 0);
    app.server = start(&data_dir, START);
    event(&app, "bob", json!({"name": "login"})).await;
    for _ in 0..400 {
        let pending: i64 = database
            .query_row("SELECT count(*) FROM backfills", [], |row| row.get(0))
            .unwrap();
        if pending == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(
        logins(&database),
        5,
        "the four logins before the stop counted once, the one after by its write"
    );
}
