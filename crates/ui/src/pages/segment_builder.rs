//! The segment builder's pages: a new segment, editing one, the buttons that change the tree,
//! the live count as the definition changes (through `Segments::preview`, or `preview_change`
//! for a saved segment: who would enter and leave), the JSON view, and saving.
//!
//! The builder's buttons and the live count use htmx; without script the JSON view and Save
//! still work as plain forms.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use herald_domain::{SegmentId, WorkspaceId};
use herald_segments::{SegmentDraft, SegmentEdit, SegmentsError};
use serde_json::Value;

use super::render;
use crate::auth::session::SignedIn;
use crate::builder::layout::{Item, items};
use crate::builder::{Node, OPS, UNITS, form, json, ops};
use crate::editor::form::field;
use crate::error::UiError;
use crate::layout::Layout;
use crate::state::UiState;
use crate::view::{WorkspaceView, pretty};

/// The sample of members the live count names.
const SAMPLE: usize = 5;

/// What the tree's template needs besides the tree.
pub struct Choices {
    pub workspace_id: WorkspaceId,
    pub event_names: Vec<String>,
    pub data_keys: Vec<String>,
    pub attribute_keys: Vec<String>,
    /// The segments a condition may refer to, the edited one left out.
    pub segments: Vec<SegmentChoice>,
    pub ops: &'static [(&'static str, &'static str)],
    pub units: &'static [&'static str],
}

pub(crate) async fn choices(
    state: &UiState,
    workspace_id: WorkspaceId,
    own: Option<SegmentId>,
) -> Result<Choices, UiError> {
    let index = state
        .store()
        .read(move |r| r.event_index(workspace_id))
        .await?;
    let mut event_names: Vec<String> = index.iter().map(|e| e.name.clone()).collect();
    event_names.sort();
    event_names.dedup();
    let mut data_keys: Vec<String> = index
        .iter()
        .flat_map(|e| e.attribute_keys.iter().cloned())
        .collect();
    data_keys.sort();
    data_keys.dedup();
    let mut attribute_keys: Vec<String> = state
        .segments()
        .attribute_counts(workspace_id)
        .await?
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    attribute_keys.sort();
    let segments = state
        .segments()
        .list(workspace_id)
        .await?
        .into_iter()
        .filter(|s| Some(s.id) != own)
        .map(|s| SegmentChoice {
            id: s.id,
            name: s.name,
        })
        .collect();
    Ok(Choices {
        workspace_id,
        event_names,
        data_keys,
        attribute_keys,
        segments,
        ops: &OPS,
        units: &UNITS,
    })
}

/// A segment a condition may refer to.
pub struct SegmentChoice {
    pub id: SegmentId,
    pub name: String,
}

/// The live count's answer.
pub enum Count {
    /// What must be filled in before anything can be counted.
    Missing(Vec<String>),
    /// The definition's own check refused it (the API's message, with its path).
    Refused(String),
    Counted {
        count: usize,
        sample: Vec<String>,
        /// For a saved segment: how many would enter and leave.
        change: Option<(usize, usize)>,
    },
}

#[derive(Template)]
#[template(path = "segment_builder_tree.html")]
struct TreeFragment {
    items: Vec<Item>,
    choices: Choices,
}

#[derive(Template)]
#[template(path = "segment_builder_count.html")]
struct CountFragment {
    count: Count,
    json: String,
    /// Also replace the JSON view (htmx's out-of-band swap).
    oob: bool,
}

#[derive(Template)]
#[template(path = "segment_builder.html")]
struct BuilderPage {
    layout: Layout,
    workspace: WorkspaceView,
    csrf: String,
    segment_id: Option<SegmentId>,
    name: String,
    description: String,
    items: Vec<Item>,
    choices: Choices,
    count: Count,
    /// The definition the tree stands for (empty while incomplete).
    json: String,
    /// What the JSON view shows: the definition, or JSON that was refused, as typed.
    json_text: String,
    /// Why saving or reading the JSON failed.
    error: Option<String>,
    oob: bool,
}

fn segment_id_of(fields: &[(String, String)]) -> Option<SegmentId> {
    field(fields, "segment_id").parse().ok()
}

