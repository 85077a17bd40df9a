//! Data Index: every event name the workspace has seen, with its count, first and last seen and
//! data keys; an event's page shows its recent activity with Resend on each entry.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use herald_store::ActivityQuery;
use serde::Deserialize;

use super::render;
use crate::auth::session::SignedIn;
use crate::error::UiError;
use crate::layout::Layout;
use crate::state::UiState;
use crate::view::{ActivityView, WorkspaceView, moment};

/// Recent entries shown on an event's page.
const RECENT: usize = 50;
const DAYS: i64 = 30;

/// An event name as the index shows it.
pub struct EventRow {
    pub name: String,
    pub kind: String,
    pub count: i64,
    pub first_seen: String,
    pub last_seen: String,
    pub keys: String,
    /// The query string of its page.
    pub link: String,
}

impl From<&herald_store::EventIndexEntry> for EventRow {
    fn from(entry: &herald_store::EventIndexEntry) -> Self {
        Self {
            name: entry.name.clone(),
            kind: entry.kind.clone(),
            count: entry.count,
            first_seen: moment(entry.first_seen),
            last_seen: moment(entry.last_seen),
            keys: entry.attribute_keys.join(", "),
            link: form_urlencoded::Serializer::new(String::new())
                .append_pair("name", &entry.name)
                .append_pair("type", &entry.kind)
                .finish(),
        }
    }
}

#[derive(Template)]
#[template(path = "data_index.html")]
struct IndexPage {
    layout: Layout,
    workspace: WorkspaceView,
    events: Vec<EventRow>,
}

/// `GET /ui/w/{id}/data-index`.
pub async fn events(
    State(state): State<UiState>,
    user: SignedIn,
    Path(workspace_id): Path<i64>,
) -> Result<Response, UiError> {
    let workspace = WorkspaceView::from(user.workspace(workspace_id)?);
    let mut entries = state
        .store()
        .read(move |r| r.event_index(workspace_id))
        .await?;
    entries.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    Ok(render(&IndexPage {
        layout: Layout::signed_in(&user, Some(workspace_id)),
        workspace,
        events: entries.iter().map(EventRow::from).collect(),
    }))
}

#[derive(Template)]
#[template(path = "data_index_event.html")]
struct EventPage {
    layout: Layout,
    csrf: String,
    workspace: WorkspaceView,
    event: EventRow,
    recent: Vec<ActivityView>,
    days: i64,
    dialog: super::send_event::SendDialog,
}

#[derive(Deserialize)]
pub struct EventQuery {
    #[serde(default)]
    name: String,
    #[serde(default, rename = "type")]
    kind: String,
}

/// `GET /ui/w/{id}/data-index/event?name=&type=`.
pub async fn event(
    State(state): State<UiState>,
    user: SignedIn,
    Path(workspace_id): Path<i64>,
    Query(query): Query<EventQuery>,
) -> Result<Response, UiError> {
    let workspace = WorkspaceView::from(user.workspace(workspace_id)?);
    let since = state.now() - DAYS * 86_400;
    let (name, kind) = (query.name.clone(), query.kind.clone());
    let (entry, recent) = state
        .store()
        .read(move |r| {
            let Some(entry) = r
                .event_index(workspace_id)?
                .into_iter()
                .find(|e| e.name == name && e.kind == kind)
            else {
                return Ok(None);
            };
            let recent = r.activities(&ActivityQuery {
                workspace_id,
                person_seq: None,
                kind: Some(kind),
                name: Some(name),
                before_seq: None,
                since,
                limit: RECENT,
            })?;
            Ok(Some((entry, recent)))
        })
        .await?
        .ok_or(UiError::NotFound("event"))?;
    Ok(render(&EventPage {
        layout: Layout::signed_in(&user, Some(workspace_id)),
        csrf: user.session.csrf_token.clone(),
        workspace,
        dialog: super::send_event::SendDialog::new(&user, workspace_id, &entry.name),
        event: EventRow::from(&entry),
        recent: recent.iter().map(ActivityView::from).collect(),
        days: DAYS,
    }))
}
