//! Engines that hold only the people of their node's partitions
//! (`FollowOptions::own_partitions_only`): two nodes on one PostgreSQL store share the
//! partitions, each loading the people of those it gains and dropping those of the ones it
//! loses, and the memberships their owners store stay exact through merges across
//! partitions, deletions and a takeover.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use herald_domain::{Clock, ManualClock, PersonSeq, SegmentId, WorkspaceId};
use herald_ingest::Ingest;
use herald_segment_engine::{Definition, reference};
use herald_store::{PARTITIONS, PartitionSet, StoreHandle, partition_of};
use serde_json::{Value, json};

use crate::follow_tests::{Shared, eventually, purchase, shared};
use crate::{FollowOptions, SegmentDraft, Segments, history_of};

const NOW: i64 = 1_800_000_000;
const PEOPLE: usize = 60;

struct Node {
    segments: Segments,
    ingest: Ingest,
}

fn node(store: &StoreHandle, clock: &Arc<dyn Clock>, name: &str) -> Node {
    let options = FollowOptions {
        node: name.to_owned(),
        renew_every: Duration::from_millis(20),
        own_partitions_only: true,
    };
    Node {
        segments: Segments::start_following(store.clone(), clock.clone(), None, None, options)
            .expect("started"),
        ingest: Ingest::new(store.clone(), clock.clone()).with_engine_log(),
    }
}

fn submit(runtime: &tokio::runtime::Runtime, node: &Node, workspace: WorkspaceId, items: &[Value]) {
    crate::loading_tests::submit(&node.ingest, runtime, workspace, items);
}

/// The partitions whose people a node's engines hold, and the people they hold.
fn held(
    runtime: &tokio::runtime::Runtime,
    node: &Node,
    workspace: WorkspaceId,
) -> (PartitionSet, BTreeSet<i64>) {
    runtime
        .block_on(node.segments.query(move |view| {
            let people = view
                .engines
                .get(&workspace)
                .map(|engine| engine.people().collect())
                .unwrap_or_default();
            (view.held_partitions, people)
        }))
        .expect("asked")
}

/// The stored members of a segment, by seq.
fn stored_members(
    store: &StoreHandle,
    workspace: WorkspaceId,
    segment: SegmentId,
) -> BTreeSet<i64> {
    store
        .read_blocking(move |r| {
            Ok(r.segment_members(workspace)?
                .into_iter()
                .filter(|(id, _)| *id == segment)
                .map(|(_, person)| person.get())
                .collect())
        })
        .expect("read")
}

/// The live people of the workspace by seq, with the stored members of `segment` among them
/// and those the reference evaluator puts in it from their stored history.
fn stored_and_expected(
    store: &StoreHandle,
    workspace: WorkspaceId,
    segment: SegmentId,
    definition: &Definition,
) -> (BTreeSet<i64>, BTreeSet<i64>) {
    let definition = definition.clone();
    let expected = store
        .read_blocking(move |r| {
            let mut expected = BTreeSet::new();
            for person in r.live_people(workspace)? {
                let history = history_of(r, workspace, person.seq.get())?.expect("alive");
                if reference::matches(&definition.root, &history, &|_| false, NOW) {
                    expected.insert(person.seq.get());
                }
            }
            Ok(expected)
        })
        .expect("read");
    (stored_members(store, workspace, segment), expected)
}

