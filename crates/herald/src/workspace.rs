//! `herald workspace create|list|write-key|rotate-key|delete|snippet`: opens the database
//! directly, so it works whether or not a server is running on it (SQLite lets the two take
//! turns writing; PostgreSQL takes both at once). Rotation and deletion live in
//! `workspace_rotate.rs` and `workspace_delete.rs`.

use std::path::Path;

use anyhow::Context;
use herald_domain::{Clock, SystemClock};
use herald_ingest::sealed_keys::{KeySealer, WorkspaceKeys};
use herald_ingest::workspaces::{Credentials, generate, hash_key, new_key};
use herald_store::{StoreHandle, Workspace, WorkspaceKey};

use crate::cli::WorkspaceCommand;
use crate::config::{FileConfig, Settings};
use crate::store_location::StoreLocation;

/// Creates a workspace and returns its clear-text credentials. The keys are kept sealed beside
/// their hashes, in the same write, so the web UI's Settings can show them.
pub fn create(
    store: &StoreHandle,
    sealer: &KeySealer,
    name: &str,
    now: i64,
) -> anyhow::Result<Credentials> {
    let (row, mut credentials) = generate(name, now);
    let keys = WorkspaceKeys {
        api_key: credentials.api_key.clone(),
        app_api_key: credentials.app_api_key.clone(),
        write_key: Some(credentials.write_key.clone()),
    };
    let write_key_hash = hash_key(&credentials.write_key);
    let sealed = sealer
        .seal(&credentials.site_id, &keys)
        .context("cannot seal the new keys")?;
    let workspace = store
        .write_blocking(move |tx| {
            let workspace = tx.create_workspace(&row)?;
            tx.set_workspace_keys(workspace.id, &sealed)?;
            tx.set_write_key_hash(workspace.id, &write_key_hash)?;
            Ok::<_, herald_store::StoreError>(workspace)
        })
        .context("the store is unavailable")?
        .with_context(|| format!("cannot create the workspace {name:?}"))?;
    credentials.id = workspace.id;
    Ok(credentials)
}

pub fn run(config: Option<&Path>, command: WorkspaceCommand) -> anyhow::Result<()> {
    match command {
        WorkspaceCommand::Create { name, json, store } => {
            let name = name.trim().to_owned();
            anyhow::ensure!(!name.is_empty(), "a workspace needs a name");
            let location = StoreLocation::load(config, store)?;
            let store = location.open()?;
            let sealer = Settings::key_sealer(&location.data_dir)?;
            let credentials = create(&store, &sealer, &name, SystemClock.now())?;
            if json {
                println!("{}", serde_json::to_string(&credentials)?);
            } else {
                print_credentials(&credentials);
            }
            Ok(())
        }
        WorkspaceCommand::List { json, store } => {
            let store = StoreLocation::load(config, store)?.open()?;
            let workspaces = store
                .read_blocking(|reader| reader.workspaces())
                .context("cannot list workspaces")?;
            if json {
                println!("{}", serde_json::to_string(&workspaces)?);
            } else {
                for workspace in workspaces {
                    println!(
                        "{}\t{}\tsite id {}",
                        workspace.id, workspace.name, workspace.site_id
                    );
                }
            }
            Ok(())
        }
        WorkspaceCommand::WriteKey { name, store } => {
            let location = StoreLocation::load(config, store)?;
            let opened = location.open()?;
            let sealer = Settings::key_sealer(&location.data_dir)?;
            let workspaces = opened
                .read_blocking(|reader| reader.workspaces())
                .context("cannot list workspaces")?;
            let workspace = choose(workspaces, name.as_deref())?;
            let write_key = give_write_key(&opened, &sealer, &workspace)?;
            println!(
                "workspace {:?}: keep this Data Pipelines write key, it is shown only once:",
                workspace.name
            );
            println!("  Pipelines write key: {write_key}");
            Ok(())
        }
        WorkspaceCommand::RotateKey {
            name,
            track,
            app,
            write_key,
            grace,
            json,
            store,
        } => {
            let key = crate::workspace_rotate::chosen(track, app, write_key)?;
            let location = StoreLocation::load(config, store)?;
            let (opened, sealer) = crate::workspace_rotate::open(&location)?;
            let workspaces = opened
                .read_blocking(|reader| reader.workspaces())
                .context("cannot list workspaces")?;
            let workspace = choose(workspaces, name.as_deref())?;
            let rotated =
                crate::workspace_rotate::rotate(&opened, &sealer, &workspace, key, grace)?;
            crate::workspace_rotate::wait_for_servers();
            if json {
                println!("{}", serde_json::to_string(&rotated)?);
            } else {
                crate::workspace_rotate::print(&rotated, key, grace);
            }
            Ok(())
        }
        WorkspaceCommand::Delete {
            name,
            yes,
            json,
            store,
        } => {
            let store = StoreLocation::load(config, store)?.open()?;
            let workspace = crate::workspace_delete::find(&store, &name)?;
            if !yes {
                crate::workspace_delete::confirm(&store, &workspace)?;
            }
            let mut steps = 0_u64;
            let deleted = crate::workspace_delete::delete(&store, &workspace, &mut |removed| {
                steps += 1;
                // A large workspace takes a while: say how far it got now and then.
                if steps.is_multiple_of(100) {
                    let rows: u64 = removed.values().sum();
                    eprintln!("removed {rows} rows so far");
                }
            })?;
            if json {
                println!("{}", serde_json::to_string(&deleted)?);
            } else {
                crate::workspace_delete::print(&deleted);
            }
            Ok(())
        }
        WorkspaceCommand::Snippet {
            name,
            base_url,
            json,
            store,
        } => {
            let file = FileConfig::load(config)?;
            let base_url = base_url.unwrap_or_else(|| crate::server_target::server_url(&file));
            let base_url =
                herald_api::snippet::normalize_base_url(&base_url).map_err(anyhow::Error::msg)?;
            let store = StoreLocation::resolve(&file, store)?.open()?;
            let workspaces = store
                .read_blocking(|reader| reader.workspaces())
                .context("cannot list workspaces")?;
            let workspace = choose(workspaces, name.as_deref())?;
            let snippet = herald_api::snippet::snippet(&workspace.site_id, &base_url);
            if json {
                println!("{}", serde_json::to_string(&snippet)?);
            } else {
                println!("{}", snippet.html);
                println!(
                    "<!-- On pages whose Content-Security-Policy refuses inline scripts, use instead:\n{}\n-->",
                    snippet.tag
                );
            }
            Ok(())
        }
    }
}

