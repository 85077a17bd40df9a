//! The load's ordering against writes, on a real SQLite store and the real ingest path: every
//! write acknowledged before, during or after the load is counted exactly once. And the rows of
//! deleted segments, left to be removed in steps, are removed after a load and after a removal.

use std::sync::{Arc, mpsc};

use herald_domain::{Clock, ManualClock, PersonSeq, SegmentId, WorkspaceId};
use herald_ingest::Ingest;
use herald_store::{
    MembershipCause, MembershipChange, MembershipOrigin, NewSegment, NewWorkspace, PartitionSet,
    StoreHandle,
};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::loading;
use crate::runner::{Command, Runner};

const NOW: i64 = 1_800_000_000;

pub(crate) fn store() -> (StoreHandle, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let options = herald_store_sqlite::SqliteOptions::new(dir.path().join("herald.db"));
    let store = herald_store_sqlite::SqliteStore::open_handle(&options).expect("the store opens");
    (store, dir)
}

pub(crate) fn workspace(store: &StoreHandle) -> WorkspaceId {
    let new = NewWorkspace {
        name: "loading".into(),
        site_id: "site".into(),
        api_key_hash: "key".into(),
        app_api_key_hash: "app".into(),
        created_at: 1,
    };
    store
        .write_blocking(move |tx| tx.create_workspace(&new))
        .expect("store works")
        .expect("created")
        .id
}

fn segment(store: &StoreHandle, workspace_id: WorkspaceId, definition: Value) -> SegmentId {
    let new = NewSegment {
        workspace_id,
        name: "twice".into(),
        description: String::new(),
        definition: Some(definition),
        state: herald_store::SegmentState::Finished,
        now: NOW,
    };
    store
        .write_blocking(move |tx| tx.insert_segment(&new))
        .expect("store works")
        .expect("created")
        .id
}

fn login(id: &str, at: i64) -> Value {
    json!({"type": "person", "identifiers": {"id": id}, "action": "event", "name": "login", "timestamp": at})
}

fn identify(id: &str) -> Value {
    json!({"type": "person", "identifiers": {"id": id}, "action": "identify", "attributes": {"plan": "pro"}})
}

pub(crate) fn submit(
    ingest: &Ingest,
    runtime: &tokio::runtime::Runtime,
    workspace_id: WorkspaceId,
    items: &[Value],
) {
    let operations = items
        .iter()
        .map(|item| {
            herald_ingest::validate_v2::operation(item, NOW)
                .expect("valid")
                .expect("an operation")
        })
        .collect();
    runtime
        .block_on(ingest.submit(workspace_id, operations))
        .expect("committed");
}

/// Handles every queued command, as the runner's loop does.
fn drain(runner: &mut Runner, queue: &mpsc::Receiver<Command>) {
    while let Ok(command) = queue.try_recv() {
        runner.handle(command);
    }
}

fn members(runner: &Runner, workspace_id: WorkspaceId, segment_id: SegmentId) -> Vec<PersonSeq> {
    runner.engines[&workspace_id]
        .members(segment_id)
        .map(PersonSeq::new)
        .collect()
}

#[test]
fn writes_before_during_and_after_the_load_are_counted_once() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let (store, _dir) = store();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(NOW));
    let ws = workspace(&store);
    // Exactly two: an event counted twice (once from the history read, once from its queued
    // input) or missed would change the answer.
    let twice = segment(
        &store,
        ws,
        json!({"event": {"name": "login", "count": {"exactly": 2}}}),
    );
    let (sender, queue) = mpsc::channel();
    let feed_sender = std::sync::Mutex::new(sender.clone());
    let ingest = Ingest::new(store.clone(), clock.clone()).with_feed(Arc::new(
        move |committed: herald_ingest::Committed| {
            let _ = feed_sender
                .lock()
                .expect("the feed's lock")
                .send(Command::Inputs(vec![(
                    committed.workspace_id,
                    committed.inputs,
                    committed.position,
                )]));
        },
    ));

    // Before the load pins its read: in the history it reads, and queued ahead of its marker.
    submit(
        &ingest,
        &runtime,
        ws,
        &[identify("before"), login("before", NOW - 10)],
    );
    submit(&ingest, &runtime, ws, &[login("before", NOW - 9)]);
    submit(
        &ingest,
        &runtime,
        ws,
        &[identify("split"), login("split", NOW - 8)],
    );

    let (loaded, _) = watch::channel(false);
    let mut runner = Runner::new(
        store.clone(),
        clock.clone(),
        sender.clone(),
        None,
        loaded,
        None,
    );
    let load =
        loading::start(&store, &sender, 1, None, PartitionSet::all()).expect("the load starts");

    // After the pin, while the history is read: not in it, queued behind the marker.
    submit(&ingest, &runtime, ws, &[login("split", NOW - 7)]);
    submit(
        &ingest,
        &runtime,
        ws,
        &[identify("during"), login("during", NOW - 6)],
    );
    submit(&ingest, &runtime, ws, &[login("during", NOW - 5)]);

    runner
        .load_from(&load, 1, NOW, None)
        .expect("the load finishes");
    drain(&mut runner, &queue);
    let seq = |id: &str| {
        let id = id.to_owned();
        store
            .read_blocking(move |r| r.person(ws, &herald_domain::Identifier::Id(id)))
            .expect("store works")
            .expect("the person exists")
            .seq
    };
    let mut expected = vec![seq("before"), seq("split"), seq("during")];
    expected.sort_unstable();
    assert_eq!(members(&runner, ws, twice), expected);

    // After the load: applied live.
    submit(&ingest, &runtime, ws, &[login("before", NOW - 4)]);
    drain(&mut runner, &queue);
    expected.retain(|person| *person != seq("before"));
    assert_eq!(members(&runner, ws, twice), expected);

    // A second engine loaded from the store alone agrees.
    let (fresh_sender, _fresh_queue) = mpsc::channel();
    let (loaded, _) = watch::channel(false);
    let mut fresh = Runner::new(
        store.clone(),
        clock,
        fresh_sender.clone(),
        None,
        loaded,
        None,
    );
    let load = loading::start(&store, &fresh_sender, 1, None, PartitionSet::all())
        .expect("the load starts");
    fresh
        .load_from(&load, 1, NOW, None)
        .expect("the load finishes");
    assert_eq!(members(&fresh, ws, twice), expected);
}

