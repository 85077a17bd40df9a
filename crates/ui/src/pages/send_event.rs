//! Send Event from a person's profile: the same check and the same ingest as
//! `POST /api/v1/customers/{id}/events`, so it starts campaigns and moves segments as an event
//! from the app would.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use herald_domain::limits;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::people::{SendForm, render_profile};
use crate::auth::session::SignedIn;
use crate::error::UiError;
use crate::state::UiState;

#[derive(Deserialize)]
pub struct SendInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    data: String,
}

/// Reads the Event data field: empty is no data; anything else must be a JSON object.
fn event_data(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    if text.len() > limits::MAX_V1_BODY_BYTES {
        return Err(format!(
            "Event data is {} bytes; at most {} are taken.",
            text.len(),
            limits::MAX_V1_BODY_BYTES
        ));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err("Event data must be a JSON object, like {\"plan\": \"pro\"}.".into()),
        Err(error) => Err(format!(
            "Event data is not valid JSON: {} (line {}, column {}).",
            error
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or_default(),
            error.line(),
            error.column()
        )),
    }
}

/// `POST /ui/w/{id}/people/{seq}/events`.
pub async fn send(
    State(state): State<UiState>,
    user: SignedIn,
    Path((workspace_id, seq)): Path<(i64, i64)>,
    Form(input): Form<SendInput>,
) -> Result<Response, UiError> {
    user.check_csrf(&input.csrf)?;
    user.workspace(workspace_id)?;
    let person = state
        .store()
        .read(move |r| r.person_by_seq(workspace_id, seq))
        .await?
        .ok_or(UiError::NotFound("person"))?;
    let refuse = |error: String| SendForm {
        open: true,
        name: input.name.clone(),
        data: input.data.clone(),
        error: Some(error),
        sent: None,
    };
    let data = match event_data(&input.data) {
        Ok(data) => data,
        Err(error) => {
            return render_profile(&state, &user, workspace_id, seq, None, refuse(error)).await;
        }
    };
    let mut body = Map::new();
    body.insert("name".into(), Value::String(input.name.clone()));
    body.insert("data".into(), data);
    // The person by their cio_id: the one the profile shows, whatever their id or email.
    let operation = match herald_ingest::validate::track(&format!("cio_{}", person.cio_id), &body) {
        Ok(operation) => operation,
        Err(error) => {
            let form = refuse(error.message);
            return render_profile(&state, &user, workspace_id, seq, None, form).await;
        }
    };
    state.ingest().submit(workspace_id, vec![operation]).await?;
    let name: String = form_urlencoded::byte_serialize(input.name.trim().as_bytes()).collect();
    Ok(Redirect::to(&format!(
        "/ui/w/{workspace_id}/people/{seq}?sent={name}#activity"
    ))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::event_data;

    #[test]
    fn event_data_is_an_object_or_nothing() {
        assert_eq!(event_data("  ").expect("empty"), serde_json::json!({}));
        assert_eq!(
            event_data("{\"a\": 1}").expect("an object"),
            serde_json::json!({"a": 1})
        );
        assert!(event_data("[1]").unwrap_err().contains("JSON object"));
        let error = event_data("{\"a\": 1,\n}").unwrap_err();
        assert!(error.contains("line 2, column 1"), "{error}");
    }
}
