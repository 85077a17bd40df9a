//! Which blocks of the activity log hold a kind or a name: the lists filtered by type or by name
//! read these blocks only, newest first, instead of an index entry per activity.
//!
//! A block is 1,024 activity numbers (`seq >> 10`). The tables `activity_blocks_by_kind` and
//! `activity_blocks_by_name` (migration 0020) hold a row per block and kind, and per block and
//! name. They replaced the indexes `activities_by_kind` and `activities_by_name`, whose entries
//! each batch inserted inside their B-trees, one descent and one page rebalance at a time: with
//! the shared workload's forty names, dropping them made batch ingest 22% to 31% faster
//! (docs/benchmarks.md). A transaction now writes a row per new block and name, a few dozen
//! rows per thousand events, at commit.
//!
//! The rows are a superset: deleting activities leaves their blocks listed, which costs a list a
//! read of a block with nothing in it, never a missed row. Activities stored before migration
//! 0020 are listed in the background ([`crate::backfills`]); until that ends, every block of the
//! unlisted range counts as holding everything.

use std::collections::HashMap;

use herald_domain::WorkspaceId;
use herald_store::StoreError;
use rusqlite::{Connection, OptionalExtension, params};

use crate::queries::backend;

/// How many bits of an activity number are its place within its block.
const SHIFT: u32 = 10;

/// The block of an activity number.
pub(crate) fn block_of(seq: i64) -> i64 {
    seq >> SHIFT
}

/// The first activity number of a block.
pub(crate) fn first_of(block: i64) -> i64 {
    block << SHIFT
}

/// The activity numbers `[first, end)` a list reads of `block`, below the cursor `below`: the
/// block alone, since the blocks between it and the cursor hold no match (reading them too once
/// made a page of a rare name read a hundred blocks for each it needed).
pub(crate) fn range_of(block: i64, below: i64) -> (i64, i64) {
    (first_of(block), below.min(first_of(block + 1)))
}

/// The blocks, kinds and names of the activities a transaction appended, written at commit.
/// A block holds few kinds and names, so a short list per block beats hashing the strings.
#[derive(Debug, Default)]
pub(crate) struct BlockBuffer {
    kinds: Listed<&'static str>,
    names: Listed<String>,
}

impl BlockBuffer {
    pub(crate) fn note(
        &mut self,
        workspace_id: WorkspaceId,
        seq: i64,
        kind: &'static str,
        name: Option<&str>,
    ) {
        let key = (workspace_id, block_of(seq));
        let kinds = self.kinds.entry(key).or_default();
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
        if let Some(name) = name {
            let names = self.names.entry(key).or_default();
            if !names.iter().any(|known| known == name) {
                names.push(name.to_owned());
            }
        }
    }

    /// Adds a finished job's blocks to the transaction's.
    pub(crate) fn absorb(&mut self, other: BlockBuffer) {
        merge(&mut self.kinds, other.kinds);
        merge(&mut self.names, other.names);
    }

    pub(crate) fn flush(self, connection: &Connection) -> Result<(), StoreError> {
        insert(
            connection,
            "INSERT OR IGNORE INTO activity_blocks_by_kind (workspace_id, kind, block)
             VALUES (?1, ?2, ?3)",
            self.kinds,
        )?;
        insert(
            connection,
            "INSERT OR IGNORE INTO activity_blocks_by_name (workspace_id, name, block)
             VALUES (?1, ?2, ?3)",
            self.names,
        )
    }
}

type Listed<T> = HashMap<(WorkspaceId, i64), Vec<T>>;

fn merge<T: PartialEq>(mine: &mut Listed<T>, other: Listed<T>) {
    for (key, values) in other {
        let mine = mine.entry(key).or_default();
        for value in values {
            if !mine.contains(&value) {
                mine.push(value);
            }
        }
    }
}

/// Writes a row `(workspace, value, block)` for each listed value with `sql`.
fn insert<T: rusqlite::ToSql>(
    connection: &Connection,
    sql: &str,
    listed: Listed<T>,
) -> Result<(), StoreError> {
    let mut statement = connection.prepare_cached(sql).map_err(backend)?;
    for ((workspace_id, block), values) in listed {
        for value in values {
            statement
                .execute(params![workspace_id, value, block])
                .map_err(backend)?;
        }
    }
    Ok(())
}

