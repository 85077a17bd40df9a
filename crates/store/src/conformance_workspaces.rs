//! Conformance: rotating a workspace's keys, and deleting a workspace with every row it has.

use herald_domain::{ActivityKind, Identifier, PersonSeq, RunId, WorkspaceId};
use serde_json::{Map, json};

use super::{append, campaign, event, new_person, new_workspace, run_row};
use crate::{
    CREDENTIALS_VERSION, CampaignState, DeliveryMetric, DeliveryRow, DeliveryStatus, Device,
    MembershipCause, MembershipChange, MembershipOrigin, NewActivity, NewObject, NewSegment,
    NewUser, SegmentState, StoreError, StoreHandle, WorkspaceKey, import_setting_key,
};

fn version(store: &StoreHandle) -> Option<String> {
    store
        .read_blocking(|r| r.setting(CREDENTIALS_VERSION))
        .expect("read")
}

fn rotate(
    store: &StoreHandle,
    ws: WorkspaceId,
    key: WorkspaceKey,
    hash: &str,
    now: i64,
    expires_at: i64,
) -> bool {
    let hash = hash.to_owned();
    store
        .write_blocking(move |tx| tx.rotate_key(ws, key, &hash, now, expires_at))
        .expect("store works")
        .expect("rotated")
}

fn retired(store: &StoreHandle, key: WorkspaceKey, hash: &str) -> Option<crate::RetiredKey> {
    let hash = hash.to_owned();
    store
        .read_blocking(move |r| r.retired_key(key, &hash))
        .expect("read")
}

pub fn rotated_keys_are_retired_until_their_expiry(store: &StoreHandle) {
    let ws = new_workspace(store, "rotated");
    let other = new_workspace(store, "untouched");
    let before = version(store);

    // Track: the site id now takes the new key's hash; the old one is retired until 200.
    assert!(rotate(store, ws, WorkspaceKey::Track, "key-new", 100, 200));
    let credentials = store
        .read_blocking(|r| r.workspace_by_site_id("site-rotated"))
        .expect("read")
        .expect("found");
    assert_eq!(credentials.api_key_hash, "key-new");
    let old = retired(store, WorkspaceKey::Track, "key-rotated").expect("the old key is kept");
    assert_eq!(
        (old.workspace_id, old.key, old.retired_at, old.expires_at),
        (ws, WorkspaceKey::Track, 100, 200)
    );
    assert!(old.accepted_at(199));
    assert!(!old.accepted_at(200), "refused from its expiry on");
    assert_ne!(version(store), before, "servers learn that keys changed");
    assert!(
        retired(store, WorkspaceKey::App, "key-rotated").is_none(),
        "a retired key is of one kind"
    );
    assert!(retired(store, WorkspaceKey::Track, "key-untouched").is_none());

    // Rotating again ends the grace of the key retired before at once.
    assert!(rotate(
        store,
        ws,
        WorkspaceKey::Track,
        "key-newer",
        150,
        300
    ));
    assert!(retired(store, WorkspaceKey::Track, "key-rotated").is_none());
    assert_eq!(
        retired(store, WorkspaceKey::Track, "key-new").map(|key| key.expires_at),
        Some(300)
    );

    // App: found by the new hash only; the old one is retired.
    assert!(rotate(store, ws, WorkspaceKey::App, "app-new", 100, 100));
    let found = |hash: &'static str| {
        store
            .read_blocking(move |r| r.workspace_by_app_key_hash(hash))
            .expect("read")
            .map(|workspace| workspace.id)
    };
    assert_eq!(found("app-new"), Some(ws));
    assert_eq!(found("app-rotated"), None);
    assert_eq!(found("app-untouched"), Some(other));
    let old = retired(store, WorkspaceKey::App, "app-rotated").expect("kept");
    assert!(!old.accepted_at(100), "a grace of nothing refuses at once");

    // Write key: a workspace without one has nothing to rotate; one with one rotates it.
    let unchanged = version(store);
    assert!(!rotate(
        store,
        ws,
        WorkspaceKey::Write,
        "write-new",
        100,
        200
    ));
    assert_eq!(version(store), unchanged, "nothing changed");
    store
        .write_blocking(move |tx| tx.set_write_key_hash(ws, "write-first"))
        .expect("store works")
        .expect("given");
    assert!(rotate(
        store,
        ws,
        WorkspaceKey::Write,
        "write-new",
        100,
        200
    ));
    let by_write = |hash: &'static str| {
        store
            .read_blocking(move |r| r.workspace_by_write_key_hash(hash))
            .expect("read")
            .map(|workspace| workspace.id)
    };
    assert_eq!(by_write("write-new"), Some(ws));
    assert_eq!(by_write("write-first"), None);
    assert!(retired(store, WorkspaceKey::Write, "write-first").is_some());

    // A missing workspace has no key to rotate.
    assert!(!rotate(
        store,
        WorkspaceId::new(999_999),
        WorkspaceKey::Track,
        "x",
        1,
        2
    ));
}

