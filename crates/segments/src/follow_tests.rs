//! Two nodes' engines following one PostgreSQL store: each sees every node's writes, in
//! commit order, and the segments created on the other.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use herald_domain::{Clock, ManualClock, SegmentId, WorkspaceId};
use herald_ingest::Ingest;
use herald_store::StoreHandle;
use herald_store_postgres::PostgresStore;
use herald_store_postgres::test_database::TestSchema;
use serde_json::{Value, json};

use crate::{FollowOptions, SegmentDraft, Segments};

const NOW: i64 = 1_800_000_000;
const PEOPLE: usize = 30;

/// Two stores on one fresh schema, as two nodes open it, with a workspace, and a runtime for
/// the async calls.
pub(crate) struct Shared {
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) first: StoreHandle,
    pub(crate) second: StoreHandle,
    pub(crate) workspace: WorkspaceId,
    pub(crate) _schema: TestSchema,
}

pub(crate) fn shared(name: &str) -> Shared {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let schema = TestSchema::new();
    let first = PostgresStore::open_handle(&schema.options()).expect("the store opens");
    let second = PostgresStore::open_handle(&schema.options()).expect("the store opens");
    let workspace = herald_store::conformance::new_workspace(&first, name);
    Shared {
        runtime,
        first,
        second,
        workspace,
        _schema: schema,
    }
}

struct Node {
    segments: Segments,
    ingest: Ingest,
}

fn node(store: &StoreHandle, clock: &Arc<dyn Clock>, name: &str, renew_every: Duration) -> Node {
    let options = FollowOptions {
        node: name.to_owned(),
        renew_every,
        own_partitions_only: false,
    };
    Node {
        segments: Segments::start_following(store.clone(), clock.clone(), None, None, options)
            .expect("started"),
        ingest: Ingest::new(store.clone(), clock.clone()).with_engine_log(),
    }
}

/// Person i buys `i % modulo` times, the even ones through the first node and the odd ones
/// through the second, a round at a time.
fn buy_in_turns(
    runtime: &tokio::runtime::Runtime,
    workspace: WorkspaceId,
    nodes: &[Node],
    modulo: usize,
) {
    for round in 0..modulo {
        for (index, node) in nodes.iter().enumerate() {
            let items: Vec<Value> = (0..PEOPLE)
                .filter(|person| person % 2 == index && person % modulo > round)
                .map(purchase)
                .collect();
            if !items.is_empty() {
                crate::loading_tests::submit(&node.ingest, runtime, workspace, &items);
            }
        }
    }
}

/// Creates "bought at least 3 times" on `node`; returns its id.
fn regulars_segment(
    runtime: &tokio::runtime::Runtime,
    node: &Node,
    workspace: WorkspaceId,
) -> SegmentId {
    let draft = SegmentDraft {
        name: "Regulars".into(),
        description: String::new(),
        definition: Some(json!({"event": {"name": "purchased", "count": {"at_least": 3}}})),
    };
    runtime
        .block_on(node.segments.create(workspace, draft))
        .expect("created")
        .id
}

/// Two nodes on `first` and `second`, on one manual clock, renewing their leases every 20 ms.
fn two_nodes(first: &StoreHandle, second: &StoreHandle) -> [Node; 2] {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(NOW));
    let every = Duration::from_millis(20);
    [
        node(first, &clock, "first", every),
        node(second, &clock, "second", every),
    ]
}

pub(crate) fn purchase(person: usize) -> Value {
    json!({"type": "person", "identifiers": {"id": format!("p{person}")},
        "action": "event", "name": "purchased"})
}

fn members(
    runtime: &tokio::runtime::Runtime,
    node: &Node,
    workspace: WorkspaceId,
    id: SegmentId,
) -> BTreeSet<String> {
    runtime
        .block_on(node.segments.members_page(workspace, id, None, 1000))
        .expect("members")
        .people
        .into_iter()
        .filter_map(|person| person.id)
        .collect()
}

