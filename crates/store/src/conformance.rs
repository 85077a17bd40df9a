//! The behaviour every store backend must show, as plain functions over a [`StoreHandle`].
//!
//! A backend instantiates the suite with [`store_conformance_tests!`](crate::store_conformance_tests),
//! giving an expression that makes a fresh, empty store (and anything that must outlive it,
//! such as a temporary folder).

use herald_domain::{ActivityKind, CampaignId, Identifier, PersonSeq, RunId, WorkspaceId};
use serde_json::{Map, Value, json};

use crate::{
    ActivityQuery, Appended, CampaignRow, CampaignState, DeliveryMetric, DeliveryQuery,
    DeliveryRow, DeliveryStatus, Device, DueRun, MembershipCause, MembershipChange,
    MembershipOrigin, NewActivity, NewPerson, NewSegment, NewUser, NewWorkspace, RunRow, RunState,
    SegmentState, SessionRow, StoreError, StoreHandle,
};

/// Generates one `#[test]` per conformance check for a backend.
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        $crate::store_conformance_tests!(@tests $make;
            workspaces_are_unique_by_name,
            people_are_found_by_each_identifier,
            deleted_people_free_their_identifiers,
            duplicate_event_ids_are_stored_once,
            failing_jobs_roll_back_alone,
            repeatable_jobs_that_share_a_savepoint_fail_alone,
            a_repeatable_job_that_panics_leaves_its_neighbours_kept,
            callers_hear_back_after_what_their_transaction_deferred,
            anonymous_events_attach_with_the_trigger_window,
            merged_events_move_and_never_trigger,
            devices_belong_to_one_person,
            suppressions_are_per_identifier,
            the_event_index_aggregates_across_transactions,
            activities_page_newest_first_with_filters,
            lists_by_kind_and_name_find_every_match_across_a_long_log,
            settings_round_trip,
            purge_removes_only_old_unattached_anonymous_events,
            retention_drops_old_events_of_a_range_and_says_what_people_keep,
            rolled_back_people_are_not_found_by_later_jobs,
            a_persons_number_is_found_as_their_profile_is,
            segments_round_trip_with_members_and_history,
            engine_histories_cover_live_people_only,
            a_history_read_of_some_partitions_holds_just_their_people,
            pinned_reads_see_exactly_the_commits_before_them,
            the_engine_log_keeps_commit_order_and_never_reuses_a_position,
            campaigns_round_trip,
            background_jobs_commit_in_order,
            runs_queue_by_due_time_and_running_campaigns,
            deliveries_round_trip_with_metrics,
            abandoned_writes_are_not_applied,
            users_sessions_and_their_workspaces,
            people_are_paged_newest_first_and_found_by_prefix,
            objects_and_relationships_follow_their_people,
            anonymous_relationships_wait_for_their_identify,
            people_are_scanned_oldest_first_after_a_cursor,
            a_persons_deliveries_are_paged_newest_first_within_a_window,
            rotated_keys_are_retired_until_their_expiry,
            a_deleted_workspace_is_hidden_at_once_then_removed_to_its_last_row,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let (store, _guard) = $make;
                $crate::conformance::$name(&store);
            }
        )*
    };
}

#[path = "conformance_repeatable.rs"]
mod repeatable;
pub use repeatable::{
    a_repeatable_job_that_panics_leaves_its_neighbours_kept,
    repeatable_jobs_that_share_a_savepoint_fail_alone,
};

#[path = "conformance_objects.rs"]
mod objects;
pub use objects::{
    anonymous_relationships_wait_for_their_identify, objects_and_relationships_follow_their_people,
};

#[path = "conformance_activity_lists.rs"]
mod activity_lists;
pub use activity_lists::lists_by_kind_and_name_find_every_match_across_a_long_log;

#[path = "conformance_histories.rs"]
mod histories;
pub use histories::a_history_read_of_some_partitions_holds_just_their_people;

#[path = "conformance_workspaces.rs"]
mod workspaces;
pub use workspaces::{
    a_deleted_workspace_is_hidden_at_once_then_removed_to_its_last_row,
    rotated_keys_are_retired_until_their_expiry,
};

#[path = "conformance_app_reads.rs"]
mod app_reads;
pub use app_reads::{
    a_persons_deliveries_are_paged_newest_first_within_a_window,
    people_are_scanned_oldest_first_after_a_cursor,
};

/// Creates a workspace named `name` (its site id and key hashes made from the name); returns its
/// id. Public for the tests of other crates that need one on a real store.
pub fn new_workspace(store: &StoreHandle, name: &str) -> WorkspaceId {
    let new = NewWorkspace {
        name: name.into(),
        site_id: format!("site-{name}"),
        api_key_hash: format!("key-{name}"),
        app_api_key_hash: format!("app-{name}"),
        created_at: 1,
    };
    store
        .write_blocking(move |tx| tx.create_workspace(&new))
        .expect("store works")
        .expect("workspace created")
        .id
}

/// Stores a person with this id (and `cio` before it as their cio_id) and email; returns their
/// seq. Public for the tests of other crates that need people on a real store.
pub fn new_person(
    store: &StoreHandle,
    workspace_id: WorkspaceId,
    id: &str,
    email: Option<&str>,
) -> PersonSeq {
    insert_person(store, workspace_id, &format!("cio{id}"), Some(id), email)
}

/// Stores a person with these identifiers and no attributes; returns their seq.
fn insert_person(
    store: &StoreHandle,
    workspace_id: WorkspaceId,
    cio_id: &str,
    id: Option<&str>,
    email: Option<&str>,
) -> PersonSeq {
    let new = NewPerson {
        workspace_id,
        cio_id: cio_id.into(),
        id: id.map(Into::into),
        email: email.map(Into::into),
        attributes: Map::new(),
        created_at: 10,
    };
    store
        .write_blocking(move |tx| tx.insert_person(&new))
        .expect("store works")
        .expect("person created")
        .seq
}

fn event(
    workspace_id: WorkspaceId,
    person_seq: Option<PersonSeq>,
    name: &str,
    timestamp: i64,
) -> NewActivity {
    NewActivity {
        workspace_id,
        person_seq,
        anonymous_id: None,
        kind: ActivityKind::Event,
        name: Some(name.into()),
        data: json!({"price": 1}),
        timestamp,
        received_at: timestamp,
        event_id: None,
        may_trigger: true,
    }
}

fn append(store: &StoreHandle, activity: NewActivity) -> Appended {
    store
        .write_blocking(move |tx| tx.append_activity(&activity))
        .expect("store works")
        .expect("appended")
}

fn all_activities(store: &StoreHandle, workspace_id: WorkspaceId) -> Vec<crate::Activity> {
    store
        .read_blocking(move |reader| {
            reader.activities(&ActivityQuery {
                workspace_id,
                person_seq: None,
                kind: None,
                name: None,
                before_seq: None,
                since: 0,
                limit: 1000,
            })
        })
        .expect("activities")
}

