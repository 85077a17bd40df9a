//! Stored rows that cannot be decoded.
//!
//! Herald refuses input that it could not read back, but a database may still hold such rows
//! (written by an older version, or damaged on disk). One of them must never stop the server or
//! a whole listing: reads of many rows skip it and log it, reads of one row answer an error that
//! names it, and `herald doctor` ([`crate::doctor`]) lists and removes them.

use herald_store::StoreError;

/// The error for a row whose stored JSON cannot be decoded, naming the row.
pub(crate) fn corrupt_row(
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
pub(crate) fn skip_corrupt<T>(decoded: Result<T, StoreError>) -> Result<Option<T>, StoreError> {
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
