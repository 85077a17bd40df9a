//! Wires campaigns into the server: the registry, the triggers given to ingest and to the
//! segment runner, and the dispatcher with its senders.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use herald_delivery::{
    EmailSender, NetworkGuard, PushConfig, PushSender, SmtpConfig, WebhookConfig, WebhookSender,
};
use herald_dispatch::{DispatchConfig, Dispatcher, Registry, Senders, Triggers};
use herald_domain::Clock;
use herald_store::StoreHandle;
use tokio::sync::Notify;

use crate::config::DeliverySettings;

/// Settings keys of the secrets generated on first start.
const SIGNING_SECRET_SETTING: &str = "webhook_signing_secret";
const TRACKING_KEY_SETTING: &str = "tracking_key";

/// What `serve` builds before the segment runner and ingest start.
pub struct Prepared {
    pub registry: Arc<Registry>,
    pub triggers: Arc<Triggers>,
    pub wake: Arc<Notify>,
}

/// Loads the campaigns and makes the triggers.
pub async fn prepare(store: &StoreHandle) -> anyhow::Result<Prepared> {
    let registry = Arc::new(Registry::new());
    {
        let (registry, store) = (registry.clone(), store.clone());
        tokio::task::spawn_blocking(move || registry.load(&store))
            .await
            .context("loading campaigns stopped")?
            .context("cannot load campaigns")?;
    }
    // Campaigns changed by other nodes on the same PostgreSQL database reach this one's
    // registry; on SQLite this node is the only one.
    registry.follow(store.clone());
    let wake = Arc::new(Notify::new());
    let triggers = Arc::new(Triggers::new(registry.clone(), wake.clone()));
    Ok(Prepared {
        registry,
        triggers,
        wake,
    })
}

/// Reads a generated secret, creating it on first use.
async fn secret(store: &StoreHandle, key: &'static str) -> anyhow::Result<String> {
    if let Some(existing) = store
        .read(move |r| r.setting(key))
        .await
        .context("cannot read settings")?
    {
        return Ok(existing);
    }
    let fresh = herald_ingest::workspaces::random_hex(32);
    let stored = fresh.clone();
    store
        .write(move |tx| tx.set_setting(key, &stored))
        .await
        .context("the store is unavailable")?
        .context("cannot save a generated secret")?;
    Ok(fresh)
}

/// Starts the dispatcher. Returns it and the click-tracking key.
pub async fn start_dispatcher(
    store: &StoreHandle,
    clock: Arc<dyn Clock>,
    prepared: &Prepared,
    settings: &DeliverySettings,
    public_url: String,
) -> anyhow::Result<(Dispatcher, Vec<u8>)> {
    let signing_secret = match &settings.webhook_signing_secret {
        Some(secret) => secret.clone(),
        None => secret(store, SIGNING_SECRET_SETTING).await?,
    };
    let tracking_key = secret(store, TRACKING_KEY_SETTING).await?.into_bytes();
    let guard = NetworkGuard::parse(&settings.webhook_allow_networks)
        .map_err(|message| anyhow::anyhow!("webhook_allow_networks: {message}"))?;
    let webhook = WebhookSender::new(WebhookConfig {
        timeout: Duration::from_secs(10),
        signing_secret: signing_secret.into_bytes(),
        guard,
    })
    .map_err(|error| anyhow::anyhow!("cannot set up webhooks: {error}"))?;
    let email = match &settings.smtp_url {
        None => None,
        Some(url) => Some(
            EmailSender::new(SmtpConfig {
                url: url.clone(),
                timeout: Duration::from_secs(30),
            })
            .map_err(|error| anyhow::anyhow!("smtp_url: {error}"))?,
        ),
    };
    let push = PushSender::new(PushConfig {
        gateway_url: settings.push_gateway_url.clone(),
        timeout: Duration::from_secs(10),
    })
    .map_err(|error| anyhow::anyhow!("push_gateway_url: {error}"))?;
    let dispatcher = Dispatcher::start(
        store.clone(),
        clock,
        prepared.registry.clone(),
        Senders {
            webhook,
            email,
            push,
        },
        DispatchConfig {
            public_url,
            tracking_key: tracking_key.clone(),
            max_attempts: settings.max_attempts,
            retry_base_seconds: settings.retry_base_seconds,
            concurrency: 256,
            crash_after_send: settings.crash_after_send,
        },
        prepared.wake.clone(),
    );
    Ok((dispatcher, tracking_key))
}
