//! Manual segments: creating one, and adding or removing people by id or email, typed or pasted
//! (a free list) or uploaded (a CSV file's first column, or one id a line), with a report of
//! what matched nobody. The same `Segments` calls as the App API's add and remove.

use axum::Form;
use axum::extract::{Multipart, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use herald_domain::{SegmentId, WorkspaceId};
use herald_segments::SegmentDraft;
use serde::Deserialize;

use super::segments::{Report, SegmentQuery, page};
use crate::auth::session::SignedIn;
use crate::error::UiError;
use crate::state::UiState;

/// The most people one submission may name: a list that long is an import, for the API.
const MAX_ENTRIES: usize = 100_000;

/// The largest members form taken, file included: room for `MAX_ENTRIES` emails.
pub const MAX_UPLOAD_BYTES: usize = 8 * 1024 * 1024;

/// What a members form that cannot be read answers: the size limit by name when it was that.
fn unreadable(error: &axum::extract::multipart::MultipartError) -> UiError {
    if error.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        UiError::Refused(format!(
            "The form is larger than {} MB, the most it takes at once. Split the file, or use the Track API's add_customers.",
            MAX_UPLOAD_BYTES / (1024 * 1024)
        ))
    } else {
        UiError::Refused(format!("The form could not be read: {error}"))
    }
}

/// Header names a CSV file's first row may carry instead of an identifier.
const HEADERS: [&str; 8] = [
    "id",
    "email",
    "identifier",
    "customer_id",
    "user_id",
    "customer id",
    "user id",
    "email address",
];

/// The entries of a typed or pasted list: separated by new lines, commas, semicolons or spaces.
pub fn typed_list(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .map(|entry| entry.trim_matches('"').trim())
        .filter(|entry| !entry.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The entries of an uploaded file: each line's first field (CSV, or one id a line), without a
/// header row.
pub fn uploaded_list(text: &str) -> Vec<String> {
    let mut entries = Vec::new();
    let mut first = true;
    for line in text.lines() {
        let field = line
            .split([',', ';', '\t'])
            .next()
            .unwrap_or_default()
            .trim()
            .trim_matches('"')
            .trim();
        if field.is_empty() {
            continue;
        }
        let header = first && HEADERS.contains(&field.to_lowercase().as_str());
        first = false;
        if !header {
            entries.push(field.to_owned());
        }
    }
    entries
}

#[derive(Deserialize)]
pub struct NewManual {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

/// `POST /ui/w/{id}/segments/new-manual`: creates an empty manual segment and opens it.
pub async fn create(
    State(state): State<UiState>,
    user: SignedIn,
    Path(workspace_id): Path<WorkspaceId>,
    Form(input): Form<NewManual>,
) -> Result<Response, UiError> {
    user.check_csrf(&input.csrf)?;
    user.workspace(workspace_id)?;
    let draft = SegmentDraft {
        name: input.name,
        description: String::new(),
        definition: None,
    };
    let row = state.segments().create(workspace_id, draft).await?;
    Ok(Redirect::to(&format!("/ui/w/{workspace_id}/segments/{}", row.id)).into_response())
}

/// `POST /ui/w/{id}/segments/{segment}/members` (a multipart form: `csrf`, `people`, `file`,
/// `action` add or remove): answers the segment's page with the report.
pub async fn change(
    State(state): State<UiState>,
    user: SignedIn,
    Path((workspace_id, id)): Path<(WorkspaceId, SegmentId)>,
    mut form: Multipart,
) -> Result<Response, UiError> {
    let (mut csrf, mut typed, mut uploaded, mut action) =
        (String::new(), String::new(), String::new(), String::new());
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|error| unreadable(&error))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let text = field.text().await.map_err(|error| unreadable(&error))?;
        match name.as_str() {
            "csrf" => csrf = text,
            "people" => typed = text,
            "file" => uploaded = text,
            "action" => action = text,
            _ => {}
        }
    }
    user.check_csrf(&csrf)?;
    user.workspace(workspace_id)?;
    let add = match action.as_str() {
        "add" => true,
        "remove" => false,
        _ => return Err(UiError::Refused("Choose Add or Remove.".into())),
    };
    let mut entries = typed_list(&typed);
    entries.extend(uploaded_list(&uploaded));
    let report = if entries.is_empty() {
        Report::Refused(
            "Name at least one person: type or paste ids or emails, or upload a file.".into(),
        )
    } else if entries.len() > MAX_ENTRIES {
        Report::Refused(format!(
            "That is {} people; at most {MAX_ENTRIES} are taken at once. Split the list, or use the App API.",
            entries.len()
        ))
    } else {
        let done = state
            .segments()
            .set_manual_members_by_text(workspace_id, id, entries, add)
            .await?;
        Report::Done {
            add,
            matched: done.matched,
            unmatched: done.unmatched,
        }
    };
    page(
        &state,
        &user,
        workspace_id,
        id,
        SegmentQuery::default(),
        Some(report),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_read_as_people_type_and_files_hold_them() {
        assert_eq!(
            typed_list(" ann, bob@example.com;cat\n\"dan\"  eve "),
            vec!["ann", "bob@example.com", "cat", "dan", "eve"]
        );
        assert_eq!(
            uploaded_list("email,name\r\nann@example.com,Ann\n\n\"bob\",Bob\ncat\n"),
            vec!["ann@example.com", "bob", "cat"]
        );
        assert_eq!(
            uploaded_list("id\nid"),
            vec!["id"],
            "only the first row is a header"
        );
    }
}
