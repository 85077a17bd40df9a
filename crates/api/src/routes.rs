//! The route table: every route of the API, each registered from its handler's
//! `#[utoipa::path]` annotation, so that the OpenAPI document (`openapi/`) lists exactly what
//! is registered here, at the same paths and methods.
//!
//! A route added with axum's `.route` instead of `routes!` has no description; the coverage
//! test (`openapi/coverage.rs`) reads the routes the router really has and fails on any such
//! route that its allow-list does not name with a reason.

use axum::middleware;
use axum::routing::post;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::{
    AppState, app_api, assets, browser, campaigns, customer_messages, customer_profiles,
    customer_search, deliveries, health, import, objects, openapi, pipelines, segments, snippet,
    track_v1, track_v2, tracking, transactional, transactional_reports,
};

/// Every route. The browser routes are behind their guard (origin, preflight, per-address
/// limit) when a state is given; without one, for the document and the tests, which serve no
/// request, they are bare, which changes no path or method.
pub(crate) fn routes(state: Option<&AppState>) -> OpenApiRouter<AppState> {
    let browser = match state {
        Some(state) => browser::routes().layer(middleware::from_fn_with_state(
            state.clone(),
            browser::guard,
        )),
        None => browser::routes(),
    };
    OpenApiRouter::new()
        // Track API v1.
        .routes(routes!(track_v1::region))
        .routes(routes!(track_v1::identify, track_v1::delete_customer))
        .routes(routes!(track_v1::track))
        .routes(routes!(track_v1::add_device))
        .routes(routes!(track_v1::delete_device))
        .routes(routes!(track_v1::suppress))
        .routes(routes!(track_v1::unsuppress))
        .routes(routes!(track_v1::track_anonymous))
        .routes(routes!(track_v1::merge))
        .routes(routes!(track_v1::submit_form))
        .routes(routes!(track_v1::metrics))
        .routes(routes!(track_v1::push_events))
        .routes(routes!(segments::add_customers))
        .routes(routes!(segments::remove_customers))
        // Track API v2.
        .routes(routes!(track_v2::entity))
        .routes(routes!(track_v2::batch))
        .routes(routes!(import::step))
        .routes(routes!(import::status))
        // Data Pipelines API.
        .routes(routes!(pipelines::identify))
        .routes(routes!(pipelines::track))
        .routes(routes!(pipelines::page))
        .routes(routes!(pipelines::screen))
        .routes(routes!(pipelines::alias))
        .routes(routes!(pipelines::group))
        .routes(routes!(pipelines::batch))
        // App API: people.
        .routes(routes!(
            app_api::customers_by_email,
            customer_search::search
        ))
        .routes(routes!(customer_profiles::customers_attributes))
        .routes(routes!(customer_profiles::customer_attributes))
        .routes(routes!(app_api::customer_activities))
        .routes(routes!(customer_messages::customer_messages))
        .routes(routes!(objects::customer_relationships))
        .routes(routes!(segments::of_customer))
        // App API: objects.
        .routes(routes!(objects::object_types))
        .routes(routes!(objects::search))
        .routes(routes!(objects::object))
        .routes(routes!(objects::object_attributes))
        .routes(routes!(objects::object_relationships))
        // App API: activities and the data index.
        .routes(routes!(app_api::activities))
        .routes(routes!(app_api::data_index_events))
        // App API: segments.
        .routes(routes!(segments::create, segments::list))
        .routes(routes!(segments::preview))
        .routes(routes!(
            segments::get_one,
            segments::update,
            segments::remove
        ))
        .routes(routes!(segments::customer_count))
        .routes(routes!(segments::membership))
        .routes(routes!(segments::used_by))
        .routes(routes!(segments::explain))
        .routes(routes!(segments::history))
        // App API: campaigns and deliveries.
        .routes(routes!(campaigns::create, campaigns::list))
        .routes(routes!(
            campaigns::get_one,
            campaigns::update,
            campaigns::remove
        ))
        .routes(routes!(campaigns::start))
        .routes(routes!(campaigns::pause))
        .routes(routes!(campaigns::archive))
        .routes(routes!(campaigns::restore))
        .routes(routes!(deliveries::campaign_metrics))
        .routes(routes!(deliveries::list))
        .routes(routes!(deliveries::get_one))
        .routes(routes!(campaigns::render))
        // App API: transactional messages.
        .routes(routes!(transactional::send_email))
        .routes(routes!(transactional::send_push))
        .routes(routes!(transactional::list))
        .routes(routes!(transactional::get_one))
        .routes(routes!(transactional_reports::deliveries))
        .routes(routes!(transactional_reports::metrics))
        .routes(routes!(transactional::contents))
        .routes(routes!(transactional::update_content))
        // App API: the workspace's track.js snippet.
        .routes(routes!(snippet::show))
        // The links inside sent email.
        .routes(routes!(tracking::unsubscribe, tracking::unsubscribe_page))
        .routes(routes!(tracking::open_pixel))
        .routes(routes!(tracking::click))
        // The browser tracker and its endpoints.
        .routes(routes!(assets::track_js))
        .routes(routes!(assets::track_eu_js))
        .merge(browser)
        // Operations.
        .routes(routes!(health::alive))
        .routes(routes!(health::ready))
        .routes(routes!(openapi::serve))
        // Not public API: it exists only for tests, on a server started with `--dev-clock`, so
        // it is left out of the document (the coverage test's allow-list says so too).
        .route(
            DEV_CLOCK_PATH,
            post(app_api::set_dev_clock).get(app_api::get_dev_clock),
        )
}

/// The dev clock's path (`--dev-clock`), registered without a description.
pub(crate) const DEV_CLOCK_PATH: &str = "/v1/_dev/clock";
