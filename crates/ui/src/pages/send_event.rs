//! Send Event, the one dialog of a person's profile (the person fixed), a campaign's pages and
//! an event's Data Index page (the person picked by searching): the same check and ingest as
//! `POST /api/v1/customers/{id}/events`, so it starts campaigns and moves segments as an event
//! from the app would.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use herald_domain::{PersonSeq, WorkspaceId, limits};
use herald_ingest::Operation;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::render;
use super::what_if::WhatIfView;
use crate::auth::session::SignedIn;
use crate::error::UiError;
use crate::layout::Layout;
use crate::state::UiState;
use crate::view::WorkspaceView;

/// Reads the Event data field: empty is no data; anything else must be a JSON object.
fn event_data(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    if text.len() > limits::MAX_V1_BODY_BYTES {
        return Err(format!(
            "Event data is {} bytes; at most {} are taken.",
            text.len(),
            limits::MAX_V1_BODY_BYTES
        ));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err("Event data must be a JSON object, like {\"plan\": \"pro\"}.".into()),
        Err(error) => Err(format!(
            "Event data is not valid JSON: {} (line {}, column {}).",
            error
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or_default(),
            error.line(),
            error.column()
        )),
    }
}

/// Checks an event for a person of a workspace as the Track API would: `Ok(Err(message))` when
/// the checks refuse it.
pub(super) async fn checked(
    state: &UiState,
    workspace_id: WorkspaceId,
    seq: PersonSeq,
    name: &str,
    data: &str,
) -> Result<Result<Operation, String>, UiError> {
    let person = state
        .store()
        .read(move |r| r.person_by_seq(workspace_id, seq))
        .await?
        .ok_or(UiError::NotFound("person"))?;
    let data = match event_data(data) {
        Ok(data) => data,
        Err(error) => return Ok(Err(error)),
    };
    let mut body = Map::new();
    body.insert("name".into(), Value::String(name.to_owned()));
    body.insert("data".into(), data);
    // The person by their cio_id: the one the page chose, whatever their id or email.
    Ok(
        herald_ingest::validate::track(&format!("cio_{}", person.cio_id), &body)
            .map_err(|error| error.message),
    )
}

/// Sends an event to a person of a workspace the way the Track API would; `Ok(Err(message))`
/// when the checks refuse it (nothing is stored then).
async fn deliver(
    state: &UiState,
    workspace_id: WorkspaceId,
    seq: PersonSeq,
    name: &str,
    data: &str,
) -> Result<Result<(), String>, UiError> {
    let operation = match checked(state, workspace_id, seq, name, data).await? {
        Ok(operation) => operation,
        Err(error) => return Ok(Err(error)),
    };
    state.ingest().submit(workspace_id, vec![operation]).await?;
    Ok(Ok(()))
}

/// Where a sent event shows: the newest entry of the person's activity.
fn sent(user: &SignedIn, workspace_id: WorkspaceId, seq: PersonSeq, name: &str) -> Response {
    let sent = crate::auth::notice::query(user, "sent", name.trim());
    Redirect::to(&format!(
        "/ui/w/{workspace_id}/people/{seq}?{sent}#activity"
    ))
    .into_response()
}

/// The Send Event dialog: the person (fixed on a profile, else picked by searching), the event
/// name (prefilled where the page knows it) and the data.
pub struct SendDialog {
    pub csrf: String,
    pub workspace_id: WorkspaceId,
    pub open: bool,
    /// The page is about this person: no search.
    pub fixed: bool,
    pub person: Option<PersonSeq>,
    pub person_label: String,
    pub name: String,
    pub data: String,
    pub error: Option<String>,
    /// "What will this do?", once asked.
    pub what_if: Option<WhatIfView>,
}

impl SendDialog {
    pub fn new(user: &SignedIn, workspace_id: WorkspaceId, name: &str) -> Self {
        Self {
            csrf: user.session.csrf_token.clone(),
            workspace_id,
            open: false,
            fixed: false,
            person: None,
            person_label: String::new(),
            name: name.to_owned(),
            data: String::new(),
            error: None,
            what_if: None,
        }
    }

