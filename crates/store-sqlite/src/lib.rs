//! Herald's embedded store on SQLite.
//!
//! One writer thread owns the only read-write connection. It drains every queued write job into
//! one `BEGIN IMMEDIATE … COMMIT` (group commit), runs its jobs in savepoints so that one
//! failing job does not undo the others (`herald_store::savepoints`), and tells each job's caller only after `COMMIT`
//! returned: an acknowledged write is on disk. Readers run on a few threads with their own
//! read-only connections; WAL lets them read while the writer writes.

mod activity_blocks;
mod backfills;
mod backup;
mod checkpointer;
mod connection;
mod doctor;
mod histories;
mod index_buffer;
mod migrations;
mod objects;
mod people_pages;
mod person_index;
#[cfg(test)]
mod person_index_tests;
mod queries;
mod readers;
mod retention;
mod runs;
mod tx;
mod users;
mod workspace_keys;
mod workspace_purge;
mod writer;

use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;

use herald_store::{ReadJob, Store, StoreError, StoreHandle};

pub use connection::Synchronous;
pub use workspace_purge::REMOVED_WORKSPACE_ID;

/// How to open the store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The database file; its folder must exist.
    pub path: PathBuf,
    pub synchronous: Synchronous,
    /// How many reader threads (and read connections) to run.
    pub readers: usize,
    /// The most write jobs one transaction takes.
    pub max_batch: usize,
}

impl SqliteOptions {
    /// Options with the defaults for a database file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            synchronous: Synchronous::Normal,
            readers: 3,
            max_batch: 2048,
        }
    }
}

/// The SQLite store. Dropping it lets the writer finish the queued jobs and stop.
pub struct SqliteStore {
    write_queue: herald_store::group_commit::WriteQueue,
    read_queue: std_mpsc::Sender<ReadJob>,
    /// The database file, for the connections of pinned reads.
    path: PathBuf,
    synchronous: Synchronous,
    /// Dropping this stops the checkpointer thread.
    _checkpointer: std_mpsc::Sender<()>,
}

pub use backup::{BackupError, BackupReport, backup};

impl SqliteStore {
    /// Opens (creating if needed) the database, applies pending migrations and starts the writer
    /// and reader threads.
    pub fn open(options: &SqliteOptions) -> Result<Self, StoreError> {
        let mut write_connection = connection::open(&options.path, options.synchronous, false)?;
        migrations::apply(&mut write_connection)?;
        let write_queue = writer::spawn(write_connection, options.max_batch)?;
        let mut read_connections = Vec::with_capacity(options.readers.max(1));
        for _ in 0..options.readers.max(1) {
            read_connections.push(connection::open(&options.path, options.synchronous, true)?);
        }
        let read_queue = readers::spawn(read_connections)?;
        let checkpointer = checkpointer::spawn(&options.path, options.synchronous)?;
        Ok(Self {
            write_queue,
            read_queue,
            path: options.path.clone(),
            synchronous: options.synchronous,
            _checkpointer: checkpointer,
        })
    }

    /// Opens the store and wraps it in a [`StoreHandle`].
    pub fn open_handle(options: &SqliteOptions) -> Result<StoreHandle, StoreError> {
        Ok(StoreHandle::new(std::sync::Arc::new(Self::open(options)?)))
    }
}

impl Store for SqliteStore {
    fn write_queue(&self) -> &herald_store::group_commit::WriteQueue {
        &self.write_queue
    }

    fn submit_read(&self, job: ReadJob) -> Result<(), StoreError> {
        self.read_queue.send(job).map_err(|_| StoreError::Closed)
    }

    fn pin_read(&self, job: ReadJob) -> Result<(), StoreError> {
        readers::pin(&self.path, self.synchronous, job)
    }
}

#[cfg(test)]
mod conformance_tests {
    fn make_store() -> (herald_store::StoreHandle, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let options = crate::SqliteOptions::new(dir.path().join("herald.db"));
        let store = crate::SqliteStore::open_handle(&options).expect("the store opens");
        (store, dir)
    }

    herald_store::store_conformance_tests!(make_store());
}
