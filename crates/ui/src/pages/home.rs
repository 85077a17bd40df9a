//! The signed-in user's workspaces, and a workspace's home: its event volume over the last 30
//! days, its most frequent events, its segments with their sizes and how they changed in a
//! week, and its running campaigns with what they sent in the last day.

use herald_domain::{CampaignId, SegmentId, WorkspaceId};
use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use herald_store::CampaignState;

use crate::auth::session::SignedIn;
use crate::chart::{self, DayChart, Measure};
use crate::error::UiError;
use crate::layout::Layout;
use crate::state::UiState;
use crate::view::WorkspaceView;

/// How many of the most frequent events the home page lists.
const TOP_EVENTS: usize = 5;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    workspaces: Vec<WorkspaceView>,
}

/// An event name and how often it came in the last 30 days.
pub struct TopEvent {
    pub name: String,
    pub kind: String,
    pub count: i64,
    pub link: String,
}

/// A segment's size now and a week ago.
pub struct SegmentSize {
    pub id: SegmentId,
    pub name: String,
    pub size: i64,
    /// "+12", "−3" or "no change".
    pub change: String,
}

/// A running campaign and what it sent in the last day.
pub struct RunningCampaign {
    pub id: CampaignId,
    pub name: String,
    pub sent: i64,
}

#[derive(Template)]
#[template(path = "workspace.html")]
struct WorkspacePage {
    layout: Layout,
    workspace: WorkspaceView,
    volume: DayChart,
    any_events: bool,
    top: Vec<TopEvent>,
    segments: Vec<SegmentSize>,
    campaigns: Vec<RunningCampaign>,
}

fn change_of(now: i64, before: i64) -> String {
    match now - before {
        0 => "no change".to_owned(),
        up if up > 0 => format!("+{up}"),
        down => format!("−{}", -down),
    }
}

/// `GET /ui/`.
pub async fn home(user: SignedIn) -> Response {
    super::render(&HomePage {
        layout: Layout::signed_in(&user, None),
        workspaces: user.workspaces.iter().map(WorkspaceView::from).collect(),
    })
}

/// `GET /ui/w/{id}`.
pub async fn workspace(
    State(state): State<UiState>,
    user: SignedIn,
    Path(id): Path<WorkspaceId>,
) -> Result<Response, UiError> {
    let workspace = WorkspaceView::from(user.workspace(id)?);
    let now = state.now();
    let today = chart::day_of(now);
    let days = state
        .store()
        .read(move |r| r.event_days(id, today - chart::DAYS + 1, today))
        .await?;
    let mut per_day: HashMap<i64, i64> = HashMap::new();
    let mut per_name: HashMap<(String, String), i64> = HashMap::new();
    for day in days {
        *per_day.entry(day.day).or_insert(0) += day.count;
        *per_name.entry((day.name, day.kind)).or_insert(0) += day.count;
    }
    let mut top: Vec<TopEvent> = per_name
        .into_iter()
        .map(|((name, kind), count)| TopEvent {
            link: form_urlencoded::Serializer::new(String::new())
                .append_pair("name", &name)
                .append_pair("type", &kind)
                .finish(),
            name,
            kind,
            count,
        })
        .collect();
    top.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    top.truncate(TOP_EVENTS);

    let mut segments = Vec::new();
    for row in state.segments().list(id).await? {
        let sizes = state.segments().sizes_by_day(id, row.id, today, 8).await?;
        let size = sizes.last().map_or(0, |(_, size)| *size);
        let week_ago = sizes.first().map_or(0, |(_, size)| *size);
        segments.push(SegmentSize {
            id: row.id,
            name: row.name,
            size,
            change: change_of(size, week_ago),
        });
    }
    let mut campaigns = Vec::new();
    for row in state.campaigns().list(id).await? {
        if row.state != CampaignState::Running {
            continue;
        }
        let campaign = row.id;
        let sent = state
            .store()
            .read(move |r| r.campaign_sent_since(id, campaign, now - 86_400))
            .await?;
        campaigns.push(RunningCampaign {
            id: row.id,
            name: row.name,
            sent,
        });
    }
    Ok(super::render(&WorkspacePage {
        layout: Layout::signed_in(&user, Some(id)),
        workspace,
        any_events: !per_day.is_empty(),
        volume: DayChart::new(today, &per_day, Measure::Events),
        top,
        segments,
        campaigns,
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn changes_read_with_their_sign() {
        assert_eq!(super::change_of(12, 2), "+10");
        assert_eq!(super::change_of(2, 5), "−3");
        assert_eq!(super::change_of(4, 4), "no change");
    }
}
