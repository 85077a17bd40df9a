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

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::WorkspaceId;
    use herald_store::LogPosition;
    use std::sync::{Arc, Mutex};

    /// What each job appended, and the position it was handed.
    type Handed = Arc<Mutex<Vec<(&'static [u8], LogPosition)>>>;

    /// A job that appends `inputs` to the engine log and keeps the position it was given
    /// (`kept`), or fails after appending.
    fn append(inputs: &'static [u8], kept: bool, positions: &Handed) -> WriteJob {
        let positions = positions.clone();
        Box::new(move |tx| {
            let position = tx
                .append_engine_log(WorkspaceId::new(1), inputs)
                .expect("appended");
            positions
                .lock()
                .expect("the positions")
                .push((inputs, position));
            JobOutcome {
                keep: kept,
                on_commit: Box::new(|_| {}),
            }
        })
    }

    /// The engine log's entries are written at commit, after every job of the transaction: in
    /// the order the jobs ran, each with the position its job was handed, and without the
    /// entries of a job that failed.
    #[test]
    fn a_transactions_log_entries_keep_job_order_and_drop_a_failed_jobs() {
        let mut connection = Connection::open_in_memory().expect("a database");
        crate::migrations::apply(&mut connection).expect("migrated");
        let positions = Handed::default();
        let mut batch = vec![
            append(b"first", true, &positions),
            append(b"failed", false, &positions),
            append(b"second", true, &positions),
            append(b"third", true, &positions),
        ];
        run_batch(&connection, &mut batch, &mut WriterCache::default());

        let stored: Vec<(i64, Vec<u8>)> = connection
            .prepare("SELECT seq, inputs FROM engine_log ORDER BY seq")
            .expect("a query")
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("read");
        let handed: Vec<(i64, Vec<u8>)> = positions
            .lock()
            .expect("the positions")
            .iter()
            .filter_map(|(inputs, position)| Some((position.get()?, inputs.to_vec())))
            .collect();
        assert_eq!(stored, handed);
        let order: Vec<&[u8]> = stored.iter().map(|(_, inputs)| inputs.as_slice()).collect();
        assert_eq!(order, [&b"first"[..], b"second", b"third"]);
    }
}