#[test]
fn nodes_hold_their_own_partitions_and_store_exact_memberships() {
    let Shared {
        runtime,
        first,
        second,
        workspace,
        _schema,
    } = shared("own-partitions");
    let manual = Arc::new(ManualClock::new(NOW));
    let clock: Arc<dyn Clock> = manual.clone();

    // The first node alone owns, and so holds, every partition.
    let first_node = node(&first, &clock, "first");
    eventually("the first node holding every partition", || {
        held(&runtime, &first_node, workspace).0.is_all()
    });
    for round in 0..3 {
        let items: Vec<Value> = (0..PEOPLE)
            .filter(|person| person % 4 > round)
            .map(purchase)
            .collect();
        submit(&runtime, &first_node, workspace, &items);
    }

    // Purchases keep coming while the second node joins and loads its partitions: the log
    // entries its reads already hold must not be applied to their people again, which
    // "exactly" counts would show.
    let writing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let writer = {
        let (store, clock, writing) = (first.clone(), clock.clone(), writing.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("a runtime");
            let ingest = Ingest::new(store, clock).with_engine_log();
            let mut person = 0;
            while writing.load(std::sync::atomic::Ordering::Relaxed) {
                crate::loading_tests::submit(&ingest, &runtime, workspace, &[purchase(person)]);
                person = (person + 7) % PEOPLE;
            }
        })
    };
    let nodes = [first_node, node(&second, &clock, "second")];
    // "At least 3", and "exactly n" for every count people reach here, which any purchase
    // applied twice or missed shows.
    let exactly =
        (1..=10).map(|n| json!({"event": {"name": "purchased", "count": {"exactly": n}}}));
    let segments: Vec<(SegmentId, Definition)> =
        std::iter::once(json!({"event": {"name": "purchased", "count": {"at_least": 3}}}))
            .chain(exactly)
            .map(|source| {
                let definition = Definition::parse(&source).expect("a definition");
                let draft = SegmentDraft {
                    name: source.to_string(),
                    description: String::new(),
                    definition: Some(source),
                };
                let created = runtime.block_on(nodes[1].segments.create(workspace, draft));
                (created.expect("created").id, definition)
            })
            .collect();

    // The second node joins: the partitions end up shared, and each engine holds the people
    // of its own partitions and nobody else.
    let people = |store: &StoreHandle| -> BTreeSet<i64> {
        store
            .read_blocking(move |r| r.live_people(workspace))
            .expect("read")
            .into_iter()
            .map(|person| person.seq.get())
            .collect()
    };
    let split = || {
        let everyone = people(&first);
        // The first node, which gives partitions up, is asked first: a partition it no longer
        // holds is one the second held before the first dropped it.
        let second_ready = nodes[1].segments.is_loaded();
        let (first_held, first_people) = held(&runtime, &nodes[0], workspace);
        let (second_held, second_people) = held(&runtime, &nodes[1], workspace);
        assert!(
            first_held.union(&second_held).is_all(),
            "some engine holds every partition while they move"
        );
        assert!(
            !second_ready || second_held.len() >= 128,
            "the second node answers once it holds its half"
        );
        let of = |set: PartitionSet| -> BTreeSet<i64> {
            everyone
                .iter()
                .copied()
                .filter(|person| set.contains(partition_of(workspace, *person)))
                .collect()
        };
        !first_held.is_empty()
            && !second_held.is_empty()
            && first_held.len() + second_held.len() == usize::from(PARTITIONS)
            && first_held
                .iter()
                .all(|partition| !second_held.contains(partition))
            && first_people == of(first_held)
            && second_people == of(second_held)
    };
    eventually(
        "the partitions shared, each engine holding its own people",
        split,
    );
    writing.store(false, std::sync::atomic::Ordering::Relaxed);
    writer.join().expect("the writer ends");
    let exact = |store: &StoreHandle| {
        segments.iter().all(|(segment, definition)| {
            let (stored, expected) = stored_and_expected(store, workspace, *segment, definition);
            stored == expected
        })
    };
    eventually("the stored memberships exact after the join", || {
        exact(&first)
    });

    // Ten people get a plan, through the first node.
    let plans: Vec<Value> = (0..10)
        .map(|person| {
            json!({"type": "person", "action": "identify",
                "identifiers": {"id": format!("p{person}")}, "attributes": {"plan": "pro"}})
        })
        .collect();
    submit(&runtime, &nodes[0], workspace, &plans);

    // Writes through both nodes, merges across partitions and deletions: the owners store
    // exactly the memberships the stored history gives.
    for round in 0..3 {
        let buying = (0..PEOPLE).filter(|person| person % 4 + round >= 2);
        let (even, odd): (Vec<usize>, Vec<usize>) = buying.partition(|person| person % 2 == 0);
        let purchases = |people: Vec<usize>| people.into_iter().map(purchase).collect::<Vec<_>>();
        submit(&runtime, &nodes[0], workspace, &purchases(even));
        submit(&runtime, &nodes[1], workspace, &purchases(odd));
    }
    let merges: Vec<Value> = (0..10)
        .map(|pair| {
            json!({"type": "person", "action": "merge",
                "primary": {"id": format!("p{}", pair * 2)},
                "secondary": {"id": format!("p{}", pair * 2 + 31)}})
        })
        .collect();
    submit(&runtime, &nodes[1], workspace, &merges);
    let deletions: Vec<Value> = [50, 51, 52]
        .iter()
        .map(|person| {
            json!({"type": "person", "action": "delete", "identifiers": {"id": format!("p{person}")}})
        })
        .collect();
    submit(&runtime, &nodes[0], workspace, &deletions);
    eventually("the stored memberships exact", || exact(&first));

    // Either node answers for everyone, asking the other's engine for its people: counts,
    // pages of members across both engines, and previews with their samples.
    for (segment, definition) in &segments {
        let (_, expected) = stored_and_expected(&first, workspace, *segment, definition);
        let expected: Vec<i64> = expected.into_iter().collect();
        for node in &nodes {
            let count = runtime.block_on(node.segments.count(workspace, *segment));
            assert_eq!(count.expect("counted"), expected.len());
            let mut paged = Vec::new();
            let mut after = None;
            loop {
                let page = runtime
                    .block_on(node.segments.members_page(workspace, *segment, after, 4))
                    .expect("a page");
                paged.extend(page.people.iter().map(|person| person.seq.get()));
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            assert_eq!(paged, expected, "members of {segment:?}, paged by 4");
            let preview = runtime
                .block_on(node.segments.preview(workspace, &definition.source, 3))
                .expect("previewed");
            assert_eq!(preview.count, expected.len());
            let first_three: Vec<i64> = expected.iter().take(3).copied().collect();
            let sample = first
                .read_blocking(move |r| {
                    let mut ids = Vec::new();
                    for seq in first_three {
                        let person = r.person_by_seq(workspace, PersonSeq::new(seq))?;
                        ids.push(person.and_then(|person| person.id));
                    }
                    Ok(ids)
                })
                .expect("read");
            assert_eq!(preview.sample, sample, "the first members of {segment:?}");
        }
    }
    assert!(
        split(),
        "each engine holds its own people, merged and deleted ones gone"
    );

    // A manual segment changed on one node holds people of both nodes' partitions; the other
    // node counts it too, and a person's segments and the attribute counts come from every
    // engine.
    let draft = SegmentDraft {
        name: "Picked".into(),
        description: String::new(),
        definition: None,
    };
    let picked = runtime
        .block_on(nodes[1].segments.create(workspace, draft))
        .expect("created")
        .id;
    let chosen: Vec<herald_domain::Identifier> = (0..20)
        .map(|person| herald_domain::Identifier::Id(format!("p{person}")))
        .collect();
    runtime
        .block_on(
            nodes[0]
                .segments
                .set_manual_members(workspace, picked, chosen, true),
        )
        .expect("added");
    let live: BTreeSet<i64> = people(&first);
    let picked_people = stored_members(&first, workspace, picked);
    assert_eq!(
        picked_people.len(),
        20,
        "every chosen person stored as a member"
    );
    assert!(picked_people.is_subset(&live));
    for node in &nodes {
        let count = runtime.block_on(node.segments.count(workspace, picked));
        assert_eq!(count.expect("counted"), 20);
        for person in &picked_people {
            let theirs = runtime
                .block_on(node.segments.of_person(workspace, PersonSeq::new(*person)))
                .expect("their segments");
            assert!(
                theirs.iter().any(|segment| segment.id == picked),
                "person {person}"
            );
        }
        let counts = runtime
            .block_on(node.segments.attribute_counts(workspace))
            .expect("counted");
        let with_plan = counts
            .iter()
            .find(|(key, _)| key == "plan")
            .map(|(_, n)| *n);
        assert_eq!(with_plan, Some(10), "{counts:?}");
    }

    // The first node stops and gives its leases up: the second takes its partitions over,
    // loads their people, and stores what changed meanwhile.
    runtime.block_on(nodes[0].segments.release_leases());
    let everyone: Vec<Value> = (0..PEOPLE).map(purchase).collect();
    submit(&runtime, &nodes[1], workspace, &everyone);
    manual.set(NOW + 1).expect("the clock moves forward");
    eventually("the second node holding every partition", || {
        held(&runtime, &nodes[1], workspace).0.is_all()
    });
    eventually("the stored memberships exact after the takeover", || {
        exact(&second)
    });
    let (_, second_people) = held(&runtime, &nodes[1], workspace);
    assert_eq!(second_people, people(&second));
    // Each entry into the segment people only ever enter was stored once.
    let regulars = segments[0].0;
    let histories = second
        .read_blocking(move |r| {
            let mut entries = Vec::new();
            for person in r.live_people(workspace)? {
                let history = r.segment_history(regulars, PersonSeq::new(person.seq.get()))?;
                entries.push((person.seq, history.iter().filter(|c| c.entered).count()));
            }
            Ok(entries)
        })
        .expect("read");
    assert!(
        histories.iter().all(|(_, entries)| *entries <= 1),
        "{histories:?}"
    );
}
