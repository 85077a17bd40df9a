//! Telling the other nodes on one database what changed (`herald_store::StoreChange`), with
//! `NOTIFY` in the transaction that makes the change and `LISTEN` on a connection of each
//! subscriber's store.
//!
//! PostgreSQL delivers a notification to every listening session when its transaction commits,
//! never for a rollback, and in commit order. A listener that loses its connection misses what
//! was sent meanwhile, so after each (re)connection it tells its subscribers to `Resync`; and,
//! as the fallback for a connection that silently stops delivering (a pooler in transaction
//! mode accepts `LISTEN` and drops it), it tells them to `Resync` every `POLL` as well.
//! The channel is named after the schema's MD5, so that schemas on one database do not hear
//! each other, within PostgreSQL's 63-byte limit on names.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use herald_store::{StoreChange, StoreError};
use postgres::fallible_iterator::FallibleIterator;
use tokio::sync::broadcast;

use crate::PostgresOptions;
use crate::pg::{Pg, backend};

/// The channel, computed by the server from the connection's schema on both sides.
const CHANNEL: &str = "'herald_' || md5(current_schema())";

/// How often a subscriber is told to reload everything, whatever was heard.
const POLL: Duration = Duration::from_secs(30);

/// How long the listener waits for a notification before it looks whether its store is gone.
const WAKE: Duration = Duration::from_millis(500);

/// How long the listener waits before it connects again.
const RECONNECT: Duration = Duration::from_millis(500);

/// Announces `change` with the transaction `pg` writes in.
pub(crate) fn notify(pg: &mut Pg<'_>, change: StoreChange) -> Result<(), StoreError> {
    pg.execute(
        &format!("SELECT pg_notify({CHANNEL}, $1)"),
        &[&change.encode()],
    )?;
    Ok(())
}

/// The subscribers of one store, and the thread that listens for them.
pub(crate) struct Changes {
    sender: broadcast::Sender<StoreChange>,
    /// The listener thread stops once this is dropped with the store.
    _alive: Arc<()>,
}

impl Changes {
    /// Starts listening on a connection of its own.
    pub(crate) fn spawn(options: &PostgresOptions) -> Result<Self, StoreError> {
        let (sender, _) = broadcast::channel(1024);
        let alive = Arc::new(());
        let watch = Arc::downgrade(&alive);
        let options = options.clone();
        let subscribers = sender.clone();
        std::thread::Builder::new()
            .name("herald-pg-listen".into())
            .spawn(move || listen(&options, &subscribers, &watch))
            .map_err(|error| StoreError::Backend(format!("cannot start a thread: {error}")))?;
        Ok(Self {
            sender,
            _alive: alive,
        })
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<StoreChange> {
        self.sender.subscribe()
    }
}

fn listen(
    options: &PostgresOptions,
    subscribers: &broadcast::Sender<StoreChange>,
    alive: &Weak<()>,
) {
    while alive.strong_count() > 0 {
        let mut client = match connect(options) {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(error = %error, "cannot listen for changes made by other nodes; retrying");
                std::thread::sleep(RECONNECT);
                continue;
            }
        };
        // Whatever changed before `LISTEN` took effect was not heard.
        let _ = subscribers.send(StoreChange::Resync);
        let mut polled = Instant::now();
        while alive.strong_count() > 0 {
            let heard = client.notifications().timeout_iter(WAKE).next();
            match heard {
                Ok(Some(notification)) => {
                    let _ = subscribers.send(StoreChange::decode(notification.payload()));
                }
                Ok(None) if client.is_closed() => {
                    tracing::warn!(
                        "the connection that listens for other nodes' changes closed; reconnecting"
                    );
                    break;
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(error = %error, "listening for other nodes' changes failed; reconnecting");
                    break;
                }
            }
            if polled.elapsed() >= POLL {
                polled = Instant::now();
                let _ = subscribers.send(StoreChange::Resync);
            }
        }
    }
}

fn connect(options: &PostgresOptions) -> Result<postgres::Client, StoreError> {
    let mut client = crate::connection::connect(options)?;
    let channel: String = client
        .query_one(&format!("SELECT {CHANNEL}"), &[])
        .map_err(backend)?
        .get(0);
    // The name is `herald_` and hexadecimal digits, so quoting it is enough.
    client
        .batch_execute(&format!("LISTEN \"{channel}\""))
        .map_err(backend)?;
    Ok(client)
}
