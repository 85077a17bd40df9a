//! How backends turn stored text back into rows, the same on every backend: JSON kept as the
//! text Herald wrote, rows that cannot be decoded, and migration checksums.
//!
//! Herald refuses input that it could not read back, but a database may still hold such rows
//! (written by an older version, or damaged on disk). One of them must never stop the server or
//! a whole listing: reads of many rows skip it and log it ([`skip_corrupt`]), reads of one row
//! answer an error that names it ([`corrupt_row`]), and `herald doctor` lists and removes them.

use serde_json::{Map, Value};

use crate::StoreError;

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

/// A stable checksum of a migration's text (FNV-1a), to notice a migration edited after release.
pub fn migration_checksum(sql: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in sql.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}
