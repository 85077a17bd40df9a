//! Leases on the engine's partitions between three stores on one schema, as three nodes hold
//! them, on times the test chooses.

use std::collections::{BTreeMap, BTreeSet};

use herald_store::{LEASE_SECONDS, Ownership, PARTITIONS, PartitionSet, StoreHandle};

use crate::PostgresStore;
use crate::test_database::TestSchema;

struct Nodes {
    stores: Vec<StoreHandle>,
    /// Each node's last answer.
    held: BTreeMap<usize, Ownership>,
    _schema: TestSchema,
}

impl Nodes {
    fn new(count: usize) -> Self {
        let schema = TestSchema::new();
        let stores = (0..count)
            .map(|_| PostgresStore::open_handle(&schema.options()).expect("the store opens"))
            .collect();
        Self {
            stores,
            held: BTreeMap::new(),
            _schema: schema,
        }
    }

    /// Renews as a node whose engine holds every person.
    fn renew(&mut self, node: usize, now: i64) -> BTreeSet<u16> {
        self.renew_holding(node, now, PartitionSet::all())
    }

    /// Renews as a node whose engine holds the people of `holds` only.
    fn renew_holding(&mut self, node: usize, now: i64, holds: PartitionSet) -> BTreeSet<u16> {
        let ownership = self.stores[node]
            .partition_leases()
            .renew(&format!("node-{node}"), now, holds)
            .blocking_recv()
            .expect("the leases thread answers")
            .expect("leases work");
        assert_eq!(ownership.until, now + LEASE_SECONDS);
        let partitions = ownership
            .leases
            .iter()
            .map(|lease| lease.partition)
            .collect();
        self.held.insert(node, ownership);
        self.check(now);
        partitions
    }

    fn release(&mut self, node: usize) {
        self.stores[node]
            .partition_leases()
            .release(&format!("node-{node}"))
            .blocking_recv()
            .expect("the leases thread answers")
            .expect("leases work");
        self.held.remove(&node);
    }

    /// No partition is owned by two nodes whose leases still hold at `now`.
    fn check(&self, now: i64) {
        let mut owner: BTreeMap<u16, usize> = BTreeMap::new();
        for (node, ownership) in &self.held {
            if ownership.until <= now {
                continue;
            }
            for lease in &ownership.leases {
                if let Some(other) = owner.insert(lease.partition, *node) {
                    panic!(
                        "partition {} is held by nodes {other} and {node} at {now}",
                        lease.partition
                    );
                }
            }
        }
    }

    fn epoch(&self, node: usize, partition: u16) -> Option<i64> {
        self.held[&node]
            .leases
            .iter()
            .find(|lease| lease.partition == partition)
            .map(|lease| lease.epoch)
    }
}

fn all() -> BTreeSet<u16> {
    (0..PARTITIONS).collect()
}

#[test]
fn live_nodes_share_the_partitions_and_take_over_those_of_a_node_that_stopped() {
    let mut nodes = Nodes::new(3);
    let t = 1_000_000;

    // One node owns everything; a second one gets half once the first gave it up.
    assert_eq!(nodes.renew(0, t), all());
    assert!(nodes.renew(1, t).is_empty(), "nothing is free yet");
    let first = nodes.renew(0, t + 1);
    assert_eq!(first.len(), 128);
    let second = nodes.renew(1, t + 1);
    assert_eq!(second.len(), 128);
    assert_eq!(&first | &second, all());

    // A third joins: shares of 86 at most, every partition owned.
    nodes.renew(2, t + 2);
    let first = nodes.renew(0, t + 2);
    let second = nodes.renew(1, t + 2);
    let third = nodes.renew(2, t + 3);
    assert_eq!((first.len(), second.len(), third.len()), (86, 86, 84));
    assert_eq!(&(&first | &second) | &third, all());

    // Node 0 stops renewing. While its leases hold, nobody takes them.
    let epoch_before = nodes.epoch(0, *first.first().expect("one"));
    for now in [t + 5, t + 10, t + 16] {
        assert_eq!(nodes.renew(1, now), second);
        assert_eq!(nodes.renew(2, now), third);
    }
    // Once they expired, the live nodes take them over, with a new epoch.
    let second = nodes.renew(1, t + 18);
    let third = nodes.renew(2, t + 18);
    assert_eq!(&second | &third, all());
    assert_eq!((second.len(), third.len()), (128, 128));
    let taken = *first.first().expect("one");
    let new_owner = if second.contains(&taken) { 1 } else { 2 };
    assert!(nodes.epoch(new_owner, taken) > epoch_before);

    // Node 0 comes back: it owns nothing it lost, and gets its share again as the others give
    // theirs up.
    assert!(nodes.renew(0, t + 19).is_empty());
    nodes.renew(1, t + 19);
    nodes.renew(2, t + 19);
    let first = nodes.renew(0, t + 20);
    let second = nodes.renew(1, t + 20);
    let third = nodes.renew(2, t + 20);
    assert_eq!(&(&first | &second) | &third, all());
    assert!(first.len() >= 84, "{}", first.len());

    // A node that stops cleanly gives its partitions up at once.
    nodes.release(1);
    let third = nodes.renew(2, t + 21);
    let first = nodes.renew(0, t + 21);
    assert_eq!(&first | &third, all());
}