    /// The dialog shown again, open, with what was typed in it.
    pub fn reopened(user: &SignedIn, workspace_id: WorkspaceId, input: DialogInput) -> Self {
        Self {
            open: true,
            person: input.person.trim().parse::<PersonSeq>().ok(),
            person_label: input.person_query,
            name: input.name,
            data: input.data,
            ..Self::new(user, workspace_id, "")
        }
    }

    /// The dialog of a person's own profile.
    pub fn for_person(
        user: &SignedIn,
        workspace_id: WorkspaceId,
        seq: PersonSeq,
        label: &str,
    ) -> Self {
        Self {
            fixed: true,
            person: Some(seq),
            person_label: label.to_owned(),
            ..Self::new(user, workspace_id, "")
        }
    }
}

#[derive(Template)]
#[template(path = "send_event.html")]
pub(super) struct SendPage {
    pub layout: Layout,
    pub workspace: WorkspaceView,
    pub dialog: SendDialog,
}

#[derive(Deserialize)]
pub struct DialogInput {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub person: String,
    #[serde(default)]
    pub person_query: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub data: String,
}

/// `POST /ui/w/{id}/send-event`: the dialog's sending. A refusal shows the dialog again on a
/// page of its own, with what was typed and why.
pub async fn send_any(
    State(state): State<UiState>,
    user: SignedIn,
    Path(workspace_id): Path<WorkspaceId>,
    Form(input): Form<DialogInput>,
) -> Result<Response, UiError> {
    user.check_csrf(&input.csrf)?;
    let workspace = WorkspaceView::from(user.workspace(workspace_id)?);
    let person = input.person.trim().parse::<PersonSeq>().ok();
    let outcome = match person {
        Some(seq) => deliver(&state, workspace_id, seq, &input.name, &input.data).await?,
        None => Err("Choose a person: type part of their id or email, then pick them.".into()),
    };
    match (outcome, person) {
        (Ok(()), Some(seq)) => Ok(sent(&user, workspace_id, seq, &input.name)),
        (outcome, _) => {
            let dialog = SendDialog {
                error: outcome.err(),
                ..SendDialog::reopened(&user, workspace_id, input)
            };
            let mut response = render(&SendPage {
                layout: Layout::signed_in(&user, Some(workspace_id)),
                workspace,
                dialog,
            });
            *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
            Ok(response)
        }
    }
}

#[derive(Template)]
#[template(path = "person_picks.html")]
struct Picks {
    people: Vec<crate::view::PersonView>,
    query: String,
}

#[derive(Deserialize)]
pub struct PickQuery {
    #[serde(default)]
    person_query: String,
}

/// `GET /ui/w/{id}/people/pick?person_query=`: the people whose id or email starts with what was
/// typed, as options to pick (htmx swaps them under the search box).
pub async fn pick(
    State(state): State<UiState>,
    user: SignedIn,
    Path(workspace_id): Path<WorkspaceId>,
    Query(query): Query<PickQuery>,
) -> Result<Response, UiError> {
    user.workspace(workspace_id)?;
    let typed = query.person_query.trim().to_owned();
    let people = if typed.is_empty() {
        Vec::new()
    } else {
        let prefix = typed.clone();
        state
            .store()
            .read(move |r| r.search_people(workspace_id, &prefix, 8))
            .await?
    };
    Ok(render(&Picks {
        people: people.iter().map(crate::view::PersonView::from).collect(),
        query: typed,
    }))
}

#[cfg(test)]
mod tests {
    use super::event_data;

    #[test]
    fn event_data_is_an_object_or_nothing() {
        assert_eq!(event_data("  ").expect("empty"), serde_json::json!({}));
        assert_eq!(
            event_data("{\"a\": 1}").expect("an object"),
            serde_json::json!({"a": 1})
        );
        assert!(event_data("[1]").unwrap_err().contains("JSON object"));
        let error = event_data("{\"a\": 1,\n}").unwrap_err();
        assert!(error.contains("line 2, column 1"), "{error}");
    }
}
