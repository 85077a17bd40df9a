//! `herald workspace create|list|snippet`: opens the data dir's database directly, so it works whether
//! or not a server is running on it (SQLite lets the two take turns writing).

use std::path::{Path, PathBuf};

use anyhow::Context;
use herald_domain::{Clock, SystemClock};
use herald_ingest::sealed_keys::{KeySealer, WorkspaceKeys};
use herald_ingest::workspaces::{Credentials, generate};
use herald_store::{StoreHandle, Workspace};
use herald_store_sqlite::{SqliteOptions, SqliteStore};

use crate::cli::WorkspaceCommand;
use crate::config::{FileConfig, Settings};

/// Opens the store in `data_dir`, creating the folder if needed.
pub fn open_store(
    data_dir: &Path,
    options: impl FnOnce(&mut SqliteOptions),
) -> anyhow::Result<StoreHandle> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
    let mut sqlite = SqliteOptions::new(Settings::database_path(data_dir));
    options(&mut sqlite);
    SqliteStore::open_handle(&sqlite)
        .with_context(|| format!("cannot open the database in {}", data_dir.display()))
}

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

pub fn data_dir(config: Option<&Path>, flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let file = FileConfig::load(config)?;
    Ok(flag
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from("./herald-data")))
}

pub fn run(config: Option<&Path>, command: WorkspaceCommand) -> anyhow::Result<()> {
    match command {
        WorkspaceCommand::Create {
            name,
            json,
            data_dir: flag,
        } => {
            let name = name.trim().to_owned();
            anyhow::ensure!(!name.is_empty(), "a workspace needs a name");
            let data_dir = data_dir(config, flag)?;
            let store = open_store(&data_dir, |_| {})?;
            let sealer = Settings::key_sealer(&data_dir)?;
            let credentials = create(&store, &sealer, &name, SystemClock.now())?;
            if json {
                println!("{}", serde_json::to_string(&credentials)?);
            } else {
                print_credentials(&credentials);
            }
            Ok(())
        }
        WorkspaceCommand::List {
            json,
            data_dir: flag,
        } => {
            let store = open_store(&data_dir(config, flag)?, |_| {})?;
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
            data_dir: flag,
        } => {
            let file = FileConfig::load(config)?;
            let base_url = base_url.or(file.public_url).unwrap_or_else(|| {
                let listen = file.listen.as_deref().unwrap_or("127.0.0.1:8080");
                format!("http://{listen}")
            });
            let base_url =
                herald_api::snippet::normalize_base_url(&base_url).map_err(anyhow::Error::msg)?;
            let store = open_store(&data_dir(config, flag)?, |_| {})?;
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
