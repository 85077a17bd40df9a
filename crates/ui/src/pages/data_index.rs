//! Data Index: the Events tab lists every event name the workspace has seen, with its count,
//! first and last seen, data keys and 30-day volume; an event's page shows its volume day by
//! day and its recent activity with Resend on each entry. The Attributes tab lists the people's
//! attribute keys with how many people have each.

use herald_domain::WorkspaceId;
use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use herald_store::ActivityQuery;
use serde::Deserialize;

use super::render;
use crate::auth::session::SignedIn;
use crate::chart::{self, DayChart, Measure};
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
    pub chart: DayChart,
}

/// Each (name, type)'s counts by day over the chart's days up to `today`.
type Volumes = HashMap<(String, String), HashMap<i64, i64>>;

async fn volumes(
    state: &UiState,
    workspace_id: WorkspaceId,
    today: i64,
) -> Result<Volumes, UiError> {
    let days = state
        .store()
        .read(move |r| r.event_days(workspace_id, today - chart::DAYS + 1, today))
        .await?;
    let mut volumes: Volumes = HashMap::new();
    for day in days {
        volumes
            .entry((day.name, day.kind))
            .or_default()
            .insert(day.day, day.count);
    }
    Ok(volumes)
}

impl EventRow {
    fn new(entry: &herald_store::EventIndexEntry, today: i64, volumes: &Volumes) -> Self {
        let empty = HashMap::new();
        let counts = volumes
            .get(&(entry.name.clone(), entry.kind.clone()))
            .unwrap_or(&empty);
        Self {
            chart: DayChart::new(today, counts, Measure::Events),
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
    tab: &'static str,
}

/// `GET /ui/w/{id}/data-index`.
pub async fn events(
    State(state): State<UiState>,
    user: SignedIn,
    Path(workspace_id): Path<WorkspaceId>,
) -> Result<Response, UiError> {
    let workspace = WorkspaceView::from(user.workspace(workspace_id)?);
    let mut entries = state
        .store()
        .read(move |r| r.event_index(workspace_id))
        .await?;
    entries.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    let today = chart::day_of(state.now());
    let volumes = volumes(&state, workspace_id, today).await?;
    Ok(render(&IndexPage {
        layout: Layout::signed_in(&user, Some(workspace_id)),
        workspace,
        events: entries
            .iter()
            .map(|entry| EventRow::new(entry, today, &volumes))
            .collect(),
        tab: "events",
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
    Path(workspace_id): Path<WorkspaceId>,
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
    let today = chart::day_of(state.now());
    let volumes = volumes(&state, workspace_id, today).await?;
    Ok(render(&EventPage {
        layout: Layout::signed_in(&user, Some(workspace_id)),
        csrf: user.session.csrf_token.clone(),
        workspace,
        dialog: super::send_event::SendDialog::new(&user, workspace_id, &entry.name),
        event: EventRow::new(&entry, today, &volumes),
        recent: recent.iter().map(ActivityView::from).collect(),
        days: DAYS,
    }))
}

/// An attribute key as the Attributes tab shows it.
pub struct AttributeRow {
    pub key: String,
    pub people: usize,
    /// Of everyone in the workspace, rounded.
    pub percent: usize,
}

#[derive(Template)]
#[template(path = "data_index_attributes.html")]
struct AttributesPage {
    layout: Layout,
    workspace: WorkspaceView,
    attributes: Vec<AttributeRow>,
    people: usize,
    tab: &'static str,
}

/// `GET /ui/w/{id}/data-index/attributes`: the engine keeps the counts as people change, so
/// the page reads no profile.
pub async fn attributes(
    State(state): State<UiState>,
    user: SignedIn,
    Path(workspace_id): Path<WorkspaceId>,
) -> Result<Response, UiError> {
    let workspace = WorkspaceView::from(user.workspace(workspace_id)?);
    let counts = state.segments().attribute_counts(workspace_id).await?;
    // Everyone has a cio_id: its count is the number of people.
    let people = counts
        .iter()
        .find(|(key, _)| key == "cio_id")
        .map_or(0, |(_, count)| *count);
    let attributes = counts
        .into_iter()
        .filter(|(key, _)| key != "cio_id")
        .map(|(key, count)| AttributeRow {
            percent: (count * 100 + people / 2).checked_div(people).unwrap_or(0),
            key,
            people: count,
        })
        .collect();
    Ok(render(&AttributesPage {
        layout: Layout::signed_in(&user, Some(workspace_id)),
        workspace,
        attributes,
        people,
        tab: "attributes",
    }))
}
