//! The cloneable handle the rest of the server talks to the runner through.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use herald_domain::{Clock, SegmentId, WorkspaceId};
use herald_segment_engine::{Definition, Engine, Input};
use herald_store::{SegmentRow, StoreHandle};
use tokio::sync::{oneshot, watch};

use crate::follow::FollowOptions;
use crate::image::ImageSettings;
use crate::questions::{Answer, Asked, Question, Reply};
use crate::runner::Commit;
use crate::runner::{Command, Following, Query, Runner};
use crate::triggers::MembershipTriggers;
use crate::{EngineError, SegmentsError};

/// What a query sees: each workspace's engine.
pub struct RunnerView<'r> {
    pub engines: &'r mut HashMap<WorkspaceId, Engine>,
    pub store: &'r StoreHandle,
    pub now: i64,
    /// How many partitions this node owns now, for an engine that follows the store (0
    /// otherwise).
    pub owned_partitions: usize,
    /// The partitions whose people the engines hold: every one, but for an engine that holds
    /// its node's partitions only (`FollowOptions::own_partitions_only`).
    pub held_partitions: herald_store::PartitionSet,
}

/// What the ingest stage calls after each commit: the workspace, what the commit changed, and
/// its position in the engine log (when kept).
pub type Feed = Arc<dyn Fn(WorkspaceId, Vec<Input>, Option<i64>) + Send + Sync>;

/// How long a call waits for the engine to finish loading before it is told to retry: a small
/// workspace loads well within it, so that its callers never see the load.
const LOADING_WAIT: Duration = Duration::from_secs(2);
/// How long a question to every engine waits for the other nodes' answers.
const ANSWER_WAIT: Duration = Duration::from_secs(5);
/// How often it looks at the answers when no notice of one came.
const ANSWER_POLL: Duration = Duration::from_millis(50);
/// When it announces the question again, for a server that missed the first notice.
const RETELL_AFTER: Duration = Duration::from_secs(1);

/// A handle to the segment runner thread.
#[derive(Clone)]
pub struct Segments {
    sender: mpsc::Sender<Command>,
    loaded: watch::Receiver<bool>,
    /// The store and clock the service calls (`crate::service`) read and write through.
    pub(crate) store: StoreHandle,
    pub(crate) clock: Arc<dyn Clock>,
    /// For an engine that follows the store (`start_following`): wakes its log reader.
    follows: Option<Arc<std::sync::Mutex<mpsc::Sender<()>>>>,
    /// For an engine that follows the store: makes it renew its leases now.
    renew: Option<Arc<std::sync::Mutex<mpsc::Sender<()>>>>,
    /// For an engine that follows the store: its node's name in the leases.
    node: Option<String>,
    /// For an engine that follows the store: set when its node gives its leases up.
    stop_renewing: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// For an engine that follows the store: the partitions whose people it holds.
    held_now: Option<crate::held::HeldNow>,
    /// Whether the engine holds only the people of its node's partitions, so that a question
    /// about every person is asked of the other nodes' engines too (`questions`).
    asks_others: bool,
}

impl std::fmt::Debug for Segments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Segments")
    }
}

impl Segments {
    /// Starts the runner thread, which first loads every workspace's segments and people and
    /// applies what changed while the server was down; this returns at once, so that the
    /// server takes writes while the engine loads (they reach it in commit order once loaded).
    /// `triggers` hears every stored membership change.
    pub fn start(
        store: StoreHandle,
        clock: Arc<dyn Clock>,
        triggers: Option<Arc<dyn MembershipTriggers>>,
        image: Option<ImageSettings>,
    ) -> Result<Self, SegmentsError> {
        Self::start_with(store, clock, triggers, image, None)
    }

