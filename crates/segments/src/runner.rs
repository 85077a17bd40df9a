//! The runner thread.

use std::collections::{BTreeSet, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use herald_domain::{Clock, panic_message};
use herald_segment_engine::{Change, Definition, Engine, Input, Origin, PersonHistory, PersonId};
use herald_store::{SegmentRow, StoreError, StoreHandle};
use tokio::sync::oneshot;

use crate::SegmentsError;
use crate::cause::to_row;
use crate::handle::RunnerView;
use crate::load::histories;
use crate::triggers::MembershipTriggers;

/// How many people's deadlines one batch applies before the runner looks at its queue again,
/// so that a storm of deadlines (midnight) never holds up live inputs for long. Measured, 2,000
/// people took 3.6–3.9 ms (docs/benchmarks.md); 250 keeps an input's wait near half a
/// millisecond while a million deadlines still drain in a few seconds.
const DEADLINE_BATCH: usize = 250;
/// How many membership changes one background write job stores at most. The writer runs a
/// background job between foreground transactions, so this bounds how long an ingest request
/// that arrives meanwhile waits for it: about 150 µs (store-sqlite's writer.rs).
const PERSIST_CHUNK: usize = 64;
/// How often the runner wakes to look for due deadlines when nothing else happens.
const TICK: Duration = Duration::from_millis(100);

type Query = Box<dyn FnOnce(&mut RunnerView<'_>) + Send>;

pub(crate) enum Command {
    Inputs(i64, Vec<Input>),
    Build(SegmentRow, Option<Definition>),
    /// The snapshot a build reads, taken inside the writer so that it is ordered exactly
    /// against the inputs of the commits around it.
    BuildSnapshot(
        SegmentRow,
        Option<Definition>,
        Result<Vec<(PersonId, PersonHistory)>, StoreError>,
    ),
    Remove(i64, i64),
    Query(Query),
    Manual {
        workspace_id: i64,
        segment_id: i64,
        people: Vec<i64>,
        add: bool,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Sync(oneshot::Sender<()>),
}

pub(crate) struct Runner {
    store: StoreHandle,
    clock: Arc<dyn Clock>,
    engines: HashMap<i64, Engine>,
    /// Lets a build's snapshot come back through the queue.
    sender: mpsc::Sender<Command>,
    triggers: Option<Arc<dyn MembershipTriggers>>,
}

impl Runner {
    pub(crate) fn new(
        store: StoreHandle,
        clock: Arc<dyn Clock>,
        sender: mpsc::Sender<Command>,
        triggers: Option<Arc<dyn MembershipTriggers>>,
    ) -> Self {
        Self {
            store,
            clock,
            engines: HashMap::new(),
            sender,
            triggers,
        }
    }

    /// Loads every workspace, then stores what differs from the stored memberships: changes
    /// that happened while the server was down (deadlines passed, builds interrupted).
    pub(crate) fn load_all(&mut self) -> Result<(), SegmentsError> {
        let now = self.clock.now();
        let workspaces = self.store.read_blocking(|reader| reader.workspaces())?;
        for workspace in workspaces {
            let workspace_id = workspace.id;
            let (segments, people, stored) = self.store.read_blocking(move |reader| {
                let segments = reader.segments(workspace_id)?;
                let mut names = BTreeSet::new();
                for segment in &segments {
                    if let Some(definition) = parse_stored(segment) {
                        names.extend(definition.event_names());
                    }
                }
                Ok((
                    segments,
                    histories(reader, workspace_id, Some(&names))?,
                    reader.segment_members(workspace_id)?,
                ))
            })?;
            let mut engine = Engine::new();
            let mut unfinished = Vec::new();
            for segment in &segments {
                let definition = parse_stored(segment);
                engine.set_segment(segment.id, definition, Vec::new(), now);
                if segment.state != "finished" {
                    unfinished.push(segment.clone());
                }
            }
            let stored: BTreeSet<(i64, i64)> = stored.into_iter().collect();
            let manual: BTreeSet<i64> = segments
                .iter()
                .filter(|s| s.definition.is_none())
                .map(|s| s.id)
                .collect();
            // Manual memberships live only in the store; they are put back once the person is
            // loaded.
            let mut manual_of: HashMap<i64, Vec<i64>> = HashMap::new();
            for (segment_id, person) in &stored {
                if manual.contains(segment_id) {
                    manual_of.entry(*person).or_default().push(*segment_id);
                }
            }
            for (person, history) in &people {
                engine.load_person(*person, history, now);
                for segment_id in manual_of.get(person).into_iter().flatten() {
                    engine.add_to_manual(*segment_id, *person, now);
                }
            }
            let mut changes = Vec::new();
            for segment in &segments {
                // What an interrupted build had not stored yet is still the build's doing, and
                // must not trigger campaigns; anything else changed while the server was down.
                let origin = if segment.state == "finished" {
                    Origin::Live
                } else {
                    Origin::Build
                };
                let current: BTreeSet<i64> = engine.members(segment.id).collect();
                for person in &current {
                    if !stored.contains(&(segment.id, *person)) {
                        changes.push(restart_change(segment.id, *person, true, now, origin));
                    }
                }
                for (segment_id, person) in &stored {
                    if *segment_id == segment.id && !current.contains(person) {
                        changes.push(restart_change(segment.id, *person, false, now, origin));
                    }
                }
            }
            self.persist(workspace_id, &changes);
            for mut segment in unfinished {
                segment.state = "finished".into();
                segment.progress = None;
                let _ = self
                    .store
                    .submit_blocking(move |tx| tx.update_segment(&segment));
            }
            tracing::info!(
                workspace_id,
                segments = segments.len(),
                people = people.len(),
                "segments loaded"
            );
            self.engines.insert(workspace_id, engine);
        }
        Ok(())
    }

    pub(crate) fn run(mut self, receiver: &mpsc::Receiver<Command>) {
        let mut behind = false;
        loop {
            let wait = if behind { Duration::ZERO } else { TICK };
            match receiver.recv_timeout(wait) {
                Ok(command) => {
                    // A panic on one command (a bug met on some person's data) must not stop
                    // every segment: it is logged, the command's caller hears an error (its
                    // reply is dropped), and the thread goes on. What the panic left half-done
                    // in that person's state is recomputed from history at the next start.
                    let handled = catch_unwind(AssertUnwindSafe(|| self.handle(command)));
                    if let Err(panic) = handled {
                        tracing::error!(panic = %panic_message(panic.as_ref()), "the segment engine failed on a command; it goes on with the next");
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
            behind = match catch_unwind(AssertUnwindSafe(|| self.advance_batch())) {
                Ok(behind) => behind,
                Err(panic) => {
                    tracing::error!(panic = %panic_message(panic.as_ref()), "the segment engine failed on due deadlines; it goes on");
                    false
                }
            };
        }
    }

    fn handle(&mut self, command: Command) {
        let now = self.clock.now();
        match command {
            Command::Inputs(workspace_id, inputs) => {
                let engine = self.engines.entry(workspace_id).or_default();
                let mut changes = Vec::new();
                for input in &inputs {
                    changes.extend(input.apply(engine, now));
                }
                self.persist(workspace_id, &changes);
            }
            Command::Build(segment, None) => {
                // A manual segment reads no history: it exists from this command on, so that
                // add_customers sent right after creating it finds it.
                let engine = self.engines.entry(segment.workspace_id).or_default();
                engine.set_segment(segment.id, None, Vec::new(), now);
            }
            Command::Build(segment, definition) => {
                let sender = self.sender.clone();
                let workspace_id = segment.workspace_id;
                // Every segment's event names, not only the new one's: people the engine does not
                // know yet get all their predicates filled from this history.
                let mut names = self
                    .engines
                    .get(&workspace_id)
                    .map(Engine::event_names)
                    .unwrap_or_default();
                if let Some(definition) = &definition {
                    names.extend(definition.event_names());
                }
                let submitted = self.store.submit_with_hook_blocking(
                    move |tx| histories(tx, workspace_id, Some(&names)),
                    move |snapshot| {
                        let _ = sender.send(Command::BuildSnapshot(segment, definition, snapshot));
                    },
                );
                if let Err(error) = submitted {
                    tracing::error!(error = %error, "cannot read history for a segment build");
                }
            }
            Command::BuildSnapshot(mut segment, definition, snapshot) => {
                let people = match snapshot {
                    Ok(people) => people,
                    Err(error) => {
                        tracing::error!(segment = segment.id, error = %error, "segment build failed");
                        return;
                    }
                };
                let engine = self.engines.entry(segment.workspace_id).or_default();
                let count = people.len();
                let changes = engine
                    .set_segment(segment.id, definition, people, now)
                    .into_vec();
                self.persist(segment.workspace_id, &changes);
                tracing::info!(
                    segment = segment.id,
                    people = count,
                    changes = changes.len(),
                    "segment built"
                );
                segment.state = "finished".into();
                segment.progress = Some(100);
                let workspace_id = segment.workspace_id;
                let segment_id = segment.id;
                // Only a build of the current version may mark it finished: an edit made while
                // it ran has started another build.
                let _ = self.store.submit_blocking(move |tx| {
                    match tx.segment(workspace_id, segment_id)? {
                        Some(current)
                            if current.updated_at == segment.updated_at
                                && current.definition == segment.definition =>
                        {
                            segment.name = current.name;
                            segment.description = current.description;
                            tx.update_segment(&segment)
                        }
                        _ => Ok(()),
                    }
                });
            }
            Command::Remove(workspace_id, segment_id) => {
                if let Some(engine) = self.engines.get_mut(&workspace_id) {
                    engine.remove_segment(segment_id);
                }
            }
            Command::Query(query) => {
                let mut view = RunnerView {
                    engines: &self.engines,
                    store: &self.store,
                    now,
                };
                query(&mut view);
            }
            Command::Manual {
                workspace_id,
                segment_id,
                people,
                add,
                reply,
            } => {
                let engine = self.engines.entry(workspace_id).or_default();
                let mut changes = Vec::new();
                for person in people {
                    changes.extend(if add {
                        engine.add_to_manual(segment_id, person, now)
                    } else {
                        engine.remove_from_manual(segment_id, person, now)
                    });
                }
                // Manual memberships exist only in the store, so they are committed before the
                // caller hears back, unlike derived ones, which a restart recomputes.
                let rows: Vec<_> = changes.iter().map(to_row).collect();
                let triggers = self.triggers.clone();
                let stored = self
                    .store
                    .write_blocking(move |tx| {
                        tx.record_membership_changes(&rows)?;
                        match &triggers {
                            Some(triggers) => triggers.on_changes(tx, workspace_id, &rows, now),
                            None => Ok(()),
                        }
                    })
                    .and_then(|result| result);
                if stored.is_ok()
                    && let Some(triggers) = &self.triggers
                {
                    triggers.committed();
                }
                if let Err(error) = &stored {
                    tracing::error!(error = %error, "cannot store manual segment changes");
                }
                let _ = reply.send(stored);
            }
            Command::Sync(reply) => {
                while self.advance_batch() {}
                let _ = reply.send(());
            }
        }
    }

    /// Applies one batch of due deadlines in every workspace; returns whether more are due.
    fn advance_batch(&mut self) -> bool {
        let now = self.clock.now();
        let mut behind = false;
        let mut changes = Vec::new();
        for (workspace_id, engine) in &mut self.engines {
            if engine.earliest_due().is_none_or(|due| due > now) {
                continue;
            }
            let (batch, more) = engine.advance(now, DEADLINE_BATCH);
            changes.push((*workspace_id, batch));
            behind |= more;
        }
        for (workspace_id, batch) in changes {
            self.persist(workspace_id, &batch);
        }
        behind
    }

    /// Stores a workspace's membership changes on the background queue, starting the campaign
    /// runs they trigger in the same job. Background jobs fill the writer's gaps, so that a storm
    /// of deadlines (a million people leaving a segment at midnight) never makes ingest wait
    /// behind it; a restart recomputes and stores whatever was still queued.
    fn persist(&self, workspace_id: i64, changes: &[Change]) {
        for chunk in changes.chunks(PERSIST_CHUNK) {
            self.persist_chunk(workspace_id, chunk);
        }
    }

    fn persist_chunk(&self, workspace_id: i64, changes: &[Change]) {
        if changes.is_empty() {
            return;
        }
        let rows: Vec<_> = changes.iter().map(to_row).collect();
        let now = self.clock.now();
        let submitted = match self.triggers.clone() {
            None => self
                .store
                .submit_blocking(move |tx| tx.record_membership_changes(&rows)),
            Some(triggers) => {
                let notify = triggers.clone();
                self.store.submit_background_with_hook(
                    move |tx| {
                        tx.record_membership_changes(&rows)?;
                        triggers.on_changes(tx, workspace_id, &rows, now)
                    },
                    move |stored| match stored {
                        Ok(()) => notify.committed(),
                        Err(error) => {
                            tracing::error!(error = %error, "cannot store membership changes");
                        }
                    },
                )
            }
        };
        if let Err(error) = submitted {
            tracing::error!(error = %error, "cannot store membership changes");
        }
    }
}

fn parse_stored(segment: &SegmentRow) -> Option<Definition> {
    let value = segment.definition.as_ref()?;
    match Definition::parse(value) {
        Ok(definition) => Some(definition),
        Err(error) => {
            tracing::error!(segment = segment.id, error = %error, "a stored definition no longer parses; treating the segment as manual");
            None
        }
    }
}

fn restart_change(segment: i64, person: i64, entered: bool, at: i64, origin: Origin) -> Change {
    Change {
        segment,
        person,
        entered,
        at,
        cause: herald_segment_engine::Cause::Deadline,
        origin,
    }
}
