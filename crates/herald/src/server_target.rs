//! How a command reaches a running server of a workspace: the server's URL and the
//! workspace's Track API credentials, given as flags or read from the data dir (the keys the
//! server keeps sealed with `keys.secret`), so that `herald import` needs nothing but the
//! workspace's name on the machine that runs Herald.

use std::path::Path;

use anyhow::Context;
use herald_store::Workspace;

use crate::config::{FileConfig, Settings};
use crate::store_location::StoreLocation;

/// A server and the Track API credentials of one of its workspaces.
#[derive(Debug, Clone)]
pub struct ServerTarget {
    /// Without a trailing slash.
    pub url: String,
    pub site_id: String,
    pub api_key: String,
    pub workspace: String,
}

/// Where people and programs reach the server: `public_url`, else the listen address
/// (`https` when the server has a certificate).
pub fn server_url(file: &FileConfig) -> String {
    file.public_url.clone().unwrap_or_else(|| {
        let listen = file.listen.as_deref().unwrap_or("127.0.0.1:8080");
        let scheme = if file.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{listen}")
    })
}

/// The flags that pick the server and workspace.
pub struct TargetArgs<'a> {
    pub config: Option<&'a Path>,
    pub store: crate::cli::StoreArgs,
    pub url: Option<String>,
    pub workspace: Option<String>,
    pub site_id: Option<String>,
    pub api_key: Option<String>,
}

impl ServerTarget {
    pub fn resolve(args: TargetArgs<'_>) -> anyhow::Result<Self> {
        let file = FileConfig::load(args.config)?;
        let url = args
            .url
            .unwrap_or_else(|| server_url(&file))
            .trim_end_matches('/')
            .to_owned();
        if let (Some(site_id), Some(api_key)) = (args.site_id.clone(), args.api_key.clone()) {
            return Ok(Self {
                url,
                workspace: args.workspace.unwrap_or_else(|| site_id.clone()),
                site_id,
                api_key,
            });
        }
        anyhow::ensure!(
            args.site_id.is_none() && args.api_key.is_none(),
            "give both --site-id and --api-key, or neither (to read them from the data dir)"
        );
        let location = StoreLocation::resolve(&file, args.store)?;
        let store = location.open()?;
        let workspaces = store
            .read_blocking(|reader| reader.workspaces())
            .context("cannot list workspaces")?;
        let workspace: Workspace = crate::workspace::choose(workspaces, args.workspace.as_deref())?;
        let id = workspace.id;
        let sealed = store
            .read_blocking(move |reader| reader.workspace_keys_sealed(id))
            .context("cannot read the workspace's keys")?;
        let sealer = Settings::key_sealer(&location.data_dir)?;
        let keys = sealed
            .and_then(|sealed| sealer.open(&workspace.site_id, &sealed))
            .with_context(|| {
                format!(
                    "the data dir keeps no readable Track API key for the workspace {:?} (it was \
                     created before Herald kept keys, or keys.secret is not this data dir's): pass \
                     --site-id and --api-key",
                    workspace.name
                )
            })?;
        Ok(Self {
            url,
            site_id: workspace.site_id,
            api_key: keys.api_key,
            workspace: workspace.name,
        })
    }
}
