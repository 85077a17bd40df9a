//! Shared state of the HTTP handlers.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use herald_domain::{Clock, WorkspaceId};
use herald_ingest::Ingest;
use herald_segments::Segments;
use herald_store::StoreHandle;

use crate::browser::{Browser, BrowserSettings};
use crate::intake::{Intake, IntakeSettings};

/// Facts about how this server is reached, for `GET /api/v1/accounts/region`.
#[derive(Debug, Clone, Default)]
pub struct ServerInfo {
    /// Whether the listener speaks TLS.
    pub tls: bool,
    /// Whether `--dev-clock` is on (and `/v1/_dev/clock` exists).
    pub dev_clock: bool,
}

/// What campaigns need at the HTTP edge.
#[derive(Clone, Debug)]
pub struct CampaignRuntime {
    /// The campaign calls (they tell the registry and the dispatcher of every change).
    pub service: herald_dispatch::Campaigns,
    /// Checks the signature of click-tracking links.
    pub tracking_key: Vec<u8>,
    pub public_url: String,
}

/// Everything a handler may use. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
    browser: Arc<Browser>,
    intake: Arc<Intake>,
}

#[derive(Debug)]
struct Inner {
    ingest: Ingest,
    segments: Segments,
    campaigns: CampaignRuntime,
    /// One Liquid setup for the whole server; it is built once because building it is not free.
    templates: herald_templates::Templates,
    info: ServerInfo,
    /// Credentials already checked, so that a request costs no key hashing or lookup. Keys never
    /// change once created, so entries never go stale.
    track_keys: KeyCache,
    app_keys: KeyCache,
    write_keys: KeyCache,
    /// Site ids of the browser endpoints, which are public and authenticate nothing else.
    site_ids: KeyCache,
}

/// Credentials (or site ids) already checked, and the workspace each belongs to. Each kind of
/// credential has a cache of its own, so that one kind never passes for another.
#[derive(Debug, Default)]
pub(crate) struct KeyCache(RwLock<HashMap<String, WorkspaceId>>);

impl KeyCache {
    pub(crate) fn get(&self, key: &str) -> Option<WorkspaceId> {
        self.0.read().ok()?.get(key).copied()
    }

    pub(crate) fn insert(&self, key: String, workspace_id: WorkspaceId) {
        if let Ok(mut keys) = self.0.write() {
            keys.insert(key, workspace_id);
        }
    }
}

impl AppState {
    /// Creates the state.
    pub fn new(
        ingest: Ingest,
        segments: Segments,
        campaigns: CampaignRuntime,
        info: ServerInfo,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                ingest,
                segments,
                campaigns,
                templates: herald_templates::Templates::new(),
                info,
                track_keys: KeyCache::default(),
                app_keys: KeyCache::default(),
                write_keys: KeyCache::default(),
                site_ids: KeyCache::default(),
            }),
            browser: Arc::new(Browser::new(BrowserSettings::default())),
            intake: Arc::new(Intake::new(IntakeSettings::default())),
        }
    }

    /// Replaces the default limits on work in progress and the per-key rate limits.
    pub fn with_intake(mut self, settings: IntakeSettings) -> Self {
        self.intake = Arc::new(Intake::new(settings));
        self
    }

    pub(crate) fn intake(&self) -> &Intake {
        &self.intake
    }

    /// Replaces the default settings of the browser endpoints (`track.js`).
    pub fn with_browser(mut self, settings: BrowserSettings) -> Self {
        self.browser = Arc::new(Browser::new(settings));
        self
    }

    pub(crate) fn browser(&self) -> &Browser {
        &self.browser
    }

    pub fn ingest(&self) -> &Ingest {
        &self.inner.ingest
    }

    pub fn templates(&self) -> &herald_templates::Templates {
        &self.inner.templates
    }

    pub fn campaigns(&self) -> &CampaignRuntime {
        &self.inner.campaigns
    }

    pub fn segments(&self) -> &Segments {
        &self.inner.segments
    }

    pub fn store(&self) -> &StoreHandle {
        self.inner.ingest.store()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        self.inner.ingest.clock()
    }

    pub fn info(&self) -> &ServerInfo {
        &self.inner.info
    }

    /// Track API credentials (`site_id:api_key`) already checked.
    pub(crate) fn track_keys(&self) -> &KeyCache {
        &self.inner.track_keys
    }

    /// App API keys already checked.
    pub(crate) fn app_keys(&self) -> &KeyCache {
        &self.inner.app_keys
    }

    /// Data Pipelines write keys already checked.
    pub(crate) fn write_keys(&self) -> &KeyCache {
        &self.inner.write_keys
    }

    /// Site ids of the browser endpoints already found.
    pub(crate) fn site_ids(&self) -> &KeyCache {
        &self.inner.site_ids
    }
}
