//! A handler's panic becomes a logged 500 in the API's JSON shape: one request's bug must never
//! take the connection, let alone the process, with it.

use std::any::Any;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// Builds the answer to a request whose handler panicked (for tower-http's `CatchPanicLayer`).
pub(crate) fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = herald_domain::panic_message(panic.as_ref());
    tracing::error!(panic = %message, "a request handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error: the server failed while handling this request; it has been logged",
    )
    .into_response()
}
