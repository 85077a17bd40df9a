//! Workspace keys kept so that the web UI's Settings can show them again, sealed.
//!
//! The store looks keys up by their SHA-256 only; beside the hashes it keeps the keys sealed
//! (ChaCha20-Poly1305, bound to the workspace's site id) with a key that lives in a file of the
//! data dir and never in the store, so a copy of the database alone reveals no key. Workspaces
//! created before keys were sealed have only their hashes: their Settings says so.

use std::io::Write;
use std::path::Path;

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

/// A workspace's secret keys in clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceKeys {
    pub api_key: String,
    pub app_api_key: String,
    /// The Data Pipelines write key; absent in keys sealed before workspaces had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_key: Option<String>,
}

/// Why the sealing key could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("cannot read or write the key file: {0}")]
    Io(#[from] std::io::Error),
    #[error("the key file {0} is not 64 hex digits; restore it from a backup")]
    Malformed(String),
    #[error("no random numbers from the operating system")]
    Random,
}

/// Seals and opens workspace keys. Cheap to share behind an `Arc`.
pub struct KeySealer {
    key: LessSafeKey,
    random: SystemRandom,
}

impl std::fmt::Debug for KeySealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeySealer")
    }
}

impl KeySealer {
    /// Reads the sealing key from `path`, creating it (readable by its owner only) on first use.
    /// Two processes starting on a new data dir at once (a server and `herald workspace
    /// create`) end up with the same key: the file appears whole or not at all, and the one
    /// that finds it made reads it.
    pub fn load_or_create(path: &Path) -> Result<Self, SealError> {
        let random = SystemRandom::new();
        loop {
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    let bytes = hex::decode(text.trim())
                        .ok()
                        .filter(|bytes| bytes.len() == 32)
                        .ok_or_else(|| SealError::Malformed(path.display().to_string()))?;
                    return Self::from_bytes(&bytes, random);
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    let mut bytes = vec![0_u8; 32];
                    random.fill(&mut bytes).map_err(|_| SealError::Random)?;
                    if create_whole(path, &hex::encode(&bytes))? {
                        return Self::from_bytes(&bytes, random);
                    }
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    fn from_bytes(bytes: &[u8], random: SystemRandom) -> Result<Self, SealError> {
        let key = UnboundKey::new(&CHACHA20_POLY1305, bytes)
            .map_err(|_| SealError::Malformed("the sealing key".into()))?;
        Ok(Self {
            key: LessSafeKey::new(key),
            random,
        })
    }

    /// Seals a workspace's keys for the workspace of `site_id`: hex of nonce, ciphertext, tag.
    pub fn seal(&self, site_id: &str, keys: &WorkspaceKeys) -> Result<String, SealError> {
        let mut nonce = [0_u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| SealError::Random)?;
        let mut text = serde_json::to_vec(keys).unwrap_or_default();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(site_id.as_bytes()),
                &mut text,
            )
            .map_err(|_| SealError::Random)?;
        let mut sealed = nonce.to_vec();
        sealed.extend(text);
        Ok(hex::encode(sealed))
    }

    /// Opens what `seal` made for the same site id; `None` when it was sealed with another key
    /// or for another workspace, or was changed.
    pub fn open(&self, site_id: &str, sealed: &str) -> Option<WorkspaceKeys> {
        let bytes = hex::decode(sealed).ok()?;
        let (nonce, text) = bytes.split_at_checked(NONCE_LEN)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut text = text.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(site_id.as_bytes()), &mut text)
            .ok()?;
        serde_json::from_slice(plain).ok()
    }
}

/// Creates `path` with `contents`, readable by its owner only, all at once: written to a file
/// of its own, then linked under the name, which fails if the name exists. Returns whether
/// this call made it.
fn create_whole(path: &Path, contents: &str) -> std::io::Result<bool> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.new", std::process::id()));
    let temporary = std::path::PathBuf::from(temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    let linked = std::fs::hard_link(&temporary, path);
    std::fs::remove_file(&temporary)?;
    match linked {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> WorkspaceKeys {
        WorkspaceKeys {
            api_key: "track-key".into(),
            app_api_key: "app-key".into(),
            write_key: Some("write-key".into()),
        }
    }

    #[test]
    fn keys_open_only_with_the_same_key_file_and_site() {
        let dir = tempfile::tempdir().expect("a folder");
        let path = dir.path().join("keys.secret");
        let sealer = KeySealer::load_or_create(&path).expect("created");
        let sealed = sealer.seal("site-a", &keys()).expect("sealed");
        assert!(!sealed.contains("track-key"));
        let again = KeySealer::load_or_create(&path).expect("read back");
        assert_eq!(again.open("site-a", &sealed), Some(keys()));
        assert_eq!(
            again.open("site-b", &sealed),
            None,
            "bound to its workspace"
        );
        let mut changed = sealed.clone().into_bytes();
        let last = changed.len() - 1;
        changed[last] = if changed[last] == b'0' { b'1' } else { b'0' };
        let changed = String::from_utf8(changed).expect("hex");
        assert_eq!(again.open("site-a", &changed), None, "tampering is refused");
        let other = KeySealer::load_or_create(&dir.path().join("other.secret")).expect("another");
        assert_eq!(
            other.open("site-a", &sealed),
            None,
            "another key file opens nothing"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "nothex").expect("spoiled");
        assert!(matches!(
            KeySealer::load_or_create(&path),
            Err(SealError::Malformed(_))
        ));
    }
}