pub fn workspaces_are_unique_by_name(store: &StoreHandle) {
    let first = new_workspace(store, "a");
    let duplicate = NewWorkspace {
        name: "a".into(),
        site_id: "other".into(),
        api_key_hash: "k".into(),
        app_api_key_hash: "other-app".into(),
        created_at: 2,
    };
    let result = store
        .write_blocking(move |tx| tx.create_workspace(&duplicate))
        .expect("store works");
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    let sealed = store
        .write_blocking(move |tx| {
            tx.set_workspace_keys(first, "sealed-text")?;
            tx.workspace_keys_sealed(first)
        })
        .expect("store works")
        .expect("kept");
    assert_eq!(sealed.as_deref(), Some("sealed-text"));
    let other = new_workspace(store, "b");
    let none = store
        .read_blocking(move |r| r.workspace_keys_sealed(other))
        .expect("read");
    assert_eq!(none, None, "a workspace without sealed keys has none");
    let found = store
        .read_blocking(|reader| reader.workspace_by_site_id("site-a"))
        .expect("lookup")
        .expect("found");
    assert_eq!(found.workspace.id, first);
    assert_eq!(found.api_key_hash, "key-a");
    let by_app = store
        .read_blocking(|reader| reader.workspace_by_app_key_hash("app-a"))
        .expect("lookup");
    assert_eq!(by_app.map(|w| w.id), Some(first));
    let (given, again) = store
        .write_blocking(move |tx| {
            let given = tx.set_write_key_hash(first, "write-a")?;
            let again = tx.set_write_key_hash(first, "write-a2")?;
            Ok::<_, StoreError>((given, again))
        })
        .expect("store works")
        .expect("written");
    assert!(given, "a workspace without a write key is given one");
    assert!(!again, "a workspace keeps its first write key");
    let taken = store
        .write_blocking(move |tx| tx.set_write_key_hash(other, "write-a"))
        .expect("store works");
    assert!(
        matches!(taken, Err(StoreError::Conflict(_))),
        "write keys are unique: {taken:?}"
    );
    let by_write = store
        .read_blocking(|reader| reader.workspace_by_write_key_hash("write-a"))
        .expect("lookup");
    assert_eq!(by_write.map(|w| w.id), Some(first));
    let replaced = store
        .read_blocking(|reader| reader.workspace_by_write_key_hash("write-a2"))
        .expect("lookup");
    assert!(replaced.is_none(), "the refused second key finds nothing");
    assert_eq!(
        store.read_blocking(|r| r.workspaces()).expect("list").len(),
        2,
        "a and b; the duplicate was refused"
    );
}

pub fn people_are_found_by_each_identifier(store: &StoreHandle) {
    let ws = new_workspace(store, "p");
    let seq = new_person(store, ws, "Abc", Some("Mixed@Case.com"));
    for identifier in [
        Identifier::Id("Abc".into()),
        Identifier::Email("mixed@case.com".into()),
        Identifier::CioId("cioAbc".into()),
    ] {
        let found = store
            .read_blocking(move |reader| reader.person(ws, &identifier))
            .expect("lookup");
        assert_eq!(found.map(|p| p.seq), Some(seq));
    }
    let missing = store
        .read_blocking(move |reader| reader.person(ws, &Identifier::Id("abc".into())))
        .expect("lookup");
    assert!(missing.is_none(), "ids are case-sensitive");
    let other_ws = new_workspace(store, "q");
    let elsewhere = store
        .read_blocking(move |reader| reader.person(other_ws, &Identifier::Id("Abc".into())))
        .expect("lookup");
    assert!(elsewhere.is_none(), "people are scoped to their workspace");
    let without_id = insert_person(store, ws, "mailonly", None, Some("only@example.com"));
    let ids = store
        .read_blocking(move |reader| {
            reader.person_ids(
                ws,
                &[without_id, seq, PersonSeq::new(seq.get() + 1_000), seq],
            )
        })
        .expect("lookup");
    assert_eq!(
        ids,
        vec![None, Some("Abc".into()), None, Some("Abc".into())]
    );
    let ids = store
        .read_blocking(move |reader| reader.person_ids(other_ws, &[seq]))
        .expect("lookup");
    assert_eq!(ids, vec![None], "ids are read within their workspace");
}

pub fn deleted_people_free_their_identifiers(store: &StoreHandle) {
    let ws = new_workspace(store, "d");
    let seq = new_person(store, ws, "x", Some("x@example.com"));
    store
        .write_blocking(move |tx| tx.delete_person(ws, seq, 20))
        .expect("store works")
        .expect("deleted");
    let gone = store
        .read_blocking(move |reader| reader.person(ws, &Identifier::Id("x".into())))
        .expect("lookup");
    assert!(gone.is_none());
    let again = NewPerson {
        workspace_id: ws,
        cio_id: "second".into(),
        id: Some("x".into()),
        email: Some("X@example.com".into()),
        attributes: Map::new(),
        created_at: 30,
    };
    let second = store
        .write_blocking(move |tx| tx.insert_person(&again))
        .expect("store works")
        .expect("a new profile may take the freed identifiers");
    assert_ne!(second.seq, seq);
}

pub fn duplicate_event_ids_are_stored_once(store: &StoreHandle) {
    let ws = new_workspace(store, "e");
    let person = new_person(store, ws, "1", None);
    let mut first = event(ws, Some(person), "purchased", 100);
    first.event_id = Some("01HZY3K5M8N9P0Q1R2S3T4V5W6".into());
    let second = first.clone();
    assert!(matches!(append(store, first), Appended::New(_)));
    assert_eq!(append(store, second), Appended::Duplicate);
    assert_eq!(all_activities(store, ws).len(), 1);
}

pub fn failing_jobs_roll_back_alone(store: &StoreHandle) {
    let ws = new_workspace(store, "f");
    let kept = event(ws, None, "kept", 1);
    let dropped = event(ws, None, "dropped", 2);
    let failing = store.write_blocking(move |tx| {
        tx.append_activity(&dropped).expect("append");
        Err::<(), &str>("refused")
    });
    assert_eq!(failing.expect("store works"), Err("refused"));
    append(store, kept);
    let names: Vec<_> = all_activities(store, ws)
        .into_iter()
        .filter_map(|a| a.name)
        .collect();
    assert_eq!(names, vec!["kept".to_string()]);
}

/// What a transaction's jobs and hooks defer ([`crate::after_hooks`]) has run when its callers
/// hear back: the segment engine's inputs are handed over that way, and a caller who asks the
/// engine right after its write must find the write there.
pub fn callers_hear_back_after_what_their_transaction_deferred(store: &StoreHandle) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let ws = new_workspace(store, "d");
    let handed_over = Arc::new(AtomicBool::new(false));
    let flag = handed_over.clone();
    let written = event(ws, None, "deferred", 1);
    store
        .write_blocking(move |tx| {
            crate::after_hooks::defer(move || {
                // Slow, so that a reply sent before it would be seen first.
                std::thread::sleep(std::time::Duration::from_millis(50));
                flag.store(true, Ordering::SeqCst);
            });
            tx.append_activity(&written).map(|_| ())
        })
        .expect("store works")
        .expect("written");
    assert!(handed_over.load(Ordering::SeqCst));
}

pub fn anonymous_events_attach_with_the_trigger_window(store: &StoreHandle) {
    let ws = new_workspace(store, "anon");
    let person = new_person(store, ws, "p", None);
    let now = 1_000_000;
    let mut recent = event(ws, None, "recent", now - 3600);
    recent.anonymous_id = Some("a1".into());
    let mut old = event(ws, None, "old", now - 4 * 24 * 3600);
    old.anonymous_id = Some("a1".into());
    let mut other = event(ws, None, "other", now - 60);
    other.anonymous_id = Some("a2".into());
    append(store, recent);
    append(store, old);
    append(store, other);
    let attached = store
        .write_blocking(move |tx| tx.attach_anonymous(ws, "a1", person, 0, now, 72 * 3600))
        .expect("store works")
        .expect("attached");
    assert_eq!(attached.len(), 2);
    let activities = all_activities(store, ws);
    let by_name = |name: &str| {
        activities
            .iter()
            .find(|a| a.name.as_deref() == Some(name))
            .expect("present")
            .clone()
    };
    assert_eq!(by_name("recent").person_seq, Some(person));
    assert!(by_name("recent").may_trigger);
    assert_eq!(by_name("old").person_seq, Some(person));
    assert!(
        !by_name("old").may_trigger,
        "attached more than 72 h after its timestamp"
    );
    assert_eq!(by_name("other").person_seq, None);
}

