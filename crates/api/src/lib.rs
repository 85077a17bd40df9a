//! Herald's HTTP edge.
//!
//! [`router`] builds the axum router for the Track API (`/api/v1`, `/api/v2`, Basic auth with
//! `site_id:api_key`), the App API (`/v1`, Bearer App API key), the browser endpoints of
//! `track.js` (`/api/v1/browser/{site_id}/…`, the public site id only) and the Data Pipelines
//! API (`/v1/identify`, `/v1/track`, `/v1/page`, `/v1/screen`, `/v1/alias`, `/v1/group`,
//! `/v1/batch`, Basic auth with the write key). The Data Pipelines paths share `/v1` with the
//! App API: no path is both, and a credential of the wrong kind gets a 401 that says which one
//! the path takes. Handlers only translate between HTTP and the ingest and store crates; every
//! failure leaves through [`ApiError`], which keeps Customer.io's body shapes and adds a
//! stable machine `code`.
//!
//! Every route is registered in `routes.rs` from its handler's `#[utoipa::path]` annotation,
//! which also describes it in the OpenAPI document served at `GET /openapi.json` (`openapi/`);
//! a unit test there fails when the router and the document disagree.

mod app_api;
mod assets;
mod auth;
mod body;
mod browser;
mod campaigns;
mod customer_messages;
mod customer_profiles;
mod customer_search;
mod deliveries;
mod error;
mod health;
mod import;
mod import_turns;
mod intake;
mod keys;
pub use keys::{KEYS_CHECKED_EVERY, watch_keys};
mod objects;
pub mod openapi;
mod paging;
mod pipelines;
mod rate_limit;
mod request_log;
mod routes;
pub use request_log::{log_request, log_request_lines};
mod segments;
pub mod snippet;
mod state;
mod track_v1;
mod track_v2;
mod tracking;
mod transactional;
mod transactional_reports;
mod unsupported;

pub use browser::{AllowedOrigins, BrowserSettings, RateLimit};
pub use error::ApiError;
pub use intake::IntakeSettings;
pub use state::{AppState, CampaignRuntime, ServerInfo};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;

/// The largest body any route reads; each route checks its own, smaller limit.
pub(crate) const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Builds the router with every route of the Track and App APIs. The routes are in
/// `routes.rs`, where each is registered from its OpenAPI description; only what applies to
/// every route belongs here.
pub fn router(state: AppState) -> Router {
    let (routes, _) = routes::routes(Some(&state)).split_for_parts();
    routes
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Outermost last: a panic anywhere becomes a JSON 500, every error answer is JSON, and
        // the limits on work in progress apply before any route reads a body.
        .layer(middleware::from_fn_with_state(state.clone(), intake::admit))
        .layer(middleware::from_fn(intake::json_errors))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            intake::panic_response,
        ))
        .with_state(state)
}
