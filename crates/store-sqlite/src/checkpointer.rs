//! WAL checkpoints on a thread of their own.
//!
//! SQLite normally checkpoints inside the `COMMIT` that pushes the WAL past its limit, which puts
//! the copy (and its fsync) on the writer's critical path: measured, it was a fifth of the
//! writer's time and the cause of the ingest p99 tail (docs/benchmarks.md). The writer turns
//! automatic checkpoints off and this thread runs them instead: a passive one often, which
//! never blocks anyone, and now and then a `RESTART`, which waits for a quiet moment and lets the
//! WAL start over from its beginning so that it does not grow without bound.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use herald_store::StoreError;

use crate::connection::{Synchronous, open};

const PASSIVE_EVERY: Duration = Duration::from_millis(50);
/// How many passive checkpoints between two restarting ones.
const RESTART_EVERY: u32 = 20;

/// Starts the checkpointer. It stops when the returned sender is dropped.
pub(crate) fn spawn(path: &Path, synchronous: Synchronous) -> Result<mpsc::Sender<()>, StoreError> {
    let connection = open(path, synchronous, false)?;
    // A restart waits for the writer's current transaction; it must not wait long.
    connection
        .busy_timeout(Duration::from_millis(200))
        .map_err(crate::queries::backend)?;
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("herald-sqlite-checkpointer".into())
        .spawn(move || {
            let mut rounds = 0_u32;
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(PASSIVE_EVERY) {
                rounds = rounds.wrapping_add(1);
                let mode = if rounds.is_multiple_of(RESTART_EVERY) {
                    "RESTART"
                } else {
                    "PASSIVE"
                };
                if let Err(error) =
                    connection.execute_batch(&format!("PRAGMA wal_checkpoint({mode});"))
                {
                    tracing::debug!(error = %error, mode, "checkpoint skipped");
                }
            }
        })
        .map_err(|error| StoreError::Backend(format!("cannot start the checkpointer: {error}")))?;
    Ok(stop)
}