    /// Starts an engine that follows the store, for a node that shares it with others: once
    /// loaded it takes every input from the engine log, which every node's ingest appends to
    /// (so this node's ingest must not feed it, and must keep the log), and it learns of
    /// segments changed elsewhere from the store's change notifications. A query first waits
    /// until the engine holds everything committed before it was asked, on any node.
    /// The node takes its share of the partitions' leases (`options`), and stores the
    /// membership changes of the people of the partitions it owns, and only while it owns them.
    pub fn start_following(
        store: StoreHandle,
        clock: Arc<dyn Clock>,
        triggers: Option<Arc<dyn MembershipTriggers>>,
        image: Option<ImageSettings>,
        options: FollowOptions,
    ) -> Result<Self, SegmentsError> {
        Self::start_with(store, clock, triggers, image, Some(options))
    }

    fn start_with(
        store: StoreHandle,
        clock: Arc<dyn Clock>,
        triggers: Option<Arc<dyn MembershipTriggers>>,
        image: Option<ImageSettings>,
        follow: Option<FollowOptions>,
    ) -> Result<Self, SegmentsError> {
        let (sender, receiver) = mpsc::channel();
        let (loaded_sender, loaded) = watch::channel(false);
        let mut runner = Runner::new(
            store.clone(),
            clock.clone(),
            sender.clone(),
            triggers,
            loaded_sender,
            image,
        );
        let node = follow.as_ref().map(|options| options.node.clone());
        let stop_renewing = follow
            .as_ref()
            .map(|_| Arc::new(std::sync::atomic::AtomicBool::new(false)));
        let asks_others = follow
            .as_ref()
            .is_some_and(|options| options.own_partitions_only);
        let (follows, renew, held_now) = if let Some(options) = follow {
            let (wake, woken) = mpsc::channel();
            // An engine that loads everything holds every partition's people from the start.
            let held = crate::held::HeldNow::new(if options.own_partitions_only {
                herald_store::PartitionSet::default()
            } else {
                herald_store::PartitionSet::all()
            });
            runner.follow(Following {
                wake: woken,
                waker: wake.clone(),
                node: options.node.clone(),
                own_partitions_only: options.own_partitions_only,
                held_now: held.clone(),
            });
            // Subscribed before the load, so that no change after what it reads is missed.
            crate::follow::spawn_catalog(store.clone(), sender.clone());
            if options.own_partitions_only {
                crate::follow::spawn_questions(store.clone(), sender.clone(), options.node.clone());
            }
            // What the renewals give is taken once loaded (the queue waits meanwhile).
            let (renew, renewals) = mpsc::channel();
            crate::follow::spawn_leases(
                store.clone(),
                sender.clone(),
                clock.clone(),
                options,
                renewals,
                stop_renewing.clone().unwrap_or_default(),
                held.clone(),
            );
            (
                Some(Arc::new(std::sync::Mutex::new(wake))),
                Some(Arc::new(std::sync::Mutex::new(renew))),
                Some(held),
            )
        } else {
            (None, None, None)
        };
        std::thread::Builder::new()
            .name("herald-segments".into())
            .spawn(move || {
                runner.load();
                runner.run(&receiver);
            })
            .map_err(|error| SegmentsError::Thread(error.to_string()))?;
        Ok(Self {
            sender,
            loaded,
            store,
            clock,
            follows,
            renew,
            node,
            stop_renewing,
            held_now,
            asks_others,
        })
    }

    /// Whether this engine holds every person (it does unless it holds only its node's
    /// partitions), so that a read on its thread sees every member of a segment.
    pub fn holds_everyone(&self) -> bool {
        !self.asks_others
    }

    /// Tells whether the engine has loaded the stored history.
    pub fn is_loaded(&self) -> bool {
        *self.loaded.borrow()
    }

    /// Waits until the engine has loaded, for at most `LOADING_WAIT`.
    async fn wait_loaded(&self) -> Result<(), EngineError> {
        if self.is_loaded() {
            return Ok(());
        }
        let mut loaded = self.loaded.clone();
        match tokio::time::timeout(LOADING_WAIT, loaded.wait_for(|loaded| *loaded)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(EngineError::Stopped),
            Err(_) => Err(EngineError::Loading),
        }
    }