pub fn merged_events_move_and_never_trigger(store: &StoreHandle) {
    let ws = new_workspace(store, "m");
    let primary = new_person(store, ws, "primary", None);
    let secondary = new_person(store, ws, "secondary", None);
    append(store, event(ws, Some(secondary), "new", 500));
    append(store, event(ws, Some(secondary), "ancient", 10));
    let moved = store
        .write_blocking(move |tx| tx.move_events(ws, secondary, primary, 100))
        .expect("store works")
        .expect("moved");
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].name, "new");
    assert_eq!(moved[0].person_seq, primary);
    let activities = all_activities(store, ws);
    let new = activities
        .iter()
        .find(|a| a.name.as_deref() == Some("new"))
        .expect("new");
    assert_eq!(new.person_seq, Some(primary));
    assert!(!new.may_trigger);
    let ancient = activities
        .iter()
        .find(|a| a.name.as_deref() == Some("ancient"))
        .expect("ancient");
    assert_eq!(ancient.person_seq, Some(secondary));
}

pub fn devices_belong_to_one_person(store: &StoreHandle) {
    let ws = new_workspace(store, "dev");
    let a = new_person(store, ws, "a", None);
    let b = new_person(store, ws, "b", None);
    let device = Device {
        token: "tok".into(),
        platform: "ios".into(),
        last_used: Some(5),
        attributes: Map::new(),
    };
    let again = device.clone();
    store
        .write_blocking(move |tx| tx.upsert_device(ws, a, &device))
        .expect("store works")
        .expect("added");
    store
        .write_blocking(move |tx| tx.upsert_device(ws, b, &again))
        .expect("store works")
        .expect("moved");
    assert!(
        store
            .read_blocking(move |r| r.devices(ws, a))
            .expect("read")
            .is_empty()
    );
    assert_eq!(
        store
            .read_blocking(move |r| r.devices(ws, b))
            .expect("read")
            .len(),
        1
    );
    let deleted = store
        .write_blocking(move |tx| tx.delete_device(ws, b, "tok"))
        .expect("store works")
        .expect("deleted");
    assert!(deleted);
}

pub fn suppressions_are_per_identifier(store: &StoreHandle) {
    let ws = new_workspace(store, "s");
    let email = Identifier::Email("a@b.c".into());
    let probe = email.clone();
    store
        .write_blocking(move |tx| tx.suppress(ws, &email, 1))
        .expect("store works")
        .expect("suppressed");
    let check = probe.clone();
    assert!(
        store
            .read_blocking(move |r| r.is_suppressed(ws, &check))
            .expect("read")
    );
    let as_id = Identifier::Id("a@b.c".into());
    assert!(
        !store
            .read_blocking(move |r| r.is_suppressed(ws, &as_id))
            .expect("read")
    );
    let freed = store
        .write_blocking(move |tx| tx.unsuppress(ws, &probe))
        .expect("store works")
        .expect("unsuppressed");
    assert!(freed);
}

pub fn the_event_index_aggregates_across_transactions(store: &StoreHandle) {
    let ws = new_workspace(store, "idx");
    for (timestamp, key) in [(50, "a"), (20, "b"), (90, "a")] {
        let mut data = Map::new();
        data.insert(key.into(), Value::Bool(true));
        store
            .write_blocking(move |tx| tx.note_event(ws, "event", "signup", timestamp, &data))
            .expect("store works")
            .expect("noted");
    }
    // A rolled-back job's notes must not count.
    let rolled_back = store.write_blocking(move |tx| {
        tx.note_event(ws, "event", "signup", 1, &Map::new())
            .expect("noted");
        Err::<(), ()>(())
    });
    assert_eq!(rolled_back.expect("store works"), Err(()));
    let index = store
        .read_blocking(move |r| r.event_index(ws))
        .expect("read");
    assert_eq!(index.len(), 1);
    assert_eq!(index[0].count, 3);
    assert_eq!(index[0].first_seen, 20);
    assert_eq!(index[0].last_seen, 90);
    assert_eq!(
        index[0].attribute_keys,
        vec!["a".to_string(), "b".to_string()]
    );

    // Counts per UTC day, by the event's own time, across transactions.
    for timestamp in [86_400 * 3 + 5, 86_400 * 3 + 86_399, 86_400 * 5] {
        store
            .write_blocking(move |tx| tx.note_event(ws, "page", "/pricing", timestamp, &Map::new()))
            .expect("store works")
            .expect("noted");
    }
    let days = store
        .read_blocking(move |r| r.event_days(ws, 0, 4))
        .expect("read");
    let days: Vec<(String, String, i64, i64)> = days
        .into_iter()
        .map(|d| (d.name, d.kind, d.day, d.count))
        .collect();
    assert_eq!(
        days,
        vec![
            ("signup".into(), "event".into(), 0, 3),
            ("/pricing".into(), "page".into(), 3, 2),
        ],
        "day 5 is outside the range asked for"
    );
}

pub fn activities_page_newest_first_with_filters(store: &StoreHandle) {
    let ws = new_workspace(store, "page");
    let person = new_person(store, ws, "p", None);
    for index in 0..5 {
        append(
            store,
            event(
                ws,
                Some(person),
                if index % 2 == 0 { "even" } else { "odd" },
                100 + index,
            ),
        );
    }
    append(store, event(ws, Some(person), "too-old", 5));
    let query = ActivityQuery {
        workspace_id: ws,
        person_seq: Some(person),
        name: Some("even".into()),
        since: 50,
        limit: 2,
        kind: None,
        before_seq: None,
    };
    let first_page = store.read_blocking({
        let query = query.clone();
        move |r| r.activities(&query)
    });
    let first_page = first_page.expect("read");
    assert_eq!(
        first_page.iter().map(|a| a.timestamp).collect::<Vec<_>>(),
        vec![104, 102]
    );
    let next = ActivityQuery {
        before_seq: Some(first_page[1].seq),
        ..query
    };
    let second_page = store
        .read_blocking(move |r| r.activities(&next))
        .expect("read");
    assert_eq!(
        second_page.iter().map(|a| a.timestamp).collect::<Vec<_>>(),
        vec![100]
    );
    assert_eq!(
        second_page[0].customer.as_ref().and_then(|c| c.id.clone()),
        Some("p".to_string())
    );
}

pub fn settings_round_trip(store: &StoreHandle) {
    assert_eq!(store.read_blocking(|r| r.setting("k")).expect("read"), None);
    store
        .write_blocking(|tx| tx.set_setting("k", "1"))
        .expect("store works")
        .expect("set");
    store
        .write_blocking(|tx| tx.set_setting("k", "2"))
        .expect("store works")
        .expect("set");
    assert_eq!(
        store.read_blocking(|r| r.setting("k")).expect("read"),
        Some("2".into())
    );
}

pub fn purge_removes_only_old_unattached_anonymous_events(store: &StoreHandle) {
    let ws = new_workspace(store, "purge");
    let person = new_person(store, ws, "p", None);
    let mut old = event(ws, None, "old", 10);
    old.anonymous_id = Some("x".into());
    let mut fresh = event(ws, None, "fresh", 1000);
    fresh.anonymous_id = Some("x".into());
    append(store, old);
    append(store, fresh);
    append(store, event(ws, Some(person), "identified-old", 10));
    let purged = store
        .write_blocking(|tx| tx.purge_anonymous(500))
        .expect("store works")
        .expect("purged");
    assert_eq!(purged, 1);
    let mut names: Vec<_> = all_activities(store, ws)
        .into_iter()
        .filter_map(|a| a.name)
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec!["fresh".to_string(), "identified-old".to_string()]
    );
}

