//! WAL checkpoints on a thread of their own.
//!
//! SQLite normally checkpoints inside the `COMMIT` that pushes the WAL past its limit, which puts
//! the copy (and its fsync) on the writer's critical path: measured, it was a fifth of the
//! writer's time and the cause of the ingest p99 tail (docs/benchmarks.md). The writer turns
//! automatic checkpoints off and this thread runs them instead: a passive one often, which
//! never blocks anyone, and now and then a `RESTART`, which lets the WAL start over from its
//! beginning so that it does not grow without bound.
//!
//! A `RESTART` holds the write lock while it copies whatever the WAL holds that the database
//! file does not, and syncs both files: every write waits for it. So it runs only after the
//! checkpointer has synced the files and copied, without any lock, nearly all of it
//! (`catch_up`). Run on a timer instead, it found up to a second of copies to sync and held
//! ingest up for 4–6 ms, and for 20–85 ms while a storm of segment changes was being written
//! (docs/benchmarks.md, the deadline storm).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use herald_store::StoreError;

use crate::connection::{Synchronous, open};

const PASSIVE_EVERY: Duration = Duration::from_millis(50);
/// How many passive checkpoints between two restarting ones.
const RESTART_EVERY: u32 = 20;
/// A restart goes ahead once a passive checkpoint found at most this many new frames (1 MiB)...
const CAUGHT_UP_FRAMES: i64 = 256;
/// ...or after this many rounds of syncing and copying, while a storm of writes goes on.
const CATCH_UP_ROUNDS: usize = 4;

/// Starts the checkpointer. It stops when the returned sender is dropped.
pub(crate) fn spawn(path: &Path, synchronous: Synchronous) -> Result<mpsc::Sender<()>, StoreError> {
    let connection = open(path, synchronous, false)?;
    // A restart first waits for a gap between the writer's transactions, then, holding the
    // write lock, for readers still on the old WAL; it gives up soon and tries again later.
    connection
        .busy_handler(Some(wait_briefly))
        .map_err(crate::queries::backend)?;
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let files = [path.to_path_buf(), PathBuf::from(wal)];
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("herald-sqlite-checkpointer".into())
        .spawn(move || {
            let mut rounds = 0_u32;
            let mut restart_due = false;
            // For /metrics: the WAL's size once a second, and how long each `RESTART` (the
            // checkpoint that holds the write lock) took.
            let wal_bytes = metrics::gauge!("herald_sqlite_wal_bytes");
            let restart_seconds = metrics::histogram!("herald_sqlite_checkpoint_seconds");
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(PASSIVE_EVERY) {
                rounds = rounds.wrapping_add(1);
                restart_due |= rounds.is_multiple_of(RESTART_EVERY);
                if rounds.is_multiple_of(RESTART_EVERY)
                    && let Ok(metadata) = std::fs::metadata(&files[1])
                {
                    wal_bytes.set(metadata.len() as f64);
                }
                let passive = checkpoint(&connection, "PASSIVE");
                if restart_due
                    && passive.is_some_and(|passive| catch_up(&connection, &files, &passive))
                {
                    let began = std::time::Instant::now();
                    restart_due = !checkpoint(&connection, "RESTART")
                        .is_some_and(|restart| restart.caught_up());
                    restart_seconds.record(began.elapsed().as_secs_f64());
                }
            }
        })
        .map_err(|error| StoreError::Backend(format!("cannot start the checkpointer: {error}")))?;
    Ok(stop)
}

/// Readies a `RESTART` after a passive checkpoint: syncs the files and copies what was committed
/// meanwhile, without any lock, until a copy finds little (or a few rounds passed), so that what
/// the restart copies and syncs holding the write lock is that little. Returns false when a
/// passive checkpoint could not finish, and the restart should wait for a later round.
fn catch_up(connection: &rusqlite::Connection, files: &[PathBuf], passive: &Checkpoint) -> bool {
    if !passive.caught_up() {
        return false;
    }
    let mut copied = passive.copied;
    for _ in 0..CATCH_UP_ROUNDS {
        sync_files(files);
        let Some(next) = checkpoint(connection, "PASSIVE") else {
            return false;
        };
        if !next.caught_up() {
            return false;
        }
        // The count falls when the writer started the WAL over meanwhile; that copied little.
        let little = next.copied - copied <= CAUGHT_UP_FRAMES;
        copied = next.copied;
        if little {
            break;
        }
    }
    true
}

/// Flushes the database file's and the WAL's written pages to the disk without holding any
/// lock. A checkpoint syncs the WAL before it copies from it and the database file after, but a
/// passive one skips the second sync whenever a commit lands while it copies, which under
/// steady writes is always; so the `RESTART`, holding the write lock, used to sync a second of
/// copied pages, and every write waited for it (58 ms while a storm of segment changes was
/// written). Synced here first, the restart's own syncs find only what it copies itself.
fn sync_files(files: &[PathBuf]) {
    for path in files {
        let synced = std::fs::File::open(path).and_then(|file| file.sync_data());
        if let Err(error) = synced {
            tracing::debug!(error = %error, path = %path.display(), "cannot sync ahead of a restart");
        }
    }
}

/// What `PRAGMA wal_checkpoint` reports.
struct Checkpoint {
    /// The checkpoint could not take a lock it needed and did less than asked.
    busy: bool,
    /// Frames in the WAL.
    frames: i64,
    /// Frames of the WAL now in the database file.
    copied: i64,
}

impl Checkpoint {
    /// Everything the WAL held when the checkpoint began is in the database file.
    fn caught_up(&self) -> bool {
        !self.busy && self.copied == self.frames
    }
}

fn checkpoint(connection: &rusqlite::Connection, mode: &str) -> Option<Checkpoint> {
    let sql = format!("PRAGMA wal_checkpoint({mode})");
    let result = connection.query_row(&sql, [], |row| {
        Ok(Checkpoint {
            busy: row.get::<_, i64>(0)? != 0,
            frames: row.get(1)?,
            copied: row.get(2)?,
        })
    });
    match result {
        Ok(checkpoint) => Some(checkpoint),
        Err(error) => {
            tracing::debug!(error = %error, mode, "checkpoint skipped");
            None
        }
    }
}

/// The checkpointer's busy handler: polls every 100 µs for up to 20 ms. The writer's
/// transactions last a millisecond or two, so a gap comes soon; and while a restart holds the
/// write lock waiting for a reader, every write waits too, so it must not wait long.
fn wait_briefly(attempts: i32) -> bool {
    if attempts >= 200 {
        return false;
    }
    std::thread::sleep(Duration::from_micros(100));
    true
}
