//! Several `herald serve --cluster` on one PostgreSQL database and schema (whatever backend the
//! rest of the suite runs on): writes through any of them reach every engine, each entry is
//! stored once by the owner of its person's partition and triggers its campaign once, and a
//! server killed with SIGKILL has its partitions taken over; afterwards the members are the
//! reference evaluator's answer over the stored history.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::delivery::{ALLOW_LOOPBACK, start_campaign};
use crate::helpers::{
    Server, TestApp, Workspace, create_workspace_with, herald_embedded, hold_own_partitions_only,
    own_partitions_only, set_clock,
};
use crate::receiver::Receiver;

const START: i64 = 1_800_000_000;
const PEOPLE: usize = 36;

/// A schema of its own in the suite's PostgreSQL database.
pub fn schema() -> (String, String) {
    let url = std::env::var("HERALD_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "host=127.0.0.1 user=postgres dbname=test".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    (
        url,
        format!("herald_it_nodes_{}_{nanos}", std::process::id()),
    )
}

/// A `herald` command on the database's `schema`.
pub fn herald_on(url: &str, schema: &str) -> Command {
    let mut command = herald_embedded();
    command
        .env("HERALD_DATABASE_URL", url)
        .env("HERALD_DATABASE_SCHEMA", schema);
    command
}

/// Starts `herald serve --cluster` on its own data dir, on the database's `schema` (its engine
/// holding only its partitions' people when the suite runs that way).
fn start(url: &str, schema: &str, workspace: &Workspace, dir: tempfile::TempDir) -> TestApp {
    let mut command = herald_on(url, schema);
    hold_own_partitions_only(&mut command);
    let server = Server::start_with(
        command,
        dir.path(),
        &["--cluster", ALLOW_LOOPBACK, &format!("--dev-clock={START}")],
    );
    TestApp::on(server, workspace.clone(), dir)
}

