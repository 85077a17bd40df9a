//! Activity Logs: the workspace's last 30 days, newest first, paged by cursor and filtered by
//! type, event name and person; an entry's page with its data, and Resend for an event.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use herald_domain::{ActivityKind, IdType, Identifier, PersonSeq, WorkspaceId};
use herald_store::{Activity, ActivityQuery};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::render;
use crate::auth::session::SignedIn;
use crate::error::UiError;
use crate::layout::Layout;
use crate::state::UiState;
use crate::view::{ActivityView, WorkspaceView};

const PAGE: usize = 50;
const DAYS: i64 = 30;

#[derive(Deserialize, Default)]
pub struct Filters {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    person: String,
    before: Option<i64>,
}

impl Filters {
    /// The query string of these filters, for the next page's link.
    fn query(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("type", &self.kind)
            .append_pair("name", &self.name)
            .append_pair("person", &self.person)
            .finish()
    }
}

#[derive(Template)]
#[template(path = "activity.html")]
struct ActivityPage {
    layout: Layout,
    workspace: WorkspaceView,
    kinds: Vec<&'static str>,
    filters: Filters,
    entries: Vec<ActivityView>,
    /// Why the list is empty when a filter names nobody.
    unknown_person: bool,
    older: Option<String>,
    days: i64,
}

/// `GET /ui/w/{id}/activity?type=&name=&person=&before=`.
pub async fn list(
    State(state): State<UiState>,
    user: SignedIn,
    Path(workspace_id): Path<WorkspaceId>,
    Query(filters): Query<Filters>,
) -> Result<Response, UiError> {
    let workspace = WorkspaceView::from(user.workspace(workspace_id)?);
    let person = filters.person.trim().to_owned();
    let query = ActivityQuery {
        workspace_id,
        person_seq: None,
        kind: ActivityKind::parse(filters.kind.trim()).map(|k| k.as_str().to_owned()),
        name: Some(filters.name.trim().to_owned()).filter(|n| !n.is_empty()),
        before_seq: filters.before,
        since: state.now() - DAYS * 86_400,
        limit: PAGE + 1,
    };
    let found = state
        .store()
        .read(move |r| {
            let mut query = query;
            if !person.is_empty() {
                // An email if it looks like one, else an id.
                let id_type = if person.contains('@') {
                    IdType::Email
                } else {
                    IdType::Id
                };
                match r.person(workspace_id, &Identifier::of_type(id_type, &person))? {
                    Some(found) => query.person_seq = Some(found.seq),
                    None => return Ok(None),
                }
            }
            Ok(Some(r.activities(&query)?))
        })
        .await?;
    let unknown_person = found.is_none();
    let mut entries = found.unwrap_or_default();
    let older = (entries.len() > PAGE)
        .then(|| format!("{}&before={}", filters.query(), entries[PAGE - 1].seq));
    entries.truncate(PAGE);
    Ok(render(&ActivityPage {
        layout: Layout::signed_in(&user, Some(workspace_id)),
        workspace,
        kinds: ActivityKind::ALL.iter().map(|k| k.as_str()).collect(),
        filters,
        entries: entries.iter().map(ActivityView::from).collect(),
        unknown_person,
        older,
        days: DAYS,
    }))
}

/// One entry of a workspace's log, whatever its age.
async fn entry(state: &UiState, workspace_id: WorkspaceId, seq: i64) -> Result<Activity, UiError> {
    let found = state
        .store()
        .read(move |r| {
            r.activities(&ActivityQuery {
                workspace_id,
                person_seq: None,
                kind: None,
                name: None,
                before_seq: Some(seq.saturating_add(1)),
                since: i64::MIN,
                limit: 1,
            })
        })
        .await?;
    found
        .into_iter()
        .find(|a| a.seq == seq)
        .ok_or(UiError::NotFound("activity"))
}

#[derive(Template)]
#[template(path = "activity_entry.html")]
struct EntryPage {
    layout: Layout,
    csrf: String,
    workspace: WorkspaceView,
    entry: ActivityView,
    /// The person's profile number, when the entry belongs to someone.
    person_seq: Option<PersonSeq>,
    /// Only an event of a known person can be sent again.
    resendable: bool,
}

/// `GET /ui/w/{id}/activity/{seq}`.
pub async fn show(
    State(state): State<UiState>,
    user: SignedIn,
    Path((workspace_id, seq)): Path<(WorkspaceId, i64)>,
) -> Result<Response, UiError> {
    let workspace = WorkspaceView::from(user.workspace(workspace_id)?);
    let activity = entry(&state, workspace_id, seq).await?;
    Ok(render(&EntryPage {
        layout: Layout::signed_in(&user, Some(workspace_id)),
        csrf: user.session.csrf_token.clone(),
        workspace,
        resendable: activity.kind == ActivityKind::Event.as_str() && activity.person_seq.is_some(),
        person_seq: activity.person_seq,
        entry: ActivityView::from(&activity),
    }))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /ui/w/{id}/activity/{seq}/resend`: the event's name and data again, to the same
/// person, as a new event at the current time, through the Track API's check and ingest.
pub async fn resend(
    State(state): State<UiState>,
    user: SignedIn,
    Path((workspace_id, seq)): Path<(WorkspaceId, i64)>,
    Form(input): Form<CsrfForm>,
) -> Result<Response, UiError> {
    user.check_csrf(&input.csrf)?;
    user.workspace(workspace_id)?;
    let activity = entry(&state, workspace_id, seq).await?;
    let (Some(person_seq), true) = (
        activity.person_seq,
        activity.kind == ActivityKind::Event.as_str(),
    ) else {
        return Err(UiError::NotFound("event of a person"));
    };
    let person = state
        .store()
        .read(move |r| r.person_by_seq(workspace_id, person_seq))
        .await?
        .ok_or(UiError::NotFound("person"))?;
    let name = activity.name.clone().unwrap_or_default();
    let mut body = Map::new();
    body.insert("name".into(), Value::String(name.clone()));
    body.insert("data".into(), activity.data.clone());
    let operation = herald_ingest::validate::track(&format!("cio_{}", person.cio_id), &body)
        .map_err(|error| UiError::Refused(error.message))?;
    state.ingest().submit(workspace_id, vec![operation]).await?;
    let sent = crate::auth::notice::query(&user, "sent", &name);
    Ok(Redirect::to(&format!(
        "/ui/w/{workspace_id}/people/{person_seq}?{sent}#activity"
    ))
    .into_response())
}
