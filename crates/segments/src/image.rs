//! The engine's image: every workspace's engine written to one file, with the engine-log
//! position it holds everything up to, so that a start reads the image and the log entries
//! after it instead of the whole history.
//!
//! The file is a fixed header (a magic string naming the format's version, the body's length
//! and its CRC-32) and the body, the engines in postcard. It is written to a temporary file,
//! synced and renamed over the old one, so that a crash leaves either image whole; a file that
//! does not check out is ignored and the engine is rebuilt from history.

use herald_domain::WorkspaceId;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use herald_segment_engine::Engine;
use serde::{Deserialize, Serialize};

/// The magic string; its digit is the format's version, changed whenever the engine's types
/// change shape, so that an image of another version is never read.
const MAGIC: &[u8; 16] = b"HERALD-IMAGE-v2\n";
/// The magic string of an image of engines that hold only their node's partitions, which
/// says which partitions they hold (`Image::held`); an engine of either kind reads only its
/// own kind.
const MAGIC_HELD: &[u8; 16] = b"HERALD-IMAGE-p1\n";
const HEADER: usize = MAGIC.len() + 8 + 4;

/// Where the runner keeps its image and how often it writes one.
#[derive(Debug, Clone)]
pub struct ImageSettings {
    pub path: PathBuf,
    /// The least time between two images while the engine changes.
    pub every: Duration,
}

#[derive(Serialize)]
struct ImageRef<'e> {
    position: i64,
    workspaces: Vec<(WorkspaceId, &'e Engine)>,
}

#[derive(Serialize)]
struct HeldImageRef<'e> {
    position: i64,
    held: &'e [(u16, i64)],
    workspaces: Vec<(WorkspaceId, &'e Engine)>,
}

/// A read image.
#[derive(Deserialize)]
pub(crate) struct Image {
    /// The engine-log position of the last input the engines hold.
    pub position: i64,
    pub workspaces: Vec<(WorkspaceId, Engine)>,
}

#[derive(Deserialize)]
struct HeldImage {
    position: i64,
    held: Vec<(u16, i64)>,
    workspaces: Vec<(WorkspaceId, Engine)>,
}

/// A read image of engines that hold only some partitions: which ones, each with the log
/// position it was loaded at.
pub(crate) struct PartitionsImage {
    pub image: Image,
    pub held: Vec<(u16, i64)>,
}

/// Why an image could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ImageError {
    #[error("cannot read the engine image: {0}")]
    Io(#[from] std::io::Error),
    #[error("the engine image is damaged or of another version: {0}")]
    Corrupt(String),
}

/// Writes the engines holding every input up to `position`, and, for engines that hold only
/// some partitions, which (`held`: each with the position it was loaded at); returns the
/// file's size.
pub(crate) fn write(
    path: &Path,
    position: i64,
    engines: &HashMap<WorkspaceId, Engine>,
    held: Option<&[(u16, i64)]>,
) -> std::io::Result<u64> {
    let temporary = path.with_extension("tmp");
    let mut out = BufWriter::with_capacity(1 << 20, File::create(&temporary)?);
    out.write_all(if held.is_some() { MAGIC_HELD } else { MAGIC })?;
    out.write_all(&[0; 12])?;
    let mut workspaces: Vec<(WorkspaceId, &Engine)> =
        engines.iter().map(|(id, e)| (*id, e)).collect();
    workspaces.sort_by_key(|(id, _)| *id);
    // Postcard writes a few bytes at a time; buffered before the checksum, the CRC runs over
    // large blocks rather than once per field (a sixth of writing an image, measured).
    let body = BufWriter::with_capacity(1 << 16, Checksummed::new(out));
    let body = match held {
        None => postcard::to_io(
            &ImageRef {
                position,
                workspaces,
            },
            body,
        ),
        Some(held) => postcard::to_io(
            &HeldImageRef {
                position,
                held,
                workspaces,
            },
            body,
        ),
    }
    .map_err(|error| std::io::Error::other(error.to_string()))?;
    let (mut out, length, crc) = body
        .into_inner()
        .map_err(std::io::IntoInnerError::into_error)?
        .finish();
    out.seek(SeekFrom::Start(MAGIC.len() as u64))?;
    out.write_all(&length.to_le_bytes())?;
    out.write_all(&crc.to_le_bytes())?;
    let file = out
        .into_inner()
        .map_err(std::io::IntoInnerError::into_error)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)?;
    if let Some(folder) = path.parent() {
        File::open(folder)?.sync_all()?;
    }
    Ok(HEADER as u64 + length)
}

/// Reads the image, or `None` when there is none.
pub(crate) fn read(path: &Path) -> Result<Option<Image>, ImageError> {
    let Some(bytes) = read_checked(path, MAGIC)? else {
        return Ok(None);
    };
    postcard::from_bytes(&bytes[HEADER..])
        .map(Some)
        .map_err(|error| ImageError::Corrupt(error.to_string()))
}

/// Reads the image of engines that hold only some partitions, or `None` when there is none.
pub(crate) fn read_held(path: &Path) -> Result<Option<PartitionsImage>, ImageError> {
    let Some(bytes) = read_checked(path, MAGIC_HELD)? else {
        return Ok(None);
    };
    let read: HeldImage = postcard::from_bytes(&bytes[HEADER..])
        .map_err(|error| ImageError::Corrupt(error.to_string()))?;
    Ok(Some(PartitionsImage {
        image: Image {
            position: read.position,
            workspaces: read.workspaces,
        },
        held: read.held,
    }))
}

/// The file's bytes once its header names `magic` and its body checks out.
fn read_checked(path: &Path, magic: &[u8; 16]) -> Result<Option<Vec<u8>>, ImageError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let corrupt = |why: &str| ImageError::Corrupt(why.to_owned());
    let (header, body) = bytes
        .split_at_checked(HEADER)
        .ok_or_else(|| corrupt("shorter than its header"))?;
    if &header[..MAGIC.len()] != magic {
        return Err(corrupt("not an image of this version"));
    }
    let mut length = [0; 8];
    length.copy_from_slice(&header[MAGIC.len()..MAGIC.len() + 8]);
    let mut crc = [0; 4];
    crc.copy_from_slice(&header[MAGIC.len() + 8..]);
    if u64::from_le_bytes(length) != body.len() as u64 {
        return Err(corrupt("cut short"));
    }
    if crc32fast::hash(body) != u32::from_le_bytes(crc) {
        return Err(corrupt("checksum mismatch"));
    }
    Ok(Some(bytes))
}

/// A writer that counts and checksums what passes through it.
struct Checksummed<W> {
    inner: W,
    hasher: crc32fast::Hasher,
    length: u64,
}

impl<W: Write> Checksummed<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: crc32fast::Hasher::new(),
            length: 0,
        }
    }

    fn finish(self) -> (W, u64, u32) {
        (self.inner, self.length, self.hasher.finalize())
    }
}

impl<W: Write> Write for Checksummed<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(bytes)?;
        self.hasher.update(&bytes[..written]);
        self.length += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