/// Counts what the tree stands for now.
async fn count(
    state: &UiState,
    workspace_id: WorkspaceId,
    segment_id: Option<SegmentId>,
    tree: &Node,
) -> Result<(Count, String), UiError> {
    let definition = match json::to_json(tree) {
        Ok(definition) => definition,
        Err(missing) => return Ok((Count::Missing(missing), String::new())),
    };
    let text = pretty(&definition);
    let segments = state.segments();
    let answer = match segment_id {
        Some(id) => segments
            .preview_change(workspace_id, id, &definition, SAMPLE)
            .await
            .map(|change| (change.preview, Some((change.entering, change.leaving)))),
        None => segments
            .preview(workspace_id, &definition, SAMPLE)
            .await
            .map(|preview| (preview, None)),
    };
    let count = match answer {
        Ok((preview, change)) => Count::Counted {
            count: preview.count,
            sample: preview.sample.into_iter().flatten().collect(),
            change,
        },
        Err(SegmentsError::InvalidDefinition(message)) => Count::Refused(message),
        Err(other) => return Err(other.into()),
    };
    Ok((count, text))
}

/// What the builder's page shows besides the tree: which segment (none for a new one), its name
/// and description as typed, and why something was refused, with the refused JSON as typed.
struct Editing {
    segment_id: Option<SegmentId>,
    name: String,
    description: String,
    error: Option<(String, Option<String>)>,
}

impl Editing {
    fn from_form(fields: &[(String, String)]) -> Self {
        Self {
            segment_id: segment_id_of(fields),
            name: field(fields, "name").to_owned(),
            description: field(fields, "description").to_owned(),
            error: None,
        }
    }
}