    /// Returns the function the ingest stage calls after each commit, with the workspace, what
    /// the commit changed and its position in the engine log (when kept).
    ///
    /// It runs in the writer's hooks, one call per write job. The jobs of one transaction reach
    /// the runner as one command, handed over once their last hook has run
    /// ([`herald_store::after_hooks`]): a command per job woke the runner's thread per job.
    pub fn feed(&self) -> Feed {
        feed_into(self.sender.clone())
    }

    /// Builds a new or edited segment from what the engine holds (its state is `build` until
    /// its memberships are stored and the runner marks it `finished`). `definition` is `None`
    /// for a manual segment.
    pub fn build(&self, segment: SegmentRow, definition: Option<Definition>) {
        let _ = self
            .sender
            .send(Command::Build(Box::new((segment, definition))));
    }

    /// For an engine that follows the store: brings `row`'s segment in the engine to it, ahead
    /// of what is asked next (nothing when the engine holds that definition already).
    pub(crate) fn know(&self, row: &SegmentRow) {
        if self.follows.is_some() {
            let _ = self.sender.send(Command::Catalog(
                row.workspace_id,
                row.id,
                Some(Box::new(row.clone())),
                false,
            ));
        }
    }

    /// Forgets a deleted segment.
    pub fn remove(&self, workspace_id: WorkspaceId, segment_id: SegmentId) {
        let _ = self.sender.send(Command::Remove(workspace_id, segment_id));
    }

