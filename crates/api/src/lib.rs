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
mod intake;
mod keys;
pub use keys::{KEYS_CHECKED_EVERY, watch_keys};
mod objects;
mod paging;
mod pipelines;
mod rate_limit;
mod request_log;
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
use axum::routing::{delete, get, post, put};

/// The largest body any route reads; each route checks its own, smaller limit.
pub(crate) const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Builds the router with every route of the Track and App APIs.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/accounts/region", get(track_v1::region))
        .route(
            "/api/v1/customers/{identifier}",
            put(track_v1::identify).delete(track_v1::delete_customer),
        )
        .route(
            "/api/v1/customers/{identifier}/events",
            post(track_v1::track),
        )
        .route(
            "/api/v1/customers/{identifier}/devices",
            put(track_v1::add_device),
        )
        .route(
            "/api/v1/customers/{identifier}/devices/{device_id}",
            delete(track_v1::delete_device),
        )
        .route(
            "/api/v1/customers/{identifier}/suppress",
            post(track_v1::suppress),
        )
        .route(
            "/api/v1/customers/{identifier}/unsuppress",
            post(track_v1::unsuppress),
        )
        .route("/api/v1/events", post(track_v1::track_anonymous))
        .route("/api/v1/merge_customers", post(track_v1::merge))
        .route(
            "/api/v1/forms/{form_id}/submit",
            post(track_v1::submit_form),
        )
        .route(
            "/unsubscribe/{delivery_id}",
            post(tracking::unsubscribe).get(tracking::unsubscribe_page),
        )
        .route("/e/o/{delivery_id}", get(tracking::open_pixel))
        .route("/e/c/{delivery_id}", get(tracking::click))
        .route("/api/v1/metrics", post(track_v1::metrics))
        .route("/api/v1/push/events", post(track_v1::push_events))
        .route(
            "/api/v1/segments/{id}/add_customers",
            post(segments::add_customers),
        )
        .route(
            "/api/v1/segments/{id}/remove_customers",
            post(segments::remove_customers),
        )
        .route("/api/v2/entity", post(track_v2::entity))
        .route("/api/v2/batch", post(track_v2::batch))
        .route("/v1/identify", post(pipelines::identify))
        .route("/v1/track", post(pipelines::track))
        .route("/v1/page", post(pipelines::page))
        .route("/v1/screen", post(pipelines::screen))
        .route("/v1/alias", post(pipelines::alias))
        .route("/v1/group", post(pipelines::group))
        .route("/v1/batch", post(pipelines::batch))
        .route(
            "/v1/customers",
            get(app_api::customers_by_email).post(customer_search::search),
        )
        .route(
            "/v1/customers/attributes",
            post(customer_profiles::customers_attributes),
        )
        .route(
            "/v1/customers/{id}/attributes",
            get(customer_profiles::customer_attributes),
        )
        .route(
            "/v1/customers/{id}/activities",
            get(app_api::customer_activities),
        )
        .route(
            "/v1/customers/{id}/messages",
            get(customer_messages::customer_messages),
        )
        .route(
            "/v1/customers/{id}/relationships",
            get(objects::customer_relationships),
        )
        .route("/v1/object_types", get(objects::object_types))
        .route("/v1/objects", post(objects::search))
        .route(
            "/v1/objects/{object_type_id}/{object_id}",
            get(objects::object_attributes),
        )
        .route(
            "/v1/objects/{object_type_id}/{object_id}/attributes",
            get(objects::object_attributes),
        )
        .route(
            "/v1/objects/{object_type_id}/{object_id}/relationships",
            get(objects::object_relationships),
        )
        .route("/v1/activities", get(app_api::activities))
        .route("/v1/segments", post(segments::create).get(segments::list))
        .route("/v1/segments/preview", post(segments::preview))
        .route(
            "/v1/segments/{id}",
            get(segments::get_one)
                .put(segments::update)
                .delete(segments::remove),
        )
        .route(
            "/v1/segments/{id}/customer_count",
            get(segments::customer_count),
        )
        .route("/v1/segments/{id}/membership", get(segments::membership))
        .route("/v1/segments/{id}/used_by", get(segments::used_by))
        .route("/v1/segments/{id}/explain", get(segments::explain))
        .route("/v1/segments/{id}/history", get(segments::history))
        .route("/v1/customers/{id}/segments", get(segments::of_customer))
        .route(
            "/v1/campaigns",
            post(campaigns::create).get(campaigns::list),
        )
        .route(
            "/v1/campaigns/{id}",
            get(campaigns::get_one)
                .put(campaigns::update)
                .delete(campaigns::remove),
        )
        .route("/v1/campaigns/{id}/start", post(campaigns::start))
        .route("/v1/campaigns/{id}/pause", post(campaigns::pause))
        .route("/v1/campaigns/{id}/archive", post(campaigns::archive))
        .route("/v1/campaigns/{id}/restore", post(campaigns::restore))
        .route(
            "/v1/campaigns/{id}/metrics",
            get(deliveries::campaign_metrics),
        )
        .route("/v1/deliveries", get(deliveries::list))
        .route("/v1/deliveries/{id}", get(deliveries::get_one))
        .route("/v1/templates/render", post(campaigns::render))
        .route("/v1/send/email", post(transactional::send_email))
        .route("/v1/send/push", post(transactional::send_push))
        .route("/v1/transactional", get(transactional::list))
        .route("/v1/transactional/{id}", get(transactional::get_one))
        .route(
            "/v1/transactional/{id}/deliveries",
            get(transactional_reports::deliveries),
        )
        .route(
            "/v1/transactional/{id}/metrics",
            get(transactional_reports::metrics),
        )
        .route(
            "/v1/transactional/{id}/contents",
            get(transactional::contents),
        )
        .route(
            "/v1/transactional/{id}/content/{content_id}",
            axum::routing::put(transactional::update_content),
        )
        .route("/v1/data_index/events", get(app_api::data_index_events))
        .route(
            "/v1/_dev/clock",
            post(app_api::set_dev_clock).get(app_api::get_dev_clock),
        )
        .route("/assets/track.js", get(assets::track_js))
        .route("/assets/track-eu.js", get(assets::track_js))
        .route("/v1/browser/snippet", get(snippet::show))
        .merge(browser::routes(state.clone()))
        .route("/healthz", get(health::alive))
        .route("/readyz", get(health::ready))
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
