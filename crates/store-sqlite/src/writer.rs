//! The single writer thread and its group commit.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use herald_store::{JobOutcome, StoreError, WriteJob};
use rusqlite::Connection;
use tokio::sync::mpsc;

use crate::cache::WriterCache;
use crate::index_buffer::IndexBuffer;
use crate::queries::backend;
use crate::tx::Tx;

/// How many write jobs may wait for the writer before senders wait too (backpressure).
const QUEUE_DEPTH: usize = 8192;

// How background jobs share the writer with foreground ones. A background job (at most 64
// membership changes, about 150 µs) runs in a transaction of its own, never in one that
// acknowledged writes wait for, and after each such transaction the writer pauses as long as it
// took (see `pause`), so that a storm of background work takes at most half of a core and a
// foreground write waits for at most one background job. Measured on a million deadlines due at
// once (docs/benchmarks.md): ingest's p50 stayed where it was without the storm, where riding
// along with foreground transactions had tripled it, and without the pause, the writer busy for
// seconds took the CPU the HTTP side needed and its p99 rose to 30 ms.

/// Under foreground load that never leaves a gap, a background job rides along with a
/// foreground transaction when none has run for this long, so that background work is never
/// starved: at least 100 jobs a second, while one ingest request in ten milliseconds' worth
/// waits for one.
const BACKGROUND_MAX_GAP: Duration = Duration::from_millis(10);

/// The background queue: jobs the writer runs between foreground jobs, in order.
#[derive(Clone, Default)]
pub(crate) struct Background {
    jobs: Arc<Mutex<VecDeque<WriteJob>>>,
}

impl Background {
    /// Queues a job and wakes the writer with an empty foreground job if it sleeps.
    pub(crate) fn push(
        &self,
        job: WriteJob,
        wake: &mpsc::Sender<WriteJob>,
    ) -> Result<(), StoreError> {
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
            let _ = wake.try_send(Box::new(|_| JobOutcome {
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
}

pub(crate) fn spawn(
    connection: Connection,
    max_batch: usize,
) -> Result<(mpsc::Sender<WriteJob>, Background), StoreError> {
    let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
    let background = Background::default();
    let queue = background.clone();
    std::thread::Builder::new()
        .name("herald-sqlite-writer".into())
        .spawn(move || writer_loop(connection, receiver, &queue, max_batch.max(1)))
        .map_err(|error| StoreError::Backend(format!("cannot start the writer thread: {error}")))?;
    Ok((sender, background))
}

fn writer_loop(
    connection: Connection,
    mut receiver: mpsc::Receiver<WriteJob>,
    background: &Background,
    max_batch: usize,
) {
    let mut batch = Vec::with_capacity(max_batch);
    let mut cache = WriterCache::default();
    let mut background_ran = Instant::now();
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
            run_batch(&connection, &mut batch, &mut cache);
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
        run_batch(&connection, &mut batch, &mut cache);
    }
    // The foreground queue closed; finish what the background still holds.
    while let Some(job) = background.pop() {
        batch.push(job);
        run_batch(&connection, &mut batch, &mut cache);
    }
    // Every sender is gone: fold the WAL back into the main file for a tidy shutdown.
    let _ = connection.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
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

fn run_batch(connection: &Connection, batch: &mut Vec<WriteJob>, cache: &mut WriterCache) {
    if let Err(error) = run_cached(connection, "BEGIN IMMEDIATE") {
        tracing::error!(error = %error, jobs = batch.len(), "cannot begin a write transaction");
        // Dropping the jobs drops their reply channels: each caller sees the store as closed and
        // answers with an error, and nothing of theirs was written.
        batch.clear();
        return;
    }
    let mut index = IndexBuffer::default();
    let mut notifications = Vec::with_capacity(batch.len());
    for job in batch.drain(..) {
        notifications.push(run_job(connection, &mut index, cache, job));
    }
    let committed = index
        .flush(connection)
        .and_then(|()| run_cached(connection, "COMMIT").map_err(backend));
    if let Err(error) = &committed {
        tracing::error!(error = %error, "write transaction failed; rolling back");
        let _ = connection.execute_batch("ROLLBACK");
        cache.clear();
    }
    for notify in notifications {
        notify(committed.clone());
    }
}

/// Runs a statement through the statement cache: savepoints run once per job, so parsing them
/// each time would cost more than the statements themselves.
fn run_cached(connection: &Connection, sql: &str) -> Result<(), rusqlite::Error> {
    connection.prepare_cached(sql)?.execute([]).map(|_| ())
}

type Notify = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

fn run_job(
    connection: &Connection,
    index: &mut IndexBuffer,
    cache: &mut WriterCache,
    job: WriteJob,
) -> Notify {
    if let Err(error) = run_cached(connection, "SAVEPOINT job") {
        let error = backend(error);
        // The job never ran; its caller hears the error through a synthetic outcome.
        return Box::new(move |_| drop(error));
    }
    let mut job_index = IndexBuffer::default();
    let outcome = {
        let mut tx = Tx::new(connection, &mut job_index, cache);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut tx)))
    };
    match outcome {
        Ok(JobOutcome { keep, on_commit }) => {
            if keep {
                let _ = run_cached(connection, "RELEASE job");
                index.absorb(job_index);
                on_commit
            } else {
                let _ = run_cached(connection, "ROLLBACK TO job");
                let _ = run_cached(connection, "RELEASE job");
                cache.clear();
                on_commit
            }
        }
        Err(panic) => {
            let _ = connection.execute_batch("ROLLBACK TO job; RELEASE job");
            cache.clear();
            let message = herald_domain::panic_message(panic.as_ref());
            tracing::error!(panic = %message, "a write job panicked; its changes were rolled back");
            // The job's reply channel was dropped with the job, so its caller sees an error.
            Box::new(|_| {})
        }
    }
}
