//! "What will this do?" in the Send Event dialog: before sending, the segments the person would
//! enter or leave and, for each running campaign, whether the event would start it and why not.
//! The event is checked exactly as sending checks it, then `Campaigns::what_if_event` answers;
//! nothing is stored.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use herald_dispatch::WhatIf;
use herald_domain::{PersonSeq, WorkspaceId};
use herald_ingest::Operation;

use super::render;
use super::send_event::{DialogInput, SendDialog, SendPage, checked};
use crate::auth::session::SignedIn;
use crate::error::UiError;
use crate::layout::Layout;
use crate::state::UiState;
use crate::view::WorkspaceView;

/// The answer shown under the dialog: what the event would do, or why it cannot be sent.
pub enum WhatIfView {
    Refused(String),
    Outcome(WhatIf),
}

#[derive(Template)]
#[template(path = "send_what_if.html")]
struct Fragment {
    what_if: WhatIfView,
    workspace_id: WorkspaceId,
}

/// Works out the answer for the dialog's input.
async fn answer(
    state: &UiState,
    workspace_id: WorkspaceId,
    input: &DialogInput,
) -> Result<WhatIfView, UiError> {
    let Some(seq) = input.person.trim().parse::<PersonSeq>().ok() else {
        return Ok(WhatIfView::Refused(
            "Choose a person first: type part of their id or email, then pick them.".into(),
        ));
    };
    let operation = match checked(state, workspace_id, seq, &input.name, &input.data).await? {
        Ok(operation) => operation,
        Err(message) => return Ok(WhatIfView::Refused(message)),
    };
    let Operation::Track { event, .. } = operation else {
        return Err(UiError::Refused("This is not an event.".into()));
    };
    let outcome = state
        .campaigns()
        .what_if_event(workspace_id, seq, &event.name, &event.data)
        .await?;
    Ok(WhatIfView::Outcome(outcome))
}

/// `POST /ui/w/{id}/send-event/what-if`: htmx swaps the answer in under the dialog; without
/// JavaScript the button posts the form here and the answer comes on the dialog's own page,
/// with what was typed kept.
pub async fn what_if(
    State(state): State<UiState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(workspace_id): Path<WorkspaceId>,
    Form(input): Form<DialogInput>,
) -> Result<Response, UiError> {
    user.check_csrf(&input.csrf)?;
    let workspace = WorkspaceView::from(user.workspace(workspace_id)?);
    let what_if = answer(&state, workspace_id, &input).await?;
    if headers.contains_key("hx-request") {
        return Ok(render(&Fragment {
            what_if,
            workspace_id,
        }));
    }
    let dialog = SendDialog {
        what_if: Some(what_if),
        ..SendDialog::reopened(&user, workspace_id, input)
    };
    Ok(render(&SendPage {
        layout: Layout::signed_in(&user, Some(workspace_id)),
        workspace,
        dialog,
    }))
}
