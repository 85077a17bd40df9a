//! The signed-in user of a request, and the CSRF check of the forms they send.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use herald_domain::WorkspaceId;
use herald_store::{SessionRow, User, Workspace};

use super::{cookies, tokens};
use crate::error::UiError;
use crate::state::UiState;

/// A request from a signed-in user, with the workspaces they reach. A request without a valid
/// session is sent to the sign-in page and sees nothing else.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub session: SessionRow,
    pub workspaces: Vec<Workspace>,
}

impl SignedIn {
    /// Checks the CSRF token a state-changing form carried.
    pub fn check_csrf(&self, sent: &str) -> Result<(), UiError> {
        if tokens::same(sent, &self.session.csrf_token) {
            Ok(())
        } else {
            Err(UiError::Csrf)
        }
    }

    /// One of the user's workspaces; any other id is "not found", whether it exists or not.
    pub fn workspace(&self, id: WorkspaceId) -> Result<&Workspace, UiError> {
        self.workspaces
            .iter()
            .find(|w| w.id == id)
            .ok_or(UiError::NotFound("workspace"))
    }
}

impl FromRequestParts<UiState> for SignedIn {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &UiState) -> Result<Self, UiError> {
        let Some(token) = cookies::get(&parts.headers, cookies::SESSION) else {
            return Err(signed_out(parts));
        };
        let hash = tokens::hashed(&token);
        let now = state.now();
        let found = state
            .store()
            .read(move |r| {
                let Some((session, user)) = r.session(&hash, now)? else {
                    return Ok(None);
                };
                let workspaces = r.user_workspaces(user.id)?;
                Ok(Some(SignedIn {
                    user,
                    session,
                    workspaces,
                }))
            })
            .await?;
        found.ok_or_else(|| signed_out(parts))
    }
}

/// A request without a valid session, with the page to return to after signing in: a page
/// opened by itself, not a form's target or a part of a page fetched by htmx. Made only when
/// the session is missing, so that signed-in requests copy nothing.
fn signed_out(parts: &Parts) -> UiError {
    let page = parts.method == axum::http::Method::GET && !parts.headers.contains_key("hx-request");
    UiError::SignedOut(
        page.then(|| parts.uri.path_and_query().map(|p| p.as_str().to_owned()))
            .flatten(),
    )
}