/// Stores a member and two history rows for a segment, as its build and a later exit would.
fn stored_rows(store: &StoreHandle, workspace_id: WorkspaceId, segment_id: SegmentId) {
    let change = |person_seq: PersonSeq, entered: bool| MembershipChange {
        segment_id,
        person_seq,
        entered,
        at: NOW,
        cause: MembershipCause::Deadline,
        origin: MembershipOrigin::Live,
    };
    let changes = vec![
        change(PersonSeq::new(1), true),
        change(PersonSeq::new(2), true),
        change(PersonSeq::new(1), false),
    ];
    store
        .write_blocking(move |tx| tx.record_membership_changes(workspace_id, &changes))
        .expect("store works")
        .expect("recorded");
}

/// Waits, a background barrier at a time, until no deleted segment has rows left; each barrier
/// waits for at least one more step of every chain.
fn purged(store: &StoreHandle, runtime: &tokio::runtime::Runtime) -> bool {
    for _ in 0..100 {
        if store
            .read_blocking(|r| r.segment_purges())
            .expect("store works")
            .is_empty()
        {
            return true;
        }
        runtime
            .block_on(store.background_barrier())
            .expect("the writer runs");
    }
    false
}

fn history(store: &StoreHandle, segment_id: SegmentId) -> usize {
    store
        .read_blocking(move |r| {
            Ok(r.segment_history(segment_id, PersonSeq::new(1))?.len()
                + r.segment_history(segment_id, PersonSeq::new(2))?.len())
        })
        .expect("store works")
}

#[test]
fn deleted_segments_rows_are_removed_after_a_load_and_after_a_removal() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let (store, _dir) = store();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(NOW));
    let ws = workspace(&store);
    let definition = json!({"event": {"name": "login"}});
    let before = segment(&store, ws, definition.clone());
    let after = segment(&store, ws, definition);
    stored_rows(&store, ws, before);
    stored_rows(&store, ws, after);
    // Deleted before the start, its rows still stored: as if the server stopped mid-purge.
    store
        .write_blocking(move |tx| tx.delete_segment(ws, before))
        .expect("store works")
        .expect("deleted");
    assert_eq!(history(&store, before), 3);

    let (sender, queue) = mpsc::channel();
    let (loaded, _) = watch::channel(false);
    let mut runner = Runner::new(store.clone(), clock, sender.clone(), None, loaded, None);
    let load =
        loading::start(&store, &sender, 1, None, PartitionSet::all()).expect("the load starts");
    runner
        .load_from(&load, 1, NOW, None)
        .expect("the load finishes");
    drain(&mut runner, &queue);
    assert!(
        purged(&store, &runtime),
        "the load carries on with the purge"
    );
    assert_eq!(history(&store, before), 0);
    // The load's own correction (person 2 is unknown, so leaves) adds a row to the live one.
    assert_eq!(history(&store, after), 4, "a live segment keeps its rows");

    // Deleted while the server runs: the API deletes the row, then tells the runner.
    store
        .write_blocking(move |tx| tx.delete_segment(ws, after))
        .expect("store works")
        .expect("deleted");
    runner.handle(Command::Remove(ws, after));
    assert!(
        purged(&store, &runtime),
        "a removal purges the segment's rows"
    );
    assert_eq!(history(&store, after), 0);
}
