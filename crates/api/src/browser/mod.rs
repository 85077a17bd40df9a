//! The browser endpoints that `track.js` calls: write-only, authenticated by the workspace's
//! public site id alone, open to the allowed origins, rate limited per client address and per
//! workspace, and validated exactly like the Track API.

mod client_ip;
mod cors;
mod handlers;
mod input;
mod settings;
mod site;

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use herald_domain::{UnixSeconds, WorkspaceId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use settings::{AllowedOrigins, BrowserSettings, RateLimit};

use crate::rate_limit;
use crate::{ApiError, AppState};

/// The browser endpoints' settings and rate-limit state.
#[derive(Debug)]
pub struct Browser {
    settings: BrowserSettings,
    per_ip: rate_limit::Buckets<IpAddr>,
    per_site: rate_limit::Buckets<WorkspaceId>,
}

impl Browser {
    pub fn new(settings: BrowserSettings) -> Self {
        Self {
            per_ip: rate_limit::Buckets::new(settings.per_ip),
            per_site: rate_limit::Buckets::new(settings.per_site),
            settings,
        }
    }

    fn admit_address(&self, request: &Request, now: UnixSeconds) -> Result<(), ApiError> {
        // Without a known address (a router run without a listener) only the site limit holds.
        let Some(address) = client_ip::client_ip(request, self.settings.client_ip_header.as_ref())
        else {
            return Ok(());
        };
        self.per_ip
            .take(rate_limit::ip_key(address), now)
            .map_err(|seconds| {
                ApiError::rate_limited(
                    format!("too many requests from this address; retry in {seconds} seconds"),
                    seconds,
                )
            })
    }

    fn admit_site(&self, workspace_id: WorkspaceId, now: UnixSeconds) -> Result<(), ApiError> {
        self.per_site.take(workspace_id, now).map_err(|seconds| {
            ApiError::rate_limited(
                format!("too many requests for this site; retry in {seconds} seconds"),
                seconds,
            )
        })
    }
}

/// The browser routes. `routes.rs` puts them behind [`guard`], which needs the server's state.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::identify))
        .routes(routes!(handlers::events))
}

/// Checks the origin, answers preflights, applies the per-address limit, and adds the CORS
/// headers to every answer of an allowed origin, errors included.
pub(crate) async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let browser = state.browser();
    let origin = match cors::allow_origin(&browser.settings.allowed_origins, request.headers()) {
        Ok(origin) => origin,
        Err(error) => return error.into_response(),
    };
    if request.method() == Method::OPTIONS {
        return cors::preflight(origin);
    }
    let mut response = match browser.admit_address(&request, state.clock().now()) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    };
    cors::decorate(&mut response, origin);
    response
}
