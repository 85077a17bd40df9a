//! The campaign editor's pages: a new campaign, editing one, the buttons that change the draft,
//! the live preview of every message as the draft changes (`Campaigns::preview`, for the person
//! chosen and a sample event: by default their latest event of the trigger's name), Send test
//! (`Campaigns::send_test`), saving, and the email previews' frames.
//!
//! The buttons and the preview use htmx; without script every button posts the whole form and
//! gets the whole page back, previews included.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use herald_dispatch::{
    CampaignsError, MessageDraft, MessagePreview, PreviewRequest, SampleEvent, SampleOf,
};
use herald_domain::{CampaignId, PersonSeq, WorkspaceId};
use serde_json::Value;

use super::render;
use super::segment_builder::{Choices, choices};
use crate::auth::session::SignedIn;
use crate::editor::form::{draft_of, field};
use crate::editor::json::{from_definition, message_of, to_definition};
use crate::editor::{Draft, METHODS, STEP_KINDS, ops};
use crate::error::UiError;
use crate::layout::Layout;
use crate::state::UiState;
use crate::view::{WorkspaceView, pretty};

/// The policy of an email preview's frame: a sandbox (no script, an opaque origin), its own
/// inline styles and any images, and framed by the UI only.
const FRAME_CSP: &str = "sandbox; default-src 'none'; style-src 'unsafe-inline'; \
                         img-src https: http: data:; font-src https: data:; frame-ancestors 'self'";

/// Who and what the previews render for, as the form carries them.
pub struct PreviewSettings {
    /// The chosen person's seq.
    pub person: Option<PersonSeq>,
    /// What the person search box shows.
    pub person_label: String,
    /// The sample event's data, as typed (JSON).
    pub event_text: String,
    /// `<seq>:<event name>` the sample was last filled in for, so choosing someone else (or
    /// another trigger) fills it again, and editing it by hand is kept.
    pub event_for: String,
    pub event_hint: String,
}

impl PreviewSettings {
    fn from_form(fields: &[(String, String)]) -> Self {
        Self {
            person: field(fields, "person").trim().parse().ok(),
            person_label: field(fields, "person_query").to_owned(),
            event_text: field(fields, "preview_event").to_owned(),
            event_for: field(fields, "preview_event_for").to_owned(),
            event_hint: String::new(),
        }
    }

    fn empty() -> Self {
        Self::from_form(&[])
    }
}

/// One message rendered, as the page shows it.
pub struct StepPreview {
    /// Templates that do not compile or render, with their line and column.
    pub errors: Vec<String>,
    /// Short values: method and URL, from, to and subject, title.
    pub fields: Vec<(String, String)>,
    /// A webhook's headers or a push's data.
    pub pairs_label: &'static str,
    pub pairs: Vec<(String, String)>,
    /// A webhook's body (indented when it is JSON), a push's body, an email's text.
    pub body_label: &'static str,
    pub body: Option<String>,
    /// Where the email's HTML is shown (a sandboxed frame).
    pub frame: Option<String>,
}

/// What a field of a message is called on the page.
fn field_label(field: &str) -> String {
    if let Some(name) = field.strip_prefix("headers.") {
        return format!("Header {name}");
    }
    if let Some(name) = field.strip_prefix("data.") {
        return format!("Data {name}");
    }
    match field {
        "url" => "URL",
        "body" => "Body",
        "to" => "To",
        "from" => "From",
        "subject" => "Subject",
        "html" => "HTML body",
        "text" => "Text body",
        "title" => "Title",
        other => other,
    }
    .to_owned()
}

fn text(content: &Value, name: &str) -> String {
    content[name].as_str().unwrap_or_default().to_owned()
}