#[test]
fn engines_that_follow_the_store_see_every_nodes_writes_and_segments() {
    let Shared {
        runtime,
        first,
        second,
        workspace,
        _schema,
    } = shared("nodes");
    let nodes = two_nodes(&first, &second);
    let submit = |node: &Node, items: Vec<Value>| {
        crate::loading_tests::submit(&node.ingest, &runtime, workspace, &items);
    };

    // Person i buys i % 5 times, through both nodes in turn.
    buy_in_turns(&runtime, workspace, &nodes, 5);

    // A segment created on the first node; the second builds it when asked about it, or from
    // the notification, whichever comes first.
    let segment = regulars_segment(&runtime, &nodes[0], workspace);
    let expected = |purchases: &dyn Fn(usize) -> usize| -> BTreeSet<String> {
        (0..PEOPLE)
            .filter(|person| purchases(*person) >= 3)
            .map(|person| format!("p{person}"))
            .collect()
    };
    let before = expected(&|person| person % 5);
    assert_eq!(members(&runtime, &nodes[0], workspace, segment), before);
    // Asked right away, the other node builds it from the stored row, without waiting for the
    // notification.
    assert_eq!(
        members(&runtime, &nodes[1], workspace, segment),
        before,
        "the other node knows the segment at once"
    );

    // One more purchase each, through the node that did not create the segment: a read on
    // either node right after sees it, whichever node took the write.
    submit(&nodes[1], (0..PEOPLE).map(purchase).collect());
    let after = expected(&|person| person % 5 + 1);
    assert_ne!(after, before);
    for node in &nodes {
        assert_eq!(members(&runtime, node, workspace, segment), after);
        assert_eq!(
            runtime
                .block_on(node.segments.count(workspace, segment))
                .expect("counted"),
            after.len()
        );
    }

    // Deleted on the second node, gone from the first.
    runtime
        .block_on(nodes[1].segments.delete(workspace, segment))
        .expect("deleted");
    let mut held = true;
    for _ in 0..500 {
        held = runtime
            .block_on(nodes[0].segments.query(move |view| {
                view.engines
                    .get(&workspace)
                    .is_some_and(|engine| engine.segments().any(|(id, _)| id == segment))
            }))
            .expect("asked");
        if !held {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!held, "the first node forgot the deleted segment");
}

/// Waits, a few seconds at most, until `done` holds: leases and stored changes are the work of
/// other threads.
/// Two nodes on `first` and `second` and one manual clock: the first renews its leases once,
/// then never again (it stops, as far as the leases can tell), and owns every partition; the
/// second renews only when told, so that a test chooses when it takes over (`take_over`).
fn owner_and_successor(
    runtime: &tokio::runtime::Runtime,
    first: &StoreHandle,
    second: &StoreHandle,
) -> (Arc<ManualClock>, [Node; 2]) {
    let manual = Arc::new(ManualClock::new(NOW));
    let clock: Arc<dyn Clock> = manual.clone();
    let first_node = node(first, &clock, "first", Duration::from_secs(3600));
    eventually("the first node owning every partition", || {
        owned(runtime, &first_node) == 256
    });
    let second_node = node(second, &clock, "second", Duration::from_secs(3600));
    (manual, [first_node, second_node])
}

/// Has the second node of `owner_and_successor` renew, once the first's leases ran out, and
/// waits until it owns every partition.
fn take_over(runtime: &tokio::runtime::Runtime, nodes: &[Node; 2]) {
    nodes[1].segments.renew_leases();
    eventually("the second node owning every partition", || {
        owned(runtime, &nodes[1]) == 256
    });
}

pub(crate) fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{what} did not happen within 10 s");
}

fn owned(runtime: &tokio::runtime::Runtime, node: &Node) -> usize {
    runtime
        .block_on(node.segments.query(|view| view.owned_partitions))
        .expect("asked")
}

