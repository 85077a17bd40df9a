//! The engine's image: every workspace's engine written to one file, with the engine-log
//! position it holds everything up to, so that a start reads the image and the log entries
//! after it instead of the whole history.
//!
//! The file is a fixed header (a magic string naming the format's version, the body's length
//! and its CRC-32) and the body, the engines in postcard. It is written to a temporary file,
//! synced and renamed over the old one, so that a crash leaves either image whole; a file that
//! does not check out is ignored and the engine is rebuilt from history. Only the
//! serialization runs on the engine's thread; the rest is the writing thread's (`write`).

use herald_domain::WorkspaceId;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use herald_segment_engine::Engine;
use serde::{Deserialize, Serialize};

/// The magic string; its digit is the format's version, changed whenever the engine's types
/// change shape, so that an image of another version is never read.
const MAGIC: &[u8; 16] = b"HERALD-IMAGE-v3\n";
/// The magic string of an image of engines that hold only their node's partitions, which
/// says which partitions they hold (`Image::held`); an engine of either kind reads only its
/// own kind.
const MAGIC_HELD: &[u8; 16] = b"HERALD-IMAGE-p2\n";
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

/// An image whose engines are serialized and which a thread of its own is still writing,
/// syncing and renaming into place.
pub(crate) struct Pending {
    /// The engine-log position the image holds everything up to.
    pub position: i64,
    thread: JoinHandle<std::io::Result<u64>>,
}

impl Pending {
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Waits until the image is in place (or failed); returns its size.
    pub fn wait(self) -> std::io::Result<u64> {
        self.thread
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the image's writing thread panicked")))
    }
}

/// What the serializing thread hands the writing thread: the image's bytes, a part at a time,
/// then `End`, without which the writing thread throws the file away.
enum Part {
    Bytes(Vec<u8>),
    End,
}

/// The size of a part, and how many may wait for the writing thread: the memory an image
/// takes beyond the engines is these few mebibytes, not the image's size.
const PART: usize = 1 << 20;
const PARTS_WAITING: usize = 8;

/// Writes the engines holding every input up to `position`, and, for engines that hold only
/// some partitions, which (`held`: each with the position it was loaded at).
///
/// The calling thread, the engine's, only serializes the engines into parts. A thread of its
/// own checksums and writes each part as it comes, then syncs the file, renames it over the old
/// image, syncs the folder, and calls `then` with the image's size: what must wait until the
/// image is durable (trimming the log up to it) goes there. So the engine's thread is stopped
/// for postcard's traversal alone, not for the checksum, the writes or the disk's sync.
pub(crate) fn write(
    path: &Path,
    position: i64,
    engines: &HashMap<WorkspaceId, Engine>,
    held: Option<&[(u16, i64)]>,
    then: impl FnOnce(u64) + Send + 'static,
) -> std::io::Result<Pending> {
    let temporary = path.with_extension("tmp");
    let mut file = File::create(&temporary)?;
    file.write_all(if held.is_some() { MAGIC_HELD } else { MAGIC })?;
    file.write_all(&[0; 12])?;
    let (sender, receiver) = mpsc::sync_channel(PARTS_WAITING);
    let target = path.to_owned();
    let thread = std::thread::Builder::new()
        .name("herald-image".into())
        .spawn(move || {
            let written = put_in_place(file, &receiver, &temporary, &target);
            match written {
                Ok(bytes) => then(bytes),
                Err(_) => {
                    let _ = std::fs::remove_file(&temporary);
                }
            }
            written
        })?;
    let pending = Pending { position, thread };
    let mut workspaces: Vec<(WorkspaceId, &Engine)> =
        engines.iter().map(|(id, e)| (*id, e)).collect();
    workspaces.sort_by_key(|(id, _)| *id);
    let parts = Parts {
        sender,
        part: Vec::with_capacity(PART),
    };
    let serialized = match held {
        None => postcard::serialize_with_flavor(
            &ImageRef {
                position,
                workspaces,
            },
            parts,
        ),
        Some(held) => postcard::serialize_with_flavor(
            &HeldImageRef {
                position,
                held,
                workspaces,
            },
            parts,
        ),
    }
    .map_err(|error| std::io::Error::other(error.to_string()))
    .and_then(Parts::end);
    match serialized {
        Ok(()) => Ok(pending),
        // The writing thread stopped (its error says why), or stops now that the parts ended
        // without `End`.
        Err(error) => Err(match pending.wait() {
            Err(stopped) => std::io::Error::new(stopped.kind(), format!("{error} ({stopped})")),
            Ok(_) => error,
        }),
    }
}

