//! Herald's web UI, served by the same binary on the same port under `/ui/` (and `/`, which
//! sends a browser there). Pages are rendered on the server (askama: checked at compile time,
//! escaping on by default); htmx and a little plain JavaScript update parts of them. Handlers
//! call the same store and service functions as the APIs.
//!
//! Every page is sent with a Content-Security-Policy that allows scripts and styles from this
//! server only (no inline script), and is never framed.

mod assets;
mod auth;
mod builder;
mod chart;
mod editor;
mod error;
mod explain;
mod frames;
mod layout;
mod pages;
mod related;
mod state;
mod view;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Redirect;
use axum::routing::{get, post};

pub use auth::password::{MIN_PASSWORD_CHARS, PasswordError, hash as hash_password};
pub use pages::setup::setup_path;
pub use state::{UiSettings, UiState};

/// The form fields the segment builder posts for a definition (valid in the definition format),
/// for clients that post them themselves: the benchmark's live count.
pub fn segment_builder_fields(
    definition: &serde_json::Value,
) -> Result<Vec<(String, String)>, String> {
    builder::json::from_json(definition).map(|tree| builder::form::fields_of(&tree))
}

/// A campaign as the campaign editor's form fields (the ones the page would post), for clients
/// that post them themselves: the benchmark's message preview.
pub fn campaign_editor_fields(definition: &serde_json::Value) -> Vec<(String, String)> {
    editor::form::fields_of(&editor::json::from_definition(None, definition))
}

/// What every UI answer carries: scripts, styles and images from this server only, forms sent
/// to it only, never framed, never sniffed, and no referrer beyond it.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
                   object-src 'none'";

/// The UI's routes.
pub fn router(state: UiState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(pages::home::home))
        .route(
            "/ui/sign-in",
            get(pages::sign_in::show).post(pages::sign_in::submit),
        )
        .route("/ui/sign-out", post(pages::sign_in::sign_out))
        .route(
            "/ui/setup",
            get(pages::setup::show).post(pages::setup::submit),
        )
        .route("/ui/w/{id}", get(pages::home::workspace))
        .route("/ui/w/{id}/activity", get(pages::activity::list))
        .route("/ui/w/{id}/activity/{seq}", get(pages::activity::show))
        .route(
            "/ui/w/{id}/activity/{seq}/resend",
            post(pages::activity::resend),
        )
        .route("/ui/w/{id}/data-index", get(pages::data_index::events))
        .route("/ui/w/{id}/data-index/event", get(pages::data_index::event))
        .route(
            "/ui/w/{id}/data-index/attributes",
            get(pages::data_index::attributes),
        )
        .route("/ui/w/{id}/segments", get(pages::segments::list))
        .route("/ui/w/{id}/segments/new", get(pages::segment_builder::new))
        .route(
            "/ui/w/{id}/segments/builder",
            post(pages::segment_builder::change),
        )
        .route(
            "/ui/w/{id}/segments/builder/count",
            post(pages::segment_builder::live_count),
        )
        .route(
            "/ui/w/{id}/segments/save",
            post(pages::segment_builder::save),
        )
        .route(
            "/ui/w/{id}/segments/{segment}/edit",
            get(pages::segment_builder::edit),
        )
        .route(
            "/ui/w/{id}/segments/new-manual",
            post(pages::segment_members::create),
        )
        .route("/ui/w/{id}/segments/{segment}", get(pages::segments::show))
        .route(
            "/ui/w/{id}/segments/{segment}/progress",
            get(pages::segments::progress),
        )
        .route(
            "/ui/w/{id}/segments/{segment}/members",
            post(pages::segment_members::change).layer(axum::extract::DefaultBodyLimit::max(
                pages::segment_members::MAX_UPLOAD_BYTES,
            )),
        )
        .route("/ui/w/{id}/campaigns", get(pages::campaigns::list))
        .route(
            "/ui/w/{id}/campaigns/{campaign}",
            get(pages::campaigns::overview),
        )
        .route(
            "/ui/w/{id}/campaigns/{campaign}/trigger",
            get(pages::campaigns::trigger),
        )
        .route(
            "/ui/w/{id}/campaigns/{campaign}/state",
            post(pages::campaigns::set_state),
        )
        .route("/ui/w/{id}/campaigns/new", get(pages::campaign_editor::new))
        .route(
            "/ui/w/{id}/campaigns/{campaign}/edit",
            get(pages::campaign_editor::edit),
        )
        .route(
            "/ui/w/{id}/campaigns/editor",
            post(pages::campaign_editor::change),
        )
        .route(
            "/ui/w/{id}/campaigns/editor/preview",
            post(pages::campaign_editor::preview),
        )
        .route(
            "/ui/w/{id}/campaigns/editor/send-test",
            post(pages::campaign_editor::send_test),
        )
        .route(
            "/ui/w/{id}/campaigns/save",
            post(pages::campaign_editor::save),
        )
        .route(
            "/ui/w/{id}/campaigns/preview-frame/{token}",
            get(pages::campaign_editor::frame),
        )
        .route("/ui/w/{id}/settings", get(pages::settings::show))
        .route("/ui/w/{id}/settings/reveal", post(pages::settings::reveal))
        .route("/ui/w/{id}/send-event", post(pages::send_event::send_any))
        .route(
            "/ui/w/{id}/send-event/what-if",
            post(pages::what_if::what_if),
        )
        .route("/ui/w/{id}/people/pick", get(pages::send_event::pick))
        .route("/ui/w/{id}/people", get(pages::people::list))
        .route("/ui/w/{id}/people/search", get(pages::people::search))
        .route("/ui/w/{id}/people/{seq}", get(pages::people::profile))
        .route(
            "/ui/w/{id}/objects/{object_type}/{object_id}",
            get(pages::objects::show),
        )
        .route(
            "/ui/w/{id}/people/{seq}/{action}",
            get(pages::person_actions::confirm).post(pages::person_actions::act),
        )
        .route("/ui/assets/{file}", get(assets::serve))
        .route("/ui/{*rest}", axum::routing::any(error::no_page))
        .layer(axum::middleware::from_fn(error::html_errors))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

async fn security_headers(mut response: axum::response::Response) -> axum::response::Response {
    let headers = response.headers_mut();
    // A page with a policy of its own (the editor's email preview, framed by the UI) keeps it.
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        // Pages show private data: never kept by a shared cache or the back button's store.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
