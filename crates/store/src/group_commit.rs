//! The single writer thread every backend runs: it groups queued write jobs into one
//! transaction (group commit) and fits background jobs into the gaps between foreground ones.
//! A backend supplies a [`Committer`], which runs one batch in one transaction of its database.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::{JobOutcome, StoreError, WriteJob};

/// How many write jobs may wait for the writer before senders wait too (backpressure).
const QUEUE_DEPTH: usize = 8192;

// How background jobs share the writer with foreground ones. A background job (at most 64
// membership changes, about 150 µs on SQLite) runs in a transaction of its own, never in one
// that acknowledged writes wait for, and after each such transaction the writer pauses as long
// as it took (see `pause`), so that a storm of background work takes at most half of a core
// and a foreground write waits for at most one background job. Measured on a million deadlines
// due at once (docs/benchmarks.md): ingest's p50 stayed where it was without the storm, where
// riding along with foreground transactions had tripled it, and without the pause, the writer
// busy for seconds took the CPU the HTTP side needed and its p99 rose to 30 ms.

/// Under foreground load that never leaves a gap, a background job rides along with a
/// foreground transaction when none has run for this long, so that background work is never
/// starved: at least 100 jobs a second, while one ingest request in ten milliseconds' worth
/// waits for one.
const BACKGROUND_MAX_GAP: Duration = Duration::from_millis(10);

/// What a backend's writer does with its database.
pub trait Committer: Send + 'static {
    /// Runs every job of `batch` (draining it) in one transaction, in savepoints as
    /// [`crate::savepoints`] says, and calls each job's `on_commit` once the transaction's
    /// fate is known, before it returns (the writer then runs what those hooks deferred,
    /// [`crate::after_hooks`]).
    fn commit(&mut self, batch: &mut Vec<WriteJob>);

    /// Runs once after the last batch, when every sender is gone.
    fn stopped(&mut self) {}
}

/// Where a store's write jobs go: the writer thread's two queues. This is the whole of how a
/// caller reaches a backend's writer, so that the channel the writer reads stays its own.
///
/// What it promises, on every backend (both run this writer):
/// - foreground jobs are run in the order they were queued, many to a transaction, each
///   rolled back alone when it fails ([`crate::savepoints`]), and each job's `on_commit` is
///   called once the transaction's fate is known, in commit order (one writer per store, so
///   whatever `on_commit` forwards arrives in the order this store committed; of several
///   processes sharing a database, each sees only its own commits this way, and the engine
///   log orders them all)
///   and what those hooks defer ([`crate::after_hooks::defer`]) runs after the transaction's
///   last hook, in the order it was deferred;
/// - background jobs run in the order they were queued, in the gaps between foreground jobs,
///   never more than a few per transaction, so that a burst of them never makes acknowledged
///   writes wait long (how long the gaps are is this file's pacing, the same for both);
/// - a full foreground queue makes senders wait (back-pressure); a closed one answers
///   [`StoreError::Closed`].
pub struct WriteQueue {
    foreground: mpsc::Sender<WriteJob>,
    background: Background,
}

impl WriteQueue {
    /// Queues a foreground job, waiting while the queue is full.
    pub async fn send(&self, job: WriteJob) -> Result<(), StoreError> {
        self.foreground
            .send(job)
            .await
            .map_err(|_| StoreError::Closed)
    }

    /// Like [`WriteQueue::send`], blocking the calling thread (never call it on a runtime's).
    pub fn send_blocking(&self, job: WriteJob) -> Result<(), StoreError> {
        self.foreground
            .blocking_send(job)
            .map_err(|_| StoreError::Closed)
    }

    /// Queues a background job without waiting.
    pub fn send_background(&self, job: WriteJob) -> Result<(), StoreError> {
        self.background.push(job, &self.foreground)
    }
}

/// The background queue: jobs the writer runs between foreground jobs, in order.
#[derive(Clone, Default)]
struct Background {
    jobs: Arc<Mutex<VecDeque<WriteJob>>>,
}