/// The writing thread's work: every part into the file after its header, then the header's
/// length and checksum, the sync and the rename. Returns the image's size.
fn put_in_place(
    mut file: File,
    parts: &mpsc::Receiver<Part>,
    temporary: &Path,
    path: &Path,
) -> std::io::Result<u64> {
    let mut hasher = crc32fast::Hasher::new();
    let mut length = 0_u64;
    loop {
        match parts.recv() {
            Ok(Part::Bytes(bytes)) => {
                hasher.update(&bytes);
                file.write_all(&bytes)?;
                length += bytes.len() as u64;
            }
            Ok(Part::End) => break,
            Err(mpsc::RecvError) => {
                return Err(std::io::Error::other(
                    "the engines' serialization stopped before their end",
                ));
            }
        }
    }
    file.seek(SeekFrom::Start(MAGIC.len() as u64))?;
    file.write_all(&length.to_le_bytes())?;
    file.write_all(&hasher.finalize().to_le_bytes())?;
    file.sync_all()?;
    std::fs::rename(temporary, path)?;
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

/// A writer that gathers what postcard writes, a few bytes at a time, into parts for the
/// writing thread.
struct Parts {
    sender: mpsc::SyncSender<Part>,
    part: Vec<u8>,
}

impl Parts {
    fn send(&mut self) -> std::io::Result<()> {
        let part = std::mem::replace(&mut self.part, Vec::with_capacity(PART));
        self.sender
            .send(Part::Bytes(part))
            .map_err(|_| std::io::Error::other("the image's writing thread stopped"))
    }

    /// Hands over the last part and says that the image ends there.
    fn end(mut self) -> std::io::Result<()> {
        if !self.part.is_empty() {
            self.send()?;
        }
        self.sender
            .send(Part::End)
            .map_err(|_| std::io::Error::other("the image's writing thread stopped"))
    }
}

/// Postcard's output, a byte or a varint at a time, straight into the part. Through
/// `std::io::Write` (`postcard::to_io`) every byte was a `write_all` and a `memmove` call: a
/// third of the time the engine's thread was stopped for.
impl postcard::ser_flavors::Flavor for Parts {
    type Output = Parts;

    #[inline]
    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.try_extend(&[byte])
    }

    #[inline]
    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        if self.part.len() + bytes.len() > PART && !self.part.is_empty() {
            // The only failure: the writing thread stopped, which `write` reports from it.
            self.send()
                .map_err(|_| postcard::Error::SerializeBufferFull)?;
        }
        if bytes.len() <= 16 {
            for byte in bytes {
                self.part.push(*byte);
            }
        } else {
            self.part.extend_from_slice(bytes);
        }
        Ok(())
    }

    fn finalize(self) -> postcard::Result<Parts> {
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use herald_domain::WorkspaceId;
    use herald_segment_engine::{Engine, EventRecord, PersonHistory};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    /// Engines whose image spans many parts.
    fn engines() -> HashMap<WorkspaceId, Engine> {
        let mut engines = HashMap::new();
        for workspace in [1, 2] {
            let mut engine = Engine::new();
            for person in 1..=20_000 {
                let history = PersonHistory {
                    first_seen: 1,
                    events: (0..3)
                        .map(|n| {
                            EventRecord::from_parts(
                                format!("event {}", (person + n) % 40),
                                "event",
                                10 + n * 1_000 + person,
                                serde_json::json!({"price": person % 97}),
                            )
                        })
                        .collect(),
                    ..Default::default()
                };
                engine.load_person(person, &history, 100_000);
            }
            engines.insert(WorkspaceId::new(workspace), engine);
        }
        engines
    }

    /// What a test can compare of two engines (their serialization is in hash maps' order).
    fn summary(engine: &Engine) -> (usize, usize, Vec<i64>, Vec<String>) {
        let (people, events) = engine.size();
        let mut ids: Vec<i64> = engine.people().collect();
        ids.sort_unstable();
        let names = engine.event_names().into_iter().collect();
        (people, events, ids, names)
    }

    #[test]
    fn an_image_reads_back_as_the_engines_it_was_written_from() {
        let dir = tempfile::tempdir().expect("a temporary dir");
        let path = dir.path().join("engine.image");
        let engines = engines();
        let told = Arc::new(Mutex::new(None));
        let then = {
            let told = told.clone();
            move |bytes| *told.lock().expect("the lock") = Some(bytes)
        };
        let pending = super::write(&path, 42, &engines, None, then).expect("serialized");
        assert_eq!(pending.position, 42);
        let size = pending.wait().expect("written");
        assert!(
            size > 2 * super::PART as u64,
            "{size} bytes: fewer than three parts"
        );
        assert_eq!(*told.lock().expect("the lock"), Some(size));
        assert_eq!(std::fs::metadata(&path).expect("the image").len(), size);
        assert!(!path.with_extension("tmp").exists());

        let read = super::read(&path).expect("readable").expect("an image");
        assert_eq!(read.position, 42);
        assert_eq!(read.workspaces.len(), 2);
        for (workspace, engine) in &read.workspaces {
            assert!(
                summary(engine) == summary(&engines[workspace]),
                "{workspace:?} differs"
            );
        }
        // The image of engines holding only some partitions is another kind, which says which.
        let held = [(3_u16, 40_i64), (9, 41)];
        super::write(&path, 43, &engines, Some(&held), |_| {})
            .expect("serialized")
            .wait()
            .expect("written");
        assert!(super::read(&path).is_err(), "read as the other kind");
        let read = super::read_held(&path)
            .expect("readable")
            .expect("an image");
        assert_eq!(read.held, held);
        assert_eq!(read.image.position, 43);
    }

    #[test]
    fn an_image_that_cannot_be_put_in_place_calls_nothing_and_leaves_no_file() {
        let dir = tempfile::tempdir().expect("a temporary dir");
        let engines = engines();
        // A folder where the new image would be renamed to: the rename fails after every
        // part was written.
        let blocked = dir.path().join("blocked.image");
        std::fs::create_dir(&blocked).expect("a folder");
        std::fs::write(blocked.join("inside"), b"x").expect("a file in it");
        let called = Arc::new(Mutex::new(false));
        let then = {
            let called = called.clone();
            move |_| *called.lock().expect("the lock") = true
        };
        let pending = super::write(&blocked, 8, &engines, None, then).expect("serialized");
        assert!(pending.wait().is_err());
        assert!(
            !*called.lock().expect("the lock"),
            "the log would be trimmed"
        );
        assert!(
            !blocked.with_extension("tmp").exists(),
            "the temporary file is left"
        );
        // Nowhere to write at all: refused before anything is serialized.
        let nowhere = dir.path().join("missing").join("engine.image");
        assert!(super::write(&nowhere, 9, &engines, None, |_| {}).is_err());
    }
}