pub fn retention_drops_old_events_of_a_range_and_says_what_people_keep(store: &StoreHandle) {
    let ws = new_workspace(store, "retention");
    let other = new_workspace(store, "retention-other");
    let ann = new_person(store, ws, "ann", None);
    let bob = new_person(store, ws, "bob", None);
    let seq = |appended: Appended| match appended {
        Appended::New(seq) => seq,
        Appended::Duplicate => panic!("a new event"),
    };
    let first = seq(append(store, event(ws, Some(ann), "old", 10)));
    append(store, event(ws, Some(ann), "kept", 300));
    append(store, event(ws, Some(bob), "old", 20));
    let mut anonymous = event(ws, None, "anonymous-old", 30);
    anonymous.anonymous_id = Some("x".into());
    append(store, anonymous);
    let mut attribute = event(ws, Some(bob), "plan", 5);
    attribute.kind = ActivityKind::AttributeChange;
    append(store, attribute);
    let someone = new_person(store, other, "ann", None);
    append(store, event(other, Some(someone), "old", 10));
    let last = seq(append(store, event(ws, Some(bob), "old-later", 40)));

    // A range that stops before the last activity leaves it, and says more lie beyond.
    let step = store
        .write_blocking(move |tx| tx.drop_events_before(ws, 100, first - 1, last - 1))
        .expect("store works")
        .expect("dropped");
    assert_eq!(step.deleted, 3, "{step:?}");
    assert_eq!(step.people, vec![(ann, Some(300)), (bob, Some(40))]);
    assert!(step.more);
    let step = store
        .write_blocking(move |tx| tx.drop_events_before(ws, 100, last - 1, last + 1000))
        .expect("store works")
        .expect("dropped");
    assert_eq!(step.deleted, 1);
    assert_eq!(step.people, vec![(bob, None)]);
    assert!(!step.more);
    let mut names: Vec<_> = all_activities(store, ws)
        .into_iter()
        .filter_map(|a| a.name)
        .collect();
    names.sort();
    assert_eq!(names, vec!["kept".to_string(), "plan".to_string()]);
    assert_eq!(
        all_activities(store, other).len(),
        1,
        "another workspace keeps its events"
    );
}

pub fn rolled_back_people_are_not_found_by_later_jobs(store: &StoreHandle) {
    let ws = new_workspace(store, "rollback");
    let kept = new_person(store, ws, "kept", None);
    let rolled_back = store.write_blocking(move |tx| {
        let mut person = tx
            .person(ws, &Identifier::Id("kept".into()))
            .expect("lookup")
            .expect("found");
        person.email = Some("changed@example.com".into());
        tx.update_person(&person).expect("updated");
        tx.insert_person(&NewPerson {
            workspace_id: ws,
            cio_id: "ghost".into(),
            id: Some("ghost".into()),
            email: None,
            attributes: Map::new(),
            created_at: 1,
        })
        .expect("inserted");
        Err::<(), ()>(())
    });
    assert_eq!(rolled_back.expect("store works"), Err(()));
    // Writers may cache people; what a rolled-back job did must not be visible to the next job.
    let (ghost, email) = store
        .write_blocking(move |tx| {
            let ghost = tx.person(ws, &Identifier::Id("ghost".into()))?;
            let kept = tx.person_by_seq(ws, kept)?.expect("kept exists");
            let by_email = tx.person(ws, &Identifier::Email("changed@example.com".into()))?;
            Ok::<_, StoreError>((ghost.is_none() && by_email.is_none(), kept.email))
        })
        .expect("store works")
        .expect("lookups");
    assert!(ghost, "a rolled-back person or email is still found");
    assert_eq!(email, None);
}

/// `person_seq` answers what `person` answers, in the writer too, whose cache serves both: by
/// each identifier, not after an email changed or the person was deleted, not for a person a
/// rolled-back job created, and not in another workspace.
pub fn a_persons_number_is_found_as_their_profile_is(store: &StoreHandle) {
    let ws = new_workspace(store, "numbers");
    let other = new_workspace(store, "other-numbers");
    let seq = new_person(store, ws, "n1", Some("N1@example.com"));
    let lookups = |identifiers: Vec<(WorkspaceId, Identifier)>| {
        store
            .write_blocking(move |tx| {
                let mut found = Vec::new();
                // Twice each, so that the second lookup finds what the first one cached.
                for (workspace_id, identifier) in identifiers {
                    let profile = tx.person(workspace_id, &identifier)?.map(|p| p.seq);
                    let first = tx.person_seq(workspace_id, &identifier)?;
                    let second = tx.person_seq(workspace_id, &identifier)?;
                    assert_eq!((first, second), (profile, profile), "{identifier:?}");
                    found.push(first);
                }
                Ok::<_, StoreError>(found)
            })
            .expect("store works")
            .expect("lookups")
    };
    let by_id = Identifier::Id("n1".into());
    let by_email = Identifier::Email("n1@example.com".into());
    let by_cio_id = Identifier::CioId("cion1".into());
    assert_eq!(
        lookups(vec![
            (ws, by_id.clone()),
            (ws, by_email.clone()),
            (ws, by_cio_id.clone()),
            (other, by_id.clone()),
        ]),
        vec![Some(seq), Some(seq), Some(seq), None]
    );
    // A number read by a reader, which keeps no cache, is the writer's too.
    let read = store
        .read_blocking({
            let by_id = by_id.clone();
            move |reader| reader.person_seq(ws, &by_id)
        })
        .expect("lookup");
    assert_eq!(read, Some(seq));

    store
        .write_blocking(move |tx| {
            let mut person = tx.person_by_seq(ws, seq)?.expect("exists");
            person.email = Some("moved@example.com".into());
            tx.update_person(&person)
        })
        .expect("store works")
        .expect("updated");
    let moved = Identifier::Email("moved@example.com".into());
    assert_eq!(
        lookups(vec![(ws, by_email.clone()), (ws, moved.clone())]),
        vec![None, Some(seq)]
    );

    let rolled_back = store.write_blocking(move |tx| {
        tx.insert_person(&NewPerson {
            workspace_id: ws,
            cio_id: "ghostn".into(),
            id: Some("ghostn".into()),
            email: None,
            attributes: Map::new(),
            created_at: 1,
        })
        .expect("inserted");
        assert!(
            tx.person_seq(ws, &Identifier::Id("ghostn".into()))
                .expect("lookup")
                .is_some(),
            "a job finds the person it created"
        );
        Err::<(), ()>(())
    });
    assert_eq!(rolled_back.expect("store works"), Err(()));
    assert_eq!(
        lookups(vec![(ws, Identifier::Id("ghostn".into()))]),
        vec![None]
    );

    store
        .write_blocking(move |tx| tx.delete_person(ws, seq, 20))
        .expect("store works")
        .expect("deleted");
    assert_eq!(
        lookups(vec![(ws, by_id), (ws, moved), (ws, by_cio_id)]),
        vec![None, None, None]
    );
}

