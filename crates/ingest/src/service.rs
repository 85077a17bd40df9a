//! The ingest service: validated operations in, committed writes out.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use herald_domain::{Clock, WorkspaceId};
use herald_segment_engine::Input;
use herald_store::{DroppedEvents, LogPosition, StoreError, StoreHandle};

use crate::apply::apply;
use crate::import::{ImportOutcome, ImportStep, check_step, record_step};
use crate::operation::Operation;
use crate::triggers::EventTriggers;

/// What one commit tells the segment engine about a workspace.
#[derive(Debug)]
pub struct Committed {
    pub workspace_id: WorkspaceId,
    pub inputs: Vec<Input>,
    /// The commit's position in the engine log, when the log is kept.
    pub position: Option<i64>,
}

/// Receives, right after each commit and in commit order, what the segment engine must learn
/// of a workspace's committed changes.
pub type Feed = Arc<dyn Fn(Committed) + Send + Sync>;

/// Applies operations to a store at the time its clock gives.
#[derive(Clone)]
pub struct Ingest {
    store: StoreHandle,
    clock: Arc<dyn Clock>,
    feed: Option<Feed>,
    triggers: Option<Arc<dyn EventTriggers>>,
    /// Whether each commit's inputs are also appended to the engine log.
    log: bool,
    /// What was committed, for `/metrics`: made once, so a commit records without looking the
    /// metrics up again.
    recorded: Recorded,
    /// Workspaces deleted by another process (`herald workspace delete`) since this server
    /// started, whose writes are refused: shared by every clone.
    forgotten: Arc<RwLock<HashSet<WorkspaceId>>>,
}

#[derive(Clone)]
struct Recorded {
    operations: metrics::Counter,
    events: metrics::Counter,
    write_seconds: metrics::Histogram,
}