impl Background {
    /// Queues a job and wakes the writer with an empty foreground job if it sleeps.
    fn push(&self, job: WriteJob, wake: &mpsc::Sender<WriteJob>) -> Result<(), StoreError> {
        if wake.is_closed() {
            return Err(StoreError::Closed);
        }
        let was_empty = {
            let mut jobs = self.jobs.lock().map_err(|_| StoreError::Closed)?;
            jobs.push_back(job);
            jobs.len() == 1
        };
        // The writer sleeps only after finding the background queue empty, so only a push into
        // an empty queue needs to wake it; waking it for every job of a storm would fill the
        // foreground queue with empty jobs. A full foreground queue means it is awake anyway.
        if was_empty {
            let _ = wake.try_send(WriteJob::once(|_| JobOutcome {
                keep: true,
                on_commit: Box::new(|_| {}),
            }));
        }
        Ok(())
    }

    fn pop(&self) -> Option<WriteJob> {
        self.jobs.lock().ok()?.pop_front()
    }

    fn is_empty(&self) -> bool {
        self.jobs.lock().map_or(true, |jobs| jobs.is_empty())
    }

    fn len(&self) -> usize {
        self.jobs.lock().map_or(0, |jobs| jobs.len())
    }
}

/// Starts the writer thread (named `name`); returns its queues.
pub fn spawn_writer<C: Committer>(
    name: &str,
    committer: C,
    max_batch: usize,
) -> Result<WriteQueue, StoreError> {
    let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
    let background = Background::default();
    let queue = background.clone();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || writer_loop(committer, receiver, &queue, max_batch.max(1)))
        .map_err(|error| StoreError::Backend(format!("cannot start the writer thread: {error}")))?;
    Ok(WriteQueue {
        foreground: sender,
        background,
    })
}

fn writer_loop<C: Committer>(
    mut committer: C,
    mut receiver: mpsc::Receiver<WriteJob>,
    background: &Background,
    max_batch: usize,
) {
    let mut batch = Vec::with_capacity(max_batch);
    let mut background_ran = Instant::now();
    let recorded = Recorded::new();
    loop {
        // Sleep only when there is no background work either.
        if background.is_empty() {
            match receiver.blocking_recv() {
                Some(job) => batch.push(job),
                None => break,
            }
        }
        // Whatever queued up while the previous transaction committed goes into this one.
        while batch.len() < max_batch {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // A background job runs alone when no foreground job waits, or rides along with them
        // when the foreground has left no gap for too long.
        if batch.is_empty() {
            let Some(job) = background.pop() else {
                continue;
            };
            batch.push(job);
            let began = Instant::now();
            crate::after_hooks::run(|| committer.commit(&mut batch));
            recorded.commit(began, &receiver, background);
            background_ran = Instant::now();
            pause(&receiver, began.elapsed());
            continue;
        }
        if background_ran.elapsed() >= BACKGROUND_MAX_GAP
            && let Some(job) = background.pop()
        {
            batch.push(job);
            background_ran = Instant::now();
        }
        let began = Instant::now();
        crate::after_hooks::run(|| committer.commit(&mut batch));
        recorded.commit(began, &receiver, background);
    }
    // The foreground queue closed; finish what the background still holds.
    while let Some(job) = background.pop() {
        batch.push(job);
        crate::after_hooks::run(|| committer.commit(&mut batch));
    }
    committer.stopped();
}

/// What the writer tells `/metrics`: each transaction's commit time, and after it how many
/// jobs wait in each queue (the foreground's, acknowledged writes, and the background's).
struct Recorded {
    commit_seconds: metrics::Histogram,
    foreground_depth: metrics::Gauge,
    background_depth: metrics::Gauge,
}

impl Recorded {
    fn new() -> Self {
        Self {
            commit_seconds: metrics::histogram!("herald_store_commit_seconds"),
            foreground_depth: metrics::gauge!("herald_store_write_queue_depth", "queue" => "foreground"),
            background_depth: metrics::gauge!("herald_store_write_queue_depth", "queue" => "background"),
        }
    }

    fn commit(&self, began: Instant, receiver: &mpsc::Receiver<WriteJob>, background: &Background) {
        self.commit_seconds.record(began.elapsed().as_secs_f64());
        self.foreground_depth.set(receiver.len() as f64);
        self.background_depth.set(background.len() as f64);
    }
}

/// Waits for `length` after a background transaction, or until a foreground job arrives: a
/// pause that made an arriving write wait out its whole length raised ingest's p50 during a
/// storm by a third when it was twice the transaction's length.
fn pause(receiver: &mpsc::Receiver<WriteJob>, length: Duration) {
    const STEP: Duration = Duration::from_micros(25);
    let end = Instant::now() + length;
    while receiver.is_empty() {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(STEP));
    }
}
