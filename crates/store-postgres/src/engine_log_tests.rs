//! The engine log's order with several writers on one schema, as several nodes write it: a
//! reader that follows the log never meets a gap, so it never skips an entry that commits late.

use herald_domain::WorkspaceId;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use herald_store::StoreHandle;

use crate::PostgresStore;
use crate::test_database::TestSchema;

const WRITERS: usize = 3;
const THREADS: usize = 2;
const APPENDS: usize = 80;

#[test]
fn positions_follow_commit_order_without_gaps_across_writers() {
    let schema = TestSchema::new();
    // Without write turns, so that the writers' transactions overlap: the log's own lock is
    // what keeps its order.
    let options = crate::PostgresOptions {
        write_turns: Some(false),
        ..schema.options()
    };
    let stores: Vec<StoreHandle> = (0..WRITERS)
        .map(|_| PostgresStore::open_handle(&options).expect("the store opens"))
        .collect();
    let total = WRITERS * THREADS * APPENDS;

    // The follower reads what is committed after the last position it saw, again and again,
    // while the writers append; each read must go on exactly where the last one stopped.
    let done = Arc::new(AtomicBool::new(false));
    let follower = {
        let store = stores[0].clone();
        let done = done.clone();
        std::thread::spawn(move || {
            let mut seen: Vec<(i64, Vec<u8>)> = Vec::new();
            let mut last = 0;
            let mut gaps = Vec::new();
            while seen.len() < total && !done.load(Ordering::Relaxed) {
                let entries = store
                    .read_blocking(move |r| {
                        let mut entries = Vec::new();
                        r.engine_log_after(last, &mut |position, _, inputs| {
                            entries.push((position, inputs));
                            true
                        })?;
                        Ok(entries)
                    })
                    .expect("read");
                for (position, inputs) in entries {
                    if position != last + 1 {
                        gaps.push((last, position));
                    }
                    last = position;
                    seen.push((position, inputs));
                }
            }
            (seen, gaps)
        })
    };

    let mut writers = Vec::new();
    for (node, store) in stores.iter().enumerate() {
        for thread in 0..THREADS {
            let store = store.clone();
            writers.push(std::thread::spawn(move || {
                for n in 0..APPENDS {
                    let inputs = format!("{node}.{thread}.{n}").into_bytes();
                    store
                        .write_blocking(move |tx| {
                            tx.append_engine_log(WorkspaceId::new(1), &inputs)
                        })
                        .expect("store works")
                        .expect("appended");
                }
            }));
        }
    }
    for writer in writers {
        writer.join().expect("a writer finished");
    }
    // Everything is committed: the follower reads the rest and stops.
    let stop = std::thread::spawn({
        let done = done.clone();
        move || {
            std::thread::sleep(std::time::Duration::from_secs(20));
            done.store(true, Ordering::Relaxed);
        }
    });
    let (seen, gaps) = follower.join().expect("the follower finished");
    drop(stop);

    assert_eq!(gaps, Vec::new(), "a follower never meets a gap");
    assert_eq!(seen.len(), total, "every entry once");
    let positions: Vec<i64> = seen.iter().map(|(position, _)| *position).collect();
    assert_eq!(
        positions,
        (1..=i64::try_from(total).expect("small")).collect::<Vec<_>>()
    );
    // Each writer thread's appends, committed one after another, are in its order.
    let mut next: HashMap<String, usize> = HashMap::new();
    for (_, inputs) in &seen {
        let text = String::from_utf8(inputs.clone()).expect("text");
        let (source, n) = text.rsplit_once('.').expect("node.thread.n");
        let expected = next.entry(source.to_owned()).or_default();
        assert_eq!(n.parse::<usize>().expect("a number"), *expected, "{text}");
        *expected += 1;
    }
    assert_eq!(
        stores[1]
            .read_blocking(|r| r.engine_log_end())
            .expect("read"),
        i64::try_from(total).expect("small")
    );
}
