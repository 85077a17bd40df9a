//! `herald workspace create|list|snippet`: opens the database directly, so it works whether or
//! not a server is running on it (SQLite lets the two take turns writing; PostgreSQL takes
//! both at once).

use std::path::Path;

use anyhow::Context;
use herald_domain::{Clock, SystemClock};
use herald_ingest::sealed_keys::{KeySealer, WorkspaceKeys};
use herald_ingest::workspaces::{Credentials, generate};
use herald_store::{StoreHandle, Workspace};

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
    };
    let sealed = sealer
        .seal(&credentials.site_id, &keys)
        .context("cannot seal the new keys")?;
    let workspace = store
        .write_blocking(move |tx| {
            let workspace = tx.create_workspace(&row)?;
            tx.set_workspace_keys(workspace.id, &sealed)?;
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
        WorkspaceCommand::Snippet {
            name,
            base_url,
            json,
            store,
        } => {
            let file = FileConfig::load(config)?;
            let base_url = base_url.or(file.public_url.clone()).unwrap_or_else(|| {
                let listen = file.listen.as_deref().unwrap_or("127.0.0.1:8080");
                format!("http://{listen}")
            });
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
fn choose(workspaces: Vec<Workspace>, name: Option<&str>) -> anyhow::Result<Workspace> {
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
}
