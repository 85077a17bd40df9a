//! `herald serve`: opens the store, prepares the first workspace and the clock, and serves.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use herald_api::{AppState, CampaignRuntime, ServerInfo};
use herald_domain::{Clock, ManualClock, SystemClock, limits};
use herald_ingest::Ingest;
use herald_store::StoreHandle;
use tokio::net::TcpListener;

use crate::config::{DevClock, Settings};
use herald_ingest::sealed_keys::KeySealer;

use crate::workspace::{create, print_credentials};

/// The setting the dev clock's last reading is kept under; shared with the API.
const DEV_CLOCK_SETTING: &str = "dev_clock_now";

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    // Before anything records: the recorder is the process's one.
    let metrics = crate::metrics::install().context("cannot set up /metrics")?;
    let store = settings
        .store
        .open_server(settings.synchronous, settings.cluster)?;
    let clock = make_clock(&store, settings.dev_clock).await?;
    let sealer = Arc::new(Settings::key_sealer(&settings.store.data_dir)?);
    first_workspace(&store, sealer.clone(), clock.now()).await?;

    // Before anything listens, so that a stop asked for at any time after is an orderly one
    // (until here, while the store opens and migrates, it stops the process at once).
    let shutdown = shutdown_signal();
    let listener = TcpListener::bind(&settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let address = listener.local_addr()?;
    let scheme = if settings.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let public_url = settings
        .delivery
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{address}"));

    let prepared = crate::campaigns::prepare(&store).await?;
    let image_path = Settings::engine_image_path(&settings.store.data_dir);
    let image = settings
        .engine_image_every
        .map(|every| herald_segments::ImageSettings {
            path: image_path.clone(),
            every,
        });
    if image.is_none() {
        // Without images the engine log is not kept, so an image left from before could never
        // catch up again.
        match std::fs::remove_file(&image_path) {
            Ok(()) => {
                tracing::info!(path = %image_path.display(), "removed the engine image: images are off")
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error).context("cannot remove the old engine image"),
        }
    }
    let triggers: Arc<dyn herald_segments::MembershipTriggers> = prepared.triggers.clone();
    let segments = if settings.cluster {
        // One of several servers: the engine takes every input from the log all of them append
        // to, and this server stores the changes of the partitions it owns (docs/scaling.md).
        let options = herald_segments::FollowOptions {
            node: node_name(address),
            renew_every: LEASE_RENEWAL,
            own_partitions_only: settings.own_partitions_only,
        };
        tracing::info!(node = %options.node, "serving as one of several servers on the database");
        herald_segments::Segments::start_following(
            store.clone(),
            clock.clone(),
            Some(triggers),
            image.clone(),
            options,
        )
    } else {
        herald_segments::Segments::start(
            store.clone(),
            clock.clone(),
            Some(triggers),
            image.clone(),
        )
    }
    .context("cannot start the segment engine")?;
    let mut ingest = Ingest::new(store.clone(), clock.clone());
    if image.is_some() || settings.cluster {
        ingest = ingest.with_engine_log();
    }
    if !settings.cluster {
        let feed = segments.feed();
        ingest = ingest.with_feed(Arc::new(move |committed: herald_ingest::Committed| {
            feed(committed.workspace_id, committed.inputs, committed.position);
        }));
    }
    let ingest = ingest.with_triggers(prepared.triggers.clone());
    let (dispatcher, tracking_key) = crate::campaigns::start_dispatcher(
        &store,
        clock.clone(),
        &prepared,
        &settings.delivery,
        public_url.clone(),
    )
    .await?;
    let info = ServerInfo {
        tls: settings.tls.is_some(),
        dev_clock: settings.dev_clock != DevClock::Off,
    };
    let runtime = CampaignRuntime {
        service: herald_dispatch::Campaigns::new(
            store.clone(),
            clock.clone(),
            prepared.registry.clone(),
            dispatcher,
            segments.clone(),
        ),
        tracking_key,
        public_url: public_url.clone(),
    };
    let state = AppState::new(
        ingest,
        segments.clone(),
        runtime,
        info,
        settings.browser.clone(),
        settings.intake.clone(),
    );
    // Keys rotated and workspaces deleted by other processes reach this server (`keys.rs`).
    herald_api::watch_keys(state.clone());
    let ui = herald_ui::UiState::new(
        store.clone(),
        clock.clone(),
        segments.clone(),
        state.ingest().clone(),
        state.campaigns().service.clone(),
        herald_ui::UiSettings {
            // Behind a proxy that ends TLS the listener speaks plain HTTP, but browsers reach
            // the server over HTTPS, as its public URL says: the session must not travel in
            // the clear if anything ever links to the plain address.
            secure_cookies: settings.tls.is_some() || public_url.starts_with("https://"),
            public_url,
            sealer: Some(sealer),
            ..herald_ui::UiSettings::default()
        },
    );
    tokio::spawn(crate::metrics::upkeep(metrics.clone()));
    let metrics = crate::metrics::router(metrics, segments.clone());
    let retention_ingest = state.ingest().clone();
    let mut router = herald_api::router(state).merge(herald_ui::router(ui));
    match &settings.metrics_listen {
        None => router = router.merge(metrics),
        Some(address) => {
            let metrics_listener = TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address} for /metrics"))?;
            println!(
                "herald metrics on http://{}/metrics",
                metrics_listener.local_addr()?
            );
            tokio::spawn(async move {
                if let Err(error) = axum::serve(metrics_listener, metrics).await {
                    tracing::error!(error = %error, "the /metrics listener stopped");
                }
            });
        }
    }
    herald_api::log_request_lines(settings.log_requests);
    let router = router.layer(axum::middleware::from_fn(herald_api::log_request));
    tokio::spawn(purge_anonymous_events(store.clone(), clock.clone()));
    if let Some((days, every)) = settings.retention {
        tokio::spawn(crate::retention::run(
            retention_ingest.clone(),
            clock.clone(),
            days,
            every,
        ));
    }
    // Derived rows of data stored before their migration (day counts, the activity log's
    // blocks) are filled behind the server's back, a chunk per background job, so that an
    // upgrade does not keep it from listening.
    store.submit_in_steps("fill the derived rows of earlier data", |tx| {
        tx.backfill(BACKFILL_CHUNK)
    });

    let (acceptor, scheme) = match &settings.tls {
        Some((cert, key)) => (Some(crate::tls::acceptor(cert, key)?), "https"),
        None => (None, "http"),
    };
    println!("herald listening on {scheme}://{address}");
    // No user yet: a one-time link creates the first (a newer start makes a new one). Made
    // beside serving rather than before it: it is a write, and a writer busy at the start (an
    // upgrade's backfill, a table an operator holds locked) must not keep the server from
    // answering `/healthz` and `/readyz`.
    let setup_store = store.clone();
    tokio::spawn(async move {
        match herald_ui::setup_path(&setup_store).await {
            Ok(Some(path)) => {
                println!("open {scheme}://{address}{path} to create the web UI's first user");
            }
            Ok(None) => {}
            Err(error) => {
                tracing::error!(error = %error, "cannot prepare the web UI's setup link");
            }
        }
    });
    crate::connections::serve(
        listener,
        acceptor,
        router,
        settings.connections,
        shutdown,
        settings.shutdown_timeout,
    )
    .await;
    // The next start then reads the image and little of the log.
    segments.write_image().await;
    // The other servers take this one's partitions over at once.
    segments.release_leases().await;
    tracing::info!("herald stopped");
    Ok(())
}

