//! Herald's store on PostgreSQL.
//!
//! The same shape as the embedded SQLite store: one writer thread owns the connection that
//! writes, drains every queued write job into one transaction (group commit), runs each job in
//! a savepoint of its own so one failing job does not undo the others, and tells each job's
//! caller only after `COMMIT` returned. Readers run on a few threads with connections of their
//! own. The queries are the same behaviour over PostgreSQL's SQL, checked by the conformance
//! suite both backends pass.
//!
//! Several nodes may share one database (`PostgresOptions::shared`): the engine log's positions
//! follow commit order across writers, campaign runs are claimed (`claims.rs`), partitions are
//! leased (`leases.rs`), changes are announced (`changes.rs`) and writes take turns
//! (`writer.rs`).

mod activities;
mod analyzer;
mod campaigns;
mod changes;
mod citus;
mod claims;
mod connection;
mod leases;
mod migrations;
mod objects;
mod people;
mod pg;
mod queries;
mod questions;
mod readers;
mod retention;
mod segments;
mod session;
mod workspace_keys;
mod workspace_purge;
mod workspaces;
mod writer;

use std::sync::mpsc as std_mpsc;

use herald_store::group_commit::WriteQueue;
use herald_store::{ReadJob, Store, StoreError, StoreHandle};

/// How to open the store.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// The server and database, as a URL (`postgres://user@host/database`) or libpq's
    /// `key=value` form.
    pub url: String,
    /// The schema Herald's tables live in, created if missing; `None` for the connection's
    /// default (`public`). Lowercase letters, digits and underscores.
    pub schema: Option<String>,
    /// How many reader threads (and read connections) to run.
    pub readers: usize,
    /// The most write jobs one transaction takes.
    pub max_batch: usize,
    /// Whether this process is a server node, which is the only one on its schema unless
    /// `shared`. Commands (`herald workspace`, …) are not.
    pub node: bool,
    /// Whether several server nodes share the schema (`herald serve --cluster`): no node takes
    /// the schema's server lock, and the writer keeps no cache of people and suppressions,
    /// which other nodes' writers change.
    pub shared: bool,
    /// Whether each write transaction waits for its turn among the writers on the database
    /// (`writer.rs`); `None` for the rule: servers in cluster mode and commands do, a server
    /// alone does not need to. The engine log's test turns it off, so as to check that the
    /// log keeps commit order without it.
    pub write_turns: Option<bool>,
}

impl PostgresOptions {
    /// Options with the defaults for the database at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: None,
            readers: 3,
            max_batch: 2048,
            node: false,
            shared: false,
            write_turns: None,
        }
    }
}

/// The PostgreSQL store. Dropping it lets the writer finish the queued jobs and stop.
pub struct PostgresStore {
    write_queue: WriteQueue,
    read_queue: std_mpsc::Sender<ReadJob>,
    /// For the connections of pinned reads.
    options: PostgresOptions,
    /// Whether the database is a Citus coordinator (`citus.rs`).
    citus: bool,
    /// Dropping this stops the analyzer thread (servers only).
    _analyzer: Option<std_mpsc::Sender<()>>,
    /// This process's claims on campaign runs; its thread connects when first asked.
    claims: std::sync::Arc<dyn herald_store::RunClaims>,
    /// What other nodes changed, heard on a connection opened at the first subscription.
    changes: std::sync::OnceLock<changes::Changes>,
    /// The leases on the engine's partitions; its thread connects when first asked.
    leases: std::sync::Arc<leases::PgLeases>,
}

impl PostgresStore {
    /// Connects, applies pending migrations and starts the writer and reader threads.
    pub fn open(options: &PostgresOptions) -> Result<Self, StoreError> {
        // The synchronous client runs a small runtime of its own for each connection, which
        // cannot start inside another runtime's thread: connections are opened on a thread of
        // their own, wherever `open` is called from.
        let options = options.clone();
        std::thread::scope(|scope| {
            scope
                .spawn(|| Self::open_here(options.clone()))
                .join()
                .unwrap_or_else(|_| Err(StoreError::Panicked("opening the store".into())))
        })
    }

