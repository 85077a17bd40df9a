//! The links inside sent email: the open pixel, click redirects and unsubscribe.
//!
//! None of these routes take credentials, because the people who follow them are the
//! recipients, not the app. What they record goes through the same ingest path as
//! `POST /api/v1/metrics`, so a pixel open and a reported open are stored and counted alike.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_domain::{IdType, limits};
use herald_ingest::Operation;
use herald_ingest::operation::{IdentifyInput, PathIdentifier};
use herald_store::{DeliveryMetric, DeliveryRow};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::IntoParams;

use crate::body::decode;
use crate::openapi::docs;
use crate::{ApiError, AppState};

/// A 1×1 transparent GIF (GIF89a, a two-colour table and a transparency extension): the
/// smallest image every mail client renders without complaint.
const PIXEL_GIF: [u8; 43] = [
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// The form field and value of an RFC 8058 one-click unsubscribe.
const ONE_CLICK_FIELD: &str = "List-Unsubscribe";
const ONE_CLICK_VALUE: &str = "One-Click";

/// Looks a delivery up; a storage failure is logged and read as "unknown", because the
/// callers answer the recipient the same either way.
async fn find_delivery(state: &AppState, delivery_id: &str) -> Option<DeliveryRow> {
    let id = delivery_id.to_owned();
    match state.store().read(move |reader| reader.delivery(&id)).await {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(%error, "could not read a tracked delivery");
            None
        }
    }
}

fn metric(delivery: &DeliveryRow, name: &str, source: &str, data: Value, now: i64) -> Operation {
    Operation::Metric(DeliveryMetric {
        source: source.to_owned(),
        delivery_id: delivery.id.clone(),
        metric: name.to_owned(),
        timestamp: now,
        received_at: now,
        data,
    })
}

/// Records a metric of a delivery Herald sent. Failures are logged, not answered: the person
/// who opened or clicked should get their image or page whether or not the count was kept.
async fn record(state: &AppState, delivery: &DeliveryRow, name: &str, source: &str, data: Value) {
    let operation = metric(delivery, name, source, data, state.clock().now());
    if let Err(error) = state
        .ingest()
        .submit(delivery.workspace_id, vec![operation])
        .await
    {
        tracing::warn!(%error, metric = name, "could not record a tracked metric");
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PixelQuery {
    /// The delivery's token, which only the message carries.
    s: Option<String>,
}

/// The open pixel
///
/// A 1×1 transparent GIF that records the delivery as opened when `s` is the delivery's token.
/// Every request gets the same image, so the pixel tells nothing about which ids exist or
/// whether a token was right.
#[utoipa::path(
    get,
    path = "/e/o/{delivery_id}",
    tag = docs::EMAIL_LINKS,
    params(("delivery_id" = String, Path, description = docs::DELIVERY_ID), PixelQuery),
    responses(
        (status = 200, description = "The image: a 1×1 transparent GIF.", content(("image/gif"))),
    ),
)]
pub async fn open_pixel(
    State(state): State<AppState>,
    Path(delivery_id): Path<String>,
    Query(query): Query<PixelQuery>,
) -> Response {
    // Only the message itself carries the token, so a delivery id alone marks nothing opened.
    // Every request gets the same image, so the pixel cannot be used to learn which ids exist
    // or whether a token was right, and a wrong one stores nothing.
    let signed = query.s.as_deref().is_some_and(|token| {
        herald_delivery::verify_delivery_token(&state.campaigns().tracking_key, &delivery_id, token)
    });
    if signed && let Some(delivery) = find_delivery(&state, &delivery_id).await {
        record(&state, &delivery, "opened", "pixel", json!({})).await;
    }
    (
        [
            (header::CONTENT_TYPE, "image/gif"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PIXEL_GIF,
    )
        .into_response()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClickQuery {
    /// The URL the link leads to (required).
    u: Option<String>,
    /// The link's signature, made when the message was sent (required).
    s: Option<String>,
}

fn bad_click(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_click_link", message)
}

/// Percent-encodes what may not stand raw in a `Location` header (controls, spaces and
/// non-ASCII bytes), leaving the rest exactly as signed.
fn location_value(url: &str) -> Option<HeaderValue> {
    let mut encoded = String::with_capacity(url.len());
    for byte in url.bytes() {
        if byte.is_ascii_graphic() {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    HeaderValue::from_str(&encoded).ok()
}

/// A click link
///
/// Records the click and redirects to `u`. The signature is checked first, so the link only
/// ever leads where Herald itself pointed it in a message.
#[utoipa::path(
    get,
    path = "/e/c/{delivery_id}",
    tag = docs::EMAIL_LINKS,
    params(("delivery_id" = String, Path, description = docs::DELIVERY_ID), ClickQuery),
    responses(
        (status = 302, description = "Redirects to `u` (`Location`)."),
        (status = 400, description = "`u` or `s` is missing, the signature does not match, or the URL is not http(s) (`invalid_click_link`).", body = docs::Error),
    ),
)]
pub async fn click(
    State(state): State<AppState>,
    Path(delivery_id): Path<String>,
    Query(query): Query<ClickQuery>,
) -> Result<Response, ApiError> {
    let (Some(url), Some(signature)) = (query.u, query.s) else {
        return Err(bad_click("a click link needs both u and s"));
    };
    // The signature is checked before anything else, so this route only ever redirects to a
    // URL Herald itself put in a message and can never serve as an open redirect.
    if !herald_delivery::verify_click(
        &state.campaigns().tracking_key,
        &delivery_id,
        &url,
        &signature,
    ) {
        return Err(bad_click("this click link's signature does not match"));
    }
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(bad_click("click links only lead to http and https URLs"));
    }
    let location =
        location_value(&url).ok_or_else(|| bad_click("this click link's URL is malformed"))?;
    if let Some(delivery) = find_delivery(&state, &delivery_id).await {
        record(&state, &delivery, "clicked", "click", json!({"href": url})).await;
    }
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// How an unsubscribe request was made, which decides what it is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// Customer.io's JSON call.
    Json,
    /// RFC 8058's one-click POST, from a mail client or from Herald's own page.
    OneClick,
}

impl Via {
    fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::OneClick => "one_click",
        }
    }
}

fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

fn bad_unsubscribe(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
}

/// Whether a `multipart/form-data` body holds the field `List-Unsubscribe` with the value
/// `One-Click`. RFC 8058 says mail clients should send this encoding, so it is read here
/// without a general multipart parser: only this one field matters.
fn multipart_one_click(content_type: &str, body: &[u8]) -> bool {
    let Some(boundary) = content_type
        .split(';')
        .find_map(|part| {
            let (name, value) = part.trim().split_once('=')?;
            name.eq_ignore_ascii_case("boundary").then_some(value)
        })
        .map(|boundary| boundary.trim_matches('"'))
    else {
        return false;
    };
    let body = String::from_utf8_lossy(body);
    body.split(&format!("--{boundary}")).any(|part| {
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            return false;
        };
        let names_field = head.lines().any(|line| {
            line.to_ascii_lowercase()
                .starts_with("content-disposition:")
                && line.contains(&format!("name=\"{ONE_CLICK_FIELD}\""))
        });
        names_field && value.trim_end_matches(['\r', '\n']) == ONE_CLICK_VALUE
    })
}

/// Reads what an unsubscribe request asks: `Ok((unsubscribe, via))`.
fn unsubscribe_request(headers: &HeaderMap, body: &Bytes) -> Result<(bool, Via), ApiError> {
    // The original stays for the multipart boundary, which is case-sensitive.
    let original = content_type(headers);
    let content_type = original.to_ascii_lowercase();
    if content_type.starts_with("application/json") {
        let body = decode(headers, body, limits::MAX_V1_BODY_BYTES, "unsubscribe")?;
        return match body.get("unsubscribe") {
            Some(Value::Bool(unsubscribe)) => Ok((*unsubscribe, Via::Json)),
            _ => Err(bad_unsubscribe(
                "send {\"unsubscribe\": true} or {\"unsubscribe\": false}",
            )),
        };
    }
    let one_click = if content_type.starts_with("application/x-www-form-urlencoded") {
        let body = decode(headers, body, limits::MAX_V1_BODY_BYTES, "unsubscribe")?;
        body.get(ONE_CLICK_FIELD).and_then(Value::as_str) == Some(ONE_CLICK_VALUE)
    } else if content_type.starts_with("multipart/form-data") {
        body.len() < limits::MAX_V1_BODY_BYTES && multipart_one_click(original, body)
    } else {
        return Err(bad_unsubscribe(
            "unsubscribe takes Content-Type: application/json with {\"unsubscribe\": true}, or \
             the one-click form body List-Unsubscribe=One-Click",
        ));
    };
    if one_click {
        Ok((true, Via::OneClick))
    } else {
        Err(bad_unsubscribe(
            "a form unsubscribe must carry List-Unsubscribe=One-Click",
        ))
    }
}

/// Whether the client asked for a web page: Herald's own unsubscribe page posts the one-click
/// form from a browser, whose navigation always accepts HTML, and deserves a page back.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.to_ascii_lowercase().contains("text/html"))
}

