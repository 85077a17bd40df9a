//! The keys this server has checked, and how it learns that another process changed them.
//!
//! A request whose key was checked before costs no hashing and no lookup: each kind of key has
//! a cache. Keys change only through other processes (`herald workspace rotate-key` and
//! `herald workspace delete`, which may run on another machine beside a server of a cluster),
//! and each such change bumps the store's credentials version in its transaction
//! ([`herald_store::CREDENTIALS_VERSION`]). A request reads that version first whenever the
//! last reading started more than [`KEYS_CHECKED_EVERY`] ago, and a task reads it at that pace
//! too, so that a server with no requests also drops a deleted workspace's engine and
//! campaigns. Whatever changed, the caches are emptied and the deleted workspaces forgotten.
//!
//! Hence the promise the commands rely on: a request that arrives `KEYS_CHECKED_EVERY` after a
//! change committed is checked against it. The reading it waits for (or the last one applied)
//! started after the commit, since it started less than that long before the request. The
//! commands wait that long before they return, so a key a command revoked is refused by every
//! running server once the command returned: the server's clock decides when a retired key's
//! grace ends, and nothing else is left to a race.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use herald_domain::{UnixSeconds, WorkspaceId};
use herald_store::{CREDENTIALS_VERSION, RetiredKey};

use crate::{ApiError, AppState};

/// How long a reading of the credentials version holds: a request after that reads it again.
pub const KEYS_CHECKED_EVERY: Duration = Duration::from_secs(1);

/// A key already checked: its workspace, and, for a key a rotation retired, when it stops
/// being accepted.
#[derive(Debug, Clone, Copy)]
struct Checked {
    workspace_id: WorkspaceId,
    until: Option<UnixSeconds>,
}

/// Credentials (or site ids) already checked, and the workspace each belongs to. Each kind of
/// credential has a cache of its own, so that one kind never passes for another.
#[derive(Debug, Default)]
pub(crate) struct KeyCache(RwLock<HashMap<String, Checked>>);

impl KeyCache {
    /// The workspace of a key checked before and still accepted at `now`.
    pub(crate) fn get(&self, key: &str, now: UnixSeconds) -> Option<WorkspaceId> {
        let checked = *self.0.read().ok()?.get(key)?;
        if checked.until.is_some_and(|until| now >= until) {
            // Its grace ended: the lookup says so.
            if let Ok(mut keys) = self.0.write() {
                keys.remove(key);
            }
            return None;
        }
        Some(checked.workspace_id)
    }

    fn clear(&self) {
        if let Ok(mut keys) = self.0.write() {
            keys.clear();
        }
    }
}

/// Where a lookup started, among the caches' generations: a lookup that read the store before
/// the caches were last emptied may have read a key since revoked, and is not kept.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Generation(u64);

/// The caches, and what this server knows of the credentials version.
#[derive(Debug)]
pub(crate) struct Keys {
    pub(crate) track: KeyCache,
    pub(crate) app: KeyCache,
    pub(crate) write: KeyCache,
    /// Site ids of the browser endpoints, which are public and authenticate nothing else.
    pub(crate) site_ids: KeyCache,
    generation: AtomicU64,
    base: Instant,
    /// When the last reading of the version that was applied started, in nanoseconds since
    /// `base`, plus one; 0 before the first.
    checked: AtomicU64,
    /// Held while the version is read and applied, so that one request reads it and the others
    /// wait for its answer.
    reading: tokio::sync::Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    /// The version last read (`Some(None)`: no change was ever made).
    version: Option<Option<String>>,
    forgotten: HashSet<WorkspaceId>,
}

impl Default for Keys {
    fn default() -> Self {
        Self {
            track: KeyCache::default(),
            app: KeyCache::default(),
            write: KeyCache::default(),
            site_ids: KeyCache::default(),
            generation: AtomicU64::new(0),
            base: Instant::now(),
            checked: AtomicU64::new(0),
            reading: tokio::sync::Mutex::default(),
        }
    }
}

