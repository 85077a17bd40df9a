//! Which blocks of the activity log hold a workspace's activities, a kind or a name: a
//! workspace's log, whole or filtered by type or by name, is read through these blocks only,
//! newest first, instead of an index entry per activity.
//!
//! A block is 1,024 activity numbers (`seq >> 10`). The tables `activity_blocks_by_kind` and
//! `activity_blocks_by_name` (migration 0020) hold a row per block and kind, and per block and
//! name; `activity_blocks` (migration 0022) a row per block and workspace. They replaced the
//! indexes `activities_by_kind`, `activities_by_name` and `activities_by_workspace`, whose
//! entries every append inserted inside their B-trees, one descent and one page rebalance at a
//! time: with the shared workload's forty names, dropping the first two made batch ingest 22%
//! to 31% faster, and the third cost 2.6% of an event's and its delivery's instructions
//! (docs/benchmarks.md). A transaction now writes a row per new block, kind and name, a few
//! dozen rows per thousand events, at commit.
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
        // Every block a kind is noted in is one of its workspace's blocks.
        let mut statement = connection
            .prepare_cached(
                "INSERT OR IGNORE INTO activity_blocks (workspace_id, block) VALUES (?1, ?2)",
            )
            .map_err(backend)?;
        for (workspace_id, block) in self.kinds.keys() {
            statement
                .execute(params![workspace_id, block])
                .map_err(backend)?;
        }
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

/// What a list looks for: a name (the more selective, when both are given), a kind, or any
/// activity of the workspace.
pub(crate) enum Filter<'a> {
    Any,
    Kind(&'a str),
    Name(&'a str),
}

/// The newest block at or below `block` that may hold activities matching `filter`.
fn newest_at_or_below(
    connection: &Connection,
    workspace_id: WorkspaceId,
    filter: &Filter<'_>,
    block: i64,
) -> Result<Option<i64>, StoreError> {
    let newest = |sql: &str, values: &[&dyn rusqlite::ToSql]| -> Result<Option<i64>, StoreError> {
        connection
            .prepare_cached(sql)
            .and_then(|mut statement| statement.query_row(values, |row| row.get(0)))
            .map_err(backend)
    };
    let listed = match filter {
        Filter::Any => newest(
            "SELECT max(block) FROM activity_blocks WHERE workspace_id = ?1 AND block <= ?2",
            params![workspace_id, block],
        )?,
        Filter::Kind(kind) => newest(
            "SELECT max(block) FROM activity_blocks_by_kind
             WHERE workspace_id = ?1 AND kind = ?2 AND block <= ?3",
            params![workspace_id, kind, block],
        )?,
        Filter::Name(name) => newest(
            "SELECT max(block) FROM activity_blocks_by_name
             WHERE workspace_id = ?1 AND name = ?2 AND block <= ?3",
            params![workspace_id, name, block],
        )?,
    };
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

/// The blocks that may hold the workspace's activities matching `filter`, from the newest at or
/// below `from` down: the walk every reader of the blocks makes (lists, retention, deletion),
/// each stopping where it has what it needs.
pub(crate) fn blocks_down<'a>(
    connection: &'a Connection,
    workspace_id: WorkspaceId,
    filter: &'a Filter<'a>,
    from: i64,
) -> impl Iterator<Item = Result<i64, StoreError>> + 'a {
    let mut below = Some(from);
    std::iter::from_fn(move || {
        let found = newest_at_or_below(connection, workspace_id, filter, below?);
        below = match &found {
            Ok(Some(block)) => block.checked_sub(1),
            Ok(None) | Err(_) => None,
        };
        found.transpose()
    })
}

