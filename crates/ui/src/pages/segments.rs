//! Segments: the list with each one's size, and a segment's page: its size now and over the
//! last 30 days, its definition, its members (paged, each linking to their profile) and a person
//! lookup that explains, condition by condition, why that person is in or out and when that will
//! change by time alone. Everything comes from `herald_segments::Segments`, as the App API's.

use herald_domain::{SegmentId, WorkspaceId};
use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use herald_store::{SegmentRow, SegmentState};
use serde::Deserialize;

use super::render;
use crate::auth::session::SignedIn;
use crate::chart::{self, DayChart, Measure};
use crate::error::UiError;
use crate::explain::{ExplainLine, lines};
use crate::layout::Layout;
use crate::state::UiState;
use crate::view::{PersonView, WorkspaceView, moment, pretty};

/// Members per page.
const PAGE: usize = 50;

/// A segment as the list shows it.
pub struct SegmentRowView {
    pub id: SegmentId,
    pub name: String,
    pub manual: bool,
    pub size: usize,
    /// "building 40%" while it is being built, else empty.
    pub building: String,
    pub updated: String,
}

fn building(row: &SegmentRow) -> String {
    if row.state == SegmentState::Build {
        match row.progress {
            Some(progress) => format!("building, {progress}%"),
            None => "building".to_owned(),
        }
    } else {
        String::new()
    }
}

#[derive(Template)]
#[template(path = "segments.html")]
struct ListPage {
    layout: Layout,
    workspace: WorkspaceView,
    segments: Vec<SegmentRowView>,
    csrf: String,
}

/// `GET /ui/w/{id}/segments`.
pub async fn list(
    State(state): State<UiState>,
    user: SignedIn,
    Path(workspace_id): Path<WorkspaceId>,
) -> Result<Response, UiError> {
    let workspace = WorkspaceView::from(user.workspace(workspace_id)?);
    let rows = state.segments().list(workspace_id).await?;
    let mut segments = Vec::with_capacity(rows.len());
    for row in rows {
        segments.push(SegmentRowView {
            size: state.segments().count(workspace_id, row.id).await?,
            building: building(&row),
            manual: row.definition.is_none(),
            updated: moment(row.updated_at),
            id: row.id,
            name: row.name,
        });
    }
    Ok(render(&ListPage {
        layout: Layout::signed_in(&user, Some(workspace_id)),
        csrf: user.session.csrf_token.clone(),
        workspace,
        segments,
    }))
}

/// The person lookup's answer.
pub struct Lookup {
    pub query: String,
    /// `None`: nobody has that id or email.
    pub person: Option<PersonView>,
    pub member: bool,
    pub next_change: String,
    pub lines: Vec<ExplainLine>,
}

/// What a change to a manual segment's people did.
pub enum Report {
    Refused(String),
    Done {
        add: bool,
        matched: usize,
        unmatched: Vec<String>,
    },
}

#[derive(Template)]
#[template(path = "segment.html")]
struct SegmentPage {
    layout: Layout,
    workspace: WorkspaceView,
    segment: SegmentRowView,
    description: String,
    definition: String,
    chart: DayChart,
    members: Vec<PersonView>,
    /// The cursor of the next page of members.
    next: Option<i64>,
    lookup: Option<Lookup>,
    report: Option<Report>,
    csrf: String,
}

#[derive(Deserialize, Default)]
pub struct SegmentQuery {
    after: Option<i64>,
    #[serde(default)]
    person: String,
}

/// `GET /ui/w/{id}/segments/{segment}?after=&person=`.
pub async fn show(
    State(state): State<UiState>,
    user: SignedIn,
    Path((workspace_id, id)): Path<(WorkspaceId, SegmentId)>,
    Query(query): Query<SegmentQuery>,
) -> Result<Response, UiError> {
    page(&state, &user, workspace_id, id, query, None).await
}

/// A segment's page, with what a change to its people just did, if anything.
pub async fn page(
    state: &UiState,
    user: &SignedIn,
    workspace_id: WorkspaceId,
    id: SegmentId,
    query: SegmentQuery,
    report: Option<Report>,
) -> Result<Response, UiError> {
    let workspace = WorkspaceView::from(user.workspace(workspace_id)?);
    let segments = state.segments();
    let row = segments.get(workspace_id, id).await?;
    let today = chart::day_of(state.now());
    let sizes: HashMap<i64, i64> = segments
        .sizes_by_day(workspace_id, id, today, chart::DAYS)
        .await?
        .into_iter()
        .collect();
    let page = segments
        .members_page(workspace_id, id, query.after, PAGE)
        .await?;
    let lookup = if query.person.trim().is_empty() {
        None
    } else {
        Some(
            match segments.person_typed(workspace_id, &query.person).await? {
                None => Lookup {
                    query: query.person.trim().to_owned(),
                    person: None,
                    member: false,
                    next_change: String::new(),
                    lines: Vec::new(),
                },
                Some(person) => {
                    let explanation = segments.explain(workspace_id, id, person.seq).await?;
                    Lookup {
                        query: query.person.trim().to_owned(),
                        person: Some(PersonView::from(&person)),
                        member: explanation.member,
                        next_change: explanation.next_change_at.map(moment).unwrap_or_default(),
                        lines: explanation
                            .condition
                            .as_ref()
                            .map(lines)
                            .unwrap_or_default(),
                    }
                }
            },
        )
    };
    Ok(render(&SegmentPage {
        layout: Layout::signed_in(user, Some(workspace_id)),
        csrf: user.session.csrf_token.clone(),
        report,
        workspace,
        segment: SegmentRowView {
            size: segments.count(workspace_id, id).await?,
            building: building(&row),
            manual: row.definition.is_none(),
            updated: moment(row.updated_at),
            id: row.id,
            name: row.name.clone(),
        },
        description: row.description.clone(),
        definition: row.definition.as_ref().map(pretty).unwrap_or_default(),
        chart: DayChart::new(today, &sizes, Measure::People),
        members: page.people.iter().map(PersonView::from).collect(),
        next: page.next,
        lookup,
    }))
}

#[derive(Template)]
#[template(path = "segment_progress.html")]
struct Progress {
    workspace_id: WorkspaceId,
    id: SegmentId,
    building: String,
}

/// `GET /ui/w/{id}/segments/{segment}/progress`: while a build runs, its progress (htmx asks
/// every second); once it finished, htmx is told to reload the page, which then shows the
/// segment's members and size.
pub async fn progress(
    State(state): State<UiState>,
    user: SignedIn,
    Path((workspace_id, id)): Path<(WorkspaceId, SegmentId)>,
) -> Result<Response, UiError> {
    user.workspace(workspace_id)?;
    let row = state.segments().get(workspace_id, id).await?;
    let building = building(&row);
    if building.is_empty() {
        return Ok(([("HX-Refresh", "true")], "").into_response());
    }
    Ok(render(&Progress {
        workspace_id,
        id,
        building,
    }))
}
