//! `herald doctor`: the stored rows reads skip because they cannot be read back.

use std::path::Path;

use anyhow::Context;

use crate::cli::DoctorArgs;
use crate::store_location::StoreLocation;

pub fn run(config: Option<&Path>, args: DoctorArgs) -> anyhow::Result<()> {
    let location = StoreLocation::load(config, args.store)?;
    let store = location.open()?;
    let limit = args.limit;
    let rows = store
        .read_blocking(move |reader| reader.corrupt_rows(limit))
        .context("cannot scan the store")?;
    if args.json {
        println!("{}", serde_json::to_string(&rows)?);
    } else if rows.is_empty() {
        println!("no unreadable rows: every stored row can be read");
    } else {
        for row in &rows {
            println!(
                "{}\trow {}\t{}: {}",
                row.table, row.row, row.column, row.error
            );
        }
    }
    if !args.delete || rows.is_empty() {
        if !rows.is_empty() && !args.json {
            println!(
                "{} unreadable rows; `herald doctor --delete` removes them",
                rows.len()
            );
        }
        return Ok(());
    }
    let removed = store
        .write_blocking(move |tx| {
            let mut removed = 0;
            for row in &rows {
                if tx.remove_corrupt_row(row)? {
                    removed += 1;
                }
            }
            Ok::<_, herald_store::StoreError>(removed)
        })
        .context("the store is unavailable")?
        .context("cannot remove the unreadable rows")?;
    // The rows changed behind the engine log's back, so the engine's image no longer matches
    // the store: the next start loads from the history instead.
    match std::fs::remove_file(crate::config::Settings::engine_image_path(
        &location.data_dir,
    )) {
        Ok(()) => eprintln!("removed the segment engine's image; the next start reads the history"),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error).context("cannot remove the segment engine's image"),
    }
    // With --json, stdout holds only the list; the count goes to stderr.
    eprintln!("removed {removed} unreadable rows; restart the server if it runs on this data dir");
    Ok(())
}
