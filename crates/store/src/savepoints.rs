//! How a backend's writer runs one transaction's jobs, each backend the same way: a job that
//! runs once gets a savepoint of its own; consecutive repeatable jobs ([`RepeatableJob`]) share
//! one, and are run again one savepoint each when one of them fails, so that a failing job
//! still rolls back alone. A backend says what a savepoint is ([`Savepoints`]); this file says
//! when to take one.

use crate::{JobOutcome, OnceJob, RepeatableJob, StoreError, StoreTx, WriteJob};

/// At most this many repeatable jobs share a savepoint: enough that the pages they all change
/// are copied into the journal once for many jobs, few enough that a failure, which runs them
/// all again, costs little.
pub const GROUP: usize = 64;

/// A job's caller, and the error it hears instead of the transaction's fate when its own part
/// could not be kept.
pub struct Waiting {
    notify: Box<dyn FnOnce(Result<(), StoreError>) + Send>,
    failed: Option<StoreError>,
}

impl Waiting {
    /// Tells the caller the transaction's fate, or its own failure.
    pub fn tell(self, committed: &Result<(), StoreError>) {
        match self.failed {
            Some(error) => (self.notify)(Err(error)),
            None => (self.notify)(committed.clone()),
        }
    }

    /// A caller who hears nothing: its job never ran or panicked, and dropping the job dropped
    /// its reply channel, so it sees the store as closed.
    fn nobody() -> Self {
        Self {
            notify: Box::new(|_| {}),
            failed: None,
        }
    }

    fn finish(job: Box<dyn RepeatableJob>, failed: Option<StoreError>) -> Self {
        Self {
            notify: Box::new(move |committed| job.finish(committed)),
            failed,
        }
    }
}

/// What a backend's writer does with a savepoint inside its open transaction.
pub trait Savepoints {
    /// What a savepoint's jobs leave for the commit (index and log entries), kept or dropped
    /// with the savepoint.
    type Pending: Default;

    /// Opens a savepoint.
    fn open(&mut self) -> Result<(), StoreError>;
    /// Releases the open savepoint, keeping its changes; on an error the backend has rolled
    /// it back (a failed statement can leave a savepoint that cannot be kept).
    fn release(&mut self) -> Result<(), StoreError>;
    /// Rolls the open savepoint back and releases it; whatever the writer cached about what
    /// the savepoint changed is forgotten.
    fn undo(&mut self);
    /// Runs `job` in the open savepoint, its pending entries going to `pending`.
    fn run<R>(&mut self, pending: &mut Self::Pending, job: impl FnOnce(&mut dyn StoreTx) -> R)
    -> R;
    /// Keeps a released savepoint's pending entries for the commit.
    fn keep(&mut self, pending: Self::Pending);
}

/// Runs every job of `batch` (draining it) in the open transaction, in order, and returns
/// their callers in the same order, to be told once the transaction's fate is known.
pub fn run_jobs<S: Savepoints>(savepoints: &mut S, batch: &mut Vec<WriteJob>) -> Vec<Waiting> {
    let mut waiting = Vec::with_capacity(batch.len());
    let mut group: Vec<Box<dyn RepeatableJob>> = Vec::new();
    for job in batch.drain(..) {
        match job {
            WriteJob::Once(job) => {
                run_group(savepoints, &mut group, &mut waiting);
                waiting.push(run_once(savepoints, job));
            }
            // Nobody waits for it: dropping it is all there is to do.
            WriteJob::Repeatable(job) if !job.wanted() => {}
            WriteJob::Repeatable(job) => {
                group.push(job);
                if group.len() == GROUP {
                    run_group(savepoints, &mut group, &mut waiting);
                }
            }
        }
    }
    run_group(savepoints, &mut group, &mut waiting);
    waiting
}

/// Runs `job` with a panic caught: `None` when it panicked (logged).
fn caught<S: Savepoints, R>(
    savepoints: &mut S,
    pending: &mut S::Pending,
    job: impl FnOnce(&mut dyn StoreTx) -> R,
) -> Option<R> {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        savepoints.run(pending, job)
    }));
    match outcome {
        Ok(value) => Some(value),
        Err(panic) => {
            let message = herald_domain::panic_message(panic.as_ref());
            tracing::error!(panic = %message, "a write job panicked; its changes were rolled back");
            None
        }
    }
}

fn run_once<S: Savepoints>(savepoints: &mut S, job: OnceJob) -> Waiting {
    if savepoints.open().is_err() {
        // The job never ran; dropping it tells its caller through a closed reply.
        return Waiting::nobody();
    }
    let mut pending = S::Pending::default();
    match caught(savepoints, &mut pending, job) {
        Some(JobOutcome { keep, on_commit }) => {
            let failed = if keep {
                settle(savepoints, pending)
            } else {
                savepoints.undo();
                None
            };
            Waiting {
                notify: on_commit,
                failed,
            }
        }
        None => {
            savepoints.undo();
            Waiting::nobody()
        }
    }
}

/// Releases the open savepoint and keeps its pending entries; the error, when it could not be
/// kept.
fn settle<S: Savepoints>(savepoints: &mut S, pending: S::Pending) -> Option<StoreError> {
    match savepoints.release() {
        Ok(()) => {
            savepoints.keep(pending);
            None
        }
        Err(error) => Some(error),
    }
}

/// Runs a repeatable job in a savepoint of its own.
fn run_alone<S: Savepoints>(savepoints: &mut S, mut job: Box<dyn RepeatableJob>) -> Waiting {
    if savepoints.open().is_err() {
        return Waiting::nobody();
    }
    let mut pending = S::Pending::default();
    match caught(savepoints, &mut pending, |tx| job.run(tx)) {
        Some(true) => {
            let failed = settle(savepoints, pending);
            Waiting::finish(job, failed)
        }
        Some(false) => {
            savepoints.undo();
            Waiting::finish(job, None)
        }
        None => {
            savepoints.undo();
            Waiting::nobody()
        }
    }
}

/// Runs `group` (draining it) in one savepoint; when one of its jobs fails, panics or cannot
/// be kept, rolls the group back and runs each job again in a savepoint of its own (all but
/// one that panicked, which is dropped).
fn run_group<S: Savepoints>(
    savepoints: &mut S,
    group: &mut Vec<Box<dyn RepeatableJob>>,
    waiting: &mut Vec<Waiting>,
) {
    if group.len() <= 1 {
        waiting.extend(group.drain(..).map(|job| run_alone(savepoints, job)));
        return;
    }
    if savepoints.open().is_err() {
        waiting.extend(group.drain(..).map(|_| Waiting::nobody()));
        return;
    }
    let mut pending = S::Pending::default();
    let mut panicked = None;
    let mut failed = false;
    for (at, job) in group.iter_mut().enumerate() {
        match caught(savepoints, &mut pending, |tx| job.run(tx)) {
            Some(true) => {}
            Some(false) => {
                failed = true;
                break;
            }
            None => {
                panicked = Some(at);
                break;
            }
        }
    }
    if !failed && panicked.is_none() && settle(savepoints, pending).is_none() {
        waiting.extend(group.drain(..).map(|job| Waiting::finish(job, None)));
        return;
    }
    if failed || panicked.is_some() {
        savepoints.undo();
    }
    for (at, job) in group.drain(..).enumerate() {
        waiting.push(if panicked == Some(at) {
            Waiting::nobody()
        } else {
            run_alone(savepoints, job)
        });
    }
}