pub fn segments_round_trip_with_members_and_history(store: &StoreHandle) {
    let ws = new_workspace(store, "segments");
    let other = new_workspace(store, "other-segments");
    let new = NewSegment {
        workspace_id: ws,
        name: "buyers".into(),
        description: "bought".into(),
        definition: Some(json!({"event": {"name": "purchased"}})),
        state: SegmentState::Build,
        now: 5,
    };
    let mut segment = store
        .write_blocking(move |tx| tx.insert_segment(&new))
        .expect("store works")
        .expect("inserted");
    let id = segment.id;
    segment.state = SegmentState::Finished;
    segment.updated_at = 6;
    let saved = segment.clone();
    store
        .write_blocking(move |tx| tx.update_segment(&saved))
        .expect("store works")
        .expect("updated");
    let read = store
        .read_blocking(move |r| r.segment(ws, id))
        .expect("read")
        .expect("found");
    assert_eq!(read, segment);
    assert!(
        store
            .read_blocking(move |r| r.segment(other, id))
            .expect("read")
            .is_none()
    );
    let change = |person_seq: PersonSeq, entered: bool, at: i64| MembershipChange {
        segment_id: id,
        person_seq,
        entered,
        at,
        cause: MembershipCause::Deadline,
        origin: MembershipOrigin::Live,
    };
    let changes = vec![
        change(PersonSeq::new(1), true, 10),
        change(PersonSeq::new(2), true, 11),
        change(PersonSeq::new(1), false, 12),
    ];
    store
        .write_blocking(move |tx| tx.record_membership_changes(ws, &changes))
        .expect("store works")
        .expect("recorded");
    // Per UTC day, across writes.
    let later = vec![
        change(PersonSeq::new(3), true, 86_400 + 5),
        change(PersonSeq::new(2), false, 86_400 * 2),
    ];
    store
        .write_blocking(move |tx| tx.record_membership_changes(ws, &later))
        .expect("store works")
        .expect("recorded");
    assert_eq!(
        store
            .read_blocking(move |r| r.segment_days(id, 0))
            .expect("read"),
        vec![(0, 2, 1), (1, 1, 0), (2, 0, 1)]
    );
    assert_eq!(
        store
            .read_blocking(move |r| r.segment_days(id, 2))
            .expect("read"),
        vec![(2, 0, 1)]
    );
    assert_eq!(
        store
            .read_blocking(move |r| r.segment_members(ws))
            .expect("read"),
        vec![(id, PersonSeq::new(3))]
    );
    let history = store
        .read_blocking(move |r| r.segment_history(id, PersonSeq::new(1)))
        .expect("read");
    assert_eq!(
        history
            .iter()
            .map(|c| (c.entered, c.at))
            .collect::<Vec<_>>(),
        vec![(true, 10), (false, 12)]
    );
    let deleted = store
        .write_blocking(move |tx| tx.delete_segment(ws, id))
        .expect("store works")
        .expect("deleted");
    assert!(deleted);
    assert!(
        store
            .read_blocking(move |r| r.segments(ws))
            .expect("read")
            .is_empty()
    );
    assert!(
        store
            .read_blocking(move |r| r.segment_members(ws))
            .expect("read")
            .is_empty()
    );
    // The rows themselves go in steps, one of each table at a time here: the first steps find
    // some, the last none, and then the segment is no longer listed as being purged.
    assert_eq!(
        store.read_blocking(|r| r.segment_purges()).expect("read"),
        vec![id]
    );
    let mut steps = 0;
    while store
        .write_blocking(move |tx| tx.purge_segment(id, 1))
        .expect("store works")
        .expect("purged")
    {
        steps += 1;
    }
    assert_eq!(
        steps, 5,
        "five history rows and one member row, one of each a step"
    );
    assert!(
        store
            .read_blocking(move |r| r.segment_history(id, PersonSeq::new(1)))
            .expect("read")
            .is_empty()
    );
    assert!(
        store
            .read_blocking(|r| r.segment_purges())
            .expect("read")
            .is_empty()
    );
    assert!(
        store
            .read_blocking(move |r| r.segment_days(id, 0))
            .expect("read")
            .is_empty(),
        "the day counts go with the rest"
    );
}

pub fn engine_histories_cover_live_people_only(store: &StoreHandle) {
    let ws = new_workspace(store, "histories");
    let alive = new_person(store, ws, "alive", None);
    let gone = new_person(store, ws, "gone", None);
    append(store, event(ws, Some(alive), "late", 50));
    append(store, event(ws, Some(alive), "early", 10));
    append(store, event(ws, Some(gone), "x", 10));
    let mut anonymous = event(ws, None, "anonymous", 10);
    anonymous.anonymous_id = Some("a".into());
    append(store, anonymous);
    store
        .write_blocking(move |tx| tx.delete_person(ws, gone, 60))
        .expect("store works")
        .expect("deleted");
    let people = store
        .read_blocking(move |r| r.live_people(ws))
        .expect("read");
    assert_eq!(
        people.iter().map(|p| p.seq).collect::<Vec<_>>(),
        vec![alive]
    );
    let events = store
        .read_blocking(move |r| r.events_of_live_people(ws))
        .expect("read");
    let names: Vec<_> = events
        .iter()
        .map(|e| (e.person_seq, e.name.clone()))
        .collect();
    assert_eq!(
        names,
        vec![(alive, "early".to_string()), (alive, "late".to_string())]
    );
    let own = store
        .read_blocking(move |r| r.events_of_person(ws, alive))
        .expect("read");
    assert_eq!(own, events);
    let streamed = store
        .read_blocking(move |r| {
            let mut seen = Vec::new();
            r.for_each_history(ws, &crate::PartitionSet::all(), &mut |person, events| {
                seen.push((person.seq, events));
                true
            })?;
            Ok(seen)
        })
        .expect("read");
    assert_eq!(
        streamed,
        vec![(alive, events.clone())],
        "one entry per live person, events in time order"
    );
}

/// A read pinned inside a write job sees every transaction committed before that job's, not the
/// job's own transaction, and not what commits while it reads.
pub fn pinned_reads_see_exactly_the_commits_before_them(store: &StoreHandle) {
    let ws = new_workspace(store, "pinned");
    new_person(store, ws, "before", None);
    let (pinned_sender, pinned) = std::sync::mpsc::channel::<()>();
    let (go_sender, go) = std::sync::mpsc::channel::<()>();
    let (seen_sender, seen) = std::sync::mpsc::channel();
    let reader = store.clone();
    store
        .write_blocking(move |tx| {
            // This job's own write is in a transaction that has not committed.
            tx.set_setting("pinned", "inside")?;
            reader.pin_read(move |r| {
                let _ = pinned_sender.send(());
                // Wait until a later transaction has committed.
                let _ = go.recv();
                let people = r.live_people(ws).map(|people| people.len());
                let setting = r.setting("pinned");
                let _ = seen_sender.send((people, setting));
            })
        })
        .expect("store works")
        .expect("the read is pinned");
    pinned.recv().expect("the pinned read starts");
    new_person(store, ws, "after", None);
    go_sender.send(()).expect("the pinned read waits");
    let (people, setting) = seen.recv().expect("the pinned read answers");
    assert_eq!(people.expect("read"), 1, "only the person committed before");
    assert_eq!(
        setting.expect("read"),
        None,
        "not the pinning job's own write"
    );
    assert_eq!(
        store
            .read_blocking(move |r| r.live_people(ws))
            .expect("read")
            .len(),
        2
    );
}

pub fn the_engine_log_keeps_commit_order_and_never_reuses_a_position(store: &StoreHandle) {
    let read_after = |after: i64| {
        store
            .read_blocking(move |r| {
                let mut entries = Vec::new();
                r.engine_log_after(after, &mut |seq, workspace, inputs| {
                    entries.push((seq, workspace, inputs));
                    true
                })?;
                Ok((entries, r.engine_log_trimmed()?))
            })
            .expect("read")
    };
    let mut positions = Vec::new();
    for (workspace, inputs) in [
        (WorkspaceId::new(1), b"a".to_vec()),
        (WorkspaceId::new(2), b"b".to_vec()),
        (WorkspaceId::new(1), b"c".to_vec()),
    ] {
        positions.push(
            store
                .write_blocking(move |tx| tx.append_engine_log(workspace, &inputs))
                .expect("store works")
                .expect("appended")
                .get()
                .expect("known once committed"),
        );
    }
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]));
    let (entries, trimmed) = read_after(positions[0]);
    assert_eq!(
        entries,
        vec![
            (positions[1], WorkspaceId::new(2), b"b".to_vec()),
            (positions[2], WorkspaceId::new(1), b"c".to_vec())
        ]
    );
    assert_eq!(trimmed, 0);
    let last = positions[2];
    let removed = store
        .write_blocking(move |tx| tx.trim_engine_log(last, 2))
        .expect("store works")
        .expect("trimmed");
    assert_eq!(removed, 2, "at most the limit");
    let (entries, trimmed) = read_after(0);
    assert_eq!(
        entries,
        vec![(positions[2], WorkspaceId::new(1), b"c".to_vec())]
    );
    assert_eq!(trimmed, last);
    store
        .write_blocking(move |tx| tx.trim_engine_log(last, 10))
        .expect("store works")
        .expect("trimmed");
    assert!(read_after(0).0.is_empty());
    assert_eq!(
        store.read_blocking(|r| r.engine_log_end()).expect("read"),
        last,
        "the end outlives the trimmed entries"
    );
    let next = store
        .write_blocking(|tx| tx.append_engine_log(WorkspaceId::new(1), b"d"))
        .expect("store works")
        .expect("appended")
        .get()
        .expect("known once committed");
    assert!(next > last, "a position is never reused");
}

