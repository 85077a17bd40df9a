//! Why a copy stopped. No message carries the target's URL, which may hold a password.

use std::path::PathBuf;

use crate::TableCount;

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(
        "there is no Herald database at {0}: --from-data-dir names the data dir of an embedded install"
    )]
    NoSource(PathBuf),
    #[error("the source database: {0}")]
    Source(String),
    #[error("the target database: {0}")]
    Target(String),
    #[error(
        "the target schema is in use: a herald serve or another herald copy runs on it; stop it and run the copy again"
    )]
    TargetBusy,
    #[error(
        "the target already holds data (in {}) and no copy into it is under way: herald copy only \
         fills an empty database or schema, so that it never mixes two installs; choose a fresh \
         schema with --to-schema, or empty this one",
        .0.join(", ")
    )]
    TargetNotEmpty(Vec<&'static str>),
    #[error(
        "the target holds a copy of another install (its workspaces differ from the source's): \
         choose a fresh schema with --to-schema"
    )]
    AnotherInstall,
    #[error(
        "the source changed since this copy began ({0}): a copy is only exact from a source that \
         no server writes to; stop the server on the data dir, drop the target schema and copy again"
    )]
    SourceChanged(String),
    #[error("the schemas differ from what this version copies: {0}")]
    Schema(String),
    #[error(
        "stopped after {0} rows as asked (--stop-after-rows, a test aid); run the same command again to go on"
    )]
    Stopped(u64),
    #[error(
        "the row counts differ on {}: the copy is not complete (was the source written to while it ran? \
         stop the server on the data dir, drop the target schema and copy again)",
        differing(.0)
    )]
    CountsDiffer(Vec<TableCount>),
    #[error(
        "the target holds a finished copy of this install, but the row counts differ on {}: one \
         side was written to since the copy (a server ran on it)",
        differing(.0)
    )]
    ChangedSinceCopy(Vec<TableCount>),
}

fn differing(counts: &[TableCount]) -> String {
    counts
        .iter()
        .filter(|count| count.source != count.target)
        .map(|count| {
            format!(
                "{} ({} in the source, {} in the target)",
                count.table, count.source, count.target
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl CopyError {
    pub(crate) fn source(context: &str, error: impl std::fmt::Display) -> Self {
        Self::Source(format!("{context}: {error}"))
    }

    pub(crate) fn target(context: &str, error: impl std::fmt::Display) -> Self {
        Self::Target(format!("{context}: {error}"))
    }
}
