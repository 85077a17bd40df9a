//! The headers of a webhook request: the user's, then Herald's own, which always win.

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};

use crate::error::DeliveryError;
use crate::http;

/// Headers Herald sets itself. A receiver relies on them to deduplicate and to verify the
/// signature, so a campaign's own headers of the same name are dropped rather than sent twice.
const HERALD_HEADERS: [&str; 5] = [
    "idempotency-key",
    "x-herald-delivery-id",
    "x-herald-timestamp",
    "x-herald-signature",
    "user-agent",
];

/// Headers that describe the connection and the body's framing, which the HTTP client derives
/// from the URL and the body; a user value could only make the request malformed.
const FRAMING_HEADERS: [&str; 4] = ["host", "content-length", "transfer-encoding", "connection"];

/// What Herald adds to every webhook request.
pub(super) struct HeraldHeaders<'a> {
    pub(super) idempotency_key: &'a str,
    pub(super) delivery_id: &'a str,
    pub(super) timestamp: i64,
    pub(super) signature: &'a str,
}

/// Builds the request's headers: the user's (validated), a JSON `Content-Type` unless the user
/// chose one, then Herald's own.
pub(super) fn build(
    user: &[(String, String)],
    herald: &HeraldHeaders<'_>,
) -> Result<HeaderMap, DeliveryError> {
    let mut map = HeaderMap::new();
    for (name, value) in user {
        let header = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
            DeliveryError::Permanent(format!("invalid webhook header name {name:?}"))
        })?;
        if HERALD_HEADERS.contains(&header.as_str()) || FRAMING_HEADERS.contains(&header.as_str()) {
            continue;
        }
        let value = HeaderValue::from_str(value).map_err(|_| {
            DeliveryError::Permanent(format!(
                "invalid value for webhook header {name}: it contains a line break or another control character"
            ))
        })?;
        // Appending keeps repeated headers, which HTTP allows.
        map.append(header, value);
    }
    if !map.contains_key(CONTENT_TYPE) {
        map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    let own = [
        ("idempotency-key", herald.idempotency_key.to_owned()),
        ("x-herald-delivery-id", herald.delivery_id.to_owned()),
        ("x-herald-timestamp", herald.timestamp.to_string()),
        ("x-herald-signature", herald.signature.to_owned()),
    ];
    for (name, value) in own {
        let value = HeaderValue::from_str(&value).map_err(|_| {
            DeliveryError::Permanent(format!(
                "invalid value for webhook header {name}: {value:?}"
            ))
        })?;
        map.insert(HeaderName::from_static(name), value);
    }
    map.insert(USER_AGENT, HeaderValue::from_static(http::USER_AGENT));
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn herald() -> HeraldHeaders<'static> {
        HeraldHeaders {
            idempotency_key: "key-1",
            delivery_id: "d-1",
            timestamp: 1_700_000_000,
            signature: "v1=abc",
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn herald_headers_win_over_user_headers() {
        let user = pairs(&[
            ("Idempotency-Key", "forged"),
            ("X-Herald-Signature", "v1=forged"),
            ("User-Agent", "curl"),
            ("Content-Length", "999"),
            ("X-Custom", "1"),
            ("X-Custom", "2"),
        ]);
        let map = build(&user, &herald()).unwrap();
        assert_eq!(map["idempotency-key"], "key-1");
        assert_eq!(map["x-herald-signature"], "v1=abc");
        assert_eq!(map["x-herald-timestamp"], "1700000000");
        assert_eq!(map["user-agent"], http::USER_AGENT);
        assert_eq!(map["content-type"], "application/json");
        assert!(map.get("content-length").is_none());
        assert_eq!(map.get_all("x-custom").iter().count(), 2);
    }

    #[test]
    fn a_user_content_type_is_kept() {
        let map = build(&pairs(&[("content-type", "text/plain")]), &herald()).unwrap();
        assert_eq!(map["content-type"], "text/plain");
    }

    #[test]
    fn invalid_headers_are_permanent_and_named() {
        let error = build(&pairs(&[("Bad Name", "x")]), &herald()).unwrap_err();
        assert!(!error.is_retryable());
        assert!(error.to_string().contains("\"Bad Name\""), "{error}");

        let error = build(&pairs(&[("X-Injected", "a\r\nEvil: 1")]), &herald()).unwrap_err();
        assert!(!error.is_retryable());
        assert!(error.to_string().contains("X-Injected"), "{error}");
    }
}