/// The stored members of a segment, by id.
fn stored(store: &StoreHandle, workspace: WorkspaceId, segment: SegmentId) -> BTreeSet<String> {
    store
        .read_blocking(move |r| {
            let mut ids = BTreeSet::new();
            for (id, person) in r.segment_members(workspace)? {
                if id == segment
                    && let Some(person) = r.person_by_seq(workspace, person)?
                {
                    ids.extend(person.id);
                }
            }
            Ok(ids)
        })
        .expect("read")
}

#[test]
fn owners_store_each_change_once_and_a_takeover_stores_what_was_left() {
    let Shared {
        runtime,
        first,
        second,
        workspace,
        _schema,
    } = shared("owners");
    let (manual, nodes) = owner_and_successor(&runtime, &first, &second);
    let submit = |node: &Node, items: Vec<Value>| {
        crate::loading_tests::submit(&node.ingest, &runtime, workspace, &items);
    };

    buy_in_turns(&runtime, workspace, &nodes, 4);
    let segment = regulars_segment(&runtime, &nodes[1], workspace);
    let regulars = |extra: usize| -> BTreeSet<String> {
        (0..PEOPLE)
            .filter(|person| person % 4 + extra >= 3)
            .map(|person| format!("p{person}"))
            .collect()
    };
    // The first node owns every partition, so it stores every entry.
    eventually("the entries stored", || {
        stored(&first, workspace, segment) == regulars(0)
    });

    // The first node's leases run out. It still applies what comes, but stores nothing more,
    // and the second takes its partitions over and stores what was left.
    manual.set(NOW + 20).expect("the clock moves forward");
    submit(&nodes[0], (0..PEOPLE).map(purchase).collect());
    // Both engines hold the purchase before the second node owns anything: the entries it
    // makes are stored by neither, until the takeover finds them.
    for node in &nodes {
        assert_eq!(members(&runtime, node, workspace, segment), regulars(1));
    }
    assert_eq!(stored(&first, workspace, segment), regulars(0));
    take_over(&runtime, &nodes);
    assert_eq!(owned(&runtime, &nodes[0]), 0);
    eventually("the later entries stored", || {
        stored(&second, workspace, segment) == regulars(1)
    });
    runtime
        .block_on(nodes[1].segments.flush())
        .expect("flushed");

    // Each entry was stored once, by one node.
    for person in 0..PEOPLE {
        let id = format!("p{person}");
        let history = second
            .read_blocking(move |r| {
                let seq = r
                    .person(workspace, &herald_domain::Identifier::Id(id))?
                    .expect("a person")
                    .seq;
                r.segment_history(segment, seq)
            })
            .expect("read");
        let entries = history.iter().filter(|change| change.entered).count();
        let expected = usize::from(regulars(1).contains(&format!("p{person}")));
        assert_eq!(entries, expected, "p{person}: {history:?}");
        assert!(history.iter().all(|change| change.entered));
    }
}