/// Whether the workspace holds an activity numbered above `seq`: its blocks from the newest
/// down, each read as one range of the table, until one holds such an activity or the blocks
/// reach `seq`.
pub(crate) fn holds_after(
    connection: &Connection,
    workspace_id: WorkspaceId,
    seq: i64,
) -> Result<bool, StoreError> {
    for block in blocks_down(connection, workspace_id, &Filter::Any, block_of(i64::MAX)) {
        let block = block?;
        let (first, end) = (
            first_of(block).max(seq.saturating_add(1)),
            first_of(block + 1),
        );
        if first >= end {
            // This block and every lower one lie at or below `seq`.
            return Ok(false);
        }
        let found = connection
            .prepare_cached(
                "SELECT 1 FROM activities NOT INDEXED
                 WHERE seq >= ?1 AND seq < ?2 AND workspace_id = ?3 LIMIT 1",
            )
            .and_then(|mut statement| {
                statement
                    .query_row(params![first, end, workspace_id], |_| Ok(()))
                    .optional()
            })
            .map_err(backend)?;
        if found.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The ranges of activity numbers `(after, last]` within `(after, until]` that the workspace's
/// blocks cover, oldest first, adjacent blocks as one range: what a step over `(after, until]`
/// needs to read of the table, where a plain range would read every other workspace's rows in
/// it too.
pub(crate) fn ranges_within(
    connection: &Connection,
    workspace_id: WorkspaceId,
    after: i64,
    until: i64,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut ranges: Vec<(i64, i64)> = Vec::new();
    if until <= after {
        return Ok(ranges);
    }
    let lowest = block_of(after + 1);
    for block in blocks_down(connection, workspace_id, &Filter::Any, block_of(until)) {
        let block = block?;
        if block < lowest {
            break;
        }
        let range = (
            (first_of(block) - 1).max(after),
            (first_of(block + 1) - 1).min(until),
        );
        match ranges.last_mut() {
            // Walking down, a block right below the last range extends it.
            Some(last) if last.0 == range.1 => last.0 = range.0,
            _ => ranges.push(range),
        }
    }
    ranges.reverse();
    Ok(ranges)
}

/// Removes up to `limit` activities of the workspace, from its newest block down, and returns
/// how many it removed and how many blocks it no longer lists (up to `limit` too): a listed
/// block left with none of the workspace's activities is unlisted, so that the next call does
/// not read it again (a block the backfill has not listed yet is read again, until the backfill
/// ends).
pub(crate) fn remove_newest(
    connection: &Connection,
    workspace_id: WorkspaceId,
    limit: i64,
) -> Result<(u64, u64), StoreError> {
    let (mut removed, mut unlisted) = (0, 0);
    if limit <= 0 {
        return Ok((0, 0));
    }
    for block in blocks_down(connection, workspace_id, &Filter::Any, block_of(i64::MAX)) {
        let block = block?;
        let rows = connection
            .prepare_cached(
                "DELETE FROM activities WHERE seq IN
                     (SELECT seq FROM activities NOT INDEXED
                      WHERE seq >= ?1 AND seq < ?2 AND workspace_id = ?3 LIMIT ?4)",
            )
            .and_then(|mut statement| {
                statement.execute(params![
                    first_of(block),
                    first_of(block + 1),
                    workspace_id,
                    limit - removed
                ])
            })
            .map_err(backend)?;
        removed += i64::try_from(rows).unwrap_or(i64::MAX);
        if removed < limit {
            unlisted += connection
                .prepare_cached(
                    "DELETE FROM activity_blocks WHERE workspace_id = ?1 AND block = ?2",
                )
                .and_then(|mut statement| statement.execute(params![workspace_id, block]))
                .map_err(backend)? as i64;
        }
        if removed >= limit || unlisted >= limit {
            break;
        }
    }
    Ok((removed as u64, unlisted as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_store::{ActivityQuery, StoreRead};

    use crate::queries::Queries;

    /// Every activity named `name` in workspace 1, newest first, read two at a time.
    fn named(connection: &Connection, name: &str) -> Vec<i64> {
        listed(connection, Some(name), 2)
    }

    /// Every activity in workspace 1 (named `name`, when given), newest first, read `limit` at
    /// a time.
    fn listed(connection: &Connection, name: Option<&str>, limit: usize) -> Vec<i64> {
        let mut seqs = Vec::new();
        loop {
            let page = Queries::new(connection)
                .activities(&ActivityQuery {
                    workspace_id: WorkspaceId::new(1),
                    person_seq: None,
                    kind: None,
                    name: name.map(Into::into),
                    before_seq: seqs.last().copied(),
                    since: 0,
                    limit,
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
        for (_, sql) in after {
            connection
                .execute_batch(sql)
                .expect("migration 20 and the later ones apply");
        }
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
        let whole: Vec<i64> = (1..=written).rev().collect();
        assert_eq!(named(&connection, "rare"), all, "before the backfill");
        assert_eq!(listed(&connection, None, 700), whole, "before the backfill");
        assert!(crate::backfills::step(&connection, 1_000).expect("a step"));
        assert_eq!(named(&connection, "rare"), all, "during the backfill");
        assert_eq!(listed(&connection, None, 700), whole, "during the backfill");
        while crate::backfills::step(&connection, 1_000).expect("a step") {}
        assert_eq!(named(&connection, "rare"), all, "after the backfill");
        assert_eq!(listed(&connection, None, 700), whole, "after the backfill");
        let mut statement = connection
            .prepare("SELECT block FROM activity_blocks WHERE workspace_id = 1 ORDER BY block")
            .expect("a query");
        let workspace_blocks: Vec<i64> = statement
            .query_map([], |row| row.get(0))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("read");
        assert_eq!(workspace_blocks, [0, 1, 2]);
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

    /// A store with every migration and an event at each `(workspace, seq)`, its blocks listed
    /// as the writer lists them.
    fn store_with(activities: &[(WorkspaceId, i64)]) -> Connection {
        let connection = Connection::open_in_memory().expect("a database");
        for (_, sql) in crate::migrations::MIGRATIONS {
            connection.execute_batch(sql).expect("a migration");
        }
        let mut buffer = BlockBuffer::default();
        for &(workspace_id, seq) in activities {
            connection
                .execute(
                    "INSERT INTO activities (seq, workspace_id, kind, data, timestamp, received_at)
                     VALUES (?1, ?2, 'event', '{}', 0, 0)",
                    params![seq, workspace_id],
                )
                .expect("an activity");
            buffer.note(workspace_id, seq, "event", None);
        }
        buffer.flush(&connection).expect("flushed");
        connection
    }

    /// A step over a range of the log reads the ranges its workspace's blocks cover, adjacent
    /// blocks as one.
    #[test]
    fn a_step_reads_the_ranges_of_its_workspace_s_blocks() {
        let (mine, other) = (WorkspaceId::new(1), WorkspaceId::new(2));
        let connection = store_with(&[(mine, 5), (mine, 1_500), (other, 2_500), (mine, 3_100)]);
        let ranges = |workspace_id, after, until| {
            ranges_within(&connection, workspace_id, after, until).expect("read")
        };
        assert_eq!(ranges(mine, 0, 5_000), [(0, 2_047), (3_071, 4_095)]);
        assert_eq!(ranges(mine, 10, 3_100), [(10, 2_047), (3_071, 3_100)]);
        assert_eq!(ranges(mine, 2_047, 3_070), []);
        assert_eq!(ranges(other, 0, 2_000), []);
        assert_eq!(ranges(other, 0, 9_000), [(2_047, 3_071)]);
        assert_eq!(ranges(mine, 100, 100), []);
    }

    /// A workspace's blocks are walked from the newest down, past blocks whose activities are
    /// gone and blocks of other workspaces; a removal unlists the blocks it empties.
    #[test]
    fn a_workspace_is_walked_through_its_own_blocks() {
        let (mine, other) = (WorkspaceId::new(1), WorkspaceId::new(2));
        let connection = store_with(&[(mine, 5), (mine, 2_100), (other, 3_100)]);
        let after = |seq| holds_after(&connection, mine, seq).expect("read");
        assert!(after(4) && after(5));
        assert!(
            !after(2_100),
            "another workspace's later block is not this one's"
        );
        // Retention leaves a block listed when it deletes its activities.
        connection
            .execute("DELETE FROM activities WHERE seq = 2100", [])
            .expect("deleted");
        assert!(!after(5));
        assert!(after(4), "an emptied block is walked past");

        let remove = || remove_newest(&connection, mine, 1).expect("removed");
        assert_eq!(remove(), (0, 1), "the emptied block is unlisted");
        assert_eq!(remove(), (1, 0));
        assert_eq!(remove(), (0, 1));
        assert_eq!(remove(), (0, 0));
        let left: Vec<i64> = connection
            .prepare("SELECT seq FROM activities")
            .and_then(|mut statement| {
                statement
                    .query_map([], |row| row.get(0))?
                    .collect::<Result<_, _>>()
            })
            .expect("read");
        assert_eq!(left, [3_100], "another workspace's activities stay");
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