    /// Runs `query` on the runner thread after everything sent before it, and returns its value;
    /// `EngineError::Loading` while the engine is still loading after a start.
    pub async fn query<T, F>(&self, query: F) -> Result<T, EngineError>
    where
        T: Send + 'static,
        F: FnOnce(&mut RunnerView<'_>) -> T + Send + 'static,
    {
        self.wait_loaded().await?;
        let end = match &self.follows {
            None => None,
            // Everything committed before this call, on any node, is in the log up to its end
            // now; the query runs once the engine has applied that much.
            Some(_) => Some(self.store.read(|r| r.engine_log_end()).await?),
        };
        self.query_after(end, query).await
    }

    /// Runs `query` once the engine holds the log up to `end` (for an engine that follows the
    /// store), or after everything sent before it.
    async fn query_after<T, F>(&self, end: Option<i64>, query: F) -> Result<T, EngineError>
    where
        T: Send + 'static,
        F: FnOnce(&mut RunnerView<'_>) -> T + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let query: Query = Box::new(move |view| {
            let _ = reply.send(query(view));
        });
        let command = match (&self.follows, end) {
            (Some(wake), Some(end)) => {
                if let Ok(wake) = wake.lock() {
                    let _ = wake.send(());
                }
                Command::QueryAfter(end, query)
            }
            _ => Command::Query(query),
        };
        self.sender
            .send(command)
            .map_err(|_| EngineError::Stopped)?;
        answer.await.map_err(|_| EngineError::Stopped)
    }

    /// Asks every engine `question` and puts their replies together: this node's engine, and,
    /// when it holds only the people of its node's partitions, the other nodes' engines
    /// through the store, until the answers cover every partition once
    /// (`EngineError::Unanswered` after `ANSWER_WAIT`). Every answer holds every write
    /// acknowledged before the call, on any node.
    pub(crate) async fn ask_engines(&self, question: Question) -> Result<Reply, EngineError> {
        self.wait_loaded().await?;
        let end = match &self.follows {
            None => None,
            Some(_) => Some(self.store.read(|r| r.engine_log_end()).await?),
        };
        let asked = question.clone();
        let own = self
            .query_after(end, move |view| Answer {
                partitions: view.held_partitions.iter().collect(),
                reply: asked.reply(view),
            })
            .await?;
        if !self.asks_others || own.partitions.len() == usize::from(herald_store::PARTITIONS) {
            return question.merge(vec![own.reply]).ok_or(EngineError::Loading);
        }
        // Subscribed before asking, so that no answer's notice is missed.
        let mut heard = self.store.subscribe_changes();
        let body = serde_json::to_vec(&Asked {
            position: end.unwrap_or(0),
            question: question.clone(),
        })
        .map_err(|error| herald_store::StoreError::Backend(error.to_string()))?;
        let node = self.node.clone().unwrap_or_default();
        let now = self.clock.now();
        let id = self
            .store
            .write(move |tx| tx.ask_engines(&node, &body, now))
            .await??;
        let asked_at = tokio::time::Instant::now();
        let deadline = asked_at + ANSWER_WAIT;
        let mut told_again = false;
        let replies = loop {
            let answers = self.store.read(move |r| r.engine_answers(id)).await?;
            let mut all = vec![own.clone()];
            all.extend(
                answers
                    .iter()
                    .filter_map(|(_, body)| serde_json::from_slice::<Answer>(body).ok()),
            );
            if let Some(replies) = crate::questions::cover(&all) {
                break replies;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(EngineError::Unanswered);
            }
            // A server whose listener was reconnecting missed the notice: it is told once more.
            if !told_again && asked_at.elapsed() >= RETELL_AFTER {
                told_again = true;
                let _ = self.store.submit_blocking(move |tx| {
                    tx.announce(herald_store::StoreChange::Question { id })
                });
            }
            // The next answer's notice, or a look again shortly (a notice may be missed).
            let _ = tokio::time::timeout(ANSWER_POLL, async {
                while let Some(heard) = heard.as_mut() {
                    match heard.recv().await {
                        Ok(herald_store::StoreChange::Answer { question }) if question == id => {
                            return;
                        }
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    }
                }
            })
            .await;
        };
        // Questions are needed for seconds: whoever asks removes those older than a minute.
        let _ = self
            .store
            .submit_blocking(move |tx| tx.forget_engine_questions(now - 60).map(|_| ()));
        question.merge(replies).ok_or(EngineError::Loading)
    }

    /// Adds people to (or removes them from) a manual segment; returns once the change is
    /// committed.
    pub async fn set_manual(
        &self,
        workspace_id: WorkspaceId,
        segment_id: SegmentId,
        people: Vec<i64>,
        add: bool,
    ) -> Result<(), EngineError> {
        self.wait_loaded().await?;
        let (reply, done) = oneshot::channel();
        let command = Command::Manual {
            workspace_id,
            segment_id,
            people,
            add,
            reply,
        };
        self.sender
            .send(command)
            .map_err(|_| EngineError::Stopped)?;
        Ok(done.await.map_err(|_| EngineError::Stopped)??)
    }

    /// Returns once every membership change the engine made so far is stored, so that a read of
    /// the stored history sees them.
    pub async fn flush(&self) -> Result<(), EngineError> {
        // The runner queues its writes in order; after this query, all of them are queued.
        self.query(|_| ()).await?;
        Ok(self.store.background_barrier().await?)
    }

    /// Writes an image of the engines if they changed since the last one (at shutdown, so that
    /// the next start reads little); returns when written. Does nothing while loading.
    pub async fn write_image(&self) {
        if !self.is_loaded() {
            return;
        }
        let (reply, done) = oneshot::channel();
        if self.sender.send(Command::WriteImage(reply)).is_ok() {
            let _ = done.await;
        }
    }

    /// Drops the segments of a workspace another process deleted (`herald workspace delete`),
    /// and ignores whatever of it was still on its way; returns once the engine did, and the
    /// membership changes it stored before are committed. An engine still loading does it once
    /// loaded.
    pub async fn forget_workspace(&self, workspace_id: WorkspaceId) {
        let (reply, done) = oneshot::channel();
        if self
            .sender
            .send(Command::Forget(workspace_id, reply))
            .is_ok()
        {
            let _ = done.await;
        }
    }

    /// Makes an engine that follows the store renew its leases now, rather than at the next
    /// interval (after the dev clock moved); does nothing for one that does not.
    pub fn renew_leases(&self) {
        if let Some(renew) = &self.renew
            && let Ok(renew) = renew.lock()
        {
            let _ = renew.send(());
        }
    }

    /// Gives up this node's leases (at shutdown, after the engine stopped storing), so that the
    /// other nodes take its partitions over at their next renewal instead of after the leases
    /// ran out. Does nothing for an engine that does not follow the store.
    pub async fn release_leases(&self) {
        let Some(node) = &self.node else {
            return;
        };
        if let Some(stop) = &self.stop_renewing {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        // The engine stops storing first, so nothing is stored once another node may own.
        let (reply, done) = oneshot::channel();
        if self.sender.send(Command::Disown(reply)).is_ok() {
            let _ = done.await;
        }
        match self.store.partition_leases().release(node).await {
            Ok(Ok(_)) => tracing::info!(node = %node, "partition leases released"),
            Ok(Err(error)) => {
                tracing::error!(error = %error, "cannot release this node's partition leases; they run out instead")
            }
            Err(_) => {}
        }
    }

    /// Applies every deadline due by now; returns when done. The dev clock calls this after
    /// moving time, so that a test sees the result of the move at once.
    pub async fn sync(&self) {
        // Leases are held by the clock too: a node that shares the store renews at once, and
        // the engine takes what it owns now before it applies what is due.
        if let Some(node) = &self.node {
            let held = self
                .held_now
                .as_ref()
                .map(crate::held::HeldNow::get)
                .unwrap_or_default();
            match self
                .store
                .partition_leases()
                .renew(node, self.clock.now(), held)
                .await
            {
                Ok(Ok(ownership)) => {
                    let _ = self.sender.send(Command::Owned(ownership));
                }
                Ok(Err(error)) => {
                    tracing::error!(error = %error, "cannot renew this node's partition leases");
                }
                Err(_) => {}
            }
        }
        let (reply, done) = oneshot::channel();
        if self.sender.send(Command::Sync(reply)).is_ok() {
            let _ = done.await;
        }
    }
}