/// Unsubscribes the recipient of a delivery
///
/// Sets the `unsubscribed` attribute of the person the delivery went to and, when they
/// unsubscribe, records `unsubscribed` on the delivery. It takes Customer.io's JSON call
/// (`{"unsubscribe": true}`, or `false` to resubscribe) or RFC 8058's one-click form
/// (`List-Unsubscribe=One-Click`, form-encoded or multipart); a one-click form from a browser
/// (`Accept: text/html`) gets a page back.
#[utoipa::path(
    post,
    path = "/unsubscribe/{delivery_id}",
    tag = docs::EMAIL_LINKS,
    params(("delivery_id" = String, Path, description = docs::DELIVERY_ID)),
    request_body(content(
        (Value = "application/json", example = json!({"unsubscribe": true})),
        ("application/x-www-form-urlencoded", example = "List-Unsubscribe=One-Click"),
        ("multipart/form-data"),
    )),
    responses(
        (status = 200, description = "Done: `{}`, or a page for a browser.", content(
            (Value = "application/json", example = json!({})),
            (String = "text/html"),
        )),
        (status = 400, description = "The body is not one of the two forms, or no delivery has this id (`unknown_delivery`).", body = docs::Error),
    ),
)]
pub async fn unsubscribe(
    State(state): State<AppState>,
    Path(delivery_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (unsubscribe, via) = unsubscribe_request(&headers, &body)?;
    // Customer.io answers an unknown delivery id with a 400, and clients rely on it.
    let delivery = find_delivery(&state, &delivery_id).await.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "unknown_delivery",
            format!("no delivery has the id {delivery_id:?}"),
        )
    })?;
    let seq = delivery.person_seq;
    let workspace_id = delivery.workspace_id;
    let person = state
        .store()
        .read(move |reader| reader.person_by_seq(workspace_id, seq))
        .await?;
    let mut operations = Vec::new();
    // The attribute goes through an identify, so it is logged as an attribute change and the
    // segment engine sees it like any other; a person deleted since the send has nothing left
    // to change.
    if let Some(person) = person {
        let mut attributes = Map::new();
        attributes.insert("unsubscribed".into(), Value::Bool(unsubscribe));
        operations.push(Operation::Identify(IdentifyInput {
            target: PathIdentifier::explicit(IdType::CioId, person.cio_id),
            id: None,
            email: None,
            anonymous_id: None,
            attributes,
            update_only: true,
            relationships: None,
        }));
    }
    // A resubscribe is not an `unsubscribed` outcome of the message; the attribute change above
    // is its record.
    if unsubscribe {
        let data = json!({"via": via.as_str()});
        let now = state.clock().now();
        operations.push(metric(&delivery, "unsubscribed", "unsubscribe", data, now));
    }
    if !operations.is_empty() {
        state.ingest().submit(workspace_id, operations).await?;
    }
    if via == Via::OneClick && wants_html(&headers) {
        return Ok(page(StatusCode::OK, UNSUBSCRIBED_PAGE));
    }
    Ok(Json(json!({})).into_response())
}

/// The unsubscribe page
///
/// A page with one button that posts the one-click form. Opening it changes nothing, because
/// mail scanners open every link they see.
#[utoipa::path(
    get,
    path = "/unsubscribe/{delivery_id}",
    tag = docs::EMAIL_LINKS,
    params(("delivery_id" = String, Path, description = docs::DELIVERY_ID)),
    responses(
        (status = 200, description = "The page.", content_type = "text/html", body = String),
        (status = 404, description = "A page that says the link is unknown.", content_type = "text/html", body = String),
    ),
)]
pub async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(delivery_id): Path<String>,
) -> Response {
    match find_delivery(&state, &delivery_id).await {
        Some(_) => page(StatusCode::OK, CONFIRM_PAGE),
        None => page(StatusCode::NOT_FOUND, UNKNOWN_PAGE),
    }
}

/// An HTML answer that loads nothing from elsewhere and may not be framed.
fn page(status: StatusCode, html: &'static str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
            ),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        html,
    )
        .into_response()
}

/// The form has no `action`, so it posts to the page's own URL and works behind any public URL.
const CONFIRM_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Unsubscribe</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}button{font-size:1rem;padding:.6rem 1.2rem;cursor:pointer}</style>
</head><body>
<h1>Unsubscribe</h1>
<p>Stop receiving these emails?</p>
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>
</body></html>
"#;

const UNSUBSCRIBED_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Unsubscribed</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}</style>
</head><body>
<h1>You are unsubscribed</h1>
<p>You will no longer receive these emails.</p>
</body></html>
"#;

const UNKNOWN_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Link not valid</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}</style>
</head><body>
<h1>This link is not valid</h1>
<p>The unsubscribe link may be incomplete. Try opening it again from the email.</p>
</body></html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_multipart_one_click_body() {
        let content_type = "multipart/form-data; boundary=xyz";
        let body = "--xyz\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--xyz--\r\n";
        assert!(multipart_one_click(content_type, body.as_bytes()));
        let other = body.replace("One-Click", "Two-Clicks");
        assert!(!multipart_one_click(content_type, other.as_bytes()));
        assert!(!multipart_one_click("multipart/form-data", body.as_bytes()));
    }

    #[test]
    fn locations_keep_ascii_and_encode_the_rest() {
        let value = location_value("https://x.test/café?a=1 2").unwrap();
        assert_eq!(value, "https://x.test/caf%C3%A9?a=1%202");
    }
}
