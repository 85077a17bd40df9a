//! Campaigns: the list with states (archived ones apart), a campaign's Overview (state, start,
//! pause and archive, outcome counts, 30 days of outcomes per day, recent deliveries filtered by
//! status) and its Trigger page, each with Send Event. The editor is `campaign_editor.rs`.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use herald_dispatch::METRIC_KEYS;
use herald_domain::{CampaignId, PersonSeq, WorkspaceId};
use herald_store::{CampaignRow, DeliveryQuery, DeliveryStatus};
use serde::Deserialize;

use super::render;
use super::send_event::SendDialog;
use crate::auth::session::SignedIn;
use crate::chart::{self, DayChart, Measure};
use crate::error::UiError;
use crate::layout::Layout;
use crate::state::UiState;
use crate::view::{WorkspaceView, moment, pretty};

/// Recent deliveries shown on the Overview.
const RECENT: i64 = 20;

/// The outcomes charted per day on the Overview, in the order of a message's life.
const CHARTED: [&str; 6] = [
    "triggered",
    "sent",
    "delivered",
    "opened",
    "clicked",
    "failed",
];

/// The statuses the delivery list can be narrowed to: every outcome a delivery can reach (runs
/// are `triggered`, not deliveries).
fn statuses() -> Vec<&'static str> {
    METRIC_KEYS
        .iter()
        .copied()
        .filter(|key| *key != "triggered")
        .collect()
}

/// One outcome's 30 days.
pub struct OutcomeChart {
    pub outcome: &'static str,
    pub chart: DayChart,
}

/// A campaign as lists and pages show it.
pub struct CampaignView {
    pub id: CampaignId,
    pub name: String,
    pub state: String,
    /// "event `purchased`" or "entering segment 3", for a glance.
    pub trigger: String,
    /// The trigger as stored, indented.
    pub trigger_json: String,
    /// The event name a Send Event starts with: the trigger's, for an event trigger.
    pub event_name: String,
    pub updated: String,
}

