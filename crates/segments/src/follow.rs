//! Following the store, for an engine that several nodes' writes reach (issue 15).
//!
//! A node whose engine follows the store takes every input from the engine log, which every
//! node's ingest appends to in the same transaction as its writes, instead of from its own
//! commits' hooks: the log's positions follow commit order across every writer, with no gap
//! (`herald-store-postgres`'s `flush_log`), so reading the entries after the last one applied,
//! again and again, applies every commit's inputs once, in commit order, whoever made them.
//! It learns of segments created, edited and deleted on other nodes from the store's change
//! notifications, reading each changed row afresh.
//!
//! Two threads feed the runner's queue: `log` reads the log after the position the load ended
//! at, and `catalog` turns change notifications into the segments' current rows.

use std::sync::{Arc, mpsc};
use std::time::Duration;

use herald_domain::Clock;
use herald_store::{SegmentRow, StoreChange, StoreError, StoreHandle};
use tokio::sync::broadcast::error::RecvError;

use crate::questions::{Answer, Asked};
use crate::runner::Command;

/// How a node whose engine follows the store takes part in the partitions' leases.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// The node's name in the leases, unique among the nodes on the store.
    pub node: String,
    /// How often the node renews its leases: well within `herald_store::LEASE_SECONDS`.
    pub renew_every: Duration,
    /// Whether the engine holds only the people of the partitions this node owns, loading a
    /// partition's people from the store when it gains it and dropping them when it loses it,
    /// rather than every person; a read about everyone asks the other nodes' engines too
    /// (`questions`). Off unless asked for: its costs at scale are not measured.
    pub own_partitions_only: bool,
}

/// How often the log is read when nothing asked for it sooner.
const POLL: Duration = Duration::from_millis(20);
/// The most entries one read hands over, so that the runner's queue stays short.
const BATCH: usize = 512;