/// Picks the named workspace, or the only one when no name is given.
pub(crate) fn choose(workspaces: Vec<Workspace>, name: Option<&str>) -> anyhow::Result<Workspace> {
    let names = || {
        workspaces
            .iter()
            .map(|workspace| workspace.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match name {
        Some(name) => workspaces
            .iter()
            .find(|workspace| workspace.name == name)
            .cloned()
            .with_context(|| {
                format!(
                    "no workspace named {name:?}; the workspaces are: {}",
                    names()
                )
            }),
        None if workspaces.len() == 1 => Ok(workspaces[0].clone()),
        None if workspaces.is_empty() => {
            anyhow::bail!(
                "there is no workspace yet: start `herald serve` or run `herald workspace create NAME`"
            )
        }
        None => anyhow::bail!("there are several workspaces; name one of: {}", names()),
    }
}

/// Prints credentials for a person to copy; they are not shown again.
pub fn print_credentials(credentials: &Credentials) {
    println!(
        "workspace {:?} (id {}); keep these credentials, they are shown only once:",
        credentials.name, credentials.id
    );
    println!("  site id:       {}", credentials.site_id);
    println!("  Track API key: {}", credentials.api_key);
    println!("  App API key:   {}", credentials.app_api_key);
    println!("  Pipelines write key: {}", credentials.write_key);
}

/// Gives a workspace made before workspaces had a Data Pipelines write key its key, sealed
/// beside the other keys when the store keeps them, and returns it. A workspace that has one
/// keeps it; `rotate-key --write-key` replaces it.
pub fn give_write_key(
    store: &StoreHandle,
    sealer: &KeySealer,
    workspace: &Workspace,
) -> anyhow::Result<String> {
    let write_key = new_key(WorkspaceKey::Write);
    let hash = hash_key(&write_key);
    let (id, site_id) = (workspace.id, workspace.site_id.clone());
    let sealed = store
        .read_blocking(move |reader| reader.workspace_keys_sealed(id))
        .context("cannot read the workspace's keys")?;
    let resealed = match sealed.and_then(|sealed| sealer.open(&site_id, &sealed)) {
        Some(mut keys) => {
            keys.write_key = Some(write_key.clone());
            Some(
                sealer
                    .seal(&site_id, &keys)
                    .context("cannot seal the keys")?,
            )
        }
        None => None,
    };
    let given = store
        .write_blocking(move |tx| {
            let given = tx.set_write_key_hash(id, &hash)?;
            if given && let Some(sealed) = &resealed {
                tx.set_workspace_keys(id, sealed)?;
            }
            Ok::<_, herald_store::StoreError>(given)
        })
        .context("the store is unavailable")?
        .context("cannot store the write key")?;
    anyhow::ensure!(
        given,
        "the workspace {:?} already has a Data Pipelines write key: the web UI's Settings shows it, and `herald workspace rotate-key --write-key` replaces it",
        workspace.name
    );
    Ok(write_key)
}