/// How often a server of several renews its partitions' leases (they last
/// `herald_store::LEASE_SECONDS`).
const LEASE_RENEWAL: Duration = Duration::from_secs(5);

/// This server's name among several: its host, address and process, unique among live ones.
fn node_name(address: std::net::SocketAddr) -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "herald".to_owned());
    format!("{host}/{address}/{}", std::process::id())
}

/// Source rows per backfill job: about 3 ms of the writer's time each, so that a write that arrives
/// meanwhile waits little (20M events took 14 s in the background, docs/benchmarks.md).
const BACKFILL_CHUNK: usize = 4_000;

/// Builds the clock. A manual clock starts at the requested time, or at the last time it was
/// set before a restart if that is later, so a restart never moves it back.
async fn make_clock(store: &StoreHandle, dev_clock: DevClock) -> anyhow::Result<Arc<dyn Clock>> {
    let DevClock::On(start) = dev_clock else {
        return Ok(Arc::new(SystemClock));
    };
    let stored = store
        .read(|reader| reader.setting(DEV_CLOCK_SETTING))
        .await
        .context("cannot read the dev clock's last time")?
        .and_then(|text| text.parse::<i64>().ok());
    let requested = start.unwrap_or_else(|| SystemClock.now());
    let now = stored.map_or(requested, |stored| stored.max(requested));
    let text = now.to_string();
    store
        .write(move |tx| tx.set_setting(DEV_CLOCK_SETTING, &text))
        .await
        .context("the store is unavailable")?
        .context("cannot save the dev clock's time")?;
    tracing::info!(
        now,
        "the dev clock is on: time moves only through POST /v1/_dev/clock"
    );
    Ok(Arc::new(ManualClock::new(now)))
}

/// Creates the `default` workspace on first start and prints its credentials once.
async fn first_workspace(
    store: &StoreHandle,
    sealer: Arc<KeySealer>,
    now: i64,
) -> anyhow::Result<()> {
    // A workspace whose deletion was interrupted still holds its name: the store is not new.
    let existing = store
        .read(|reader| {
            Ok::<_, herald_store::StoreError>(
                reader.workspaces()?.len() + reader.deleted_workspaces()?.len(),
            )
        })
        .await
        .context("cannot list workspaces")?;
    if existing > 0 {
        return Ok(());
    }
    let store = store.clone();
    let credentials = tokio::task::spawn_blocking(move || create(&store, &sealer, "default", now))
        .await
        .context("workspace creation stopped")??;
    print_credentials(&credentials);
    Ok(())
}

/// Deletes anonymous events that were never attached to a person within 30 days. Reads the
/// injected clock, so with `--dev-clock` expiry follows the manual time.
async fn purge_anonymous_events(store: StoreHandle, clock: Arc<dyn Clock>) {
    let mut interval = tokio::time::interval(Duration::from_secs(60));
    loop {
        interval.tick().await;
        let before = clock.now() - limits::ACTIVITY_RETENTION_SECONDS;
        match store.write(move |tx| tx.purge_anonymous(before)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(purged)) => tracing::info!(purged, "expired anonymous events deleted"),
            Ok(Err(error)) | Err(error) => {
                tracing::warn!(error = %error, "cannot purge anonymous events")
            }
        }
    }
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is called, not when the
/// future is first polled: the accept loop may not poll it before a busy start's first
/// connections are served, and a SIGTERM meanwhile would kill the server without its orderly
/// stop (an integration test saw exactly that under load).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let terminate = signal(SignalKind::terminate());
        let interrupt = signal(SignalKind::interrupt());
        async move {
            let (Ok(mut terminate), Ok(mut interrupt)) = (terminate, interrupt) else {
                tracing::warn!(
                    "cannot listen for SIGTERM and SIGINT; stop the server with SIGKILL"
                );
                return std::future::pending().await;
            };
            tokio::select! {
                _ = terminate.recv() => {},
                _ = interrupt.recv() => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
