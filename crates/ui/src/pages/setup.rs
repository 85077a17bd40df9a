//! The first user: while no user exists, `herald serve` prints a one-time link to this page.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use herald_store::{NewUser, StoreError, StoreHandle};
use serde::Deserialize;

use crate::auth::{password, tokens};
use crate::error::UiError;
use crate::layout::Layout;
use crate::state::UiState;

/// The setting that holds the SHA-256 of the current setup link's token.
const SETUP_TOKEN: &str = "ui_setup_token_hash";

/// When no user exists yet, makes a new one-time setup token (any older link stops working)
/// and returns the path to print; `None` once a user exists.
pub async fn setup_path(store: &StoreHandle) -> Result<Option<String>, StoreError> {
    if store.read(|r| r.users_count()).await? > 0 {
        return Ok(None);
    }
    let token = tokens::random();
    let hash = tokens::hashed(&token);
    store
        .write(move |tx| tx.set_setting(SETUP_TOKEN, &hash))
        .await??;
    Ok(Some(format!("/ui/setup?token={token}")))
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    layout: Layout,
    token: String,
    email: String,
    error: Option<String>,
    min_password: usize,
}

fn page(status: StatusCode, token: String, email: String, error: Option<String>) -> Response {
    let page = SetupPage {
        layout: Layout::public(),
        token,
        email,
        error,
        min_password: password::MIN_PASSWORD_CHARS,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Whether a token is the current setup token and no user exists yet.
async fn valid(state: &UiState, token: &str) -> Result<bool, UiError> {
    let hash = tokens::hashed(token);
    Ok(state
        .store()
        .read(move |r| {
            Ok(r.users_count()? == 0
                && r.setting(SETUP_TOKEN)?
                    .is_some_and(|stored| tokens::same(&stored, &hash)))
        })
        .await?)
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// `GET /ui/setup?token=`.
pub async fn show(
    State(state): State<UiState>,
    Query(query): Query<TokenQuery>,
) -> Result<Response, UiError> {
    if !valid(&state, &query.token).await? {
        return Err(UiError::SetupLinkSpent);
    }
    Ok(page(StatusCode::OK, query.token, String::new(), None))
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// `POST /ui/setup`: creates the first user, an admin, and sends them to sign in. The token in
/// the form is what makes this request legitimate (it is the link only the operator saw).
pub async fn submit(
    State(state): State<UiState>,
    Form(input): Form<SetupForm>,
) -> Result<Response, UiError> {
    if !valid(&state, &input.token).await? {
        return Err(UiError::SetupLinkSpent);
    }
    let email = input.email.trim().to_lowercase();
    if !email.contains('@') {
        return Ok(page(
            StatusCode::BAD_REQUEST,
            input.token,
            email,
            Some("Enter an email address, like you@example.com.".into()),
        ));
    }
    let sent = input.password;
    let hashed = tokio::task::spawn_blocking(move || password::hash(&sent))
        .await
        .map_err(|_| UiError::Store(StoreError::Panicked("password hash".into())))?;
    let password_hash = match hashed {
        Ok(hash) => hash,
        Err(error) => {
            return Ok(page(
                StatusCode::BAD_REQUEST,
                input.token,
                email,
                Some(format!("{}{}", capitalized(&error.to_string()), ".")),
            ));
        }
    };
    let new = NewUser {
        email,
        password_hash,
        admin: true,
        created_at: state.now(),
    };
    let created = state
        .store()
        .write(move |tx| {
            // Checked again inside the write: two forms sent at once create one user, and the
            // other is told the link was used.
            if tx.users_count()? > 0 {
                return Ok::<_, StoreError>(false);
            }
            tx.insert_user(&new)?;
            tx.set_setting(SETUP_TOKEN, "")?;
            Ok(true)
        })
        .await??;
    if !created {
        return Err(UiError::SetupLinkSpent);
    }
    Ok(Redirect::to("/ui/sign-in").into_response())
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}
