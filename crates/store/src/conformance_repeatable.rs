//! Repeatable write jobs ([`crate::RepeatableJob`]), which the writer runs several to a
//! savepoint: a job that fails still fails alone, its neighbours' writes are kept, each caller
//! hears its own job's last run, and hooks run in the order the jobs were queued.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;

use herald_domain::{Identifier, WorkspaceId};
use serde_json::Map;

use super::{all_activities, event, new_workspace};
use crate::{NewPerson, QueuedWrite, StoreError, StoreHandle, StoreTx};

/// Holds the writer inside a job until the returned sender is used, so that the jobs queued
/// meanwhile run in one transaction, one after another.
fn hold_writer(store: &StoreHandle) -> (mpsc::Sender<()>, JoinHandle<()>) {
    let (started_sender, started) = mpsc::channel::<()>();
    let (release, released) = mpsc::channel::<()>();
    let store = store.clone();
    let holder = std::thread::spawn(move || {
        store
            .write_blocking(move |_| {
                let _ = started_sender.send(());
                let _ = released.recv();
                Ok::<_, StoreError>(())
            })
            .expect("store works")
            .expect("the holding job succeeds");
    });
    started.recv().expect("the writer runs the holding job");
    (release, holder)
}

/// Queues a future's write: its first poll puts the job in the writer's queue, which has room.
fn queued<T>(write: impl Future<Output = Result<T, StoreError>>) -> T {
    let mut write = std::pin::pin!(write);
    match write.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(queued) => queued.expect("store works"),
        Poll::Pending => panic!("queueing a write waits only while the queue is full"),
    }
}

type Hooked = Arc<Mutex<Vec<&'static str>>>;

/// Queues a repeatable job that appends an event named `name` for a person it finds or
/// creates by `id`, counts its runs in `runs`, and fails after writing when `fails`.
fn queue(
    store: &StoreHandle,
    ws: WorkspaceId,
    name: &'static str,
    fails: bool,
    runs: &Arc<AtomicUsize>,
    hooked: &Hooked,
) -> QueuedWrite<usize, &'static str> {
    let runs = runs.clone();
    let hooked = hooked.clone();
    queued(store.queue_write_repeatable_with_hook(
        move |tx: &mut dyn StoreTx| {
            let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
            let person = match tx.person(ws, &Identifier::Id(name.into())).expect("lookup") {
                Some(person) => person,
                None => tx
                    .insert_person(&NewPerson {
                        workspace_id: ws,
                        cio_id: format!("cio-{name}"),
                        id: Some(name.into()),
                        email: None,
                        attributes: Map::new(),
                        created_at: 1,
                    })
                    .expect("inserted"),
            };
            tx.append_activity(&event(ws, Some(person.seq), name, 1))
                .expect("appended");
            if fails { Err("refused") } else { Ok(run) }
        },
        move |_| hooked.lock().expect("the hooks").push(name),
    ))
}

fn names(store: &StoreHandle, ws: WorkspaceId) -> Vec<String> {
    let mut names: Vec<String> = all_activities(store, ws)
        .into_iter()
        .filter_map(|activity| activity.name)
        .collect();
    names.sort();
    names
}

/// Jobs queued together share a transaction; the one that fails is rolled back alone, the
/// others are run again and kept, the people a rolled-back run created are not found by the
/// runs after it (writers cache people), and hooks run in queue order.
pub fn repeatable_jobs_that_share_a_savepoint_fail_alone(store: &StoreHandle) {
    let ws = new_workspace(store, "repeatable");
    let hooked = Hooked::default();
    let counters: Vec<Arc<AtomicUsize>> = (0..4).map(|_| Arc::default()).collect();
    let (release, holder) = hold_writer(store);
    let first = queue(store, ws, "first", false, &counters[0], &hooked);
    let second = queue(store, ws, "second", false, &counters[1], &hooked);
    let refused = queue(store, ws, "refused", true, &counters[2], &hooked);
    let last = queue(store, ws, "last", false, &counters[3], &hooked);
    release.send(()).expect("the holding job waits");
    holder.join().expect("the holding job ends");

    let first = first.outcome_blocking().expect("store works");
    let second = second.outcome_blocking().expect("store works");
    assert_eq!(
        refused.outcome_blocking().expect("store works"),
        Err("refused")
    );
    let last = last.outcome_blocking().expect("store works");
    // Each caller hears its job's last run: the first two ran in the group and again alone.
    let runs: Vec<usize> = counters.iter().map(|c| c.load(Ordering::SeqCst)).collect();
    assert_eq!(first, Ok(runs[0]));
    assert_eq!(second, Ok(runs[1]));
    assert_eq!(last, Ok(runs[3]));
    assert!(
        runs[0] >= 2,
        "the jobs before the failing one ran in a savepoint they shared, then again ({runs:?})"
    );
    assert_eq!(names(store, ws), ["first", "last", "second"]);
    let found = store
        .read_blocking(move |reader| {
            let mut found = Vec::new();
            for id in ["first", "second", "refused", "last"] {
                found.push(reader.person(ws, &Identifier::Id(id.into()))?.is_some());
            }
            Ok(found)
        })
        .expect("store works");
    assert_eq!(
        found,
        [true, true, false, true],
        "first, second, refused, last"
    );
    assert_eq!(
        *hooked.lock().expect("the hooks"),
        ["first", "second", "last"]
    );
}

/// A job that panics in a shared savepoint is dropped (its caller sees the store closed); the
/// others are kept, and a job run once between repeatable ones keeps its place in the order.
pub fn a_repeatable_job_that_panics_leaves_its_neighbours_kept(store: &StoreHandle) {
    let ws = new_workspace(store, "repeatable-panics");
    let hooked = Hooked::default();
    let runs = Arc::new(AtomicUsize::new(0));
    let (release, holder) = hold_writer(store);
    let before = queue(store, ws, "before", false, &runs, &hooked);
    let panics = queued(store.queue_write_repeatable_with_hook(
        move |tx: &mut dyn StoreTx| {
            tx.append_activity(&event(ws, None, "panicked", 1))
                .expect("appended");
            if ws.get() > 0 {
                panic!("a job that panics after writing");
            }
            Ok::<_, &str>(())
        },
        |_| {},
    ));
    let once_hooked = hooked.clone();
    let once = queued(store.queue_write_with_hook(
        move |tx: &mut dyn StoreTx| tx.append_activity(&event(ws, None, "once", 1)).map(|_| ()),
        move |_| once_hooked.lock().expect("the hooks").push("once"),
    ));
    let after = queue(store, ws, "after", false, &runs, &hooked);
    release.send(()).expect("the holding job waits");
    holder.join().expect("the holding job ends");

    assert!(before.outcome_blocking().expect("store works").is_ok());
    assert!(matches!(panics.outcome_blocking(), Err(StoreError::Closed)));
    assert_eq!(once.outcome_blocking().expect("store works"), Ok(()));
    assert!(after.outcome_blocking().expect("store works").is_ok());
    assert_eq!(names(store, ws), ["after", "before", "once"]);
    assert_eq!(
        *hooked.lock().expect("the hooks"),
        ["before", "once", "after"]
    );
}
