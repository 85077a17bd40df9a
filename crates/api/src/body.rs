//! Reading request bodies: size limits, then JSON or form decoding.

use axum::body::Bytes;
use axum::http::HeaderMap;
use herald_ingest::ValidationError;
use herald_ingest::decode::{Encoding, decode_json, decode_object};
use serde_json::{Map, Value};

use crate::ApiError;

/// Decodes an App API body, which is always JSON, and requires it to be an object.
pub fn json_object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    match decode_json(body)? {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::bad_request("the body must be a JSON object")),
    }
}

/// Decodes a Track API body according to its `Content-Type`, refusing bodies of `limit` bytes
/// or more with a message that names the limit.
pub fn decode(
    headers: &HeaderMap,
    body: &Bytes,
    limit: usize,
    what: &str,
) -> Result<Map<String, Value>, ValidationError> {
    if body.len() >= limit {
        return Err(ValidationError::new(
            "too_large",
            None,
            format!(
                "request body is {} bytes; {what} takes less than {limit} bytes",
                body.len()
            ),
        ));
    }
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    decode_object(body, Encoding::from_content_type(content_type))
}
