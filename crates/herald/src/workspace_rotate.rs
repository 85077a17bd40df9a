//! `herald workspace rotate-key`: replaces one of a workspace's keys, keeping the old one for a
//! grace period, and prints the new one once.

use std::time::Duration;

use anyhow::Context;
use herald_domain::{Clock, SystemClock, UnixSeconds};
use herald_ingest::sealed_keys::KeySealer;
use herald_ingest::workspaces::{hash_key, new_key};
use herald_store::{StoreHandle, Workspace, WorkspaceKey};
use serde::Serialize;

use crate::store_location::StoreLocation;

/// Reads `--grace`: a duration as elsewhere in the CLI, or zero (`0`, `0s`), which revokes the
/// old key at once.
pub fn parse_grace(text: &str) -> Result<Duration, String> {
    let number = text.trim().trim_end_matches(['m', 's', 'h']);
    if number.parse::<f64>().is_ok_and(|number| number == 0.0) {
        return Ok(Duration::ZERO);
    }
    crate::config::parse_duration(text)
}

/// What the command prints with `--json`.
#[derive(Debug, Serialize)]
pub struct Rotated {
    pub id: herald_domain::WorkspaceId,
    pub name: String,
    pub site_id: String,
    /// `track`, `app` or `write`.
    pub kind: &'static str,
    /// The new key, shown this once.
    pub key: String,
    /// Until when (unix seconds, by each server's clock) the old key is accepted; at or before
    /// the rotation when it was revoked at once.
    pub old_key_expires_at: UnixSeconds,
}

/// Rotates `key` of `workspace`: the new key's hash replaces the old one's, which stays
/// accepted until the end of `grace` (none: refused at once), and the sealed copies the web
/// UI's Settings shows are sealed again with the new key, in the same write.
pub fn rotate(
    store: &StoreHandle,
    sealer: &KeySealer,
    workspace: &Workspace,
    key: WorkspaceKey,
    grace: Duration,
) -> anyhow::Result<Rotated> {
    let now = SystemClock.now();
    // The expiry is compared with each server's clock, which `--dev-clock` may have set apart
    // from this one; a rotation without grace stores one no clock is before.
    let expires_at = if grace.is_zero() {
        0
    } else {
        now.saturating_add(grace.as_secs_f64().ceil() as i64)
    };
    let fresh = new_key(key);
    let hash = hash_key(&fresh);
    let (id, site_id) = (workspace.id, workspace.site_id.clone());
    let sealed = store
        .read_blocking(move |reader| reader.workspace_keys_sealed(id))
        .context("cannot read the workspace's keys")?;
    let resealed = match sealed.and_then(|sealed| sealer.open(&site_id, &sealed)) {
        Some(mut keys) => {
            match key {
                WorkspaceKey::Track => keys.api_key = fresh.clone(),
                WorkspaceKey::App => keys.app_api_key = fresh.clone(),
                WorkspaceKey::Write => keys.write_key = Some(fresh.clone()),
            }
            Some(
                sealer
                    .seal(&site_id, &keys)
                    .context("cannot seal the keys")?,
            )
        }
        None => None,
    };
    let rotated = store
        .write_blocking(move |tx| {
            let rotated = tx.rotate_key(id, key, &hash, now, expires_at)?;
            if rotated && let Some(sealed) = &resealed {
                tx.set_workspace_keys(id, sealed)?;
            }
            Ok::<_, herald_store::StoreError>(rotated)
        })
        .context("the store is unavailable")?
        .context("cannot store the new key")?;
    if !rotated {
        match key {
            WorkspaceKey::Write => anyhow::bail!(
                "the workspace {:?} has no Data Pipelines write key to rotate: `herald workspace write-key {}` gives it one",
                workspace.name,
                workspace.name
            ),
            _ => anyhow::bail!("the workspace {:?} was deleted meanwhile", workspace.name),
        }
    }
    Ok(Rotated {
        id,
        name: workspace.name.clone(),
        site_id: workspace.site_id.clone(),
        kind: key.as_str(),
        key: fresh,
        old_key_expires_at: expires_at,
    })
}

/// Prints a rotation for a person to copy the new key.
pub fn print(rotated: &Rotated, key: WorkspaceKey, grace: Duration) {
    let label = key.label();
    println!(
        "workspace {:?}: the {label} is replaced; keep the new one, it is shown only once (the web UI's Settings shows it too):",
        rotated.name
    );
    println!("  {label}: {}", rotated.key);
    if grace.is_zero() {
        println!("The old {label} is refused from now on.");
    } else {
        let until = jiff::Timestamp::from_second(rotated.old_key_expires_at).map_or_else(
            |_| rotated.old_key_expires_at.to_string(),
            |at| at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
        );
        println!(
            "The old {label} keeps working until {until} ({}), then is refused.",
            humantime(grace)
        );
    }
}

/// A grace period as the flag would give it.
fn humantime(grace: Duration) -> String {
    let seconds = grace.as_secs();
    if seconds == 0 {
        format!("{}ms", grace.as_millis())
    } else if seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else if seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// Waits until every running server refuses what a command revoked: a server reads whether
/// keys changed at the latest [`herald_api::KEYS_CHECKED_EVERY`] before a request it checks
/// (`crates/api/src/keys.rs`), so once that long passed after the commit, none takes a revoked
/// key, nor, after a deletion, writes for the workspace. A little more covers the read itself.
pub fn wait_for_servers() {
    std::thread::sleep(herald_api::KEYS_CHECKED_EVERY + Duration::from_millis(250));
}

/// Which key the flags name.
pub fn chosen(track: bool, app: bool, write_key: bool) -> anyhow::Result<WorkspaceKey> {
    match (track, app, write_key) {
        (true, false, false) => Ok(WorkspaceKey::Track),
        (false, true, false) => Ok(WorkspaceKey::App),
        (false, false, true) => Ok(WorkspaceKey::Write),
        _ => anyhow::bail!("name exactly one key to rotate: --track, --app or --write-key"),
    }
}

/// Opens the store and the sealer of `location`.
pub fn open(location: &StoreLocation) -> anyhow::Result<(StoreHandle, KeySealer)> {
    let store = location.open()?;
    let sealer = crate::config::Settings::key_sealer(&location.data_dir)?;
    Ok((store, sealer))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{humantime, parse_grace};

    #[test]
    fn a_grace_is_a_duration_or_nothing() {
        assert_eq!(parse_grace("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_grace("0"), Ok(Duration::ZERO));
        assert_eq!(parse_grace("0m"), Ok(Duration::ZERO));
        assert_eq!(parse_grace("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_grace("90s"), Ok(Duration::from_secs(90)));
        assert!(parse_grace("soon").is_err());
        assert!(parse_grace("-1h").is_err());
        assert_eq!(humantime(Duration::from_secs(86_400)), "24h");
        assert_eq!(humantime(Duration::from_secs(90)), "90s");
        assert_eq!(humantime(Duration::from_secs(120)), "2m");
    }
}
