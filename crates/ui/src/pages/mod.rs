//! One module per page or flow.

pub mod activity;
pub mod campaign_editor;
pub mod campaigns;
pub mod data_index;
pub mod home;
pub mod objects;
pub mod people;
pub mod person_actions;
pub mod segment_builder;
pub mod segment_members;
pub mod segments;
pub mod send_event;
pub mod settings;
pub mod setup;
pub mod sign_in;
pub mod what_if;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// A page as an HTML answer; a template that fails to render is logged and answered 500.
pub fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(error = %error, "cannot render a page");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