impl Keys {
    /// Call before the lookup whose answer `insert` keeps.
    pub(crate) fn generation(&self) -> Generation {
        Generation(self.generation.load(Ordering::SeqCst))
    }

    /// Keeps what a lookup found, unless the caches were emptied since it started.
    /// `until` is the end of a retired key's grace.
    pub(crate) fn insert(
        &self,
        cache: &KeyCache,
        generation: Generation,
        key: String,
        workspace_id: WorkspaceId,
        until: Option<UnixSeconds>,
    ) {
        if let Ok(mut keys) = cache.0.write()
            && self.generation.load(Ordering::SeqCst) == generation.0
        {
            keys.insert(
                key,
                Checked {
                    workspace_id,
                    until,
                },
            );
        }
    }

    fn elapsed(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn recently_checked(&self) -> bool {
        let checked = self.checked.load(Ordering::SeqCst);
        checked != 0
            && self.elapsed().saturating_sub(checked - 1)
                < u64::try_from(KEYS_CHECKED_EVERY.as_nanos()).unwrap_or(u64::MAX)
    }

    fn empty(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        for cache in [&self.track, &self.app, &self.write, &self.site_ids] {
            cache.clear();
        }
    }
}

/// Makes sure the caches hold nothing another process revoked more than
/// [`KEYS_CHECKED_EVERY`] ago: reads the credentials version when the last reading is older.
pub(crate) async fn fresh(state: &AppState) -> Result<(), ApiError> {
    let keys = state.keys();
    if keys.recently_checked() {
        return Ok(());
    }
    let mut seen = keys.reading.lock().await;
    if keys.recently_checked() {
        return Ok(());
    }
    let started = keys.elapsed();
    let version = state
        .store()
        .read(|reader| reader.setting(CREDENTIALS_VERSION))
        .await?;
    if seen.version.as_ref() != Some(&version) {
        keys.empty();
        let deleted = state
            .store()
            .read(|reader| reader.deleted_workspaces())
            .await?;
        for workspace in deleted {
            if seen.forgotten.insert(workspace.id) {
                forget(state, workspace.id);
            }
        }
        seen.version = Some(version);
    }
    keys.checked.store(started + 1, Ordering::SeqCst);
    Ok(())
}

/// Stops everything of a workspace another process deleted: its writes at once (even those on
/// their way to the writer), its segments and campaigns as soon as their threads get to it.
fn forget(state: &AppState, workspace_id: WorkspaceId) {
    tracing::info!(
        workspace_id = workspace_id.get(),
        "a workspace was deleted: its keys are refused and its data dropped"
    );
    state.ingest().forget_workspace(workspace_id);
    state.campaigns().service.forget_workspace(workspace_id);
    let segments = state.segments().clone();
    tokio::spawn(async move { segments.forget_workspace(workspace_id).await });
}

/// Reads the credentials version every [`KEYS_CHECKED_EVERY`] whether requests come or not, so
/// that a deleted workspace's segments and campaigns are dropped while no request arrives.
pub fn watch_keys(state: AppState) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(KEYS_CHECKED_EVERY / 2);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Err(error) = fresh(&state).await {
                tracing::warn!(error = %error, "cannot read whether keys changed; trying again");
            }
        }
    });
}

/// The 401 for a key a rotation replaced whose grace ended.
pub(crate) fn rotated(retired: &RetiredKey) -> ApiError {
    let label = retired.key.label();
    // A rotation with no grace (`--grace 0s`) revoked the key at once, whatever the clock.
    let when = if retired.expires_at <= retired.retired_at {
        format!("with no grace period at {}", moment(retired.retired_at))
    } else {
        format!(
            "and its grace period ended at {}",
            moment(retired.expires_at)
        )
    };
    ApiError::new(
        axum::http::StatusCode::UNAUTHORIZED,
        "key_rotated",
        format!(
            "this {label} was rotated {when}: use the workspace's new {label}, which `herald workspace rotate-key` printed (the web UI's Settings shows it)"
        ),
    )
}

fn moment(at: UnixSeconds) -> String {
    jiff::Timestamp::from_second(at).map_or_else(
        |_| at.to_string(),
        |at| at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}