    fn open_here(options: PostgresOptions) -> Result<Self, StoreError> {
        let mut write_client = connection::connect(&options)?;
        migrations::apply(&mut write_client, options.schema.as_deref())?;
        let citus = citus::present(&mut write_client)?;
        if citus {
            citus::one_connection_per_worker(&mut write_client)?;
        }
        if options.node && !options.shared {
            migrations::claim_node(&mut write_client, options.schema.as_deref())?;
        }
        // Servers in cluster mode take turns to write, and so do commands (`herald workspace
        // create` beside them), which cannot know whether the servers do.
        let turns = options
            .write_turns
            .unwrap_or(options.shared || !options.node);
        let write_queue = writer::spawn(write_client, options.max_batch, options.shared, turns)?;
        let mut read_clients = Vec::with_capacity(options.readers.max(1));
        for _ in 0..options.readers.max(1) {
            read_clients.push(connection::connect(&options)?);
        }
        let read_queue = readers::spawn(read_clients)?;
        // On Citus the rows live on the workers, whose own autovacuum keeps each shard's
        // statistics, and which plan each statement they are sent afresh: the coordinator's
        // tables never change, and the analyzer would have nothing to do.
        let analyzer = if options.node && !citus {
            Some(analyzer::spawn(&options)?)
        } else {
            None
        };
        // A server alone on its schema (it holds the schema's lock) needs no claims beyond its
        // dispatcher's own set, and spares a round trip per look at the queue and per run.
        let claims: std::sync::Arc<dyn herald_store::RunClaims> = if options.node && !options.shared
        {
            std::sync::Arc::new(herald_store::LocalClaims)
        } else {
            std::sync::Arc::new(claims::PgClaims::spawn(&options)?)
        };
        let leases = std::sync::Arc::new(leases::PgLeases::spawn(&options)?);
        Ok(Self {
            write_queue,
            read_queue,
            options,
            citus,
            _analyzer: analyzer,
            claims,
            changes: std::sync::OnceLock::new(),
            leases,
        })
    }

    /// Opens the store and wraps it in a [`StoreHandle`].
    pub fn open_handle(options: &PostgresOptions) -> Result<StoreHandle, StoreError> {
        Ok(StoreHandle::new(std::sync::Arc::new(Self::open(options)?)))
    }
}

impl Store for PostgresStore {
    fn write_queue(&self) -> &WriteQueue {
        &self.write_queue
    }

    fn submit_read(&self, job: ReadJob) -> Result<(), StoreError> {
        self.read_queue.send(job).map_err(|_| StoreError::Closed)
    }

    fn pin_read(&self, job: ReadJob) -> Result<(), StoreError> {
        readers::pin(&self.options, self.citus, job)
    }

    fn run_claims(&self) -> std::sync::Arc<dyn herald_store::RunClaims> {
        self.claims.clone()
    }

    fn partition_leases(&self) -> std::sync::Arc<dyn herald_store::PartitionLeases> {
        self.leases.clone()
    }

    fn subscribe_changes(
        &self,
    ) -> Option<tokio::sync::broadcast::Receiver<herald_store::StoreChange>> {
        if let Some(changes) = self.changes.get() {
            return Some(changes.subscribe());
        }
        match changes::Changes::spawn(&self.options) {
            Ok(changes) => {
                // Two first subscriptions at once start two listeners; the one not kept stops.
                let _ = self.changes.set(changes);
                self.changes.get().map(changes::Changes::subscribe)
            }
            Err(error) => {
                tracing::error!(error = %error, "cannot listen for changes made by other nodes");
                None
            }
        }
    }
}

#[doc(hidden)]
pub mod test_database;

#[cfg(test)]
mod claims_tests;

#[cfg(test)]
mod engine_log_tests;

#[cfg(test)]
mod leases_tests;

#[cfg(test)]
mod questions_tests;

#[cfg(test)]
mod conformance_tests {
    fn make_store() -> (herald_store::StoreHandle, crate::test_database::TestSchema) {
        let schema = crate::test_database::TestSchema::new();
        let store = crate::PostgresStore::open_handle(&schema.options()).expect("the store opens");
        (store, schema)
    }

    herald_store::store_conformance_tests!(make_store());
}