/// What `fill` stored of a workspace, to find it again afterwards.
struct Filled {
    person: PersonSeq,
    deleted_segment: crate::SegmentRow,
    delivery_id: String,
}

/// Gives a workspace a row in every table of a workspace's data.
fn fill(store: &StoreHandle, ws: WorkspaceId, name: &str, user_id: i64) -> Filled {
    let person = new_person(
        store,
        ws,
        &format!("{name}-ann"),
        Some(&format!("{name}@a.b")),
    );
    let other = new_person(store, ws, &format!("{name}-bob"), None);
    for timestamp in [10, 86_400 + 10] {
        append(store, event(ws, Some(person), "purchased", timestamp));
    }
    let anonymous = NewActivity {
        anonymous_id: Some(format!("{name}-visitor")),
        kind: ActivityKind::Page,
        ..event(ws, None, "/pricing", 20)
    };
    append(store, anonymous);
    // Where an import of the workspace stands, kept as a setting.
    store
        .write_blocking(move |tx| tx.set_setting(&import_setting_key(ws, "people.csv-1"), "2000"))
        .expect("store works")
        .expect("set");
    let campaign_id = campaign(store, ws, CampaignState::Running);
    let deleted_campaign = campaign(store, ws, CampaignState::Running);
    let delivery_id = format!("{name}-delivery");
    let mut delivery = DeliveryRow {
        id: delivery_id.clone(),
        workspace_id: ws,
        campaign_id,
        run_id: RunId::new(1),
        person_seq: person,
        step: 0,
        channel: "webhook".into(),
        status: DeliveryStatus::Sent,
        content: json!({"url": "https://example.com"}),
        idempotency_key: format!("{name}-key"),
        attempts: 1,
        error: None,
        created_at: 10,
        updated_at: 10,
        sent_at: Some(10),
    };
    let metric = DeliveryMetric {
        source: "metrics".into(),
        delivery_id: delivery_id.clone(),
        metric: "opened".into(),
        timestamp: 11,
        received_at: 11,
        data: json!({}),
    };
    let name_owned = name.to_owned();
    store
        .write_blocking(move |tx| {
            let name = name_owned.as_str();
            tx.upsert_device(
                ws,
                person,
                &Device {
                    token: format!("{name}-token"),
                    platform: "ios".into(),
                    last_used: None,
                    attributes: Map::new(),
                },
            )?;
            tx.suppress(ws, &Identifier::Id(format!("{name}-gone")), 5)?;
            tx.set_anonymous_link(ws, &format!("{name}-visitor"), person, 5)?;
            tx.note_event(ws, "event", "purchased", 10, &Map::new())?;
            tx.note_event(ws, "event", "purchased", 86_400 + 10, &Map::new())?;
            let run =
                tx.insert_run(&run_row(ws, campaign_id, person, &format!("{name}-run"), 5))?;
            delivery.run_id = run.id;
            // Runs and enrollments of a campaign deleted since stay behind it.
            tx.insert_run(&run_row(
                ws,
                deleted_campaign,
                other,
                &format!("{name}-old-run"),
                5,
            ))?;
            tx.enroll_once(ws, campaign_id, person, 5)?;
            tx.enroll_once(ws, deleted_campaign, other, 5)?;
            tx.delete_campaign(ws, deleted_campaign)?;
            tx.insert_delivery(&delivery)?;
            tx.insert_delivery_metric(&metric)?;
            let object = tx.insert_object(&NewObject {
                workspace_id: ws,
                object_type_id: "1".into(),
                object_id: format!("{name}-acme"),
                cio_object_id: format!("{name}-cio-acme"),
                attributes: Map::new(),
                created_at: 5,
            })?;
            tx.save_relationship(ws, person, object.seq, &Map::new(), 5)?;
            tx.save_anonymous_relationship(ws, "someone", object.seq, &Map::new(), 5)?;
            tx.append_engine_log(ws, b"inputs")?;
            tx.grant_workspace(user_id, ws)?;
            Ok::<_, StoreError>(())
        })
        .expect("store works")
        .expect("filled");
    let segment = |definition: Option<serde_json::Value>| NewSegment {
        workspace_id: ws,
        name: "buyers".into(),
        description: String::new(),
        definition,
        state: SegmentState::Finished,
        now: 5,
    };
    let (kept, deleted) = (
        segment(Some(json!({"event": {"name": "purchased"}}))),
        segment(None),
    );
    let (kept, deleted_segment) = store
        .write_blocking(move |tx| {
            Ok::<_, StoreError>((tx.insert_segment(&kept)?, tx.insert_segment(&deleted)?))
        })
        .expect("store works")
        .expect("inserted");
    for segment_id in [kept.id, deleted_segment.id] {
        let changes = vec![MembershipChange {
            segment_id,
            person_seq: person,
            entered: true,
            at: 10,
            cause: MembershipCause::Deadline,
            origin: MembershipOrigin::Live,
        }];
        store
            .write_blocking(move |tx| tx.record_membership_changes(ws, &changes))
            .expect("store works")
            .expect("recorded");
    }
    // A segment deleted earlier whose rows still wait for the background purge.
    let deleted_id = deleted_segment.id;
    store
        .write_blocking(move |tx| tx.delete_segment(ws, deleted_id))
        .expect("store works")
        .expect("deleted");
    rotate(
        store,
        ws,
        WorkspaceKey::Track,
        &format!("key-{name}-2"),
        5,
        50,
    );
    Filled {
        person,
        deleted_segment,
        delivery_id,
    }
}

