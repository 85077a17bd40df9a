//! The SQLite writer's transactions: the group commit loop ([`herald_store::group_commit`])
//! hands each batch to [`run_batch`], which runs it in one `BEGIN IMMEDIATE … COMMIT`.

use herald_store::group_commit::{Committer, WriteQueue, spawn_writer};
use herald_store::savepoints::{Savepoints, run_jobs};
use herald_store::{StoreError, StoreTx, WriteJob};
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
    let mut jobs = Jobs::new(connection, cache);
    let waiting = run_jobs(&mut jobs, batch);
    let committed = jobs.commit();
    for caller in waiting {
        caller.tell(&committed);
    }
}

/// Runs statements through the statement cache: savepoints run once per job or group of
/// jobs, so parsing them each time would cost more than the statements themselves.
fn run_cached(connection: &Connection, sql: &str) -> Result<(), rusqlite::Error> {
    connection.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// One transaction's jobs: the connection, the writer's cache, and the index entries the
/// kept jobs leave for the commit.
struct Jobs<'c> {
    connection: &'c Connection,
    cache: &'c mut WriterCache,
    index: IndexBuffer,
    state: State,
}

/// Where the transaction stands, for the savepoint its next jobs need.
///
/// While nothing has been kept in it, the transaction itself serves as the first savepoint:
/// rolling it back and beginning again loses nothing, and SQLite copies no page into a
/// savepoint's journal for it. Under single-event requests a transaction is mostly one group
/// of jobs, so most transactions open no savepoint at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing kept yet, no savepoint open.
    Fresh,
    /// The transaction stands in for the open savepoint.
    Standing,
    /// Something was kept: savepoints are real.
    Kept,
    /// A rollback's `BEGIN IMMEDIATE` failed: no transaction is open.
    Lost,
}

impl<'c> Jobs<'c> {
    /// A transaction's jobs before any has run, in the transaction just begun.
    fn new(connection: &'c Connection, cache: &'c mut WriterCache) -> Self {
        Self {
            connection,
            cache,
            index: IndexBuffer::default(),
            state: State::Fresh,
        }
    }

    /// Writes what the kept jobs left for the commit and commits; on an error, rolls back and
    /// forgets what the writer cached.
    fn commit(self) -> Result<(), StoreError> {
        let committed = if self.state == State::Lost {
            // No transaction is open: nothing was kept, and the flush would write outside one.
            Err(StoreError::Backend(
                "the write transaction could not be begun again after a rollback".into(),
            ))
        } else {
            self.index
                .flush(self.connection)
                .and_then(|()| run_cached(self.connection, "COMMIT").map_err(backend))
        };
        if let Err(error) = &committed {
            tracing::error!(error = %error, "write transaction failed; rolling back");
            let _ = self.connection.execute_batch("ROLLBACK");
            self.cache.clear();
        }
        committed
    }
}

