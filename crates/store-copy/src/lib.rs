//! Copies an embedded Herald install (the SQLite file of a data dir) to PostgreSQL.
//!
//! Every table is copied verbatim, ids and sequence numbers included, so that every reference
//! between rows, the workspaces' sealed keys and the segment engine's image in the data dir
//! stay valid. The one difference is the `workspace_id` of the rows of segments and campaigns
//! (members, history, day counts, purges, enrollments), which only PostgreSQL keeps in them,
//! first in their keys, so that Citus can distribute the schema on it: it is taken from the
//! row's segment or campaign, and the rows of one deleted since, which wait for the background
//! purge and have no workspace left, are not copied (`tables::Table::workspace_from`).
//!
//! Tables are read in primary-key order a chunk at a time inside one read transaction per run,
//! and each chunk is written with `COPY` in a PostgreSQL transaction that also records, in the
//! target's `copy_progress` table, the last key it wrote: a copy stopped anywhere goes on from
//! there when run again. Indexes that back no constraint are set aside while rows arrive and
//! built once at the end. Then the identities move past the copied values, the row counts of
//! both sides are compared, and the bookkeeping tables are dropped.
//!
//! The source must not change while it is copied (no server may run on the data dir): a run
//! reads one snapshot, but rows written during or between runs are not followed. A run refuses
//! to go on when a table's row count changed since the copy began, and the final check counts
//! the source afresh, which finds most writes a running server made.

mod copy_text;
mod error;
mod run;
mod source;
mod tables;
mod target;

use std::path::PathBuf;

pub use error::CopyError;
pub use run::copy;

/// What to copy where.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// The embedded install's database file (`DATA_DIR/herald.db`).
    pub source: PathBuf,
    /// The PostgreSQL database, as a URL or libpq's `key=value` form. Never printed: it may
    /// hold a password.
    pub target_url: String,
    /// The schema to copy into, created if missing; `None` for the connection's default.
    pub target_schema: Option<String>,
    /// The most rows read and written at once.
    pub chunk_rows: usize,
    /// A test aid: stop with [`CopyError::Stopped`] once this many rows were committed in this
    /// run, as if the copy had been killed there.
    pub stop_after_rows: Option<u64>,
}

impl CopyOptions {
    /// Rows per chunk: large enough that a transaction's fixed cost (a round trip, a commit)
    /// is small beside its rows, small enough that a chunk of large rows stays a few MiB.
    pub const DEFAULT_CHUNK_ROWS: usize = 10_000;

    pub fn new(source: impl Into<PathBuf>, target_url: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            target_url: target_url.into(),
            target_schema: None,
            chunk_rows: Self::DEFAULT_CHUNK_ROWS,
            stop_after_rows: None,
        }
    }
}

/// Told how the copy goes, from the thread that called [`copy`].
pub trait Progress {
    /// Something the copy does before copying rows, in a few words.
    fn note(&mut self, message: &str);
    /// The copy of rows starts: `total` rows in all, `already` of them copied by earlier runs.
    fn start(&mut self, total: u64, already: u64);
    /// Rows of `table` were committed.
    fn copied(&mut self, table: &str, rows: u64);
    /// Every row was copied.
    fn finish(&mut self);
}

/// A `Progress` that ignores everything.
pub struct Quiet;

impl Progress for Quiet {
    fn note(&mut self, _: &str) {}
    fn start(&mut self, _: u64, _: u64) {}
    fn copied(&mut self, _: &str, _: u64) {}
    fn finish(&mut self) {}
}

/// One table's rows on both sides after the copy. The source's count of a table that takes its
/// workspace from a segment or campaign is of the rows whose segment or campaign exists, the
/// rows the copy writes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableCount {
    pub table: &'static str,
    pub source: u64,
    pub target: u64,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Copied everything in this run.
    Copied,
    /// Went on with a copy an earlier run had begun.
    Resumed,
    /// The target already held this install's finished copy; only the check ran.
    AlreadyComplete,
}

/// A copy that finished and passed the check.
#[derive(Debug, Clone)]
pub struct Report {
    pub outcome: Outcome,
    /// Rows written by this run.
    pub rows_copied: u64,
    /// Every table's rows on both sides, equal.
    pub tables: Vec<TableCount>,
}
