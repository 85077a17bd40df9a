//! A cloneable handle with typed helpers over the object-safe [`Store`] trait.

use std::sync::Arc;

use tokio::sync::oneshot;

use crate::{JobOutcome, Store, StoreError, StoreRead, StoreTx};

/// A shared, cloneable reference to a store.
#[derive(Clone)]
pub struct StoreHandle {
    inner: Arc<dyn Store>,
}

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreHandle")
    }
}

/// A write job in the writer's queue (see [`StoreHandle::queue_write_with_hook`]). Dropping it
/// before the job runs withdraws the job: the writer skips a job nobody waits for.
pub struct QueuedWrite<T, E> {
    reply: WriteReply<T, E>,
}

impl<T, E> QueuedWrite<T, E> {
    /// Waits for the commit: as [`StoreHandle::write`] answers.
    pub async fn outcome(self) -> Result<Result<T, E>, StoreError> {
        self.reply.await.map_err(|_| StoreError::Closed)?
    }

    /// Like [`QueuedWrite::outcome`], blocking the calling thread (never call it on a
    /// runtime's).
    pub fn outcome_blocking(self) -> Result<Result<T, E>, StoreError> {
        self.reply.blocking_recv().map_err(|_| StoreError::Closed)?
    }
}

type WriteReply<T, E> = oneshot::Receiver<Result<Result<T, E>, StoreError>>;
type Hook<T> = Box<dyn FnOnce(&mut T) + Send>;

