//! The writer and the checkpointer under foreground writes that never leave a gap: the write
//! queue is kept full, so the writer always finds foreground jobs waiting. Background work must
//! still be done, and the WAL must still start over from its beginning.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use herald_store::{JobOutcome, Store, StoreHandle, WriteJob};
use herald_store_sqlite::{SqliteOptions, SqliteStore};

/// How long a test waits for what it expects before it fails.
const PATIENCE: Duration = Duration::from_secs(15);

/// Keeps the foreground write queue full until the returned flag is set.
fn flood(store: Arc<SqliteStore>) -> (Arc<AtomicBool>, JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    let thread = std::thread::spawn(move || {
        let mut count = 0_u64;
        while !stopped.load(Ordering::Relaxed) {
            count += 1;
            let job = WriteJob::once(move |tx| {
                let kept = tx.set_setting("foreground", &count.to_string()).is_ok();
                JobOutcome {
                    keep: kept,
                    on_commit: Box::new(|_| {}),
                }
            });
            if store.write_queue().send_blocking(job).is_err() {
                return;
            }
        }
    });
    (stop, thread)
}

fn open(dir: &Path) -> Arc<SqliteStore> {
    let options = SqliteOptions::new(dir.join("herald.db"));
    Arc::new(SqliteStore::open(&options).expect("the store opens"))
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let began = Instant::now();
    while !done() {
        assert!(began.elapsed() < PATIENCE, "{what} within {PATIENCE:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn background_jobs_run_while_the_foreground_never_pauses() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = open(dir.path());
    let handle = StoreHandle::new(store.clone());
    let (stop, flooding) = flood(Arc::clone(&store));
    wait_for("the foreground flood starts", || {
        handle
            .read_blocking(|r| r.setting("foreground"))
            .expect("read")
            .is_some()
    });
    for value in 1..=20 {
        handle
            .submit_blocking(move |tx| tx.set_setting("background", &value.to_string()))
            .expect("queued");
    }
    // Without a gap in the foreground, a background job runs only because the writer lets one
    // ride along when none has run for a while.
    wait_for("every background job commits", || {
        handle
            .read_blocking(|r| r.setting("background"))
            .expect("read")
            .as_deref()
            == Some("20")
    });
    stop.store(true, Ordering::Relaxed);
    flooding.join().expect("the flood ends");
}

/// The WAL header's checkpoint sequence number, which grows each time the WAL starts over.
fn wal_sequence(wal: &Path) -> Option<u32> {
    use std::io::Read;
    let mut header = [0_u8; 16];
    std::fs::File::open(wal)
        .and_then(|mut file| file.read_exact(&mut header))
        .ok()?;
    let field: [u8; 4] = header[12..16].try_into().ok()?;
    Some(u32::from_be_bytes(field))
}

#[test]
fn the_wal_starts_over_while_writes_never_pause() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = open(dir.path());
    let wal = dir.path().join("herald.db-wal");
    let (stop, flooding) = flood(Arc::clone(&store));
    let mut first = None;
    wait_for("the WAL has a header", || {
        first = wal_sequence(&wal);
        first.is_some()
    });
    // The checkpointer restarts the WAL about once a second; under writes that never stop it
    // must still find its moment, after copying what it can without holding the write lock.
    wait_for("the WAL starts over twice", || {
        wal_sequence(&wal).is_some_and(|now| now >= first.unwrap_or(0) + 2)
    });
    stop.store(true, Ordering::Relaxed);
    flooding.join().expect("the flood ends");
}
