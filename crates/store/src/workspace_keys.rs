//! What rotating a workspace's keys and deleting a workspace store, and how the servers that
//! cache keys learn of either.
//!
//! Servers cache the keys they have checked, so a rotation or a deletion made by another process
//! (`herald workspace rotate-key`, `herald workspace delete`) bumps [`CREDENTIALS_VERSION`] in the
//! same transaction: a server that reads a version other than the one it saw last drops its
//! caches and looks keys up afresh.

use herald_domain::{UnixSeconds, WorkspaceId};

/// The setting whose value changes with every rotation of a key and every deletion of a
/// workspace (a counter, increased in the transaction that makes the change).
pub const CREDENTIALS_VERSION: &str = "credentials_version";

/// The setting that keeps where an import (`herald import`) stands: the line its next step
/// starts at, per workspace and import id.
pub fn import_setting_key(workspace_id: WorkspaceId, import_id: &str) -> String {
    format!("{}{import_id}", import_settings_prefix(workspace_id))
}

/// What every import setting of a workspace starts with: removing the workspace removes them.
pub fn import_settings_prefix(workspace_id: WorkspaceId) -> String {
    format!("import/{}/", workspace_id.get())
}

/// One of a workspace's three keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkspaceKey {
    /// The Track API key (Basic `site_id:api_key`).
    Track,
    /// The App API key (Bearer).
    App,
    /// The Data Pipelines write key (Basic `write_key:`).
    Write,
}

impl WorkspaceKey {
    /// Every kind, in the order the CLI names them.
    pub const ALL: [WorkspaceKey; 3] = [Self::Track, Self::App, Self::Write];

    /// The name the kind is stored under.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Track => "track",
            Self::App => "app",
            Self::Write => "write",
        }
    }

    /// The key's name for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Track => "Track API key",
            Self::App => "App API key",
            Self::Write => "Pipelines write key",
        }
    }
}

/// A key replaced by a rotation, kept (as its SHA-256) until the next rotation of the same kind
/// of key: it is accepted while the time of the server that checks it is before `expires_at`,
/// and refused afterwards with a message that says it was rotated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredKey {
    pub workspace_id: WorkspaceId,
    pub key: WorkspaceKey,
    pub retired_at: UnixSeconds,
    pub expires_at: UnixSeconds,
}

impl RetiredKey {
    /// Whether the key is still accepted at `now`.
    pub fn accepted_at(&self, now: UnixSeconds) -> bool {
        now < self.expires_at
    }
}

/// What one step of removing a deleted workspace's rows did (`StoreTx::purge_workspace`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspacePurge {
    /// Where the next step starts: the parts of the purge before it are done.
    pub next: usize,
    /// The rows removed, by table (a step may remove a row and the rows that hang on it, such
    /// as a delivery and its metrics).
    pub removed: Vec<(&'static str, u64)>,
}
