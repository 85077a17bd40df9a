//! The cloneable handle the rest of the server talks to the runner through.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc;

use herald_domain::Clock;
use herald_segment_engine::{Definition, Engine, Input};
use herald_store::{SegmentRow, StoreError, StoreHandle};
use tokio::sync::oneshot;

use crate::SegmentsError;
use crate::runner::{Command, Runner};
use crate::triggers::MembershipTriggers;

/// What a query sees: each workspace's engine.
pub struct RunnerView<'r> {
    pub engines: &'r HashMap<i64, Engine>,
    pub store: &'r StoreHandle,
    pub now: i64,
}

/// A handle to the segment runner thread.
#[derive(Clone)]
pub struct Segments {
    sender: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Segments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Segments")
    }
}

impl Segments {
    /// Loads every workspace's segments and people, applies what changed while the server was
    /// down, and starts the runner thread. `triggers` hears every stored membership change.
    pub fn start(
        store: StoreHandle,
        clock: Arc<dyn Clock>,
        triggers: Option<Arc<dyn MembershipTriggers>>,
    ) -> Result<Self, SegmentsError> {
        let (sender, receiver) = mpsc::channel();
        let mut runner = Runner::new(store, clock, sender.clone(), triggers);
        runner.load_all()?;
        std::thread::Builder::new()
            .name("herald-segments".into())
            .spawn(move || runner.run(&receiver))
            .map_err(|error| SegmentsError::Thread(error.to_string()))?;
        Ok(Self { sender })
    }

    /// Returns the function the ingest stage calls after each commit.
    pub fn feed(&self) -> Arc<dyn Fn(i64, Vec<Input>) + Send + Sync> {
        let sender = std::sync::Mutex::new(self.sender.clone());
        Arc::new(move |workspace_id, inputs| {
            if let Ok(sender) = sender.lock() {
                // A closed runner means the server is stopping; nothing is left to inform.
                let _ = sender.send(Command::Inputs(workspace_id, inputs));
            }
        })
    }

    /// Evaluates a new or edited segment over the stored history (its state is `build` until
    /// the runner marks it `finished`). `definition` is `None` for a manual segment.
    pub fn build(&self, segment: SegmentRow, definition: Option<Definition>) {
        let _ = self.sender.send(Command::Build(segment, definition));
    }

    /// Forgets a deleted segment.
    pub fn remove(&self, workspace_id: i64, segment_id: i64) {
        let _ = self.sender.send(Command::Remove(workspace_id, segment_id));
    }

    /// Runs `query` on the runner thread after everything sent before it, and returns its value.
    pub async fn query<T, F>(&self, query: F) -> Option<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut RunnerView<'_>) -> T + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let command = Command::Query(Box::new(move |view| {
            let _ = reply.send(query(view));
        }));
        self.sender.send(command).ok()?;
        answer.await.ok()
    }

    /// Adds people to (or removes them from) a manual segment; returns once the change is
    /// committed.
    pub async fn set_manual(
        &self,
        workspace_id: i64,
        segment_id: i64,
        people: Vec<i64>,
        add: bool,
    ) -> Result<(), StoreError> {
        let (reply, done) = oneshot::channel();
        let command = Command::Manual {
            workspace_id,
            segment_id,
            people,
            add,
            reply,
        };
        self.sender.send(command).map_err(|_| StoreError::Closed)?;
        done.await.map_err(|_| StoreError::Closed)?
    }

    /// Returns once every membership change the engine made so far is stored, so that a read of
    /// the stored history sees them.
    pub async fn flush(&self, store: &StoreHandle) -> Result<(), StoreError> {
        // The runner queues its writes in order; after this query, all of them are queued.
        self.query(|_| ()).await.ok_or(StoreError::Closed)?;
        store.background_barrier().await
    }

    /// Applies every deadline due by now; returns when done. The dev clock calls this after
    /// moving time, so that a test sees the result of the move at once.
    pub async fn sync(&self) {
        let (reply, done) = oneshot::channel();
        if self.sender.send(Command::Sync(reply)).is_ok() {
            let _ = done.await;
        }
    }
}
