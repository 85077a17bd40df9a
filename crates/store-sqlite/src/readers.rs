//! Reader threads, each owning one read-only connection and taking jobs from a shared queue.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use herald_store::{ReadJob, StoreError};
use rusqlite::Connection;

use crate::queries::Queries;

pub(crate) fn spawn(connections: Vec<Connection>) -> Result<mpsc::Sender<ReadJob>, StoreError> {
    let (sender, receiver) = mpsc::channel::<ReadJob>();
    let receiver = Arc::new(Mutex::new(receiver));
    for (number, connection) in connections.into_iter().enumerate() {
        let receiver = Arc::clone(&receiver);
        std::thread::Builder::new()
            .name(format!("herald-sqlite-reader-{number}"))
            .spawn(move || reader_loop(connection, &receiver))
            .map_err(|error| {
                StoreError::Backend(format!("cannot start a reader thread: {error}"))
            })?;
    }
    Ok(sender)
}

fn reader_loop(connection: Connection, receiver: &Mutex<mpsc::Receiver<ReadJob>>) {
    loop {
        // The lock is held only while waiting for the next job, never while running one.
        let next = match receiver.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        let Ok(job) = next else { return };
        let mut queries = Queries::new(&connection);
        // A panicking job must not take the reader down with it; its caller sees a closed reply.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut queries)));
    }
}

/// Opens a connection of its own, begins a read transaction on it and reads once, which pins the
/// transaction's snapshot to what is committed now (in WAL mode a read transaction sees the
/// database as of its first read), then runs `job` on it on a new thread. The pinned snapshot
/// keeps checkpoints from copying past it while the job runs, so the WAL grows meanwhile; the
/// checkpointer only restarts the WAL once everything is copied, so it never waits for it.
pub(crate) fn pin(
    path: &std::path::Path,
    synchronous: crate::Synchronous,
    job: ReadJob,
) -> Result<(), StoreError> {
    let connection = crate::connection::open(path, synchronous, true)?;
    connection
        .execute_batch("BEGIN DEFERRED")
        .map_err(crate::queries::backend)?;
    connection
        .query_row("SELECT count(*) FROM workspaces", [], |row| {
            row.get::<_, i64>(0)
        })
        .map_err(crate::queries::backend)?;
    std::thread::Builder::new()
        .name("herald-sqlite-pinned-reader".into())
        .spawn(move || {
            let mut queries = Queries::new(&connection);
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut queries)));
            let _ = connection.execute_batch("COMMIT");
        })
        .map_err(|error| StoreError::Backend(format!("cannot start a reader thread: {error}")))?;
    Ok(())
}
