//! Creating workspaces and checking their keys.

use herald_domain::{UnixSeconds, WorkspaceId};
use herald_store::{NewWorkspace, WorkspaceKey};
use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// A workspace's credentials in clear text, shown once when it is created.
#[derive(Debug, Clone, Serialize)]
pub struct Credentials {
    pub id: WorkspaceId,
    pub name: String,
    pub site_id: String,
    pub api_key: String,
    pub app_api_key: String,
    /// The Data Pipelines API's write key (Basic auth `write_key:`).
    pub write_key: String,
}

/// Returns the SHA-256 of a key in hex, the form keys are stored and looked up in.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Returns `bytes` random bytes as hex, for keys and secrets.
pub fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0_u8; bytes];
    rand::rng().fill(buffer.as_mut_slice());
    hex::encode(buffer)
}

/// A fresh key of a kind: random hex, of the length Customer.io's keys of that kind have.
pub fn new_key(key: WorkspaceKey) -> String {
    match key {
        WorkspaceKey::Track => random_hex(10),
        WorkspaceKey::App => random_hex(24),
        WorkspaceKey::Write => random_hex(16),
    }
}

/// Generates fresh credentials for a workspace named `name`: the row to store and the clear
/// keys to print (the `id` is filled in once the row is stored). The write key's hash is not
/// in the row: the caller stores it with `set_write_key_hash`, in the same write.
pub fn generate(name: &str, now: UnixSeconds) -> (NewWorkspace, Credentials) {
    let site_id = random_hex(10);
    let api_key = new_key(WorkspaceKey::Track);
    let app_api_key = new_key(WorkspaceKey::App);
    let write_key = new_key(WorkspaceKey::Write);
    let row = NewWorkspace {
        name: name.to_owned(),
        site_id: site_id.clone(),
        api_key_hash: hash_key(&api_key),
        app_api_key_hash: hash_key(&app_api_key),
        created_at: now,
    };
    let credentials = Credentials {
        id: WorkspaceId::new(0),
        name: name.to_owned(),
        site_id,
        api_key,
        app_api_key,
        write_key,
    };
    (row, credentials)
}