pub fn campaigns_round_trip(store: &StoreHandle) {
    let ws = new_workspace(store, "campaigns");
    let other = new_workspace(store, "other-campaigns");
    let row = CampaignRow {
        id: CampaignId::new(0),
        workspace_id: ws,
        name: "Receipt".into(),
        definition: json!({"name": "Receipt", "steps": []}),
        state: CampaignState::Draft,
        created_at: 5,
        updated_at: 5,
    };
    let mut stored = store
        .write_blocking(move |tx| tx.insert_campaign(&row))
        .expect("store works")
        .expect("inserted");
    let id = stored.id;
    assert!(id > CampaignId::new(0));
    stored.state = CampaignState::Running;
    stored.updated_at = 6;
    let saved = stored.clone();
    store
        .write_blocking(move |tx| tx.update_campaign(&saved))
        .expect("store works")
        .expect("updated");
    assert_eq!(
        store
            .read_blocking(move |r| r.campaign(ws, id))
            .expect("read"),
        Some(stored.clone())
    );
    assert!(
        store
            .read_blocking(move |r| r.campaign(other, id))
            .expect("read")
            .is_none()
    );
    assert_eq!(
        store.read_blocking(move |r| r.campaigns(ws)).expect("read"),
        vec![stored]
    );
    let deleted = store
        .write_blocking(move |tx| tx.delete_campaign(ws, id))
        .expect("store works")
        .expect("deleted");
    assert!(deleted);
    assert!(
        store
            .read_blocking(move |r| r.campaigns(ws))
            .expect("read")
            .is_empty()
    );
}

pub fn background_jobs_commit_in_order(store: &StoreHandle) {
    for value in 1..=50 {
        store
            .submit_blocking(move |tx| {
                let previous: i64 = tx.setting("bg")?.and_then(|v| v.parse().ok()).unwrap_or(0);
                // Each job sees the one before it: background jobs keep their order.
                assert_eq!(previous, value - 1);
                tx.set_setting("bg", &value.to_string())
            })
            .expect("queued");
    }
    // A foreground write still goes through while the background drains.
    store
        .write_blocking(|tx| tx.set_setting("fg", "1"))
        .expect("store works")
        .expect("written");
    // Background work is asynchronous by design; wait (bounded) for it to finish.
    for _ in 0..500 {
        if store
            .read_blocking(|r| r.setting("bg"))
            .expect("read")
            .as_deref()
            == Some("50")
        {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("background jobs did not all commit");
}

fn campaign(store: &StoreHandle, workspace_id: WorkspaceId, state: CampaignState) -> CampaignId {
    let row = CampaignRow {
        id: CampaignId::new(0),
        workspace_id,
        name: format!("{state} campaign"),
        definition: json!({}),
        state,
        created_at: 1,
        updated_at: 1,
    };
    store
        .write_blocking(move |tx| tx.insert_campaign(&row))
        .expect("store works")
        .expect("inserted")
        .id
}

fn run_row(
    workspace_id: WorkspaceId,
    campaign_id: CampaignId,
    person_seq: PersonSeq,
    key: &str,
    due_at: i64,
) -> RunRow {
    RunRow {
        id: RunId::new(0),
        workspace_id,
        campaign_id,
        person_seq,
        run_key: key.into(),
        trigger: json!({"event": {"name": "purchased"}}),
        step: 0,
        due_at,
        state: RunState::Active,
        attempts: 0,
        created_at: 1,
        updated_at: 1,
    }
}

pub fn runs_queue_by_due_time_and_running_campaigns(store: &StoreHandle) {
    let ws = new_workspace(store, "runs");
    let person = new_person(store, ws, "p1", None);
    let running = campaign(store, ws, CampaignState::Running);
    let paused = campaign(store, ws, CampaignState::Paused);
    let late = run_row(ws, running, person, "late", 50);
    let early = run_row(ws, running, person, "early", 20);
    let waiting = run_row(ws, paused, person, "waiting", 10);
    let (late, early) = store
        .write_blocking(move |tx| {
            let late = tx.insert_run(&late)?;
            let early = tx.insert_run(&early)?;
            tx.insert_run(&waiting)?;
            Ok::<_, StoreError>((late, early))
        })
        .expect("store works")
        .expect("inserted");
    // A run key is unique: the same trigger never makes two runs.
    let again = run_row(ws, running, person, "late", 60);
    assert!(matches!(
        store
            .write_blocking(move |tx| tx.insert_run(&again))
            .expect("store works"),
        Err(StoreError::Conflict(_))
    ));
    let due = |now: i64| {
        store
            .read_blocking(move |r| r.due_runs(now, 10, &[], None))
            .expect("read")
    };
    let listed = |run: &RunRow| DueRun {
        id: run.id,
        campaign_id: run.campaign_id,
        step: run.step,
        due_at: run.due_at,
    };
    assert_eq!(due(19), Vec::new());
    assert_eq!(due(100), vec![listed(&early), listed(&late)]);
    // Runs the dispatcher is already working on are left out.
    let skipping = store
        .read_blocking(move |r| r.due_runs(100, 10, &[early.id, RunId::new(999)], None))
        .expect("read");
    assert_eq!(skipping, vec![listed(&late)]);
    // A listing that goes on after a run leaves out every run up to it in the queue's order:
    // by due time, then by id among runs due at the same second.
    let after = |run: DueRun, limit: i64| {
        store
            .read_blocking(move |r| r.due_runs(100, limit, &[], Some(run)))
            .expect("read")
    };
    assert_eq!(due(100)[..1], [listed(&early)]);
    assert_eq!(after(listed(&early), 10), vec![listed(&late)]);
    assert_eq!(after(listed(&late), 10), Vec::new());
    // In a campaign of its own, so that the checks of `running`'s runs below do not count it.
    let beside = campaign(store, ws, CampaignState::Running);
    let twin_row = run_row(ws, beside, person, "twin", 50);
    let twin_row = store
        .write_blocking(move |tx| tx.insert_run(&twin_row))
        .expect("store works")
        .expect("inserted");
    let twin = listed(&twin_row);
    assert!(twin.id > late.id, "ids grow");
    assert_eq!(after(listed(&early), 1), vec![listed(&late)]);
    assert_eq!(after(listed(&late), 10), vec![twin]);
    let twin_id = twin.id;
    store
        .write_blocking(move |tx| {
            let mut done = twin_row;
            done.state = RunState::Done;
            tx.update_run(&done)
        })
        .expect("store works")
        .expect("updated");
    assert_eq!(
        store
            .read_blocking(move |r| r.run(twin_id))
            .expect("read")
            .map(|run| run.state),
        Some(RunState::Done)
    );
    let mut moved = early.clone();
    moved.step = 1;
    moved.due_at = 200;
    moved.attempts = 2;
    moved.updated_at = 30;
    let saved = moved.clone();
    store
        .write_blocking(move |tx| tx.update_run(&saved))
        .expect("store works")
        .expect("updated");
    assert_eq!(
        store.read_blocking(move |r| r.run(early.id)).expect("read"),
        Some(moved.clone())
    );
    // A trigger replaced leaves the rest of the run as it was.
    let forgotten = json!({"transactional": {"delivery_id": "d"}});
    let trigger = forgotten.clone();
    store
        .write_blocking(move |tx| tx.forget_message(early.id, &trigger, "no-delivery", &json!({})))
        .expect("store works")
        .expect("replaced");
    moved.trigger = forgotten;
    assert_eq!(
        store.read_blocking(move |r| r.run(early.id)).expect("read"),
        Some(moved.clone())
    );
    assert_eq!(due(100), vec![listed(&late)]);
    // The listing names the next step, which moved on.
    assert_eq!(due(200), vec![listed(&late), listed(&moved)]);
    let cancelled = store
        .write_blocking(move |tx| tx.cancel_runs(running, 40))
        .expect("store works")
        .expect("cancelled");
    assert_eq!(cancelled, 2);
    assert_eq!(due(1000), Vec::new());
    let runs = store
        .read_blocking(move |r| r.runs_of_campaign(ws, running))
        .expect("read");
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|run| run.state == RunState::Cancelled));
    assert_eq!(runs[0].id, late.id);
    // The dispatcher saving what it did with a run it took before the cancellation leaves the
    // run cancelled.
    let mut stale = moved.clone();
    stale.step = 2;
    store
        .write_blocking(move |tx| tx.update_run(&stale))
        .expect("store works")
        .expect("updated");
    let after = store
        .read_blocking(move |r| r.run(early.id))
        .expect("read")
        .expect("the run");
    assert_eq!((after.state, after.step), (RunState::Cancelled, 1));
    let enrolled = store
        .write_blocking(move |tx| {
            Ok::<_, StoreError>((
                tx.enroll_once(ws, running, person, 5)?,
                tx.enroll_once(ws, running, person, 6)?,
                tx.enroll_once(ws, paused, person, 6)?,
            ))
        })
        .expect("store works")
        .expect("enrolled");
    assert_eq!(enrolled, (true, false, true));
    let read = store
        .read_blocking(move |r| {
            Ok::<_, StoreError>((
                r.is_enrolled(running, person)?,
                r.is_enrolled(running, PersonSeq::new(person.get() + 1_000))?,
            ))
        })
        .expect("read");
    assert_eq!(read, (true, false), "enrollments are read back per person");
}

