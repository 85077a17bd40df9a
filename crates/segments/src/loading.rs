//! Loading every workspace's engine from the stored history while the server already takes
//! writes.
//!
//! The history is read on a read transaction pinned inside a write job (`Store::pin_read`):
//! it sees every transaction committed before that job's and none after. The same job puts a
//! marker into the runner's queue. Inputs are queued by each commit's hook, after the commit, so
//! every input queued before the marker belongs to a transaction the pinned read sees, and every
//! input queued after it to one it does not. Once loaded, the runner drops the inputs ahead of
//! the marker and applies the rest in commit order: nothing is counted twice or missed, and a
//! write acknowledged while the engine was loading is in its segments once it has caught up.
//!
//! The read runs on a thread of its own and hands people over in chunks through a bounded
//! channel, so reading and decoding the store overlaps with the engine indexing what came
//! before, and only a few chunks are in memory at once.
//!
//! With an image of the engines at some engine-log position, the read hands over the log
//! entries after that position instead of the history, when the log still holds all of them
//! (it is trimmed only up to the last image written) and the image is not ahead of the store.

use herald_domain::{SegmentId, WorkspaceId};
use std::sync::mpsc;

use herald_segment_engine::{PersonHistory, PersonId};
use herald_store::{
    PartitionSet, Person, PersonRelationship, SegmentRow, StoreError, StoreHandle, StoreRead,
    StoredEvent,
};

use crate::runner::Command;

/// People per chunk handed from the reader to the runner.
const CHUNK: usize = 512;
/// Chunks the reader may be ahead of the runner.
const AHEAD: usize = 8;

/// What the reader hands the runner, in order: how the engines load; per workspace, its
/// segments and stored memberships, then (from history) its people in chunks; then (from an
/// image) the engine-log entries after the image; then the end.
pub(crate) enum Loaded {
    Start {
        /// Whether the image catches up from the log; otherwise everything is read again.
        from_image: bool,
        /// The last engine-log position committed when the read was pinned.
        end: i64,
    },
    Workspace {
        id: WorkspaceId,
        segments: Vec<SegmentRow>,
        members: Vec<(SegmentId, i64)>,
    },
    People(Vec<(PersonId, PersonHistory)>),
    /// An engine-log entry: its position, workspace and encoded inputs.
    Log(i64, WorkspaceId, Vec<u8>),
    Done(Result<(), StoreError>),
}

/// Pins a read of everything the engine holds, queues the marker `Command::Pinned(generation)`
/// in the runner's queue at the read's place in commit order, and returns the receiving end of
/// what the read finds.
pub(crate) fn start(
    store: &StoreHandle,
    queue: &mpsc::Sender<Command>,
    generation: u64,
    image: Option<i64>,
    partitions: PartitionSet,
) -> Result<mpsc::Receiver<Loaded>, StoreError> {
    let (sender, receiver) = mpsc::sync_channel(AHEAD);
    let reader = store.clone();
    let marker = queue.clone();
    store
        .write_blocking(move |_tx| {
            reader.pin_read(move |r| {
                let result = read_all(r, &sender, image, &partitions);
                let _ = sender.send(Loaded::Done(result));
            })?;
            // Still inside the write job: no hook of this transaction or a later one has run.
            let _ = marker.send(Command::Pinned(generation));
            Ok::<(), StoreError>(())
        })
        .and_then(|pinned| pinned)?;
    Ok(receiver)
}

/// Pins a read of the people of `partitions` with every workspace's segments and stored
/// memberships, for an engine that follows the log and takes partitions over (no marker: such
/// an engine takes its inputs from the log, and skips the entries up to the read's `end` for
/// these people); returns the receiving end of what the read finds.
pub(crate) fn start_partitions(
    store: &StoreHandle,
    partitions: PartitionSet,
) -> Result<mpsc::Receiver<Loaded>, StoreError> {
    let (sender, receiver) = mpsc::sync_channel(AHEAD);
    store.pin_read(move |r| {
        let result = read_all(r, &sender, None, &partitions);
        let _ = sender.send(Loaded::Done(result));
    })?;
    Ok(receiver)
}

fn read_all(
    reader: &mut dyn StoreRead,
    sender: &mpsc::SyncSender<Loaded>,
    image: Option<i64>,
    partitions: &PartitionSet,
) -> Result<(), StoreError> {
    let end = reader.engine_log_end()?;
    let trimmed = reader.engine_log_trimmed()?;
    let from_image = image.is_some_and(|position| trimmed <= position && position <= end);
    if sender.send(Loaded::Start { from_image, end }).is_err() {
        return Ok(());
    }
    for workspace in reader.workspaces()? {
        let segments = reader.segments(workspace.id)?;
        let members = reader
            .segment_members(workspace.id)?
            .into_iter()
            .map(|(segment, person)| (segment, person.get()))
            .collect();
        let announced = sender.send(Loaded::Workspace {
            id: workspace.id,
            segments,
            members,
        });
        if announced.is_err() {
            return Ok(());
        }
        if from_image {
            continue;
        }
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut gone = false;
        // Relationships come by person, as the histories do: each history takes its own off
        // the front.
        let mut relationships = reader
            .workspace_relationships(workspace.id)?
            .into_iter()
            .peekable();
        reader.for_each_history(workspace.id, partitions, &mut |person, events| {
            let mut own = Vec::new();
            while let Some((seq, _)) = relationships.peek() {
                if *seq > person.seq {
                    break;
                }
                let (seq, relationship) = relationships.next().expect("peeked");
                if seq == person.seq {
                    own.push(relationship);
                }
            }
            chunk.push(history(person, &own, events));
            if chunk.len() == CHUNK {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                gone = sender.send(Loaded::People(full)).is_err();
            }
            !gone
        })?;
        if gone || (!chunk.is_empty() && sender.send(Loaded::People(chunk)).is_err()) {
            return Ok(());
        }
    }
    if let (true, Some(position)) = (from_image, image) {
        reader.engine_log_after(position, &mut |entry, workspace, inputs| {
            sender.send(Loaded::Log(entry, workspace, inputs)).is_ok()
        })?;
    }
    Ok(())
}

fn history(
    person: Person,
    relationships: &[PersonRelationship],
    events: Vec<StoredEvent>,
) -> (PersonId, PersonHistory) {
    let history = PersonHistory {
        attributes: person.engine_attributes(relationships),
        first_seen: person.created_at,
        events: events.into_iter().map(crate::load::engine_event).collect(),
        earliest_event: None,
    };
    (person.seq.get(), history)
}
