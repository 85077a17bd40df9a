//! How backends turn stored text back into rows, the same on every backend: JSON kept as the
//! text Herald wrote, rows that cannot be decoded, and migration checksums.
//!
//! Herald refuses input that it could not read back, but a database may still hold such rows
//! (written by an older version, or damaged on disk). One of them must never stop the server or
//! a whole listing: reads of many rows skip it and log it ([`skip_corrupt`]), reads of one row
//! answer an error that names it ([`corrupt_row`]), and `herald doctor` lists and removes them.

use herald_domain::{PersonSeq, SegmentId};
use serde_json::{Map, Value};

use crate::{MembershipChange, MembershipOrigin, StoreError, StoredState};

/// Decodes stored JSON that must be an object (attributes, event data).
pub fn parse_object(text: &str) -> Result<Map<String, Value>, StoreError> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(StoreError::Corrupt("expected a JSON object".into())),
        Err(error) => Err(StoreError::Corrupt(error.to_string())),
    }
}

/// Decodes stored JSON of any shape.
pub fn parse_json(text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt(error.to_string()))
}

/// Encodes a value as the JSON text to store.
pub fn to_json(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|error| StoreError::Corrupt(error.to_string()))
}

/// The error for a row whose stored JSON cannot be decoded, naming the row.
pub fn corrupt_row(
    table: &str,
    row: impl std::fmt::Display,
    error: impl std::fmt::Display,
) -> StoreError {
    let error = error.to_string();
    // The decoders' own errors already say "corrupt row"; the row's name replaces that.
    let reason = error.strip_prefix("corrupt row: ").unwrap_or(&error);
    StoreError::Corrupt(format!("{table} row {row}: {reason}"))
}

/// A state stored by its name, read back (a run's, a campaign's, a delivery's, a segment's); a
/// name no version wrote makes the row `row` of `table` corrupt. Both backends decode every
/// stored state through this.
pub fn stored_state<T: StoredState>(
    table: &str,
    row: impl std::fmt::Display,
    name: &str,
) -> Result<T, StoreError> {
    T::parse_stored(name).ok_or_else(|| {
        corrupt_row(
            table,
            row,
            format!("the {} {name:?} is not {}", T::FIELD, T::WHAT),
        )
    })
}

/// Passes a decoded row on, or reports and drops a corrupt one; other errors stop the read.
pub fn skip_corrupt<T>(decoded: Result<T, StoreError>) -> Result<Option<T>, StoreError> {
    match decoded {
        Ok(value) => Ok(Some(value)),
        Err(StoreError::Corrupt(message)) => {
            tracing::warn!(
                row = %message,
                "skipped a stored row that cannot be read; `herald doctor` lists such rows"
            );
            Ok(None)
        }
        Err(other) => Err(other),
    }
}

/// Why a stored JSON text cannot be read back, if it cannot: the decoder every read uses
/// (serde_json, with its nesting limit) refuses it, or a column that must hold an object
/// (`object`) holds something else. `herald doctor` lists exactly the rows the reads skip, with
/// the same reasons on every backend.
pub fn unreadable(text: &str, object: bool) -> Option<String> {
    match serde_json::from_str::<Value>(text) {
        Err(error) => Some(error.to_string()),
        Ok(Value::Object(_)) => None,
        Ok(_) if object => Some("expected a JSON object".to_owned()),
        Ok(_) => None,
    }
}

/// The first text after every text that starts with `prefix`, for a range scan of an index
/// (`prefix <= text < end`): the prefix with its last character moved one on (`"ab"` → `"ac"`);
/// `None` when every text greater than the prefix qualifies. Both backends search people by
/// the start of an id or email with it, so they find the same people.
pub fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = char::from_u32(u32::from(last) + 1) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// A stored membership change (a `segment_history` row) from its columns; a cause that is not
/// JSON or an origin no version wrote makes the row corrupt, named by its segment, person and
/// time (it has no id of its own to report).
pub fn membership_change(
    segment_id: SegmentId,
    person_seq: PersonSeq,
    entered: bool,
    at: i64,
    cause: &str,
    origin: &str,
) -> Result<MembershipChange, StoreError> {
    let row = format!("of segment {segment_id} and person {person_seq} at {at}");
    let cause = serde_json::from_str(cause)
        .map_err(|error| corrupt_row("segment_history", &row, format!("cause: {error}")))?;
    let origin = MembershipOrigin::parse(origin).ok_or_else(|| {
        corrupt_row(
            "segment_history",
            &row,
            format!("unknown origin {origin:?}"),
        )
    })?;
    Ok(MembershipChange {
        segment_id,
        person_seq,
        entered,
        at,
        cause,
        origin,
    })
}

/// A stable checksum of a migration's text (FNV-1a), to notice a migration edited after release.
pub fn migration_checksum(sql: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in sql.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_reads_refuse_is_unreadable() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(
            unreadable(&deep, false)
                .unwrap()
                .contains("recursion limit")
        );
        assert!(unreadable("{\"a\":", false).is_some());
        assert_eq!(
            unreadable("[1]", true).as_deref(),
            Some("expected a JSON object")
        );
        assert!(unreadable("{\"a\":[1]}", true).is_none());
        assert!(unreadable("[1]", false).is_none());
    }

    #[test]
    fn a_stored_state_no_version_wrote_names_its_row() {
        use crate::{DeliveryStatus, RunState};
        assert_eq!(
            stored_state::<RunState>("runs", 7, "done").unwrap(),
            RunState::Done
        );
        let Err(StoreError::Corrupt(message)) =
            stored_state::<DeliveryStatus>("deliveries", "d1", "lost")
        else {
            panic!("an unknown status was read");
        };
        assert_eq!(
            message,
            r#"deliveries row d1: the status "lost" is not a delivery status"#
        );
    }

    #[test]
    fn the_end_of_a_prefix_range_follows_every_text_with_it() {
        assert_eq!(prefix_end("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_end("").as_deref(), None);
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
    }
}
