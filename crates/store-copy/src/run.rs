//! One run of a copy: prepare both sides, decide whether to begin, go on or only check, copy
//! the tables with reading and writing overlapped, then check.

use std::path::Path;
use std::sync::mpsc;

use herald_store::StoreError;
use herald_store_postgres::{PostgresOptions, PostgresStore};
use herald_store_sqlite::{SqliteOptions, SqliteStore};

use crate::error::CopyError;
use crate::source::{Chunk, Source};
use crate::tables::TABLES;
use crate::target::{TableProgress, Target};
use crate::{CopyOptions, Outcome, Progress, Report, TableCount};

/// Source rows counted per backfill job: no server waits on the file, so the chunks are large.
const BACKFILL_CHUNK: usize = 100_000;

/// Chunks read ahead of the writer: the next chunk is read while PostgreSQL takes the last.
const READ_AHEAD: usize = 2;

/// Copies `options.source` into the target, or goes on with a copy begun earlier, then checks
/// that every table holds as many rows on both sides.
pub fn copy(options: &CopyOptions, progress: &mut dyn Progress) -> Result<Report, CopyError> {
    if !options.source.is_file() {
        return Err(CopyError::NoSource(options.source.clone()));
    }
    prepare_source(&options.source, progress)?;
    // Opening the store creates the schema and applies its migrations; as a server node it
    // also holds the schema's lock until the copy ends, so that no `herald serve` (and no
    // other copy) writes there meanwhile.
    let _claim = claim_target(options)?;
    let mut target = Target::connect(&options.target_url, options.target_schema.as_deref())?;
    target.check_schema()?;
    let source = Source::open(&options.source)?;
    source.check_schema()?;
    let counts = source.counts()?;

    let outcome = decide(&mut target, &source, &counts)?;

    let mut rows_copied = 0;
    if outcome != Outcome::AlreadyComplete {
        let plan = target.progress()?;
        check_unchanged(&plan, &counts)?;
        let sequences = source.sequences()?;
        progress.start(
            plan.iter().map(|table| table.source_rows).sum(),
            plan.iter().map(|table| table.copied).sum(),
        );
        let (copied, finished) = copy_tables(source, &mut target, &plan, options, progress)?;
        rows_copied = copied;
        if !finished {
            return Err(CopyError::Stopped(rows_copied));
        }
        progress.finish();
        target.finish_identities(&sequences)?;
        progress.note("building the indexes set aside during the copy");
        target.restore_indexes()?;
        target.analyze()?;
    } else {
        drop(source);
    }

    let tables = check(&options.source, &mut target, &outcome)?;
    target.drop_progress()?;
    Ok(Report {
        outcome,
        rows_copied,
        tables,
    })
}

/// Whether this run begins a copy (then it records the progress table), goes on with one, or
/// finds one finished; or why the target is not this copy's.
fn decide(target: &mut Target, source: &Source, counts: &[u64]) -> Result<Outcome, CopyError> {
    let workspaces = source.workspaces()?;
    if target.has_progress()? {
        let copied = target.workspaces()?;
        if !copied
            .iter()
            .all(|workspace| workspaces.contains(workspace))
        {
            return Err(CopyError::AnotherInstall);
        }
        return Ok(Outcome::Resumed);
    }
    let busy = target.tables_with_rows()?;
    if busy.is_empty() {
        target.start_progress(counts)?;
        Ok(Outcome::Copied)
    } else if !workspaces.is_empty() && target.workspaces()? == workspaces {
        // A finished copy drops copy_progress; its workspaces, random per install, tell it
        // from someone else's database.
        Ok(Outcome::AlreadyComplete)
    } else {
        Err(CopyError::TargetNotEmpty(busy))
    }
}

/// Compares every table's row count on both sides. The source is counted afresh, not in the
/// snapshot copied: a server writing to it while the copy ran shows as a difference.
fn check(
    source: &Path,
    target: &mut Target,
    outcome: &Outcome,
) -> Result<Vec<TableCount>, CopyError> {
    let now = Source::open(source)?.counts()?;
    let copied = target.counts()?;
    let tables: Vec<TableCount> = TABLES
        .iter()
        .zip(now.iter().zip(&copied))
        .map(|(table, (&source, &target))| TableCount {
            table: table.name,
            source,
            target,
        })
        .collect();
    if tables.iter().all(|count| count.source == count.target) {
        Ok(tables)
    } else if *outcome == Outcome::AlreadyComplete {
        Err(CopyError::ChangedSinceCopy(tables))
    } else {
        Err(CopyError::CountsDiffer(tables))
    }
}

