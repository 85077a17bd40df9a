//! What the UI's handlers share. Cheap to clone.

use std::sync::Arc;

use herald_dispatch::Campaigns;
use herald_domain::Clock;
use herald_ingest::Ingest;
use herald_ingest::sealed_keys::KeySealer;
use herald_segments::Segments;
use herald_store::StoreHandle;

use crate::auth::limiter::SignInLimiter;
use crate::frames::Frames;

/// How the UI is served.
#[derive(Debug, Clone)]
pub struct UiSettings {
    /// Whether the listener speaks TLS: cookies are then `Secure`.
    pub secure_cookies: bool,
    /// How long a session lasts from sign-in.
    pub session_seconds: i64,
    /// Where browsers reach Herald, for the snippet Settings shows.
    pub public_url: String,
    /// Opens the workspace keys the store keeps sealed; without it Settings shows no key.
    pub sealer: Option<Arc<KeySealer>>,
}

impl Default for UiSettings {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            session_seconds: 14 * 24 * 3600,
            public_url: "http://127.0.0.1:8080".into(),
            sealer: None,
        }
    }
}

#[derive(Clone)]
pub struct UiState {
    inner: Arc<Inner>,
}

struct Inner {
    store: StoreHandle,
    clock: Arc<dyn Clock>,
    segments: Segments,
    ingest: Ingest,
    campaigns: Campaigns,
    settings: UiSettings,
    limiter: SignInLimiter,
    frames: Frames,
}

impl std::fmt::Debug for UiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UiState")
    }
}

impl UiState {
    pub fn new(
        store: StoreHandle,
        clock: Arc<dyn Clock>,
        segments: Segments,
        ingest: Ingest,
        campaigns: Campaigns,
        settings: UiSettings,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                segments,
                ingest,
                campaigns,
                settings,
                limiter: SignInLimiter::default(),
                frames: Frames::default(),
            }),
        }
    }

    pub fn store(&self) -> &StoreHandle {
        &self.inner.store
    }

    pub fn now(&self) -> i64 {
        self.inner.clock.now()
    }

    pub fn segments(&self) -> &Segments {
        &self.inner.segments
    }

    /// The same ingest the Track API writes through.
    pub fn ingest(&self) -> &Ingest {
        &self.inner.ingest
    }

    pub fn campaigns(&self) -> &Campaigns {
        &self.inner.campaigns
    }

    pub fn settings(&self) -> &UiSettings {
        &self.inner.settings
    }

    pub fn limiter(&self) -> &SignInLimiter {
        &self.inner.limiter
    }

    /// The campaign editor's email previews.
    pub fn frames(&self) -> &Frames {
        &self.inner.frames
    }
}