/// The feed of [`Segments::feed`], sending to the runner's queue `sender`.
fn feed_into(sender: mpsc::Sender<Command>) -> Feed {
    let sender = Arc::new(std::sync::Mutex::new(sender));
    let gathered: Arc<std::sync::Mutex<Vec<Commit>>> = Arc::default();
    Arc::new(move |workspace_id, inputs, position| {
        let first = match gathered.lock() {
            Ok(mut gathered) => {
                gathered.push((workspace_id, inputs, position));
                gathered.len() == 1
            }
            Err(_) => return,
        };
        // The first job of a transaction to call defers the hand-over, which takes what the
        // later ones gathered too.
        if !first {
            return;
        }
        let (gathered, sender) = (gathered.clone(), sender.clone());
        herald_store::after_hooks::defer(move || {
            let commits = gathered
                .lock()
                .map(|mut gathered| std::mem::take(&mut *gathered))
                .unwrap_or_default();
            if let Ok(sender) = sender.lock() {
                // A closed runner means the server is stopping; nothing is left to inform.
                let _ = sender.send(Command::Inputs(commits));
            }
        });
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(commands: &mpsc::Receiver<Command>) -> Vec<Vec<Commit>> {
        commands
            .try_iter()
            .map(|command| match command {
                Command::Inputs(commits) => commits,
                _ => panic!("only inputs are fed"),
            })
            .collect()
    }

    /// The jobs of one transaction reach the runner as one command once their hooks have all
    /// run, in commit order; outside a transaction's hooks each call is handed over at once.
    #[test]
    fn a_transactions_inputs_reach_the_runner_as_one_command() {
        let (sender, commands) = mpsc::channel();
        let feed = feed_into(sender);
        let (one, two) = (WorkspaceId::new(1), WorkspaceId::new(2));
        herald_store::after_hooks::run(|| {
            feed(one, vec![Input::Backfill], Some(7));
            feed(two, Vec::new(), Some(8));
            assert!(inputs(&commands).is_empty(), "nothing before the last hook");
        });
        let sent = inputs(&commands);
        assert_eq!(sent.len(), 1);
        let order: Vec<_> = sent[0].iter().map(|(ws, _, at)| (*ws, *at)).collect();
        assert_eq!(order, [(one, Some(7)), (two, Some(8))]);

        feed(one, Vec::new(), None);
        feed(two, Vec::new(), None);
        assert_eq!(inputs(&commands).len(), 2);
    }
}