async fn batch(node: &TestApp, items: Vec<Value>) {
    let (status, body) = node
        .track(
            reqwest::Method::POST,
            "/api/v2/batch",
            Some(json!({"batch": items})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn members(node: &TestApp, segment: i64) -> BTreeSet<String> {
    crate::segments::members(node, segment)
        .await
        .into_iter()
        .collect()
}

fn purchase(person: usize) -> Value {
    json!({"type": "person", "identifiers": {"id": format!("p{person}")},
        "action": "event", "name": "purchased"})
}

/// Person i buys `i % 5` times through each server in the first part.
fn first_part(person: usize) -> usize {
    person % 5
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_servers_share_one_database_and_survive_one_killed() {
    let (url, schema) = schema();
    let receiver = Receiver::start().await;
    let dirs: Vec<tempfile::TempDir> = (0..3)
        .map(|_| tempfile::tempdir().expect("a temporary dir"))
        .collect();
    let workspace = create_workspace_with(herald_on(&url, &schema), dirs[0].path(), "nodes");
    let mut dirs = dirs.into_iter();
    let first = start(&url, &schema, &workspace, dirs.next().expect("three"));

    // A segment, and a campaign on its entries, before the other servers start: they load
    // both, so every entry below is a live one on every server. (Changes made while servers
    // run reach the others by notification, tested in the segments and dispatch crates.)
    let (status, created) = first
        .app_post(
            "/v1/segments",
            json!({"segment": {"name": "Regulars",
                "definition": {"event": {"name": "purchased", "count": {"at_least": 3}}}}}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let segment = created["segment"]["id"].as_i64().expect("an id");
    start_campaign(
        &first,
        json!({
            "name": "Thanks, regular",
            "trigger": {"segment": {"id": segment, "on": "enter"}},
            "steps": [{"webhook": {"url": format!("{}/{{{{ customer.id }}}}", receiver.base_url)}}]
        }),
    )
    .await;
    let mut nodes = vec![first];
    nodes.extend(dirs.map(|dir| start(&url, &schema, &workspace, dir)));

    // Each server renews at every move of its dev clock: a few rounds at the start time share
    // the partitions out, a third each.
    let owners = || -> Vec<i64> {
        crate::database::psql_in(
            &url,
            &schema,
            "SELECT count(*) FROM partition_leases WHERE node IS NOT NULL GROUP BY node ORDER BY 1",
        )
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect()
    };
    let mut shares = Vec::new();
    for _ in 0..250 {
        for node in &nodes {
            set_clock(node, START).await;
        }
        shares = owners();
        if shares == [84, 86, 86] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(shares, vec![84, 86, 86], "a third each");

    // The first part: the same people through all three servers at once (their first events
    // create them on all three at the same moment).
    let mut bought: BTreeMap<usize, usize> = BTreeMap::new();
    for round in 0..4 {
        let mut sends = Vec::new();
        for node in &nodes {
            let people: Vec<usize> = (0..PEOPLE)
                .filter(|person| first_part(*person) > round)
                .collect();
            for person in &people {
                *bought.entry(*person).or_default() += 1;
            }
            if !people.is_empty() {
                sends.push(batch(node, people.into_iter().map(purchase).collect()));
            }
        }
        futures_join(sends).await;
    }

    // The third server dies, whatever it was doing.
    nodes[2].server.kill();
    let survivors = &nodes[..2];
    // Its leases run out on the survivors' clocks, and they take its partitions over.
    for _ in 0..250 {
        for node in survivors {
            set_clock(node, START + 20).await;
        }
        shares = owners();
        if shares == [128, 128] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(shares, vec![128, 128], "half each");
    // Each survivor's metrics say so too, once its engine has taken the renewals in; an engine
    // that holds only its partitions' people holds those 128 (after a renewal or two: it keeps
    // a partition it gave up until a renewal of its new owner said that it holds its people),
    // any other every partition.
    let held = if own_partitions_only() { 128.0 } else { 256.0 };
    for node in survivors {
        let mut seen = BTreeMap::new();
        for _ in 0..250 {
            for node in survivors {
                set_clock(node, START + 20).await;
            }
            seen = crate::metrics::scrape(&node.client, &node.url("/metrics")).await;
            if seen.get("herald_cluster_partitions_leased") == Some(&128.0)
                && seen.get("herald_segment_engine_partitions_held") == Some(&held)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(seen.get("herald_cluster_partitions_leased"), Some(&128.0));
        assert_eq!(
            seen.get("herald_segment_engine_partitions_held"),
            Some(&held)
        );
    }

    // One more purchase each, through the two left.
    for (index, node) in survivors.iter().enumerate() {
        let people: Vec<usize> = (0..PEOPLE).filter(|person| person % 2 == index).collect();
        for person in &people {
            *bought.entry(*person).or_default() += 1;
        }
        batch(node, people.into_iter().map(purchase).collect()).await;
    }

    // Every acknowledged purchase is stored once.
    let mut histories = BTreeMap::new();
    for (person, count) in &bought {
        let history = stored_history(&survivors[0], *person).await;
        assert_eq!(history.events.len(), *count, "p{person}");
        histories.insert(*person, history);
    }

    // The segment's members, on each server and as stored by the partitions' owners, are the
    // reference evaluator's answer over the stored history.
    let definition = herald_segment_engine::Definition::parse(&json!(
        {"event": {"name": "purchased", "count": {"at_least": 3}}}
    ))
    .expect("the definition");
    let regulars: BTreeSet<String> = histories
        .iter()
        .filter(|(_, history)| {
            herald_segment_engine::reference::matches(
                &definition.root,
                history,
                &|_| false,
                START + 20,
            )
        })
        .map(|(person, _)| format!("p{person}"))
        .collect();
    assert!(!regulars.is_empty() && regulars.len() < PEOPLE);
    for node in survivors {
        assert_eq!(members(node, segment).await, regulars);
    }
    let stored_members: BTreeSet<String> = crate::database::psql_in(
        &url,
        &schema,
        &format!(
            "SELECT p.id FROM segment_members m JOIN people p
               ON p.workspace_id = m.workspace_id AND p.seq = m.person_seq
             WHERE m.segment_id = {segment}"
        ),
    )
    .lines()
    .map(|line| line.trim().to_owned())
    .filter(|line| !line.is_empty())
    .collect();
    assert_eq!(stored_members, regulars, "the stored members");

    // Every regular's entry was stored, by one server, and sent one message.
    receiver.wait_for(regulars.len()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut keys: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for request in receiver.received() {
        keys.entry(request.path.trim_start_matches('/').to_owned())
            .or_default()
            .insert(request.header("idempotency-key").unwrap_or_default());
    }
    assert_eq!(
        keys.keys().cloned().collect::<BTreeSet<_>>(),
        regulars,
        "a message for each regular"
    );
    assert!(
        keys.values().all(|keys| keys.len() == 1),
        "one message each, a repeat only with its key: {keys:?}"
    );

    // Each entry is stored once: by the owner of the person's partition at the time.
    let history = crate::database::psql_in(
        &url,
        &schema,
        &format!(
            "SELECT count(*), count(DISTINCT person_seq) FROM segment_history WHERE segment_id = {segment}"
        ),
    );
    assert_eq!(
        history.trim(),
        format!("{}|{}", regulars.len(), regulars.len()),
        "one stored entry per regular"
    );
}

/// A person's history as stored, read through the App API: their attributes and events.
async fn stored_history(node: &TestApp, person: usize) -> herald_segment_engine::PersonHistory {
    let (status, body) = node
        .app_get(&format!(
            "/v1/customers/p{person}/activities?type=event&limit=100"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    let events = body["activities"]
        .as_array()
        .expect("activities")
        .iter()
        .map(|activity| {
            herald_segment_engine::EventRecord::from_parts(
                activity["name"].as_str().unwrap_or_default().to_owned(),
                activity["type"].as_str().unwrap_or("event"),
                activity["timestamp"].as_i64().expect("a timestamp"),
                activity["data"].clone(),
            )
        })
        .collect();
    let (status, customer) = node
        .app_get(&format!("/v1/customers/p{person}/attributes"))
        .await;
    assert_eq!(status, 200, "{customer}");
    herald_segment_engine::PersonHistory {
        attributes: customer["customer"]["attributes"]
            .as_object()
            .cloned()
            .unwrap_or_default(),
        first_seen: START,
        events,
        earliest_event: None,
    }
}

/// Awaits every future, concurrently, on this task (they borrow the servers).
async fn futures_join<F: std::future::Future<Output = ()>>(futures: Vec<F>) {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    std::future::poll_fn(|context| {
        pinned.retain_mut(|future| future.as_mut().poll(context).is_pending());
        if pinned.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}
