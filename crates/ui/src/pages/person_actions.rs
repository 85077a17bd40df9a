//! A profile's Options beyond Send Event: suppress and delete, each confirmed on a page of its
//! own first, and each done exactly as `POST /api/v1/customers/{id}/suppress` and
//! `DELETE /api/v1/customers/{id}` do it (the same operation through the same ingest).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use herald_domain::{PersonSeq, WorkspaceId};
use herald_ingest::Operation;
use serde::Deserialize;

use super::render;
use crate::auth::session::SignedIn;
use crate::error::UiError;
use crate::layout::Layout;
use crate::state::UiState;
use crate::view::{PersonView, WorkspaceView};

/// What can be done to a person from their profile.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Suppress,
    Delete,
}

impl Action {
    fn parse(text: &str) -> Result<Self, UiError> {
        match text {
            "suppress" => Ok(Self::Suppress),
            "delete" => Ok(Self::Delete),
            _ => Err(UiError::NotFound("action")),
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            Self::Suppress => "Suppress",
            Self::Delete => "Delete",
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Self::Suppress => "suppress",
            Self::Delete => "delete",
        }
    }

    /// What the confirmation says will happen.
    pub fn consequence(self) -> &'static str {
        match self {
            Self::Suppress => {
                "The profile is deleted and its id and email are suppressed: anything your app sends for them later is ignored until they are unsuppressed through the Track API."
            }
            Self::Delete => {
                "The profile is deleted, and the person leaves every segment. Your app can identify them again later, as a new profile."
            }
        }
    }
}

#[derive(Template)]
#[template(path = "person_confirm.html")]
struct ConfirmPage {
    layout: Layout,
    csrf: String,
    workspace: WorkspaceView,
    person: PersonView,
    action: Action,
}

/// `GET /ui/w/{id}/people/{seq}/{action}`: the confirmation.
pub async fn confirm(
    State(state): State<UiState>,
    user: SignedIn,
    Path((workspace_id, seq, action)): Path<(WorkspaceId, PersonSeq, String)>,
) -> Result<Response, UiError> {
    let workspace = WorkspaceView::from(user.workspace(workspace_id)?);
    let action = Action::parse(&action)?;
    let person = state
        .store()
        .read(move |r| r.person_by_seq(workspace_id, seq))
        .await?
        .ok_or(UiError::NotFound("person"))?;
    Ok(render(&ConfirmPage {
        layout: Layout::signed_in(&user, Some(workspace_id)),
        csrf: user.session.csrf_token.clone(),
        workspace,
        person: PersonView::from(&person),
        action,
    }))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /ui/w/{id}/people/{seq}/{action}`: does it, then shows the people list.
pub async fn act(
    State(state): State<UiState>,
    user: SignedIn,
    Path((workspace_id, seq, action)): Path<(WorkspaceId, PersonSeq, String)>,
    Form(input): Form<CsrfForm>,
) -> Result<Response, UiError> {
    user.check_csrf(&input.csrf)?;
    user.workspace(workspace_id)?;
    let action = Action::parse(&action)?;
    let person = state
        .store()
        .read(move |r| r.person_by_seq(workspace_id, seq))
        .await?
        .ok_or(UiError::NotFound("person"))?;
    let target = herald_ingest::validate::path_identifier(&format!("cio_{}", person.cio_id))
        .map_err(|error| UiError::Refused(error.message))?;
    let operation = match action {
        Action::Suppress => Operation::Suppress { target },
        Action::Delete => Operation::Delete { target },
    };
    state.ingest().submit(workspace_id, vec![operation]).await?;
    let label = PersonView::from(&person).title().to_owned();
    let done = crate::auth::notice::query(
        &user,
        "done",
        &format!("{}ed {label}", action.verb().trim_end_matches('e')),
    );
    Ok(Redirect::to(&format!("/ui/w/{workspace_id}/people?{done}")).into_response())
}