impl StoreHandle {
    /// Wraps a backend.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { inner: store }
    }

    /// The claims on campaign runs this process makes (see [`crate::RunClaims`]).
    pub fn run_claims(&self) -> Arc<dyn crate::RunClaims> {
        self.inner.run_claims()
    }

    /// The leases on the segment engine's partitions (see [`crate::PartitionLeases`]).
    pub fn partition_leases(&self) -> Arc<dyn crate::PartitionLeases> {
        self.inner.partition_leases()
    }

    /// What other processes on the same store changed (see [`crate::StoreChange`]).
    pub fn subscribe_changes(
        &self,
    ) -> Option<tokio::sync::broadcast::Receiver<crate::StoreChange>> {
        self.inner.subscribe_changes()
    }

    /// Runs `job` on a reader and returns its result.
    pub async fn read<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn StoreRead) -> Result<T, StoreError> + Send + 'static,
    {
        let reply = self.submit_read(job)?;
        reply.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `job` on a reader, blocking the calling thread (for the CLI and sync tests).
    pub fn read_blocking<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn StoreRead) -> Result<T, StoreError> + Send + 'static,
    {
        let reply = self.submit_read(job)?;
        reply.blocking_recv().map_err(|_| StoreError::Closed)?
    }

    /// Runs `job` on a read transaction pinned now (see [`crate::Store::pin_read`]), on a thread
    /// of its own; the job delivers its own results.
    pub fn pin_read<F>(&self, job: F) -> Result<(), StoreError>
    where
        F: FnOnce(&mut dyn StoreRead) + Send + 'static,
    {
        self.inner.pin_read(Box::new(job))
    }

    fn submit_read<T, F>(
        &self,
        job: F,
    ) -> Result<oneshot::Receiver<Result<T, StoreError>>, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn StoreRead) -> Result<T, StoreError> + Send + 'static,
    {
        let (sender, receiver) = oneshot::channel();
        self.inner.submit_read(Box::new(move |reader| {
            // The caller may have given up waiting; its result then has no reader.
            let _ = sender.send(job(reader));
        }))?;
        Ok(receiver)
    }

    /// Runs `job` in the writer's transaction. `Ok(Ok(value))` arrives only after the commit;
    /// `Ok(Err(e))` means the job's own changes were rolled back and nothing of it was stored.
    pub async fn write<T, E, F>(&self, job: F) -> Result<Result<T, E>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut dyn StoreTx) -> Result<T, E> + Send + 'static,
    {
        let (job, reply) = Self::wrap_write(job);
        self.queue(job, reply).await?.outcome().await
    }

    /// Like [`StoreHandle::write`], blocking the calling thread.
    pub fn write_blocking<T, E, F>(&self, job: F) -> Result<Result<T, E>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut dyn StoreTx) -> Result<T, E> + Send + 'static,
    {
        let (job, reply) = Self::wrap_write(job);
        self.inner.write_queue().send_blocking(job)?;
        reply.blocking_recv().map_err(|_| StoreError::Closed)?
    }

    /// Like [`StoreHandle::write`], and calls `hook` with the job's value right after the
    /// commit, on the writer's thread, before the caller hears back. Hooks run in commit order,
    /// so whatever they forward (for example to the segment engine) arrives in commit order.
    pub async fn write_with_hook<T, E, F, H>(
        &self,
        job: F,
        hook: H,
    ) -> Result<Result<T, E>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut dyn StoreTx) -> Result<T, E> + Send + 'static,
        H: FnOnce(&mut T) + Send + 'static,
    {
        self.queue_write_with_hook(job, hook).await?.outcome().await
    }

    /// Like [`StoreHandle::write_with_hook`], in two halves: this one returns once the job is
    /// in the writer's queue, so that the caller knows that whatever it queues after will run
    /// after it (the queue is first in, first out); the returned [`QueuedWrite`] then gives the
    /// outcome.
    pub async fn queue_write_with_hook<T, E, F, H>(
        &self,
        job: F,
        hook: H,
    ) -> Result<QueuedWrite<T, E>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut dyn StoreTx) -> Result<T, E> + Send + 'static,
        H: FnOnce(&mut T) + Send + 'static,
    {
        let (job, reply) = Self::wrap_write_with(job, Some(Box::new(hook)));
        self.queue(job, reply).await
    }

    /// Like [`StoreHandle::write`] for a job that may be run more than once (see
    /// [`crate::RepeatableJob`]): it must have no effect but on `tx` and its result. The
    /// writer then runs it in one savepoint with its neighbours, which costs less.
    pub async fn write_repeatable<T, E, F>(&self, job: F) -> Result<Result<T, E>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnMut(&mut dyn StoreTx) -> Result<T, E> + Send + 'static,
    {
        let (job, reply) = Self::wrap_repeatable(job, None);
        self.queue(job, reply).await?.outcome().await
    }

    /// Like [`StoreHandle::queue_write_with_hook`] for a job that may be run more than once
    /// (see [`StoreHandle::write_repeatable`]).
    pub async fn queue_write_repeatable_with_hook<T, E, F, H>(
        &self,
        job: F,
        hook: H,
    ) -> Result<QueuedWrite<T, E>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnMut(&mut dyn StoreTx) -> Result<T, E> + Send + 'static,
        H: FnOnce(&mut T) + Send + 'static,
    {
        let (job, reply) = Self::wrap_repeatable(job, Some(Box::new(hook)));
        self.queue(job, reply).await
    }

    /// Queues a background write job without waiting for it (see [`crate::group_commit::WriteQueue`]).
    /// Its failure is only logged: use it for writes whose loss the caller can repair.
    pub fn submit_blocking<E, F>(&self, job: F) -> Result<(), StoreError>
    where
        E: std::fmt::Display + Send + 'static,
        F: FnOnce(&mut dyn StoreTx) -> Result<(), E> + Send + 'static,
    {
        let wrapped = crate::WriteJob::once(move |tx| {
            let result = job(tx);
            let keep = result.is_ok();
            if let Err(error) = &result {
                tracing::error!(error = %error, "a background write failed");
            }
            JobOutcome {
                keep,
                on_commit: Box::new(|_| {}),
            }
        });
        self.inner.write_queue().send_background(wrapped)
    }

    /// Returns once every background job queued before this call has committed.
    pub async fn background_barrier(&self) -> Result<(), StoreError> {
        let receiver = self.queue_barrier()?;
        receiver.await.map_err(|_| StoreError::Closed)?
    }

    /// Blocks until every background job queued before this call has committed.
    pub fn background_barrier_blocking(&self) -> Result<(), StoreError> {
        let receiver = self.queue_barrier()?;
        receiver.blocking_recv().map_err(|_| StoreError::Closed)?
    }

    /// Queues an empty background job, which commits after every one queued before it.
    fn queue_barrier(&self) -> Result<oneshot::Receiver<Result<(), StoreError>>, StoreError> {
        let (sender, receiver) = oneshot::channel();
        let job = crate::WriteJob::once(move |_| JobOutcome {
            keep: true,
            on_commit: Box::new(move |committed| {
                crate::after_hooks::defer(move || {
                    let _ = sender.send(committed);
                });
            }),
        });
        self.inner.write_queue().send_background(job)?;
        Ok(receiver)
    }

    /// Queues a background job (see [`crate::group_commit::WriteQueue`]) without waiting for it, and
    /// hands its outcome to `hook` on the writer's thread right after the commit. Background
    /// hooks run in the order their jobs were queued.
    pub fn submit_background_with_hook<T, F, H>(&self, job: F, hook: H) -> Result<(), StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn StoreTx) -> Result<T, StoreError> + Send + 'static,
        H: FnOnce(Result<T, StoreError>) + Send + 'static,
    {
        self.inner
            .write_queue()
            .send_background(Self::wrap_hooked(job, hook))
    }

    /// Runs `step` as background jobs, one after another, until it answers that nothing is
    /// left (`Ok(false)`), so that removing a large set of rows never holds the writer for long.
    /// A failure is logged as `what` and ends the chain; whatever is left stays for a later run.
    pub fn submit_in_steps<F>(&self, what: &'static str, step: F)
    where
        F: Fn(&mut dyn StoreTx) -> Result<bool, StoreError> + Clone + Send + 'static,
    {
        let next = self.clone();
        let again = step.clone();
        let submitted = self.submit_background_with_hook(step, move |more| match more {
            Ok(true) => next.submit_in_steps(what, again),
            Ok(false) => {}
            Err(error) => tracing::error!(error = %error, "cannot {what}"),
        });
        if let Err(error) = submitted {
            tracing::error!(error = %error, "cannot {what}");
        }
    }

    /// A write job whose outcome, the job's own or the commit's failure, goes to `hook` after
    /// the commit; a job that fails is rolled back alone.
    fn wrap_hooked<T, F, H>(job: F, hook: H) -> crate::WriteJob
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn StoreTx) -> Result<T, StoreError> + Send + 'static,
        H: FnOnce(Result<T, StoreError>) + Send + 'static,
    {
        crate::WriteJob::once(move |tx| {
            let result = job(tx);
            let keep = result.is_ok();
            JobOutcome {
                keep,
                on_commit: Box::new(move |committed| {
                    let outcome = match committed {
                        Ok(()) => result,
                        Err(error) => Err(error),
                    };
                    crate::after_hooks::defer(move || hook(outcome));
                }),
            }
        })
    }

    fn wrap_write<T, E, F>(job: F) -> (crate::WriteJob, WriteReply<T, E>)
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut dyn StoreTx) -> Result<T, E> + Send + 'static,
    {
        Self::wrap_write_with(job, None)
    }

    fn wrap_write_with<T, E, F>(
        job: F,
        hook: Option<Hook<T>>,
    ) -> (crate::WriteJob, WriteReply<T, E>)
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut dyn StoreTx) -> Result<T, E> + Send + 'static,
    {
        let (sender, receiver) = oneshot::channel();
        let wrapped = crate::WriteJob::once(move |tx| {
            // A caller that stopped waiting (its client hung up) never learns the outcome, so
            // the work is dropped before it is done: under overload the writer's time goes to
            // clients that are still there.
            if sender.is_closed() {
                return JobOutcome {
                    keep: false,
                    on_commit: Box::new(|_| {}),
                };
            }
            let result = job(tx);
            let keep = result.is_ok();
            JobOutcome {
                keep,
                on_commit: Box::new(move |committed| reply(committed, result, hook, sender)),
            }
        });
        (wrapped, receiver)
    }

    /// Puts a foreground job in the writer's queue, waiting while the queue is full.
    async fn queue<T, E>(
        &self,
        job: crate::WriteJob,
        reply: WriteReply<T, E>,
    ) -> Result<QueuedWrite<T, E>, StoreError> {
        self.inner.write_queue().send(job).await?;
        Ok(QueuedWrite { reply })
    }

    fn wrap_repeatable<T, E, F>(
        job: F,
        hook: Option<Hook<T>>,
    ) -> (crate::WriteJob, WriteReply<T, E>)
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnMut(&mut dyn StoreTx) -> Result<T, E> + Send + 'static,
    {
        let (sender, receiver) = oneshot::channel();
        let repeatable = Repeatable {
            job,
            result: None,
            hook,
            sender,
        };
        (crate::WriteJob::Repeatable(Box::new(repeatable)), receiver)
    }
}

