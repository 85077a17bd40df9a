//! The PostgreSQL writer's transactions: the group commit loop ([`herald_store::group_commit`])
//! hands each batch to [`PgCommitter`], which runs it in one transaction, its jobs in
//! savepoints as [`herald_store::savepoints`] says.

use herald_store::group_commit::{Committer, WriteQueue, spawn_writer};
use herald_store::savepoints::{Savepoints, run_jobs};
use herald_store::writer_cache::WriterCache;
use herald_store::{StoreError, StoreTx, WriteJob};
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
        // whole batch of writes whose callers wait. Most jobs cannot be run again (they are
        // closures run once), so the conflict is avoided rather than retried; the price is that
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
        let mut jobs = Jobs {
            client: &mut self.client,
            statements: &mut self.statements,
            cache: self.cache.as_mut(),
            at_commit: AtCommit::default(),
        };
        let waiting = run_jobs(&mut jobs, batch);
        let AtCommit { index, log } = jobs.at_commit;
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
        for caller in waiting {
            caller.tell(&committed);
        }
    }
}

/// One transaction's jobs: the connection and its statements, the writer's cache, and what the
/// kept jobs leave for the commit.
struct Jobs<'c> {
    client: &'c mut Client,
    statements: &'c mut Statements,
    cache: Option<&'c mut WriterCache>,
    at_commit: AtCommit,
}

impl Savepoints for Jobs<'_> {
    type Pending = AtCommit;

    fn open(&mut self) -> Result<(), StoreError> {
        self.client.batch_execute("SAVEPOINT job").map_err(backend)
    }

    fn release(&mut self) -> Result<(), StoreError> {
        // A statement that failed leaves the transaction unusable until the savepoint is
        // rolled back, and then COMMIT would quietly roll everything back: jobs that kept
        // their changes after such a failure are undone and their callers told.
        self.client.batch_execute("RELEASE job").map_err(|error| {
            self.undo();
            backend(error)
        })
    }

    fn undo(&mut self) {
        let _ = self
            .client
            .batch_execute("ROLLBACK TO SAVEPOINT job; RELEASE job");
        // The people the savepoint's jobs created or changed may be cached as they were.
        if let Some(cache) = &mut self.cache {
            cache.clear();
        }
    }

    fn run<R>(&mut self, pending: &mut AtCommit, job: impl FnOnce(&mut dyn StoreTx) -> R) -> R {
        let mut pg = Pg::for_job(
            self.client,
            self.statements,
            pending,
            self.cache.as_deref_mut(),
        );
        job(&mut pg)
    }

    fn keep(&mut self, pending: AtCommit) {
        self.at_commit.absorb(pending);
    }
}
