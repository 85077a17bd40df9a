//! The PostgreSQL writer's transactions: the group commit loop ([`herald_store::group_commit`])
//! hands each batch to [`PgCommitter`], which runs it in one transaction, each job in a
//! savepoint of its own.

use herald_store::group_commit::{Committer, WriteQueue, spawn_writer};
use herald_store::writer_cache::WriterCache;
use herald_store::{JobOutcome, StoreError, WriteJob};
use postgres::Client;

use crate::pg::{AtCommit, Pg, Statements, backend};

struct PgCommitter {
    client: Client,
    statements: Statements,
    /// `None` when other nodes' writers share the database: they change people too.
    cache: Option<WriterCache>,
    /// Whether each transaction waits for its turn among the writers that share the database
    /// (see `commit`).
    turns: bool,
}

/// The class of the transaction-level advisory lock that nodes sharing a database take in turn
/// (the two-key form: this and the schema's hash).
const WRITE_TURN: i32 = 0x7475_726e; // "turn"

pub(crate) fn spawn(
    client: Client,
    max_batch: usize,
    shared: bool,
    turns: bool,
) -> Result<WriteQueue, StoreError> {
    let committer = PgCommitter {
        client,
        statements: Statements::default(),
        cache: (!shared).then(WriterCache::default),
        turns,
    };
    spawn_writer("herald-postgres-writer", committer, max_batch)
}

type Notify = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// A job's caller, and the error it hears instead of the transaction's fate when its own part
/// could not be kept.
struct Waiting {
    notify: Notify,
    failed: Option<StoreError>,
}

impl Committer for PgCommitter {
    fn commit(&mut self, batch: &mut Vec<WriteJob>) {
        if let Err(error) = self.client.batch_execute("BEGIN") {
            tracing::error!(error = %error, jobs = batch.len(), "cannot begin a write transaction");
            // Dropping the jobs drops their reply channels: each caller sees the store as
            // closed, and nothing of theirs was written.
            batch.clear();
            return;
        }
        // Nodes that share the database write one transaction at a time: two nodes'
        // transactions could otherwise both find a person missing and both create them, or
        // lock two people in opposite orders and deadlock, and PostgreSQL would roll back a
        // whole batch of writes whose callers wait. The jobs cannot be run again (each is a
        // closure run once), so the conflict is avoided rather than retried; the price is that
        // the servers' transactions take turns, as one server's always do (docs/scaling.md).
        if self.turns
            && let Err(error) = self.client.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))",
                &[&WRITE_TURN],
            )
        {
            tracing::error!(error = %error, jobs = batch.len(), "cannot take the write turn");
            let _ = self.client.batch_execute("ROLLBACK");
            batch.clear();
            return;
        }
        let mut waiting = Vec::with_capacity(batch.len());
        let mut at_commit = AtCommit::default();
        for job in batch.drain(..) {
            waiting.push(self.run_job(job, &mut at_commit));
        }
        let AtCommit { index, log } = at_commit;
        let committed = {
            let mut pg = Pg::new(&mut self.client, &mut self.statements);
            // The log last: its positions are taken under a lock held until the commit.
            crate::activities::flush_index(&mut pg, index)
                .and_then(|()| crate::activities::flush_log(&mut pg, log))
        }
        .and_then(|()| self.client.batch_execute("COMMIT").map_err(backend));
        if let Err(error) = &committed {
            tracing::error!(error = %error, "write transaction failed; rolling back");
            let _ = self.client.batch_execute("ROLLBACK");
            if let Some(cache) = &mut self.cache {
                cache.clear();
            }
        }
        for Waiting { notify, failed } in waiting {
            match failed {
                Some(error) => notify(Err(error)),
                None => notify(committed.clone()),
            }
        }
    }
}

impl PgCommitter {
    fn run_job(&mut self, job: WriteJob, at_commit: &mut AtCommit) -> Waiting {
        if let Err(error) = self.client.batch_execute("SAVEPOINT job") {
            let error = backend(error);
            // The job never ran; dropping it tells its caller through a closed reply.
            return Waiting {
                notify: Box::new(move |_| drop(error)),
                failed: None,
            };
        }
        let mut job_at_commit = AtCommit::default();
        let outcome = {
            let mut pg = Pg::for_job(
                &mut self.client,
                &mut self.statements,
                &mut job_at_commit,
                self.cache.as_mut(),
            );
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut pg)))
        };
        match outcome {
            Ok(JobOutcome { keep, on_commit }) => {
                // A statement that failed leaves the transaction unusable until the savepoint
                // is rolled back, and then COMMIT would quietly roll everything back: a job
                // that kept its changes after such a failure is undone and its caller told.
                let failed = if keep {
                    let failed = self.client.batch_execute("RELEASE job").err().map(|error| {
                        self.undo_job();
                        backend(error)
                    });
                    if failed.is_none() {
                        at_commit.absorb(job_at_commit);
                    }
                    failed
                } else {
                    self.undo_job();
                    None
                };
                Waiting {
                    notify: on_commit,
                    failed,
                }
            }
            Err(panic) => {
                self.undo_job();
                let message = herald_domain::panic_message(panic.as_ref());
                tracing::error!(panic = %message, "a write job panicked; its changes were rolled back");
                // The job's reply channel was dropped with the job, so its caller sees an error.
                Waiting {
                    notify: Box::new(|_| {}),
                    failed: None,
                }
            }
        }
    }

    /// Rolls the job's savepoint back; the people it changed may be cached as changed.
    fn undo_job(&mut self) {
        let _ = self
            .client
            .batch_execute("ROLLBACK TO SAVEPOINT job; RELEASE job");
        if let Some(cache) = &mut self.cache {
            cache.clear();
        }
    }
}