impl std::fmt::Debug for Ingest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest")
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl Ingest {
    /// Creates the service.
    pub fn new(store: StoreHandle, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            feed: None,
            triggers: None,
            log: false,
            recorded: Recorded {
                operations: metrics::counter!("herald_ingest_operations_total"),
                events: metrics::counter!("herald_ingest_events_total"),
                write_seconds: metrics::histogram!("herald_ingest_write_seconds"),
            },
            forgotten: Arc::default(),
        }
    }

    /// Refuses every write of a deleted workspace from now on, including those already queued
    /// for the writer: the check runs inside each job, on the writer's thread, so that none
    /// lands among the rows the deletion removes.
    pub fn forget_workspace(&self, workspace_id: WorkspaceId) {
        if let Ok(mut forgotten) = self.forgotten.write() {
            forgotten.insert(workspace_id);
        }
    }

    /// Appends each commit's inputs to the engine log in the same transaction, so that an
    /// engine restored from an image can catch up from it.
    pub fn with_engine_log(mut self) -> Self {
        self.log = true;
        self
    }

    /// Sends what commits change to `feed` (the segment engine).
    pub fn with_feed(mut self, feed: Feed) -> Self {
        self.feed = Some(feed);
        self
    }

    /// Starts campaign runs for new events inside the same write job as the events.
    pub fn with_triggers(mut self, triggers: Arc<dyn EventTriggers>) -> Self {
        self.triggers = Some(triggers);
        self
    }

    /// Returns the store this service writes to.
    pub fn store(&self) -> &StoreHandle {
        &self.store
    }

    /// Returns the clock this service reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Applies all `operations` for a workspace in one job of the writer's transaction: either
    /// all of them are committed when this returns `Ok`, or none.
    pub async fn submit(
        &self,
        workspace_id: WorkspaceId,
        operations: Vec<Operation>,
    ) -> Result<(), StoreError> {
        self.submit_job(workspace_id, operations, None, || {})
            .await
            .map(|_| ())
    }

    /// Applies one step of an import (`herald import`) in one job, as [`Self::submit`] does,
    /// except that it starts no campaign (its events, its object changes, and the segment
    /// entries and exits they cause: imported history is backfill by definition), and that
    /// it is applied only if the import stands at the step's first line, which it moves to
    /// the step's end in the same commit. `queued` is called once the step is in the writer's
    /// queue, so that the caller may let the import's next step follow it there.
    pub async fn submit_import(
        &self,
        workspace_id: WorkspaceId,
        operations: Vec<Operation>,
        step: ImportStep,
        queued: impl FnOnce() + Send,
    ) -> Result<ImportOutcome, StoreError> {
        self.submit_job(workspace_id, operations, Some(step), queued)
            .await
    }

    /// One step of the retention setting: deletes the workspace's events stamped before
    /// `before` among its activities numbered in `(after_seq, until_seq]`, and tells the segment
    /// engine, in the same commit (its feed, and the engine log when kept), which people lost
    /// events, so that every segment answers over the events kept.
    pub async fn drop_events_before(
        &self,
        workspace_id: WorkspaceId,
        before: herald_domain::UnixSeconds,
        after_seq: i64,
        until_seq: i64,
    ) -> Result<DroppedEvents, StoreError> {
        let feed = self.feed.clone();
        let log = self.log;
        let job = move |tx: &mut dyn herald_store::StoreTx| {
            let dropped = tx.drop_events_before(workspace_id, before, after_seq, until_seq)?;
            let inputs: Vec<Input> = dropped
                .people
                .iter()
                .map(|(person, earliest_event)| Input::Forget {
                    person: person.get(),
                    before,
                    earliest_event: *earliest_event,
                })
                .collect();
            let position = if log && !inputs.is_empty() {
                Some(tx.append_engine_log(
                    workspace_id,
                    &herald_segment_engine::input::encode(&inputs),
                )?)
            } else {
                None
            };
            Ok::<_, StoreError>((dropped, inputs, position))
        };
        let hook =
            move |(_, inputs, position): &mut (DroppedEvents, Vec<Input>, Option<LogPosition>)| {
                if let Some(feed) = feed
                    && !inputs.is_empty()
                {
                    feed(Committed {
                        workspace_id,
                        inputs: std::mem::take(inputs),
                        position: position.as_ref().and_then(LogPosition::get),
                    });
                }
            };
        let (dropped, _, _) = self.store.write_with_hook(job, hook).await??;
        Ok(dropped)
    }

    async fn submit_job(
        &self,
        workspace_id: WorkspaceId,
        operations: Vec<Operation>,
        import: Option<ImportStep>,
        queued: impl FnOnce() + Send,
    ) -> Result<ImportOutcome, StoreError> {
        let now = self.clock.now();
        let operations_count = operations.len() as u64;
        let events_count = operations
            .iter()
            .filter(|operation| {
                matches!(
                    operation,
                    Operation::Track { .. } | Operation::TrackAnonymous { .. }
                )
            })
            .count() as u64;
        let feed = self.feed.clone();
        let log = self.log;
        // An import starts nothing.
        let triggers = self.triggers.clone().filter(|_| import.is_none());
        let hook_triggers = triggers.clone();
        let forgotten = self.forgotten.clone();
        let job = move |tx: &mut dyn herald_store::StoreTx| {
            if forgotten
                .read()
                .is_ok_and(|forgotten| forgotten.contains(&workspace_id))
            {
                return Err(StoreError::WorkspaceDeleted(workspace_id));
            }
            if let Some(step) = &import
                && let Some(outcome) = check_step(tx, workspace_id, step)?
            {
                return Ok((Vec::new(), None, false, outcome));
            }
            let mut inputs = Vec::new();
            let mut events = Vec::new();
            for operation in &operations {
                apply(tx, workspace_id, operation, now, &mut inputs, &mut events)?;
            }
            let started = match &triggers {
                Some(triggers) if !events.is_empty() => {
                    triggers.on_events(tx, workspace_id, &events, now)?
                }
                _ => false,
            };
            if let Some(step) = &import {
                record_step(tx, workspace_id, step)?;
                // The engine stores what imported history changes as built, not live, so
                // that no segment-triggered campaign starts; the log keeps the mark for
                // engines that follow it.
                if !inputs.is_empty() {
                    inputs.insert(0, Input::Backfill);
                }
            }
            let position = if log && !inputs.is_empty() {
                Some(tx.append_engine_log(
                    workspace_id,
                    &herald_segment_engine::input::encode(&inputs),
                )?)
            } else {
                None
            };
            Ok::<_, StoreError>((inputs, position, started, ImportOutcome::Applied))
        };
        // The hook takes the inputs: the caller only needs to know the write committed.
        let hook = move |(inputs, position, started, _): &mut (
            Vec<Input>,
            Option<LogPosition>,
            bool,
            ImportOutcome,
        )| {
            if let Some(feed) = feed
                && !inputs.is_empty()
            {
                feed(Committed {
                    workspace_id,
                    inputs: std::mem::take(inputs),
                    // Known now: the hook runs after the commit.
                    position: position.as_ref().and_then(LogPosition::get),
                });
            }
            if *started && let Some(triggers) = hook_triggers {
                triggers.committed();
            }
        };
        let started = std::time::Instant::now();
        let counts = (operations_count, events_count);
        // The job reads its operations and writes rows only, so the writer may run it again
        // (with its neighbours', when one of them fails).
        let pending = self
            .store
            .queue_write_repeatable_with_hook(job, hook)
            .await?;
        queued();
        let (_, _, _, outcome) = pending.outcome().await??;
        if outcome == ImportOutcome::Applied {
            self.recorded.operations.increment(counts.0);
            self.recorded.events.increment(counts.1);
        }
        self.recorded
            .write_seconds
            .record(started.elapsed().as_secs_f64());
        Ok(outcome)
    }
}
