//! What the webhook and push senders share: the HTTP client settings and how an answer or a
//! failure is sorted into retryable and permanent.

use std::error::Error;
use std::time::Duration;

use reqwest::header::{HeaderMap, LOCATION};
use reqwest::{StatusCode, Url};

use crate::error::DeliveryError;

/// The `User-Agent` of every request Herald sends.
pub(crate) const USER_AGENT: &str = concat!("Herald/", env!("CARGO_PKG_VERSION"));

/// How much of an answer's body is kept: enough to show a person what the server said, never
/// a whole download.
pub(crate) const SNIPPET_BYTES: usize = 1024;

/// How much of the body goes into an error message, which ends up in the delivery log.
const ERROR_SNIPPET_CHARS: usize = 256;

/// Connecting never gets more than this, even under a longer total timeout: a host that does
/// not accept a connection within it is down, and the retry comes later anyway.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A failure below reqwest (such as the resolver refusing every address) that is known to be
/// final. reqwest wraps it as an ordinary connection error, so [`classify_error`] looks for it
/// in the error's source chain.
#[derive(Debug)]
pub(crate) struct PermanentCause(pub(crate) String);

impl std::fmt::Display for PermanentCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for PermanentCause {}

/// The client settings both senders use.
///
/// Redirects are not followed: a webhook's answer is the receiver's verdict, and following a
/// `Location` would let a public host bounce the request to a private one. Proxies from the
/// environment are ignored because a proxy would resolve and connect on our behalf, out of the
/// network guard's reach, and would make tests depend on the machine's settings.
pub(crate) fn client_builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
        .no_proxy()
        .user_agent(USER_AGENT)
}

/// Builds a client, turning the (unlikely) failure to set up TLS into a permanent error.
pub(crate) fn build_client(
    what: &str,
    builder: reqwest::ClientBuilder,
) -> Result<reqwest::Client, DeliveryError> {
    builder.build().map_err(|error| {
        DeliveryError::Permanent(format!(
            "cannot set up the {what} HTTP client: {}",
            describe(&error)
        ))
    })
}

/// Parses an http(s) URL; anything else can never be delivered.
pub(crate) fn parse_url(what: &str, raw: &str) -> Result<Url, DeliveryError> {
    let url = Url::parse(raw.trim()).map_err(|error| {
        DeliveryError::Permanent(format!("invalid {what} URL {raw:?}: {error}"))
    })?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        "http" | "https" => Err(DeliveryError::Permanent(format!(
            "invalid {what} URL {raw:?}: it has no host"
        ))),
        scheme => Err(DeliveryError::Permanent(format!(
            "invalid {what} URL {raw:?}: scheme {scheme:?} is not http or https"
        ))),
    }
}

/// Sorts a non-success answer. 2xx is success; 408, 429 and 5xx say "later"; everything else
/// (other 4xx, and 3xx since redirects are not followed) will not change by retrying.
pub(crate) fn classify_status(
    what: &str,
    status: StatusCode,
    headers: &HeaderMap,
    snippet: &str,
) -> Result<(), DeliveryError> {
    if status.is_success() {
        return Ok(());
    }
    let mut message = format!("{what} answered {status}");
    if status.is_redirection() {
        let location = headers
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("none");
        message.push_str(&format!(
            " (Location: {location}); redirects are not followed"
        ));
    }
    let snippet = snippet.trim();
    if !snippet.is_empty() {
        let shown: String = snippet.chars().take(ERROR_SNIPPET_CHARS).collect();
        message.push_str(": ");
        message.push_str(&shown);
    }
    let retryable = status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT;
    Err(if retryable {
        DeliveryError::Retryable(message)
    } else {
        DeliveryError::Permanent(message)
    })
}

/// Sorts a request that got no answer: timeouts, refused or reset connections and failed DNS
/// look-ups are retryable; a request reqwest could not even build, or a [`PermanentCause`]
/// below it, is not.
pub(crate) fn classify_error(
    what: &str,
    error: reqwest::Error,
    timeout: Duration,
) -> DeliveryError {
    // The URL can carry credentials in its query string, and the caller knows it anyway.
    let error = error.without_url();
    if let Some(cause) = find_cause::<PermanentCause>(&error) {
        return DeliveryError::Permanent(cause.0.clone());
    }
    if error.is_timeout() {
        return DeliveryError::Retryable(format!("{what} timed out after {timeout:?}"));
    }
    if error.is_builder() {
        return DeliveryError::Permanent(format!("invalid {what} request: {}", describe(&error)));
    }
    DeliveryError::Retryable(format!("{what} request failed: {}", describe(&error)))
}

/// Reads at most [`SNIPPET_BYTES`] of the body, as text. A body that fails midway keeps what
/// arrived: the status is the answer, the snippet only illustrates it.
pub(crate) async fn read_snippet(response: &mut reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < SNIPPET_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    bytes.truncate(SNIPPET_BYTES);
    // The cut can split a UTF-8 character; drop the partial one rather than show U+FFFD.
    if let Err(error) = std::str::from_utf8(&bytes)
        && error.error_len().is_none()
    {
        bytes.truncate(error.valid_up_to());
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The error and its sources as one line, skipping a source whose text its parent repeats.
pub(crate) fn describe(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

fn find_cause<'a, T: Error + 'static>(error: &'a (dyn Error + 'static)) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(cause) = current {
        if let Some(found) = cause.downcast_ref::<T>() {
            return Some(found);
        }
        current = cause.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> Result<(), DeliveryError> {
        classify_status(
            "webhook",
            StatusCode::from_u16(code).unwrap(),
            &HeaderMap::new(),
            "",
        )
    }

    #[test]
    fn statuses_sort_into_retryable_and_permanent() {
        assert!(status(200).is_ok());
        assert!(status(204).is_ok());
        for code in [500, 502, 503, 504, 429, 408] {
            assert!(status(code).unwrap_err().is_retryable(), "{code}");
        }
        for code in [400, 401, 403, 404, 410, 422, 301, 302, 307] {
            assert!(!status(code).unwrap_err().is_retryable(), "{code}");
        }
    }

    #[test]
    fn only_http_urls_with_a_host_are_accepted() {
        assert!(parse_url("webhook", "https://example.com/hook").is_ok());
        for bad in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "not a url",
            "http://",
        ] {
            let error = parse_url("webhook", bad).unwrap_err();
            assert!(!error.is_retryable(), "{bad}: {error}");
        }
    }
}