async fn page(
    state: &UiState,
    user: &SignedIn,
    workspace_id: WorkspaceId,
    tree: &Node,
    editing: Editing,
) -> Result<Response, UiError> {
    let Editing {
        segment_id,
        name,
        description,
        error,
    } = editing;
    let workspace = WorkspaceView::from(user.workspace(workspace_id)?);
    let (count, json) = count(state, workspace_id, segment_id, tree).await?;
    let (error, refused_json) = match error {
        Some((message, text)) => (Some(message), text),
        None => (None, None),
    };
    let mut response = render(&BuilderPage {
        layout: Layout::signed_in(user, Some(workspace_id)),
        workspace,
        csrf: user.session.csrf_token.clone(),
        segment_id,
        name,
        description,
        items: items(tree),
        choices: choices(state, workspace_id, segment_id).await?,
        count,
        json_text: refused_json.unwrap_or_else(|| json.clone()),
        json,
        oob: false,
        error: error.clone(),
    });
    if error.is_some() {
        *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

/// `GET /ui/w/{id}/segments/new`.
pub async fn new(
    State(state): State<UiState>,
    user: SignedIn,
    Path(workspace_id): Path<WorkspaceId>,
) -> Result<Response, UiError> {
    let editing = Editing {
        segment_id: None,
        name: String::new(),
        description: String::new(),
        error: None,
    };
    page(&state, &user, workspace_id, &Node::starting(), editing).await
}

/// `GET /ui/w/{id}/segments/{segment}/edit`: a data-driven segment in the builder.
pub async fn edit(
    State(state): State<UiState>,
    user: SignedIn,
    Path((workspace_id, id)): Path<(WorkspaceId, SegmentId)>,
) -> Result<Response, UiError> {
    user.workspace(workspace_id)?;
    let row = state.segments().get(workspace_id, id).await?;
    let Some(definition) = &row.definition else {
        return Err(UiError::Refused(
            "A manual segment has no definition to edit: add and remove its people on its page."
                .into(),
        ));
    };
    let tree = json::from_json(definition).map_err(UiError::Refused)?;
    let editing = Editing {
        segment_id: Some(id),
        name: row.name.clone(),
        description: row.description.clone(),
        error: None,
    };
    page(&state, &user, workspace_id, &tree, editing).await
}

/// `POST /ui/w/{id}/segments/builder`: a builder button (`op`), or the JSON view's "Use this
/// JSON" (`op=from-json`, `json`). htmx gets the tree; a plain form post gets the whole page.
pub async fn change(
    State(state): State<UiState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(workspace_id): Path<WorkspaceId>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    user.check_csrf(field(&fields, "csrf"))?;
    user.workspace(workspace_id)?;
    let segment_id = segment_id_of(&fields);
    let op = field(&fields, "op");
    let (tree, error) = if op == "from-json" {
        let text = field(&fields, "json");
        match read_json(&state, workspace_id, segment_id, text).await? {
            Ok(tree) => (tree, None),
            // The builder stays as it was sent beside the JSON.
            Err(message) => (
                form::tree_of(&fields),
                Some((message, Some(text.to_owned()))),
            ),
        }
    } else {
        let mut tree = form::tree_of(&fields);
        let path = op.split(':').nth(1).unwrap_or_default();
        ops::apply(&mut tree, op, field(&fields, &format!("{path}.move_to")));
        (tree, None)
    };
    if headers.contains_key("hx-request") && error.is_none() {
        return Ok(render(&TreeFragment {
            items: items(&tree),
            choices: choices(&state, workspace_id, segment_id).await?,
        }));
    }
    let editing = Editing {
        error,
        ..Editing::from_form(&fields)
    };
    page(&state, &user, workspace_id, &tree, editing).await
}

/// Reads the JSON view: the definition's own check first, so its message names the path.
async fn read_json(
    state: &UiState,
    workspace_id: WorkspaceId,
    segment_id: Option<SegmentId>,
    text: &str,
) -> Result<Result<Node, String>, UiError> {
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(error) => {
            return Ok(Err(format!(
                "The JSON does not parse: {error}. Nothing was changed."
            )));
        }
    };
    match state
        .segments()
        .check_definition(workspace_id, &value, segment_id)
        .await
    {
        Ok(_) => Ok(json::from_json(&value)),
        Err(SegmentsError::InvalidDefinition(message)) => Ok(Err(message)),
        Err(other) => Err(other.into()),
    }
}

/// `POST /ui/w/{id}/segments/builder/count`: the live count, and the JSON view brought up to
/// date.
pub async fn live_count(
    State(state): State<UiState>,
    user: SignedIn,
    Path(workspace_id): Path<WorkspaceId>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    user.check_csrf(field(&fields, "csrf"))?;
    user.workspace(workspace_id)?;
    let tree = form::tree_of(&fields);
    let (count, json) = count(&state, workspace_id, segment_id_of(&fields), &tree).await?;
    Ok(render(&CountFragment {
        count,
        json,
        oob: true,
    }))
}

/// `POST /ui/w/{id}/segments/save`: creates the segment (its build starts) or saves the edit,
/// then shows its page; a refusal keeps the builder as it was, with why.
pub async fn save(
    State(state): State<UiState>,
    user: SignedIn,
    Path(workspace_id): Path<WorkspaceId>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    user.check_csrf(field(&fields, "csrf"))?;
    user.workspace(workspace_id)?;
    let segment_id = segment_id_of(&fields);
    let tree = form::tree_of(&fields);
    let (name, description) = (
        field(&fields, "name").to_owned(),
        field(&fields, "description").to_owned(),
    );
    let refuse = |message: String| {
        let editing = Editing {
            error: Some((message, None)),
            ..Editing::from_form(&fields)
        };
        let (state, user, tree) = (&state, &user, &tree);
        async move { page(state, user, workspace_id, tree, editing).await }
    };
    let definition = match json::to_json(&tree) {
        Ok(definition) => definition,
        Err(missing) => return refuse(format!("Not saved: {}.", missing.join("; "))).await,
    };
    let segments = state.segments();
    let saved = match segment_id {
        Some(id) => {
            let edit = SegmentEdit {
                name: Some(name.clone()),
                description: Some(description.clone()),
                definition: Some(Some(definition)),
            };
            segments.update(workspace_id, id, edit).await
        }
        None => {
            let draft = SegmentDraft {
                name: name.clone(),
                description: description.clone(),
                definition: Some(definition),
            };
            segments.create(workspace_id, draft).await
        }
    };
    match saved {
        Ok(row) => {
            Ok(Redirect::to(&format!("/ui/w/{workspace_id}/segments/{}", row.id)).into_response())
        }
        Err(SegmentsError::InvalidDefinition(message) | SegmentsError::Invalid(message)) => {
            refuse(format!("Not saved: {message}")).await
        }
        Err(other) => Err(other.into()),
    }
}
