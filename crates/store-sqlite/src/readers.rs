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
