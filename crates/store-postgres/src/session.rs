//! A thread with a connection of its own that serves one kind of command in order: the
//! claims on campaign runs and the partitions' leases each run on one, so that their session
//! (whose advisory locks, or whose transactions, are its own) never waits behind the writer.

use std::sync::mpsc as std_mpsc;

use herald_store::StoreError;

use crate::PostgresOptions;

/// The sending side of a session thread.
pub(crate) struct Session<C> {
    commands: std::sync::Mutex<std_mpsc::Sender<C>>,
}

impl<C: Send + 'static> Session<C> {
    /// Starts the thread `name`, which runs `serve` until every sender is gone; `serve`
    /// connects when it needs to (the first command), so that a store that never asks opens
    /// no connection.
    pub(crate) fn spawn(
        name: &str,
        options: &PostgresOptions,
        serve: fn(&PostgresOptions, &std_mpsc::Receiver<C>),
    ) -> Result<Self, StoreError> {
        let (commands, receiver) = std_mpsc::channel();
        let options = options.clone();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || serve(&options, &receiver))
            .map_err(|error| StoreError::Backend(format!("cannot start a thread: {error}")))?;
        Ok(Self {
            commands: std::sync::Mutex::new(commands),
        })
    }

    /// Queues a command; one sent after the thread ended is dropped, and its reply channel
    /// with it, so its caller hears that the store is closed.
    pub(crate) fn send(&self, command: C) {
        if let Ok(commands) = self.commands.lock() {
            let _ = commands.send(command);
        }
    }
}
