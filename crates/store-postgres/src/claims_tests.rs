//! Claims on campaign runs between two stores on one schema, as two nodes hold them.

use herald_domain::RunId;
use herald_store::StoreHandle;

use crate::PostgresStore;
use crate::test_database::TestSchema;

fn claim(store: &StoreHandle, runs: &[i64]) -> Vec<i64> {
    let mut claimed: Vec<i64> = store
        .run_claims()
        .claim(runs.iter().copied().map(RunId::new).collect())
        .blocking_recv()
        .expect("the claims thread answers")
        .expect("claims work")
        .into_iter()
        .map(RunId::get)
        .collect();
    claimed.sort_unstable();
    claimed
}

/// Claims `runs` again until all are taken: a release, and a node's end, reach the server
/// after the call that made them returned.
fn claim_when_free(store: &StoreHandle, runs: &[i64]) -> Vec<i64> {
    let mut taken = Vec::new();
    for _ in 0..500 {
        // A claimant never asks again for what it holds.
        let wanted: Vec<i64> = runs
            .iter()
            .copied()
            .filter(|run| !taken.contains(run))
            .collect();
        taken.extend(claim(store, &wanted));
        if taken.len() == runs.len() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    taken.sort_unstable();
    taken
}

#[test]
fn a_run_is_held_by_one_node_until_released_or_the_node_is_gone() {
    let schema = TestSchema::new();
    let first = PostgresStore::open_handle(&schema.options()).expect("the store opens");
    let second = PostgresStore::open_handle(&schema.options()).expect("the store opens");

    assert_eq!(claim(&first, &[1, 2, 3]), vec![1, 2, 3]);
    assert_eq!(
        claim(&second, &[2, 3, 4]),
        vec![4],
        "held runs are not given twice"
    );

    first.run_claims().release(vec![RunId::new(2)]);
    assert_eq!(
        claim_when_free(&second, &[2]),
        vec![2],
        "a released run can be taken"
    );
    assert_eq!(
        claim(&second, &[3]),
        Vec::<i64>::new(),
        "the others stay held"
    );

    // A run whose id differs by 2^32 shares its key: it waits, and is never held twice.
    assert_eq!(claim(&second, &[3 + (1 << 32)]), Vec::<i64>::new());

    // The other schema's runs are claims of their own.
    let other = TestSchema::new();
    let elsewhere = PostgresStore::open_handle(&other.options()).expect("the store opens");
    assert_eq!(claim(&elsewhere, &[1, 3]), vec![1, 3]);

    // A node that is gone frees what it held at once, without a lease to run out.
    drop(first);
    assert_eq!(claim_when_free(&second, &[1, 3]), vec![1, 3]);
}
