//! Streaming every live person's history (of some partitions), for the segment engine's load.
//!
//! A workspace's whole history may be larger than memory, so it is read one person at a time:
//! people by seq, walked beside their events in the same order. The person index keeps each
//! block of activity numbers apart (person_index.rs), and within a block in person order, so
//! the events are read by one cursor per block, each in index order, merged by person: SQLite
//! never sorts the whole log (sorting twenty million rows took most of a restart).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use herald_domain::{PersonSeq, WorkspaceId};
use herald_store::{PartitionSet, Person, StoreError, StoredEvent};
use rusqlite::{Connection, OptionalExtension};

use crate::person_index::block_of;
use crate::queries::skip_corrupt;
use crate::queries::{
    EventRow, PERSON_COLUMNS, backend, decode_event, event_row, finish_person, person_from_row,
};

pub(crate) fn for_each_history(
    connection: &Connection,
    workspace_id: WorkspaceId,
    partitions: &PartitionSet,
    each: &mut dyn FnMut(Person, Vec<StoredEvent>) -> bool,
) -> Result<(), StoreError> {
    let people_sql = format!(
        "SELECT {PERSON_COLUMNS} FROM people WHERE workspace_id = ?1 AND deleted_at IS NULL ORDER BY seq"
    );
    let mut people_statement = connection.prepare(&people_sql).map_err(backend)?;
    let mut people = people_statement
        .query_map([workspace_id], person_from_row)
        .map_err(backend)?;
    let (first, last): (Option<i64>, Option<i64>) = connection
        .query_row("SELECT min(seq), max(seq) FROM activities", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()
        .map_err(backend)?
        .unwrap_or_default();
    // No activity at all: no block to read.
    let blocks: Vec<i64> = match (first, last) {
        (Some(first), Some(last)) => (block_of(first)..=block_of(last)).collect(),
        _ => Vec::new(),
    };
    let mut statements = Vec::new();
    for _ in &blocks {
        statements.push(
            connection
                .prepare(
                    "SELECT person_seq, kind, name, timestamp, data, seq
                     FROM activities INDEXED BY activities_by_person
                     WHERE workspace_id = ?1 AND (seq >> 16) = ?2 AND person_seq IS NOT NULL
                       AND kind IN ('event', 'page', 'screen')
                     ORDER BY person_seq, seq",
                )
                .map_err(backend)?,
        );
    }
    let mut cursors = Vec::with_capacity(statements.len());
    for (statement, block) in statements.iter_mut().zip(blocks) {
        cursors.push(
            statement
                .query_map(rusqlite::params![workspace_id, block], event_row)
                .map_err(backend)?,
        );
    }
    let mut events = Merged::new(cursors)?;
    for row in &mut people {
        let Some(person) = skip_corrupt(finish_person(Some(row.map_err(backend)?)))?.flatten()
        else {
            continue;
        };
        // An embedded store has one node, which owns every partition: a smaller set is read
        // by passing over the people of the others, whose events the next person's skip passes
        // over too.
        if !partitions.holds(workspace_id, person.seq.get()) {
            continue;
        }
        // Events of people before this one are of deleted people (or of a row skipped as
        // unreadable): they are passed over.
        events.skip_before(person.seq)?;
        let mut history = Vec::new();
        while let Some(event) = events.next_of(person.seq)? {
            history.extend(decode_event(event)?);
        }
        // Stored order is arrival order; the engine takes a history in time order (a stable
        // sort keeps arrival order between events of the same second).
        history.sort_by_key(|event| event.timestamp);
        if !each(person, history) {
            break;
        }
    }
    Ok(())
}

/// The events of every block's cursor, in person order and, within a person, in block order,
/// which is arrival order. The heap holds each cursor's next person and its block number.
struct Merged<I> {
    cursors: Vec<I>,
    heads: Vec<Option<EventRow>>,
    heap: BinaryHeap<Reverse<(PersonSeq, usize)>>,
}

impl<I: Iterator<Item = rusqlite::Result<EventRow>>> Merged<I> {
    fn new(mut cursors: Vec<I>) -> Result<Self, StoreError> {
        let mut heads = Vec::with_capacity(cursors.len());
        let mut heap = BinaryHeap::with_capacity(cursors.len());
        for (block, cursor) in cursors.iter_mut().enumerate() {
            let head = cursor.next().transpose().map_err(backend)?;
            if let Some(row) = &head {
                heap.push(Reverse((row.0, block)));
            }
            heads.push(head);
        }
        Ok(Self {
            cursors,
            heads,
            heap,
        })
    }

    /// Takes the next event, which must be of `person`, in order.
    fn next_of(&mut self, person: PersonSeq) -> Result<Option<EventRow>, StoreError> {
        match self.heap.peek() {
            Some(Reverse((next, _))) if *next == person => self.pop(),
            _ => Ok(None),
        }
    }

    /// Passes over the events of people before `person`.
    fn skip_before(&mut self, person: PersonSeq) -> Result<(), StoreError> {
        while self
            .heap
            .peek()
            .is_some_and(|Reverse((next, _))| *next < person)
        {
            self.pop()?;
        }
        Ok(())
    }

    fn pop(&mut self) -> Result<Option<EventRow>, StoreError> {
        let Some(Reverse((_, block))) = self.heap.pop() else {
            return Ok(None);
        };
        let next = self.cursors[block].next().transpose().map_err(backend)?;
        if let Some(row) = &next {
            self.heap.push(Reverse((row.0, block)));
        }
        Ok(std::mem::replace(&mut self.heads[block], next))
    }
}