#[test]
fn a_manual_change_on_one_node_reaches_the_other_and_what_derives_from_it() {
    let Shared {
        runtime,
        first,
        second,
        workspace,
        _schema,
    } = shared("manual");
    let nodes = two_nodes(&first, &second);
    crate::loading_tests::submit(
        &nodes[0].ingest,
        &runtime,
        workspace,
        &[purchase(1), purchase(2)],
    );
    let create = |definition: Option<Value>| SegmentDraft {
        name: "Chosen".into(),
        description: String::new(),
        definition,
    };
    let manual = runtime
        .block_on(nodes[0].segments.create(workspace, create(None)))
        .expect("created")
        .id;
    let derived = runtime
        .block_on(
            nodes[0]
                .segments
                .create(workspace, create(Some(json!({"segment": {"id": manual}})))),
        )
        .expect("created")
        .id;
    eventually("the other node knowing both segments", || {
        runtime
            .block_on(nodes[1].segments.query(move |view| {
                view.engines
                    .get(&workspace)
                    .is_some_and(|engine| engine.segments().any(|(id, _)| id == derived))
            }))
            .expect("asked")
    });

    // Added on the second node; the first reads the stored members when it hears of it.
    let p1 = second
        .read_blocking(move |r| r.person(workspace, &herald_domain::Identifier::Id("p1".into())))
        .expect("read")
        .expect("a person")
        .seq;
    runtime
        .block_on(
            nodes[1]
                .segments
                .set_manual(workspace, manual, vec![p1.get()], true),
        )
        .expect("added");
    let expected: BTreeSet<String> = ["p1".to_owned()].into();
    for id in [manual, derived] {
        eventually("the first node following the manual change", || {
            members(&runtime, &nodes[0], workspace, id) == expected
        });
        assert_eq!(members(&runtime, &nodes[1], workspace, id), expected);
    }
    // The derived segment's entry is stored once, by its owner.
    eventually("the derived entry stored", || {
        stored(&first, workspace, derived) == expected
    });
    let history = first
        .read_blocking(move |r| r.segment_history(derived, p1))
        .expect("read");
    assert_eq!(history.len(), 1, "{history:?}");
}

/// Two following engines on one store that tells no one of its changes (an SQLite file in one
/// process), so that the only way the second learns of a segment the first created is being
/// asked about it.
#[test]
fn a_segment_created_elsewhere_is_known_when_asked_about() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let (store, _dir) = crate::loading_tests::store();
    let workspace = crate::loading_tests::workspace(&store);
    let nodes = two_nodes(&store, &store);
    buy_in_turns(&runtime, workspace, &nodes, 5);
    let segment = regulars_segment(&runtime, &nodes[0], workspace);
    let regulars: BTreeSet<String> = (0..PEOPLE)
        .filter(|person| person % 5 >= 3)
        .map(|person| format!("p{person}"))
        .collect();
    for node in &nodes {
        assert_eq!(members(&runtime, node, workspace, segment), regulars);
    }
}

/// A node that died while building a segment left entries unstored and the build unfinished:
/// the node that takes its partitions over stores those entries as build entries, which start
/// no campaign, not as live ones.
#[test]
fn the_entries_of_an_interrupted_build_are_taken_over_as_build_entries() {
    let Shared {
        runtime,
        first,
        second,
        workspace,
        _schema,
    } = shared("interrupted");
    let (manual, nodes) = owner_and_successor(&runtime, &first, &second);
    buy_in_turns(&runtime, workspace, &nodes, 4);
    let segment = regulars_segment(&runtime, &nodes[1], workspace);
    let regulars: BTreeSet<String> = (0..PEOPLE)
        .filter(|person| person % 4 >= 3)
        .map(|person| format!("p{person}"))
        .collect();
    eventually("the entries stored", || {
        stored(&first, workspace, segment) == regulars
    });
    // Every purchase was committed before the segment: the first node, which heard of the
    // segment from the second, stored build entries only, even when its engine had not yet
    // applied every purchase when it heard.
    for person in &regulars {
        let history = history_of(&first, workspace, segment, person);
        assert!(
            history
                .iter()
                .all(|change| change.origin == herald_store::MembershipOrigin::Build),
            "{person}: {history:?}"
        );
    }

    // As if the first node had died part-way through the build: its entries are not stored
    // (taken back here by exits), and the build is not marked finished.
    first
        .write_blocking(move |tx| {
            let stored = tx.segment_members(workspace)?;
            let exits: Vec<herald_store::MembershipChange> = stored
                .into_iter()
                .filter(|(id, _)| *id == segment)
                .map(|(_, person_seq)| herald_store::MembershipChange {
                    segment_id: segment,
                    person_seq,
                    entered: false,
                    at: NOW,
                    cause: herald_store::MembershipCause::Build,
                    origin: herald_store::MembershipOrigin::Build,
                })
                .collect();
            tx.record_membership_changes(workspace, &exits)?;
            let mut row = tx.segment(workspace, segment)?.expect("the segment");
            row.state = herald_store::SegmentState::Build;
            tx.update_segment(&row)
        })
        .expect("store works")
        .expect("written");
    assert!(stored(&first, workspace, segment).is_empty());

    // The first node's leases run out, and the second takes every partition over.
    manual.set(NOW + 20).expect("the clock moves forward");
    take_over(&runtime, &nodes);
    eventually("the entries stored again", || {
        stored(&second, workspace, segment) == regulars
    });
    for person in &regulars {
        let history = history_of(&second, workspace, segment, person);
        let last = history.last().expect("a history");
        assert!(last.entered, "{person}: {history:?}");
        assert_eq!(
            last.origin,
            herald_store::MembershipOrigin::Build,
            "{person}: {history:?}"
        );
    }
}

