//! Importing history (`herald import`): operations applied like any others, except that they
//! start no campaign and that each step records how far the import got in the same commit.
//!
//! An import is a file read in order, one operation a line. A step is a run of its lines, and
//! the store keeps, per workspace and import id, the line the last committed step ended at. A
//! step is applied only when it starts exactly there, so an import stopped anywhere (the
//! importing process killed, the server restarted) goes on from the last committed step when it
//! is run again, and no line is applied twice.

use herald_domain::WorkspaceId;
use herald_store::{StoreError, StoreRead, StoreTx, import_setting_key};

/// The longest import id: ids are made by the importer from the file, short hex in practice.
pub const MAX_IMPORT_ID_LEN: usize = 128;

/// One step of an import: the lines `[first_line, end_line)` of the import `import_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportStep {
    pub import_id: String,
    pub first_line: u64,
    pub end_line: u64,
}

/// What became of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    /// Its operations were committed, and the import now stands at its end.
    Applied,
    /// A step that ended there was committed before: nothing was written again.
    AlreadyApplied { line: u64 },
    /// The import stands elsewhere (a step was skipped, or another importer runs the same
    /// import): nothing was written.
    OutOfOrder { line: u64 },
}

/// Whether `id` may name an import: 1 to 128 characters among letters, digits, `-`, `_` and `.`.
pub fn valid_import_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_IMPORT_ID_LEN
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
}

/// The line an import stands at: where its next step must start (0 before its first).
pub fn imported_line(
    reader: &mut dyn StoreRead,
    workspace_id: WorkspaceId,
    import_id: &str,
) -> Result<u64, StoreError> {
    let stored = reader.setting(&import_setting_key(workspace_id, import_id))?;
    Ok(stored
        .and_then(|value| value.parse::<u64>().ok())
        .unwrap_or(0))
}

/// Inside a step's write job, before anything is applied: whether the step may be applied.
pub(crate) fn check_step(
    tx: &mut dyn StoreTx,
    workspace_id: WorkspaceId,
    step: &ImportStep,
) -> Result<Option<ImportOutcome>, StoreError> {
    let line = imported_line(tx, workspace_id, &step.import_id)?;
    Ok(if line >= step.end_line && line > step.first_line {
        Some(ImportOutcome::AlreadyApplied { line })
    } else if line != step.first_line {
        Some(ImportOutcome::OutOfOrder { line })
    } else {
        None
    })
}

/// Inside a step's write job, after its operations were applied: records its end.
pub(crate) fn record_step(
    tx: &mut dyn StoreTx,
    workspace_id: WorkspaceId,
    step: &ImportStep,
) -> Result<(), StoreError> {
    tx.set_setting(
        &import_setting_key(workspace_id, &step.import_id),
        &step.end_line.to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_ids_are_short_and_plain() {
        assert!(valid_import_id("people.csv-3f2a"));
        assert!(!valid_import_id(""));
        assert!(!valid_import_id("a/b"));
        assert!(!valid_import_id(&"a".repeat(MAX_IMPORT_ID_LEN + 1)));
    }
}
