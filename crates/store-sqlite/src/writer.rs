//! The SQLite writer's transactions: the group commit loop ([`herald_store::group_commit`])
//! hands each batch to [`run_batch`], which runs it in one `BEGIN IMMEDIATE … COMMIT`.

use herald_store::group_commit::{Committer, WriteQueue, spawn_writer};
use herald_store::{JobOutcome, StoreError, WriteJob};
use rusqlite::Connection;

use crate::index_buffer::IndexBuffer;
use crate::queries::backend;
use crate::tx::Tx;
use herald_store::writer_cache::WriterCache;

/// The SQLite side of the writer: its connection and what it keeps between transactions.
struct SqliteCommitter {
    connection: Connection,
    cache: WriterCache,
}

impl Committer for SqliteCommitter {
    fn commit(&mut self, batch: &mut Vec<WriteJob>) {
        run_batch(&self.connection, batch, &mut self.cache);
    }

    fn stopped(&mut self) {
        // Every sender is gone: fold the WAL back into the main file for a tidy shutdown.
        let _ = self
            .connection
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
    }
}

pub(crate) fn spawn(connection: Connection, max_batch: usize) -> Result<WriteQueue, StoreError> {
    let committer = SqliteCommitter {
        connection,
        cache: WriterCache::default(),
    };
    spawn_writer("herald-sqlite-writer", committer, max_batch)
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
