//! People: the list (newest first, paged), the search by the start of an id or email (as one
//! types, through htmx; a plain form submission without JavaScript), and each person's profile.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use herald_domain::{ObjectSeq, PersonSeq, WorkspaceId};
use herald_store::ActivityQuery;
use serde::Deserialize;

use super::render;
use crate::auth::session::SignedIn;
use crate::error::UiError;
use crate::layout::Layout;
use crate::related::{RelationshipView, page_of, pairs};
use crate::state::UiState;
use crate::view::{ActivityView, PersonView, SegmentStay, WorkspaceView};

/// People per page, and search results shown.
const PAGE: usize = 50;
/// How far back a profile's activity goes; older events are kept for segments, not listed.
const ACTIVITY_DAYS: i64 = 30;
/// Relationships a profile shows at once; more are a page further.
const RELATIONSHIPS_PAGE: usize = 100;

#[derive(Template)]
#[template(path = "people.html")]
struct PeoplePage {
    layout: Layout,
    workspace: WorkspaceView,
    query: String,
    people: Vec<PersonView>,
    /// The cursor of the next page, when there is one (not for a search).
    older: Option<PersonSeq>,
    /// What was just done to someone (suppressed, deleted).
    done: String,
}

#[derive(Template)]
#[template(path = "people_rows.html")]
struct PeopleRows {
    workspace: WorkspaceView,
    query: String,
    people: Vec<PersonView>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    before: Option<i64>,
    done: Option<String>,
    sig: Option<String>,
}

/// Reads a page of people, or the search's matches when `query` says something.
async fn read_people(
    state: &UiState,
    workspace_id: WorkspaceId,
    query: &str,
    before: Option<PersonSeq>,
) -> Result<(Vec<PersonView>, Option<PersonSeq>), UiError> {
    let query = query.trim().to_owned();
    if !query.is_empty() {
        let people = state
            .store()
            .read(move |r| r.search_people(workspace_id, &query, PAGE))
            .await?;
        return Ok((people.iter().map(PersonView::from).collect(), None));
    }
    // One more than shown tells whether an older page exists.
    let mut people = state
        .store()
        .read(move |r| r.people_page(workspace_id, before, PAGE + 1))
        .await?;
    let older = (people.len() > PAGE).then(|| people[PAGE - 1].seq);
    people.truncate(PAGE);
    Ok((people.iter().map(PersonView::from).collect(), older))
}

/// `GET /ui/w/{id}/people?q=&before=`.
pub async fn list(
    State(state): State<UiState>,
    user: SignedIn,
    Path(workspace_id): Path<WorkspaceId>,
    Query(query): Query<ListQuery>,
) -> Result<Response, UiError> {
    let workspace = WorkspaceView::from(user.workspace(workspace_id)?);
    let (people, older) = read_people(
        &state,
        workspace_id,
        &query.q,
        query.before.map(PersonSeq::new),
    )
    .await?;
    Ok(render(&PeoplePage {
        layout: Layout::signed_in(&user, Some(workspace_id)),
        workspace,
        query: query.q,
        people,
        older,
        done: crate::auth::notice::verified(&user, query.done, query.sig.as_deref())
            .unwrap_or_default(),
    }))
}

/// `GET /ui/w/{id}/people/search?q=`: the rows alone, for htmx to swap in as one types.
pub async fn search(
    State(state): State<UiState>,
    user: SignedIn,
    Path(workspace_id): Path<WorkspaceId>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    let workspace = WorkspaceView::from(user.workspace(workspace_id)?);
    // Without htmx (a bookmarked URL), the whole page.
    if !headers.contains_key("hx-request") {
        return list(State(state), user, Path(workspace_id), Query(query)).await;
    }
    let (people, _) = read_people(&state, workspace_id, &query.q, None).await?;
    Ok(render(&PeopleRows {
        workspace,
        query: query.q,
        people,
    }))
}

#[derive(Template)]
#[template(path = "person.html")]
struct PersonPage {
    layout: Layout,
    workspace: WorkspaceView,
    person: PersonView,
    attributes: Vec<(String, String)>,
    devices: Vec<(String, String, String)>,
    relationships: Vec<RelationshipView>,
    /// The cursor of the next page of relationships, when there is one.
    more_relationships: Option<ObjectSeq>,
    /// Whether the relationships shown are a later page (so the first one is a link away).
    later_relationships: bool,
    segments: Vec<SegmentStay>,
    activity: Vec<ActivityView>,
    older: Option<i64>,
    days: i64,
    dialog: super::send_event::SendDialog,
    /// The name of the event just sent from this page.
    sent: Option<String>,
}

#[derive(Deserialize)]
pub struct ProfileQuery {
    before: Option<i64>,
    /// The relationships' page: those to objects after this one.
    related_after: Option<i64>,
    sent: Option<String>,
    sig: Option<String>,
}

/// `GET /ui/w/{id}/people/{seq}?before=&related_after=&sent=`: a person's profile.
pub async fn profile(
    State(state): State<UiState>,
    user: SignedIn,
    Path((workspace_id, seq)): Path<(WorkspaceId, PersonSeq)>,
    Query(query): Query<ProfileQuery>,
) -> Result<Response, UiError> {
    let before = query.before;
    let related_after = query.related_after.map(ObjectSeq::new);
    let workspace = WorkspaceView::from(user.workspace(workspace_id)?);
    let since = state.now() - ACTIVITY_DAYS * 86_400;
    let (person, devices, relationships, mut activity) = state
        .store()
        .read(move |r| {
            let Some(person) = r.person_by_seq(workspace_id, seq)? else {
                return Ok(None);
            };
            let devices = r.devices(workspace_id, seq)?;
            // One more than shown tells whether a next page exists.
            let relationships =
                r.person_relationships(workspace_id, seq, related_after, RELATIONSHIPS_PAGE + 1)?;
            let activity = r.activities(&ActivityQuery {
                workspace_id,
                person_seq: Some(seq),
                kind: None,
                name: None,
                before_seq: before,
                since,
                limit: PAGE + 1,
            })?;
            Ok(Some((person, devices, relationships, activity)))
        })
        .await?
        .ok_or(UiError::NotFound("person"))?;
    let older = (activity.len() > PAGE).then(|| activity[PAGE - 1].seq);
    activity.truncate(PAGE);
    let segments = SegmentStay::of_person(state.segments(), workspace_id, seq).await?;
    let attributes = pairs(&person.attributes);
    let (relationships, more_relationships) =
        page_of(relationships, RELATIONSHIPS_PAGE, |row| row.object.seq);
    let devices = devices
        .iter()
        .map(|d| {
            (
                d.token.clone(),
                d.platform.clone(),
                d.last_used.map(crate::view::moment).unwrap_or_default(),
            )
        })
        .collect();
    let person = PersonView::from(&person);
    Ok(render(&PersonPage {
        layout: Layout::signed_in(&user, Some(workspace_id)),
        workspace,
        dialog: super::send_event::SendDialog::for_person(&user, workspace_id, seq, person.title()),
        person,
        attributes,
        devices,
        relationships: relationships
            .iter()
            .map(|row| RelationshipView::new(workspace_id, row))
            .collect(),
        more_relationships,
        later_relationships: related_after.is_some(),
        segments,
        activity: activity.iter().map(ActivityView::from).collect(),
        older,
        days: ACTIVITY_DAYS,
        sent: crate::auth::notice::verified(&user, query.sent, query.sig.as_deref()),
    }))
}
