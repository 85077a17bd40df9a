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

type WriteReply<T, E> = oneshot::Receiver<Result<Result<T, E>, StoreError>>;

impl StoreHandle {
    /// Wraps a backend.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { inner: store }
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
        self.inner
            .write_queue()
            .send(job)
            .await
            .map_err(|_| StoreError::Closed)?;
        reply.await.map_err(|_| StoreError::Closed)?
    }

    /// Like [`StoreHandle::write`], blocking the calling thread.
    pub fn write_blocking<T, E, F>(&self, job: F) -> Result<Result<T, E>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut dyn StoreTx) -> Result<T, E> + Send + 'static,
    {
        let (job, reply) = Self::wrap_write(job);
        self.inner
            .write_queue()
            .blocking_send(job)
            .map_err(|_| StoreError::Closed)?;
        reply.blocking_recv().map_err(|_| StoreError::Closed)?
    }

    fn wrap_write<T, E, F>(job: F) -> (crate::WriteJob, WriteReply<T, E>)
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut dyn StoreTx) -> Result<T, E> + Send + 'static,
    {
        let (sender, receiver) = oneshot::channel();
        let wrapped: crate::WriteJob = Box::new(move |tx| {
            let result = job(tx);
            let keep = result.is_ok();
            JobOutcome {
                keep,
                on_commit: Box::new(move |committed| {
                    let reply = match (committed, result) {
                        // A job that failed on its own stored nothing, whatever the commit did.
                        (_, Err(error)) => Ok(Err(error)),
                        (Ok(()), Ok(value)) => Ok(Ok(value)),
                        (Err(store_error), Ok(_)) => Err(store_error),
                    };
                    let _ = sender.send(reply);
                }),
            }
        });
        (wrapped, receiver)
    }
}
