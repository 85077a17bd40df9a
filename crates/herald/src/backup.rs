//! `herald backup DEST`: an online backup of the embedded store. The database is copied as one
//! consistent snapshot while the server goes on writing (`herald_store_sqlite::backup`), the
//! sealing key beside it (without it the copy's workspace keys cannot be read), and the copy is
//! then opened as a Herald store, as a server would open it. The segment engine's image is left
//! out: a server started on the copy loads the engine from the history.

use std::path::Path;

use anyhow::{Context, bail};

use crate::cli::StoreArgs;
use crate::config::Settings;
use crate::store_location::StoreLocation;

pub fn run(config: Option<&Path>, store: StoreArgs, dest: &Path) -> anyhow::Result<()> {
    let location = StoreLocation::load(config, store)?;
    if location.postgres.is_some() {
        bail!(
            "this data lives in PostgreSQL: back it up with pg_dump (herald backup copies the embedded SQLite store)"
        );
    }
    let source = Settings::database_path(&location.data_dir);
    if !source.exists() {
        bail!("no Herald database at {}", source.display());
    }
    let empty = match std::fs::read_dir(dest) {
        Ok(mut entries) => entries.next().is_none(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => true,
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read {}", dest.display()));
        }
    };
    if !empty {
        bail!(
            "{} is not empty: a backup goes into a new or empty directory",
            dest.display()
        );
    }
    std::fs::create_dir_all(dest).with_context(|| format!("cannot create {}", dest.display()))?;
    let report = herald_store_sqlite::backup(&source, &Settings::database_path(dest))
        .context("the backup failed")?;
    let key = Settings::sealing_key_path(&location.data_dir);
    if key.exists() {
        std::fs::copy(&key, Settings::sealing_key_path(dest))
            .context("cannot copy the key file")?;
    }
    // Opened as a server would open it: its migrations apply and a read answers.
    let copy = StoreLocation {
        data_dir: dest.to_owned(),
        postgres: None,
    }
    .open()
    .context("the copy cannot be opened as a Herald store")?;
    let workspaces = copy
        .read_blocking(|reader| reader.workspaces())
        .context("the copy cannot be read")?
        .len();
    println!(
        "backed up {} ({} bytes: {} workspaces, {} people, {} events) to {}",
        location.data_dir.display(),
        report.bytes,
        workspaces,
        report.people,
        report.events,
        dest.display()
    );
    Ok(())
}