/// A write whose job may be run again ([`crate::RepeatableJob`]): each run's result replaces
/// the last, and the last is what the caller hears.
struct Repeatable<T, E, F> {
    job: F,
    result: Option<Result<T, E>>,
    hook: Option<Hook<T>>,
    sender: oneshot::Sender<Result<Result<T, E>, StoreError>>,
}

impl<T, E, F> crate::RepeatableJob for Repeatable<T, E, F>
where
    T: Send + 'static,
    E: Send + 'static,
    F: FnMut(&mut dyn StoreTx) -> Result<T, E> + Send + 'static,
{
    fn wanted(&self) -> bool {
        // As for a job run once: the writer's time goes to callers that still wait.
        !self.sender.is_closed()
    }

    fn run(&mut self, tx: &mut dyn StoreTx) -> bool {
        let result = (self.job)(tx);
        let keep = result.is_ok();
        self.result = Some(result);
        keep
    }

    fn finish(self: Box<Self>, committed: Result<(), StoreError>) {
        let Self {
            result,
            hook,
            sender,
            ..
        } = *self;
        // The writer finishes only a job it ran.
        if let Some(result) = result {
            reply(committed, result, hook, sender);
        }
    }
}

/// Answers a write's caller once its transaction's fate is known: runs the hook with the
/// job's value when the transaction committed, then sends the outcome.
fn reply<T, E>(
    committed: Result<(), StoreError>,
    mut result: Result<T, E>,
    hook: Option<Hook<T>>,
    sender: oneshot::Sender<Result<Result<T, E>, StoreError>>,
) where
    T: Send + 'static,
    E: Send + 'static,
{
    if let (Ok(()), Ok(value), Some(hook)) = (&committed, &mut result, hook) {
        hook(value);
    }
    let reply = match (committed, result) {
        // A job that failed on its own stored nothing, whatever the commit did.
        (_, Err(error)) => Ok(Err(error)),
        (Ok(()), Ok(value)) => Ok(Ok(value)),
        (Err(store_error), Ok(_)) => Err(store_error),
    };
    // After the transaction's hooks have handed on what they gathered (the engine's inputs),
    // so that a caller who asks the engine next finds its write there.
    crate::after_hooks::defer(move || {
        let _ = sender.send(reply);
    });
}
