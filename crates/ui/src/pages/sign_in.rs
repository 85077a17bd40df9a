//! Signing in and out.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use herald_store::SessionRow;
use serde::Deserialize;

use crate::auth::session::SignedIn;
use crate::auth::{cookies, next, password, tokens};
use crate::error::UiError;
use crate::layout::Layout;
use crate::state::UiState;

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    layout: Layout,
    csrf: String,
    email: String,
    /// The page to return to after signing in; empty for the home page.
    next: String,
    error: Option<String>,
    notice: Option<String>,
}

/// Renders the form with a fresh CSRF token, set as a cookie too (double submit).
fn form(
    state: &UiState,
    status: StatusCode,
    email: String,
    next: &str,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let csrf = tokens::random();
    let page = SignInPage {
        layout: Layout::public(),
        csrf: csrf.clone(),
        email,
        next: next::safe(next).unwrap_or_default().to_owned(),
        error,
        notice,
    };
    match page.render() {
        Ok(html) => (
            status,
            [(
                header::SET_COOKIE,
                cookies::set(
                    cookies::SIGN_IN_CSRF,
                    &csrf,
                    3600,
                    state.settings().secure_cookies,
                ),
            )],
            Html(html),
        )
            .into_response(),
        Err(error) => {
            tracing::error!(error = %error, "cannot render the sign-in page");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Deserialize)]
pub struct SignInQuery {
    #[serde(default)]
    next: String,
}

/// `GET /ui/sign-in`, with `next`, the page to return to, when a signed-out request was sent
/// here.
pub async fn show(State(state): State<UiState>, Query(query): Query<SignInQuery>) -> Response {
    form(
        &state,
        StatusCode::OK,
        String::new(),
        &query.next,
        None,
        None,
    )
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// `POST /ui/sign-in`: a session for the right email and password, the form again with a
/// message otherwise (the same one for an unknown email and a wrong password).
pub async fn submit(
    State(state): State<UiState>,
    headers: HeaderMap,
    Form(input): Form<SignInForm>,
) -> Result<Response, UiError> {
    let expected = cookies::get(&headers, cookies::SIGN_IN_CSRF).unwrap_or_default();
    if expected.is_empty() || !tokens::same(&input.csrf, &expected) {
        return Err(UiError::Csrf);
    }
    let email = input.email.trim().to_lowercase();
    let now = state.now();
    if let Some(seconds) = state.limiter().locked(&email, now) {
        let minutes = (seconds + 59) / 60;
        let message = format!(
            "Too many failed sign-ins for this email. Try again in {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        );
        return Ok(form(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            email,
            &input.next,
            Some(message),
            None,
        ));
    }
    let lookup = email.clone();
    let found = state
        .store()
        .read(move |r| r.user_by_email(&lookup))
        .await?;
    // An unknown email costs a verify too, so the time taken does not tell it apart. Argon2
    // takes tens of milliseconds of CPU: it runs off the async threads.
    let sent = input.password;
    let user = tokio::task::spawn_blocking(move || match found {
        Some((user, hash)) => password::verify(&sent, &hash).then_some(user),
        None => {
            password::verify(&sent, password::decoy());
            None
        }
    })
    .await
    .map_err(|_| UiError::Store(herald_store::StoreError::Panicked("password check".into())))?;
    let Some(user) = user else {
        state.limiter().failed(&email, now);
        return Ok(form(
            &state,
            StatusCode::UNAUTHORIZED,
            email,
            &input.next,
            Some("That email and password do not match an account.".into()),
            None,
        ));
    };
    state.limiter().succeeded(&email);
    let token = tokens::random();
    let session = SessionRow {
        token_hash: tokens::hashed(&token),
        user_id: user.id,
        csrf_token: tokens::random(),
        created_at: now,
        expires_at: now + state.settings().session_seconds,
    };
    state
        .store()
        .write(move |tx| tx.insert_session(&session))
        .await??;
    let secure = state.settings().secure_cookies;
    let mut response = Redirect::to(next::safe(&input.next).unwrap_or("/ui/")).into_response();
    let headers = response.headers_mut();
    for cookie in [
        cookies::set(
            cookies::SESSION,
            &token,
            state.settings().session_seconds,
            secure,
        ),
        cookies::set(cookies::SIGN_IN_CSRF, "", 0, secure),
    ] {
        if let Ok(value) = cookie.parse() {
            headers.append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /ui/sign-out`: ends the session in the store, so the cookie is worthless even if kept.
pub async fn sign_out(
    State(state): State<UiState>,
    user: SignedIn,
    Form(input): Form<CsrfForm>,
) -> Result<Response, UiError> {
    user.check_csrf(&input.csrf)?;
    let hash = user.session.token_hash.clone();
    state
        .store()
        .write(move |tx| tx.delete_session(&hash))
        .await??;
    let mut response = form(
        &state,
        StatusCode::OK,
        String::new(),
        "",
        None,
        Some("You are signed out.".into()),
    );
    if let Ok(value) =
        cookies::set(cookies::SESSION, "", 0, state.settings().secure_cookies).parse()
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}
