//! Shared state of the HTTP handlers.

use std::sync::Arc;

use herald_domain::Clock;
use herald_ingest::Ingest;
use herald_segments::Segments;
use herald_store::StoreHandle;

use crate::browser::{Browser, BrowserSettings};
use crate::intake::{Intake, IntakeSettings};
use crate::keys::Keys;

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

/// Everything a handler may use. Cheap to clone: one reference count, which every request
/// takes and drops several times (its layers and its handler each hold a copy), so it is one
/// shared count, not one per part.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    ingest: Ingest,
    segments: Segments,
    campaigns: CampaignRuntime,
    /// One Liquid setup for the whole server; it is built once because building it is not free.
    templates: herald_templates::Templates,
    info: ServerInfo,
    /// Credentials already checked, so that a request costs no key hashing or lookup, and what
    /// this server knows of keys changed by other processes (`keys.rs`).
    keys: Keys,
    /// The order of imports' steps in flight (`import_turns.rs`).
    import_turns: crate::import_turns::ImportTurns,
    browser: Browser,
    /// Limits on work in progress and the per-key rate limits.
    intake: Intake,
}

impl AppState {
    /// Creates the state, with the settings of the browser endpoints (`track.js`) and of the
    /// intake.
    pub fn new(
        ingest: Ingest,
        segments: Segments,
        campaigns: CampaignRuntime,
        info: ServerInfo,
        browser: BrowserSettings,
        intake: IntakeSettings,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                ingest,
                segments,
                campaigns,
                templates: herald_templates::Templates::new(),
                info,
                keys: Keys::default(),
                import_turns: Default::default(),
                browser: Browser::new(browser),
                intake: Intake::new(intake),
            }),
        }
    }

    pub(crate) fn intake(&self) -> &Intake {
        &self.inner.intake
    }

    pub(crate) fn browser(&self) -> &Browser {
        &self.inner.browser
    }

    pub fn ingest(&self) -> &Ingest {
        &self.inner.ingest
    }

    pub(crate) fn import_turns(&self) -> &crate::import_turns::ImportTurns {
        &self.inner.import_turns
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

    /// The keys already checked, and whether other processes changed any.
    pub(crate) fn keys(&self) -> &Keys {
        &self.inner.keys
    }
}
