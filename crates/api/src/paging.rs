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
        // Cursors are rows' numbers, never negative.
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|cursor| *cursor >= 0)
            .map(Some)
            .ok_or_else(|| not_a_cursor(text)),
    }
}

/// The error for a `start` that is not a cursor Herald returned as `next`.
pub(crate) fn not_a_cursor(text: &str) -> ApiError {
    ApiError::bad_request(format!("start {text:?} is not a cursor returned as next"))
}

/// The `next` of a page: the last row's number when the page is full (there may be more),
/// else empty.
pub(crate) fn next(last: Option<i64>, count: usize, limit: usize) -> String {
    match last {
        Some(last) if count >= limit => last.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_whole_numbers_in_range() {
        assert_eq!(limit(None, 50, 1000).unwrap(), 50);
        assert_eq!(limit(Some(""), 50, 1000).unwrap(), 50);
        assert_eq!(limit(Some("1000"), 50, 1000).unwrap(), 1000);
        for bad in ["0", "1001", "-1", "ten", "1.5"] {
            let error = limit(Some(bad), 50, 1000).unwrap_err();
            assert_eq!(error.status, 400, "{bad}");
            assert!(
                error.message.contains("from 1 to 1000"),
                "{}",
                error.message
            );
        }
    }

    #[test]
    fn starts_are_cursors() {
        assert_eq!(start(None).unwrap(), None);
        assert_eq!(start(Some("")).unwrap(), None);
        assert_eq!(start(Some("42")).unwrap(), Some(42));
        assert_eq!(start(Some("MDox")).unwrap_err().status, 400);
        assert_eq!(start(Some("-1")).unwrap_err().status, 400);
    }
}
