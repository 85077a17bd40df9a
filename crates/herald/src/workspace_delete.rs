//! `herald workspace delete`: removes a workspace with every row of its data.
//!
//! The workspace is marked deleted first, in one write: from then on no lookup finds it, so its
//! keys are refused, and running servers, which read whether keys changed at least every
//! [`herald_api::KEYS_CHECKED_EVERY`], stop its writes and drop its segments and campaigns. Once
//! that long has passed, its rows are removed a bounded step at a time, each in a transaction
//! of its own, so that a server writing beside the command (SQLite's one lock, PostgreSQL's
//! write turn) never waits behind a large workspace for long. The workspace's row goes last; a
//! deletion interrupted anywhere goes on when the command runs again.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context;
use herald_domain::{Clock, SystemClock, WorkspaceId};
use herald_store::{StoreError, StoreHandle, Workspace};
use serde::Serialize;

/// Rows per step: a few milliseconds of the writer's time.
const STEP_ROWS: usize = 1_000;

/// How many times the removal looks again for rows that writes already on their way when the
/// workspace was marked added meanwhile.
const SWEEPS: usize = 3;

/// What one transaction of the removal did.
enum Outcome {
    Step(herald_store::WorkspacePurge),
    LookAgain,
    Removed,
}

/// What the command prints with `--json`.
#[derive(Debug, Serialize)]
pub struct Deleted {
    pub id: WorkspaceId,
    pub name: String,
    /// Rows removed, by table (tables with none left out).
    pub removed: BTreeMap<&'static str, u64>,
}

/// Finds the workspace named `name`, also one whose deletion was interrupted.
pub fn find(store: &StoreHandle, name: &str) -> anyhow::Result<Workspace> {
    let (live, deleted) = store
        .read_blocking(|reader| {
            Ok::<_, StoreError>((reader.workspaces()?, reader.deleted_workspaces()?))
        })
        .context("cannot list workspaces")?;
    if let Some(workspace) = live
        .iter()
        .chain(&deleted)
        .find(|workspace| workspace.name == name)
    {
        return Ok(workspace.clone());
    }
    let names: Vec<&str> = live
        .iter()
        .map(|workspace| workspace.name.as_str())
        .collect();
    anyhow::bail!(
        "no workspace named {name:?}; the workspaces are: {}",
        names.join(", ")
    )
}

/// Asks whoever runs the command to type the workspace's name, after saying what it holds;
/// refuses when nobody can answer (standard input is not a terminal).
pub fn confirm(store: &StoreHandle, workspace: &Workspace) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        anyhow::bail!(
            "deleting the workspace {:?} removes all its data: pass --yes to confirm (standard input is not a terminal to ask on)",
            workspace.name
        );
    }
    let id = workspace.id;
    let rows = store
        .read_blocking(move |reader| reader.workspace_rows(id))
        .context("cannot count the workspace's rows")?;
    println!(
        "This deletes the workspace {:?} (id {}, site id {}) and all its data, for good:",
        workspace.name, workspace.id, workspace.site_id
    );
    for (table, count) in merged(rows) {
        println!("  {table}: {count} rows");
    }
    print!("Type the workspace's name to delete it: ");
    std::io::stdout().flush().ok();
    anyhow::ensure!(
        typed_name(&mut stdin.lock(), &workspace.name)?,
        "not deleted: the name typed is not {:?}",
        workspace.name
    );
    Ok(())
}

/// Reads a line and tells whether it is `name`, exactly.
fn typed_name(input: &mut dyn BufRead, name: &str) -> anyhow::Result<bool> {
    let mut answer = String::new();
    input
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    Ok(answer.trim_end_matches(['\r', '\n']) == name)
}

/// Counts by table, those with none left out.
fn merged(rows: Vec<(&'static str, u64)>) -> BTreeMap<&'static str, u64> {
    let mut merged = BTreeMap::new();
    for (table, count) in rows {
        *merged.entry(table).or_default() += count;
    }
    merged.retain(|_, count| *count > 0);
    merged
}

/// Deletes `workspace`: marks it, waits for running servers to stop its writes, removes its
/// rows a step at a time, then the workspace itself. `progress` hears of each step.
pub fn delete(
    store: &StoreHandle,
    workspace: &Workspace,
    progress: &mut dyn FnMut(&BTreeMap<&'static str, u64>),
) -> anyhow::Result<Deleted> {
    let id = workspace.id;
    let now = SystemClock.now();
    let marked = store
        .write_blocking(move |tx| tx.mark_workspace_deleted(id, now))
        .context("the store is unavailable")?
        .context("cannot mark the workspace deleted")?;
    anyhow::ensure!(marked, "the workspace {:?} is gone already", workspace.name);
    crate::workspace_rotate::wait_for_servers();
    let mut removed = BTreeMap::new();
    let mut from = 0;
    let mut sweeps = 0;
    loop {
        // Once the steps found nothing left from `from` on, a last one looks at every part
        // again and removes the workspace in the same transaction: a write a server had under
        // way when it learned of the deletion may have added a row behind the steps, and the
        // workspace's row must not go while any row names it.
        let outcome = store
            .write_blocking(move |tx| {
                if let Some(step) = tx.purge_workspace(id, from, STEP_ROWS)? {
                    return Ok(Outcome::Step(step));
                }
                if from > 0 {
                    return Ok(Outcome::LookAgain);
                }
                tx.remove_workspace(id)?;
                Ok::<_, StoreError>(Outcome::Removed)
            })
            .context("the store is unavailable")?;
        match outcome {
            Ok(Outcome::Step(step)) => {
                from = step.next;
                for (table, rows) in step.removed {
                    *removed.entry(table).or_default() += rows;
                }
                progress(&removed);
            }
            Ok(Outcome::Removed) => break,
            // A foreign key refused the workspace's row: a row was added meanwhile.
            Ok(Outcome::LookAgain) | Err(_) if sweeps < SWEEPS => {
                sweeps += 1;
                from = 0;
            }
            Ok(Outcome::LookAgain) => {
                anyhow::bail!("rows of the workspace keep coming: run the command again")
            }
            Err(error) => return Err(error).context("cannot remove the workspace's row"),
        }
    }
    removed.retain(|_, rows| *rows > 0);
    Ok(Deleted {
        id,
        name: workspace.name.clone(),
        removed,
    })
}

/// Prints what a deletion removed.
pub fn print(deleted: &Deleted) {
    println!(
        "workspace {:?} (id {}) is deleted; removed:",
        deleted.name, deleted.id
    );
    if deleted.removed.is_empty() {
        println!("  no rows besides the workspace's own");
    }
    for (table, rows) in &deleted.removed {
        println!("  {table}: {rows} rows");
    }
}

#[cfg(test)]
mod tests {
    use super::typed_name;

    #[test]
    fn only_the_exact_name_confirms() {
        let typed = |input: &str| typed_name(&mut input.as_bytes(), "Shop").unwrap();
        assert!(typed("Shop\n"));
        assert!(typed("Shop\r\n"));
        assert!(typed("Shop"));
        assert!(!typed("shop\n"));
        assert!(!typed(" Shop\n"));
        assert!(!typed("y\n"));
        assert!(!typed(""));
    }
}