fn rows_of(store: &StoreHandle, ws: WorkspaceId) -> Vec<(&'static str, u64)> {
    store
        .read_blocking(move |r| r.workspace_rows(ws))
        .expect("read")
}

pub fn a_deleted_workspace_is_hidden_at_once_then_removed_to_its_last_row(store: &StoreHandle) {
    let kept = new_workspace(store, "kept");
    let gone = new_workspace(store, "gone");
    let user = store
        .write_blocking(|tx| {
            tx.insert_user(&NewUser {
                email: "member@example.com".into(),
                password_hash: "x".into(),
                admin: false,
                created_at: 1,
            })
        })
        .expect("store works")
        .expect("inserted");
    let kept_rows = fill(store, kept, "kept", user.id);
    let gone_rows = fill(store, gone, "gone", user.id);
    let before_kept = rows_of(store, kept);
    let before_gone = rows_of(store, gone);
    for (table, rows) in &before_gone {
        // Rows of segments deleted earlier name no workspace on every backend, and are not
        // counted; every other table holds some of the workspace's rows.
        assert!(*rows > 0, "{table} holds none of the workspace's rows");
    }
    assert_eq!(
        before_kept, before_gone,
        "both workspaces hold as many rows"
    );

    // Rows are removed only from a workspace marked deleted.
    let refused = store
        .write_blocking(move |tx| tx.purge_workspace(gone, 0, 10))
        .expect("store works");
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    let refused = store
        .write_blocking(move |tx| tx.remove_workspace(gone))
        .expect("store works");
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );

    let version_before = version(store);
    let marked = store
        .write_blocking(move |tx| tx.mark_workspace_deleted(gone, 100))
        .expect("store works")
        .expect("marked");
    assert!(marked);
    assert_ne!(version(store), version_before);
    let hidden = store
        .read_blocking(move |r| {
            Ok::<_, StoreError>((
                r.workspaces()?.iter().map(|w| w.id).collect::<Vec<_>>(),
                r.deleted_workspaces()?
                    .iter()
                    .map(|w| w.id)
                    .collect::<Vec<_>>(),
                r.workspace_by_site_id("site-gone")?.is_some(),
                r.workspace_by_app_key_hash("app-gone")?.is_some(),
                r.retired_key(WorkspaceKey::Track, "key-gone")?.is_some(),
                r.user_workspaces(user.id)?
                    .iter()
                    .map(|w| w.id)
                    .collect::<Vec<_>>(),
            ))
        })
        .expect("read");
    assert_eq!(
        hidden,
        (vec![kept], vec![gone], false, false, false, vec![kept])
    );

    // A step at a time, each bounded; the parts found empty are not looked at again.
    let mut removed: std::collections::BTreeMap<&str, u64> = Default::default();
    let mut from = 0;
    let mut steps = 0;
    while let Some(step) = store
        .write_blocking(move |tx| tx.purge_workspace(gone, from, 1))
        .expect("store works")
        .expect("purged")
    {
        assert!(step.next >= from, "steps go forward");
        from = step.next;
        for (table, rows) in step.removed {
            assert!(rows <= 1, "{table}: {rows} rows in a step of 1");
            *removed.entry(table).or_default() += rows;
        }
        steps += 1;
        assert!(steps < 1_000, "the purge ends");
    }
    let expected: std::collections::BTreeMap<&str, u64> = before_gone.iter().copied().collect();
    assert_eq!(removed, expected, "every row counted is removed, once");
    assert!(
        rows_of(store, gone).iter().all(|(_, rows)| *rows == 0),
        "{:?}",
        rows_of(store, gone)
    );
    let removed = store
        .write_blocking(move |tx| tx.remove_workspace(gone))
        .expect("store works")
        .expect("removed");
    assert!(removed);
    let leftovers = store
        .read_blocking(move |r| {
            Ok::<_, StoreError>((
                r.deleted_workspaces()?.len(),
                r.segment_purges()?.contains(&gone_rows.deleted_segment.id),
                r.segment_history(gone_rows.deleted_segment.id, gone_rows.person)?
                    .len(),
                r.delivery_metrics(&gone_rows.delivery_id)?.len(),
                r.setting(&import_setting_key(gone, "people.csv-1"))?,
            ))
        })
        .expect("read");
    assert_eq!(
        leftovers,
        (0, false, 0, 0, None),
        "nothing of the workspace is left"
    );
    let again = store
        .write_blocking(move |tx| tx.remove_workspace(gone))
        .expect("store works")
        .expect("answered");
    assert!(!again, "it is gone");

    // The other workspace is untouched.
    assert_eq!(rows_of(store, kept), before_kept);
    let kept_person = kept_rows.person;
    let still = store
        .read_blocking(move |r| {
            Ok::<_, StoreError>((
                r.person_by_seq(kept, kept_person)?.is_some(),
                r.workspace_by_site_id("site-kept")?.is_some(),
                r.delivery_metrics(&kept_rows.delivery_id)?.len(),
                r.segments(kept)?.len(),
                r.setting(&import_setting_key(kept, "people.csv-1"))?,
            ))
        })
        .expect("read");
    assert_eq!(still, (true, true, 1, 1, Some("2000".to_owned())));

    // A workspace created afterwards never takes the removed one's id, which engine images and
    // running servers may still name.
    let next = new_workspace(store, "next");
    assert!(next > gone, "{next:?} after {gone:?}");
}