/// A person's stored history in a segment, by the person's id.
fn history_of(
    store: &StoreHandle,
    workspace: WorkspaceId,
    segment: SegmentId,
    person: &str,
) -> Vec<herald_store::MembershipChange> {
    let id = person.to_owned();
    store
        .read_blocking(move |r| {
            let seq = r
                .person(workspace, &herald_domain::Identifier::Id(id))?
                .expect("a person")
                .seq;
            r.segment_history(segment, seq)
        })
        .expect("read")
}

/// The retention setting dropped every person's only purchase while the node's leases had run
/// out by its clock (the dev clock jumped, or the node stalled), so the node stored none of the
/// exits then. When it holds its partitions again, the comparison with the store stores those
/// exits as what they were, build changes that start no campaign, not as live ones (an exit
/// campaign fired for them, in the retention test in cluster mode under load).
#[test]
fn exits_the_retention_caused_while_leases_lapsed_are_stored_as_build_changes() {
    let Shared {
        runtime,
        first,
        workspace,
        _schema,
        ..
    } = shared("retention");
    let manual = Arc::new(ManualClock::new(NOW));
    let clock: Arc<dyn Clock> = manual.clone();
    let only = node(&first, &clock, "only", Duration::from_secs(3600));
    eventually("the node owning every partition", || {
        owned(&runtime, &only) == 256
    });
    let items: Vec<Value> = (0..PEOPLE)
        .map(|person| {
            let mut item = purchase(person);
            item["timestamp"] = json!(NOW - 100);
            item
        })
        .collect();
    crate::loading_tests::submit(&only.ingest, &runtime, workspace, &items);
    let draft = SegmentDraft {
        name: "Buyers".into(),
        description: String::new(),
        definition: Some(json!({"event": {"name": "purchased"}})),
    };
    let segment = runtime
        .block_on(only.segments.create(workspace, draft))
        .expect("created")
        .id;
    let everyone: BTreeSet<String> = (0..PEOPLE).map(|person| format!("p{person}")).collect();
    eventually("the entries stored", || {
        stored(&first, workspace, segment) == everyone
    });

    // Past the leases, the retention drops every purchase: the engine has every exit, the
    // store none of them.
    manual.set(NOW + 60).expect("the clock moves forward");
    let dropped = runtime
        .block_on(only.ingest.drop_events_before(workspace, NOW, 0, i64::MAX))
        .expect("dropped");
    assert_eq!(dropped.deleted, PEOPLE as u64);
    eventually("the engine applying the drop", || {
        members(&runtime, &only, workspace, segment).is_empty()
    });
    assert_eq!(stored(&first, workspace, segment), everyone);

    // The node renews and compares its partitions with the store.
    only.segments.renew_leases();
    eventually("the exits stored", || {
        stored(&first, workspace, segment).is_empty()
    });
    for person in &everyone {
        let history = history_of(&first, workspace, segment, person);
        let last = history.last().expect("a history");
        assert!(!last.entered, "{person}: {history:?}");
        assert_eq!(
            last.origin,
            herald_store::MembershipOrigin::Build,
            "{person}: {history:?}"
        );
    }
}