impl Savepoints for Jobs<'_> {
    type Pending = IndexBuffer;

    fn open(&mut self) -> Result<(), StoreError> {
        match self.state {
            State::Fresh => {
                self.state = State::Standing;
                Ok(())
            }
            State::Lost => Err(StoreError::Backend(
                "no write transaction is open after a failed rollback".into(),
            )),
            State::Kept if self.connection.is_autocommit() => {
                // SQLite rolled the whole transaction back, and what was kept with it: a
                // savepoint now would begin a transaction of its own, which its release would
                // commit apart from this one.
                self.state = State::Lost;
                Err(StoreError::Backend(
                    "the write transaction was rolled back by SQLite".into(),
                ))
            }
            State::Standing | State::Kept => {
                run_cached(self.connection, "SAVEPOINT job").map_err(backend)
            }
        }
    }

    fn release(&mut self) -> Result<(), StoreError> {
        if self.state == State::Standing {
            if self.connection.is_autocommit() {
                // SQLite rolled the whole transaction back on an error (a full disk, say).
                self.undo();
                return Err(StoreError::Backend(
                    "the write transaction was rolled back by SQLite".into(),
                ));
            }
            self.state = State::Kept;
            return Ok(());
        }
        run_cached(self.connection, "RELEASE job").map_err(|error| {
            self.undo();
            backend(error)
        })
    }

    fn undo(&mut self) {
        if self.state == State::Standing {
            // Nothing else is in the transaction: beginning it again is the savepoint's
            // rollback.
            let _ = self.connection.execute_batch("ROLLBACK");
            self.state = match run_cached(self.connection, "BEGIN IMMEDIATE") {
                Ok(()) => State::Fresh,
                Err(error) => {
                    tracing::error!(error = %error, "cannot begin the write transaction again");
                    State::Lost
                }
            };
        } else {
            let _ = run_cached(self.connection, "ROLLBACK TO job");
            let _ = run_cached(self.connection, "RELEASE job");
        }
        // The people the savepoint's jobs created or changed may be cached as they were.
        self.cache.clear();
    }

    fn run<R>(&mut self, pending: &mut IndexBuffer, job: impl FnOnce(&mut dyn StoreTx) -> R) -> R {
        let mut tx = Tx::new(self.connection, pending, self.cache);
        job(&mut tx)
    }

    fn keep(&mut self, pending: IndexBuffer) {
        self.index.absorb(pending);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::WorkspaceId;
    use herald_store::{JobOutcome, LogPosition};
    use std::sync::{Arc, Mutex};

    /// What each job appended, and the position it was handed.
    type Handed = Arc<Mutex<Vec<(&'static [u8], LogPosition)>>>;

    /// A job that appends `inputs` to the engine log and keeps the position it was given
    /// (`kept`), or fails after appending.
    fn append(inputs: &'static [u8], kept: bool, positions: &Handed) -> WriteJob {
        let positions = positions.clone();
        WriteJob::once(move |tx| {
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

    /// A migrated database in memory, its write transaction begun as `run_batch` begins it.
    fn in_transaction() -> Connection {
        let mut connection = Connection::open_in_memory().expect("a database");
        crate::migrations::apply(&mut connection).expect("migrated");
        run_cached(&connection, "BEGIN IMMEDIATE").expect("begun");
        connection
    }

    fn log_entries(connection: &Connection) -> i64 {
        connection
            .query_row("SELECT count(*) FROM engine_log", [], |row| row.get(0))
            .expect("counted")
    }

    /// A transaction's first savepoint is the transaction itself. When its rollback cannot
    /// begin the transaction again, no later job runs and nothing is written outside a
    /// transaction: `query_only` makes `BEGIN IMMEDIATE` fail, and is lifted at once, so a job
    /// let run would write and commit its entry.
    #[test]
    fn a_rollback_that_cannot_begin_again_runs_and_writes_nothing_more() {
        let connection = in_transaction();
        let mut cache = WriterCache::default();
        let mut jobs = Jobs::new(&connection, &mut cache);
        jobs.open()
            .expect("the transaction stands in for the savepoint");
        connection
            .execute(
                "INSERT INTO engine_log (workspace_id, inputs) VALUES (1, x'00')",
                [],
            )
            .expect("written in the transaction");
        connection
            .execute_batch("PRAGMA query_only = 1")
            .expect("read-only");
        jobs.undo();
        connection
            .execute_batch("PRAGMA query_only = 0")
            .expect("writable");
        assert_eq!(jobs.state, State::Lost);
        assert!(connection.is_autocommit(), "no transaction is open");

        let positions = Handed::default();
        let mut batch = vec![append(b"after", true, &positions)];
        let waiting = run_jobs(&mut jobs, &mut batch);
        assert!(
            positions.lock().expect("the positions").is_empty(),
            "the job ran"
        );
        let committed = jobs.commit();
        assert!(committed.is_err());
        for caller in waiting {
            caller.tell(&committed);
        }
        assert_eq!(log_entries(&connection), 0);
    }

    /// A job kept while SQLite had rolled the whole transaction back (as on a full disk) is
    /// not kept: its release fails and the transaction is begun again for the next jobs.
    #[test]
    fn a_release_after_sqlite_rolled_the_transaction_back_fails() {
        let connection = in_transaction();
        let mut cache = WriterCache::default();
        let mut jobs = Jobs::new(&connection, &mut cache);
        jobs.open()
            .expect("the transaction stands in for the savepoint");
        connection.execute_batch("ROLLBACK").expect("rolled back");
        assert!(jobs.release().is_err());
        assert_eq!(jobs.state, State::Fresh);
        assert!(
            !connection.is_autocommit(),
            "the transaction was begun again"
        );
        jobs.commit().expect("an empty transaction commits");
    }
    /// Once SQLite has rolled back a transaction that kept something, no later job opens a
    /// savepoint (outside a transaction it would begin one of its own, committed apart), and
    /// the batch's callers hear that it failed.
    #[test]
    fn no_job_runs_after_sqlite_rolled_back_what_was_kept() {
        let connection = in_transaction();
        let mut cache = WriterCache::default();
        let mut jobs = Jobs::new(&connection, &mut cache);
        let positions = Handed::default();
        let mut batch = vec![append(b"kept", true, &positions)];
        let _ = run_jobs(&mut jobs, &mut batch);
        assert_eq!(jobs.state, State::Kept);
        connection.execute_batch("ROLLBACK").expect("rolled back");

        let mut batch = vec![append(b"after", true, &positions)];
        let _ = run_jobs(&mut jobs, &mut batch);
        assert_eq!(jobs.state, State::Lost);
        assert!(jobs.commit().is_err());
        assert_eq!(log_entries(&connection), 0);
        let ran: Vec<&[u8]> = positions
            .lock()
            .expect("the positions")
            .iter()
            .map(|(inputs, _)| *inputs)
            .collect();
        assert_eq!(ran, [&b"kept"[..]]);
    }
}