/// Whether `node` holds every one of `leases`, asked in a write job as an owner's write asks it.
fn holds(store: &StoreHandle, node: &str, leases: Vec<herald_store::Lease>) -> bool {
    held(store, node, leases.clone()) == leases
}

/// Which of `leases` `node` holds.
fn held(
    store: &StoreHandle,
    node: &str,
    leases: Vec<herald_store::Lease>,
) -> Vec<herald_store::Lease> {
    let node = node.to_owned();
    store
        .write_blocking(move |tx| tx.hold_leases(&node, &leases))
        .expect("store works")
        .expect("asked")
}

#[test]
fn an_owners_write_is_fenced_by_the_lease_it_knows() {
    let mut nodes = Nodes::new(2);
    let t = 2_000_000;
    nodes.renew(0, t);
    let known = nodes.held[&0].leases[..3].to_vec();
    assert!(holds(&nodes.stores[0], "node-0", known.clone()));
    assert!(
        !holds(&nodes.stores[0], "node-1", known.clone()),
        "not another node's"
    );

    // Node 0 stops renewing; once its leases ran out, node 1 takes them with new epochs.
    nodes.renew(1, t + LEASE_SECONDS + 1);
    assert_eq!(nodes.held[&1].leases.len(), usize::from(PARTITIONS));
    assert!(
        !holds(&nodes.stores[0], "node-0", known.clone()),
        "a node that lost its partitions stores nothing for them"
    );
    let taken: Vec<herald_store::Lease> = nodes.held[&1].leases[..3].to_vec();
    assert!(
        taken
            .iter()
            .zip(&known)
            .all(|(new, old)| new.epoch > old.epoch)
    );
    assert!(holds(&nodes.stores[1], "node-1", taken.clone()));
    // Of leases some of which changed owner, those still held are answered: an owner stores
    // the changes of those, and the new owner's takeover the rest.
    let mixed = vec![known[0], taken[1], taken[2]];
    assert_eq!(held(&nodes.stores[1], "node-1", mixed), taken[1..].to_vec());
}

/// A node whose connection to PostgreSQL is gone (the process died) frees its partitions at
/// once, not when its leases run out: on an injected clock that stands still, they never would.
#[test]
fn a_node_whose_connection_closed_loses_its_partitions_at_once() {
    let mut nodes = Nodes::new(2);
    let t = 3_000_000;
    assert_eq!(nodes.renew(0, t), all());
    assert!(nodes.renew(1, t).is_empty(), "nothing is free yet");
    // Node 0 dies: its store, and with it the leases' connection, goes (a store that is never
    // asked takes its place in the list).
    let idle = PostgresStore::open_handle(&nodes._schema.options()).expect("the store opens");
    drop(std::mem::replace(&mut nodes.stores[0], idle));
    nodes.held.remove(&0);
    let mut taken = BTreeSet::new();
    for _ in 0..200 {
        taken = nodes.renew(1, t);
        if taken == all() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        taken,
        all(),
        "the live node takes every partition at the same time"
    );
}

/// A partition given to a node whose engine holds only its own partitions' people counts as
/// unheld until that node reports holding them: the node that gave it up keeps its people
/// meanwhile, so that some engine answers for every partition while it moves.
#[test]
fn a_partition_stays_unheld_until_its_new_owner_holds_its_people() {
    let mut nodes = Nodes::new(2);
    let t = 4_000_000;
    let everything = PartitionSet::all();
    assert_eq!(nodes.renew_holding(0, t, everything), all());
    assert!(nodes.held[&0].unheld.is_empty(), "the owner holds them all");
    assert!(
        nodes
            .renew_holding(1, t, PartitionSet::default())
            .is_empty()
    );
    // The first node gives half up: free, so unheld.
    let first = nodes.renew_holding(0, t + 1, everything);
    assert_eq!(first.len(), 128);
    let given_up: PartitionSet = all().difference(&first).copied().collect();
    assert_eq!(nodes.held[&0].unheld, given_up);
    // The second node takes them, not holding their people yet: still unheld.
    let second = nodes.renew_holding(1, t + 1, PartitionSet::default());
    assert_eq!(second.iter().copied().collect::<PartitionSet>(), given_up);
    assert_eq!(nodes.held[&1].unheld, given_up);
    assert_eq!(
        {
            nodes.renew_holding(0, t + 2, everything);
            nodes.held[&0].unheld
        },
        given_up
    );
    // It loaded some of them: those are held now, the rest not yet.
    let loaded: PartitionSet = given_up.iter().take(100).collect();
    nodes.renew_holding(1, t + 3, loaded);
    let rest: PartitionSet = given_up.iter().skip(100).collect();
    assert_eq!(nodes.held[&1].unheld, rest);
    // What a renewal reports stays reported, though a later one leaves it out.
    nodes.renew_holding(1, t + 4, PartitionSet::default());
    assert_eq!(nodes.held[&1].unheld, rest);
    nodes.renew_holding(1, t + 5, given_up);
    assert!(nodes.held[&1].unheld.is_empty());
    // A node that takes partitions over whose people it holds already holds them at once.
    nodes.release(1);
    nodes.renew_holding(0, t + 6, everything);
    assert_eq!(nodes.held[&0].unheld, PartitionSet::default());
}