impl From<&CampaignRow> for CampaignView {
    fn from(row: &CampaignRow) -> Self {
        let trigger = &row.definition["trigger"];
        let event_name = trigger["event"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let summary = if !event_name.is_empty() {
            format!("event “{event_name}”")
        } else if let Some(segment) = trigger["segment"]["id"].as_i64() {
            let on = trigger["segment"]["on"].as_str().unwrap_or("enter");
            format!(
                "{}ing segment {segment}",
                if on == "exit" { "leav" } else { "enter" }
            )
        } else if let Some(object_type_id) = trigger["object"]["object_type_id"].as_str() {
            let on = trigger["object"]["on"].as_str().unwrap_or_default();
            format!("object of type {object_type_id} {on}")
        } else if trigger.get("transactional").is_some() {
            "transactional".to_owned()
        } else {
            String::new()
        };
        Self {
            id: row.id,
            name: row.name.clone(),
            state: row.state.as_str().to_owned(),
            trigger: summary,
            trigger_json: pretty(trigger),
            event_name,
            updated: moment(row.updated_at),
        }
    }
}

#[derive(Template)]
#[template(path = "campaigns.html")]
struct ListPage {
    layout: Layout,
    workspace: WorkspaceView,
    campaigns: Vec<CampaignView>,
    archived: Vec<CampaignView>,
}

/// `GET /ui/w/{id}/campaigns`.
pub async fn list(
    State(state): State<UiState>,
    user: SignedIn,
    Path(workspace_id): Path<WorkspaceId>,
) -> Result<Response, UiError> {
    let workspace = WorkspaceView::from(user.workspace(workspace_id)?);
    let rows = state.campaigns().list(workspace_id).await?;
    let (archived, campaigns): (Vec<_>, Vec<_>) = rows
        .iter()
        .map(CampaignView::from)
        .partition(|campaign| campaign.state == "archived");
    Ok(render(&ListPage {
        layout: Layout::signed_in(&user, Some(workspace_id)),
        workspace,
        campaigns,
        archived,
    }))
}

/// A delivery as the Overview lists it.
pub struct DeliveryView {
    pub person_seq: PersonSeq,
    /// The person's id, email or cio id; `None` once they are deleted.
    pub person: Option<String>,
    pub channel: String,
    pub status: String,
    pub error: String,
    pub at: String,
}

#[derive(Template)]
#[template(path = "campaign.html")]
struct CampaignPage {
    layout: Layout,
    workspace: WorkspaceView,
    campaign: CampaignView,
    /// `overview` or `trigger`: which tab shows.
    tab: &'static str,
    metrics: Vec<(String, i64)>,
    charts: Vec<OutcomeChart>,
    deliveries: Vec<DeliveryView>,
    /// The status the deliveries are narrowed to (empty: all).
    status: String,
    statuses: Vec<&'static str>,
    dialog: SendDialog,
}

async fn page(
    state: &UiState,
    user: &SignedIn,
    workspace_id: WorkspaceId,
    id: CampaignId,
    tab: &'static str,
    status: Option<String>,
) -> Result<Response, UiError> {
    let workspace = WorkspaceView::from(user.workspace(workspace_id)?);
    let row = state.campaigns().get(workspace_id, id).await?;
    let campaign = CampaignView::from(&row);
    // Only a status the list knows narrows it; anything else shows all.
    let statuses = statuses();
    let status = status.filter(|status| statuses.contains(&status.as_str()));
    let (metrics, charts, deliveries) = if tab == "overview" {
        let metrics = state.campaigns().metrics(workspace_id, id).await?;
        let today = chart::day_of(state.now());
        let since = (today - chart::DAYS + 1) * 86_400;
        let narrowed = status.as_deref().and_then(DeliveryStatus::parse);
        let (days, rows, names) = state
            .store()
            .read(move |r| {
                let days = r.campaign_days(workspace_id, id, since)?;
                let rows = r.deliveries(&DeliveryQuery {
                    workspace_id,
                    campaign_id: Some(id),
                    person_seq: None,
                    status: narrowed,
                    after: None,
                    limit: RECENT,
                })?;
                // Each row names its person as the people list does (id, else email, else cio
                // id), read once per person.
                let mut names = std::collections::HashMap::new();
                for row in &rows {
                    if let std::collections::hash_map::Entry::Vacant(entry) =
                        names.entry(row.person_seq)
                    {
                        let person = r.person_by_seq(workspace_id, row.person_seq)?;
                        entry.insert(person.map(|person| {
                            crate::view::PersonView::from(&person).title().to_owned()
                        }));
                    }
                }
                Ok((days, rows, names))
            })
            .await?;
        let charts = CHARTED
            .iter()
            .map(|outcome| {
                let counts = days
                    .iter()
                    .filter(|(_, name, _)| name == outcome)
                    .map(|(day, _, count)| (*day, *count))
                    .collect();
                OutcomeChart {
                    outcome,
                    chart: DayChart::new(today, &counts, Measure::Outcome(outcome)),
                }
            })
            .collect();
        let deliveries = rows
            .iter()
            .map(|d| DeliveryView {
                person_seq: d.person_seq,
                person: names.get(&d.person_seq).cloned().flatten(),
                channel: d.channel.clone(),
                status: d.status.as_str().to_owned(),
                error: d.error.clone().unwrap_or_default(),
                at: moment(d.updated_at),
            })
            .collect();
        (metrics, charts, deliveries)
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    let dialog = SendDialog::new(user, workspace_id, &campaign.event_name);
    Ok(render(&CampaignPage {
        layout: Layout::signed_in(user, Some(workspace_id)),
        workspace,
        campaign,
        tab,
        metrics,
        charts,
        deliveries,
        status: status.unwrap_or_default(),
        statuses,
        dialog,
    }))
}

#[derive(Deserialize)]
pub struct OverviewQuery {
    status: Option<String>,
}

/// `GET /ui/w/{id}/campaigns/{campaign}?status=`: the Overview, its deliveries narrowed to a
/// status.
pub async fn overview(
    State(state): State<UiState>,
    user: SignedIn,
    Path((workspace_id, id)): Path<(WorkspaceId, CampaignId)>,
    Query(query): Query<OverviewQuery>,
) -> Result<Response, UiError> {
    page(&state, &user, workspace_id, id, "overview", query.status).await
}

/// `GET /ui/w/{id}/campaigns/{campaign}/trigger`.
pub async fn trigger(
    State(state): State<UiState>,
    user: SignedIn,
    Path((workspace_id, id)): Path<(WorkspaceId, CampaignId)>,
) -> Result<Response, UiError> {
    page(&state, &user, workspace_id, id, "trigger", None).await
}

#[derive(Deserialize)]
pub struct StateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    to: String,
}

/// `POST /ui/w/{id}/campaigns/{campaign}/state` with `to=running|paused|archived|restored`: the
/// same calls as `POST /v1/campaigns/{id}/start`, `/pause`, `/archive` and `/restore`.
pub async fn set_state(
    State(state): State<UiState>,
    user: SignedIn,
    Path((workspace_id, id)): Path<(WorkspaceId, CampaignId)>,
    Form(input): Form<StateForm>,
) -> Result<Response, UiError> {
    user.check_csrf(&input.csrf)?;
    user.workspace(workspace_id)?;
    match input.to.as_str() {
        "running" => state.campaigns().start(workspace_id, id).await?,
        "paused" => state.campaigns().pause(workspace_id, id).await?,
        "archived" => state.campaigns().archive(workspace_id, id).await?,
        "restored" => state.campaigns().restore(workspace_id, id).await?,
        _ => {
            return Err(UiError::Refused(
                "a campaign is started, paused, archived or restored".into(),
            ));
        }
    };
    Ok(Redirect::to(&format!("/ui/w/{workspace_id}/campaigns/{id}")).into_response())
}