/// Reads the engine log after `from`, for ever, handing each entry to the runner; a message on
/// `wake` makes it read at once (a query waits for the log's end).
pub(crate) fn spawn_log(
    store: StoreHandle,
    runner: mpsc::Sender<Command>,
    from: i64,
    wake: mpsc::Receiver<()>,
) {
    let spawned = std::thread::Builder::new()
        .name("herald-segments-log".into())
        .spawn(move || {
            let mut last = from;
            loop {
                let entries = store.read_blocking(move |r| {
                    let mut entries = Vec::new();
                    r.engine_log_after(last, &mut |position, workspace_id, inputs| {
                        entries.push((position, workspace_id, inputs));
                        entries.len() < BATCH
                    })?;
                    Ok(entries)
                });
                let entries = match entries {
                    Ok(entries) => entries,
                    Err(StoreError::Closed) => return,
                    Err(error) => {
                        tracing::error!(error = %error, "cannot read the engine log; retrying");
                        Vec::new()
                    }
                };
                let full = entries.len() == BATCH;
                for (position, workspace_id, inputs) in entries {
                    last = position;
                    if runner
                        .send(Command::Logged(position, workspace_id, inputs))
                        .is_err()
                    {
                        return;
                    }
                }
                if !full {
                    match wake.recv_timeout(POLL) {
                        Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                }
            }
        });
    if let Err(error) = spawned {
        tracing::error!(error = %error, "cannot start following the engine log");
    }
}

/// Hands the runner each segment another node created, edited or deleted, as stored now
/// (`None`: deleted), and every segment after a resync.
pub(crate) fn spawn_catalog(store: StoreHandle, runner: mpsc::Sender<Command>) {
    let Some(mut changes) = store.subscribe_changes() else {
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("herald-segments-catalog".into())
        .spawn(move || {
            loop {
                let change = match changes.blocking_recv() {
                    Ok(change) => change,
                    Err(RecvError::Lagged(_)) => StoreChange::Resync,
                    Err(RecvError::Closed) => return,
                };
                let command = match change {
                    StoreChange::Segment { workspace_id, id } => store
                        .read_blocking(move |r| r.segment(workspace_id, id))
                        .map(|row| Command::Catalog(workspace_id, id, row.map(Box::new), true)),
                    StoreChange::Resync => store.read_blocking(all_segments).map(Command::CatalogAll),
                    StoreChange::Campaign { .. }
                    | StoreChange::Question { .. }
                    | StoreChange::Answer { .. } => continue,
                };
                match command {
                    Ok(command) => {
                        if runner.send(command).is_err() {
                            return;
                        }
                    }
                    Err(StoreError::Closed) => return,
                    Err(error) => {
                        tracing::error!(error = %error, "cannot read a segment another node changed; it is read again at the next resync");
                    }
                }
            }
        });
    if let Err(error) = spawned {
        tracing::error!(error = %error, "cannot start following segment changes");
    }
}

/// Answers, for the people this node's engine holds, the questions other nodes ask of every
/// engine (`questions`), once the engine holds the log up to where each was asked.
pub(crate) fn spawn_questions(store: StoreHandle, runner: mpsc::Sender<Command>, node: String) {
    let Some(mut changes) = store.subscribe_changes() else {
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("herald-segments-questions".into())
        .spawn(move || {
            loop {
                let id = match changes.blocking_recv() {
                    Ok(StoreChange::Question { id }) => id,
                    Ok(_) | Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                };
                let asked = match store.read_blocking(move |r| r.engine_question(id)) {
                    Ok(Some((asker, _))) if asker == node => continue,
                    Ok(Some((_, body))) => serde_json::from_slice::<Asked>(&body),
                    // Forgotten already: its asker gave up on it.
                    Ok(None) => continue,
                    Err(StoreError::Closed) => return,
                    Err(error) => {
                        tracing::error!(error = %error, "cannot read a question another node asked; it goes unanswered");
                        continue;
                    }
                };
                let Ok(asked) = asked else {
                    tracing::error!(question = id, "a question another node asked cannot be decoded; it goes unanswered");
                    continue;
                };
                // The segment asked about as stored now, built first if the engine does not
                // hold it so yet: its notice may come after the question.
                if let Some((workspace_id, segment)) = asked.question.segment() {
                    match store.read_blocking(move |r| r.segment(workspace_id, segment)) {
                        Ok(row) => {
                            let known = Command::Catalog(workspace_id, segment, row.map(Box::new), false);
                            if runner.send(known).is_err() {
                                return;
                            }
                        }
                        Err(StoreError::Closed) => return,
                        Err(error) => {
                            tracing::error!(error = %error, "cannot read the segment another node asked about; answering with what the engine holds");
                        }
                    }
                }
                let node = node.clone();
                let answer: crate::runner::Query = Box::new(move |view| {
                    let reply = asked.question.reply(view);
                    let answer = Answer {
                        partitions: view.held_partitions.iter().collect(),
                        reply,
                    };
                    let Ok(body) = serde_json::to_vec(&answer) else {
                        return;
                    };
                    let _ = view
                        .store
                        .submit_blocking(move |tx| tx.answer_engines(id, &node, &body));
                });
                if runner
                    .send(Command::QueryAfter(asked.position, answer))
                    .is_err()
                {
                    return;
                }
            }
        });
    if let Err(error) = spawned {
        tracing::error!(error = %error, "cannot start answering other nodes' questions");
    }
}

/// Every stored segment of every workspace.
fn all_segments(reader: &mut dyn herald_store::StoreRead) -> Result<Vec<SegmentRow>, StoreError> {
    let mut rows = Vec::new();
    for workspace in reader.workspaces()? {
        rows.extend(reader.segments(workspace.id)?);
    }
    Ok(rows)
}

/// Renews the node's leases every `options.renew_every` (and at once on a message on `now`: the
/// dev clock moved), on the injected clock's time, and hands the runner what it owns after each
/// renewal.
pub(crate) fn spawn_leases(
    store: StoreHandle,
    runner: mpsc::Sender<Command>,
    clock: Arc<dyn Clock>,
    options: FollowOptions,
    now: mpsc::Receiver<()>,
    stopped: Arc<std::sync::atomic::AtomicBool>,
    held: crate::held::HeldNow,
) {
    let spawned = std::thread::Builder::new()
        .name("herald-segments-leases".into())
        .spawn(move || {
            let leases = store.partition_leases();
            loop {
                if stopped.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                match leases
                    .renew(&options.node, clock.now(), held.get())
                    .blocking_recv()
                {
                    Ok(Ok(ownership)) => {
                        if runner.send(Command::Owned(ownership)).is_err() {
                            return;
                        }
                    }
                    // Not renewed: what this node holds runs out at its time, and the runner
                    // stops storing for it then.
                    Ok(Err(error)) => {
                        tracing::error!(error = %error, "cannot renew this node's partition leases");
                    }
                    Err(_) => return,
                }
                match now.recv_timeout(options.renew_every) {
                    Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
        });
    if let Err(error) = spawned {
        tracing::error!(error = %error, "cannot start renewing partition leases");
    }
}
