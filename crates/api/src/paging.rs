//! The App API's paging parameters: `limit` (a whole number in a range) and `start` (the
//! `next` cursor of the page before, a stored row's number).

use crate::ApiError;

/// Reads `limit`: `default` when absent, else a whole number from 1 to `max`.
pub(crate) fn limit(text: Option<&str>, default: usize, max: usize) -> Result<usize, ApiError> {
    match text {
        None | Some("") => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(value) if (1..=max).contains(&value) => Ok(value),
            _ => Err(ApiError::bad_request(format!(
                "limit {text:?} must be a whole number from 1 to {max}"
            ))),
        },
    }
}

/// Reads `start`: absent for the first page, else a cursor a page gave as `next`.
pub(crate) fn start(text: Option<&str>) -> Result<Option<i64>, ApiError> {
    match text {
        None | Some("") => Ok(None),
        Some(text) => text.parse::<i64>().map(Some).map_err(|_| {
            ApiError::bad_request(format!("start {text:?} is not a cursor returned as next"))
        }),
    }
}

/// The `next` of a page: the last row's number when the page is full (there may be more),
/// else empty.
pub(crate) fn next(last: Option<i64>, count: usize, limit: usize) -> String {
    match last {
        Some(last) if count >= limit => last.to_string(),
        _ => String::new(),
    }
}
