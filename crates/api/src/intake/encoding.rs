//! Request bodies sent compressed: `Content-Encoding: gzip` is read (some HTTP clients compress
//! large bodies by themselves), any other encoding is refused by name rather than read as if it
//! were JSON.

use std::io::Read;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use flate2::read::MultiGzDecoder;

use crate::{ApiError, MAX_BODY_BYTES};

/// The body as sent when it is not compressed, or decompressed (at most `MAX_BODY_BYTES`, so a
/// small body cannot expand into a large one unchecked); `Ok(None)` when nothing was to do.
pub(crate) fn decoded(headers: &HeaderMap, body: &Bytes) -> Result<Option<Bytes>, ApiError> {
    let Some(value) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(None);
    };
    let encoding = value
        .to_str()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match encoding.as_str() {
        "" | "identity" => Ok(None),
        "gzip" | "x-gzip" => {
            let mut out = Vec::new();
            let limit = MAX_BODY_BYTES as u64 + 1;
            MultiGzDecoder::new(&body[..])
                .take(limit)
                .read_to_end(&mut out)
                .map_err(|error| {
                    ApiError::bad_request(format!(
                        "the request body is not valid gzip, as its Content-Encoding says: {error}"
                    ))
                })?;
            if out.len() > MAX_BODY_BYTES {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!(
                        "the request body decompresses to more than {MAX_BODY_BYTES} bytes, the most Herald reads"
                    ),
                ));
            }
            Ok(Some(Bytes::from(out)))
        }
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "the request body's Content-Encoding is {other:?}; Herald reads gzip or an uncompressed body"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use axum::http::HeaderValue;
    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn encoded(encoding: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_str(encoding).unwrap(),
        );
        headers
    }

    fn gzip(data: &[u8]) -> Bytes {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).unwrap();
        Bytes::from(encoder.finish().unwrap())
    }

    #[test]
    fn gzip_is_read_and_other_encodings_are_refused() {
        let body = gzip(br#"{"name":"x"}"#);
        assert_eq!(
            decoded(&encoded("gzip"), &body).unwrap().as_deref(),
            Some(&br#"{"name":"x"}"#[..])
        );
        assert_eq!(decoded(&HeaderMap::new(), &body).unwrap(), None);
        assert_eq!(decoded(&encoded("identity"), &body).unwrap(), None);
        let refused = decoded(&encoded("br"), &body).unwrap_err();
        assert_eq!(refused.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let bogus = decoded(&encoded("gzip"), &Bytes::from_static(b"{}")).unwrap_err();
        assert_eq!(bogus.status, StatusCode::BAD_REQUEST);
    }

    /// A few kilobytes that expand past the limit are refused, not expanded whole.
    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        let body = gzip(&vec![b' '; MAX_BODY_BYTES + 10]);
        assert!(body.len() < 64 * 1024);
        let refused = decoded(&encoded("gzip"), &body).unwrap_err();
        assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
    }
}