/// Brings the source to this version's schema and fills what its migrations left to the
/// background (`backfills`), so that the tables copied are complete: a PostgreSQL store has no
/// backfills to finish them later.
fn prepare_source(path: &Path, progress: &mut dyn Progress) -> Result<(), CopyError> {
    let store = SqliteStore::open_handle(&SqliteOptions::new(path))
        .map_err(|error| CopyError::source("cannot open it as a store", error))?;
    let mut noted = false;
    loop {
        let more = store
            .write_blocking(|tx| tx.backfill(BACKFILL_CHUNK))
            .and_then(|result| result)
            .map_err(|error| CopyError::source("cannot finish its day counts", error))?;
        if !more {
            return Ok(());
        }
        if !noted {
            progress.note("finishing the day counts the last server left unfinished");
            noted = true;
        }
    }
}

fn claim_target(options: &CopyOptions) -> Result<PostgresStore, CopyError> {
    PostgresStore::open(&PostgresOptions {
        schema: options.target_schema.clone(),
        readers: 1,
        max_batch: 1,
        node: true,
        ..PostgresOptions::new(options.target_url.clone())
    })
    .map_err(|error| match error {
        StoreError::Conflict(_) => CopyError::TargetBusy,
        other => CopyError::target("cannot open it", other),
    })
}

/// A run may only go on from where an earlier one stopped if the source still holds what that
/// run saw.
fn check_unchanged(plan: &[TableProgress], counts: &[u64]) -> Result<(), CopyError> {
    let changed: Vec<String> = TABLES
        .iter()
        .zip(plan.iter().zip(counts))
        .filter(|(_, (progress, now))| progress.source_rows != **now)
        .map(|(table, (progress, now))| {
            format!(
                "{} had {} rows and has {now}",
                table.name, progress.source_rows
            )
        })
        .collect();
    if changed.is_empty() {
        Ok(())
    } else {
        Err(CopyError::SourceChanged(changed.join(", ")))
    }
}

/// Copies every table not done yet; returns the rows written and whether every table is done
/// (not when the test aid's row budget ran out first).
fn copy_tables(
    source: Source,
    target: &mut Target,
    plan: &[TableProgress],
    options: &CopyOptions,
    progress: &mut dyn Progress,
) -> Result<(u64, bool), CopyError> {
    let chunk_rows = options.chunk_rows.max(1);
    let mut done: Vec<bool> = plan.iter().map(|table| table.done).collect();
    let mut copied = 0;
    std::thread::scope(|scope| {
        // Created inside the scope so that the receiver is dropped when the writer returns,
        // early or not: the reader's next send then fails and it stops.
        let (sender, receiver) = mpsc::sync_channel(READ_AHEAD);
        scope.spawn(move || {
            read_tables(&source, plan, chunk_rows, options.stop_after_rows, &sender)
        });
        for message in receiver {
            let (index, chunk): (usize, Chunk) = message?;
            let table = &TABLES[index];
            target.write_chunk(table, &chunk)?;
            copied += chunk.rows;
            done[index] = chunk.exhausted;
            progress.copied(table.name, chunk.rows);
        }
        Ok::<_, CopyError>(())
    })?;
    Ok((copied, done.iter().all(|&done| done)))
}

type Message = Result<(usize, Chunk), CopyError>;

/// The reader's thread: reads every table not done yet after its last key, and sends the
/// chunks (or the first error) to the writer.
fn read_tables(
    source: &Source,
    plan: &[TableProgress],
    chunk_rows: usize,
    mut budget: Option<u64>,
    sender: &mpsc::SyncSender<Message>,
) {
    for (index, (table, state)) in TABLES.iter().zip(plan).enumerate() {
        if state.done {
            continue;
        }
        let read = source.read_table(
            table,
            state.last_key.clone(),
            chunk_rows,
            &mut budget,
            &mut |chunk| sender.send(Ok((index, chunk))).is_ok(),
        );
        match read {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => {
                let _ = sender.send(Err(error));
                return;
            }
        }
    }
}
