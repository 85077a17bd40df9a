//! What a UI request that cannot be served answers: a page that says what happened and what to
//! do, never a stack trace or a JSON body.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use herald_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// No valid session: the request goes to the sign-in page, with the page it asked for
    /// (when it asked for one) to return to after signing in.
    #[error("signed out")]
    SignedOut(Option<String>),
    /// A state-changing request without this session's CSRF token.
    #[error("the form was missing its security token")]
    Csrf,
    #[error("no such {0}")]
    NotFound(&'static str),
    /// A setup link that was used to create the first user, or that a newer one replaced.
    #[error("the setup link no longer works")]
    SetupLinkSpent,
    /// An address opened with a method it does not take: a form's target opened as a page.
    #[error("wrong method")]
    WrongMethod,
    /// A request the checks refuse; the message says why.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Segments(#[from] herald_segments::SegmentsError),
    #[error(transparent)]
    Campaigns(#[from] herald_dispatch::CampaignsError),
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    css: String,
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            Self::SignedOut(asked) => {
                return Redirect::to(&crate::auth::next::sign_in_address(asked.as_deref()))
                    .into_response();
            }
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired",
                "Nothing was changed. Go back, reload the page and send the form again.",
            ),
            Self::Refused(message) => (StatusCode::BAD_REQUEST, "Not sent", message.as_str()),
            Self::WrongMethod => (
                StatusCode::METHOD_NOT_ALLOWED,
                "Not a page",
                "This address is where a form sends what you typed, so it cannot be opened by itself. Go back to the form, or to your workspaces.",
            ),
            Self::SetupLinkSpent => (
                StatusCode::NOT_FOUND,
                "This setup link no longer works",
                "It was used to create the first user, or a newer link replaced it: each start of herald serve prints a new one while no user exists. Sign in, or create a user on the server with: herald user create EMAIL --password-stdin",
            ),
            Self::NotFound(_) => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here, or it is not yours to see. Go back to your workspaces.",
            ),
            Self::Segments(herald_segments::SegmentsError::Engine(
                herald_segments::EngineError::Loading
                | herald_segments::EngineError::Stopped
                | herald_segments::EngineError::Unanswered,
            )) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Segments are loading",
                "Herald has just started and its segment engine is still reading the history. Reload this page in a few seconds.",
            ),
            Self::Segments(herald_segments::SegmentsError::PersonNotFound)
            | Self::Campaigns(herald_dispatch::CampaignsError::PersonNotFound) => (
                StatusCode::NOT_FOUND,
                "Not found",
                "This person is no longer here: they were deleted or merged into another. Go back to People.",
            ),
            Self::Segments(herald_segments::SegmentsError::NotFound) => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no such segment in this workspace. Go back to your workspace.",
            ),
            Self::Segments(
                herald_segments::SegmentsError::Invalid(message)
                | herald_segments::SegmentsError::InvalidDefinition(message),
            ) => (StatusCode::BAD_REQUEST, "Not changed", message.as_str()),
            Self::Campaigns(herald_dispatch::CampaignsError::NotFound) => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no such campaign in this workspace. Go back to the campaigns.",
            ),
            Self::Campaigns(herald_dispatch::CampaignsError::Invalid(message)) => {
                (StatusCode::BAD_REQUEST, "Not changed", message.as_str())
            }
            Self::Campaigns(herald_dispatch::CampaignsError::Engine(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Segments are loading",
                "Herald has just started and its segment engine is still reading the history. Try again in a few seconds.",
            ),
            Self::Campaigns(herald_dispatch::CampaignsError::Store(error)) => {
                tracing::error!(error = %error, "a UI page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Herald could not read or write its store. Try again; the server log says more.",
                )
            }
            Self::Segments(error) => {
                tracing::error!(error = %error, "a UI page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Herald could not read the segments. Try again; the server log says more.",
                )
            }
            Self::Store(error) => {
                tracing::error!(error = %error, "a UI page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Herald could not read or write its store. Try again; the server log says more.",
                )
            }
        };
        let page = ErrorPage {
            title,
            message,
            css: crate::assets::get().path("app.css").to_owned(),
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (
                status,
                [(header::CONTENT_TYPE, "text/plain")],
                message.to_owned(),
            )
                .into_response(),
        }
    }
}

/// Turns the answers the router and the extractors give on their own (a path part that is no
/// number, an unknown address, a method the address does not take, a form that cannot be read)
/// into the UI's pages: they come as plain text or with no body, which a browser shows as a
/// blank or raw page.
pub(crate) async fn html_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if html || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    match status {
        StatusCode::METHOD_NOT_ALLOWED => UiError::WrongMethod.into_response(),
        StatusCode::NOT_FOUND => UiError::NotFound("page").into_response(),
        StatusCode::BAD_REQUEST
        | StatusCode::UNPROCESSABLE_ENTITY
        | StatusCode::PAYLOAD_TOO_LARGE => {
            let text = axum::body::to_bytes(response.into_body(), 4096)
                .await
                .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
                .unwrap_or_default();
            if text.contains("Cannot parse") {
                // A path part that is no number names nothing here.
                UiError::NotFound("page").into_response()
            } else {
                UiError::Refused(format!("The request could not be read: {text}")).into_response()
            }
        }
        _ => response,
    }
}

/// `/ui/…` addresses no page answers.
pub(crate) async fn no_page() -> UiError {
    UiError::NotFound("page")
}
