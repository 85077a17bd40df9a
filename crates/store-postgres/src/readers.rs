//! Reader threads, each owning one connection and taking jobs from a shared queue, and pinned
//! reads on a connection of their own.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use herald_store::{ReadJob, StoreError};
use postgres::Client;

use crate::PostgresOptions;
use crate::pg::{Pg, Statements, backend};

pub(crate) fn spawn(clients: Vec<Client>) -> Result<mpsc::Sender<ReadJob>, StoreError> {
    let (sender, receiver) = mpsc::channel::<ReadJob>();
    let receiver = Arc::new(Mutex::new(receiver));
    for (number, client) in clients.into_iter().enumerate() {
        let receiver = Arc::clone(&receiver);
        std::thread::Builder::new()
            .name(format!("herald-postgres-reader-{number}"))
            .spawn(move || reader_loop(client, &receiver))
            .map_err(|error| {
                StoreError::Backend(format!("cannot start a reader thread: {error}"))
            })?;
    }
    Ok(sender)
}

fn reader_loop(mut client: Client, receiver: &Mutex<mpsc::Receiver<ReadJob>>) {
    let mut statements = Statements::default();
    loop {
        // The lock is held only while waiting for the next job, never while running one.
        let next = match receiver.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        let Ok(job) = next else { return };
        let mut pg = Pg::new(&mut client, &mut statements);
        // A panicking job must not take the reader down with it; its caller sees a closed reply.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut pg)));
    }
}

/// Opens a connection of its own on a new thread, begins a repeatable-read transaction on it
/// and reads once, which fixes its snapshot to what is committed now, and returns only then;
/// the thread then runs `job` on that snapshot. Called inside a write job, the snapshot holds
/// every transaction committed before and none after, since there is one writer.
///
/// On Citus each worker's part of the transaction takes its snapshot at its first statement,
/// not the coordinator's: the pin uses one connection per worker and reads a table on every
/// shard before it returns, so that every worker's snapshot is fixed then too.
pub(crate) fn pin(options: &PostgresOptions, citus: bool, job: ReadJob) -> Result<(), StoreError> {
    let options = options.clone();
    let (pinned, is_pinned) = mpsc::channel::<Result<(), StoreError>>();
    std::thread::Builder::new()
        .name("herald-postgres-pinned-reader".into())
        .spawn(move || {
            let opened = crate::connection::connect(&options).and_then(|mut client| {
                client
                    .batch_execute(
                        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
                         SELECT count(*) FROM workspaces",
                    )
                    .map_err(backend)?;
                if citus {
                    // The data index is the smallest table on every shard.
                    client
                        .batch_execute(
                            "SET LOCAL citus.max_adaptive_executor_pool_size = 1;
                             SELECT count(*) FROM event_index",
                        )
                        .map_err(backend)?;
                }
                Ok(client)
            });
            let mut client = match opened {
                Ok(client) => {
                    let _ = pinned.send(Ok(()));
                    client
                }
                Err(error) => {
                    let _ = pinned.send(Err(error));
                    return;
                }
            };
            let mut statements = Statements::default();
            let mut pg = Pg::new(&mut client, &mut statements);
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut pg)));
            let _ = client.batch_execute("COMMIT");
        })
        .map_err(|error| StoreError::Backend(format!("cannot start a reader thread: {error}")))?;
    is_pinned.recv().map_err(|_| StoreError::Closed)?
}