/// What a filtered list looks for: a name (the more selective, when both are given) or a kind.
pub(crate) enum Filter<'a> {
    Kind(&'a str),
    Name(&'a str),
}

/// The newest block at or below `block` that may hold activities matching `filter`.
pub(crate) fn newest_at_or_below(
    connection: &Connection,
    workspace_id: WorkspaceId,
    filter: &Filter<'_>,
    block: i64,
) -> Result<Option<i64>, StoreError> {
    let (sql, key) = match filter {
        Filter::Kind(kind) => (
            "SELECT max(block) FROM activity_blocks_by_kind
             WHERE workspace_id = ?1 AND kind = ?2 AND block <= ?3",
            kind,
        ),
        Filter::Name(name) => (
            "SELECT max(block) FROM activity_blocks_by_name
             WHERE workspace_id = ?1 AND name = ?2 AND block <= ?3",
            name,
        ),
    };
    let listed: Option<i64> = connection
        .prepare_cached(sql)
        .and_then(|mut statement| {
            statement.query_row(params![workspace_id, key, block], |row| row.get(0))
        })
        .map_err(backend)?;
    // Activities of the range not yet listed by the backfill may be anywhere in it.
    let unlisted: Option<(i64, i64)> = connection
        .prepare_cached("SELECT position, boundary FROM backfills WHERE name = 'activity_blocks'")
        .and_then(|mut statement| {
            statement
                .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .map_err(backend)?;
    let pending = unlisted.and_then(|(position, boundary)| {
        let (first, last) = (block_of(position + 1), block_of(boundary));
        (first <= block && first <= last).then(|| block.min(last))
    });
    Ok(listed.max(pending))
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_store::{ActivityQuery, StoreRead};

    use crate::queries::Queries;

    /// Every activity named `name` in workspace 1, newest first, read two at a time.
    fn named(connection: &Connection, name: &str) -> Vec<i64> {
        let mut seqs = Vec::new();
        loop {
            let page = Queries::new(connection)
                .activities(&ActivityQuery {
                    workspace_id: WorkspaceId::new(1),
                    person_seq: None,
                    kind: None,
                    name: Some(name.into()),
                    before_seq: seqs.last().copied(),
                    since: 0,
                    limit: 2,
                })
                .expect("a page");
            if page.is_empty() {
                return seqs;
            }
            seqs.extend(page.iter().map(|activity| activity.seq));
        }
    }

    fn blocks(connection: &Connection, sql: &str) -> Vec<(String, i64)> {
        let mut statement = connection.prepare(sql).expect("a query");
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("rows");
        rows.collect::<Result<_, _>>().expect("read")
    }

    /// A store written before migration 20 lists its earlier activities by name at once, while
    /// the backfill lists their blocks a chunk at a time, and after it.
    #[test]
    fn activities_stored_before_the_blocks_are_listed_during_and_after_the_backfill() {
        let connection = Connection::open_in_memory().expect("a database");
        let (before, after) = crate::migrations::MIGRATIONS.split_at(19);
        for (_, sql) in before {
            connection.execute_batch(sql).expect("an earlier migration");
        }
        let insert = |kind: &str, name: &str| {
            connection
                .execute(
                    "INSERT INTO activities (workspace_id, kind, name, data, timestamp, received_at)
                     VALUES (1, ?1, ?2, '{}', 0, 0)",
                    params![kind, name],
                )
                .expect("an activity");
            connection.last_insert_rowid()
        };
        for seq in 1..=3_000 {
            let name = if matches!(seq, 7 | 1_500 | 2_990) {
                "rare"
            } else {
                "common"
            };
            let kind = if seq == 2_500 { "page" } else { "event" };
            assert_eq!(insert(kind, name), seq);
        }
        connection
            .execute_batch(after[0].1)
            .expect("migration 20 applies");
        assert!(
            blocks(
                &connection,
                "SELECT name, block FROM activity_blocks_by_name"
            )
            .is_empty()
        );
        // A write after the migration lists its own block, as the writer's buffer does.
        let written = insert("event", "rare");
        let mut buffer = BlockBuffer::default();
        buffer.note(WorkspaceId::new(1), written, "event", Some("rare"));
        buffer.flush(&connection).expect("flushed");
        let all = vec![written, 2_990, 1_500, 7];
        assert_eq!(named(&connection, "rare"), all, "before the backfill");
        assert!(crate::backfills::step(&connection, 1_000).expect("a step"));
        assert_eq!(named(&connection, "rare"), all, "during the backfill");
        while crate::backfills::step(&connection, 1_000).expect("a step") {}
        assert_eq!(named(&connection, "rare"), all, "after the backfill");
        assert_eq!(
            blocks(
                &connection,
                "SELECT name, block FROM activity_blocks_by_name WHERE name = 'rare' ORDER BY block"
            ),
            [0, 1, 2].map(|block| ("rare".to_owned(), block))
        );
        assert_eq!(
            blocks(
                &connection,
                "SELECT kind, block FROM activity_blocks_by_kind ORDER BY kind, block"
            ),
            [("event", 0), ("event", 1), ("event", 2), ("page", 2)]
                .map(|(kind, block)| (kind.to_owned(), block))
        );
    }

    #[test]
    fn a_list_reads_one_block_at_a_time_below_its_cursor() {
        assert_eq!(range_of(2, i64::MAX), (2_048, 3_072));
        assert_eq!(range_of(2, 90_000), (2_048, 3_072));
        assert_eq!(range_of(2, 2_500), (2_048, 2_500));
        assert_eq!(block_of(3_071), 2);
    }

    #[test]
    fn a_block_lists_each_kind_and_name_once_across_jobs() {
        let workspace = WorkspaceId::new(1);
        let mut transaction = BlockBuffer::default();
        transaction.note(workspace, 1, "event", Some("purchased"));
        transaction.note(workspace, 2, "event", Some("purchased"));
        let mut job = BlockBuffer::default();
        job.note(workspace, 3, "event", Some("purchased"));
        job.note(workspace, 4, "page", Some("/home"));
        job.note(workspace, 1024, "event", None);
        transaction.absorb(job);
        assert_eq!(transaction.kinds[&(workspace, 0)], ["event", "page"]);
        assert_eq!(transaction.names[&(workspace, 0)], ["purchased", "/home"]);
        assert_eq!(transaction.kinds[&(workspace, 1)], ["event"]);
        assert!(!transaction.names.contains_key(&(workspace, 1)));
    }
}
