//! What every request passes before a handler sees it: the limits on work in progress (so a
//! flood is answered 503 quickly instead of taking memory without bound), the body read with its
//! size limit and deadline (and decompressed when it was sent gzipped), errors in the API's JSON
//! shape whoever produced them, and a handler's panic turned into a logged 500.

mod admission;
mod encoding;
mod json_errors;
mod panic;
mod settings;

pub use settings::IntakeSettings;

pub(crate) use admission::admit;
pub(crate) use json_errors::json_errors;
pub(crate) use panic::panic_response;

use std::sync::Arc;

use herald_domain::{UnixSeconds, WorkspaceId};
use tokio::sync::Semaphore;

use crate::ApiError;
use crate::rate_limit::Buckets;

/// The shared state of the limits: what is in progress now, and the per-key rate limits.
#[derive(Debug)]
pub struct Intake {
    settings: IntakeSettings,
    requests: Arc<Semaphore>,
    body_bytes: Arc<Semaphore>,
    track_keys: Option<Buckets<WorkspaceId>>,
    app_keys: Option<Buckets<WorkspaceId>>,
}

impl Intake {
    pub fn new(settings: IntakeSettings) -> Self {
        Self {
            requests: Arc::new(Semaphore::new(settings.max_requests.max(1))),
            body_bytes: Arc::new(Semaphore::new(
                settings.max_body_bytes.clamp(1, Semaphore::MAX_PERMITS),
            )),
            track_keys: settings.track_rate_limit.map(Buckets::new),
            app_keys: settings.app_rate_limit.map(Buckets::new),
            settings,
        }
    }

    /// Takes a token of the Track API rate limit of a workspace, when that limit is on.
    pub(crate) fn admit_track(
        &self,
        workspace_id: WorkspaceId,
        now: UnixSeconds,
    ) -> Result<(), ApiError> {
        admit_key(self.track_keys.as_ref(), workspace_id, now, "Track API")
    }

    /// Takes a token of the App API rate limit of a workspace's key, when that limit is on.
    pub(crate) fn admit_app(
        &self,
        workspace_id: WorkspaceId,
        now: UnixSeconds,
    ) -> Result<(), ApiError> {
        admit_key(self.app_keys.as_ref(), workspace_id, now, "App API")
    }
}

fn admit_key(
    buckets: Option<&Buckets<WorkspaceId>>,
    workspace_id: WorkspaceId,
    now: UnixSeconds,
    api: &str,
) -> Result<(), ApiError> {
    let Some(buckets) = buckets else {
        return Ok(());
    };
    buckets.take(workspace_id, now).map_err(|seconds| {
        ApiError::rate_limited(
            format!(
                "this workspace sent more {api} requests than its rate limit allows; retry in {seconds} seconds"
            ),
            seconds,
        )
    })
}
