//! An object's page: its identifiers and attributes, and the people related to it (each with the
//! relationship's attributes, linking to their profiles), paged by person.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use herald_domain::{PersonSeq, WorkspaceId};
use serde::Deserialize;

use super::render;
use crate::auth::session::SignedIn;
use crate::error::UiError;
use crate::layout::Layout;
use crate::related::{MemberView, ObjectView, page_of};
use crate::state::UiState;
use crate::view::WorkspaceView;

/// People an object's page shows at once.
const PAGE: usize = 50;

#[derive(Template)]
#[template(path = "object.html")]
struct ObjectPage {
    layout: Layout,
    workspace: WorkspaceView,
    object: ObjectView,
    people: Vec<MemberView>,
    /// The cursor of the next page of people, when there is one.
    more: Option<PersonSeq>,
    /// Whether the people shown are a later page.
    later: bool,
}

#[derive(Deserialize)]
pub struct ObjectQuery {
    /// The people's page: those after this person.
    after: Option<i64>,
}

/// `GET /ui/w/{id}/objects/{object_type_id}/{object_id}?after=`.
pub async fn show(
    State(state): State<UiState>,
    user: SignedIn,
    Path((workspace_id, object_type_id, object_id)): Path<(WorkspaceId, String, String)>,
    Query(query): Query<ObjectQuery>,
) -> Result<Response, UiError> {
    let workspace = WorkspaceView::from(user.workspace(workspace_id)?);
    let after = query.after.map(PersonSeq::new);
    let (object, people) = state
        .store()
        .read(move |r| {
            let Some(object) = r.object(workspace_id, &object_type_id, &object_id)? else {
                return Ok(None);
            };
            // One more than shown tells whether a next page exists.
            let people = r.object_relationships(workspace_id, object.seq, after, PAGE + 1)?;
            Ok(Some((object, people)))
        })
        .await?
        .ok_or(UiError::NotFound("object"))?;
    let (people, more) = page_of(people, PAGE, |row| row.person.seq);
    Ok(render(&ObjectPage {
        layout: Layout::signed_in(&user, Some(workspace_id)),
        workspace,
        object: ObjectView::from(&object),
        people: people.iter().map(MemberView::from).collect(),
        more,
        later: after.is_some(),
    }))
}