fn pairs(content: &Value, name: &str) -> Vec<(String, String)> {
    content[name]
        .as_object()
        .map(|pairs| {
            pairs
                .iter()
                .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

impl StepPreview {
    fn errors(errors: Vec<String>) -> Self {
        Self {
            errors,
            fields: Vec::new(),
            pairs_label: "",
            pairs: Vec::new(),
            body_label: "",
            body: None,
            frame: None,
        }
    }

    fn of(
        state: &UiState,
        user: &SignedIn,
        workspace_id: WorkspaceId,
        kind: &str,
        preview: MessagePreview,
    ) -> Self {
        let errors = preview
            .errors
            .iter()
            .map(|error| format!("{}: {}", field_label(&error.field), error.message))
            .collect();
        let Some(content) = preview.content else {
            return Self::errors(errors);
        };
        let mut shown = Self::errors(errors);
        match kind {
            "webhook" => {
                shown.fields = vec![
                    ("Method".into(), text(&content, "method")),
                    ("URL".into(), text(&content, "url")),
                ];
                shown.pairs_label = "Headers";
                shown.pairs = pairs(&content, "headers");
                let body = text(&content, "body");
                shown.body_label = "Body";
                shown.body = Some(
                    serde_json::from_str::<Value>(&body)
                        .ok()
                        .filter(|value| value.is_object() || value.is_array())
                        .map_or(body, |value| pretty(&value)),
                );
            }
            "email" => {
                shown.fields = vec![
                    ("From".into(), text(&content, "from")),
                    ("To".into(), text(&content, "to")),
                    ("Subject".into(), text(&content, "subject")),
                ];
                if let Some(html) = content["html"].as_str() {
                    let token = state.frames().keep(user.user.id, html.to_owned());
                    shown.frame = Some(format!(
                        "/ui/w/{workspace_id}/campaigns/preview-frame/{token}"
                    ));
                }
                shown.body_label = "Text body";
                shown.body = content["text"].as_str().map(str::to_owned);
            }
            _ => {
                let devices = content["devices"].as_array().map_or(0, Vec::len);
                shown.fields = vec![
                    ("Title".into(), text(&content, "title")),
                    ("Body".into(), text(&content, "body")),
                    (
                        "Devices".into(),
                        match devices {
                            0 => "none: a push to this person would fail".to_owned(),
                            1 => "1".to_owned(),
                            n => n.to_string(),
                        },
                    ),
                ];
                shown.pairs_label = "Data";
                shown.pairs = pairs(&content, "data");
            }
        }
        shown
    }
}

/// The sample event's data as typed: an object, or nothing (an empty one).
fn sample_data(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => {
            Err("Sample event: the data must be a JSON object, like {\"plan\": \"pro\"}".into())
        }
        Err(error) => Err(format!("Sample event: not valid JSON: {error}")),
    }
}

/// Fills the sample event with the chosen person's latest event of the trigger's name, when the
/// person or the trigger changed since it was last filled. Returns whether it did.
async fn fill_sample(
    state: &UiState,
    workspace_id: WorkspaceId,
    draft: &Draft,
    settings: &mut PreviewSettings,
) -> Result<bool, UiError> {
    let name = draft.event_name.trim();
    let Some(seq) = settings.person else {
        return Ok(false);
    };
    let key = format!("{seq}:{name}");
    if draft.trigger != "event" || name.is_empty() || settings.event_for == key {
        return Ok(false);
    }
    let sample = state
        .campaigns()
        .sample_event(workspace_id, seq, name)
        .await?;
    settings.event_hint = match &sample {
        Some(_) => format!("Their latest “{name}” event."),
        None => format!("They have no “{name}” event yet: type the data to try."),
    };
    settings.event_text = sample.map_or_else(|| "{}".to_owned(), |event| pretty(&event.data));
    settings.event_for = key;
    Ok(true)
}

/// Whom and what the service renders the draft's messages for: the person chosen, and the sample
/// event as a run triggered now by it would see it (no event for a segment trigger).
fn preview_request(
    state: &UiState,
    draft: &Draft,
    settings: &PreviewSettings,
    data: Value,
) -> PreviewRequest {
    PreviewRequest {
        campaign_id: draft.campaign_id.unwrap_or(CampaignId::new(0)),
        campaign_name: draft.name.trim().to_owned(),
        person_seq: settings.person,
        event: (draft.trigger != "segment").then(|| SampleEvent {
            name: draft.event_name.trim().to_owned(),
            data,
            timestamp: state.now(),
        }),
        sample: match draft.trigger.as_str() {
            "transactional" => SampleOf::Transactional,
            "object" => SampleOf::Object,
            _ => SampleOf::Event,
        },
    }
}

/// Each step's preview (`None` for a delay).
async fn previews(
    state: &UiState,
    user: &SignedIn,
    workspace_id: WorkspaceId,
    draft: &Draft,
    settings: &PreviewSettings,
) -> Result<Vec<Option<StepPreview>>, UiError> {
    let sends = |shown: &mut dyn FnMut(&str) -> StepPreview| {
        draft
            .steps
            .iter()
            .map(|step| step.kind.as_str())
            .map(|kind| (kind != "delay").then(|| shown(kind)))
            .collect()
    };
    let data = match sample_data(&settings.event_text) {
        Ok(data) => data,
        Err(error) => return Ok(sends(&mut |_| StepPreview::errors(vec![error.clone()]))),
    };
    let messages: Vec<MessageDraft> = draft.steps.iter().filter_map(message_of).collect();
    let request = preview_request(state, draft, settings, data);
    let mut rendered = match state
        .campaigns()
        .preview(workspace_id, &request, &messages)
        .await
    {
        Ok(rendered) => rendered.into_iter(),
        Err(CampaignsError::PersonNotFound) => {
            return Ok(sends(&mut |_| {
                StepPreview::errors(vec![
                    "The person chosen for the preview is gone: choose someone else.".into(),
                ])
            }));
        }
        Err(other) => return Err(other.into()),
    };
    // One answer per send step, in the steps' order.
    Ok(sends(&mut |kind| match rendered.next() {
        Some(preview) => StepPreview::of(state, user, workspace_id, kind, preview),
        None => StepPreview::errors(Vec::new()),
    }))
}

#[derive(Template)]
#[template(path = "campaign_editor.html")]
struct EditorPage {
    layout: Layout,
    workspace: WorkspaceView,
    csrf: String,
    draft: Draft,
    /// The saved campaign's state; empty for a new one.
    campaign_state: String,
    choices: Choices,
    kinds: &'static [(&'static str, &'static str)],
    methods: &'static [&'static str],
    previews: Vec<Option<StepPreview>>,
    settings: PreviewSettings,
    /// Why saving failed.
    error: Option<String>,
    /// What a Send test did, without script.
    notice: Option<String>,
}

impl EditorPage {
    /// The preview of step `index`, for the template.
    fn preview(&self, index: &usize) -> Option<&StepPreview> {
        self.previews.get(*index).and_then(Option::as_ref)
    }
}

#[derive(Template)]
#[template(path = "campaign_previews.html")]
struct PreviewsFragment {
    previews: Vec<Option<StepPreview>>,
    /// The sample event, when it was filled in anew.
    settings: Option<PreviewSettings>,
}

/// What the page shows besides the draft.
struct Shown {
    settings: PreviewSettings,
    error: Option<String>,
    notice: Option<String>,
}

async fn page(
    state: &UiState,
    user: &SignedIn,
    workspace_id: WorkspaceId,
    draft: Draft,
    shown: Shown,
) -> Result<Response, UiError> {
    let Shown {
        mut settings,
        error,
        notice,
    } = shown;
    let workspace = WorkspaceView::from(user.workspace(workspace_id)?);
    let campaign_state = match draft.campaign_id {
        Some(id) => state
            .campaigns()
            .get(workspace_id, id)
            .await?
            .state
            .as_str()
            .to_owned(),
        None => String::new(),
    };
    fill_sample(state, workspace_id, &draft, &mut settings).await?;
    let previews = previews(state, user, workspace_id, &draft, &settings).await?;
    let refused = error.is_some();
    let mut response = render(&EditorPage {
        layout: Layout::signed_in(user, Some(workspace_id)),
        workspace,
        csrf: user.session.csrf_token.clone(),
        choices: choices(state, workspace_id, None).await?,
        draft,
        campaign_state,
        kinds: &STEP_KINDS,
        methods: &METHODS,
        previews,
        settings,
        error,
        notice,
    });
    if refused {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

fn plain(settings: PreviewSettings) -> Shown {
    Shown {
        settings,
        error: None,
        notice: None,
    }
}

/// `GET /ui/w/{id}/campaigns/new`.
pub async fn new(
    State(state): State<UiState>,
    user: SignedIn,
    Path(workspace_id): Path<WorkspaceId>,
) -> Result<Response, UiError> {
    let shown = plain(PreviewSettings::empty());
    page(&state, &user, workspace_id, Draft::starting(), shown).await
}

/// `GET /ui/w/{id}/campaigns/{campaign}/edit`.
pub async fn edit(
    State(state): State<UiState>,
    user: SignedIn,
    Path((workspace_id, id)): Path<(WorkspaceId, CampaignId)>,
) -> Result<Response, UiError> {
    user.workspace(workspace_id)?;
    let row = state.campaigns().get(workspace_id, id).await?;
    let draft = from_definition(Some(id), &row.definition);
    page(
        &state,
        &user,
        workspace_id,
        draft,
        plain(PreviewSettings::empty()),
    )
    .await
}

/// What every post of the editor's form carries, once its token and the workspace are checked:
/// the draft and whom it is previewed for.
fn posted(
    user: &SignedIn,
    workspace_id: WorkspaceId,
    fields: &[(String, String)],
) -> Result<(Draft, PreviewSettings), UiError> {
    user.check_csrf(field(fields, "csrf"))?;
    user.workspace(workspace_id)?;
    Ok((draft_of(fields), PreviewSettings::from_form(fields)))
}

/// `POST /ui/w/{id}/campaigns/editor`: an editor button (`op`). htmx selects the editor's body
/// from the page; a plain form post gets the whole page.
pub async fn change(
    State(state): State<UiState>,
    user: SignedIn,
    Path(workspace_id): Path<WorkspaceId>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    let (mut draft, settings) = posted(&user, workspace_id, &fields)?;
    ops::apply(&mut draft, field(&fields, "op"));
    page(&state, &user, workspace_id, draft, plain(settings)).await
}

/// `POST /ui/w/{id}/campaigns/editor/preview`: every message rendered again, swapped in place
/// by htmx (out of band), with the sample event when it was filled in anew.
pub async fn preview(
    State(state): State<UiState>,
    user: SignedIn,
    Path(workspace_id): Path<WorkspaceId>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    let (draft, mut settings) = posted(&user, workspace_id, &fields)?;
    let filled = fill_sample(&state, workspace_id, &draft, &mut settings).await?;
    let previews = previews(&state, &user, workspace_id, &draft, &settings).await?;
    Ok(render(&PreviewsFragment {
        previews,
        settings: filled.then_some(settings),
    }))
}

#[derive(Template)]
#[template(path = "campaign_test_result.html")]
struct TestResult {
    sent: bool,
    message: String,
}

/// `POST /ui/w/{id}/campaigns/editor/send-test` with `test_step`: sends that step's message,
/// as previewed, to the person chosen, marked as a test and counted nowhere.
pub async fn send_test(
    State(state): State<UiState>,
    user: SignedIn,
    headers: HeaderMap,
    Path(workspace_id): Path<WorkspaceId>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    let (draft, settings) = posted(&user, workspace_id, &fields)?;
    let step = field(&fields, "test_step").parse::<usize>().ok();
    let message = step
        .and_then(|index| draft.steps.get(index))
        .and_then(message_of);
    let outcome = match (message, sample_data(&settings.event_text)) {
        (None, _) => Err("Choose a webhook, email or push step to send.".to_owned()),
        (_, Err(error)) => Err(error),
        (Some(message), Ok(data)) => {
            let request = preview_request(&state, &draft, &settings, data);
            match state
                .campaigns()
                .send_test(workspace_id, &request, &message)
                .await
            {
                Ok(Ok(id)) => Ok(format!(
                    "Sent to {} as a test ({id}); no metric counts it.",
                    settings.person_label.trim()
                )),
                Ok(Err(refusal)) => Err(format!("Not sent: {refusal}")),
                Err(CampaignsError::Invalid(message)) => Err(format!("Not sent: {message}.")),
                Err(CampaignsError::PersonNotFound) => {
                    Err("Not sent: the person chosen is gone.".to_owned())
                }
                Err(other) => return Err(other.into()),
            }
        }
    };
    if headers.contains_key("hx-request") {
        let (sent, message) = match outcome {
            Ok(message) => (true, message),
            Err(message) => (false, message),
        };
        return Ok(render(&TestResult { sent, message }));
    }
    let shown = match outcome {
        Ok(message) => Shown {
            notice: Some(message),
            ..plain(settings)
        },
        Err(message) => Shown {
            error: Some(message),
            ..plain(settings)
        },
    };
    page(&state, &user, workspace_id, draft, shown).await
}

/// `POST /ui/w/{id}/campaigns/save`: creates the campaign (a draft, to be started from its
/// Overview) or saves the edit (a running campaign's new runs take it at once), then shows its
/// Overview; a refusal keeps the editor as it was, with why.
pub async fn save(
    State(state): State<UiState>,
    user: SignedIn,
    Path(workspace_id): Path<WorkspaceId>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    let (draft, settings) = posted(&user, workspace_id, &fields)?;
    let definition = match to_definition(&draft) {
        Ok(definition) => definition,
        Err(missing) => {
            let shown = Shown {
                error: Some(format!("Not saved: {}.", missing.join("; "))),
                ..plain(settings)
            };
            return page(&state, &user, workspace_id, draft, shown).await;
        }
    };
    let campaigns = state.campaigns();
    let saved = match draft.campaign_id {
        Some(id) => campaigns.update(workspace_id, id, definition).await,
        None => campaigns.create(workspace_id, definition).await,
    };
    match saved {
        Ok(row) => {
            Ok(Redirect::to(&format!("/ui/w/{workspace_id}/campaigns/{}", row.id)).into_response())
        }
        Err(CampaignsError::Invalid(message)) => {
            let shown = Shown {
                error: Some(format!("Not saved: {message}")),
                ..plain(settings)
            };
            page(&state, &user, workspace_id, draft, shown).await
        }
        Err(other) => Err(other.into()),
    }
}

/// `GET /ui/w/{id}/campaigns/preview-frame/{token}`: an email preview, as a sandboxed document
/// of its own (see `crate::frames`).
pub async fn frame(
    State(state): State<UiState>,
    user: SignedIn,
    Path((workspace_id, token)): Path<(WorkspaceId, String)>,
) -> Result<Response, UiError> {
    user.workspace(workspace_id)?;
    let html = state
        .frames()
        .get(user.user.id, &token)
        .ok_or(UiError::NotFound("preview"))?;
    let mut response = axum::response::Html(html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(FRAME_CSP),
    );
    headers.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    Ok(response)
}
