//! The runner thread.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use herald_domain::{Clock, SegmentId, WorkspaceId, panic_message};
use herald_segment_engine::{Change, Definition, Engine, Input};

use crate::unstored::UnstoredBuilds;
use herald_store::{
    Lease, Ownership, PartitionSet, SegmentRow, SegmentState, StoreChange, StoreError, StoreHandle,
    partition_of,
};
use tokio::sync::{oneshot, watch};

use crate::cause::to_row;
use crate::handle::RunnerView;
use crate::held::{Held, HeldNow};
use crate::image::{self, Image, ImageSettings};
use crate::loading::{self, Loaded};
use crate::restart::Restart;
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

pub(crate) type Query = Box<dyn FnOnce(&mut RunnerView<'_>) + Send>;

/// A write job's inputs for a workspace, with its commit's position in the engine log.
pub(crate) type Commit = (WorkspaceId, Vec<Input>, Option<i64>);

pub(crate) enum Command {
    /// The inputs of a transaction's write jobs, in commit order.
    Inputs(Vec<Commit>),
    /// The place of the load's history read in commit order (see `loading`).
    Pinned(u64),
    /// A segment to build, boxed: it is large and rare, and inputs are small and many.
    Build(Box<(SegmentRow, Option<Definition>)>),
    Remove(WorkspaceId, SegmentId),
    Query(Query),
    Manual {
        workspace_id: WorkspaceId,
        segment_id: SegmentId,
        people: Vec<i64>,
        add: bool,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Sync(oneshot::Sender<()>),
    /// Writes an image now if the engines changed since the last one (at shutdown).
    WriteImage(oneshot::Sender<()>),
    /// An engine-log entry (position, workspace, encoded inputs), for an engine that follows
    /// the log (`follow`).
    Logged(i64, WorkspaceId, Vec<u8>),
    /// A query to run once the engines hold every input up to this log position (an engine
    /// that follows the log: the log's end when the query was asked).
    QueryAfter(i64, Query),
    /// A segment as stored now (`None`: deleted), for an engine that follows the store, and
    /// whether a manual one's members are to be read again (they changed).
    Catalog(WorkspaceId, SegmentId, Option<Box<SegmentRow>>, bool),
    /// Every stored segment, after the notifications of changes may have missed some.
    CatalogAll(Vec<SegmentRow>),
    /// The partitions this node owns after a renewal of its leases.
    Owned(Ownership),
    /// Stops storing for any partition (the node is stopping); answers once what was stored
    /// before is committed.
    Disown(oneshot::Sender<()>),
    /// Drops a workspace another process deleted, and ignores everything of it from then on;
    /// answers once the membership changes it queued before are committed.
    Forget(WorkspaceId, oneshot::Sender<()>),
}

/// The partitions a node whose engine follows the store owns: it stores the membership changes
/// of their people only, and only until its leases run out.
#[derive(Debug, Default)]
struct Owned {
    epochs: HashMap<u16, i64>,
    until: i64,
}

impl Owned {
    fn holds(&self, workspace_id: WorkspaceId, person: i64, now: i64) -> bool {
        now < self.until
            && self
                .epochs
                .contains_key(&partition_of(workspace_id, person))
    }
}

/// Whether this node stores a person's membership changes now: it owns their partition, and
/// has compared it with the store since it took it over (`takeovers` holds the partitions not
/// yet compared). Until then the stored memberships may lack what the former owner computed
/// but never stored (it died first), and a change computed against the engine's memberships
/// would be stored against the wrong ones: an exit by time of a person whose entry was never
/// stored started an exit campaign for an exit no history shows (found by the crash soak in
/// cluster mode). The comparison stores the net difference of everything until then instead.
fn stores_changes_of(
    owned: &Owned,
    takeovers: &[(i64, Vec<u16>)],
    workspace_id: WorkspaceId,
    person: i64,
    now: i64,
) -> bool {
    let partition = partition_of(workspace_id, person);
    owned.holds(workspace_id, person, now)
        && !takeovers
            .iter()
            .any(|(_, partitions)| partitions.contains(&partition))
}

/// How an engine that several nodes' writes reach takes them (`follow`).
pub(crate) struct Following {
    /// Makes the log's reader read at once; the reader itself starts after the load.
    pub(crate) wake: mpsc::Receiver<()>,
    /// The other end of `wake`.
    pub(crate) waker: mpsc::Sender<()>,
    /// The node's name in the leases.
    pub(crate) node: String,
    /// Whether the engine holds the people of this node's partitions only.
    pub(crate) own_partitions_only: bool,
    /// Where the runner tells the renewals which partitions' people the engine holds.
    pub(crate) held_now: HeldNow,
}

pub(crate) struct Runner {
    store: StoreHandle,
    clock: Arc<dyn Clock>,
    pub(crate) engines: HashMap<WorkspaceId, Engine>,
    /// Lets the load put its marker in the queue.
    sender: mpsc::Sender<Command>,
    triggers: Option<Arc<dyn MembershipTriggers>>,
    /// Set once every workspace is loaded.
    loaded: watch::Sender<bool>,
    /// Inputs are dropped until the load's marker of this generation: the history it read
    /// holds them.
    skip_until: Option<u64>,
    /// Where and how often the engines are written to an image, if they are.
    image: Option<ImageSettings>,
    /// Set when the image could not catch up, so that the retried load reads history.
    image_failed: bool,
    /// The partitions the image read holds, for engines that hold only their node's.
    image_held: Vec<(u16, i64)>,
    /// The engine-log position of the last input the engines hold.
    position: i64,
    /// The position of the last image written or read, when it holds what the engines hold
    /// but for `dirty` changes.
    image_position: Option<i64>,
    /// When this process last wrote an image.
    image_written: Option<Instant>,
    /// The image a thread of its own is still writing, until the runner takes its result.
    image_pending: Option<image::Pending>,
    /// Whether the engines changed since the last image in a way the log does not record
    /// (builds, deletions, manual memberships).
    dirty: bool,
    /// Set for an engine that follows the store (`follow`) until its log reader starts.
    following: Option<Following>,
    /// Whether the engine follows the store: its inputs come from the log, and it stores no
    /// membership change (which node stores them is decided by partition leases, not yet).
    follows: bool,
    /// Commands waiting for the engines to reach a log position, in the order asked: queries,
    /// builds and manual changes, which must see every write committed before they were
    /// asked, on any node.
    waiting: Vec<(i64, Command)>,
    /// Makes the log's reader read at once, for an engine that follows the store.
    wake: Option<mpsc::Sender<()>>,
    /// What this node owns, for an engine that follows the store.
    owned: Owned,
    /// The people the engines hold: everyone, or those of the partitions this node owns
    /// (`FollowOptions::own_partitions_only`).
    held: Held,
    /// Whether the engines hold the people of this node's partitions only.
    own_partitions_only: bool,
    /// Partitions taken over, compared with the stored memberships once the engines hold the
    /// log up to the position beside them.
    takeovers: Vec<(i64, Vec<u16>)>,
    /// Build changes of this node's partitions it could not store, for the comparison at
    /// takeover (`unstored`).
    unstored: UnstoredBuilds,
    /// Set once the node gave its partitions up: renewals that arrive later are ignored.
    disowned: bool,
    /// For an engine that follows the store: the partitions it holds, as the renewals report.
    held_now: Option<HeldNow>,
    /// The node's name in the leases, for an engine that follows the store.
    node: String,
    /// What `/metrics` shows of the engine: how late its most overdue deadline is, how long
    /// segments take to build, and (in cluster mode) how many partitions this node leases and
    /// how many its engine holds the people of.
    deadline_lag: metrics::Gauge,
    build_seconds: metrics::Histogram,
    partitions_leased: metrics::Gauge,
    partitions_held: metrics::Gauge,
    /// Workspaces deleted since the engine started (`Command::Forget`): inputs, builds and log
    /// entries of theirs that were on their way are dropped rather than make an engine again.
    forgotten: std::collections::HashSet<WorkspaceId>,
}

impl Runner {
    pub(crate) fn new(
        store: StoreHandle,
        clock: Arc<dyn Clock>,
        sender: mpsc::Sender<Command>,
        triggers: Option<Arc<dyn MembershipTriggers>>,
        loaded: watch::Sender<bool>,
        image: Option<ImageSettings>,
    ) -> Self {
        Self {
            store,
            clock,
            engines: HashMap::new(),
            sender,
            triggers,
            loaded,
            skip_until: None,
            image,
            image_failed: false,
            image_held: Vec::new(),
            position: 0,
            image_position: None,
            image_written: None,
            image_pending: None,
            dirty: false,
            following: None,
            follows: false,
            waiting: Vec::new(),
            owned: Owned::default(),
            held: Held::all(),
            own_partitions_only: false,
            takeovers: Vec::new(),
            unstored: UnstoredBuilds::default(),
            disowned: false,
            held_now: None,
            node: String::new(),
            wake: None,
            deadline_lag: metrics::gauge!("herald_segment_engine_deadline_lag_seconds"),
            build_seconds: metrics::histogram!("herald_segment_build_seconds"),
            partitions_leased: metrics::gauge!("herald_cluster_partitions_leased"),
            partitions_held: metrics::gauge!("herald_segment_engine_partitions_held"),
            forgotten: std::collections::HashSet::new(),
        }
    }

    /// The engine of a workspace, made on its first input; `None` for a deleted one.
    fn engine_of(&mut self, workspace_id: WorkspaceId) -> Option<&mut Engine> {
        if self.forgotten.contains(&workspace_id) {
            return None;
        }
        Some(self.engines.entry(workspace_id).or_default())
    }

    /// Makes the engine follow the store (see `follow`) once loaded.
    pub(crate) fn follow(&mut self, following: Following) {
        self.node = following.node.clone();
        self.wake = Some(following.waker.clone());
        if following.own_partitions_only {
            // Its partitions are loaded as the leases give them.
            self.held = Held::none();
            self.own_partitions_only = true;
        }
        self.held_now = Some(following.held_now.clone());
        self.following = Some(following);
        self.follows = true;
    }

    /// Loads every workspace's engine from the stored history (see `loading`), retrying after
    /// a pause while the store fails, then stores what differs from the stored memberships:
    /// changes that happened while the server was down (deadlines passed, builds interrupted).
    /// Commands queue up meanwhile; the inputs among them that the loaded history already holds
    /// are dropped when `run` meets the load's marker.
    pub(crate) fn load(&mut self) {
        let mut generation = 0;
        loop {
            generation += 1;
            match self.load_once(generation) {
                Ok(()) => {
                    if let Some(Following { wake, .. }) = self.following.take() {
                        crate::follow::spawn_log(
                            self.store.clone(),
                            self.sender.clone(),
                            self.position,
                            wake,
                        );
                    }
                    break;
                }
                Err(StoreError::Closed) => return,
                Err(error) => {
                    tracing::error!(error = %error, "cannot load the segment engine; retrying");
                    self.engines.clear();
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
    }

    fn load_once(&mut self, generation: u64) -> Result<(), StoreError> {
        let now = self.clock.now();
        if self.own_partitions_only {
            // A retried load starts from nobody again; an image that is used says whom it holds.
            self.held = Held::none();
        }
        let image = self.read_image();
        let position = image.as_ref().map(|image| image.position);
        let receiver = loading::start(
            &self.store,
            &self.sender,
            generation,
            position,
            self.held.partitions(),
        )?;
        self.load_from(&receiver, generation, now, image)
    }

    /// Reads the image, if images are kept and one checks out; a damaged one is logged and
    /// left for the next image to replace.
    fn read_image(&mut self) -> Option<Image> {
        let settings = self.image.as_ref()?;
        if self.image_failed {
            return None;
        }
        let begin = Instant::now();
        let read = if self.own_partitions_only {
            image::read_held(&settings.path).map(|read| {
                read.map(|read| {
                    self.image_held = read.held;
                    read.image
                })
            })
        } else {
            image::read(&settings.path)
        };
        match read {
            Ok(Some(image)) => {
                tracing::info!(
                    position = image.position,
                    secs = begin.elapsed().as_secs_f64(),
                    "engine image read"
                );
                Some(image)
            }
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(error = %error, path = %settings.path.display(), "ignoring the engine image; loading from history");
                None
            }
        }
    }

    /// Builds the engines from what a load started with `generation` reads (with the image it
    /// was started with, if any), stores the differences, and from then on drops the inputs
    /// queued ahead of that load's marker.
    pub(crate) fn load_from(
        &mut self,
        receiver: &mpsc::Receiver<Loaded>,
        generation: u64,
        now: i64,
        image: Option<Image>,
    ) -> Result<(), StoreError> {
        let had_image = image.is_some();
        let mut imaged: HashMap<WorkspaceId, Engine> = image
            .map(|image| image.workspaces.into_iter().collect())
            .unwrap_or_default();
        let mut from_image = false;
        let mut end = 0;
        let mut replayed = 0_usize;
        let mut current: Option<Restart> = None;
        let mut resumed = Vec::new();
        let mut restarted = Vec::new();
        loop {
            match receiver.recv() {
                Ok(Loaded::Start {
                    from_image: image_usable,
                    end: log_end,
                }) => {
                    from_image = image_usable;
                    end = log_end;
                    if from_image && self.own_partitions_only {
                        // The image's partitions, with the positions they were loaded at: the
                        // log entries replayed next apply to their people as they did live.
                        self.held = Held::from_entries(&self.image_held);
                    }
                    if had_image && !from_image {
                        tracing::warn!(
                            "the engine image is older than the engine log reaches back, or newer than the store; loading from history"
                        );
                        imaged.clear();
                    }
                }
                Ok(Loaded::Workspace {
                    id,
                    segments,
                    members,
                }) if from_image => resumed.push((id, segments, members)),
                Ok(Loaded::Workspace {
                    id,
                    segments,
                    members,
                }) => {
                    restarted.extend(current.take().map(|workspace| workspace.finish(now)));
                    current = Some(Restart::new(id, segments, members, now));
                }
                Ok(Loaded::People(people)) => {
                    if let Some(workspace) = &mut current {
                        workspace.load(people, now);
                    }
                }
                Ok(Loaded::Log(position, workspace_id, bytes)) => {
                    let Ok(inputs) = herald_segment_engine::input::decode(&bytes) else {
                        // The image cannot catch up past an entry it cannot read.
                        self.image_failed = true;
                        return Err(StoreError::Corrupt(
                            "an engine log entry cannot be decoded".into(),
                        ));
                    };
                    let engine = imaged.entry(workspace_id).or_default();
                    // What the replay changes was stored, or is compared with the store below.
                    let _ = self
                        .held
                        .apply(workspace_id, &inputs, position, engine, now);
                    replayed += 1;
                }
                Ok(Loaded::Done(result)) => {
                    result?;
                    break;
                }
                // The reading thread ended without saying so: it panicked.
                Err(_) => return Err(StoreError::Panicked("the history read stopped".into())),
            }
        }
        restarted.extend(current.take().map(|workspace| workspace.finish(now)));
        for (id, segments, members) in resumed {
            let engine = imaged.remove(&id).unwrap_or_default();
            restarted.push(Restart::resume(id, engine, segments, members, now).finish(now));
        }
        // Nothing is stored before every workspace loaded, so that a load that fails and is
        // retried never stores a change twice.
        for workspace in restarted {
            self.persist(workspace.workspace_id, &workspace.changes);
            // Of nodes that share the store, any that loads a build another left unfinished
            // marks it (the owners store its entries when they take their partitions).
            for segment in workspace.unfinished {
                self.mark_finished(segment);
            }
            tracing::info!(
                workspace_id = workspace.workspace_id.get(),
                segments = workspace.segments,
                people = workspace.people,
                from_image,
                "segments loaded"
            );
            self.engines
                .insert(workspace.workspace_id, workspace.engine);
        }
        tracing::info!(
            from_image,
            replayed,
            position = end,
            "segment engine loaded"
        );
        self.position = end;
        // Segments deleted before a restart may still have rows left to remove (by the node
        // that stores memberships).
        let purges = if self.follows {
            Ok(Vec::new())
        } else {
            self.store.read_blocking(|r| r.segment_purges())
        };
        match purges {
            Ok(purges) => purges.into_iter().for_each(|id| purge(&self.store, id)),
            Err(error) => tracing::error!(error = %error, "cannot list deleted segments"),
        }
        // After a load from history the next image is written at once, so that the next start
        // reads no more than it must; after one from an image, the log it caught up from is
        // short, and the next waits for the interval (writing one stops the engine's thread
        // while it copies the engines).
        self.image_position = from_image.then_some(end).filter(|_| replayed == 0);
        self.image_written = from_image.then(Instant::now);
        self.skip_until = Some(generation);
        // An engine that holds only its node's partitions has loaded nobody yet: it answers once
        // the first renewal of its leases told it which partitions to load, and it loaded them.
        if !self.own_partitions_only {
            self.loaded.send_replace(true);
        }
        Ok(())
    }

    /// Writes an image when the engines changed since the last one and the interval passed, or
    /// at once with `force` (at shutdown, waiting until it is in place), and trims the engine
    /// log up to it once it is.
    ///
    /// The engine's thread stops while it serializes the engines (1.1–1.2 s at a million people
    /// and twenty million events, docs/benchmarks.md); a thread of its own writes, syncs and
    /// renames the image meanwhile and after. Writing it from a copy of the engines was tried:
    /// the copy alone stopped the engine's thread for 14 s, and doubled the memory.
    fn maybe_write_image(&mut self, force: bool) {
        let Some(settings) = self.image.clone() else {
            return;
        };
        self.settle_image(force);
        let written = self
            .image_pending
            .as_ref()
            .map_or(self.image_position, |pending| Some(pending.position));
        if !*self.loaded.borrow() || written == Some(self.position) && !self.dirty {
            return;
        }
        let due = self
            .image_written
            .is_none_or(|written| written.elapsed() >= settings.every);
        if !(force || due) {
            return;
        }
        // One image at a time: the last one (begun an interval ago) is in place first.
        self.settle_image(true);
        let position = self.position;
        let held = self.own_partitions_only.then(|| self.held.entries());
        let begin = Instant::now();
        let (store, shared) = (self.store.clone(), self.shared_trim());
        let then = move |bytes| {
            tracing::info!(
                position,
                bytes,
                secs = begin.elapsed().as_secs_f64(),
                "engine image written"
            );
            trim_log(&store, position, shared);
        };
        match image::write(
            &settings.path,
            position,
            &self.engines,
            held.as_deref(),
            then,
        ) {
            Ok(pending) => {
                tracing::info!(
                    position,
                    secs = begin.elapsed().as_secs_f64(),
                    "engines serialized for an image; it is written on a thread of its own"
                );
                self.image_pending = Some(pending);
                self.dirty = false;
            }
            // Written again at the next interval.
            Err(error) => {
                tracing::error!(path = %settings.path.display(), error = %error, "cannot write the engine image")
            }
        }
        self.image_written = Some(Instant::now());
        if force {
            self.settle_image(true);
        }
    }

    /// Takes the result of the image being written once it is in place, or waits for it with
    /// `wait`: the image then holds its position, or, should it have failed, the engines count
    /// as changed, so that the next interval writes one again.
    fn settle_image(&mut self, wait: bool) {
        let Some(pending) = self
            .image_pending
            .take_if(|pending| wait || pending.is_finished())
        else {
            return;
        };
        let position = pending.position;
        match pending.wait() {
            Ok(_) => {
                self.image_position = Some(position);
                self.image_failed = false;
            }
            Err(error) => {
                tracing::error!(error = %error, "cannot write the engine image");
                self.dirty = true;
            }
        }
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
            if !behind {
                self.maybe_write_image(false);
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

    pub(crate) fn handle(&mut self, command: Command) {
        // An engine that follows the store builds and changes manual memberships once it holds
        // every write committed before it was asked, as its queries do (`Segments::query`). So
        // does a segment another node created or changed: built from an engine behind the
        // log, it would take the events committed before the segment, which reach the engine
        // after the build, for live ones, and start campaigns for them.
        if self.follows
            && matches!(
                command,
                Command::Build(_)
                    | Command::Manual { .. }
                    | Command::Catalog(..)
                    | Command::CatalogAll(_)
            )
        {
            match self.store.read_blocking(|r| r.engine_log_end()) {
                Ok(end) if end > self.position => {
                    self.wait_for(end, command);
                    return;
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(error = %error, "cannot read the engine log's end; going on with what the engine holds");
                }
            }
        }
        self.handle_now(command);
    }

    /// Runs `command` once the engines hold the log up to `position`.
    fn wait_for(&mut self, position: i64, command: Command) {
        if self.position >= position {
            self.handle_now(command);
            return;
        }
        self.waiting.push((position, command));
        if let Some(wake) = &self.wake {
            let _ = wake.send(());
        }
    }

    fn handle_now(&mut self, command: Command) {
        let now = self.clock.now();
        match command {
            // An engine that follows the store takes its inputs from the log alone.
            Command::Inputs(..) if self.follows => {}
            Command::Inputs(commits) => {
                for (workspace_id, inputs, position) in commits {
                    if let Some(position) = position {
                        self.position = self.position.max(position);
                    }
                    // Inputs ahead of the load's marker are in the history it read.
                    if self.skip_until.is_some() {
                        continue;
                    }
                    let Some(engine) = self.engine_of(workspace_id) else {
                        continue;
                    };
                    let changes = herald_segment_engine::input::apply_commit(&inputs, engine, now);
                    self.persist(workspace_id, &changes);
                }
            }
            Command::Build(build) if self.forgotten.contains(&build.0.workspace_id) => {}
            Command::Build(build) => {
                let (segment, definition) = *build;
                // Of nodes that share the store, the notice of a new or edited segment may
                // reach this node's catalog follower before the command that asked this node
                // to build it, and the follower has built it already: the same definition
                // again would change nothing, so it is only marked finished.
                if self.holds(
                    segment.workspace_id,
                    segment.id,
                    segment.definition.as_ref(),
                ) {
                    if segment.definition.is_some() {
                        self.mark_finished(segment);
                    }
                    return;
                }
                self.dirty = true;
                self.build(segment, definition, true, now);
            }
            Command::Pinned(generation) => {
                if self.skip_until == Some(generation) {
                    self.skip_until = None;
                }
            }
            Command::WriteImage(reply) => {
                self.maybe_write_image(true);
                // At shutdown the log is trimmed before the process ends, in one write: no
                // ingest waits for it any more.
                if let Some(position) = self.image_position {
                    let shared = self.shared_trim();
                    let trimmed = self.store.write_blocking(move |tx| {
                        let through = trim_point(tx, position, shared.as_ref())?;
                        tx.trim_engine_log(through, usize::MAX)
                    });
                    if let Err(error) = trimmed.and_then(|trimmed| trimmed.map(|_| ())) {
                        tracing::error!(error = %error, "cannot trim the engine log");
                    }
                }
                let _ = reply.send(());
            }
            Command::Remove(workspace_id, segment_id) => {
                self.dirty = true;
                if let Some(engine) = self.engines.get_mut(&workspace_id) {
                    engine.remove_segment(segment_id);
                }
                // Queued behind every membership write the segment's changes made, so none
                // lands after its rows are gone.
                purge(&self.store, segment_id);
            }
            Command::Query(query) => self.run_query(query, now),
            Command::Manual {
                workspace_id,
                segment_id,
                people,
                add,
                reply,
            } => {
                self.dirty = true;
                if self.engine_of(workspace_id).is_none() {
                    let _ = reply.send(Err(StoreError::WorkspaceDeleted(workspace_id)));
                    return;
                }
                // An engine that holds only its node's partitions changes its own people; the
                // others' change is worked out from the store (their owners hear of it and
                // bring their engines to it, as for a change made on another node).
                let (people, elsewhere): (Vec<i64>, Vec<i64>) = if self.own_partitions_only {
                    let held = self.held.partitions();
                    people
                        .into_iter()
                        .partition(|person| held.holds(workspace_id, *person))
                } else {
                    (people, Vec::new())
                };
                let Some(engine) = self.engines.get_mut(&workspace_id) else {
                    let _ = reply.send(Err(StoreError::WorkspaceDeleted(workspace_id)));
                    return;
                };
                let mut changes = Vec::new();
                for person in people {
                    changes.extend(if add {
                        engine.add_to_manual(segment_id, person, now)
                    } else {
                        engine.remove_from_manual(segment_id, person, now)
                    });
                }
                match manual_changes_in_store(
                    &self.store,
                    workspace_id,
                    segment_id,
                    elsewhere,
                    add,
                    now,
                ) {
                    Ok(stored) => changes.extend(stored),
                    Err(error) => {
                        let _ = reply.send(Err(error));
                        return;
                    }
                }
                // Of nodes that share the store, the owners store what the change does to
                // segments derived from this one, as for any change.
                let derived: Vec<Change> = if self.follows {
                    let (manual, derived) = changes
                        .into_iter()
                        .partition(|change| change.segment == segment_id);
                    changes = manual;
                    derived
                } else {
                    Vec::new()
                };
                // Manual memberships exist only in the store, so they are committed before the
                // caller hears back, unlike derived ones, which a restart recomputes. The other
                // nodes sharing the store hear of it and read them.
                let rows: Vec<_> = changes.iter().map(to_row).collect();
                let triggers = self.triggers.clone();
                let stored = self
                    .store
                    .write_blocking(move |tx| {
                        tx.record_membership_changes(workspace_id, &rows)?;
                        tx.announce(StoreChange::Segment {
                            workspace_id,
                            id: segment_id,
                        })?;
                        match &triggers {
                            Some(triggers) => triggers.on_changes(tx, workspace_id, &rows, now),
                            None => Ok(()),
                        }
                    })
                    .and_then(|result| result);
                self.persist(workspace_id, &derived);
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
            Command::Logged(position, workspace_id, bytes) => {
                self.apply_logged(position, workspace_id, &bytes, now);
            }
            Command::QueryAfter(position, query) => {
                self.wait_for(position, Command::Query(query));
            }
            Command::Owned(_) if self.disowned => {}
            Command::Owned(ownership) => self.own(ownership, now),
            Command::Disown(reply) => {
                self.disowned = true;
                self.owned = Owned::default();
                self.partitions_leased.set(0.0);
                self.takeovers.clear();
                if let Err(error) = self.store.background_barrier_blocking() {
                    tracing::error!(error = %error, "cannot wait for the stored membership changes");
                }
                let _ = reply.send(());
            }
            Command::Forget(workspace_id, reply) => {
                self.forgotten.insert(workspace_id);
                if self.engines.remove(&workspace_id).is_some() {
                    // The next image leaves it out.
                    self.dirty = true;
                }
                self.waiting.retain(|(_, command)| {
                    !matches!(command, Command::Build(build) if build.0.workspace_id == workspace_id)
                });
                if let Err(error) = self.store.background_barrier_blocking() {
                    tracing::error!(error = %error, "cannot wait for the stored membership changes of a deleted workspace");
                }
                tracing::info!(
                    workspace_id = workspace_id.get(),
                    "a deleted workspace's segments are dropped"
                );
                let _ = reply.send(());
            }
            Command::Catalog(workspace_id, ..) if self.forgotten.contains(&workspace_id) => {}
            Command::Catalog(workspace_id, segment_id, row, manual_members) => {
                self.follow_segment(
                    workspace_id,
                    segment_id,
                    row.map(|row| *row),
                    manual_members,
                    now,
                );
            }
            Command::CatalogAll(rows) => {
                let stored: std::collections::HashSet<(WorkspaceId, SegmentId)> =
                    rows.iter().map(|row| (row.workspace_id, row.id)).collect();
                let gone: Vec<(WorkspaceId, SegmentId)> = self
                    .engines
                    .iter()
                    .flat_map(|(workspace_id, engine)| {
                        engine
                            .segments()
                            .map(|(id, _)| (*workspace_id, id))
                            .collect::<Vec<_>>()
                    })
                    .filter(|key| !stored.contains(key))
                    .collect();
                for (workspace_id, segment_id) in gone {
                    self.follow_segment(workspace_id, segment_id, None, false, now);
                }
                for row in rows {
                    if !self.forgotten.contains(&row.workspace_id) {
                        self.follow_segment(row.workspace_id, row.id, Some(row), false, now);
                    }
                }
            }
        }
    }

    /// For an engine that follows the store, what trimming the log needs to know: the node
    /// and the time (`trim_point`).
    fn shared_trim(&self) -> Option<(String, i64)> {
        self.follows.then(|| (self.node.clone(), self.clock.now()))
    }

    fn run_query(&mut self, query: Query, now: i64) {
        let owned_partitions = if now < self.owned.until {
            self.owned.epochs.len()
        } else {
            0
        };
        let mut view = RunnerView {
            engines: &mut self.engines,
            store: &self.store,
            now,
            owned_partitions,
            held_partitions: self.held.partitions(),
        };
        query(&mut view);
    }

    /// Applies the log entry at `position`, the one after the last applied, then the queries
    /// that waited for it.
    fn apply_logged(&mut self, position: i64, workspace_id: WorkspaceId, bytes: &[u8], now: i64) {
        if position <= self.position {
            return;
        }
        if position != self.position + 1 {
            // The log is gapless, so entries are missing only when they were trimmed before
            // this engine read them: what they changed is not in it.
            tracing::error!(
                expected = self.position + 1,
                position,
                "engine log entries were removed before this node read them; its engine misses them until it restarts"
            );
        }
        self.position = position;
        match herald_segment_engine::input::decode(bytes) {
            Ok(inputs) => {
                // A deleted workspace's entries only move the position on.
                if !self.forgotten.contains(&workspace_id) {
                    // One lookup of the engine per entry, borrowed beside `held`.
                    let engine = self.engines.entry(workspace_id).or_default();
                    let changes = self
                        .held
                        .apply(workspace_id, &inputs, position, engine, now);
                    self.persist(workspace_id, &changes);
                }
            }
            Err(error) => {
                tracing::error!(position, error = %error, "an engine log entry cannot be decoded; its inputs are skipped until the next start");
            }
        }
        if self
            .takeovers
            .iter()
            .any(|(after, _)| *after <= self.position)
        {
            self.take_over(now);
        }
        if self
            .waiting
            .iter()
            .any(|(after, _)| *after <= self.position)
        {
            let waiting = std::mem::take(&mut self.waiting);
            for (after, command) in waiting {
                if after <= self.position {
                    self.handle_now(command);
                } else {
                    self.waiting.push((after, command));
                }
            }
        }
    }

    /// Takes what a renewal of the leases gives. A partition this node did not hold (or held
    /// under another epoch: someone else owned it meanwhile) is taken over: once the engines
    /// hold everything committed by now, which includes every input whose changes its former
    /// owner could have stored, their memberships are compared with the stored ones and the
    /// differences stored, so that what the former owner computed but did not store (it died)
    /// is stored once.
    fn own(&mut self, ownership: Ownership, now: i64) {
        // While the leases had run out by this node's clock it stored nothing, so partitions
        // it holds again, even at the same epoch, are compared with the store like new ones.
        let lapsed = now >= self.owned.until;
        let gained: Vec<u16> = ownership
            .leases
            .iter()
            .filter(|lease| lapsed || self.owned.epochs.get(&lease.partition) != Some(&lease.epoch))
            .map(|lease| lease.partition)
            .collect();
        self.owned = Owned {
            epochs: ownership
                .leases
                .iter()
                .map(|lease| (lease.partition, lease.epoch))
                .collect(),
            until: ownership.until,
        };
        // What went unstored of a partition another node owns now is that node's to compare.
        let epochs = &self.owned.epochs;
        self.unstored
            .forget(|partition| !epochs.contains_key(&partition));
        let gained = if self.own_partitions_only {
            let gained = self.hold_owned(gained, &ownership.unheld, now);
            if let Some(held_now) = &self.held_now {
                held_now.set(self.held.partitions());
            }
            // A node that joins answers once it holds its share, which the others give up at
            // their next renewals: until then its engine's thread would be loading people for
            // most of a minute at a million, and requests sent to it would wait that long.
            // Once it answered it stays ready: while a dead node's partitions load, every node
            // lacks them alike, and writes must still reach some node.
            if self.owned.epochs.len() >= ownership.least_share() {
                self.loaded.send_replace(true);
            }
            gained
        } else {
            gained
        };
        self.partitions_leased.set(self.owned.epochs.len() as f64);
        self.partitions_held
            .set(self.held.partitions().len() as f64);
        if gained.is_empty() {
            return;
        }
        match self.store.read_blocking(|r| r.engine_log_end()) {
            Ok(end) => {
                self.takeovers.push((end, gained));
                if end <= self.position {
                    self.take_over(now);
                }
            }
            Err(error) => {
                tracing::error!(error = %error, "cannot take over partitions; they are given up");
                self.owned = Owned::default();
            }
        }
    }

    /// For an engine that holds the people of this node's partitions only: drops the people of
    /// the partitions it no longer owns (once their new owner's engine holds them: `unheld`
    /// are those no owner holds yet, which this engine keeps answering for meanwhile), and
    /// loads those of the partitions `gained` that it does not hold yet. Returns the partitions
    /// gained that it holds now; those it could not load are given up (by this node's
    /// reckoning: the next renewal offers them again).
    fn hold_owned(&mut self, mut gained: Vec<u16>, unheld: &PartitionSet, now: i64) -> Vec<u16> {
        let held = self.held.partitions();
        let lost: PartitionSet = held
            .iter()
            .filter(|partition| {
                !self.owned.epochs.contains_key(partition) && !unheld.contains(*partition)
            })
            .collect();
        if !lost.is_empty() {
            self.held.remove(&lost, &mut self.engines);
            self.dirty = true;
            tracing::info!(
                partitions = lost.len(),
                "partitions given up; their people are dropped"
            );
        }
        let new: PartitionSet = gained
            .iter()
            .copied()
            .filter(|partition| !held.contains(*partition))
            .collect();
        if new.is_empty() {
            return gained;
        }
        let begin = Instant::now();
        match self.load_partitions(new, now) {
            Ok((position, people)) => {
                self.held.add(&new, position);
                self.dirty = true;
                tracing::info!(
                    partitions = new.len(),
                    people,
                    position,
                    secs = begin.elapsed().as_secs_f64(),
                    "partitions loaded"
                );
            }
            Err(error) => {
                tracing::error!(error = %error, "cannot load the people of partitions this node gained; it gives them up until its next renewal");
                // What was loaded of them goes, so that none of their people is half there.
                self.held.remove(&new, &mut self.engines);
                for partition in new.iter() {
                    self.owned.epochs.remove(&partition);
                }
                gained.retain(|partition| !new.contains(*partition));
            }
        }
        gained
    }

    /// Loads the people of `partitions` into the engines from a read pinned now; returns the
    /// engine-log position the read holds everything up to, and how many people it loaded.
    /// The engines cannot be past that position (the runner reads nothing else meanwhile, and
    /// the log holds nothing past the store's end), so applying the entries after it from then
    /// on misses none of theirs and repeats none.
    fn load_partitions(
        &mut self,
        partitions: PartitionSet,
        now: i64,
    ) -> Result<(i64, usize), StoreError> {
        let receiver = loading::start_partitions(&self.store, partitions)?;
        let mut end = None;
        let mut people = 0;
        let mut current: Option<Restart> = None;
        let result = loop {
            match receiver.recv() {
                Ok(Loaded::Start { end: log_end, .. }) => end = Some(log_end),
                Ok(Loaded::Workspace {
                    id,
                    segments,
                    members,
                }) => {
                    if let Some(done) = current.take() {
                        people += done.people;
                        self.engines.insert(done.workspace_id, done.into_engine());
                    }
                    if self.forgotten.contains(&id) {
                        continue;
                    }
                    current = Some(match self.engines.remove(&id) {
                        Some(engine) => Restart::extend(id, engine, segments, members),
                        // A workspace this engine has not met: its segments as stored now.
                        None => Restart::new(id, segments, members, now),
                    });
                }
                Ok(Loaded::People(chunk)) => {
                    if let Some(workspace) = &mut current {
                        workspace.load(chunk, now);
                    }
                }
                Ok(Loaded::Log(..)) => {}
                Ok(Loaded::Done(result)) => break result,
                Err(_) => break Err(StoreError::Panicked("the partitions' read stopped".into())),
            }
        };
        if let Some(done) = current.take() {
            people += done.people;
            self.engines.insert(done.workspace_id, done.into_engine());
        }
        result?;
        let end =
            end.ok_or_else(|| StoreError::Backend("the partitions' read began nothing".into()))?;
        Ok((end, people))
    }

    /// Stores the differences between the engines' and the stored memberships of the people
    /// of the partitions taken over whose position the engines reached.
    fn take_over(&mut self, now: i64) {
        let (ready, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.takeovers)
            .into_iter()
            .partition(|(after, _)| *after <= self.position);
        self.takeovers = later;
        let partitions: std::collections::HashSet<u16> = ready
            .into_iter()
            .flat_map(|(_, partitions)| partitions)
            .collect();
        // This node's own changes still queued are stored first, so they are counted.
        if let Err(error) = self.store.background_barrier_blocking() {
            tracing::error!(error = %error, "cannot take over partitions");
            return;
        }
        let workspaces: Vec<WorkspaceId> = self.engines.keys().copied().collect();
        for workspace_id in workspaces {
            let (stored, building) = match self.store.read_blocking(move |r| {
                // Segments whose build is not marked finished: a node building one died, or is
                // building it still. Their differences are build entries, which start no
                // campaign, not live ones.
                let building: std::collections::HashSet<SegmentId> = r
                    .segments(workspace_id)?
                    .into_iter()
                    .filter(|segment| segment.state == SegmentState::Build)
                    .map(|segment| segment.id)
                    .collect();
                Ok((r.segment_members(workspace_id)?, building))
            }) {
                Ok(read) => read,
                Err(error) => {
                    tracing::error!(error = %error, "cannot read stored memberships to take over partitions");
                    continue;
                }
            };
            let mine = |person: i64| partitions.contains(&partition_of(workspace_id, person));
            let stored: std::collections::BTreeSet<(SegmentId, i64)> = stored
                .into_iter()
                .map(|(segment, person)| (segment, person.get()))
                .filter(|(_, person)| mine(*person))
                .collect();
            let Some(engine) = self.engines.get(&workspace_id) else {
                continue;
            };
            let mut changes = Vec::new();
            for (segment_id, _) in engine.segments().filter(|(_, source)| source.is_some()) {
                let current: std::collections::BTreeSet<i64> = engine
                    .members(segment_id)
                    .filter(|person| mine(*person))
                    .collect();
                let building = building.contains(&segment_id);
                let unstored = &self.unstored;
                let origin = |person: i64, entered: bool| {
                    if building {
                        herald_segment_engine::Origin::Build
                    } else {
                        unstored.origin_of(workspace_id, segment_id, person, entered)
                    }
                };
                for person in &current {
                    if !stored.contains(&(segment_id, *person)) {
                        let origin = origin(*person, true);
                        changes.push(taken_over(segment_id, *person, true, now, origin));
                    }
                }
                for (_, person) in stored.range((segment_id, i64::MIN)..=(segment_id, i64::MAX)) {
                    if !current.contains(person) {
                        let origin = origin(*person, false);
                        changes.push(taken_over(segment_id, *person, false, now, origin));
                    }
                }
            }
            tracing::info!(
                workspace_id = workspace_id.get(),
                partitions = partitions.len(),
                changes = changes.len(),
                "partitions taken over"
            );
            self.persist(workspace_id, &changes);
        }
        self.unstored
            .forget(|partition| partitions.contains(&partition));
    }

    /// Brings a manual segment's members in the engine to the stored ones, which the node that
    /// changed them stored before it announced them; the owners store what that does to the
    /// segments derived from it.
    fn follow_manual(&mut self, workspace_id: WorkspaceId, segment_id: SegmentId, now: i64) {
        let stored = match self
            .store
            .read_blocking(move |r| r.segment_members(workspace_id))
        {
            Ok(stored) => stored,
            Err(error) => {
                tracing::error!(error = %error, "cannot read a manual segment's members another node changed");
                return;
            }
        };
        let wanted: std::collections::BTreeSet<i64> = stored
            .into_iter()
            .filter(|(id, _)| *id == segment_id)
            .map(|(_, person)| person.get())
            .collect();
        let Some(engine) = self.engines.get_mut(&workspace_id) else {
            return;
        };
        let current: std::collections::BTreeSet<i64> = engine.members(segment_id).collect();
        let mut changes = Vec::new();
        for person in wanted.difference(&current) {
            changes.extend(engine.add_to_manual(segment_id, *person, now));
        }
        for person in current.difference(&wanted) {
            changes.extend(engine.remove_from_manual(segment_id, *person, now));
        }
        changes.retain(|change| change.segment != segment_id);
        self.dirty = true;
        self.persist(workspace_id, &changes);
    }

    /// Brings a segment in the engine to what is stored (`None`: deleted), for an engine that
    /// follows the store: built when its definition differs from the one the engine holds.
    /// Whether the workspace's engine holds the segment with this definition (`None`: manual).
    fn holds(
        &self,
        workspace_id: WorkspaceId,
        segment_id: SegmentId,
        definition: Option<&serde_json::Value>,
    ) -> bool {
        self.engines.get(&workspace_id).is_some_and(|engine| {
            engine
                .segments()
                .any(|(id, source)| id == segment_id && source == definition)
        })
    }

    fn follow_segment(
        &mut self,
        workspace_id: WorkspaceId,
        segment_id: SegmentId,
        row: Option<SegmentRow>,
        manual_members: bool,
        now: i64,
    ) {
        let held = self.engines.get(&workspace_id).and_then(|engine| {
            engine
                .segments()
                .find(|(id, _)| *id == segment_id)
                .map(|(_, source)| source.cloned())
        });
        if held == Some(None) && row.as_ref().is_some_and(|row| row.definition.is_none()) {
            // A resync compares definitions only: reading every manual segment's members
            // every 30 s would cost more than the notifications it stands in for.
            if manual_members {
                self.follow_manual(workspace_id, segment_id, now);
            }
            return;
        }
        let Some(row) = row else {
            if held.is_some()
                && let Some(engine) = self.engines.get_mut(&workspace_id)
            {
                self.dirty = true;
                engine.remove_segment(segment_id);
            }
            return;
        };
        if held.as_ref() == Some(&row.definition) {
            return;
        }
        let definition = match row.definition.as_ref().map(Definition::parse).transpose() {
            Ok(definition) => definition,
            Err(error) => {
                tracing::error!(segment = segment_id.get(), error = %error, "a stored segment definition cannot be read; the engine leaves it out");
                return;
            }
        };
        self.dirty = true;
        // The node that was asked to build it marks it finished.
        self.build(row, definition, false, now);
    }

    /// Builds a segment. A manual one (no definition) exists from this command on, so that
    /// `add_customers` sent right after creating it finds it. A dynamic one is evaluated from the
    /// engine's own index: the engine holds every stored event of every person (the load reads
    /// them all, and every commit since reached it in order), so a build reads nothing else
    /// and never waits for the store.
    fn build(
        &mut self,
        segment: SegmentRow,
        definition: Option<Definition>,
        asked: bool,
        now: i64,
    ) {
        let manual = definition.is_none();
        let begin = Instant::now();
        let Some(engine) = self.engine_of(segment.workspace_id) else {
            return;
        };
        let changes = engine.set_segment(segment.id, definition, Vec::new(), now);
        let built = begin.elapsed();
        let changes = changes.into_vec();
        if manual {
            return;
        }
        self.build_seconds.record(built.as_secs_f64());
        self.persist(segment.workspace_id, &changes);
        tracing::info!(
            segment = segment.id.get(),
            changes = changes.len(),
            build_secs = built.as_secs_f64(),
            secs = begin.elapsed().as_secs_f64(),
            "segment built"
        );
        // The node that was asked to build it marks it finished (of nodes that share the
        // store, each stores the entries of its partitions as it builds the segment too).
        if asked {
            self.mark_finished(segment);
        }
    }

    /// Marks a segment's build finished, unless it was edited meanwhile: an edit starts
    /// another build, and only a build of the current version may mark it finished.
    fn mark_finished(&self, mut segment: SegmentRow) {
        segment.state = SegmentState::Finished;
        segment.progress = Some(100);
        let workspace_id = segment.workspace_id;
        let segment_id = segment.id;
        let _ =
            self.store
                .submit_blocking(move |tx| match tx.segment(workspace_id, segment_id)? {
                    Some(current)
                        if current.updated_at == segment.updated_at
                            && current.definition == segment.definition =>
                    {
                        segment.name = current.name;
                        segment.description = current.description;
                        tx.update_segment(&segment)
                    }
                    _ => Ok(()),
                });
    }

    /// Applies one batch of due deadlines in every workspace; returns whether more are due.
    fn advance_batch(&mut self) -> bool {
        let now = self.clock.now();
        let mut behind = false;
        let mut changes = Vec::new();
        let overdue = self
            .engines
            .values()
            .filter_map(Engine::earliest_due)
            .min()
            .map_or(0, |due| (now - due).max(0));
        self.deadline_lag.set(overdue as f64);
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
    fn persist(&mut self, workspace_id: WorkspaceId, changes: &[Change]) {
        // An engine that follows the store stores the changes of the people whose partition
        // this node owns, while it owns it and once it compared it with the store after taking
        // it over; the other owners store the rest, and the comparison what came before it.
        if self.follows {
            let now = self.clock.now();
            let mut mine = Vec::new();
            for change in changes {
                if stores_changes_of(
                    &self.owned,
                    &self.takeovers,
                    workspace_id,
                    change.person,
                    now,
                ) {
                    mine.push(change.clone());
                } else if self
                    .owned
                    .epochs
                    .contains_key(&partition_of(workspace_id, change.person))
                {
                    // Held, but lapsed or not yet compared: the comparison stores it later.
                    self.unstored.note(workspace_id, change);
                }
            }
            for chunk in mine.chunks(PERSIST_CHUNK) {
                self.persist_chunk(workspace_id, chunk);
            }
            return;
        }
        for chunk in changes.chunks(PERSIST_CHUNK) {
            self.persist_chunk(workspace_id, chunk);
        }
    }

    fn persist_chunk(&self, workspace_id: WorkspaceId, changes: &[Change]) {
        if changes.is_empty() {
            return;
        }
        let rows: Vec<_> = changes.iter().map(to_row).collect();
        let now = self.clock.now();
        // An owner stores only while the store still says it holds the people's partitions,
        // and keeps them from changing owner until the write commits (`hold_leases`): a node
        // that lost some of them without noticing (stalled past its leases, or it gave them up
        // since it computed these changes) stores the changes of the others only, and the new
        // owner's takeover stores the rest.
        let fence = self.follows.then(|| {
            let mut leases: Vec<Lease> = changes
                .iter()
                .filter_map(|change| {
                    let partition = partition_of(workspace_id, change.person);
                    let epoch = *self.owned.epochs.get(&partition)?;
                    Some(Lease { partition, epoch })
                })
                .collect();
            leases.sort_unstable();
            leases.dedup();
            (self.node.clone(), leases)
        });
        let fenced = move |tx: &mut dyn herald_store::StoreTx,
                           mut rows: Vec<herald_store::MembershipChange>|
              -> Result<Vec<herald_store::MembershipChange>, StoreError> {
            if let Some((node, leases)) = &fence {
                let held: PartitionSet = tx
                    .hold_leases(node, leases)?
                    .iter()
                    .map(|lease| lease.partition)
                    .collect();
                rows.retain(|row| held.holds(workspace_id, row.person_seq.get()));
            }
            Ok(rows)
        };
        let submitted = match self.triggers.clone() {
            None => self.store.submit_blocking(move |tx| {
                let rows = fenced(tx, rows)?;
                tx.record_membership_changes(workspace_id, &rows)
            }),
            Some(triggers) => {
                let notify = triggers.clone();
                self.store.submit_background_with_hook(
                    move |tx| {
                        let rows = fenced(tx, rows)?;
                        tx.record_membership_changes(workspace_id, &rows)?;
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

/// The changes adding `people` to (or removing them from) a manual segment makes, worked out
/// from the store for people this node's engine does not hold: a live person not yet stored as
/// a member enters, a stored member leaves.
fn manual_changes_in_store(
    store: &StoreHandle,
    workspace_id: WorkspaceId,
    segment_id: SegmentId,
    people: Vec<i64>,
    add: bool,
    now: i64,
) -> Result<Vec<Change>, StoreError> {
    if people.is_empty() {
        return Ok(Vec::new());
    }
    store.read_blocking(move |r| {
        let members: std::collections::HashSet<i64> = r
            .segment_members(workspace_id)?
            .into_iter()
            .filter(|(segment, _)| *segment == segment_id)
            .map(|(_, person)| person.get())
            .collect();
        let mut changes = Vec::new();
        for person in people {
            let member = members.contains(&person);
            let changes_now = if add {
                !member
                    && r.person_by_seq(workspace_id, herald_domain::PersonSeq::new(person))?
                        .is_some()
            } else {
                member
            };
            if changes_now {
                changes.push(Change {
                    segment: segment_id,
                    person,
                    entered: add,
                    at: now,
                    cause: herald_segment_engine::Cause::Manual,
                    origin: herald_segment_engine::Origin::Live,
                });
            }
        }
        Ok(changes)
    })
}

/// Removes a deleted segment's stored members and history, a chunk per background job.
fn purge(store: &StoreHandle, segment_id: SegmentId) {
    const CHUNK: usize = 256;
    store.submit_in_steps("remove a deleted segment's rows", move |tx| {
        tx.purge_segment(segment_id, CHUNK)
    });
}

/// Removes the engine log up to an image's position, a chunk per background job, so that a
/// long log never holds the writer for long.
fn trim_log(store: &StoreHandle, through: i64, shared: Option<(String, i64)>) {
    const CHUNK: usize = 512;
    store.submit_in_steps("trim the engine log", move |tx| {
        let through = trim_point(tx, through, shared.as_ref())?;
        Ok(tx.trim_engine_log(through, CHUNK)? == CHUNK)
    });
}

/// Up to where the log may be trimmed once this node's image holds it up to `through`: there,
/// or, of nodes that share the store (`shared`: this node's name and the time), no further
/// than every live node's image.
fn trim_point(
    tx: &mut dyn herald_store::StoreTx,
    through: i64,
    shared: Option<&(String, i64)>,
) -> Result<i64, StoreError> {
    match shared {
        Some((node, now)) => tx.log_trim_point(node, through, *now),
        None => Ok(through),
    }
}

/// A membership change found when taking a partition over: it happened while its former owner
/// could not store it, like one found at a restart. `origin` is `Build` for a segment whose
/// build its former owner did not finish.
fn taken_over(
    segment: SegmentId,
    person: i64,
    entered: bool,
    at: i64,
    origin: herald_segment_engine::Origin,
) -> Change {
    Change {
        segment,
        person,
        entered,
        at,
        cause: herald_segment_engine::Cause::Deadline,
        origin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_taken_over_stores_nothing_until_compared_with_the_store() {
        let workspace = WorkspaceId::new(1);
        let person = 7;
        let partition = partition_of(workspace, person);
        let owned = Owned {
            epochs: HashMap::from([(partition, 3)]),
            until: 100,
        };
        // Owned and compared: stored, while the leases last.
        assert!(stores_changes_of(&owned, &[], workspace, person, 50));
        assert!(!stores_changes_of(&owned, &[], workspace, person, 100));
        // Owned but not yet compared: nothing is stored, whichever takeover holds it.
        let pending = [(40, vec![partition.wrapping_add(1)]), (42, vec![partition])];
        assert!(!stores_changes_of(&owned, &pending, workspace, person, 50));
        // Another partition's takeover does not hold this one back.
        let others = [(40, vec![partition.wrapping_add(1)])];
        assert!(stores_changes_of(&owned, &others, workspace, person, 50));
        // Not owned: never.
        assert!(!stores_changes_of(
            &Owned::default(),
            &[],
            workspace,
            person,
            50
        ));
    }
}