pub fn deliveries_round_trip_with_metrics(store: &StoreHandle) {
    let ws = new_workspace(store, "deliveries");
    let person = new_person(store, ws, "p1", None);
    let other_person = new_person(store, ws, "p2", None);
    let campaign_id = campaign(store, ws, CampaignState::Running);
    let delivery = |id: &str, run_id: RunId, person_seq: PersonSeq, created_at: i64| DeliveryRow {
        id: id.into(),
        workspace_id: ws,
        campaign_id,
        run_id,
        person_seq,
        step: 0,
        channel: "webhook".into(),
        status: DeliveryStatus::Queued,
        content: json!({"url": "https://example.com"}),
        idempotency_key: format!("{id}-key"),
        attempts: 0,
        error: None,
        created_at,
        updated_at: created_at,
        sent_at: None,
    };
    let first = delivery("d1", RunId::new(1), person, 10);
    let second = delivery("d2", RunId::new(2), other_person, 20);
    let (a, b) = (first.clone(), second.clone());
    store
        .write_blocking(move |tx| {
            tx.insert_delivery(&a)?;
            tx.insert_delivery(&b)
        })
        .expect("store works")
        .expect("inserted");
    let duplicate = delivery("d3", RunId::new(1), person, 11);
    assert!(matches!(
        store
            .write_blocking(move |tx| tx.insert_delivery(&duplicate))
            .expect("store works"),
        Err(StoreError::Conflict(_))
    ));
    let mut sent = first.clone();
    sent.status = DeliveryStatus::Sent;
    sent.attempts = 1;
    sent.sent_at = Some(12);
    sent.updated_at = 12;
    sent.error = Some("first try timed out".into());
    let saved = sent.clone();
    store
        .write_blocking(move |tx| tx.update_delivery(&saved))
        .expect("store works")
        .expect("updated");
    assert_eq!(
        store.read_blocking(|r| r.delivery("d1")).expect("read"),
        Some(sent.clone())
    );
    // The status alone, as the dispatcher's record checks it.
    let statuses = store
        .read_blocking(|r| {
            Ok::<_, StoreError>((
                r.delivery_status("d1")?,
                r.delivery_status("d2")?,
                r.delivery_status("nope")?,
            ))
        })
        .expect("read");
    assert_eq!(
        statuses,
        (Some(DeliveryStatus::Sent), Some(second.status), None)
    );
    let sends = store
        .read_blocking(move |r| {
            Ok::<_, StoreError>((
                r.campaign_sent_since(ws, campaign_id, 12)?,
                r.campaign_sent_since(ws, campaign_id, 13)?,
            ))
        })
        .expect("read");
    assert_eq!(sends, (1, 0), "sent at 12: counted from 12 on, not from 13");
    assert_eq!(
        store
            .read_blocking(|r| r.delivery_of_step(RunId::new(2), 0))
            .expect("read"),
        Some(second.clone())
    );
    assert_eq!(
        store
            .read_blocking(|r| r.delivery_of_step(RunId::new(2), 1))
            .expect("read"),
        None
    );
    let list = |campaign_id: Option<CampaignId>, person_seq: Option<PersonSeq>| {
        store
            .read_blocking(move |r| {
                r.deliveries(&DeliveryQuery {
                    workspace_id: ws,
                    campaign_id,
                    person_seq,
                    status: None,
                    after: None,
                    limit: 10,
                })
            })
            .expect("read")
            .into_iter()
            .map(|d| d.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(list(None, None), vec!["d2".to_owned(), "d1".to_owned()]);
    // A message forgotten keeps the content given, and the rest of its delivery.
    let kept = json!({"to": "x@example.com", "retained": false});
    let content = kept.clone();
    store
        .write_blocking(move |tx| tx.forget_message(RunId::new(999), &json!({}), "d2", &content))
        .expect("store works")
        .expect("forgotten");
    let mut forgotten = second.clone();
    forgotten.content = kept;
    assert_eq!(
        store.read_blocking(|r| r.delivery("d2")).expect("read"),
        Some(forgotten)
    );
    // A page that starts after a delivery holds only the older ones.
    let after = |cursor: (i64, &str)| {
        let after = Some((cursor.0, cursor.1.to_owned()));
        store
            .read_blocking(move |r| {
                r.deliveries(&DeliveryQuery {
                    workspace_id: ws,
                    campaign_id: Some(campaign_id),
                    person_seq: None,
                    status: None,
                    after,
                    limit: 10,
                })
            })
            .expect("read")
            .into_iter()
            .map(|d| d.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(after((20, "d2")), vec!["d1".to_owned()]);
    assert_eq!(after((20, "d3")), vec!["d2".to_owned(), "d1".to_owned()]);
    assert_eq!(after((10, "d1")), Vec::<String>::new());
    assert_eq!(list(Some(campaign_id), Some(person)), vec!["d1".to_owned()]);
    assert_eq!(
        list(Some(CampaignId::new(campaign_id.get() + 1)), None),
        Vec::<String>::new()
    );
    let in_status = |status: DeliveryStatus| {
        let status = Some(status);
        store
            .read_blocking(move |r| {
                r.deliveries(&DeliveryQuery {
                    workspace_id: ws,
                    campaign_id: Some(campaign_id),
                    person_seq: None,
                    status,
                    after: None,
                    limit: 10,
                })
            })
            .expect("read")
            .into_iter()
            .map(|d| d.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(in_status(DeliveryStatus::Sent), vec!["d1".to_owned()]);
    assert_eq!(in_status(DeliveryStatus::Queued), vec!["d2".to_owned()]);
    assert_eq!(in_status(DeliveryStatus::Failed), Vec::<String>::new());
    for (delivery_id, metric) in [
        ("d1", "opened"),
        ("d1", "opened"),
        ("d1", "clicked"),
        ("d2", "opened"),
    ] {
        let metric = DeliveryMetric {
            source: "metrics".into(),
            delivery_id: delivery_id.into(),
            metric: metric.into(),
            timestamp: 30,
            received_at: 30,
            data: json!({}),
        };
        store
            .write_blocking(move |tx| tx.insert_delivery_metric(&metric))
            .expect("store works")
            .expect("stored");
    }
    // Every run started counts as triggered, whatever became of it.
    for (key, person) in [("r1", person), ("r2", other_person)] {
        let run = run_row(ws, campaign_id, person, key, 5);
        store
            .write_blocking(move |tx| tx.insert_run(&run))
            .expect("store works")
            .expect("a run");
    }
    let days = |since: i64| {
        let mut days = store
            .read_blocking(move |r| r.campaign_days(ws, campaign_id, since))
            .expect("read");
        days.sort();
        days
    };
    let day = |outcome: &str, count: i64| (0, outcome.to_owned(), count);
    assert_eq!(
        days(0),
        vec![
            day("clicked", 1),
            day("opened", 2),
            day("sent", 1),
            day("triggered", 2)
        ]
    );
    assert_eq!(
        days(13),
        vec![day("clicked", 1), day("opened", 2)],
        "runs started at 5 and a send at 12 are before 13"
    );
    let mut metrics = store
        .read_blocking(move |r| r.campaign_metrics(ws, campaign_id))
        .expect("read");
    metrics.sort();
    assert_eq!(
        metrics,
        vec![
            ("clicked".to_owned(), 1),
            ("opened".to_owned(), 2),
            ("queued".to_owned(), 1),
            ("sent".to_owned(), 1),
            ("triggered".to_owned(), 2),
        ]
    );
}

/// A write whose caller stopped waiting before the writer reached it (its HTTP client hung up)
/// is dropped, not committed for nobody.
pub fn abandoned_writes_are_not_applied(store: &StoreHandle) {
    use std::future::Future;
    use std::task::{Context, Waker};

    // Hold the writer inside a job until the abandoned write is queued behind it.
    let (started_sender, started) = std::sync::mpsc::channel::<()>();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let blocker = {
        let store = store.clone();
        std::thread::spawn(move || {
            store.write_blocking(move |_| {
                let _ = started_sender.send(());
                let _ = released.recv();
                Ok::<_, StoreError>(())
            })
        })
    };
    started.recv().expect("the writer runs the blocking job");
    {
        let write = store.write(|tx| tx.set_setting("abandoned", "stored"));
        let mut write = std::pin::pin!(write);
        // One poll queues the job; dropping the future then abandons it.
        let pending = write
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending();
        assert!(pending, "the write cannot finish while the writer is held");
    }
    release.send(()).expect("the blocking job waits");
    blocker
        .join()
        .expect("the blocking job ends")
        .expect("store works")
        .expect("the blocking job succeeds");
    store
        .write_blocking(|tx| tx.set_setting("later", "stored"))
        .expect("store works")
        .expect("a later write commits");
    let abandoned = store
        .read_blocking(|reader| reader.setting("abandoned"))
        .expect("store works");
    assert_eq!(abandoned, None, "the abandoned write was committed");
}

pub fn users_sessions_and_their_workspaces(store: &StoreHandle) {
    let first = new_workspace(store, "users-first");
    let second = new_workspace(store, "users-second");
    assert_eq!(store.read_blocking(|r| r.users_count()).expect("read"), 0);
    let user = |email: &str, admin: bool| NewUser {
        email: email.into(),
        password_hash: format!("hash-of-{email}"),
        admin,
        created_at: 10,
    };
    let (admin, member) = (
        user("Boss@Example.com", true),
        user("ann@example.com", false),
    );
    let admin = store
        .write_blocking(move |tx| tx.insert_user(&admin))
        .expect("store works")
        .expect("created");
    assert_eq!(
        admin.email, "boss@example.com",
        "emails are kept in lowercase"
    );
    let member = store
        .write_blocking(move |tx| {
            let member = tx.insert_user(&member)?;
            tx.grant_workspace(member.id, second)?;
            tx.grant_workspace(member.id, second)?;
            Ok::<_, StoreError>(member)
        })
        .expect("store works")
        .expect("created");
    let again = user("ANN@example.com", false);
    let duplicate = store
        .write_blocking(move |tx| tx.insert_user(&again))
        .expect("store works");
    assert!(
        matches!(duplicate, Err(StoreError::Conflict(_))),
        "{duplicate:?}"
    );
    let (found, hash) = store
        .read_blocking(|r| r.user_by_email("ANN@EXAMPLE.COM"))
        .expect("read")
        .expect("found");
    assert_eq!(
        (found.id, hash.as_str()),
        (member.id, "hash-of-ann@example.com")
    );
    let reach = |id: i64| -> Vec<WorkspaceId> {
        store
            .read_blocking(move |r| r.user_workspaces(id))
            .expect("read")
            .iter()
            .map(|w| w.id)
            .collect()
    };
    assert!(reach(admin.id).contains(&first) && reach(admin.id).contains(&second));
    assert_eq!(reach(member.id), vec![second]);

    let session = SessionRow {
        token_hash: "token-hash".into(),
        user_id: member.id,
        csrf_token: "csrf".into(),
        created_at: 100,
        expires_at: 200,
    };
    let stored = session.clone();
    store
        .write_blocking(move |tx| tx.insert_session(&stored))
        .expect("store works")
        .expect("stored");
    let at = |now: i64| {
        store
            .read_blocking(move |r| r.session("token-hash", now))
            .expect("read")
    };
    assert_eq!(at(150), Some((session, member.clone())));
    assert_eq!(at(200), None, "expired");
    let ended = store
        .write_blocking(|tx| {
            Ok::<_, StoreError>((
                tx.delete_session("token-hash")?,
                tx.delete_session("token-hash")?,
            ))
        })
        .expect("store works")
        .expect("deleted");
    assert_eq!(ended, (true, false));
    assert_eq!(at(150), None);
    assert_eq!(store.read_blocking(|r| r.users_count()).expect("read"), 2);
}

pub fn people_are_paged_newest_first_and_found_by_prefix(store: &StoreHandle) {
    let ws = new_workspace(store, "people-pages");
    let other = new_workspace(store, "people-pages-other");
    let ann = new_person(store, ws, "ann", Some("Zed@Example.com"));
    let anna = new_person(store, ws, "anna", None);
    let bob = new_person(store, ws, "bob", Some("ann.b@example.com"));
    let gone = new_person(store, ws, "annie", None);
    new_person(store, other, "ann-elsewhere", None);
    store
        .write_blocking(move |tx| tx.delete_person(ws, gone, 20))
        .expect("store works")
        .expect("deleted");
    let seqs = |people: Vec<crate::Person>| people.iter().map(|p| p.seq).collect::<Vec<_>>();
    let page = |before: Option<PersonSeq>| {
        seqs(
            store
                .read_blocking(move |r| r.people_page(ws, before, 2))
                .expect("read"),
        )
    };
    assert_eq!(page(None), vec![bob, anna]);
    assert_eq!(page(Some(anna)), vec![ann]);
    let search = |prefix: &'static str| {
        seqs(
            store
                .read_blocking(move |r| r.search_people(ws, prefix, 10))
                .expect("read"),
        )
    };
    // Ids first (case as sent), then emails (in lowercase); each person once, the deleted
    // and other workspaces' never.
    assert_eq!(search("ann"), vec![ann, anna, bob]);
    assert_eq!(search("ZED@"), vec![ann]);
    assert_eq!(search("zz"), Vec::<PersonSeq>::new());
    assert_eq!(search("b"), vec![bob]);
}
